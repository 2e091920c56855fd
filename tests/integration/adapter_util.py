"""Helpers for the adapter integration tests: a real hub (harness.Hub) with a
police partner, and a real bin/adapter-police process on a folder exchange.

The adapter gets its own key (ketenctl keygen), the hub's public key, its own
data folder and drop folder, all under the hub's temporary folder.
"""
import json
import os
import signal
import subprocess
import time

from harness import BIN, ROOT, SCHEMAS, SLOW, Hub, keygen

ADAPTER_POLICE = os.path.join(BIN, "adapter-police")
DATA = os.path.join(ROOT, "tests", "data", "adapters", "police")
SIGNAL_TYPE = "nl.mensenhandel.signalen.signaal-geregistreerd"

POLICE_PROFILE = ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente",
                  "indicatoren", "datumSignalering", "leeftijdsgroep", "geslacht",
                  "nationaliteit", "omschrijving"]

# Signals with urgentie crisis are referred to the police; the rest go to
# the coordinator (the harness adds "kenniscentrum").
HUB_CONFIG = {
    "policies": {"crisis": {"receipt": "PT15M", "decision": "PT4H"},
                 "standaard": {"receipt": "P1D", "decision": "P5D"}},
    "default_policy": "standaard",
    "profiles": {"police": POLICE_PROFILE},
    "routes": [
        {"name": "crisis-politie", "when": {"/urgentie": "crisis"},
         "to": [{"partner": "politie"}], "policy": "crisis"},
        {"name": "coordinator", "to": [{"role": "coordinator"}]},
    ],
    "delivery_ack_timeout_ms": 1000,
    "session_timeout_ms": 3000,
}
PARTNERS = [("politie", "police"), ("gemeente-enschede", "municipality")]
SOURCE = "urn:nld:oin:00000001003214345000:systeem:politie-test"


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    """Polls pred() until it is truthy; returns its value or raises."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for %s" % what)


def drop(folder, name, content):
    """Writes a file the way partners must: elsewhere (a .tmp name), then
    renamed into in/."""
    tmp = os.path.join(folder, "." + name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(folder, name))


class PoliceAdapter:
    """bin/adapter-police with its own config, keys and folders."""

    def __init__(self, hub, partner="politie", extra=None, drop_extra=None):
        self.hub = hub
        self.dir = os.path.join(hub.dir, "adapter-" + partner)
        os.makedirs(self.dir, exist_ok=True)
        self.drop = os.path.join(self.dir, "drop")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.drop, exist_ok=True)
        os.makedirs(self.data, exist_ok=True)
        self.key = hub.keys[partner]
        self.config_path = os.path.join(self.dir, "adapter.json")
        self.log_path = os.path.join(self.dir, "adapter.log")
        self.proc = None
        filedrop = {"dir": "drop", "scan_interval_ms": 50, "settle_ms": 300}
        filedrop.update(drop_extra or {})
        self.config = {
            "hub": {"endpoint": None, "public_key": os.path.join(hub.dir, "keys", "hub.pub"),
                    "key": self.key, "heartbeat_interval_ms": 500, "heartbeat_timeout_ms": 3000,
                    "ack_timeout_ms": 2000, "reconnect_min_ms": 50, "reconnect_max_ms": 500},
            "source": SOURCE,
            "data_dir": "data",
            "schemas": SCHEMAS,
            "log_level": "debug",
            "delivery_retry_min_ms": 100,
            "transports": {"filedrop": filedrop},
        }
        self.config.update(extra or {})

    def path(self, *parts):
        return os.path.join(self.drop, *parts)

    def write_config(self):
        self.config["hub"]["endpoint"] = self.hub.endpoint
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def start(self):
        self.write_config()
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()
        self.proc = subprocess.Popen([ADAPTER_POLICE, "--config", self.config_path],
                                     stdout=self.log, stderr=self.log)
        # Started once the filedrop folders exist and the log says so.
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
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10 * SLOW)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if hasattr(self, "log"):
            self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def drop_in(self, name, content):
        drop(self.path("in"), name, content)

    def listing(self, sub):
        try:
            return sorted(os.listdir(self.path(sub)))
        except FileNotFoundError:
            return []

    def out_files(self):
        """The complete files in out/ (a name starting with "." is one being
        written, by the filedrop rules)."""
        return [n for n in self.listing("out") if not n.startswith(".")]

    def ctl(self, *args):
        return subprocess.run([ADAPTER_POLICE, "--config", self.config_path, *args],
                              capture_output=True, text=True, timeout=30 * SLOW)

    def failed(self):
        r = self.ctl("failed", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def outbox_count(self):
        return self.failed()["outbox"]


def new_hub(**kw):
    return Hub(partners=kw.pop("partners", PARTNERS),
               extra_config=dict(kw.pop("extra_config", HUB_CONFIG)), **kw)


def hub_signals(hub, source=SOURCE):
    """(id, subject) of every signal the hub stored from this source."""
    con = hub.db()
    try:
        rows = con.execute("SELECT id FROM events WHERE source = ? AND type = ?",
                           (source, SIGNAL_TYPE)).fetchall()
        return [r[0] for r in rows]
    finally:
        con.close()


def hub_event_count(hub, source=SOURCE):
    return hub.count("SELECT count(*) FROM events WHERE source = ?", source)


def hub_distinct_event_count(hub, source=SOURCE):
    return hub.count("SELECT count(DISTINCT id) FROM events WHERE source = ?", source)
