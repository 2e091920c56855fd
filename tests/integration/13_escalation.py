"""Escalation of unanswered crisis referrals to the duty officer, end to end.

Each test runs the real ketenhubd (escalation_util.EscalationHub) with a real
local webhook receiver and a real local SMTP server. The crisis policy has a
receipt deadline of PT2S; the default levels are: level 1 at the deadline to
the officer on duty by webhook and e-mail, repeating every PT2S; level 2 at
deadline + PT5S to the officer on duty and the fallback by e-mail, repeating
every PT3S. Officers: anna (webhook + e-mail, on duty all week), bram
(e-mail), cor (e-mail, the rota's fallback).

Times are measured against the deadline as the hub stored it
(referrals.receipt_due_ms) and the receivers' own arrival times (same clock).
"""
import base64
import copy
import datetime
import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import unittest

from escalation_util import ALL_WEEK, EscalationHub
from harness import KETENHUBD, SLOW, Peer, main, response_event

ESC_PREFIX = "nl.mensenhandel.escalaties."
GESTART = ESC_PREFIX + "escalatie-gestart"
BEVESTIGD = ESC_PREFIX + "escalatie-bevestigd"
OFFER = "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
EARLY = 0.05          # s: clock granularity between the hub and the receivers
LATE = 1.0 * SLOW     # s: how late an alert may arrive after it is due
JITTER = 0.5 * SLOW   # s: tolerance on the spacing of repeats


def receipt_due(eh, ref):
    """The referral's receipt deadline in seconds since the epoch (from the DB)."""
    ms = eh.hub.count("SELECT receipt_due_ms FROM referrals WHERE id = ?", ref)
    assert ms, "referral %s has no receipt deadline" % ref
    return ms / 1000.0


def escalation_id(eh, ref, timeout=5):
    """The id of the receipt escalation of ref, waiting for it to open."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        con = eh.hub.db()
        try:
            row = con.execute("SELECT id FROM escalations WHERE referral = ? AND deadline = "
                              "'receipt'", (ref,)).fetchone()
        finally:
            con.close()
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("no escalation for %s within %.1f s" % (ref, timeout * SLOW))


def sleep_until(t):
    left = t - time.time()
    if left > 0:
        time.sleep(left)


def parse_time(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def format_ms(seconds):
    """UTC seconds -> the hub's time format (milliseconds, Z)."""
    ms = int(round(seconds * 1000))
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def rfc3339(seconds):
    """Whole UTC seconds, RFC 3339 with Z (for rota overrides)."""
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def bodies(records):
    return [json.loads(r["body"]) for r in records]


def mail_text(record):
    """A received mail as a reader sees it: headers and the decoded body."""
    msg = email.message_from_string(record["content"], policy=email.policy.default)
    headers = re.split(r"\r?\n\r?\n", record["content"], maxsplit=1)[0]
    return "%s\n\n%s" % (headers, msg.get_content())


class Partner(Peer):
    """A Peer that keeps its session alive and confirms what it gets."""

    def __init__(self, hub, partner_id):
        super().__init__(hub, partner_id)
        self.heartbeat()
        self.confirmed = set()

    def collect(self, pred, count=1, timeout=5.0):
        """Deliveries matching pred, waiting until there are `count` (ids deduplicated)."""
        deadline = time.time() + timeout * SLOW
        beat = 0
        while True:
            self.pump(0.1)
            for d in self.deliveries:
                if d["id"] not in self.confirmed:
                    self.receipt(d["id"])
                    self.confirmed.add(d["id"])
            beat += 1
            if beat % 10 == 0:
                self.heartbeat(beat)
            seen, got = set(), []
            for d in self.deliveries:
                if pred(d) and d["id"] not in seen:
                    seen.add(d["id"])
                    got.append(d)
            if len(got) >= count or time.time() >= deadline:
                break
        if len(got) < count:
            raise AssertionError("%s: %d matching deliveries of %d expected: %r"
                                 % (self.id, len(got), count, [d["type"] for d in self.deliveries]))
        return got

    def offer(self, ref):
        return self.collect(lambda d: d["type"] == OFFER and d["data"]["doorverwijzing"] == ref)[0]


def crisis_levels(**level):
    """One level at the deadline; keyword arguments replace its fields."""
    lv = {"after": "PT0S", "targets": ["on-duty"], "channels": ["email"], "repeat": "PT1S"}
    lv.update(level)
    return [lv]


