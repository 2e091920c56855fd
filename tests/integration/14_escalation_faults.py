"""Escalation under faults: a failing, refused or hanging webhook, both channels
down, kill -9 with a deadline armed or an alert in flight, and wall-clock jumps.

Every case runs the real ketenhubd with the real webhook and SMTP receivers of
escalation_util.py. Times are compared against the referral's receipt deadline
as the hub stored it (referrals.receipt_due_ms, UTC ms) and the receivers'
arrival stamps (`t`, wall clock of this host). The wall-clock cases preload
libfaketime into the hub only (never into the receivers or this process), so
real time stays real and only the hub's CLOCK_REALTIME moves.
"""
import datetime
import json
import os
import re
import time
import unittest

from harness import SLOW, main, make_event, signal_data
from escalation_util import EscalationHub

ONE_LEVEL = [{"after": "PT0S", "targets": ["on-duty"], "channels": ["webhook", "email"],
              "repeat": "PT30S"}]
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


# ---- helpers -------------------------------------------------------------

def query(eh, sql, *args):
    con = eh.hub.db()
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def receipt_due(eh, referral):
    """The referral's receipt deadline as the hub stored it, in Unix seconds."""
    (ms,), = query(eh, "SELECT receipt_due_ms FROM referrals WHERE id = ?", referral)
    return ms / 1000.0


def alert_rows(eh):
    """Every alert row as a dict, in seq order."""
    rows = query(eh, "SELECT seq, round, level, kind, officer, channel, state, attempts, cycles "
                     "FROM alerts ORDER BY seq")
    keys = ("seq", "round", "level", "kind", "officer", "channel", "state", "attempts", "cycles")
    return [dict(zip(keys, r)) for r in rows]


def alert_of(eh, officer, channel, kind="level"):
    found = [a for a in alert_rows(eh)
             if (a["officer"], a["channel"], a["kind"]) == (officer, channel, kind)]
    assert found, "no %s %s alert for %s: %r" % (kind, channel, officer, alert_rows(eh))
    return found[0]


def attempts(eh, alert_seq):
    """[(attempt, code, error, elapsed_ms)] of one alert, in order."""
    return query(eh, "SELECT attempt, code, error, elapsed_ms FROM alert_attempts "
                     "WHERE alert = ? ORDER BY seq", alert_seq)


def wait_until(what, timeout, message="condition", step=0.05):
    """Polls what() until it returns something true; returns that."""
    deadline = time.time() + timeout * SLOW
    while True:
        got = what()
        if got:
            return got
        if time.time() >= deadline:
            raise AssertionError("%s not reached within %.1f s" % (message, timeout * SLOW))
        time.sleep(step)


def wait_log(eh, pattern, timeout):
    return wait_until(lambda: re.search(pattern, eh.hub.log_text()), timeout,
                      "log line /%s/" % pattern)


def timed_signal(eh, timeout=5.0):
    """Sends a normal (non-crisis) signal on the sender's socket; returns
    (reply, seconds until the reply). Deliveries meanwhile are kept."""
    peer = eh.sender
    ev = make_event(signal_data())
    t0 = time.monotonic()
    peer.sock.send(json.dumps(ev).encode())
    deadline = t0 + timeout * SLOW
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not peer.sock.poll(int(left * 1000)):
            raise AssertionError("no reply to a normal signal within %.1f s" % (timeout * SLOW))
        frame = json.loads(peer.sock.recv())
        if "specversion" in frame:
            peer.deliveries.append(frame)
        elif frame.get("ack") == ev["id"]:
            return frame, time.monotonic() - t0
        else:
            peer.replies.append(frame)


def to(addr):
    return lambda m: addr in m["rcpt_tos"]


def fmt_times(records, base):
    return ["%+.2f" % (r["t"] - base) for r in records]


class Case(unittest.TestCase):
    """One EscalationHub per test, closed whatever happens."""

    def hub(self, **kw):
        eh = EscalationHub(**kw)
        self.addCleanup(eh.close)
        return eh

    def diag(self, eh):
        """What to print when an assertion fails: escalations and the log tail."""
        try:
            esc = json.dumps(eh.escalations(), indent=1)
        except Exception as exc:  # the database may be mid-write or absent
            esc = "(escalations unavailable: %s)" % exc
        return "\nescalations: %s\nhub log (tail):\n%s" % (esc, eh.hub.log_text()[-4000:])


