"""Resends are duplicates with the original seq; reuse of an id is a conflict."""
import json
import unittest

from harness import Hub, main, make_event, request, signal_data


class Idempotency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub().start()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def test_resend_is_a_duplicate_with_the_same_seq(self):
        c = self.hub.client("police-1")
        ev = make_event()
        first = request(c, ev)
        again = request(c, ev)
        self.assertEqual(first["status"], "accepted")
        self.assertEqual(again, {"ack": ev["id"], "status": "accepted", "seq": first["seq"],
                                 "duplicate": True})
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 1)

    def test_resend_with_other_whitespace_and_key_order_is_a_duplicate(self):
        c = self.hub.client("police-1")
        ev = make_event()
        first = request(c, ev)
        reordered = json.dumps(dict(reversed(list(ev.items()))), indent=4).encode()
        again = request(c, reordered)
        self.assertTrue(again.get("duplicate"), again)
        self.assertEqual(again["seq"], first["seq"])

    def test_same_id_other_content_is_rejected_and_store_unchanged(self):
        c = self.hub.client("police-1")
        ev = make_event()
        first = request(c, ev)
        changed = dict(ev, data=signal_data(urgentie="crisis"))
        r = request(c, changed)
        self.assertEqual(r["status"], "rejected")
        self.assertEqual(r["ack"], ev["id"])
        self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("/id", "idempotency")])
        # The stored body (sealed at rest) is still the first one: the hub
        # takes the original again as a resend, and refuses the change again.
        original = request(c, ev)
        self.assertEqual((original["status"], original.get("duplicate"), original["seq"]),
                         ("accepted", True, first["seq"]), original)
        self.assertEqual(request(c, changed)["status"], "rejected")

    def test_duplicates_inside_one_batch(self):
        c = self.hub.client("police-1")
        ev = make_event()
        for _ in range(5):
            c.send(json.dumps(ev).encode())
        replies = [json.loads(c.recv()) for _ in range(5)]
        self.assertEqual(len({r["seq"] for r in replies}), 1, replies)
        self.assertEqual(sum(1 for r in replies if r.get("duplicate")), 4, replies)

    def test_other_partner_same_source_and_id_is_a_separate_event(self):
        ev = make_event()
        a = request(self.hub.client("police-1"), ev)
        b = request(self.hub.client("gemeente-1"), ev)
        self.assertEqual(a["status"], "accepted")
        self.assertEqual(b["status"], "accepted")
        self.assertNotIn("duplicate", b)
        self.assertNotEqual(a["seq"], b["seq"])

    def test_other_source_same_id_is_a_separate_event(self):
        c = self.hub.client("police-1")
        ev = make_event()
        a = request(c, ev)
        b = request(c, dict(ev, source="urn:nld:oin:00000001003214345000:systeem:ander"))
        self.assertNotIn("duplicate", b)
        self.assertNotEqual(a["seq"], b["seq"])


if __name__ == "__main__":
    main()