class UnansweredReferral(unittest.TestCase):
    """Test 1: nobody answers; level 1 then level 2, signed webhooks, mails."""

    def test_alerts_start_at_the_deadline_repeat_and_escalate_to_level_two(self):
        with EscalationHub() as eh:
            eh.start()
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            # Before the deadline: no escalation, no alert.
            sleep_until(due - 0.3)
            self.assertEqual(eh.hub.count("SELECT count(*) FROM escalations"), 0)
            self.assertEqual(eh.webhooks(), [])
            self.assertEqual(eh.mails(), [])
            # Until just past the first level-2 round (due + 5) and before its
            # repeat (due + 8).
            first_hook = eh.wait_webhooks(1, timeout=3)[0]
            sleep_until(due + 6.5)
            hooks, mails = eh.webhooks(), eh.mails()
            log = eh.hub.log_text()
            esc = escalation_id(eh, ref)

        # -- the first alert, at the deadline -------------------------------
        self.assertGreaterEqual(first_hook["t"], due - EARLY)
        self.assertLessEqual(first_hook["t"], due + LATE, "first webhook %.2f s after the "
                             "deadline" % (first_hook["t"] - due))
        self.assertTrue(all(r["t"] >= due - EARLY for r in hooks + mails),
                        [round(r["t"] - due, 2) for r in hooks + mails])

        # -- webhooks: level 1 only (level 2 is e-mail only), every 2 s ---
        offsets = [round(h["t"] - due, 2) for h in hooks]
        self.assertEqual(len(hooks), 3, offsets)  # due + 0, 2, 4
        for i, h in enumerate(hooks):
            self.assertAlmostEqual(h["t"] - due, 2.0 * i, delta=LATE, msg=offsets)
        for a, b in zip(hooks, hooks[1:]):
            self.assertAlmostEqual(b["t"] - a["t"], 2.0, delta=JITTER, msg=offsets)
        for h in hooks:
            self.assertEqual(h["path"], "/anna")
            self.assertEqual(h["status"], 204)
            self.assertTrue(h["verified"], h)
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
                self.assertIn(name, h["headers"])
            self.assertTrue(h["headers"]["content-type"].startswith("application/json"))
            # The signature, checked here too (Standard Webhooks, v1 = HMAC-SHA256).
            signed = "%s.%s.%s" % (h["headers"]["webhook-id"], h["headers"]["webhook-timestamp"],
                                   h["body"])
            expected = base64.b64encode(hmac.new(eh.secret, signed.encode(),
                                                 hashlib.sha256).digest()).decode()
            self.assertIn("v1," + expected, h["headers"]["webhook-signature"].split(" "))
            self.assertLess(abs(int(h["headers"]["webhook-timestamp"]) - h["t"]), 5 * SLOW)
        self.assertEqual(len({h["headers"]["webhook-id"] for h in hooks}), 3,
                         "each alert has its own webhook-id")
        for h in hooks:
            self.assertRegex(h["headers"]["webhook-id"], r"^alert-\d+$")

        # -- the webhook body -----------------------------------------------
        body = json.loads(hooks[0]["body"])
        self.assertEqual(sorted(body), sorted([
            "type", "escalation", "round", "level", "levels", "fallback", "referral", "urgency",
            "partner", "partner_name", "deadline", "deadline_at", "alerted_at",
            "overdue_seconds", "officer", "summary", "acknowledge", "look_up"]))
        self.assertEqual(body["type"], "ketenhub.escalation.alert")
        self.assertEqual(body["escalation"], esc)
        self.assertEqual((body["round"], body["level"], body["levels"]), (1, 1, 2))
        self.assertIs(body["fallback"], False)
        self.assertEqual(body["referral"], ref)
        self.assertEqual(body["urgency"], "crisis")
        self.assertEqual(body["partner"], "police-1")
        self.assertEqual(body["partner_name"], "police-1")
        self.assertEqual(body["deadline"], "receipt")
        self.assertEqual(body["deadline_at"], format_ms(due))
        self.assertAlmostEqual(parse_time(body["alerted_at"]), due, delta=LATE)
        self.assertEqual(body["overdue_seconds"], 0)
        self.assertEqual(body["officer"], "anna")
        self.assertTrue(body["summary"].startswith("[ketenhub] CRISIS: "), body["summary"])
        self.assertIn("police-1", body["summary"])
        self.assertIn("receipt", body["summary"])
        self.assertTrue(body["summary"].endswith("(escalation %d, level 1)" % esc),
                        body["summary"])
        self.assertTrue(body["acknowledge"].startswith("ketenctl --config "), body["acknowledge"])
        self.assertTrue(body["acknowledge"].endswith(" ack %d --by anna" % esc),
                        body["acknowledge"])
        self.assertTrue(body["look_up"].endswith(" referral " + ref), body["look_up"])
        later = bodies(hooks)
        self.assertEqual([b["round"] for b in later], [1, 2, 3])
        self.assertEqual([b["level"] for b in later], [1, 1, 1])
        self.assertEqual([b["overdue_seconds"] for b in later], [0, 2, 4])

        # -- e-mails: anna at level 1 (0, 2, 4); anna and cor at level 2 (5) --
        level1 = [m for m in mails if "level 1)" in m["subject"]]
        level2 = [m for m in mails if "level 2)" in m["subject"]]
        self.assertEqual(len(mails), len(level1) + len(level2), [m["subject"] for m in mails])
        self.assertEqual([m["rcpt_tos"] for m in level1], [["anna@example.org"]] * 3)
        for i, m in enumerate(level1):
            self.assertAlmostEqual(m["t"] - due, 2.0 * i, delta=LATE)
        self.assertEqual(sorted(r for m in level2 for r in m["rcpt_tos"]),
                         ["anna@example.org", "cor@example.org"],
                         [(round(m["t"] - due, 2), m["rcpt_tos"]) for m in level2])
        for m in level2:
            self.assertGreaterEqual(m["t"], due + 5.0 - EARLY)
            self.assertLessEqual(m["t"], due + 5.0 + LATE)
        for m in mails:
            self.assertTrue(m["subject"].startswith("[ketenhub] CRISIS: "), m["subject"])
            self.assertIn("police-1", m["subject"])
            self.assertIn("(escalation %d, level " % esc, m["subject"])
            self.assertEqual(m["mail_from"], "ketenhub@example.org")
            self.assertIn("ack %d --by" % esc, mail_text(m))
        self.assertIn("ack %d --by cor" % esc, mail_text(level2[0]) + mail_text(level2[1]))

        # -- the log -------------------------------------------------------
        self.assertIn("event=escalation_opened escalation=%d referral=%s deadline=receipt "
                      "policy=crisis partner=police-1" % (esc, ref), log)
        self.assertRegex(log, r"event=escalation_alert escalation=%d level=1 round=1 "
                              r"officers=anna alerts=2" % esc)
        self.assertRegex(log, r"event=escalation_alert escalation=%d level=2 round=4 "
                              r"officers=anna,cor alerts=2" % esc)
        self.assertGreaterEqual(len(re.findall(r"event=alert_delivered alert=\d+ escalation=%d"
                                               % esc, log)), 8)


