#!/usr/bin/python3
"""adapter-municipality against the real hub and a real local HTTP endpoint:
a referral becomes a VNG-style notification (exact body and headers), the
municipality fetches the details with GET on resourceUrl, answers and signals
come in over http-listen and reach the hub; malformed input gets a clear 4xx
and is never forwarded; endpoint faults are retried or raised, never dropped.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SLOW, main  # noqa: E402
from adapter_http_util import (OFFER_TYPE, PREFIX, SIGNAL_TYPE, HttpAdapter,  # noqa: E402
                               Receiver, deliveries_for, events_of_type, new_hub,
                               police_signal, referrals_for, wait_for)

PUSH_TOKEN = "municipality-notification-endpoint-token-0123456789"
PARTNER = "gemeente-enschede"


class Municipality(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.receiver = Receiver(token=PUSH_TOKEN)
        self.adapter = None

    def tearDown(self):
        if self.adapter:
            self.adapter.close()
        self.receiver.close()
        self.hub.close()

    def start_adapter(self, push_extra=None, url_path="/api/notificaties"):
        a = HttpAdapter(self.hub, "municipality", PARTNER, push={}, listen={
            "post_paths": ["/reacties", "/signalen"], "resource_path": "/doorverwijzingen/",
            "max_body": 4096})
        push = {"url": self.receiver.url(url_path), "token_file": a.push_token(PUSH_TOKEN),
                "store_resource": True, "status_file": "data/push.status.json",
                "timeout_ms": 2000, "backoff_initial_ms": 200, "backoff_max_ms": 1000}
        push.update(push_extra or {})
        a.config["transports"]["http-push"] = push
        self.base = "http://127.0.0.1:%d/doorverwijzingen/" % a.listen_port
        a.config["mapping"] = {"resource_url": self.base}
        self.adapter = a.start()
        return a

    def referral(self):
        police_signal(self.hub, urgentie="hoog", woongemeente="GM0153",
                      leeftijdsgroep="18-23", omschrijving="Werkt 80 uur per week.")
        refs = wait_for(lambda: referrals_for(self.hub, PARTNER), what="referral")
        return refs[0][0]

    def test_referral_notified_fetched_and_answered(self):
        a = self.start_adapter()
        ref = self.referral()
        wait_for(lambda: self.receiver.count() >= 1, what="notification")
        req = self.receiver.requests[0]
        note = json.loads(req["body"])
        url = self.base + ref
        # The exact notification: where to fetch, policy and deadlines only.
        self.assertEqual(set(note), {"kanaal", "hoofdObject", "resource", "resourceUrl", "actie",
                                     "aanmaakdatum", "kenmerken"})
        self.assertEqual(note["kanaal"], "doorverwijzingen")
        self.assertEqual(note["hoofdObject"], url)
        self.assertEqual(note["resourceUrl"], url)
        self.assertEqual(note["resource"], "doorverwijzing")
        self.assertEqual(note["actie"], "create")
        self.assertRegex(note["aanmaakdatum"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(set(note["kenmerken"]), {"beleid", "ontvangstUiterlijk",
                                                  "besluitUiterlijk"})
        self.assertEqual(note["kenmerken"]["beleid"], "standaard")
        # No personal data in the notification: no signal value appears.
        for value in (b"GM0153", b"arbeid", b"18-23", b"onderbetaling", b"80 uur"):
            self.assertNotIn(value, req["body"])
        self.assertEqual(req["path"], "/api/notificaties")
        self.assertEqual(req["headers"]["authorization"], "Bearer " + PUSH_TOKEN)
        self.assertEqual(req["headers"]["content-type"], "application/json")
        dels = deliveries_for(self.hub, PARTNER)
        self.assertEqual(req["headers"]["webhook-id"], dels[0][0])
        # The hub's delivery is confirmed once the municipality took it.
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="receipt at the hub")

        # The municipality fetches the details with its token.
        status, hdrs, doc = a.request("GET", "/doorverwijzingen/" + ref)
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("application/json"))
        self.assertEqual(hdrs.get("cache-control"), "no-store")
        self.assertEqual(doc["doorverwijzing"], ref)
        self.assertEqual(doc["beleid"], "standaard")
        self.assertEqual(doc["signaal"]["woongemeente"], "GM0153")
        self.assertEqual(doc["signaal"]["leeftijdsgroep"], "18-23")
        self.assertNotIn("omschrijving", doc["signaal"])  # not in the municipality profile
        status, _, _ = a.request("GET", "/doorverwijzingen/" + ref, token="wrong-token-" + "x" * 30)
        self.assertEqual(status, 401)
        status, _, body = a.request("GET", "/doorverwijzingen/0190a3c2-0000-7000-8000-000000000000")
        self.assertEqual(status, 404)
        self.assertEqual(body["status"], 404)

        # Its answers reach the hub and move the referral.
        status, _, body = a.request("POST", "/reacties",
                                    {"doorverwijzing": ref, "reactie": "ontvangen"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body, {"status": 202, "events": 1})
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "ontvangen", what="ontvangen")
        status, _, body = a.request("POST", "/reacties",
                                    {"doorverwijzing": ref, "reactie": "geaccepteerd",
                                     "toelichting": "Casusregisseur toegewezen."})
        self.assertEqual(status, 202, body)
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "geaccepteerd",
                 what="geaccepteerd")
        # The same message again is the same event: no second transition.
        status, _, body = a.request("POST", "/reacties",
                                    {"doorverwijzing": ref, "reactie": "geaccepteerd",
                                     "toelichting": "Casusregisseur toegewezen."})
        self.assertEqual(status, 202)
        time.sleep(0.5 * SLOW)
        self.assertEqual(events_of_type(self.hub, PREFIX + "geaccepteerd"), 1)

    def test_municipality_signal_reaches_hub(self):
        a = self.start_adapter()
        before = events_of_type(self.hub, SIGNAL_TYPE)
        sig = {"vormenVanUitbuiting": ["arbeid"], "urgentie": "normaal", "minderjarig": False,
               "indicatoren": ["slechte-huisvesting"], "toestemming": {"registratieCoMensha": False}}
        status, _, body = a.request("POST", "/signalen", {"kenmerk": "WMO-2026-0042", "signaal": sig})
        self.assertEqual(status, 202, body)
        wait_for(lambda: events_of_type(self.hub, SIGNAL_TYPE) == before + 1, what="signal at hub")
        con = self.hub.db()
        try:
            row = con.execute("SELECT partner, source FROM events WHERE type = ? ORDER BY seq "
                              "DESC LIMIT 1", (SIGNAL_TYPE,)).fetchone()
        finally:
            con.close()
        self.assertEqual(row, (PARTNER, a.config["source"]))

    def test_malformed_input_refused_and_never_forwarded(self):
        a = self.start_adapter()
        ref = "0190a3c2-7d1e-7b3a-9c2d-1a2b3c4d5e6f"
        events_before = self.hub.count("SELECT count(*) FROM events")
        # A decline without a reason: 422 with the error at its pointer.
        status, hdrs, body = a.request("POST", "/reacties",
                                       {"doorverwijzing": ref, "reactie": "afgewezen", "naam": "X"})
        self.assertEqual(status, 422)
        self.assertEqual(hdrs["content-type"], "application/problem+json")
        self.assertEqual(body["status"], 422)
        self.assertEqual([(e["path"], e["keyword"]) for e in body["errors"]],
                         [("/naam", "additionalProperties"), ("", "required")])
        self.assertNotIn("X", json.dumps([e["message"] for e in body["errors"]]).replace("\\", ""))
        # Signal fields are checked against the hub's schema: pointers into the event.
        status, _, body = a.request("POST", "/signalen", {"signaal": {"urgentie": "spoed"}})
        self.assertEqual(status, 422)
        paths = {(e["path"], e.get("item")) for e in body["errors"]}
        self.assertIn(("/data/urgentie", "/signaal"), paths)
        # Not JSON: 400.
        status, _, body = a.request("POST", "/reacties", b"{\"doorverwijzing\": ")
        self.assertEqual(status, 400)
        self.assertEqual(body["errors"][0]["keyword"], "json")
        # Wrong media type, method, path, size, token.
        status, _, _ = a.request("POST", "/reacties", b"a=b", content_type="text/plain")
        self.assertEqual(status, 415)
        status, hdrs, _ = a.request("GET", "/reacties")
        self.assertEqual(status, 405)
        self.assertEqual(hdrs["allow"], "POST")
        status, _, _ = a.request("POST", "/onbekend", {})
        self.assertEqual(status, 404)
        status, _, body = a.request("POST", "/reacties", {"toelichting": "x" * 5000})
        self.assertEqual(status, 413)
        # A chunked body (no Content-Length) that outgrows max_body: 413 too.
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", a.listen_port, timeout=10 * SLOW)
        c.request("POST", "/reacties", body=iter([b"{\"toelichting\": \"", b"y" * 5000, b"\"}"]),
                  headers={"Authorization": "Bearer " + a.listen_token,
                           "Content-Type": "application/json"}, encode_chunked=True)
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        status, hdrs, body = a.request("POST", "/reacties", {"doorverwijzing": ref,
                                                             "reactie": "ontvangen"},
                                       token="not-the-token-of-this-municipality-000")
        self.assertEqual(status, 401)
        self.assertTrue(hdrs["www-authenticate"].startswith("Bearer"))
        status, _, _ = a.request("POST", "/reacties", {"doorverwijzing": ref}, token=None)
        self.assertEqual(status, 401)
        time.sleep(0.5 * SLOW)
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), events_before)
        self.assertEqual(a.failed()["outbox"], 0)
        # No personal data or tokens in the adapter's log.
        log = a.log_text()
        self.assertNotIn(a.listen_token, log)
        self.assertNotIn(PUSH_TOKEN, log)

    def test_endpoint_down_then_500_then_up(self):
        """Down (connection refused), then 500 twice: retried with backoff,
        delivered once, the hub's delivery unconfirmed until then."""
        self.receiver.script = [(500, {}), (500, {})]
        a = self.start_adapter(url_path="/api/notificaties")
        # First the endpoint is down: point at a closed port.
        a.stop()
        a.config["transports"]["http-push"]["url"] = "http://127.0.0.1:%d/x" % _closed_port()
        a.start()
        ref = self.referral()
        wait_for(lambda: "event=push_retry" in a.log_text(), what="retry on refused connection")
        time.sleep(1.0 * SLOW)
        self.assertIsNone(deliveries_for(self.hub, PARTNER)[0][3])
        st = json.load(open(a.status_file))
        self.assertEqual(st["state"], "backoff")
        # Now up, answering 500 twice and then 200.
        a.stop()
        a.config["transports"]["http-push"]["url"] = self.receiver.url("/api/notificaties")
        a.start()
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], timeout=20,
                 what="confirmed after retries")
        reqs = self.receiver.requests
        self.assertEqual(len(reqs), 3)
        self.assertTrue(all(json.loads(r["body"])["resourceUrl"].endswith(ref) for r in reqs))
        # Backoff: 200 ms, then 400 ms at least between the attempts.
        self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], 0.18)
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 0.36)
        self.assertEqual(json.load(open(a.status_file))["state"], "active")

    def test_429_retry_after_is_honoured(self):
        self.receiver.script = [(429, {"Retry-After": "2"})]
        self.start_adapter()
        self.referral()
        wait_for(lambda: self.receiver.count() >= 2, timeout=15, what="second attempt")
        reqs = self.receiver.requests
        self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], 1.9)
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="confirmed")

    def test_410_retires_the_endpoint_and_keeps_the_delivery(self):
        self.receiver.default = (410, {})
        a = self.start_adapter()
        self.referral()
        wait_for(lambda: "event=push_endpoint_retired" in a.log_text(), what="retired")
        st = json.load(open(a.status_file))
        self.assertEqual(st["state"], "retired")
        self.assertEqual(st["last_status"], 410)
        time.sleep(2.5 * SLOW)  # the hub offers it again meanwhile
        self.assertEqual(self.receiver.count(), 1)  # never sent again
        dels = deliveries_for(self.hub, PARTNER)
        self.assertIsNone(dels[0][3])  # not confirmed at the hub
        failed = a.failed()["failed"]
        self.assertTrue(any("410" in json.dumps(f) for f in failed), failed)
        # A restart stays retired until the status file is removed.
        a.stop()
        self.receiver.default = (200, {})
        a.start()
        time.sleep(1.5 * SLOW)
        self.assertEqual(self.receiver.count(), 1)
        a.stop()
        os.unlink(a.status_file)
        a.start()
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], timeout=15,
                 what="confirmed after reactivation")
        self.assertEqual(self.receiver.count(), 2)