# ---- 1 to 3: one channel failing ----------------------------------------

class OneChannelFailing(Case):
    def test_webhook_500_twice_is_retried_and_delivered_mail_on_time(self):
        eh = self.hub(levels=ONE_LEVEL, webhook_behaviour=["fail", "2"]).start()
        ref = eh.crisis_signal()
        due = receipt_due(eh, ref)
        hooks = eh.wait_webhooks(3, timeout=8)
        mails = eh.wait_mails(1, timeout=3)
        self.assertEqual([h["status"] for h in hooks], [500, 500, 204], self.diag(eh))
        self.assertTrue(all(h["verified"] for h in hooks))
        self.assertEqual(len({h["headers"]["webhook-id"] for h in hooks}), 1,
                         "every retry carries the same webhook-id")
        # The mail of the same round is on time and does not wait for the webhook's retries.
        self.assertLess(abs(mails[0]["t"] - due), 1.0 * SLOW,
                        "mail %.2f s from the deadline" % (mails[0]["t"] - due))
        self.assertLess(mails[0]["t"], hooks[1]["t"], "mail waited for the webhook retries")
        # Backoff 0.2 s then 0.4 s between the attempts.
        self.assertGreater(hooks[1]["t"] - hooks[0]["t"], 0.15)
        self.assertGreater(hooks[2]["t"] - hooks[1]["t"], 0.3)
        alert = alert_of(eh, "anna", "webhook")
        wait_until(lambda: len(attempts(eh, alert["seq"])) == 3, 3, "three attempt rows")
        rows = attempts(eh, alert["seq"])
        self.assertEqual([(a, c) for a, c, _, _ in rows], [(1, 500), (2, 500), (3, 204)])
        self.assertEqual(rows[0][2], "HTTP 500")
        self.assertEqual(rows[2][2], "")
        alert = wait_until(lambda: alert_of(eh, "anna", "webhook")["state"] == "delivered"
                           and alert_of(eh, "anna", "webhook"), 3, "webhook alert delivered")
        self.assertEqual(alert["attempts"], 3)
        self.assertEqual(hooks[0]["headers"]["webhook-id"], "alert-%d" % alert["seq"])
        self.assertEqual(alert_of(eh, "anna", "email")["state"], "delivered")
        self.assertNotIn("alert_all_channels_failed", eh.hub.log_text())

    def test_webhook_refused_mail_on_time_and_hub_responsive(self):
        eh = self.hub(levels=ONE_LEVEL, start_webhook=False).start()
        ref = eh.crisis_signal()
        due = receipt_due(eh, ref)
        mails = eh.wait_mails(1, timeout=5)
        self.assertLess(abs(mails[0]["t"] - due), 1.0 * SLOW,
                        "mail %.2f s from the deadline" % (mails[0]["t"] - due))
        # While the webhook keeps failing (3 attempts, then again after
        # `redeliver`), normal signals are answered at once.
        latencies = []
        end = time.time() + 3.0
        while time.time() < end:
            reply, took = timed_signal(eh)
            self.assertEqual(reply["status"], "accepted", reply)
            latencies.append(took)
            time.sleep(0.25)
        self.assertLess(max(latencies), 0.5 * SLOW, "reply latencies %r" % latencies)
        alert = alert_of(eh, "anna", "webhook")
        rows = wait_until(lambda: len(attempts(eh, alert["seq"])) >= 3 and attempts(eh, alert["seq"]),
                          3, "three webhook attempts")
        for attempt, code, error, _ in rows:
            self.assertEqual(code, 0, rows)
            self.assertTrue(error, "attempt %d has no error text: %r" % (attempt, rows))
        self.assertEqual([r[0] for r in rows[:3]], [1, 2, 3])
        self.assertIn("event=alert_failed alert=%d " % alert["seq"], eh.hub.log_text())
        self.assertEqual(alert_of(eh, "anna", "email")["state"], "delivered")
        # The round reached anna by mail: no fallback.
        self.assertNotIn("alert_all_channels_failed", eh.hub.log_text())
        self.assertEqual([a for a in alert_rows(eh) if a["kind"] == "fallback"], [])

    def test_webhook_hangs_mail_on_time_hub_responsive_timeout_recorded(self):
        eh = self.hub(levels=ONE_LEVEL, webhook_behaviour=["hang"],
                      alerting={"timeout": "PT2S"}).start()
        ref = eh.crisis_signal()
        due = receipt_due(eh, ref)
        hooks = eh.wait_webhooks(1, timeout=5)  # the request is in, the answer never comes
        mails = eh.wait_mails(1, timeout=3)
        self.assertLess(abs(mails[0]["t"] - due), 1.0 * SLOW,
                        "mail %.2f s from the deadline" % (mails[0]["t"] - due))
        latencies = []
        while time.time() < hooks[0]["t"] + 1.5:  # well inside the hanging attempt
            reply, took = timed_signal(eh)
            self.assertEqual(reply["status"], "accepted", reply)
            latencies.append(took)
            time.sleep(0.2)
        self.assertGreaterEqual(len(latencies), 3)
        self.assertLess(max(latencies), 0.5 * SLOW, "reply latencies %r" % latencies)
        alert = alert_of(eh, "anna", "webhook")
        rows = wait_until(lambda: attempts(eh, alert["seq"]), 3, "the first webhook attempt row")
        attempt, code, error, elapsed = rows[0]
        self.assertEqual((attempt, code), (1, 0), rows)
        self.assertIn("timed out", error.lower(), rows)
        self.assertGreaterEqual(elapsed, 1900, rows)
        self.assertLess(elapsed, 3500 * SLOW, rows)
        self.assertEqual(alert_of(eh, "anna", "email")["state"], "delivered")