class AnsweredInTime(unittest.TestCase):
    """Test 2: a receipt before the deadline means no escalation at all."""

    def test_a_receipt_before_the_deadline_escalates_nothing(self):
        with EscalationHub() as eh:
            eh.start()
            police = Partner(eh.hub, "police-1")
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            offer = police.offer(ref)
            reply = police.request(response_event("ontvangen", offer["data"]["doorverwijzing"]))
            self.assertEqual(reply["status"], "accepted", reply)
            self.assertLess(time.time(), due, "the receipt came too late for this test")
            self.assertEqual(eh.hub.count("SELECT state FROM referrals WHERE id = ?", ref),
                             "ontvangen")
            sleep_until(due + 2.0 + 0.5 * SLOW)
            self.assertEqual(eh.hub.count("SELECT count(*) FROM escalations"), 0)
            self.assertEqual(eh.hub.count("SELECT count(*) FROM alerts"), 0)
            self.assertEqual(eh.webhooks(), [])
            self.assertEqual(eh.mails(), [])
            self.assertEqual(eh.escalations(), [])
            log = eh.hub.log_text()
            self.assertNotIn("event=escalation_opened", log)
            self.assertNotIn("event=escalation_alert", log)

    def test_the_decision_deadline_still_escalates_after_a_timely_receipt(self):
        with EscalationHub(decision="PT5S") as eh:
            eh.start()
            police = Partner(eh.hub, "police-1")
            ref = eh.crisis_signal()
            decision_due = eh.hub.count("SELECT decision_due_ms FROM referrals WHERE id = ?",
                                        ref) / 1000.0
            police.receipt(police.offer(ref)["id"])
            self.assertEqual(police.request(response_event("ontvangen", ref))["status"],
                             "accepted")
            hook = eh.wait_webhooks(1, timeout=5 + 3)[0]
            self.assertGreaterEqual(hook["t"], decision_due - EARLY)
            self.assertLessEqual(hook["t"], decision_due + LATE)
            body = json.loads(hook["body"])
            self.assertEqual(body["deadline"], "decision")
            self.assertEqual(body["deadline_at"], format_ms(decision_due))
            self.assertIn("accept or decline", body["summary"])
            rows = eh.escalations()
            self.assertEqual([(r["deadline"], r["state"]) for r in rows], [("decision", "open")])
            # Accepting answers the decision deadline: resolved.
            self.assertEqual(police.request(response_event("geaccepteerd", ref))["status"],
                             "accepted")
            deadline = time.time() + 3 * SLOW
            while eh.escalations()[0]["state"] != "resolved" and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(eh.escalations()[0]["resolution"], "geaccepteerd")


