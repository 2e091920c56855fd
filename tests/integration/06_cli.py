"""ketenhubd and ketenctl from the command line, as an operator uses them."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import EXAMPLES, KETENCTL, KETENHUBD, SLOW, Hub, keygen, main, make_event, request


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60 * SLOW, **kw)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.hub = Hub()

    def tearDown(self):
        self.hub.close()

    def test_good_config_passes(self):
        r = run(KETENHUBD, "--check-config", self.hub.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)

    def test_bad_config_names_every_problem_and_exits_1(self):
        cfg = dict(self.hub.config)
        cfg["partners"] = cfg["partners"] + [dict(cfg["partners"][0]), {"id": "x", "role": "sheriff",
                                                                        "public_key": "abc"}]
        cfg["colour"] = "blue"
        cfg["max_json_depth"] = 0
        path = os.path.join(self.hub.dir, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = run(KETENHUBD, "--check-config", path)
        self.assertEqual(r.returncode, 1)
        n = len(self.hub.config["partners"])  # the bad ones come after these
        for key in ["/partners/%d/id" % n, "/partners/%d/public_key" % n, "/partners/%d/role" % (n + 1),
                    "/partners/%d/public_key" % (n + 1), "/colour", "/max_json_depth"]:
            self.assertIn(key, r.stderr)
        # And the daemon refuses to start on it.
        r = run(KETENHUBD, "--config", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/colour: unknown key", r.stderr)

    def test_broken_schema_folder_is_a_config_error(self):
        schemas = os.path.join(self.hub.dir, "schemas")
        os.makedirs(schemas)
        with open(os.path.join(schemas, "cloudevent.json"), "w") as f:
            json.dump({"type": "object", "frobnicate": True}, f)
        self.hub.rewrite_config(schemas="schemas")
        r = run(KETENHUBD, "--check-config", self.hub.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("frobnicate", r.stderr)

    def test_group_readable_server_key_is_refused(self):
        os.chmod(os.path.join(self.hub.dir, "keys", "hub.key"), 0o640)
        r = run(KETENHUBD, "--config", self.hub.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("chmod 600", r.stderr)

    def test_damaged_database_stops_the_hub_with_a_clear_error(self):
        with open(self.hub.db_path, "wb") as f:
            f.write(b"SQLite format 3\x00" + os.urandom(8192))
        r = run(KETENHUBD, "--config", self.hub.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("event=start_failed", r.stderr)
        self.assertIn(self.hub.db_path, r.stderr)


class Signals(unittest.TestCase):
    def test_sigterm_and_sigint_stop_cleanly_with_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with Hub() as hub:
                self.assertEqual(request(hub.client("police-1"), make_event())["status"], "accepted")
                hub.close_sockets()
                hub.proc.send_signal(sig)
                self.assertEqual(hub.proc.wait(10 * SLOW), 0)
                self.assertIn("event=stopped", hub.log_text())


class Ketenctl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub().start()
        cls.hub_pub = os.path.join(cls.hub.dir, "keys", "hub.pub")

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def send(self, key, *files, timeout="5"):
        return run(KETENCTL, "send", "--hub", self.hub.endpoint, "--hub-key", self.hub_pub,
                   "--key", key, "--timeout", timeout, *files)

    def write(self, name, event):
        path = os.path.join(self.hub.dir, name)
        with open(path, "w") as f:
            json.dump(event, f)
        return path

    def test_keygen_writes_pub_and_private_key_files(self):
        base = os.path.join(self.hub.dir, "keys", "new-partner")
        r = run(KETENCTL, "keygen", base)
        self.assertEqual(r.returncode, 0, r.stderr)
        pub = open(base + ".pub").read().strip()
        self.assertEqual(len(pub), 40)
        self.assertEqual(r.stdout.strip(), pub)
        self.assertEqual(os.stat(base + ".key").st_mode & 0o777, 0o600)
        self.assertIn('public-key = "%s"' % pub, open(base + ".key").read())
        r = run(KETENCTL, "keygen", base)
        self.assertNotEqual(r.returncode, 0, "keygen overwrote an existing key")

    def test_send_prints_one_json_line_per_event_and_exits_0(self):
        files = [os.path.join(EXAMPLES, f) for f in sorted(os.listdir(EXAMPLES)) if f.endswith(".json")]
        r = self.send(self.hub.keys["police-1"], *files)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.strip().split("\n")
        self.assertEqual(len(lines), len(files))
        for line in lines:
            self.assertEqual(json.loads(line)["status"], "accepted")

    def test_send_exits_1_when_any_event_is_rejected(self):
        good = self.write("good.json", make_event())
        bad = self.write("bad.json", make_event(specversion="2.0"))
        r = self.send(self.hub.keys["police-1"], good, bad)
        self.assertEqual(r.returncode, 1)
        replies = [json.loads(l) for l in r.stdout.strip().split("\n")]
        self.assertEqual([x["status"] for x in replies], ["accepted", "rejected"])

    def test_send_from_stdin(self):
        ev = make_event()
        r = subprocess.run([KETENCTL, "send", "--hub", self.hub.endpoint, "--hub-key", self.hub_pub,
                            "--key", self.hub.keys["police-1"], "-"], input=json.dumps(ev).encode(),
                           capture_output=True, timeout=30 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["ack"], ev["id"])

    def test_send_with_unknown_key_says_the_key_was_refused(self):
        _, key = keygen(os.path.join(self.hub.dir, "keys", "unknown"))
        r = self.send(key, self.write("x.json", make_event()))
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused this key", r.stderr)

    def test_send_usage_and_missing_file_exit_2(self):
        self.assertEqual(run(KETENCTL, "send").returncode, 2)
        r = self.send(self.hub.keys["police-1"], "/nonexistent/event.json")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/event.json", r.stderr)

    def test_status_counts_events_and_outcomes(self):
        c = self.hub.client("gemeente-1")
        before = json.loads(run(KETENCTL, "--config", self.hub.config_path, "status", "--json").stdout)
        request(c, make_event())
        request(c, make_event(specversion="9"))
        r = run(KETENCTL, "--config", self.hub.config_path, "status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = json.loads(r.stdout)
        self.assertEqual(after["events"], before["events"] + 1)
        self.assertEqual(after["by_partner"]["gemeente-1"], before["by_partner"].get("gemeente-1", 0) + 1)
        self.assertEqual(after["intake_outcomes"]["rejected"],
                         before["intake_outcomes"].get("rejected", 0) + 1)
        text = run(KETENCTL, "--config", self.hub.config_path, "status")
        self.assertEqual(text.returncode, 0)
        self.assertIn("events     %d stored" % after["events"], text.stdout)


if __name__ == "__main__":
    main()