# ---- 4: both channels down, then back -----------------------------------

class BothChannelsDown(Case):
    def test_all_failed_raises_to_fallback_and_nothing_is_lost(self):
        eh = self.hub(levels=ONE_LEVEL, start_webhook=False, start_smtp=False).start()
        eh.crisis_signal()
        m = wait_log(eh, r"level=error event=alert_all_channels_failed escalation=(\d+) "
                         r"round=1 fallback=cor\b", 6)
        esc_id = int(m.group(1))
        fallback = wait_until(lambda: [a for a in alert_rows(eh) if a["kind"] == "fallback"],
                              2, "fallback alerts")
        self.assertEqual([(a["officer"], a["channel"], a["round"]) for a in fallback],
                         [("cor", "email", 1)], alert_rows(eh))
        audit = query(eh, "SELECT object, detail FROM audit WHERE action = 'alert' "
                          "AND outcome = 'all_failed'")
        self.assertTrue(audit, "no audit row with outcome all_failed")
        self.assertEqual(audit[0][0], "escalation:%d" % esc_id)
        self.assertEqual(json.loads(audit[0][1]).get("fallback"), "cor")
        # The fallback's mail fails too (the relay is down): said loudly, once for the round.
        wait_log(eh, r"event=alert_all_channels_failed escalation=%d round=1 fallback=failed"
                 % esc_id, 4)
        # Both receivers come back on their ports: every alert of the round arrives.
        back = time.time()
        eh.webhook.start(["ok"])
        eh.smtp.start()
        hooks = eh.wait_webhooks(1, timeout=8)
        wait_until(lambda: any(map(to("anna@example.org"), eh.mails()))
                   and any(map(to("cor@example.org"), eh.mails())), 8, "mails to anna and cor")
        self.assertEqual(hooks[0]["path"], "/anna")
        self.assertEqual(hooks[0]["status"], 204)
        self.assertLess(hooks[0]["t"] - back, 6 * SLOW)
        wait_until(lambda: all(a["state"] == "delivered" for a in alert_rows(eh)), 3,
                   "every alert delivered")
        esc = [x for x in eh.escalations() if x["id"] == esc_id][0]
        got = sorted((a["officer"], a["channel"], a["kind"], a["state"]) for a in esc["alerts"])
        self.assertEqual(got, [("anna", "email", "level", "delivered"),
                               ("anna", "webhook", "level", "delivered"),
                               ("cor", "email", "fallback", "delivered")], self.diag(eh))
        self.assertEqual(esc["rounds"], 1)
        self.assertEqual(esc["alerts_delivered"], 3)
        webhook_alert = alert_of(eh, "anna", "webhook")
        self.assertEqual(hooks[0]["headers"]["webhook-id"], "alert-%d" % webhook_alert["seq"])
        self.assertGreater(webhook_alert["cycles"], 1, "it was queued again after `redeliver`")


