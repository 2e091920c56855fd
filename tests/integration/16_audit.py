"""The audit chain through the real hub: verify, tampering with the sqlite3
module (edit, delete, insert, reorder) each named at its record, the start-up
check, look-ups audited with the OS user, the hub and ketenctl appending at
once, export by date, and a person's access log by pseudonym.

The hashes are re-computed here from the canonical form as docs/audit.md
defines it (an auditor's independent implementation), not with the hub's code.
"""
import datetime
import hashlib
import json
import os
import pwd
import re
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import (KETENCTL, KETENHUBD, SLOW, Hub, main, make_event, request, signal_data)

GENESIS = "0" * 64
FIELDS = ["time", "actor", "role", "action", "object", "outcome", "subject", "address",
          "purpose", "detail"]
OS_USER = pwd.getpwuid(os.geteuid()).pw_name
BSN_A = "111222333"  # passes the elfproef; a canary: must never be stored
BSN_B = "123456782"


def canonical(rec):
    """docs/audit.md: the canonical content of one record."""
    out = b"ketenhub-audit-v1\n"
    for v in [str(rec["seq"])] + [rec[f] for f in FIELDS]:
        if v is None:
            out += b"-\n"
        else:
            b = v.encode()
            out += str(len(b)).encode() + b":" + b + b"\n"
    return out


def record_hash(prev, rec):
    return hashlib.sha256(prev.encode() + canonical(rec)).hexdigest()


def ctl(config, *args, stdin=None):
    return subprocess.run([KETENCTL, "--config", config, *args], capture_output=True, text=True,
                          input=stdin, timeout=120 * SLOW)


def rows(db_path, where="1", args=()):
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(
            "SELECT seq, %s, prev_hash, hash FROM audit WHERE %s ORDER BY seq"
            % (", ".join(FIELDS), where), args)]
    finally:
        con.close()


class AuditCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub().start()
        cls.police = cls.hub.client("police-1")
        cls.seqs = []
        for i in range(6):
            reply = request(cls.police, make_event(signal_data(urgentie="hoog" if i % 2 else "normaal")))
            assert reply["status"] == "accepted", reply
            cls.seqs.append(reply["seq"])
        reply = request(cls.police, make_event(signal_data(urgentie="nooit")))
        assert reply["status"] == "rejected", reply
        cls.copies = 0

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def copy(self):
        """A consistent copy of the hub's database with a config naming it."""
        type(self).copies += 1
        folder = os.path.join(self.hub.dir, "copy%d" % self.copies)
        os.makedirs(folder)
        path = os.path.join(folder, "copy.db")
        src = sqlite3.connect(self.hub.db_path)
        dst = sqlite3.connect(path)
        src.backup(dst)
        src.close()
        dst.close()
        cfg = dict(self.hub.config)
        for key in ("server_key", "encryption_key", "pseudonym_key"):
            cfg[key] = os.path.join(self.hub.dir, cfg[key])
        cfg["database"] = path
        config = os.path.join(folder, "ketenhub.json")
        with open(config, "w") as f:
            json.dump(cfg, f)
        return config, path

    def verify(self, config, *extra):
        r = ctl(config, "audit", "verify", "--json", *extra)
        self.assertIn(r.returncode, (0, 3), r.stderr)
        return r.returncode, json.loads(r.stdout)


