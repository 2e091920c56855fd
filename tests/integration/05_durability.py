"""Nothing acknowledged is lost: across a clean restart and across kill -9."""
import json
import time
import unittest

from harness import SLOW, Hub, main, make_event, request


class Durability(unittest.TestCase):
    def setUp(self):
        self.hub = Hub(log_level="info").start()

    def tearDown(self):
        self.hub.close()

    def test_restart_keeps_every_accepted_event(self):
        c = self.hub.client("police-1")
        events = [make_event() for _ in range(50)]
        seqs = {}
        for ev in events:
            r = request(c, ev)
            self.assertEqual(r["status"], "accepted")
            seqs[ev["id"]] = r["seq"]
        self.assertEqual(self.hub.stop(), 0)
        self.hub.start()
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), 50)
        c = self.hub.client("police-1")
        for ev in events[:5]:
            r = request(c, ev)
            self.assertEqual((r["seq"], r.get("duplicate")), (seqs[ev["id"]], True))
        # New events continue the sequence.
        self.assertGreater(request(c, make_event())["seq"], max(seqs.values()))

    def test_kill9_with_100_in_flight_loses_no_acknowledged_event(self):
        acked = {}
        for round_no in range(3):
            c = self.hub.client("police-1")
            inflight = {}
            target = 300 * (round_no + 1)
            deadline = time.time() + 30 * SLOW
            while time.time() < deadline:
                while len(inflight) < 100:
                    ev = make_event()
                    c.send(json.dumps(ev).encode())
                    inflight[ev["id"]] = ev
                if c.poll(2000):
                    r = json.loads(c.recv())
                    self.assertEqual(r["status"], "accepted", r)
                    inflight.pop(r["ack"])
                    acked[r["ack"]] = r["seq"]
                if len(acked) >= target:
                    break
            self.assertGreaterEqual(len(acked), target, "hub too slow to reach the kill point")
            self.hub.kill9()  # 100 events still in flight
            self.hub.start()
            con = self.hub.db()
            stored = dict(con.execute("SELECT id, seq FROM events").fetchall())
            con.close()
            missing = [i for i in acked if i not in stored]
            self.assertEqual(missing, [], "acknowledged events lost after kill -9")
            for i, seq in acked.items():
                self.assertEqual(stored[i], seq)
        self.assertIn("event=listening", self.hub.log_text())


if __name__ == "__main__":
    main()
