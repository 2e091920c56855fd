"""Config reload on SIGHUP with live sessions: a removed or replaced key is
refused at its next message, its session closed, its reconnect refused by
ZAP; added partners can connect; a bad config keeps the running one; keys
that need a restart are kept; new routes apply to the next signal. Every
reload and every refusal is audited (docs/operations.md, "Reloading the
config")."""
import json
import os
import re
import signal
import time
import unittest

import zmq
from zmq.utils.monitor import recv_monitor_message

from harness import (SLOW, Hub, Peer, keygen, main, make_event, signal_data)

CONFIG = {
    "delivery_ack_timeout_ms": 1000,
    "session_timeout_ms": 60000,
    "municipalities": {"GM0153": "gemeente-1"},
    "profiles": {"municipality": ["urgentie", "woongemeente"], "police": ["urgentie"]},
    "routes": [
        {"name": "woonplaats", "when": {"/urgentie": "crisis"},
         "to": [{"municipality_of": "/woongemeente"}]},
    ],
}


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_zap_refusal(sock, timeout=5.0):
    """The ZAP status a connection's handshake failed with, or None."""
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    try:
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if monitor.poll(100):
                ev = recv_monitor_message(monitor)
                if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    return ev["value"]
        return None
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)


class Reload(unittest.TestCase):
    def setUp(self):
        self.hub = Hub(partners=[("police-1", "police"), ("gemeente-1", "municipality"),
                                 ("kenniscentrum", "coordinator")],
                       extra_config=CONFIG).start()

    def tearDown(self):
        self.hub.close()

    def reload(self, outcome="applied"):
        """SIGHUP; waits until the hub has audited the reload's outcome."""
        before = self.hub.count("SELECT count(*) FROM audit WHERE action = 'config_reload'")
        self.hub.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.hub.count(
            "SELECT count(*) FROM audit WHERE action = 'config_reload'") > before,
            what="the reload's audit record; log:\n" + self.hub.log_text()[-3000:])
        row = self.hub.db().execute(
            "SELECT outcome, detail FROM audit WHERE action = 'config_reload' "
            "ORDER BY seq DESC LIMIT 1").fetchone()
        self.assertEqual(row[0], outcome, self.hub.log_text()[-3000:])
        return json.loads(row[1]) if row[1] else None

    def partners_without(self, pid):
        return [p for p in self.hub.config["partners"] if p["id"] != pid]

    def test_removed_key_is_refused_at_its_next_message_and_its_session_closed(self):
        muni = Peer(self.hub, "gemeente-1")
        self.assertEqual(muni.request(make_event())["status"], "accepted")
        # A crisis signal for GM0153: offered to it, not confirmed (so the
        # hub would offer it again after delivery_ack_timeout_ms).
        police = Peer(self.hub, "police-1")
        self.assertEqual(police.request(make_event(signal_data(urgentie="crisis")))["status"],
                         "accepted")
        offer = muni.wait_delivery()[0]
        self.hub.rewrite_config(partners=self.partners_without("gemeente-1"), municipalities={})
        detail = self.reload()
        self.assertEqual(detail["partners_removed"], ["gemeente-1"])
        self.assertEqual(sorted(detail["changed"]), ["municipalities", "partners"])
        self.assertIn("event=session_closed partner=gemeente-1 reason=revoked",
                      self.hub.log_text())
        # Its very next message: rejected, naming the reason; nothing stored.
        ev = make_event()
        reply = muni.request(ev)
        self.assertEqual(reply["status"], "rejected")
        self.assertEqual(reply["ack"], ev["id"])
        self.assertEqual([(e["path"], e["keyword"]) for e in reply["errors"]], [("", "revoked")])
        self.assertIn("gemeente-1", reply["errors"][0]["message"])
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 0)
        row = self.hub.db().execute(
            "SELECT actor, outcome, detail FROM audit WHERE action = 'intake' AND object = ?",
            (ev["id"],)).fetchone()
        self.assertEqual(row[:2], ("gemeente-1", "refused"))
        self.assertEqual(json.loads(row[2])["reason"], "key_revoked")
        self.assertIn("event=message_refused partner=gemeente-1", self.hub.log_text())
        # Heartbeats and receipts are messages too: refused, and no session opens.
        muni.heartbeat(7)
        muni.pump(0.5)
        self.assertEqual(muni.replies[-1]["status"], "rejected")
        # No further deliveries: the unconfirmed offer is not sent again (it
        # would have been after 1 s), it waits in the store.
        muni.deliveries.clear()
        muni.pump(2.5)
        self.assertEqual(muni.deliveries, [])
        self.assertEqual(self.hub.count(
            "SELECT state FROM deliveries WHERE event_id = ?", offer["id"]), "pending")
        # A reconnect with the same key is refused by ZAP.
        again = self.hub.client(key_file=self.hub.keys["gemeente-1"])
        self.assertEqual(wait_zap_refusal(again), 400)
        wait_for(lambda: self.hub.count(
            "SELECT count(*) FROM audit WHERE action = 'connect' AND outcome = 'refused'") >= 1,
            what="the refused connection's audit record")

    def test_rekeyed_partner_old_key_refused_new_key_served_with_waiting_delivery(self):
        muni = Peer(self.hub, "gemeente-1")
        muni.heartbeat()
        police = Peer(self.hub, "police-1")
        self.assertEqual(police.request(make_event(signal_data(urgentie="crisis")))["status"],
                         "accepted")
        offer = muni.wait_delivery()[0]  # delivered, not confirmed
        pub, key = keygen(os.path.join(self.hub.dir, "keys", "gemeente-1-new"))
        partners = self.hub.config["partners"]
        for p in partners:
            if p["id"] == "gemeente-1":
                p["public_key"] = pub
        self.hub.rewrite_config(partners=partners)
        detail = self.reload()
        self.assertEqual(detail["partners_rekeyed"], ["gemeente-1"])
        self.assertEqual(muni.request(make_event())["errors"][0]["keyword"], "revoked")
        # The new key connects; the unconfirmed delivery waited for it.
        self.hub.keys["gemeente-1"] = key
        fresh = Peer(self.hub, "gemeente-1")
        fresh.heartbeat()
        self.assertEqual(fresh.wait_delivery(timeout=5)[0]["id"], offer["id"])
        self.assertEqual(fresh.request(make_event())["status"], "accepted")

    def test_added_partner_can_connect_and_send(self):
        pub, key = keygen(os.path.join(self.hub.dir, "keys", "zorg-1"))
        before = self.hub.client(key_file=key)
        self.assertEqual(wait_zap_refusal(before), 400)
        partners = self.hub.config["partners"] + [
            {"id": "zorg-1", "role": "care", "public_key": pub}]
        self.hub.rewrite_config(partners=partners)
        detail = self.reload()
        self.assertEqual(detail["partners_added"], ["zorg-1"])
        self.hub.keys["zorg-1"] = key
        care = Peer(self.hub, "zorg-1")
        self.assertEqual(care.request(make_event())["status"], "accepted")
        self.assertEqual(self.hub.count(
            "SELECT count(*) FROM events WHERE partner = 'zorg-1'"), 1)

    def test_bad_config_keeps_the_running_one(self):
        police = Peer(self.hub, "police-1")
        self.assertEqual(police.request(make_event())["status"], "accepted")
        # A removed key with a typo elsewhere: nothing of it applies.
        self.hub.rewrite_config(partners=self.partners_without("police-1"),
                                delivery_windw=3,
                                officers=[{"id": "o1", "name": "Jan", "email": "jan.secret@"}])
        detail = self.reload(outcome="failed")
        self.assertGreaterEqual(detail["problems"], 2)
        self.assertIn("/delivery_windw", detail["keys"])
        self.assertIn("/officers/0/email", detail["keys"])
        log = self.hub.log_text()
        self.assertIn("event=reload_failed", log)
        self.assertIn("event=reload_problem key=/delivery_windw", log)
        self.assertNotIn("jan.secret", log)  # quoted values are left out of the log
        self.assertIn("problem=\"/officers/0/email: '\u2026' does not look like", log)
        # Still serving, with the old partners.
        self.assertEqual(police.request(make_event())["status"], "accepted")
        self.assertEqual(self.hub.proc.poll(), None)
        # A file that is not JSON at all: the same.
        with open(self.hub.config_path, "w") as f:
            f.write("{not json")
        self.reload(outcome="failed")
        self.assertEqual(police.request(make_event())["status"], "accepted")

    def test_restart_only_keys_are_logged_and_kept(self):
        port = re.search(r":(\d+)$", self.hub.endpoint).group(1)
        self.hub.rewrite_config(listen="tcp://127.0.0.1:1", max_message_size=2048,
                                delivery_window=7, max_errors=3)
        detail = self.reload()
        self.assertEqual(sorted(detail["needs_restart"]),
                         ["delivery_window", "listen", "max_message_size"])
        self.assertEqual(detail["changed"], ["max_errors"])
        log = self.hub.log_text()
        for key in ("listen", "max_message_size", "delivery_window"):
            self.assertIn("event=reload_needs_restart key=/%s" % key, log)
        # Still on the old port, still taking large frames; max_errors applies.
        self.assertTrue(self.hub.endpoint.endswith(":" + port))
        police = Peer(self.hub, "police-1")
        big = make_event(signal_data(omschrijving="x" * 1900))
        self.assertEqual(police.request(big)["status"], "accepted")
        bad = make_event({"urgentie": 1, "minderjarig": "ja", "woongemeente": 5,
                          "vormenVanUitbuiting": 3, "indicatoren": 4})
        self.assertEqual(len(police.request(bad)["errors"]), 3)

    def test_new_routes_apply_to_the_next_signal(self):
        police = Peer(self.hub, "police-1")
        coord = Peer(self.hub, "kenniscentrum")
        coord.heartbeat()
        # normaal: no rule matches, so the coordinator gets it.
        self.assertEqual(police.request(make_event())["status"], "accepted")
        first = coord.wait_delivery()[0]
        coord.receipt(first["id"])
        routes = [{"name": "alles-naar-politie", "to": [{"partner": "police-1"}]}]
        self.hub.rewrite_config(routes=routes)
        detail = self.reload()
        self.assertEqual(detail["changed"], ["routes"])
        police.heartbeat()
        self.assertEqual(police.request(make_event())["status"], "accepted")
        self.assertEqual(len(police.wait_delivery()), 1)
        coord.pump(1.0)
        self.assertEqual({d["id"] for d in coord.deliveries}, {first["id"]})
        self.assertEqual(self.hub.count(
            "SELECT count(*) FROM referrals WHERE partner = 'police-1'"), 1)

    def test_ketenctl_reload_over_the_admin_socket(self):
        import getpass
        import subprocess
        from harness import KETENCTL
        pub, key = keygen(os.path.join(self.hub.dir, "keys", "zorg-2"))
        self.hub.rewrite_config(partners=self.hub.config["partners"] + [
            {"id": "zorg-2", "role": "care", "public_key": pub}])
        run = subprocess.run([KETENCTL, "--config", self.hub.config_path, "reload", "--json"],
                             capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(run.returncode, 0, run.stderr)
        reply = json.loads(run.stdout)
        self.assertTrue(reply["ok"])
        self.assertEqual(reply["reload"]["outcome"], "applied")
        self.assertEqual(reply["reload"]["partners_added"], ["zorg-2"])
        row = self.hub.db().execute(
            "SELECT actor, outcome, detail FROM audit WHERE action = 'config_reload'").fetchone()
        self.assertEqual(row[:2], ("admin:" + getpass.getuser(), "applied"))
        self.assertEqual(json.loads(row[2])["trigger"], "admin socket")
        self.hub.keys["zorg-2"] = key
        self.assertEqual(Peer(self.hub, "zorg-2").request(make_event())["status"], "accepted")
        # A profile naming a field the schemas lack: only the hub sees that
        # (it checks profiles against its loaded schemas); it keeps running.
        self.hub.rewrite_config(profiles={"police": ["geenVeld"]})
        run = subprocess.run([KETENCTL, "--config", self.hub.config_path, "reload"],
                             capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(run.returncode, 1)
        self.assertIn("refused", run.stderr)
        self.assertIn("event=reload_problem key=/profiles/police/0", self.hub.log_text())
        self.assertEqual(self.hub.count(
            "SELECT count(*) FROM audit WHERE action = 'config_reload' AND outcome = 'failed'"), 1)


if __name__ == "__main__":
    main()