class Verify(AuditCase):
    def test_a_clean_chain_is_intact_and_its_head_is_the_last_record(self):
        r = ctl(self.hub.config_path, "audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        last = rows(self.hub.db_path)[-1]
        self.assertIn("audit chain intact", r.stdout)
        self.assertIn("head seq=%d hash=%s" % (last["seq"], last["hash"]), r.stdout)

    def test_every_hash_is_reproduced_from_the_documented_canonical_form(self):
        prev = GENESIS
        recs = rows(self.hub.db_path)
        self.assertGreater(len(recs), 12)
        for rec in recs:
            self.assertEqual(rec["prev_hash"], prev, rec["seq"])
            self.assertEqual(record_hash(prev, rec), rec["hash"], rec["seq"])
            prev = rec["hash"]

    def test_intake_accepted_and_rejected_both_recorded_with_peer_address(self):
        recs = rows(self.hub.db_path, "action = 'intake'")
        outcomes = [r["outcome"] for r in recs]
        self.assertEqual(outcomes.count("accepted"), 6)
        self.assertEqual(outcomes.count("rejected"), 1)
        for r in recs:
            self.assertEqual(r["address"], "127.0.0.1")
            self.assertEqual(r["purpose"], "ketenzorg")
            self.assertEqual(r["actor"], "police-1")

    def tamper(self, sql, seq, kind):
        config, path = self.copy()
        self.assertEqual(self.verify(config)[0], 0)
        con = sqlite3.connect(path)
        con.executescript(sql)
        con.close()
        rc, out = self.verify(config)
        self.assertEqual(rc, 3, out)
        self.assertFalse(out["intact"])
        self.assertEqual((out["bad_seq"], out["kind"]), (seq, kind), out["what"])
        r = ctl(config, "audit", "verify")
        self.assertEqual(r.returncode, 3)
        self.assertIn("BROKEN at seq %d (%s)" % (seq, kind), r.stdout)

    def test_an_edited_field_is_named(self):
        self.tamper("UPDATE audit SET outcome = 'rejected' WHERE seq = 4", 4, "changed")

    def test_a_deleted_row_is_named(self):
        self.tamper("DELETE FROM audit WHERE seq = 5", 5, "deleted")

    def test_an_inserted_forged_row_is_named(self):
        self.tamper("UPDATE audit SET seq = seq + 1000 WHERE seq >= 3;"
                    "UPDATE audit SET seq = seq - 999 WHERE seq >= 1000;"
                    "INSERT INTO audit (seq, time, actor, role, action, object, outcome, purpose,"
                    " prev_hash, hash) SELECT 3, time, 'police-1', 'police', 'intake', 'forged',"
                    " 'accepted', 'ketenzorg', hash, '%s' FROM audit WHERE seq = 2;" % ("ab" * 32),
                    3, "inserted")

    def test_two_swapped_rows_are_named(self):
        self.tamper("UPDATE audit SET seq = -1 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 7;"
                    "UPDATE audit SET seq = 7 WHERE seq = -1;", 6, "reordered")

    def test_a_full_rewrite_passes_verify_but_not_the_anchor(self):
        config, path = self.copy()
        rc, before = self.verify(config)
        self.assertEqual(rc, 0)
        anchor = "%d:%s" % (before["head_seq"], before["head_hash"])
        # Someone with write access changes a record and re-hashes everything after it.
        con = sqlite3.connect(path)
        con.execute("UPDATE audit SET outcome = 'rejected' WHERE seq = 2")
        con.commit()
        prev = GENESIS
        for rec in rows(path):
            h = record_hash(prev, rec)
            con.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, rec["seq"]))
            prev = h
        con.commit()
        con.close()
        self.assertEqual(self.verify(config)[0], 0)  # the chain alone cannot tell
        rc, out = self.verify(config, "--anchor", anchor)
        self.assertEqual(rc, 3)
        self.assertEqual((out["bad_seq"], out["kind"]), (before["head_seq"], "rewritten"))


class StartUp(unittest.TestCase):
    def test_the_hub_refuses_a_broken_tail_unless_told_and_logs_its_head(self):
        hub = Hub(extra_config={"audit_verify_at_start": 50})
        try:
            hub.start()
            sock = hub.client("police-1")
            for _ in range(3):
                self.assertEqual(request(sock, make_event())["status"], "accepted")
            self.assertEqual(hub.stop(), 0)
            log = hub.log_text()
            heads = re.findall(r"event=audit_head seq=(\d+) hash=([0-9a-f]{64}) at=(\w+)", log)
            self.assertEqual([h[2] for h in heads], ["start", "stop"])
            last = rows(hub.db_path)[-1]
            self.assertEqual((int(heads[-1][0]), heads[-1][1]), (last["seq"], last["hash"]))
            con = sqlite3.connect(hub.db_path)
            con.execute("UPDATE audit SET detail = '{\"seq\":99}' WHERE seq = 2")
            con.commit()
            con.close()
            with self.assertRaises(RuntimeError):
                hub.start()
            self.assertIn("the audit chain is broken at seq 2 (changed)", hub.log_text())
            hub.proc = None
            # The operator's explicit override: it starts, and says so.
            log = open(hub.log_path, "ab")
            proc = subprocess.Popen([KETENHUBD, "--config", hub.config_path, "--allow-broken-audit"],
                                    stdout=log, stderr=log)
            deadline = time.time() + 10 * SLOW
            while time.time() < deadline and "event=listening" not in hub.log_text().split(
                    "the audit chain is broken")[-1]:
                self.assertIsNone(proc.poll(), hub.log_text())
                time.sleep(0.05)
            proc.terminate()
            self.assertEqual(proc.wait(10 * SLOW), 0)
            log.close()
            text = hub.log_text()
            self.assertIn("event=audit_broken seq=2 kind=changed override=allow-broken-audit", text)
            self.assertEqual(len(rows(hub.db_path, "action = 'audit-verify' AND outcome = "
                                                   "'broken-accepted'")), 1)
        finally:
            hub.close()


