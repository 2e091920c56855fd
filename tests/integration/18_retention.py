"""Retention (docs/retention.md): signals past their period lose their payload
(their body, the responses about their referrals, their deliveries, their
pseudonyms), younger ones and those with an open referral keep it; metadata
and the audit trail stay, one audit record per purge; `ketenctl purge
--dry-run` shows the same selection, with the clock moved by libfaketime;
`ketenctl purge` asks the running hub over the admin socket, or purges
itself when the hub is stopped.

Age is made by writing old timestamps into the stopped hub's database (the
times the selection reads: events.received and referrals.updated), and, for
ketenctl, by libfaketime moving its clock forward."""
import json
import os
import sqlite3
import subprocess
import time
import unittest
import uuid

from harness import (KETENCTL, SLOW, Hub, Peer, main, make_event, response_event, signal_data)

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
PARTNERS = [("police-1", "police"), ("gemeente-1", "municipality"),
            ("kenniscentrum", "coordinator")]
CONFIG = {
    "municipalities": {"GM0153": "gemeente-1"},
    "profiles": {"municipality": ["vormenVanUitbuiting", "woongemeente", "omschrijving"]},
    "routes": [{"name": "woongemeente", "when": {"/woongemeente": {"present": True}},
                "to": [{"municipality_of": "/woongemeente"}]}],
    "retention": {"after_closed": "P30D", "without_referral": "P10D", "interval": "PT1H"},
    "admin_socket": "admin.sock",
}
OLD = "2025-01-01T00:00:00.000Z"       # long ago: every period has passed
CLOSED_OLD = "2025-02-01T00:00:00.000Z"


