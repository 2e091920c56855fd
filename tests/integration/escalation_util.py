"""Shared set-up for the escalation tests: a hub whose crisis policy escalates,
with a real local webhook receiver (tests/peers/webhook_receiver.py, which
verifies the Standard Webhooks signature) and a real local SMTP server
(tests/peers/smtp_receiver.py, aiosmtpd), both on 127.0.0.1.

    with EscalationHub(levels=..., webhook_behaviour=["ok"]) as eh:
        eh.start()
        ref = eh.crisis_signal()          # the referral id the hub made
        eh.wait_webhooks(1, timeout=5)    # parsed JSON lines of the receiver
        eh.ctl("ack", "1", "--by", "anna")
"""
import base64
import json
import os
import socket
import subprocess
import time

from harness import KETENCTL, ROOT, SLOW, Hub, Peer, make_event, signal_data

PEERS = os.path.join(ROOT, "tests", "peers")
PY = "/usr/bin/python3"
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_levels():
    return [
        {"after": "PT0S", "targets": ["on-duty"], "channels": ["webhook", "email"],
         "repeat": "PT2S"},
        {"after": "PT5S", "targets": ["on-duty", "fallback"], "channels": ["email"],
         "repeat": "PT3S"},
    ]


class Receiver:
    """One receiver process (webhook or SMTP) writing JSON lines to a log."""

    def __init__(self, kind, log, args, port=0, max_seconds=120):
        script = "webhook_receiver.py" if kind == "webhook" else "smtp_receiver.py"
        self.kind, self.log, self.args, self.max_seconds = kind, log, args, max_seconds
        self.script = os.path.join(PEERS, script)
        self.port = port
        self.proc = None

    def start(self, behaviour=None):
        cmd = [PY, self.script, "--log", self.log, "--port", str(self.port),
               "--max-seconds", str(self.max_seconds)] + self.args + list(behaviour or [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def records(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


class EscalationHub:
    """A Hub (harness.py) configured for escalation, with its two receivers.

    officers: anna (webhook + email; on duty all week unless `rota` says
    otherwise), bram (email only), cor (email only, the fallback)."""

    def __init__(self, levels=None, rearm=None, receipt="PT2S", decision="PT60S",
                 webhook_behaviour=("ok",), start_webhook=True, start_smtp=True,
                 rota=None, alerting=None, extra_config=None, max_seconds=120):
        self.hub = Hub(partners=[("police-1", "police"), ("gemeente-1", "municipality"),
                                 ("kenniscentrum", "coordinator")])
        d = self.hub.dir
        self.secret = os.urandom(32)
        secret_file = os.path.join(d, "webhook.secret")
        with open(secret_file, "w") as f:
            f.write("whsec_" + base64.b64encode(self.secret).decode() + "\n")
        os.chmod(secret_file, 0o600)
        self.webhook = Receiver("webhook", os.path.join(d, "webhook.log"),
                                ["--secret-hex", self.secret.hex()],
                                port=free_port(), max_seconds=max_seconds)
        self.smtp = Receiver("smtp", os.path.join(d, "mail.log"), [], port=free_port(),
                             max_seconds=max_seconds)
        self.webhook_behaviour = list(webhook_behaviour)
        if start_webhook:
            self.webhook.start(self.webhook_behaviour)
        if start_smtp:
            self.smtp.start()
        escalation = {"levels": levels if levels is not None else default_levels()}
        if rearm:
            escalation["rearm"] = rearm
        al = {"webhook_secret_file": "webhook.secret",
              "smtp_url": "smtp://127.0.0.1:%d" % self.smtp.port, "smtp_starttls": False,
              "from": "ketenhub@example.org", "timeout": "PT2S", "max_attempts": 3,
              "backoff_initial": "PT0.2S", "backoff_max": "PT1S", "redeliver": "PT2S"}
        al.update(alerting or {})
        config = {
            "officers": [
                {"id": "anna", "name": "Anna Jansen", "email": "anna@example.org",
                 "webhook": "http://127.0.0.1:%d/anna" % self.webhook.port},
                {"id": "bram", "name": "Bram de Vries", "email": "bram@example.org"},
                {"id": "cor", "name": "Cor Bulut", "email": "cor@example.org"},
            ],
            "rota": rota or {"timezone": "Europe/Amsterdam",
                             "weekly": [{"days": ALL_WEEK, "from": "00:00", "to": "00:00",
                                         "officer": "anna"}],
                             "fallback": "cor"},
            "alerting": al,
            "policies": {
                "crisis": {"receipt": receipt, "decision": decision, "escalation": escalation},
                "standaard": {"receipt": "P1D", "decision": "P5D"},
            },
            "routes": [
                {"name": "crisis", "when": {"/urgentie": "crisis"},
                 "to": [{"partner": "police-1"}], "policy": "crisis"},
                {"name": "rest", "to": [{"role": "coordinator"}]},
            ],
        }
        config.update(extra_config or {})
        self.hub.rewrite_config(**config)
        self.sender = None

    # -- life cycle -----------------------------------------------------
    def start(self):
        self.hub.start()
        self.sender = Peer(self.hub, "gemeente-1")
        return self

    def close(self):
        self.webhook.stop()
        self.smtp.stop()
        self.hub.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- actions --------------------------------------------------------
    def crisis_signal(self, **data):
        """Sends a crisis signal from gemeente-1; returns the referral id made
        for police-1 (read from the database)."""
        ev = make_event(signal_data(urgentie="crisis", **data))
        reply = self.sender.request(ev)
        assert reply.get("status") == "accepted", reply
        con = self.hub.db()
        try:
            row = con.execute(
                "SELECT r.id FROM referrals r JOIN events e ON e.seq = r.signal_seq "
                "WHERE e.id = ? AND r.partner = 'police-1'", (ev["id"],)).fetchone()
        finally:
            con.close()
        assert row, "no referral for police-1"
        return row[0]

    def ctl(self, *args, timeout=30):
        return subprocess.run([KETENCTL, "--config", self.hub.config_path] + list(args),
                              capture_output=True, text=True, timeout=timeout * SLOW)

    def escalations(self):
        r = self.ctl("escalations", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["escalations"]

    # -- waiting --------------------------------------------------------
    def webhooks(self):
        return self.webhook.records()

    def mails(self):
        return self.smtp.records()

    def wait_for(self, what, count, timeout):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            got = what()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError("%d of %d within %.1f s: %r" % (len(what()), count, timeout, what()))

    def wait_webhooks(self, count, timeout=10):
        return self.wait_for(self.webhooks, count, timeout)

    def wait_mails(self, count, timeout=10):
        return self.wait_for(self.mails, count, timeout)