class Acknowledge(unittest.TestCase):
    """Test 3: an acknowledgement stops the repeats (no rearm configured)."""

    def test_ack_stops_the_repeats_and_tells_the_coordinator(self):
        note = "bel politie terug, zaak bekend"
        with EscalationHub() as eh:
            eh.start()
            coordinator = Partner(eh.hub, "kenniscentrum")
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            eh.wait_webhooks(1, timeout=2 + 3)
            esc = escalation_id(eh, ref)
            r = eh.ctl("ack", str(esc), "--by", "anna", "--note", note, "--json")
            acked_at = time.time()
            self.assertEqual(r.returncode, 0, r.stderr)
            result = json.loads(r.stdout)
            self.assertEqual(result["escalation"], esc)
            self.assertEqual(result["state"], "acknowledged")
            self.assertEqual(result["by"], "anna")
            self.assertEqual(result["referral"], ref)
            self.assertEqual(result["deadline"], "receipt")
            self.assertIsNone(result.get("rearm_at"))
            rounds = eh.escalations()[0]["rounds"]  # a repeat may have beaten the ack
            # Whatever was already on its way has arrived by now.
            time.sleep(0.3 * SLOW)
            hooks, mails = len(eh.webhooks()), len(eh.mails())
            time.sleep(4.0)
            self.assertEqual(len(eh.webhooks()), hooks, "webhooks after the ack")
            self.assertEqual(len(eh.mails()), mails, "mails after the ack")
            self.assertEqual(eh.hub.count("SELECT count(*) FROM alerts WHERE round > ?", rounds), 0)

            doc = eh.escalations()
            self.assertEqual(len(doc), 1)
            row = doc[0]
            self.assertEqual(row["id"], esc)
            self.assertEqual(row["state"], "acknowledged")
            self.assertEqual(row["acknowledged_by"], "anna")
            self.assertEqual(row["note"], note)
            self.assertIsNone(row["next"])
            self.assertEqual(row["rearms"], 0)
            self.assertEqual(row["rounds"], rounds)
            self.assertAlmostEqual(parse_time(row["acknowledged"]), acked_at, delta=2 * SLOW)

            again = eh.ctl("ack", str(esc), "--by", "bram")
            self.assertEqual(again.returncode, 1, again.stdout)
            self.assertIn("refused", again.stderr)
            self.assertIn("escalation %d is acknowledged, not open" % esc, again.stderr)
            self.assertEqual(again.stdout, "")

            events = coordinator.collect(lambda d: d["type"].startswith(ESC_PREFIX), count=2)
            self.assertEqual([e["type"] for e in events], [GESTART, BEVESTIGD])
            started, confirmed = events[0]["data"], events[1]["data"]
            self.assertEqual(started["escalatie"], esc)
            self.assertEqual(started["doorverwijzing"], ref)
            self.assertEqual(started["partner"], "police-1")
            self.assertEqual(started["beleid"], "crisis")
            self.assertEqual(started["termijn"], "ontvangst")
            self.assertEqual(started["termijnVerstreken"], format_ms(due))
            self.assertEqual(started["heropend"], 0)
            self.assertEqual(confirmed["escalatie"], esc)
            self.assertEqual(confirmed["doorverwijzing"], ref)
            self.assertEqual(confirmed["bevestigdDoor"], "anna")
            self.assertEqual(events[1]["subject"], ref)
            # The note stays in the hub (escalatie-bevestigd schema).
            self.assertNotIn(note, json.dumps(events))
            log = eh.hub.log_text()
            self.assertIn("event=escalation_acknowledged escalation=%d by=anna" % esc, log)
            self.assertNotIn(note, log)


