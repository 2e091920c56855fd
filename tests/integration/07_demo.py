"""`make run`'s script: the example config, keys, example events, end to end."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, SLOW, main


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo(unittest.TestCase):
    def test_demo_runs_the_signal_flow_and_stops_on_ctrl_c(self):
        with tempfile.TemporaryDirectory(prefix="ketenhub-demo-") as run_dir:
            env = dict(os.environ, KETENHUB_RUN_DIR=run_dir,
                       KETENHUB_DEMO_LISTEN="tcp://127.0.0.1:%d" % free_port())
            p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                self.run_demo(p, run_dir)
            finally:
                if p.poll() is None:  # never leave a demo hub behind
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)

    def run_demo(self, p, run_dir):
        """Reads the demo's output up to its last line and checks it."""
        out = b""
        deadline = time.time() + 60 * SLOW
        os.set_blocking(p.stdout.fileno(), False)
        while time.time() < deadline and b"Ctrl-C stops it" not in out:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            elif p.poll() is not None:
                break
            else:
                time.sleep(0.05)
        text = out.decode(errors="replace")
        self.assertIn("Ctrl-C stops it", text, text)
        replies = [json.loads(l) for l in text.splitlines() if l.startswith('{"ack"')]
        statuses = [r["status"] for r in replies]
        self.assertEqual(statuses, ["accepted"] * 3 + ["rejected"], text)
        bad = replies[3]
        paths = {e["path"] for e in bad["errors"]}
        self.assertIn("/data/naam", paths)
        self.assertIn("/data/urgentie", paths)
        # Three signals, then every referral received and accepted: 2 events each.
        after = text.split("referrals after the partners answered")[1]
        accepted = after.count(" geaccepteerd ")
        self.assertGreaterEqual(accepted, 4, after)
        self.assertNotIn(" aangeboden ", after)
        self.assertRegex(text, r"events\s+%d stored" % (3 + 2 * accepted))
        self.assertIn("signal fields:", text)
        self.assertTrue(os.path.exists(os.path.join(run_dir, "ketenhub.db")))
        self.assertEqual(os.stat(os.path.join(run_dir, "keys", "hub.key")).st_mode & 0o777, 0o600)
        os.killpg(p.pid, signal.SIGINT)
        self.assertEqual(p.wait(20 * SLOW), 0)


if __name__ == "__main__":
    main()
