"""Pseudonymised matching through the real hub (docs/matching.md).

One ketenhubd for the whole file, with partners police-1 and police-2
(police), gemeente-1 (municipality), zorg-1 (care) and kenniscentrum
(coordinator). Every role's profile names every signal field, `identificatie`
included, and one rule routes every signal to every partner: so if the hub
ever kept the identifying fields in the stored signal, they would show up in
the offers (the stored body itself is encrypted at rest, so grepping the
database alone would prove nothing).

Canary personal data (a BSN passing the elfproef, a surname and a date of
birth that appear nowhere else) is planted in signals; the last test greps
the database file, its -wal and -shm, the hub's log, every reply and every
delivery to every partner for it.
"""
import json
import os
import subprocess
import time
import unittest
import uuid

from harness import KETENCTL, SLOW, Hub, Peer, main, make_event, signal_data

MATCH = "nl.mensenhandel.signalen.match-gevonden"
OFFER = "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"

CANARY_BSN = "582037165"
CANARY_SURNAME = "Qwertyvlietstra"
CANARY_BIRTH = "1961-02-27"
CANARIES = [CANARY_BSN, CANARY_SURNAME, CANARY_SURNAME.lower(), CANARY_BIRTH]

ALL_FIELDS = ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente", "indicatoren",
              "toestemming", "datumSignalering", "leeftijdsgroep", "geslacht", "nationaliteit",
              "omschrijving", "identificatie"]
PARTNERS = [("police-1", "police"), ("police-2", "police"), ("gemeente-1", "municipality"),
            ("zorg-1", "care"), ("kenniscentrum", "coordinator")]


def elfproef(bsn):
    return len(bsn) == 9 and bsn != "000000000" and \
        (sum((9 - i) * int(bsn[i]) for i in range(8)) - int(bsn[8])) % 11 == 0


def fresh_bsn():
    """A random BSN that passes the elfproef (and is not a canary)."""
    while True:
        bsn = "%09d" % (uuid.uuid4().int % 10**9)
        if elfproef(bsn) and bsn != CANARY_BSN:
            return bsn


def signal(identificatie, **data):
    return make_event(signal_data(omschrijving="zichtbaar voor elk profiel",
                                  identificatie=identificatie, **data))


