"""ketenctl referrals, referral, deadletters and replay against a real hub's database.

With no `routes` in the config every accepted signal becomes one referral for
the coordinator partner the harness adds ("kenniscentrum") under the built-in
policy "standaard" (receipt P1D, decision P5D), with one queued delivery.
Nobody connects as kenniscentrum, so those deliveries stay pending until a test
connects it (the last class).
"""
import datetime
import json
import os
import sqlite3
import subprocess
import time
import unittest

from harness import KETENCTL, SLOW, Hub, main, make_event, request, signal_data

STATES = ["aangeboden", "ontvangen", "geaccepteerd", "afgewezen", "afgerond", "geannuleerd",
          "mislukt"]
SECRET = "GEHEIM-omschrijving-7f3a"  # a personal detail that must never be printed


def run(*args):
    return subprocess.run([KETENCTL, *args], capture_output=True, text=True, timeout=60 * SLOW)


def parse_time(text):
    """An RFC 3339 UTC time as ketenctl prints it, in seconds since the epoch."""
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


class Ctl:
    """ketenctl with the hub's config."""

    def ctl(self, *args):
        return run("--config", self.hub.config_path, *args)

    def ctl_json(self, *args):
        r = self.ctl(*args, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)


class ReadCommands(Ctl, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub().start()
        sock = cls.hub.client("police-1")
        cls.sent_at = time.time()
        cls.seqs = []
        for data in (signal_data(), signal_data(omschrijving=SECRET, urgentie="hoog")):
            reply = request(sock, make_event(data))
            assert reply["status"] == "accepted", reply
            cls.seqs.append(reply["seq"])
        cls.done_at = time.time()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def referral_of(self, seq):
        doc = self.ctl_json("referrals")
        found = [r for r in doc["referrals"] if r["signal_seq"] == seq]
        self.assertEqual(len(found), 1, doc)
        return found[0]

    def test_referrals_json_lists_each_signal_for_the_coordinator_newest_first(self):
        doc = self.ctl_json("referrals")
        self.assertEqual(doc["truncated"], False)
        self.assertEqual([r["signal_seq"] for r in doc["referrals"]], self.seqs[::-1])
        for r in doc["referrals"]:
            self.assertEqual(sorted(r), sorted(["id", "signal_seq", "partner", "policy", "rule",
                                                "state", "created", "updated", "receipt_due",
                                                "decision_due"]))
            self.assertEqual(r["partner"], "kenniscentrum")
            self.assertEqual(r["policy"], "standaard")
            self.assertEqual(r["state"], "aangeboden")
            self.assertIsInstance(r["rule"], str)
            self.assertTrue(r["rule"])
            created = parse_time(r["created"])
            self.assertLessEqual(abs(created - self.sent_at), 60)
            self.assertEqual(r["updated"], r["created"])

    def test_deadlines_are_one_and_five_days_after_now(self):
        r = self.referral_of(self.seqs[0])
        self.assertLess(abs(parse_time(r["receipt_due"]) - (self.sent_at + 86400)), 60)
        self.assertLess(abs(parse_time(r["decision_due"]) - (self.sent_at + 5 * 86400)), 60)
        # And exactly the policy's durations after the referral was made.
        created = parse_time(r["created"])
        self.assertAlmostEqual(parse_time(r["receipt_due"]) - created, 86400, delta=1)
        self.assertAlmostEqual(parse_time(r["decision_due"]) - created, 5 * 86400, delta=1)

    def test_referrals_human_is_an_aligned_table_with_a_header(self):
        r = self.ctl("referrals")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0].split(), ["ID", "SIGNAL", "PARTNER", "POLICY", "RULE", "STATE",
                                            "CREATED", "UPDATED", "RECEIPT", "DUE", "DECISION",
                                            "DUE"])
        self.assertEqual(len(lines), 1 + len(self.seqs))
        newest = self.referral_of(self.seqs[-1])
        row = lines[1].split()
        self.assertEqual(row, [newest["id"], str(self.seqs[-1]), "kenniscentrum", "standaard",
                               newest["rule"], "aangeboden", newest["created"], newest["updated"],
                               newest["receipt_due"], newest["decision_due"]])
        # Aligned: every column starts where its header starts.
        for header in ("PARTNER", "STATE", "RECEIPT DUE"):
            col = lines[0].index(header)
            for line in lines[1:]:
                self.assertNotEqual(line[col], " ", (header, line))
                self.assertEqual(line[col - 1], " ", (header, line))

    def test_filters_by_state_and_partner_and_limit(self):
        self.assertEqual(len(self.ctl_json("referrals", "--state", "aangeboden")["referrals"]),
                         len(self.seqs))
        self.assertEqual(self.ctl_json("referrals", "--state", "afgewezen")["referrals"], [])
        self.assertEqual(len(self.ctl_json("referrals", "--partner", "kenniscentrum")["referrals"]),
                         len(self.seqs))
        self.assertEqual(self.ctl_json("referrals", "--partner", "police-1")["referrals"], [])
        doc = self.ctl_json("referrals", "--limit", "1")
        self.assertEqual([r["signal_seq"] for r in doc["referrals"]], [self.seqs[-1]])
        self.assertEqual(doc["truncated"], True)
        r = self.ctl("referrals", "--state", "afgewezen")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no referrals", r.stdout)

    def test_every_state_name_is_accepted(self):
        for state in STATES:
            r = self.ctl("referrals", "--state", state)
            self.assertEqual(r.returncode, 0, (state, r.stderr))

    def test_unknown_state_is_a_usage_error_naming_it(self):
        r = self.ctl("referrals", "--state", "verdwenen")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown state "verdwenen"', r.stderr)
        self.assertIn("aangeboden", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_bad_options_are_usage_errors(self):
        for args in (("referrals", "--limit", "0"), ("referrals", "--limit", "ten"),
                     ("referrals", "--colour"), ("referrals", "--state"), ("referral",),
                     ("referral", "a", "b"), ("deadletters", "--all")):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr)
        r = run("referrals")  # no --config
        self.assertEqual(r.returncode, 2)
        self.assertIn("--config", r.stderr)

    def test_referral_json_has_its_history_and_its_pending_delivery(self):
        seq = self.seqs[0]
        listed = self.referral_of(seq)
        doc = self.ctl_json("referral", listed["id"])
        for k, v in listed.items():
            self.assertEqual(doc[k], v, k)
        self.assertEqual(doc["history"], [{
            "time": listed["created"], "actor": "hub", "event": "aangeboden",
            "from_state": None, "to_state": "aangeboden", "event_seq": seq}])
        self.assertEqual(len(doc["deliveries"]), 1)
        d = doc["deliveries"][0]
        con = self.hub.db()
        try:
            row = con.execute("SELECT seq, event_id FROM deliveries WHERE referral = ?",
                              (listed["id"],)).fetchone()
        finally:
            con.close()
        self.assertEqual(d, {"seq": row[0], "event_id": row[1], "state": "pending", "attempts": 0,
                             "last_attempt": None, "confirmed": None, "dead_reason": None})

    def test_referral_human_shows_fields_history_and_deliveries(self):
        listed = self.referral_of(self.seqs[0])
        r = self.ctl("referral", listed["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("referral      %s\n" % listed["id"], out)
        self.assertIn("partner       kenniscentrum\n", out)
        self.assertIn("state         aangeboden\n", out)
        self.assertIn("receipt due   %s\n" % listed["receipt_due"], out)
        self.assertIn("decision due  %s\n" % listed["decision_due"], out)
        self.assertIn("history (1)", out)
        hist = out.split("history (1)\n")[1].split("\n")
        self.assertEqual(hist[0].split(), ["TIME", "ACTOR", "EVENT", "FROM", "TO", "EVENT", "SEQ"])
        self.assertEqual(hist[1].split(), [listed["created"], "hub", "aangeboden", "-",
                                           "aangeboden", str(self.seqs[0])])
        dl = out.split("deliveries (1)\n")[1].split("\n")
        self.assertEqual(dl[0].split()[:4], ["SEQ", "EVENT", "ID", "STATE"])
        self.assertEqual(dl[1].split()[2:], ["pending", "0", "-", "-", "-"])

    def test_unknown_referral_exits_1(self):
        r = self.ctl("referral", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no referral 00000000-0000-4000-8000-000000000000", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(self.ctl("referral", "x", "--json").returncode, 1)

    def test_no_output_holds_personal_data(self):
        listed = self.referral_of(self.seqs[1])
        outputs = []
        for args in (("referrals",), ("referrals", "--json"), ("referral", listed["id"]),
                     ("referral", listed["id"], "--json"), ("deadletters",),
                     ("deadletters", "--json")):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            outputs.append(r.stdout + r.stderr)
        self.assertNotIn(SECRET, "".join(outputs))
        for marker in ("onderbetaling", "GM0153", "hoog", "arbeid"):  # signal data values
            self.assertNotIn(marker, "".join(outputs))

    def test_database_without_referrals_is_refused_clearly(self):
        old = os.path.join(self.hub.dir, "old.db")
        con = sqlite3.connect(old)
        con.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        con.execute("PRAGMA user_version = 1")
        con.commit()
        con.close()
        cfg = dict(self.hub.config, database="old.db")
        path = os.path.join(self.hub.dir, "old.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        for args in (("referrals",), ("deadletters",), ("replay", "1", "--by", "tester")):
            r = run("--config", path, *args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("schema version 1", r.stderr)
            self.assertIn(old, r.stderr)
        r = run("--config", path.replace("old.json", "missing.json"), "referrals")
        self.assertEqual(r.returncode, 1)


class DeadLetters(Ctl, unittest.TestCase):
    """Deliveries marked dead in the database while the hub is stopped."""

    def setUp(self):
        self.hub = Hub().start()
        sock = self.hub.client("police-1")
        for _ in range(3):
            self.assertEqual(request(sock, make_event())["status"], "accepted")
        self.assertEqual(self.hub.stop(), 0)
        con = sqlite3.connect(self.hub.db_path)
        try:
            self.rows = con.execute("SELECT seq, event_id, referral FROM deliveries "
                                    "ORDER BY seq").fetchall()
            self.assertEqual(len(self.rows), 3)
            self.dead = [self.rows[0][0], self.rows[2][0]]
            self.pending = self.rows[1][0]
            con.execute("UPDATE deliveries SET state = 'dead', dead_reason = 'test', attempts = 8, "
                        "last_attempt = '2026-11-29T08:00:00.000Z' WHERE seq IN (?, ?)",
                        self.dead)
            con.commit()
        finally:
            con.close()

    def tearDown(self):
        self.hub.close()

    def delivery(self, seq):
        con = self.hub.db()
        try:
            return con.execute("SELECT state, attempts, dead_reason FROM deliveries WHERE seq = ?",
                               (seq,)).fetchone()
        finally:
            con.close()

    def replay_audit(self):
        con = self.hub.db()
        try:
            return con.execute("SELECT time, actor, role, action, object, outcome, detail FROM audit "
                               "WHERE action = 'replay' ORDER BY seq").fetchall()
        finally:
            con.close()

    def test_deadletters_lists_the_dead_deliveries(self):
        doc = self.ctl_json("deadletters")
        by_seq = {r[0]: r for r in self.rows}
        self.assertEqual([d["seq"] for d in doc["dead_letters"]], self.dead)
        for d in doc["dead_letters"]:
            self.assertEqual(d, {"seq": d["seq"], "event_id": by_seq[d["seq"]][1],
                                 "referral": by_seq[d["seq"]][2], "partner": "kenniscentrum",
                                 "attempts": 8, "last_attempt": "2026-11-29T08:00:00.000Z",
                                 "dead_reason": "test"})
        r = self.ctl("deadletters")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0].split(), ["SEQ", "EVENT", "ID", "REFERRAL", "PARTNER", "ATTEMPTS",
                                            "LAST", "ATTEMPT", "REASON"])
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[1].split(), [str(self.dead[0]), self.rows[0][1], self.rows[0][2],
                                            "kenniscentrum", "8", "2026-11-29T08:00:00.000Z",
                                            "test"])
        # The referral shows its delivery as dead too.
        ref = self.ctl_json("referral", self.rows[0][2])
        self.assertEqual(ref["deliveries"][0]["state"], "dead")
        self.assertEqual(ref["deliveries"][0]["dead_reason"], "test")

    def test_replay_requeues_one_delivery_and_audits_it(self):
        before = time.time()
        r = self.ctl("replay", str(self.dead[0]), "--by", "tester")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.delivery(self.dead[0]), ("pending", 0, None))
        self.assertEqual(self.delivery(self.dead[1]), ("dead", 8, "test"))  # not named: untouched
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0].split(), ["SEQ", "EVENT", "ID", "REFERRAL", "PARTNER", "RESULT"])
        self.assertEqual(lines[1].split(), [str(self.dead[0]), self.rows[0][1], self.rows[0][2],
                                            "kenniscentrum", "requeued"])
        audit = self.replay_audit()
        self.assertEqual(len(audit), 1)
        when, actor, role, action, obj, outcome, detail = audit[0]
        self.assertEqual((actor, role, action, obj, outcome),
                         ("admin:tester", None, "replay", self.rows[0][1], "requeued"))
        self.assertEqual(json.loads(detail), {"delivery": self.dead[0], "referral": self.rows[0][2],
                                              "partner": "kenniscentrum"})
        self.assertLess(abs(parse_time(when) - before), 60)
        self.assertEqual([d["seq"] for d in self.ctl_json("deadletters")["dead_letters"]],
                         [self.dead[1]])

    def test_replay_of_a_delivery_that_is_not_dead_is_skipped_and_exits_1(self):
        r = self.ctl("replay", str(self.dead[0]), str(self.pending), "99999", "--by", "tester")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("skipped: pending, not dead", r.stdout)
        self.assertIn("skipped: no such delivery", r.stdout)
        self.assertIn("2 of 3 deliveries not requeued", r.stderr)
        # The dead one named with them was requeued all the same; the others untouched.
        self.assertEqual(self.delivery(self.dead[0]), ("pending", 0, None))
        self.assertEqual(self.delivery(self.pending), ("pending", 0, None))
        self.assertEqual([a[4] for a in self.replay_audit()], [self.rows[0][1]])
        # Replaying it again: it is not dead any more.
        r = self.ctl("replay", str(self.dead[0]), "--by", "tester")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not dead", r.stdout)
        self.assertEqual(len(self.replay_audit()), 1)

    def test_replay_all_requeues_every_dead_delivery(self):
        r = self.ctl("replay", "--all", "--by", "ops.on-call")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for seq in self.dead:
            self.assertEqual(self.delivery(seq), ("pending", 0, None))
        self.assertEqual([(a[1], a[4]) for a in self.replay_audit()],
                         [("admin:ops.on-call", self.rows[0][1]),
                          ("admin:ops.on-call", self.rows[2][1])])
        self.assertEqual(self.ctl_json("deadletters")["dead_letters"], [])
        r = self.ctl("replay", "--all", "--by", "tester")
        self.assertEqual(r.returncode, 0)
        self.assertIn("no dead letters", r.stdout)

    def test_replay_usage_errors_exit_2_and_change_nothing(self):
        for args, message in ((("replay", str(self.dead[0])), "--by NAME is required"),
                              (("replay", str(self.dead[0]), "--by"), "--by needs a value"),
                              (("replay", "--by", "tester"), "which deliveries"),
                              (("replay", "abc", "--by", "tester"), '"abc" is not a delivery seq'),
                              (("replay", "0", "--by", "tester"), '"0" is not a delivery seq'),
                              (("replay", "--all", str(self.dead[0]), "--by", "tester"),
                               "not both"),
                              (("replay", str(self.dead[0]), "--by", "a b"), '--by "a b"'),
                              (("replay", str(self.dead[0]), "--by", ""), '--by ""')):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)
        for seq in self.dead:
            self.assertEqual(self.delivery(seq), ("dead", 8, "test"))
        self.assertEqual(self.replay_audit(), [])

    def test_replay_waits_for_a_writer_then_goes_through(self):
        # Another connection holds the write lock for 1 s (as the hub does
        # while committing): replay waits (busy timeout 5 s) instead of failing.
        con = sqlite3.connect(self.hub.db_path, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            proc = subprocess.Popen([KETENCTL, "--config", self.hub.config_path, "replay",
                                     str(self.dead[0]), "--by", "tester"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1)
            self.assertIsNone(proc.poll(), "replay did not wait for the lock")
            con.execute("COMMIT")
            out, err = proc.communicate(timeout=30 * SLOW)
        finally:
            con.close()
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertEqual(self.delivery(self.dead[0]), ("pending", 0, None))


class ReplayWhileRunning(Ctl, unittest.TestCase):
    """The hub itself dead-letters a delivery nobody confirms; replayed while it
    runs, it goes out again to the partner, who confirms it this time."""

    ACK_MS = 1000 * SLOW

    def setUp(self):
        self.hub = Hub(extra_config={"delivery_max_attempts": 1,
                                     "delivery_ack_timeout_ms": self.ACK_MS}).start()

    def tearDown(self):
        self.hub.close()

    def wait_for(self, what, predicate, timeout):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            self.coordinator.send(json.dumps({"heartbeat": 1}).encode())  # keep the session
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def offers(self):
        """Delivery frames received so far (replies and echoes are dropped)."""
        while self.coordinator.poll(0):
            frame = json.loads(self.coordinator.recv())
            if "specversion" in frame:
                self.received.append(frame)
        return self.received

    def test_replayed_delivery_is_sent_again_by_the_running_hub(self):
        self.assertEqual(request(self.hub.client("police-1"), make_event())["status"], "accepted")
        ref = self.ctl_json("referrals")["referrals"][0]
        self.coordinator = self.hub.client("kenniscentrum")
        self.received = []
        self.coordinator.send(json.dumps({"heartbeat": 1}).encode())  # opens its session
        first = self.wait_for("the offer", lambda: self.offers(), 10)[0]
        self.assertEqual(first["data"]["doorverwijzing"], ref["id"])
        # No receipt: after one attempt the hub gives up on it.
        dead = self.wait_for("the dead letter",
                             lambda: self.ctl_json("deadletters")["dead_letters"], 10 + self.ACK_MS / 1000)
        self.assertEqual([(d["event_id"], d["referral"]) for d in dead], [(first["id"], ref["id"])])
        r = self.ctl("replay", str(dead[0]["seq"]), "--by", "tester")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        again = self.wait_for("the replayed offer", lambda: self.offers()[1:], 15)[0]
        self.assertEqual(again["id"], first["id"])
        self.coordinator.send(json.dumps({"receipt": again["id"]}).encode())
        confirmed = self.wait_for(
            "the receipt", lambda: [d for d in self.ctl_json("referral", ref["id"])["deliveries"]
                                    if d["state"] == "confirmed"], 10)
        self.assertEqual(confirmed[0]["event_id"], first["id"])
        self.assertIsNotNone(confirmed[0]["confirmed"])


if __name__ == "__main__":
    main()