class Retention(unittest.TestCase):
    def setUp(self):
        self.hub = Hub(partners=PARTNERS, extra_config=dict(CONFIG)).start()
        police = Peer(self.hub, "police-1")
        muni = Peer(self.hub, "gemeente-1")
        muni.heartbeat()  # a session: the hub delivers to partners it has heard from
        self.sig = {}
        self.events = {}
        for name in ("closed_old", "open_old", "closed_new", "lone_old", "lone_new"):
            ev = make_event(signal_data(omschrijving="CANARY-" + uuid.uuid4().hex))
            r = police.request(ev)
            self.assertEqual(r["status"], "accepted", r)
            self.sig[name] = r["seq"]
            self.events[name] = ev
        offers = muni.wait_delivery(count=5)
        self.ref = {}
        for offer in offers:
            muni.receipt(offer["id"])
        con = self.hub.db()
        for name, seq in self.sig.items():
            self.ref[name] = con.execute("SELECT id FROM referrals WHERE signal_seq = ?",
                                         (seq,)).fetchone()[0]
        con.close()
        for name in ("closed_old", "closed_new"):
            r = muni.request(response_event("afgewezen", self.ref[name], reden="anders",
                                            toelichting="CANARY-toelichting"))
            self.assertEqual(r["status"], "accepted", r)
        self.assertEqual(self.hub.stop(), 0)
        # Age: two signals whose referral is gone (no referral at all), the
        # old ones received long ago, one referral closed long ago.
        con = sqlite3.connect(self.hub.db_path)
        for name in ("lone_old", "lone_new"):
            con.execute("DELETE FROM deliveries WHERE referral = ?", (self.ref[name],))
            con.execute("DELETE FROM referral_history WHERE referral = ?", (self.ref[name],))
            con.execute("DELETE FROM referrals WHERE id = ?", (self.ref[name],))
        for name in ("closed_old", "open_old", "lone_old"):
            con.execute("UPDATE events SET received = ? WHERE seq = ?", (OLD, self.sig[name]))
        con.execute("UPDATE referrals SET updated = ? WHERE id = ?",
                    (CLOSED_OLD, self.ref["closed_old"]))
        con.execute("UPDATE referrals SET updated = ? WHERE id = ?",
                    (CLOSED_OLD, self.ref["open_old"]))
        con.executemany("INSERT INTO pseudonyms (seq, kind, pseudonym, partner, received_ms) "
                        "VALUES (?, 'bsn', ?, 'police-1', 0)",
                        [(self.sig["closed_old"], "aa" * 32), (self.sig["open_old"], "bb" * 32)])
        con.commit()
        self.response_seq = con.execute(
            "SELECT event_seq FROM referral_history WHERE referral = ? AND to_state = 'afgewezen'",
            (self.ref["closed_old"],)).fetchone()[0]
        self.sealed_closed_old = con.execute("SELECT body FROM events WHERE seq = ?",
                                             (self.sig["closed_old"],)).fetchone()[0]
        con.close()

    def tearDown(self):
        self.hub.close()

    def ctl(self, *args, env=None):
        return subprocess.run([KETENCTL, "--config", self.hub.config_path] + list(args),
                              capture_output=True, text=True, timeout=60 * SLOW, env=env)

    def dry_run(self, env=None):
        r = self.ctl("purge", "--dry-run", "--json", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        return {d["seq"]: d["rule"] for d in out["due"]}, out

    def purged(self):
        con = self.hub.db()
        try:
            return {seq for (seq,) in con.execute(
                "SELECT seq FROM events WHERE purged IS NOT NULL AND length(body) = 0")}
        finally:
            con.close()

    def test_dry_run_then_the_hub_purges_what_is_due_and_keeps_the_rest(self):
        due, out = self.dry_run()
        self.assertEqual(due, {self.sig["closed_old"]: "after_closed",
                               self.sig["lone_old"]: "without_referral"})
        self.assertEqual((out["signals"], out["after_closed"], out["without_referral"]), (2, 1, 1))
        self.assertEqual(self.purged(), set(), "a dry run changes nothing")
        self.hub.start()
        deadline_ok = False
        end = time.time() + 10 * SLOW
        while time.time() < end:
            if "event=purged signals=2 " in self.hub.log_text():
                deadline_ok = True
                break
            time.sleep(0.05)
        self.assertTrue(deadline_ok, self.hub.log_text()[-2000:])
        self.assertEqual(self.purged(), {self.sig["closed_old"], self.sig["lone_old"],
                                         self.response_seq})
        con = self.hub.db()
        # Its delivery's payload and its pseudonyms went; the open one's stay.
        self.assertEqual(con.execute(
            "SELECT purged IS NOT NULL, length(payload) FROM deliveries WHERE referral = ?",
            (self.ref["closed_old"],)).fetchall(), [(1, 0)])
        self.assertEqual(con.execute(
            "SELECT purged IS NULL FROM deliveries WHERE referral = ?",
            (self.ref["open_old"],)).fetchall(), [(1,)])
        self.assertEqual(con.execute("SELECT seq FROM pseudonyms").fetchall(),
                         [(self.sig["open_old"],)])
        # Metadata stays.
        self.assertEqual(con.execute("SELECT count(*) FROM events").fetchone()[0], 7)
        self.assertEqual(con.execute("SELECT state FROM referrals WHERE id = ?",
                                     (self.ref["closed_old"],)).fetchone()[0], "afgewezen")
        self.assertEqual(con.execute("SELECT count(*) FROM signal_facts").fetchone()[0], 5)
        audit = con.execute("SELECT actor, object, outcome, detail FROM audit "
                            "WHERE action = 'purge'").fetchall()
        con.close()
        self.assertEqual(len(audit), 1)
        actor, obj, outcome, detail = audit[0]
        detail = json.loads(detail)
        self.assertEqual((actor, obj, outcome), ("hub", "retention", "purged"))
        self.assertEqual(sorted(detail["signal_seqs"]),
                         sorted([self.sig["closed_old"], self.sig["lone_old"]]))
        self.assertEqual((detail["signals"], detail["events"], detail["deliveries"],
                          detail["pseudonyms"]), (2, 3, 1, 1))
        self.assertNotIn("CANARY", json.dumps(detail))
        # A resend of a purged event: stored once, so a duplicate (its content
        # can no longer be compared).
        police = Peer(self.hub, "police-1")
        again = police.request(self.events["closed_old"])
        self.assertEqual((again["status"], again.get("duplicate"), again["seq"]),
                         ("accepted", True, self.sig["closed_old"]), again)
        # The others still open under the key.
        r = self.ctl("keycheck")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("opens all 4 event bodies, 2 delivery payloads and 0 notes (4 purged)", r.stdout)
        # Asked through the admin socket: nothing more is due now.
        r = self.ctl("purge", "--by", "anna")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the hub purged 0 signals", r.stdout)
        # The open referral closes long ago, written beside the running hub:
        # `ketenctl purge` has the hub purge it now, audited as anna.
        con = sqlite3.connect(self.hub.db_path)
        con.execute("UPDATE referrals SET state = 'geannuleerd' WHERE id = ?",
                    (self.ref["open_old"],))
        con.commit()
        con.close()
        r = self.ctl("purge", "--by", "anna", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["purged"]["signals"], reply["more"]), (1, False))
        self.assertIn(self.sig["open_old"], self.purged())
        con = self.hub.db()
        self.assertEqual(con.execute("SELECT outcome FROM audit WHERE action = 'purge' AND "
                                     "actor = 'admin:anna' ORDER BY seq").fetchall(),
                         [("nothing-due",), ("purged",)])
        con.close()
        self.assertEqual(self.hub.stop(), 0)
        with open(self.hub.db_path, "rb") as f:
            self.assertNotIn(self.sealed_closed_old[36:], f.read(),
                             "the purged ciphertext is zeroed in the file")
        r = self.ctl("audit", "verify")
        if "unknown command" not in r.stderr:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(os.path.exists(FAKETIME_LIB), "libfaketime not installed (package faketime)")
    def test_an_injected_clock_moves_what_is_due_and_ketenctl_purges_when_the_hub_is_stopped(self):
        env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME="+40d",
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
        due, out = self.dry_run(env=env)
        # 40 days on: the recent lone signal (10 days) and the referral closed
        # today (30 days) are due too; the open referral never is.
        self.assertEqual(due, {self.sig["closed_old"]: "after_closed",
                               self.sig["closed_new"]: "after_closed",
                               self.sig["lone_old"]: "without_referral",
                               self.sig["lone_new"]: "without_referral"})
        self.assertGreater(out["now"], "2026")
        plain, _ = self.dry_run()
        self.assertEqual(len(plain), 2, "without the fake clock, only the old two")
        # The hub is stopped: ketenctl purges itself, with its (fake) now.
        r = self.ctl("purge", "--by", "bert", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("purged 4 signals", r.stdout)
        self.assertIn("the hub is not running: done here", r.stdout)
        self.assertEqual(len(self.purged() & set(self.sig.values())), 4)
        self.assertNotIn(self.sig["open_old"], self.purged())
        con = self.hub.db()
        self.assertEqual(con.execute("SELECT count(*) FROM audit WHERE action = 'purge' AND "
                                     "actor = 'admin:bert'").fetchone()[0], 1)
        con.close()
        # The hub starts on the purged database and reads what is left.
        self.hub.start()
        r = self.ctl("keycheck")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.hub.stop(), 0)
        r = self.ctl("audit", "verify")
        if "unknown command" not in r.stderr:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