class Matching(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub(partners=PARTNERS, extra_config={
            "profiles": {role: ALL_FIELDS for role in
                         ("police", "municipality", "comensha", "care", "coordinator")},
            "routes": [{"name": "iedereen", "to": [{"role": r} for r in
                                                  ("police", "municipality", "care",
                                                   "coordinator")]}],
        })
        cls.hub.start()
        cls.peers = {pid: Peer(cls.hub, pid) for pid, _ in PARTNERS}
        cls.raw = []            # every frame any peer received, as text
        cls.seen = {pid: set() for pid, _ in PARTNERS}
        cls.deliveries = {pid: [] for pid, _ in PARTNERS}
        for p in cls.peers.values():
            p.heartbeat()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    # -- helpers ----------------------------------------------------------
    def collect(self, seconds=0.3):
        """Pumps every peer, confirms each new delivery, keeps every frame."""
        for pid, p in self.peers.items():
            p.heartbeat()
            p.pump(seconds)
            for d in p.deliveries:
                self.raw.append(json.dumps(d, ensure_ascii=False))
                if d["id"] not in self.seen[pid]:
                    self.seen[pid].add(d["id"])
                    self.deliveries[pid].append(d)
                p.receipt(d["id"])
            p.deliveries = []

    def send(self, pid, event):
        reply = self.peers[pid].request(event)
        self.raw.append(json.dumps(reply, ensure_ascii=False))
        return reply

    def accepted(self, pid, event):
        reply = self.send(pid, event)
        self.assertEqual(reply["status"], "accepted", reply)
        return reply["seq"]

    def matches_for(self, seq, pid="kenniscentrum"):
        return [d for d in self.deliveries[pid]
                if d["type"] == MATCH and d["data"]["signaal"]["seq"] == seq]

    def wait_matches(self, seq, count, timeout=5.0):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            self.collect(0.1)
            if len(self.matches_for(seq)) >= count:
                break
        self.collect(0.3)  # anything more that would come
        return self.matches_for(seq)

    def no_match_outside_the_coordinator(self):
        for pid, _ in PARTNERS:
            if pid != "kenniscentrum":
                self.assertEqual([d for d in self.deliveries[pid] if d["type"] == MATCH], [], pid)

    # -- tests --------------------------------------------------------------
    def test_same_bsn_from_two_partners_raises_one_match_at_the_coordinator(self):
        bsn = fresh_bsn()
        first = self.accepted("police-1", signal({"bsn": bsn}))
        second = self.accepted("gemeente-1", signal({"bsn": bsn}))
        got = self.wait_matches(second, 1)
        self.assertEqual(len(got), 1, got)
        m = got[0]
        self.assertEqual(m["source"], "urn:ketenhub:hub")
        self.assertEqual(m["subject"], "match-%d" % m["data"]["match"])
        d = m["data"]
        self.assertEqual(sorted(d), ["eerderSignaal", "gevondenOp", "match", "signaal", "soort"])
        self.assertEqual(d["soort"], ["bsn"])
        self.assertEqual((d["signaal"]["seq"], d["signaal"]["partner"]), (second, "gemeente-1"))
        self.assertEqual((d["eerderSignaal"]["seq"], d["eerderSignaal"]["partner"]),
                         (first, "police-1"))
        # Neither the BSN nor its pseudonym is in the event.
        text = json.dumps(m)
        self.assertNotIn(bsn, text)
        con = self.hub.db()
        try:
            pseudonyms = [r[0] for r in con.execute(
                "SELECT pseudonym FROM pseudonyms WHERE seq IN (?, ?)", (first, second))]
            row = con.execute("SELECT partner, role, earlier_partner, earlier_role, kinds "
                              "FROM matches WHERE seq = ?", (second,)).fetchall()
            audited = con.execute("SELECT count(*) FROM audit WHERE action = 'match' "
                                  "AND object = ?", (m["subject"],)).fetchone()[0]
        finally:
            con.close()
        self.assertEqual(len(pseudonyms), 2)
        self.assertEqual(pseudonyms[0], pseudonyms[1])
        self.assertEqual(len(pseudonyms[0]), 64)
        self.assertNotIn(pseudonyms[0], text)
        self.assertEqual(row, [("gemeente-1", "municipality", "police-1", "police", "bsn")])
        self.assertEqual(audited, 1)
        self.no_match_outside_the_coordinator()
        # ketenctl computes the same pseudonym (for an access request), from
        # stdin, written with dots, and never prints the BSN.
        r = subprocess.run([KETENCTL, "--config", self.hub.config_path, "pseudonym", "--bsn",
                            "-", "--json"], input="%s.%s.%s\n" % (bsn[:4], bsn[4:6], bsn[6:]),
                           capture_output=True, text=True, timeout=10 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"kind": "bsn", "pseudonym": pseudonyms[0]})
        self.assertNotIn(bsn, r.stdout + r.stderr)

    def test_same_partner_twice_raises_no_match(self):
        bsn = fresh_bsn()
        self.accepted("police-1", signal({"bsn": bsn}))
        second = self.accepted("police-1", signal({"bsn": bsn}))
        self.assertEqual(self.wait_matches(second, 1, timeout=1.0), [])
        self.assertEqual(self.hub.count("SELECT count(*) FROM matches WHERE seq = ?", second), 0)
        # Another partner then matches police-1 once, not once per signal.
        third = self.accepted("zorg-1", signal({"bsn": bsn}))
        got = self.wait_matches(third, 1)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["data"]["eerderSignaal"]["seq"], second)  # the most recent
        self.no_match_outside_the_coordinator()

    def test_surname_and_birth_date_match_across_spellings(self):
        surname = "Zandvoort%s" % uuid.uuid4().hex[:6]
        first = self.accepted("zorg-1", signal({"achternaam": "van der " + surname,
                                                "geboortedatum": "1990-03-05"}))
        second = self.accepted("police-2", signal({"achternaam": "  " + surname.upper() + " ",
                                                   "geboortedatum": "1990-03-05"}))
        got = self.wait_matches(second, 1)
        self.assertEqual(len(got), 1, got)
        d = got[0]["data"]
        self.assertEqual(d["soort"], ["naam-geboortedatum"])
        self.assertEqual((d["eerderSignaal"]["seq"], d["eerderSignaal"]["partner"]),
                         (first, "zorg-1"))
        # Another date of birth: another person.
        third = self.accepted("gemeente-1", signal({"achternaam": surname,
                                                    "geboortedatum": "1990-03-06"}))
        self.assertEqual(self.wait_matches(third, 1, timeout=1.0), [])
        r = subprocess.run([KETENCTL, "--config", self.hub.config_path, "pseudonym", "--name",
                            "Van der " + surname, "--birthdate", "1990-03-05"],
                           capture_output=True, text=True, timeout=10 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        stored = self.hub.count("SELECT pseudonym FROM pseudonyms WHERE seq = ? AND kind = ?",
                                first, "naam-geboortedatum")
        self.assertEqual(r.stdout.split(), ["naam-geboortedatum", stored])
        self.no_match_outside_the_coordinator()

    def test_both_kinds_matching_one_signal_give_one_match_naming_both(self):
        bsn, surname = fresh_bsn(), "Beekhuis%s" % uuid.uuid4().hex[:6]
        ident = {"bsn": bsn, "achternaam": surname, "geboortedatum": "2001-12-31"}
        self.accepted("police-1", signal(ident))
        second = self.accepted("gemeente-1", signal(ident))
        got = self.wait_matches(second, 1)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["data"]["soort"], ["bsn", "naam-geboortedatum"])

    def test_several_earlier_partners_give_one_match_each(self):
        bsn = fresh_bsn()
        a = self.accepted("police-1", signal({"bsn": bsn}))
        b = self.accepted("gemeente-1", signal({"bsn": bsn}))
        last = self.accepted("zorg-1", signal({"bsn": bsn}))
        got = self.wait_matches(last, 2)
        self.assertEqual(sorted((m["data"]["eerderSignaal"]["seq"],
                                 m["data"]["eerderSignaal"]["partner"]) for m in got),
                         [(a, "police-1"), (b, "gemeente-1")])

    def test_different_bsn_raises_no_match(self):
        self.accepted("police-1", signal({"bsn": fresh_bsn()}))
        second = self.accepted("gemeente-1", signal({"bsn": fresh_bsn()}))
        self.assertEqual(self.wait_matches(second, 1, timeout=1.0), [])
        self.assertEqual(self.hub.count("SELECT count(*) FROM matches WHERE seq = ?", second), 0)

    def test_invalid_identifying_fields_are_rejected_without_echoing_values(self):
        bad_bsn = CANARY_BSN[:8] + str((int(CANARY_BSN[8]) + 1) % 10)
        self.assertFalse(elfproef(bad_bsn))
        cases = [
            ({"bsn": bad_bsn}, "/data/identificatie/bsn", [bad_bsn]),
            ({"bsn": "12345678X"}, "/data/identificatie/bsn", ["12345678X"]),
            ({"achternaam": CANARY_SURNAME}, "/data/identificatie", [CANARY_SURNAME]),
            ({"achternaam": CANARY_SURNAME, "geboortedatum": "1961-02-30"},
             "/data/identificatie/geboortedatum", ["1961-02-30", CANARY_SURNAME]),
            ({"achternaam": "-- ''", "geboortedatum": CANARY_BIRTH},
             "/data/identificatie/achternaam", [CANARY_BIRTH]),
            ({"paspoort": "NXQ4R7PLM"}, "/data/identificatie", ["NXQ4R7PLM"]),
            ({"NXQ4R7PLM": True}, "/data/identificatie", ["NXQ4R7PLM"]),
        ]
        for ident, path, secrets in cases:
            ev = signal(ident)
            reply = self.send("police-1", ev)
            self.assertEqual(reply["status"], "rejected", (ident, reply))
            self.assertIn(path, [e["path"] for e in reply["errors"]], (ident, reply))
            text = json.dumps(reply, ensure_ascii=False)
            for s in secrets:
                self.assertNotIn(s, text, (ident, reply))
            self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 0)

    def test_malformed_json_reply_does_not_quote_the_bytes(self):
        # jansson's own text would end in "near '\"<the BSN>'".
        raw = ('{"specversion":"1.0","data":{"identificatie":{"bsn":"%s\x01"}}}'
               % CANARY_BSN).encode()
        p = self.peers["police-2"]
        p.sock.send(raw)
        deadline = time.time() + 5 * SLOW
        reply = None
        while reply is None and time.time() < deadline:
            p.pump(0.1)
            for i, r in enumerate(p.replies):
                if r.get("ack", "") is None:
                    reply = p.replies.pop(i)
                    break
        self.assertIsNotNone(reply)
        self.raw.append(json.dumps(reply, ensure_ascii=False))
        self.assertEqual([(e["path"], e["keyword"]) for e in reply["errors"]], [("", "json")])
        self.assertIn("line 1, column", reply["errors"][0]["message"])
        self.assertNotIn(CANARY_BSN[:5], json.dumps(reply))

    def test_resend_with_identificatie_is_a_duplicate_not_a_second_match(self):
        bsn = fresh_bsn()
        self.accepted("police-1", signal({"bsn": bsn}))
        ev = signal({"bsn": bsn})
        seq = self.accepted("gemeente-1", ev)
        self.assertEqual(len(self.wait_matches(seq, 1)), 1)
        # The same bytes, and the same content with the keys in another order.
        again = self.send("gemeente-1", ev)
        self.assertEqual((again["status"], again["seq"], again.get("duplicate")),
                         ("accepted", seq, True))
        reordered = dict(reversed(list(ev.items())))
        reordered["data"] = dict(reversed(list(ev["data"].items())))
        again = self.send("gemeente-1", reordered)
        self.assertEqual((again["status"], again["seq"], again.get("duplicate")),
                         ("accepted", seq, True))
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 1)
        self.assertEqual(self.hub.count("SELECT count(*) FROM matches WHERE seq = ?", seq), 1)
        self.assertEqual(len(self.wait_matches(seq, 2, timeout=1.0)), 1)
        # The same id with another BSN is other content.
        other = json.loads(json.dumps(ev))
        other["data"]["identificatie"]["bsn"] = fresh_bsn()
        reply = self.send("gemeente-1", other)
        self.assertEqual(reply["status"], "rejected", reply)
        self.assertEqual([e["keyword"] for e in reply["errors"]], ["idempotency"])

    def test_z_canary_is_nowhere_in_store_log_replies_or_deliveries(self):
        canary = {"bsn": CANARY_BSN, "achternaam": CANARY_SURNAME, "geboortedatum": CANARY_BIRTH}
        first = self.accepted("police-1", signal(canary))
        second = self.accepted("zorg-1", signal(canary))
        self.assertEqual(len(self.wait_matches(second, 1)), 1)
        # Every partner got its offers of both; each holds the fields of the
        # profile (which names identificatie) except identificatie.
        deadline = time.time() + 5 * SLOW
        while time.time() < deadline:
            offers = {pid: [d for d in self.deliveries[pid] if d["type"] == OFFER and
                            d["data"]["signaal"].get("omschrijving") and
                            d["id"]] for pid, _ in PARTNERS}
            if all(len(v) >= 2 for pid, v in offers.items() if pid != "police-2"):
                break
            self.collect(0.1)
        checked = 0
        for pid, _ in PARTNERS:
            for d in self.deliveries[pid]:
                if d["type"] == OFFER:
                    self.assertNotIn("identificatie", d["data"]["signaal"], (pid, d))
                    self.assertIn("omschrijving", d["data"]["signaal"], (pid, d))
                    checked += 1
        self.assertGreaterEqual(checked, 8)
        self.collect(0.3)
        for frame in self.raw:
            for c in CANARIES:
                self.assertNotIn(c, frame)
        # The files, while the hub runs (WAL not yet checkpointed) and after.
        def grep_files():
            for suffix in ("", "-wal", "-shm"):
                path = self.hub.db_path + suffix
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        data = f.read()
                    for c in CANARIES:
                        self.assertNotIn(c.encode(), data, path)
            with open(self.hub.log_path, "rb") as f:
                log = f.read()
            for c in CANARIES:
                self.assertNotIn(c.encode(), log)
        grep_files()
        self.assertIn(b"event=match_raised", open(self.hub.log_path, "rb").read())
        self.assertEqual(self.hub.stop(), 0)
        grep_files()


if __name__ == "__main__":
    main()
