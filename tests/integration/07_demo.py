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
        deadline = time.time() + 120 * SLOW
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
        self.assertEqual(statuses, ["accepted"] * 3 + ["rejected", "accepted"], text)
        bad = replies[3]
        paths = {e["path"] for e in bad["errors"]}
        self.assertIn("/data/naam", paths)
        self.assertIn("/data/urgentie", paths)
        # Three signals, then every referral received and accepted.
        after = text.split("referrals after the partners answered")[1]
        accepted = after.count(" geaccepteerd ")
        self.assertGreaterEqual(accepted, 4, after)
        self.assertNotIn(" aangeboden ", after)
        # Four signals; each answered referral 2 events, the crisis one at the end too.
        self.assertRegex(text, r"events\s+%d stored" % (4 + 2 * (accepted + 1)))
        self.assertIn("signal fields:", text)
        # The unanswered crisis referral: alerted by a signed webhook and an
        # e-mail, acknowledged (no repeats after), then resolved by the answer.
        alerts = text.split("the duty officer is alerted")[1].split("acknowledges")[0]
        self.assertRegex(alerts, r"webhook /piket/\S+ \(signature verified\): escalation 1 level 1")
        self.assertRegex(alerts, r"e-mail to \S+@example.org: \[ketenhub\] CRISIS: no receipt from "
                                 r"Politie Oost-Nederland")
        self.assertNotIn("nachtopvang", text)  # the signal's description never reaches an alert
        m = re.search(r"alerts before the acknowledgement: (\d+); 9 s later \(one repeat interval\): "
                      r"(\d+)", text)
        self.assertTrue(m, text)
        self.assertEqual(m.group(1), m.group(2), text)
        self.assertRegex(text, r"escalation 1 acknowledged by \S+ at ")
        # It ends with the coordinator's report: HTML written, counts hidden below 5.
        report = text.split("the coordinator's report of today")[1]
        self.assertIn("written: %s" % os.path.join(run_dir, "report.html"), report)
        self.assertRegex(report, r"signals: <5; by form: seksueel <5, arbeid <5")
        with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", page)
        resolved = text.split("the escalation is resolved")[1].split("== status")[0]
        self.assertRegex(resolved, r"\n1\s+resolved\s+1\s+1\s", resolved)
        self.assertTrue(os.path.exists(os.path.join(run_dir, "ketenhub.db")))
        self.assertEqual(os.stat(os.path.join(run_dir, "keys", "hub.key")).st_mode & 0o777, 0o600)
        os.killpg(p.pid, signal.SIGINT)
        self.assertEqual(p.wait(20 * SLOW), 0)


if __name__ == "__main__":
    main()