# ---- 5 and 6: kill -9 ----------------------------------------------------

class KillNine(Case):
    def test_overdue_deadline_fires_once_after_restart(self):
        levels = [{"after": "PT0S", "targets": ["on-duty"], "channels": ["webhook", "email"],
                   "repeat": "PT2S"}]
        eh = self.hub(levels=levels, receipt="PT3S").start()
        ref = eh.crisis_signal()
        eh.hub.kill9()
        due = receipt_due(eh, ref)
        # Down for the deadline and the repeats due at +0 s and +2 s.
        time.sleep(max(0.0, due + 3.0 - time.time()))
        self.assertEqual((eh.webhooks(), eh.mails()), ([], []))
        eh.hub.start(listen=eh.hub.endpoint)
        started = time.time()
        hooks = eh.wait_webhooks(1, timeout=2)
        mails = eh.wait_mails(1, timeout=2)
        self.assertLess(hooks[0]["t"] - started, 1.0 * SLOW)
        self.assertLess(mails[0]["t"] - started, 1.0 * SLOW)
        # Nothing more until the next repeat: one round, not one per missed repeat.
        time.sleep(max(0.0, started + 1.4 - time.time()))
        self.assertEqual((len(eh.webhooks()), len(eh.mails())), (1, 1),
                         "after restart: webhooks at %s, mails at %s%s"
                         % (fmt_times(eh.webhooks(), started), fmt_times(eh.mails(), started),
                            self.diag(eh)))
        self.assertEqual([x["rounds"] for x in eh.escalations()], [1])
        hooks = eh.wait_webhooks(2, timeout=3)
        gap = hooks[1]["t"] - hooks[0]["t"]
        self.assertGreater(gap, 1.6, "repeat after %.2f s" % gap)
        self.assertLess(gap, 2.8 * SLOW, "repeat after %.2f s" % gap)
        self.assertEqual(len(eh.wait_mails(2, timeout=1)), 2)
        self.assertEqual(len(re.findall(r"event=escalation_alert escalation=1 level=1 round=1 ",
                                        eh.hub.log_text())), 1)

    def test_alert_in_flight_is_sent_again_after_restart_with_same_id(self):
        eh = self.hub(levels=ONE_LEVEL, webhook_behaviour=["hang"],
                      alerting={"timeout": "PT5S"}).start()
        eh.crisis_signal()
        first = eh.wait_webhooks(1, timeout=5)[0]  # in flight: the receiver holds it
        eh.wait_mails(1, timeout=3)
        alert = alert_of(eh, "anna", "webhook")
        self.assertEqual(alert["state"], "queued")
        eh.hub.kill9()
        eh.webhook.stop()
        eh.webhook.start(["ok"])  # same port
        eh.hub.start(listen=eh.hub.endpoint)
        hooks = eh.wait_webhooks(2, timeout=5)
        again = hooks[1]
        self.assertEqual(again["status"], 204)
        self.assertTrue(again["verified"])
        self.assertEqual(again["headers"]["webhook-id"], first["headers"]["webhook-id"])
        self.assertEqual(again["headers"]["webhook-id"], "alert-%d" % alert["seq"])
        self.assertEqual(again["body"], first["body"])
        wait_until(lambda: alert_of(eh, "anna", "webhook")["state"] == "delivered", 3,
                   "the requeued alert delivered")
        self.assertRegex(eh.hub.log_text(), r"event=alerts_requeued count=1\b")
        # The mail was delivered before the kill: it is not sent again.
        time.sleep(0.5)
        self.assertEqual(len(eh.mails()), 1)
        self.assertEqual(len(eh.webhooks()), 2)


# ---- 7: the wall clock jumps ---------------------------------------------