class ExampleConfigs(unittest.TestCase):
    """config/adapters/<kind>.example.json pass --check-config once the files
    they name exist; a listen address outside loopback without TLS does not."""

    def test_examples_check(self):
        import shutil
        import subprocess
        import tempfile
        from harness import BIN, KETENCTL, ROOT
        with tempfile.TemporaryDirectory(prefix="ketenhub-it-") as d:
            os.makedirs(os.path.join(d, "config", "adapters"))
            os.makedirs(os.path.join(d, "run", "keys"))
            os.symlink(os.path.join(ROOT, "schemas"), os.path.join(d, "schemas"))
            for p in ("hub", "gemeente-enschede", "comensha", "veilig-thuis-twente"):
                subprocess.run([KETENCTL, "keygen", os.path.join(d, "run", "keys", p)],
                               check=True, capture_output=True)
                os.makedirs(os.path.join(d, "run", "adapter-" + p), exist_ok=True)
            for kind in ("municipality", "comensha", "care"):
                src = os.path.join(ROOT, "config", "adapters", kind + ".example.json")
                dst = os.path.join(d, "config", "adapters", kind + ".example.json")
                shutil.copy(src, dst)
                r = subprocess.run([os.path.join(BIN, "adapter-" + kind), "--check-config", dst],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, kind + ": " + r.stdout + r.stderr)
                self.assertIn("config ok", r.stdout + r.stderr)
            cfg = json.load(open(dst))
            cfg["transports"]["http-listen"]["listen"] = "0.0.0.0:8083"
            cfg["transports"]["http-push"]["url"] = "http://care.example/intake"
            json.dump(cfg, open(dst, "w"))
            r = subprocess.run([os.path.join(BIN, "adapter-care"), "--check-config", dst],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("/transports/http-listen/listen", r.stderr)
            self.assertIn("/transports/http-push/url", r.stderr)


def _closed_port():
    from adapter_http_util import free_port
    return free_port()


if __name__ == "__main__":
    main()