class Lookups(AuditCase):
    def test_a_lookup_is_recorded_with_the_os_user_after_the_read(self):
        ref = sqlite3.connect(self.hub.db_path).execute(
            "SELECT id FROM referrals ORDER BY rowid LIMIT 1").fetchone()[0]
        before = rows(self.hub.db_path)[-1]["seq"]
        r = ctl(self.hub.config_path, "referral", ref, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["id"], ref)
        r = ctl(self.hub.config_path, "--as", "Jan de Vries", "referrals")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ctl(self.hub.config_path, "referral", "no-such-referral")
        self.assertEqual(r.returncode, 1)
        new = rows(self.hub.db_path, "seq > ? AND action = 'lookup'", (before,))
        self.assertEqual([(x["object"], x["outcome"]) for x in new],
                         [(ref, "shown"), ("referrals", "shown"), ("no-such-referral", "not_found")])
        for x in new:
            self.assertEqual((x["actor"], x["role"], x["address"], x["purpose"]),
                             ("admin:" + OS_USER, "admin", "local", "ketenzorg"))
            self.assertEqual(json.loads(x["detail"])["os_user"], OS_USER)
        self.assertEqual(json.loads(new[1]["detail"])["as"], "Jan de Vries")
        self.assertEqual(ctl(self.hub.config_path, "audit", "verify").returncode, 0)

    def test_every_command_that_shows_data_is_recorded(self):
        before = rows(self.hub.db_path)[-1]["seq"]
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        for args in (["status"], ["deadletters"], ["escalations"],
                     ["report", "--from", today, "--to", today]):
            r = ctl(self.hub.config_path, *args)
            self.assertEqual(r.returncode, 0, r.stderr)
        got = [(x["action"], x["object"], x["purpose"])
               for x in rows(self.hub.db_path, "seq > ?", (before,))]
        self.assertEqual(got, [("lookup", "status", "beheer"), ("lookup", "deadletters", "beheer"),
                               ("lookup", "escalations", "ketenzorg"),
                               ("report", "report", "rapportage")])

    def test_a_database_that_cannot_be_written_shows_nothing(self):
        config, path = self.copy()
        os.chmod(path, 0o444)
        os.chmod(os.path.dirname(path), 0o555)
        try:
            if os.access(path, os.W_OK):
                self.skipTest("running as root: file modes do not stop writes")
            r = ctl(config, "referrals")
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout, "")
            self.assertIn("cannot write the audit record", r.stderr)
            # verify only reads: it works on a read-only copy.
            self.assertEqual(ctl(config, "audit", "verify").returncode, 0)
        finally:
            os.chmod(os.path.dirname(path), 0o755)
            os.chmod(path, 0o644)

    def test_a_lookup_whose_record_cannot_be_written_shows_nothing(self):
        """Also as root: another writer holds the lock longer than ketenctl
        waits (5 s), so the record cannot be appended."""
        config, path = self.copy()
        con = sqlite3.connect(path, timeout=0)
        con.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.time()
            r = ctl(config, "status")
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout, "")
            self.assertIn("nothing shown", r.stderr)
            self.assertGreater(time.time() - t0, 4)  # waited for the lock (5 s) first
        finally:
            con.rollback()
            con.close()

    def test_hub_and_ketenctl_append_at_the_same_time(self):
        hub = Hub()
        try:
            hub.start()
            errors = []

            def send():
                sock = hub.client("police-1")
                sent = 0
                try:
                    while sent < 200:
                        for _ in range(min(20, 200 - sent)):
                            sock.send(json.dumps(make_event()).encode())
                            sent += 1
                        got = 0
                        deadline = time.time() + 20 * SLOW
                        while got < 20 and time.time() < deadline:
                            if sock.poll(100):
                                reply = json.loads(sock.recv())
                                if reply.get("status") != "accepted":
                                    errors.append(reply)
                                got += 1
                        if got < 20:
                            errors.append("replies missing")
                            return
                except Exception as e:  # reported by the main thread
                    errors.append(repr(e))

            t = threading.Thread(target=send)
            t.start()
            codes = []
            for i in range(20):
                r = ctl(hub.config_path, "status" if i % 2 else "referrals")
                codes.append(r.returncode)
            t.join(120 * SLOW)
            self.assertFalse(t.is_alive())
            self.assertEqual(errors, [])
            self.assertEqual(codes, [0] * 20)
            self.assertEqual(len(rows(hub.db_path, "action = 'intake' AND outcome = 'accepted'")), 200)
            self.assertEqual(len(rows(hub.db_path, "action = 'lookup'")), 20)
            r = ctl(hub.config_path, "audit", "verify")
            self.assertEqual(r.returncode, 0, r.stdout)
            prev = GENESIS
            for rec in rows(hub.db_path):
                self.assertEqual(record_hash(prev, rec), rec["hash"])
                prev = rec["hash"]
        finally:
            hub.close()