class Rearm(unittest.TestCase):
    """Test 4: with rearm, an acknowledged but unanswered case alerts again."""

    def test_alerts_resume_at_level_one_after_the_rearm_time(self):
        with EscalationHub(rearm="PT3S") as eh:
            eh.start()
            coordinator = Partner(eh.hub, "kenniscentrum")
            ref = eh.crisis_signal()
            eh.wait_webhooks(1, timeout=2 + 3)
            esc = escalation_id(eh, ref)
            before = time.time()
            r = eh.ctl("ack", str(esc), "--by", "anna", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            result = json.loads(r.stdout)
            acked = parse_time(result["acknowledged"])
            self.assertGreaterEqual(acked, before - EARLY)
            self.assertAlmostEqual(parse_time(result["rearm_at"]), acked + 3.0, delta=0.01)
            sleep_until(acked + 2.5)
            self.assertEqual(len(eh.webhooks()), 1, "an alert before the rearm time")
            hooks = eh.wait_webhooks(2, timeout=0.5 + LATE + 1)
            resumed = hooks[1]
            self.assertGreaterEqual(resumed["t"], acked + 3.0 - EARLY)
            self.assertLessEqual(resumed["t"], acked + 3.0 + LATE)
            body = json.loads(resumed["body"])
            self.assertEqual(body["level"], 1)
            self.assertEqual(body["round"], 2)
            self.assertEqual(body["escalation"], esc)
            row = eh.escalations()[0]
            self.assertEqual(row["state"], "open")
            self.assertEqual(row["rearms"], 1)
            self.assertEqual(row["level"], 1)
            self.assertIn("event=escalation_rearmed escalation=%d referral=%s" % (esc, ref),
                          eh.hub.log_text())
            events = coordinator.collect(lambda d: d["type"].startswith(ESC_PREFIX), count=3)
            self.assertEqual([e["type"] for e in events], [GESTART, BEVESTIGD, GESTART])
            self.assertEqual([e["data"].get("heropend") for e in events], [0, None, 1])
            # Open again: it can be acknowledged again.
            again = eh.ctl("ack", str(esc), "--by", "bram")
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn("acknowledged by bram", again.stdout)


class ReferralMovesOn(unittest.TestCase):
    """Test 5: once police-1 confirms receipt, the escalation is resolved."""

    def test_a_late_receipt_resolves_the_escalation_and_stops_the_alerts(self):
        with EscalationHub() as eh:
            eh.start()
            police = Partner(eh.hub, "police-1")
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            police.receipt(police.offer(ref)["id"])
            eh.wait_webhooks(1, timeout=2 + 3)
            esc = escalation_id(eh, ref)
            sleep_until(due + 0.5)
            reply = police.request(response_event("ontvangen", ref))
            self.assertEqual(reply["status"], "accepted", reply)
            answered = time.time()
            deadline = answered + 3 * SLOW
            while eh.escalations()[0]["state"] != "resolved" and time.time() < deadline:
                time.sleep(0.05)
            row = eh.escalations()[0]
            self.assertEqual(row["state"], "resolved")
            self.assertEqual(row["resolution"], "ontvangen")
            self.assertIsNone(row["next"])
            r = eh.ctl("escalations", "--open", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["escalations"], [])
            time.sleep(0.3 * SLOW)
            hooks, mails = len(eh.webhooks()), len(eh.mails())
            sleep_until(due + 5.5)  # past two repeats and the start of level 2
            self.assertEqual(len(eh.webhooks()), hooks, "webhooks after the referral moved on")
            self.assertEqual(len(eh.mails()), mails, "mails after the referral moved on")
            self.assertEqual(eh.escalations()[0]["rounds"], row["rounds"])
            self.assertIn("event=escalation_resolved escalation=%d referral_state=ontvangen" % esc,
                          eh.hub.log_text())
            refused = eh.ctl("ack", str(esc), "--by", "anna")
            self.assertEqual(refused.returncode, 1)
            self.assertIn("is resolved, not open", refused.stderr)


class RotaOverride(unittest.TestCase):
    """Test 6: the officer on duty is looked up when each round fires."""

    def test_an_override_takes_over_the_alerts_from_its_start(self):
        switch = float(int(time.time()) + 5)  # whole seconds, ~3 s after the deadline
        rota = {"timezone": "Europe/Amsterdam",
                "weekly": [{"days": ALL_WEEK, "from": "00:00", "to": "00:00", "officer": "anna"}],
                "overrides": [{"from": rfc3339(switch), "to": rfc3339(switch + 3600),
                               "officer": "bram", "reason": "ruil"}],
                "fallback": "cor"}
        with EscalationHub(levels=crisis_levels(), rota=rota) as eh:
            eh.start()
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            self.assertLess(due + 0.5, switch, "the hub started too slowly for this test")
            sleep_until(switch + 2.5)
            mails = eh.mails()
            log = eh.hub.log_text()
        seen = [(round(m["t"] - switch, 2), m["rcpt_tos"]) for m in mails]
        self.assertTrue(mails, seen)
        for m in mails:
            if abs(m["t"] - switch) < 0.25 * SLOW:
                continue  # too close to the change to tell
            expect = "bram@example.org" if m["t"] > switch else "anna@example.org"
            self.assertEqual(m["rcpt_tos"], [expect], seen)
        rcpts = [m["rcpt_tos"][0] for m in mails]
        self.assertIn("anna@example.org", rcpts, seen)
        self.assertIn("bram@example.org", rcpts, seen)
        first_bram = rcpts.index("bram@example.org")
        self.assertNotIn("anna@example.org", rcpts[first_bram:], "anna after bram: %r" % seen)
        self.assertIn(", to Bram de Vries", mail_text(mails[first_bram]))
        self.assertRegex(log, r"event=escalation_alert escalation=\d+ level=1 round=\d+ "
                              r"officers=bram ")


class TeamTarget(unittest.TestCase):
    """Test 7: a team target alerts every member, each officer once."""

    def test_every_member_of_the_team_gets_the_mail(self):
        levels = crisis_levels(targets=["on-duty", "team:piket"], repeat="PT10S")
        teams = {"teams": {"piket": ["anna", "bram"]}}
        with EscalationHub(levels=levels, extra_config=teams) as eh:
            eh.start()
            ref = eh.crisis_signal()
            due = receipt_due(eh, ref)
            mails = eh.wait_mails(2, timeout=2 + 3)
            time.sleep(0.5 * SLOW)  # a duplicate for anna (on duty and in the team) would be here
            mails = eh.mails()
            esc = escalation_id(eh, ref)
            con = eh.hub.db()
            try:
                alerts = con.execute("SELECT round, level, kind, officer, channel FROM alerts "
                                     "WHERE escalation = ? ORDER BY officer", (esc,)).fetchall()
            finally:
                con.close()
        self.assertEqual(sorted(r for m in mails for r in m["rcpt_tos"]),
                         ["anna@example.org", "bram@example.org"])
        for m in mails:
            self.assertAlmostEqual(m["t"] - due, 0, delta=LATE)
        self.assertEqual(alerts, [(1, 0, "level", "anna", "email"),
                                  (1, 0, "level", "bram", "email")])


class CtlErrors(unittest.TestCase):
    """Test 8: ketenctl ack / escalations refusals and filters."""

    def test_ack_refusals_open_filter_and_no_running_hub(self):
        with EscalationHub(levels=crisis_levels(repeat="PT5S")) as eh:
            eh.start()
            first = eh.crisis_signal()
            second = eh.crisis_signal()
            eh.wait_mails(2, timeout=2 + 3)
            a, b = escalation_id(eh, first), escalation_id(eh, second)

            r = eh.ctl("ack", "999", "--by", "anna")
            self.assertEqual(r.returncode, 1)
            self.assertIn("ketenctl ack: refused: no escalation 999", r.stderr)
            r = eh.ctl("ack", str(a), "--by", "zorro")
            self.assertEqual(r.returncode, 1)
            self.assertIn("refused", r.stderr)
            self.assertIn("officer", r.stderr)
            self.assertEqual({e["id"]: e["state"] for e in eh.escalations()}[a], "open")
            r = eh.ctl("ack", str(a), "--by", "anna")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("escalation %d acknowledged by anna" % a, r.stdout)

            r = eh.ctl("escalations", "--open", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            listed = json.loads(r.stdout)["escalations"]
            self.assertEqual([(e["id"], e["state"]) for e in listed], [(b, "open")])
            self.assertEqual(sorted((e["id"], e["state"]) for e in eh.escalations()),
                             sorted([(a, "acknowledged"), (b, "open")]))
            r = eh.ctl("escalations", "--open")
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [line for line in r.stdout.splitlines() if line.strip()]
            self.assertEqual(len(lines), 2, r.stdout)  # the header and escalation b
            self.assertTrue(lines[1].split()[0] == str(b) and "open" in lines[1].split(), r.stdout)

            # Usage errors are exit 2 and name the problem.
            r = eh.ctl("ack", str(b))
            self.assertEqual(r.returncode, 2)
            self.assertIn("--by", r.stderr)
            r = eh.ctl("ack", "--by", "anna")
            self.assertEqual(r.returncode, 2)
            r = eh.ctl("ack", "abc", "--by", "anna")
            self.assertEqual(r.returncode, 2)
            self.assertIn('"abc" is not an escalation id', r.stderr)

            self.assertEqual(eh.hub.stop(), 0)
            r = eh.ctl("ack", str(b), "--by", "anna")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("admin socket", r.stderr)
            self.assertIn(os.path.join(eh.hub.dir, "ketenhub.sock"), r.stderr)
            self.assertIn("is ketenhubd running", r.stderr)
            # Listing reads the database: it works without the hub.
            r = eh.ctl("escalations", "--open", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([e["id"] for e in json.loads(r.stdout)["escalations"]], [b])


class ConfigChecks(unittest.TestCase):
    """Test 9: `ketenhubd --check-config` names each escalation mistake."""

    @classmethod
    def setUpClass(cls):
        cls.eh = EscalationHub(start_webhook=False, start_smtp=False)
        cls.base = copy.deepcopy(cls.eh.hub.config)
        cls.secret = os.path.join(cls.eh.hub.dir, "webhook.secret")

    @classmethod
    def tearDownClass(cls):
        cls.eh.close()

    def check(self, mutate):
        cfg = copy.deepcopy(self.base)
        mutate(cfg)
        path = os.path.join(self.eh.hub.dir, "check.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return subprocess.run([KETENHUBD, "--check-config", path], capture_output=True,
                              text=True, timeout=30 * SLOW)

    def refused(self, mutate, *expected):
        r = self.check(mutate)
        self.assertEqual(r.returncode, 1, "accepted: %s%s" % (r.stdout, r.stderr))
        for text in expected:
            self.assertIn("ketenhubd: config error: " + text, r.stderr)
        return r

    @staticmethod
    def levels(cfg):
        return cfg["policies"]["crisis"]["escalation"]["levels"]

    def test_the_fixture_config_passes(self):
        r = self.check(lambda c: None)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_last_level_must_repeat(self):
        self.refused(lambda c: self.levels(c)[1].pop("repeat"),
                     "/policies/crisis/escalation/levels/1/repeat: the last level must repeat")
        # An earlier level may go without.
        r = self.check(lambda c: self.levels(c)[0].pop("repeat"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_officer_and_team_targets(self):
        self.refused(lambda c: self.levels(c)[0].update(targets=["on-duty", "officer:zorro"]),
                     "/policies/crisis/escalation/levels/0/targets/1: zorro is not in /officers")
        self.refused(lambda c: self.levels(c)[1].update(targets=["team:nachtdienst"]),
                     "/policies/crisis/escalation/levels/1/targets/0: nachtdienst is not in /teams")
        self.refused(lambda c: self.levels(c)[0].update(targets=["piket"]),
                     "/policies/crisis/escalation/levels/0/targets/0: must be \"on-duty\"")
        self.refused(lambda c: c.update(teams={"piket": ["anna", "zorro"]}),
                     "/teams/piket/1: not an officer id from /officers")

    def test_an_email_level_needs_an_email_address_for_every_officer_it_reaches(self):
        def mutate(c):
            c["officers"][1].pop("email")  # bram
            self.levels(c)[1]["targets"] = ["officer:bram"]
        self.refused(mutate, "/policies/crisis/escalation/levels/1/targets/0: officer bram has "
                             "no address for any channel of this level (email)")

    def test_a_webhook_level_needs_the_webhook_secret_file(self):
        self.refused(lambda c: c["alerting"].pop("webhook_secret_file"),
                     "/policies/crisis/escalation/levels/0/channels: webhook needs "
                     "/alerting/webhook_secret_file")

    def test_the_webhook_secret_file_must_be_private(self):
        os.chmod(self.secret, 0o644)
        try:
            r = self.refused(lambda c: None, "/alerting/webhook_secret_file: ")
            self.assertIn("mode 644", r.stderr)
            self.assertIn("chmod 600", r.stderr)
            with open(self.secret) as f:
                self.assertNotIn(f.read().strip(), r.stderr)  # the secret is never printed
        finally:
            os.chmod(self.secret, 0o600)

    def test_email_to_another_machine_must_be_encrypted(self):
        self.refused(lambda c: c["alerting"].update(smtp_url="smtp://mail.example.org:25"),
                     "/alerting/smtp_url: e-mail to another machine must be encrypted")

    def test_a_plain_http_webhook_to_another_machine_is_refused(self):
        # SMTP gets this check (above); an officer's webhook must get it too,
        # or alerts go across the network unencrypted.
        r = self.refused(lambda c: c["officers"][0].update(webhook="http://chat.example.org/hook"),
                         "/officers/0/webhook: ")
        self.assertIn("https://", r.stderr)

    def test_a_bearer_token_over_plain_http_is_refused_at_load(self):
        # The hub refuses to send these at run time ("webhook: refusing to send
        # a bearer token over plain http"), so every webhook alert would fail:
        # the config check must say so first.
        token = os.path.join(self.eh.hub.dir, "webhook.token")
        with open(token, "w") as f:
            f.write("token-123\n")
        os.chmod(token, 0o600)

        def mutate(c):
            c["alerting"]["webhook_token_file"] = "webhook.token"
            c["officers"][0]["webhook"] = "http://192.0.2.10/hook"
        self.refused(mutate, "/officers/0/webhook: ")

    def test_other_level_mistakes(self):
        self.refused(lambda c: self.levels(c)[1].update(after="PT0S"),
                     "/policies/crisis/escalation/levels/1/after: must be later than the level "
                     "before")
        self.refused(lambda c: self.levels(c)[0].update(channels=["sms"]),
                     "/policies/crisis/escalation/levels/0/channels/0: must be \"webhook\" or "
                     "\"email\"")
        self.refused(lambda c: self.levels(c)[0].update(repeat="PT0.5S"),
                     "/policies/crisis/escalation/levels/0/repeat: must be from PT1S")
        self.refused(lambda c: c["policies"]["crisis"]["escalation"].update(rearm="PT0S"),
                     "/policies/crisis/escalation/rearm: must be from PT1S")
        self.refused(lambda c: c["alerting"].pop("from"), "/alerting/from: required with smtp_url")


class NoPersonalData(unittest.TestCase):
    """Test 10: alerts, events and logs carry ids, never case details."""

    MARKER = "GEHEIM-slachtoffer-Zw9q4"

    def test_the_description_and_nationality_reach_no_alert(self):
        profiles = {"police": ["vormenVanUitbuiting", "urgentie", "omschrijving",
                               "nationaliteit"]}
        with EscalationHub(extra_config={"profiles": profiles}) as eh:
            eh.start()
            police = Partner(eh.hub, "police-1")
            coordinator = Partner(eh.hub, "kenniscentrum")
            ref = eh.crisis_signal(omschrijving="Situatie: " + self.MARKER, nationaliteit="VN")
            # The partner may see them (its profile): the marker is in the system.
            offer = police.offer(ref)
            self.assertIn(self.MARKER, offer["data"]["signaal"]["omschrijving"])
            self.assertEqual(offer["data"]["signaal"]["nationaliteit"], "VN")
            hooks = eh.wait_webhooks(2, timeout=2 + 2 + 3)  # two rounds
            mails = eh.wait_mails(2, timeout=3)
            events = coordinator.collect(lambda d: d["type"] == GESTART)
            r = eh.ctl("escalations", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            listing = r.stdout
            log = eh.hub.log_text()
            con = eh.hub.db()
            try:
                stored = con.execute("SELECT COALESCE(subject, '') || body FROM alerts").fetchall()
            finally:
                con.close()
        texts = ([json.dumps(h) for h in hooks] + [json.dumps(m) + mail_text(m) for m in mails]
                 + [json.dumps(e) for e in events] + [s[0] for s in stored] + [listing, log])
        for text in texts:
            self.assertNotIn(self.MARKER, text)
            self.assertNotIn("Situatie", text)
            self.assertNotIn("nationaliteit", text)
            self.assertNotIn("omschrijving", text)
        for body in bodies(hooks):
            self.assertNotIn("VN", json.dumps(body))
        for m in mails:
            self.assertIn("This message holds no personal data", mail_text(m))


class AdminSocket(unittest.TestCase):
    """docs/protocol.md §12 to the letter: one JSON frame each way, over ipc://,
    from a DEALER or a REQ socket; the socket file is mode 0600."""

    @classmethod
    def setUpClass(cls):
        import zmq
        cls.zmq = zmq
        cls.eh = EscalationHub().start()
        cls.path = os.path.join(cls.eh.hub.dir, "ketenhub.sock")

    @classmethod
    def tearDownClass(cls):
        cls.eh.close()

    def ask(self, kind, frame):
        s = self.eh.hub.ctx.socket(kind)
        s.linger = 0
        s.connect("ipc://" + self.path)
        try:
            s.send(frame)
            self.assertTrue(s.poll(5000 * SLOW), "no answer on the admin socket")
            return json.loads(s.recv())
        finally:
            s.close()

    def test_the_socket_is_only_for_the_hubs_user(self):
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)

    def test_ping_from_dealer_and_req(self):
        for kind in (self.zmq.DEALER, self.zmq.REQ):
            r = self.ask(kind, b'{"op": "ping"}')
            self.assertEqual(r["ok"], True)
            self.assertRegex(r["version"], r"^\d+\.\d+\.\d+$")

    def test_bad_requests_get_a_reason(self):
        r = self.ask(self.zmq.DEALER, b"not json")
        self.assertEqual(r, {"ok": False, "error": "request is not a JSON object"})
        r = self.ask(self.zmq.REQ, b'{"op": "reboot"}')
        self.assertFalse(r["ok"])
        self.assertIn("/op", r["error"])
        r = self.ask(self.zmq.DEALER, b'{"op": "ack", "escalation": "one", "by": "anna"}')
        self.assertFalse(r["ok"])
        self.assertIn("/escalation", r["error"])
        r = self.ask(self.zmq.DEALER, b'{"op": "ack", "escalation": 5, "by": "anna"}')
        self.assertEqual(r, {"ok": False, "error": "no escalation 5"})


if __name__ == "__main__":
    main()
