"""Integration test harness: the real ketenhubd, driven by an independent peer.

Each test writes its own config into a temporary folder, starts the daemon on an
ephemeral port (listen "tcp://127.0.0.1:*", the bound endpoint read from the
daemon's `event=listening` log line), and talks to it with pyzmq exactly as
docs/protocol.md describes: a CURVE DEALER, one frame per event, one JSON reply.

Run a test file directly: /usr/bin/python3 tests/integration/NN_name.py
It prints "<file>: N passed, M failed" last, as tests/run.sh expects.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import zmq
import zmq.auth

ROOT = os.environ.get("KETENHUB_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("KETENHUB_BIN") or os.path.join(ROOT, "bin")
KETENHUBD = os.path.join(BIN, "ketenhubd")
KETENCTL = os.path.join(BIN, "ketenctl")
SCHEMAS = os.path.join(ROOT, "schemas")
EXAMPLES = os.path.join(ROOT, "config", "examples")
SIGNAL_TYPE = "nl.mensenhandel.signalen.signaal-geregistreerd"

# Sanitizer builds are slower; every wait scales with this.
SLOW = 4 if "/san/" in BIN else 1


def keygen(path):
    """Runs `ketenctl keygen PATH`; returns (public_z85, key_file)."""
    subprocess.run([KETENCTL, "keygen", path], check=True, capture_output=True)
    with open(path + ".pub") as f:
        return f.read().strip(), path + ".key"


def signal_data(**overrides):
    data = {
        "vormenVanUitbuiting": ["arbeid"],
        "urgentie": "normaal",
        "minderjarig": False,
        "woongemeente": "GM0153",
        "indicatoren": ["onderbetaling"],
        "toestemming": {"registratieCoMensha": False},
    }
    data.update(overrides)
    return data


def make_event(data=None, **overrides):
    """A valid signaal-geregistreerd event with a fresh id; overrides replace
    envelope attributes (None removes one)."""
    ev = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:nld:oin:00000001003214345000:systeem:test",
        "type": SIGNAL_TYPE,
        "time": "2026-11-29T08:00:00Z",
        "datacontenttype": "application/json",
        "data": data if data is not None else signal_data(),
    }
    for k, v in overrides.items():
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


class Hub:
    """A ketenhubd process with its own folder, keys, config and database."""

    def __init__(self, partners=None, extra_config=None, log_level="debug"):
        self.tmp = tempfile.TemporaryDirectory(prefix="ketenhub-it-")
        self.dir = self.tmp.name
        os.makedirs(os.path.join(self.dir, "keys"), mode=0o700)
        self.hub_public, self.hub_key = keygen(os.path.join(self.dir, "keys", "hub"))
        for name in ("store.secret", "pseudonym.secret"):
            subprocess.run([KETENCTL, "keygen", "--secret", os.path.join(self.dir, "keys", name)],
                           check=True, capture_output=True)
        self.keys = {}
        partner_list = []
        partners = list(partners or [("police-1", "police"), ("gemeente-1", "municipality")])
        if not any(role == "coordinator" for _, role in partners):
            # Every hub needs one: signals no route sends anywhere go there.
            partners.append(("kenniscentrum", "coordinator"))
        for pid, role in partners:
            pub, key = keygen(os.path.join(self.dir, "keys", pid))
            self.keys[pid] = key
            partner_list.append({"id": pid, "role": role, "public_key": pub})
        self.config = {
            "listen": "tcp://127.0.0.1:*",
            "database": "hub.db",
            "schemas": SCHEMAS,
            "server_key": "keys/hub.key",
            "encryption_key": "keys/store.secret",
            "pseudonym_key": "keys/pseudonym.secret",
            "log_level": log_level,
            "partners": partner_list,
        }
        self.config.update(extra_config or {})
        self.config_path = os.path.join(self.dir, "ketenhub.json")
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self.db_path = os.path.join(self.dir, "hub.db")
        self.log_path = os.path.join(self.dir, "hub.log")
        self.proc = None
        self.env = None  # ketenhubd's environment (None: this process's)
        self.endpoint = None
        self.ctx = zmq.Context()
        self.sockets = []

    # -- process --------------------------------------------------------
    def start(self, listen=None):
        if listen:
            self.rewrite_config(listen=listen)
        self.log = open(self.log_path, "ab")
        start_offset = self.log.tell()
        self.proc = subprocess.Popen([KETENHUBD, "--config", self.config_path],
                                     stdout=self.log, stderr=self.log, env=self.env)
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                m = re.search(rb"event=listening endpoint=(\S+)", f.read())
            if m:
                self.endpoint = m.group(1).decode()
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("ketenhubd exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            time.sleep(0.02)
        raise RuntimeError("ketenhubd did not start:\n" + self.log_text())

    def rewrite_config(self, **changes):
        self.config.update(changes)
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        self.close_sockets()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout * SLOW)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill9(self):
        self.close_sockets()
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def restart(self):
        """Restarts on the same port, so connected DEALERs reconnect."""
        port_endpoint = self.endpoint
        if self.proc:
            self.stop()
        return self.start(listen=port_endpoint)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close_sockets(self):
        for s in self.sockets:
            s.close(linger=0)
        self.sockets = []

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.close_sockets()
        self.ctx.term()
        if hasattr(self, "log"):
            self.log.close()
        self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- peers ----------------------------------------------------------
    def client(self, partner_id=None, key_file=None, server_key=None):
        """A CURVE DEALER connected to the hub as `partner_id`."""
        if key_file is None:
            key_file = self.keys[partner_id or next(iter(self.keys))]
        public, secret = zmq.auth.load_certificate(key_file)
        s = self.ctx.socket(zmq.DEALER)
        s.curve_serverkey = (server_key or self.hub_public).encode()
        s.curve_publickey = public
        s.curve_secretkey = secret
        s.linger = 0
        s.connect(self.endpoint)
        self.sockets.append(s)
        return s

    def stranger(self):
        """A client whose key the hub does not know."""
        pub, key = keygen(os.path.join(self.dir, "keys", "stranger-%s" % uuid.uuid4().hex[:6]))
        return self.client(key_file=key)

    def db(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True)
        return con

    def count(self, sql, *args):
        con = self.db()
        try:
            return con.execute(sql, args).fetchone()[0]
        finally:
            con.close()


REFERRAL_PREFIX = "nl.mensenhandel.doorverwijzingen."
OFFER_TYPE = REFERRAL_PREFIX + "doorverwijzing-aangeboden"


def response_event(kind, referral, **data):
    """A doorverwijzing-<kind> event (ontvangen, geaccepteerd, afgewezen, afgerond)."""
    body = {"doorverwijzing": referral}
    body.update(data)
    return make_event(body, type=REFERRAL_PREFIX + "doorverwijzing-" + kind)


class Peer:
    """A partner's adapter as docs/protocol.md describes it: one DEALER that
    sends events and heartbeats, receives replies and deliveries, and confirms
    each delivery with a receipt."""

    def __init__(self, hub, partner_id):
        self.hub = hub
        self.id = partner_id
        self.sock = hub.client(partner_id)
        self.replies = []
        self.deliveries = []

    def heartbeat(self, n=1):
        self.sock.send(json.dumps({"heartbeat": n}).encode())

    def pump(self, timeout=0.2):
        """Reads every frame that arrives within timeout, sorting them."""
        deadline = time.time() + timeout * SLOW
        while True:
            left = deadline - time.time()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return
            frame = json.loads(self.sock.recv())
            if "specversion" in frame:
                self.deliveries.append(frame)
            else:
                self.replies.append(frame)

    def wait_delivery(self, timeout=5.0, count=1):
        deadline = time.time() + timeout * SLOW
        while len(self.deliveries) < count and time.time() < deadline:
            self.pump(0.1)
        if len(self.deliveries) < count:
            raise AssertionError("%s: %d deliveries, expected %d" % (self.id, len(self.deliveries), count))
        return self.deliveries

    def receipt(self, event_id):
        self.sock.send(json.dumps({"receipt": event_id}).encode())

    def request(self, event, timeout=5.0):
        """Sends an event; returns its reply (deliveries meanwhile are kept)."""
        self.sock.send(json.dumps(event).encode())
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            for i, r in enumerate(self.replies):
                if r.get("ack") == event.get("id"):
                    return self.replies.pop(i)
            self.pump(0.1)
        raise AssertionError("%s: no reply to %s" % (self.id, event.get("id")))


def send_event(sock, event):
    sock.send(json.dumps(event).encode() if not isinstance(event, (bytes, bytearray)) else event)


def recv_reply(sock, timeout=5.0):
    """The next reply as a dict; fails the test on timeout."""
    if not sock.poll(int(timeout * 1000 * SLOW)):
        raise AssertionError("no reply within %.1f s" % (timeout * SLOW))
    return json.loads(sock.recv())


def request(sock, event, timeout=5.0):
    send_event(sock, event)
    return recv_reply(sock, timeout)


def error_paths(reply):
    return sorted(e["path"] for e in reply.get("errors", []))


def main():
    """Runs the unittest cases of the calling module; prints the closing line."""
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    name = os.path.basename(module.__file__)
    print("%s: %d passed, %d failed" % (name, passed, failed))
    sys.exit(1 if failed else 0)