@unittest.skipUnless(os.path.exists(FAKETIME_LIB), "libfaketime not installed (package faketime)")
class WallClockJump(Case):
    """The hub's wall clock jumps by an hour after it has learned a deadline.
    libfaketime re-reads the offset file on every clock call (NO_CACHE) and
    leaves CLOCK_MONOTONIC alone, so only the hub's wall clock moves. The
    webhook receiver refuses a request signed an hour off (401, its 5-minute
    freshness rule); a request still counts as the alert having fired."""

    def faked_hub(self, **kw):
        eh = self.hub(receipt="PT4S", **kw)
        self.offset_file = os.path.join(eh.hub.dir, "faketime.offset")
        self.set_offset("+0")
        eh.hub.env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME_DONT_FAKE_MONOTONIC="1",
                          FAKETIME_NO_CACHE="1", FAKETIME_TIMESTAMP_FILE=self.offset_file)
        return eh.start()

    def set_offset(self, offset):
        """Replaces the offset file in one step (a reader never sees it empty)."""
        tmp = self.offset_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(offset + "\n")
        os.replace(tmp, self.offset_file)

    def jump_after_signal(self, eh, offset):
        ref = eh.crisis_signal()
        due = receipt_due(eh, ref)  # stored before the jump: real time
        time.sleep(0.5)  # the hub has learned the deadline
        self.set_offset(offset)
        return due

    def hub_clock_ahead(self, eh):
        """Seconds by which the hub's wall clock ran ahead of real time when it
        opened the escalation: the log line's own time stamp (the wall clock)
        against the real deadline. (The escalation's rows count in the
        deadline's own clock, so they do not show the jump.)"""
        (due_ms,), = query(eh, "SELECT due_ms FROM escalations")
        m = re.search(r"ts=(\S+) level=\w+ event=escalation_opened", eh.hub.log_text())
        self.assertTrue(m, "no escalation_opened line" + self.diag(eh))
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        return t - due_ms / 1000.0

    def first_alert_time(self, eh, until):
        while time.time() < until:
            if eh.webhooks() or eh.mails():
                return min(r["t"] for r in eh.webhooks() + eh.mails())
            time.sleep(0.02)
        return None

    def test_a_forward_jump_does_not_advance_the_deadline(self):
        eh = self.faked_hub(levels=ONE_LEVEL)
        due = self.jump_after_signal(eh, "+1h")
        first = self.first_alert_time(eh, due + 1.5 * SLOW)
        self.assertIsNotNone(first, "no alert by 1.5 s after the deadline" + self.diag(eh))
        self.assertGreater(first, due - 0.3, "alert %.2f s before the deadline (the jump "
                           "advanced it)%s" % (due - first, self.diag(eh)))
        self.assertLess(first, due + 1.0 * SLOW)
        self.assertGreater(self.hub_clock_ahead(eh), 3500,
                           "the hub's wall clock did not jump: libfaketime not in effect")

    def test_a_backward_jump_does_not_delay_the_alert(self):
        eh = self.faked_hub(levels=ONE_LEVEL)
        due = self.jump_after_signal(eh, "-1h")
        first = self.first_alert_time(eh, due + 1.5 * SLOW)
        opened = query(eh, "SELECT count(*) FROM escalations")[0][0]
        self.assertEqual(opened, 1, "the deadline itself did not fire" + self.diag(eh))
        self.assertLess(self.hub_clock_ahead(eh), -3500,
                        "the hub's wall clock did not jump: libfaketime not in effect")
        self.assertIsNotNone(first, "no alert by 1.5 s after the deadline (real time) after "
                             "the wall clock went back 1 h" + self.diag(eh))
        self.assertGreater(first, due - 0.3)
        self.assertLess(first, due + 1.0 * SLOW)

    def test_a_forward_jump_does_not_skip_level_1(self):
        # Default levels: level 1 (webhook + mail to anna) at the deadline,
        # level 2 (mail to anna and cor) 5 s after it. An hour's jump must
        # not make the first round a level 2 one.
        eh = self.faked_hub()
        due = self.jump_after_signal(eh, "+1h")
        first = self.first_alert_time(eh, due + 1.5 * SLOW)
        self.assertIsNotNone(first, "no alert by 1.5 s after the deadline" + self.diag(eh))
        time.sleep(0.5)
        subjects = [m["subject"] for m in eh.mails()]
        rounds = [(a["round"], a["level"], a["officer"], a["channel"]) for a in alert_rows(eh)]
        self.assertEqual(rounds, [(1, 0, "anna", "webhook"), (1, 0, "anna", "email")],
                         "first round %.2f s after the deadline: %r, mails %r%s"
                         % (first - due, rounds, subjects, self.diag(eh)))
        self.assertEqual(len(eh.webhooks()), 1)


if __name__ == "__main__":
    main()
