"""Only configured CURVE keys get a session; refusals are logged and audited."""
import json
import time
import unittest

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

from harness import SLOW, Hub, main, make_event, request


def wait_for_event(monitor, wanted, timeout=5.0):
    """Returns the first monitor event of type `wanted`, or None."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if monitor.poll(100):
            ev = recv_monitor_message(monitor)
            if ev["event"] == wanted:
                return ev
    return None


class Authentication(unittest.TestCase):
    def setUp(self):
        self.hub = Hub().start()

    def tearDown(self):
        self.hub.close()

    def test_unknown_key_gets_no_session_and_is_audited(self):
        s = self.hub.stranger()
        monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        ev = make_event()
        s.send(json.dumps(ev).encode())
        failed = wait_for_event(monitor, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.assertIsNotNone(failed, "no ZAP refusal seen")
        self.assertEqual(failed["value"], 400)
        self.assertFalse(s.poll(500), "a refused client got a reply")
        s.disable_monitor()
        monitor.close(linger=0)
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 0)
        self.assertGreaterEqual(self.hub.count(
            "SELECT count(*) FROM audit WHERE action = 'connect' AND outcome = 'refused'"), 1)
        self.assertIn("event=connect_refused", self.hub.log_text())
        # The hub keeps serving known partners.
        self.assertEqual(request(self.hub.client("police-1"), make_event())["status"], "accepted")

    def test_a_retrying_stranger_is_audited_once_per_window_not_per_attempt(self):
        from harness import keygen
        import os
        _, key_file = keygen(os.path.join(self.hub.dir, "keys", "rogue"))
        for _ in range(4):  # four connections with the same unknown key
            s = self.hub.client(key_file=key_file)
            monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
            self.assertIsNotNone(wait_for_event(monitor, zmq.EVENT_HANDSHAKE_FAILED_AUTH))
            s.disable_monitor()
            monitor.close(linger=0)
        key = zmq.auth.load_certificate(key_file)[0].decode()
        self.assertEqual(self.hub.count(
            "SELECT count(*) FROM audit WHERE action = 'connect' AND object = ?", key), 1)
        self.assertEqual(self.hub.log_text().count("event=connect_refused address=127.0.0.1 mechanism"), 1)

    def test_wrong_hub_key_gets_no_reply(self):
        from harness import keygen
        import os
        other_pub, _ = keygen(os.path.join(self.hub.dir, "keys", "other-hub"))
        s = self.hub.client("police-1", server_key=other_pub)
        s.send(json.dumps(make_event()).encode())
        self.assertFalse(s.poll(int(1000 * SLOW)))
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), 0)

    def test_plain_client_without_curve_gets_no_session(self):
        s = self.hub.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.hub.endpoint)
        self.hub.sockets.append(s)
        s.send(json.dumps(make_event()).encode())
        self.assertFalse(s.poll(int(1000 * SLOW)))
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), 0)
        self.assertIsNone(self.hub.proc.poll())

    def test_each_partner_is_recorded_under_its_own_key(self):
        a, b = self.hub.client("police-1"), self.hub.client("gemeente-1")
        ea, eb = make_event(), make_event()
        self.assertEqual(request(a, ea)["status"], "accepted")
        self.assertEqual(request(b, eb)["status"], "accepted")
        self.assertEqual(self.hub.count("SELECT partner FROM events WHERE id = ?", ea["id"]), "police-1")
        self.assertEqual(self.hub.count("SELECT partner FROM events WHERE id = ?", eb["id"]), "gemeente-1")


if __name__ == "__main__":
    main()
