"""Helpers for the HTTP adapter tests (22_ municipality, 23_ comensha, 24_ care):
a real hub (harness.Hub), a real bin/adapter-<kind> process, a partner endpoint
(Python http.server on 127.0.0.1, in a thread of the test) that records every
request and answers from a script, and a small HTTP client for the adapter's
http-listen side.

Everything binds 127.0.0.1; every wait is bounded (harness.SLOW scales them).
"""
import http.client
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import BIN, SCHEMAS, SLOW, Hub, Peer, make_event, signal_data

OFFER_TYPE = "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
PREFIX = "nl.mensenhandel.doorverwijzingen.doorverwijzing-"
SIGNAL_TYPE = "nl.mensenhandel.signalen.signaal-geregistreerd"

PROFILES = {
    "police": ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente"],
    "municipality": ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente",
                     "indicatoren", "toestemming", "datumSignalering", "leeftijdsgroep"],
    "comensha": ["vormenVanUitbuiting", "minderjarig", "leeftijdsgroep", "geslacht",
                 "nationaliteit", "datumSignalering", "woongemeente", "toestemming"],
    "care": ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente", "indicatoren",
             "toestemming", "leeftijdsgroep", "geslacht", "omschrijving"],
}

# The Twente rules, cut down: a crisis about a minor goes to the care
# provider, a known place of residence to its municipality, consent to
# CoMensha; the coordinator gets everything.
HUB_CONFIG = {
    "policies": {"crisis": {"receipt": "PT15M", "decision": "PT4H"},
                 "standaard": {"receipt": "P1D", "decision": "P5D"}},
    "default_policy": "standaard",
    "municipalities": {"GM0153": "gemeente-enschede"},
    "profiles": PROFILES,
    "routes": [
        {"name": "crisis-minderjarige", "when": {"/urgentie": "crisis", "/minderjarig": True},
         "to": [{"partner": "veilig-thuis"}], "policy": "crisis"},
        {"name": "woongemeente", "when": {"/woongemeente": {"present": True}},
         "to": [{"municipality_of": "/woongemeente"}]},
        {"name": "registratie-comensha", "when": {"/toestemming/registratieCoMensha": True},
         "to": [{"partner": "comensha"}]},
        {"name": "coordinator", "to": [{"role": "coordinator"}]},
    ],
    "delivery_ack_timeout_ms": 1000,
    "delivery_backoff_max_ms": 2000,
    "delivery_max_attempts": 1000,
    "session_timeout_ms": 3000,
}
PARTNERS = [("politie", "police"), ("gemeente-enschede", "municipality"),
            ("comensha", "comensha"), ("veilig-thuis", "care")]


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for %s" % what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def make_pki(folder):
    """A CA, a server certificate for 127.0.0.1 and a client certificate
    (CN adapter-test), all signed by the CA, made with openssl. Returns a dict
    of paths; keys are mode 0600."""
    os.makedirs(folder, exist_ok=True)
    p = {k: os.path.join(folder, k) for k in
         ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")}
    ext = os.path.join(folder, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", p["ca.key"], "-out", p["ca.crt"])
    for name, cn in (("server", "127.0.0.1"), ("client", "adapter-test")):
        csr = os.path.join(folder, name + ".csr")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
            "-keyout", p[name + ".key"], "-out", csr)
        extra = ["-extfile", ext] if name == "server" else []
        run("x509", "-req", "-in", csr, "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
            "-CAcreateserial", "-days", "2", "-out", p[name + ".crt"], *extra)
    for k in ("ca.key", "server.key", "client.key"):
        os.chmod(p[k], 0o600)
    return p


def new_hub():
    return Hub(partners=PARTNERS, extra_config=dict(HUB_CONFIG))


def police_signal(hub, sender="politie", **data):
    """Sends a signal as the police (or as `sender`); returns the event."""
    peer = Peer(hub, sender)
    ev = make_event(signal_data(**data))
    reply = peer.request(ev)
    assert reply.get("status") == "accepted", reply
    return ev


def referrals_for(hub, partner):
    con = hub.db()
    try:
        return con.execute("SELECT id, state FROM referrals WHERE partner = ? ORDER BY rowid",
                           (partner,)).fetchall()
    finally:
        con.close()


def deliveries_for(hub, partner):
    """(event_id, referral, state, confirmed) of the hub's deliveries to partner."""
    con = hub.db()
    try:
        return con.execute("SELECT event_id, referral, state, confirmed FROM deliveries "
                           "WHERE partner = ? ORDER BY seq", (partner,)).fetchall()
    finally:
        con.close()


def events_of_type(hub, type_):
    return hub.count("SELECT count(*) FROM events WHERE type = ?", type_)


class Receiver:
    """A partner endpoint. `script` is a list of (status, headers) answered in
    order; after it runs out every request gets `default`. Every request is
    recorded as a dict (method, path, headers (lower-case names), body, t)."""

    def __init__(self, token=None, default=(200, {}), tls=None):
        """tls: (server_cert, server_key, client_ca) to serve HTTPS and
        require a client certificate signed by client_ca (mutual TLS)."""
        self.token = token
        self.default = default
        self.script = []
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n <= 1 << 20 else b""
                rec = {"method": "POST", "path": self.path, "body": body, "t": time.time(),
                       "headers": {k.lower(): v for k, v in self.headers.items()}}
                if hasattr(self.connection, "getpeercert"):
                    cert = self.connection.getpeercert() or {}
                    rec["client_cn"] = dict(x[0] for x in cert.get("subject", ())).get("commonName")
                with outer.lock:
                    outer.requests.append(rec)
                    status, headers = outer.script.pop(0) if outer.script else outer.default
                if outer.token and rec["headers"].get("authorization") != "Bearer " + outer.token:
                    status, headers = 401, {}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(tls[2])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HttpAdapter:
    """bin/adapter-<kind> with its own folder, config, keys and token files."""

    def __init__(self, hub, kind, partner, push=None, listen=None, mapping=None):
        self.hub, self.kind = hub, kind
        self.dir = os.path.join(hub.dir, "adapter-" + partner)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.program = os.path.join(BIN, "adapter-" + kind)
        self.config_path = os.path.join(self.dir, "adapter.json")
        self.log_path = os.path.join(self.dir, "adapter.log")
        self.status_file = os.path.join(self.data, "push.status.json")
        self.proc = None
        self.listen_port = None
        self.listen_token = "partner-system-token-" + os.urandom(12).hex()
        transports = {}
        if push is not None:
            transports["http-push"] = dict(push)
        if listen is not None:
            self.listen_port = free_port()
            write_secret(os.path.join(self.dir, "listen.token"), self.listen_token)
            sec = {"listen": "127.0.0.1:%d" % self.listen_port,
                   "tokens": [{"name": "zaaksysteem", "token_file": "listen.token"}],
                   "post_paths": ["/reacties"]}
            sec.update(listen)
            transports["http-listen"] = sec
        self.config = {
            "hub": {"endpoint": None, "public_key": os.path.join(hub.dir, "keys", "hub.pub"),
                    "key": hub.keys[partner], "heartbeat_interval_ms": 500,
                    "heartbeat_timeout_ms": 3000, "ack_timeout_ms": 2000,
                    "reconnect_min_ms": 50, "reconnect_max_ms": 500},
            "source": "urn:nld:oin:00000001000000000000:systeem:%s-test" % kind,
            "data_dir": "data",
            "schemas": SCHEMAS,
            "log_level": "debug",
            "delivery_retry_min_ms": 100,
            "delivery_retry_max_ms": 1000,
            "transports": transports,
        }
        if mapping is not None:
            self.config["mapping"] = mapping

    def push_token(self, token):
        """Writes the token the adapter sends to the partner; returns the file name."""
        write_secret(os.path.join(self.dir, "push.token"), token)
        return "push.token"

    def start(self):
        self.config["hub"]["endpoint"] = self.hub.endpoint
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        self.proc = subprocess.Popen([self.program, "--config", self.config_path],
                                     stdout=self.log, stderr=self.log)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("adapter exited %d:\n%s" % (self.proc.returncode,
                                                                  self.log_text()))
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return b"event=started" in f.read()
        wait_for(ready, what="adapter start")
        return self

    def stop(self):
        """SIGTERM; a clean stop exits 0 (and, in a sanitizer build, reports
        no leak or error)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10 * SLOW)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        self.check_log()
        assert rc in (0, None), "adapter exited %s:\n%s" % (rc, self.log_text()[-3000:])
        return rc

    def check_log(self):
        text = self.log_text() if os.path.exists(self.log_path) else ""
        for bad in ("Sanitizer", "runtime error:"):
            assert bad not in text, "sanitizer report in the adapter's log:\n" + text[-6000:]

    def close(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.stop()
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            if hasattr(self, "log"):
                self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, token=True, content_type="application/json",
                headers=None):
        """One request to the adapter's http-listen side. Returns
        (status, headers (lower-case names), parsed JSON body or raw bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.listen_port, timeout=10 * SLOW)
        h = dict(headers or {})
        if token is True:
            token = self.listen_token
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = content_type
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return r.status, hdrs, parsed

    def ctl(self, *args):
        return subprocess.run([self.program, "--config", self.config_path, *args],
                              capture_output=True, text=True, timeout=30 * SLOW)

    def failed(self):
        r = self.ctl("failed", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
