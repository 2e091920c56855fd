"""`make run`'s script (scripts/demo.sh): the hub, the four adapters and the
partner stand-ins (scripts/demo_partners.py), end to end, then Ctrl-C.

Checks the script's output and what it leaves in its run folder: the police
file taken (done/), each partner stand-in's message, the care provider's
acceptance at the hub, the invalid file in failed/ with its .error.json, the
escalation alerted, acknowledged and resolved, the report, and that Ctrl-C
stops every process the demo started."""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import BIN, KETENCTL, ROOT, SLOW, main

OFFER = "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_mentioning(text):
    """(pid, command line) of every process whose command line holds text."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(d, "cmdline"), "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and int(os.path.basename(d)) != os.getpid():
            found.append((int(os.path.basename(d)), cmd))
    return found


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Demo(unittest.TestCase):
    def test_demo_runs_the_whole_chain_and_stops_on_ctrl_c(self):
        with tempfile.TemporaryDirectory(prefix="ketenhub-demo-") as run_dir:
            env = dict(os.environ, KETENHUB_RUN_DIR=run_dir, KETENHUB_BIN=BIN,
                       KETENHUB_DEMO_LISTEN="tcp://127.0.0.1:%d" % free_port())
            p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                self.run_demo(p, run_dir)
            finally:
                if p.poll() is None:  # never leave a demo behind
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)
                for pid, _ in processes_mentioning(run_dir):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    def read_until(self, p, marker, seconds):
        out = b""
        deadline = time.time() + seconds
        os.set_blocking(p.stdout.fileno(), False)
        while time.time() < deadline and marker not in out:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
            elif p.poll() is not None:
                break
            else:
                time.sleep(0.05)
        return out.decode(errors="replace")

    def ctl_json(self, run_dir, *args):
        r = subprocess.run([KETENCTL, "--config", os.path.join(run_dir, "ketenhub.json"), *args, "--json"],
                           capture_output=True, text=True, timeout=30 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def run_demo(self, p, run_dir):
        started = time.time()
        text = self.read_until(p, b"Ctrl-C stops it", 150 * SLOW)
        took = time.time() - started
        self.assertIn("Ctrl-C stops it", text, text)
        self.assertNotRegex(text, r"(?m)^demo(_partners)?: ")  # no timeout, no failure message
        self.assertNotIn("Traceback", text)
        # The brief: the whole flow in about 30-40 s (generous here for a busy machine).
        self.assertLess(took, 75 * SLOW, "the demo took %.0f s:\n%s" % (took, text))
        police = os.path.join(run_dir, "partners", "politie")
        partners = os.path.join(run_dir, "partners")

        # Keys, tokens and the adapters' configs made from the examples.
        self.assertEqual(os.stat(os.path.join(run_dir, "keys", "hub.key")).st_mode & 0o777, 0o600)
        tokens = glob.glob(os.path.join(run_dir, "keys", "*.token"))
        self.assertEqual(len(tokens), 5, tokens)  # 3 push + 2 listen
        for t in tokens:
            self.assertEqual(os.stat(t).st_mode & 0o777, 0o600, t)
        for kind in ("police", "municipality", "comensha", "care"):
            with open(os.path.join(run_dir, "adapters", kind + ".json")) as f:
                cfg = json.load(f)
            with open(os.path.join(ROOT, "config", "adapters", kind + ".example.json")) as f:
                example = json.load(f)
            self.assertEqual(cfg["source"], example["source"])
            if kind == "municipality":  # the resource_url gets the adapter's port, nothing else
                self.assertEqual(cfg["mapping"]["kanaal"], example["mapping"]["kanaal"])
                self.assertRegex(cfg["mapping"]["resource_url"], r"^http://127\.0\.0\.1:\d+/doorverwijzingen/$")
            else:
                self.assertEqual(cfg.get("mapping"), example.get("mapping"))
            for sec in ("http-push", "http-listen"):
                if sec in cfg["transports"]:
                    addr = cfg["transports"][sec].get("url") or cfg["transports"][sec]["listen"]
                    self.assertIn("127.0.0.1:", addr)
            self.assertIn("event=started", open(os.path.join(run_dir, "adapters", kind + ".log")).read())

        # 1-2. The police file: written in tmp/, renamed into in/, taken to done/.
        csvs = glob.glob(os.path.join(police, "done", "signalen-*.csv"))
        self.assertEqual(len(csvs), 1, os.listdir(os.path.join(police, "done")))
        self.assertEqual(os.listdir(os.path.join(police, "in")), [])
        self.assertEqual(os.listdir(os.path.join(police, "tmp")), [])
        self.assertIn("no failed events (0 waiting for the hub)", text)

        refs = self.ctl_json(run_dir, "referrals")["referrals"]
        by = {}
        for r in refs:
            by.setdefault(r["partner"], []).append(r)
        first = min(r["signal_seq"] for r in refs)
        second = max(r["signal_seq"] for r in refs)
        self.assertNotEqual(first, second)
        states1 = {r["partner"]: r["state"] for r in refs if r["signal_seq"] == first}
        # 3-5. The police signal's referrals, all answered through the adapters.
        self.assertEqual(states1, {
            "politie-oost-nederland": "geaccepteerd",      # a response file in in/
            "veilig-thuis-twente": "geaccepteerd",         # the care provider's POST /reacties
            "gemeente-enschede": "ontvangen",              # the municipality's POST /reacties
            "comensha": "ontvangen",                       # CoMensha's 2xx (receipt_event)
            "kenniscentrum-twente": "geaccepteerd",        # ketenctl receive --accept
        }, refs)
        care = by["veilig-thuis-twente"][0]["id"]

        # Each stand-in got its message, in its partner's format.
        notes = read_jsonl(os.path.join(partners, "gemeente-enschede.log"))
        self.assertEqual(len(notes), 2, notes)  # the police signal's referral, and its own signal's
        for n in notes:
            self.assertNotIn("error", n)
            m = n["received"]
            self.assertEqual(m["kanaal"], "doorverwijzingen")
            self.assertEqual(m["actie"], "create")
            self.assertEqual(set(m["kenmerken"]), {"beleid", "ontvangstUiterlijk", "besluitUiterlijk"})
            self.assertEqual(n["fetched"]["status"], 200)
            self.assertEqual(m["resourceUrl"].rsplit("/", 1)[1], n["fetched"]["body"]["doorverwijzing"])
            self.assertNotIn("omschrijving", n["fetched"]["body"]["signaal"])  # not in its profile
            self.assertEqual(n["answered"]["status"], 202)
        regs = read_jsonl(os.path.join(partners, "comensha.log"))
        self.assertEqual(len(regs), 1, regs)
        reg = regs[0]["received"]
        self.assertEqual(reg["registratietype"], "mogelijk-slachtoffer")
        self.assertEqual(reg["grondslag"], "toestemming")
        self.assertEqual(reg["vormenVanUitbuiting"], ["seksueel"])
        self.assertEqual(reg["registratieKenmerk"], by["comensha"][0]["id"])
        self.assertNotIn("omschrijving", json.dumps(reg))
        ces = read_jsonl(os.path.join(partners, "veilig-thuis-twente.log"))
        self.assertEqual(len(ces), 1, ces)
        ce = ces[0]
        self.assertTrue(ce["content_type"].startswith("application/cloudevents+json"), ce)
        self.assertEqual((ce["received"]["specversion"], ce["received"]["type"]), ("1.0", OFFER))
        self.assertEqual(ce["received"]["subject"], care)
        self.assertEqual(ce["answered"]["request"]["actie"], "accepteren")
        self.assertEqual(ce["answered"]["status"], 202)
        detail = self.ctl_json(run_dir, "referral", care)
        self.assertIn(("geaccepteerd", "veilig-thuis-twente"),
                      [(h["event"], h["actor"]) for h in detail["history"]], detail)
        for what in ("<- notification", "-> GET resourceUrl with its token: 200", "<- registration record",
                     "<- CloudEvent", '-> POST /reacties {"actie": "accepteren"'):
            self.assertIn(what, text)

        # The police's responses were files too: both in done/.
        self.assertEqual(len(glob.glob(os.path.join(police, "done", "reactie-*-geaccepteerd.json"))), 2)
        self.assertEqual(len(os.listdir(os.path.join(police, "verwerkt"))), 2)

        # 6. The municipality's own crisis signal: to the police, unanswered until the end.
        states2 = {r["partner"]: r["state"] for r in refs if r["signal_seq"] == second}
        self.assertEqual(states2.get("politie-oost-nederland"), "geaccepteerd", refs)
        self.assertIn("POST http://127.0.0.1:", text)

        # 7. The invalid police file: in failed/ with its .error.json, nothing sent.
        failed = sorted(os.listdir(os.path.join(police, "failed")))
        self.assertEqual(len(failed), 2, failed)
        self.assertTrue(failed[1].endswith(".json.error.json"), failed)
        with open(os.path.join(police, "failed", failed[1])) as f:
            err = json.load(f)
        self.assertEqual(err["file"], failed[0])
        paths = {e["path"] for e in err["errors"]}
        self.assertEqual(paths, {"/data/urgentie", "/data/woongemeente"}, err)
        self.assertIn("/data/urgentie enum", text)

        # 8-10. Alerted by a signed webhook and an e-mail, acknowledged (no
        # repeats after), then resolved by the police's acceptance.
        alerts = text.split("the duty officer is alerted")[1].split("acknowledges")[0]
        self.assertRegex(alerts, r"webhook /piket/\S+ \(signature verified\): escalation 1 level 1")
        self.assertRegex(alerts, r"e-mail to \S+@example.org: \[ketenhub\] CRISIS: no receipt from "
                                 r"Politie Oost-Nederland")
        self.assertNotIn("nachtopvang", text)  # the signal's description is never shown
        m = re.search(r"alerts before the acknowledgement: (\d+); 9 s later \(one repeat interval\): "
                      r"(\d+)", text)
        self.assertTrue(m, text)
        self.assertEqual(m.group(1), m.group(2), text)
        self.assertRegex(text, r"escalation 1 acknowledged by \S+ at ")
        escs = self.ctl_json(run_dir, "escalations")["escalations"]
        self.assertEqual(len(escs), 1, escs)
        self.assertEqual(escs[0]["state"], "resolved")
        self.assertEqual(escs[0]["partner"], "politie-oost-nederland")
        self.assertEqual(escs[0]["resolution"], "geaccepteerd")
        self.assertIsNotNone(escs[0]["acknowledged_by"])
        resolved = text.split("the escalation is resolved")[1].split("== status")[0]
        self.assertRegex(resolved, r"\n1\s+resolved\s+1\s+1\s", resolved)

        # The status and the coordinator's report: HTML written, counts hidden below 5.
        status = text.split("== status")[1].split("==")[0]
        self.assertRegex(status, r"intake\s+accepted: \d+")
        self.assertNotIn("rejected", status)
        report = text.split("the coordinator's report of today")[1]
        self.assertIn("written: %s" % os.path.join(run_dir, "report.html"), report)
        self.assertRegex(report, r"signals: <5; by form: seksueel <5, arbeid <5")
        with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", page)

        # Everything is running until Ctrl-C: the hub, 4 adapters, the stand-ins, 2 receivers.
        running = processes_mentioning(run_dir)
        for prog in ("ketenhubd", "adapter-police", "adapter-municipality", "adapter-comensha",
                     "adapter-care", "demo_partners.py serve", "webhook_receiver.py", "smtp_receiver.py"):
            self.assertTrue(any(prog in cmd for _, cmd in running), (prog, running))

        # Ctrl-C (SIGINT to the whole process group, as a terminal sends it).
        os.killpg(p.pid, signal.SIGINT)
        self.assertEqual(p.wait(30 * SLOW), 0)
        tail = self.read_until(p, b"\0", 1)
        self.assertIn("all stopped; no process of the demo is left", tail)
        deadline = time.time() + 5 * SLOW
        while processes_mentioning(run_dir) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(processes_mentioning(run_dir), [])
        for kind in ("police", "municipality", "comensha", "care"):
            self.assertIn("event=stopped", open(os.path.join(run_dir, "adapters", kind + ".log")).read(), kind)
        self.assertIn("event=stopped", open(os.path.join(run_dir, "hub.log")).read())
        for log in [os.path.join(run_dir, "hub.log")] + glob.glob(os.path.join(run_dir, "adapters", "*.log")):
            with open(log, errors="replace") as f:
                content = f.read()
            for bad in ("Sanitizer", "runtime error:", "level=error"):
                self.assertNotIn(bad, content, "%s in %s:\n%s" % (bad, log, content[-3000:]))


if __name__ == "__main__":
    main()