class Export(AuditCase):
    def test_export_returns_exactly_the_records_of_the_window(self):
        config, path = self.copy()
        # Spread the copy's records over 2026-03-01 .. 2026-03-10 and re-hash
        # the chain (as a full rewrite would), so the window has edges to test.
        con = sqlite3.connect(path)
        prev = GENESIS
        for rec in rows(path):
            day = 1 + rec["seq"] % 10
            rec["time"] = "2026-03-%02dT%s" % (day, "23:59:59.999Z" if rec["seq"] % 3 else "00:00:00.000Z")
            h = record_hash(prev, rec)
            con.execute("UPDATE audit SET time = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                        (rec["time"], prev, h, rec["seq"]))
            prev = h
        con.commit()
        con.close()
        self.assertEqual(self.verify(config)[0], 0)
        out = os.path.join(os.path.dirname(path), "export.jsonl")
        r = ctl(config, "audit", "export", "--from", "2026-03-03", "--to", "2026-03-05", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out) as f:
            lines = [json.loads(line) for line in f]
        want = [x for x in rows(path) if "2026-03-03" <= x["time"][:10] <= "2026-03-05"]
        self.assertTrue(want)
        self.assertEqual(lines, want)  # every field, in seq order, nothing else
        self.assertEqual(list(lines[0]), ["seq"] + FIELDS + ["prev_hash", "hash"])
        for line in lines:  # each line carries what the auditor needs to check its hash
            self.assertEqual(record_hash(line["prev_hash"], line), line["hash"])
        # The export itself was recorded (today, so outside that window).
        last = rows(path)[-1]
        self.assertEqual((last["action"], last["object"], last["purpose"]),
                         ("export", "audit", "verantwoording"))
        self.assertEqual(json.loads(last["detail"])["from"], "2026-03-03")
        r = ctl(config, "audit", "export", "--from", "2026-03-05", "--to", "2026-03-03")
        self.assertEqual(r.returncode, 2)


class Subject(AuditCase):
    def pseudonym(self, bsn):
        r = ctl(self.hub.config_path, "audit", "subject", "--bsn", "-", "--json", stdin=bsn + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["pseudonym"]

    def test_the_access_log_of_a_person_holds_exactly_the_records_about_them(self):
        gemeente = self.hub.client("gemeente-1")
        sent = []
        for sock, bsn in ((self.police, BSN_A), (gemeente, BSN_A), (self.police, BSN_B)):
            reply = request(sock, make_event(signal_data(identificatie={"bsn": bsn})))
            if reply["status"] != "accepted":  # the schema has no identificatie yet
                reply = request(sock, make_event(signal_data()))
            self.assertEqual(reply["status"], "accepted", reply)
            sent.append(reply["seq"])
        pa, pb = self.pseudonym(BSN_A), self.pseudonym(BSN_B)
        self.assertNotEqual(pa, pb)
        con = sqlite3.connect(self.hub.db_path)
        filled = con.execute("SELECT count(*) FROM pseudonyms WHERE seq IN (?, ?, ?)",
                             sent).fetchone()[0]
        if filled == 0:
            # The hub does not fill the table yet: put the rows there as intake would.
            con.executemany("INSERT INTO pseudonyms (seq, kind, pseudonym, partner, received_ms) "
                            "VALUES (?, 'bsn', ?, 'x', 0)", [(sent[0], pa), (sent[1], pa), (sent[2], pb)])
            con.commit()
        else:
            self.assertEqual(filled, 3)
        a_seqs = sent[:2]
        refs_a = [r[0] for r in con.execute(
            "SELECT id FROM referrals WHERE signal_seq IN (?, ?)", a_seqs)]
        refs_b = [r[0] for r in con.execute("SELECT id FROM referrals WHERE signal_seq = ?", (sent[2],))]
        con.close()
        self.assertTrue(refs_a and refs_b)
        # Somebody looks at one of A's referrals and one of B's.
        for ref in (refs_a[0], refs_b[0]):
            self.assertEqual(ctl(self.hub.config_path, "referral", ref).returncode, 0)
        # The oracle: intake records of A's signals, and every record whose
        # object is one of A's referrals (or their deliveries).
        con = sqlite3.connect(self.hub.db_path)
        matches = [x["object"] for x in rows(self.hub.db_path, "action = 'match'")
                   if {json.loads(x["detail"]).get("signal_seq"),
                       json.loads(x["detail"]).get("earlier_seq")} & set(a_seqs)]
        owners = refs_a + matches
        dels = [r[0] for r in con.execute("SELECT event_id FROM deliveries WHERE referral IN (%s)"
                                          % ",".join("?" * len(owners)), owners)]
        con.close()
        want = [x["seq"] for x in rows(self.hub.db_path)
                if (x["action"] == "intake" and x["outcome"] == "accepted"
                    and json.loads(x["detail"])["seq"] in a_seqs)
                or x["object"] in owners or x["object"] in dels or x["subject"] == pa]
        r = ctl(self.hub.config_path, "audit", "subject", pa, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["signals"], a_seqs)
        self.assertEqual([x["seq"] for x in got["records"]], want)
        kinds = {(x["action"], x["outcome"]) for x in got["records"]}
        self.assertIn(("intake", "accepted"), kinds)
        self.assertIn(("referral", "created"), kinds)
        self.assertIn(("lookup", "shown"), kinds)
        # The look-up of the log is itself recorded, by pseudonym only, and
        # the next look-up shows it.
        last = rows(self.hub.db_path)[-1]
        self.assertEqual((last["subject"], last["purpose"], last["object"]), (pa, "inzage", "audit"))
        self.assertEqual(json.loads(last["detail"])["by"], "pseudonym")
        again = json.loads(ctl(self.hub.config_path, "audit", "subject", pa, "--json").stdout)
        self.assertEqual([x["seq"] for x in again["records"]][-1], last["seq"])
        # Neither BSN is in the audit (the database file as a whole is
        # tests/integration of the matching work).
        for x in rows(self.hub.db_path):
            self.assertNotIn(BSN_A, json.dumps(x))
            self.assertNotIn(BSN_B, json.dumps(x))
        # By name and date of birth: a pseudonym nobody has, an empty log.
        r = ctl(self.hub.config_path, "audit", "subject", "--name", "Jansen", "--birthdate",
                "1990-01-01", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["signals"], [])
        self.assertEqual(ctl(self.hub.config_path, "audit", "subject", "xyz").returncode, 2)
        self.assertEqual(ctl(self.hub.config_path, "audit", "verify").returncode, 0)


if __name__ == "__main__":
    main()
