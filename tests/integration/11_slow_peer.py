"""A partner that stops reading holds back only its own deliveries, and the
hub's memory stays bounded."""
import os
import threading
import time
import unittest

from harness import SLOW, Hub, Peer, main, make_event, signal_data

PARTNERS = [("politie", "police"), ("gemeente-enschede", "municipality"),
            ("kenniscentrum", "coordinator")]
CONFIG = {
    "municipalities": {"GM0153": "gemeente-enschede"},
    "profiles": {"municipality": ["woongemeente"], "coordinator": ["urgentie"]},
    "routes": [
        {"name": "woongemeente", "when": {"/woongemeente": {"present": True}},
         "to": [{"municipality_of": "/woongemeente"}]},
        {"name": "coordinator", "to": [{"role": "coordinator"}]},
    ],
    "delivery_ack_timeout_ms": 500,
    "delivery_backoff_max_ms": 1000,
}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SlowPeer(unittest.TestCase):
    def test_slow_peer_does_not_delay_others_or_grow_memory(self):
        h = Hub(partners=PARTNERS, extra_config=CONFIG, log_level="info")
        if SLOW > 1:
            # Under ASan freed memory waits in a quarantine (256 MB by default)
            # and counts in RSS: keep it small, so RSS measures what the hub
            # holds.
            h.env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "")
                         + ":quarantine_size_mb=8")
        with h as hub:
            slow = Peer(hub, "kenniscentrum")   # connects, then never reads
            stop = threading.Event()

            def keep_alive():
                n = 0
                while not stop.is_set():
                    n += 1
                    slow.heartbeat(n)
                    stop.wait(0.5)

            t = threading.Thread(target=keep_alive)
            t.start()
            try:
                fast = Peer(hub, "gemeente-enschede")
                fast.heartbeat()
                police = Peer(hub, "politie")
                rss_before = rss_kb(hub.proc.pid)
                n = 300
                started = time.time()
                for _ in range(n):
                    ev = make_event(signal_data(woongemeente="GM0153", omschrijving="x" * 1500))
                    police.sock.send(__import__("json").dumps(ev).encode())
                confirmed = set()
                deadline = time.time() + 30 * SLOW
                while len(confirmed) < n and time.time() < deadline:
                    fast.pump(0.1)
                    for d in fast.deliveries:
                        if d["id"] not in confirmed:
                            fast.receipt(d["id"])
                            confirmed.add(d["id"])
                    fast.deliveries.clear()
                elapsed = time.time() - started
                self.assertEqual(len(confirmed), n, "the fast peer was held back")
                # Keep the slow one stuck a while longer: resends must not pile up.
                time.sleep(3)
                rss_after = rss_kb(hub.proc.pid)
                print("fast peer: %d deliveries in %.2f s; hub RSS %d -> %d kB"
                      % (n, elapsed, rss_before, rss_after))
                self.assertLess(rss_after - rss_before, 40 * 1024)
                con = hub.db()
                pending_slow = con.execute("SELECT count(*) FROM deliveries WHERE partner = "
                                           "'kenniscentrum' AND state = 'pending'").fetchone()[0]
                con.close()
                self.assertGreater(pending_slow, 0, "the slow peer's deliveries wait in the store")
            finally:
                stop.set()
                t.join()


if __name__ == "__main__":
    main()
