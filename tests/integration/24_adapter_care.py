#!/usr/bin/python3
"""adapter-care against the real hub and a real local HTTP endpoint: a
referral arrives at the care provider as a CloudEvent in structured mode
(exact attributes and headers); its accept / decline / completed messages
become the referral's answers at the hub; malformed messages get a 4xx and
are never forwarded; a failing endpoint is retried, the delivery staying
unconfirmed at the hub until the care provider took it.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SLOW, main  # noqa: E402
from adapter_http_util import (OFFER_TYPE, PREFIX, HttpAdapter, Receiver,  # noqa: E402
                               deliveries_for, events_of_type, make_pki, new_hub, police_signal,
                               referrals_for, wait_for)

TOKEN = "veilig-thuis-intake-endpoint-token-0123456789abcdef"
PARTNER = "veilig-thuis"


class Care(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.receiver = Receiver(token=TOKEN, default=(202, {}))
        a = HttpAdapter(self.hub, "care", PARTNER, listen={})
        a.config["transports"]["http-push"] = {
            "url": self.receiver.url("/intake/cloudevents"), "token_file": a.push_token(TOKEN),
            "status_file": "data/push.status.json", "timeout_ms": 2000,
            "backoff_initial_ms": 200, "backoff_max_ms": 1000}
        self.adapter = a

    def tearDown(self):
        self.adapter.close()
        self.receiver.close()
        self.hub.close()

    def crisis_minor(self, n=1):
        for _ in range(n):
            police_signal(self.hub, urgentie="crisis", minderjarig=True,
                          vormenVanUitbuiting=["seksueel"], geslacht="vrouw", nationaliteit="NL",
                          omschrijving="Tijdens controle in hotel aangetroffen.",
                          toestemming={"registratieCoMensha": False, "delenMetZorg": True})
        return [r[0] for r in wait_for(lambda: len(referrals_for(self.hub, PARTNER)) >= n
                                       and referrals_for(self.hub, PARTNER), what="referrals")]

    def test_cloudevent_structured_mode(self):
        self.adapter.start()
        ref = self.crisis_minor()[0]
        wait_for(lambda: self.receiver.count() >= 1, what="CloudEvent")
        req = self.receiver.requests[0]
        self.assertEqual(req["headers"]["content-type"],
                         "application/cloudevents+json; charset=utf-8")
        self.assertEqual(req["headers"]["authorization"], "Bearer " + TOKEN)
        ce = json.loads(req["body"])
        delivery = deliveries_for(self.hub, PARTNER)[0]
        self.assertEqual(set(ce), {"specversion", "id", "source", "type", "time", "subject",
                                   "datacontenttype", "dataschema", "data"})
        self.assertEqual(ce["specversion"], "1.0")
        self.assertEqual(ce["id"], delivery[0])
        self.assertEqual(ce["source"], "urn:ketenhub:hub")
        self.assertEqual(ce["type"], OFFER_TYPE)
        self.assertEqual(ce["subject"], ref)
        self.assertEqual(ce["datacontenttype"], "application/json")
        self.assertEqual(ce["dataschema"],
                         "https://ketenhub.nl/schemas/v1/" + OFFER_TYPE + ".json")
        self.assertRegex(ce["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        data = ce["data"]
        self.assertEqual(data["doorverwijzing"], ref)
        self.assertEqual(data["beleid"], "crisis")
        self.assertEqual(data["regel"], "crisis-minderjarige")
        self.assertEqual(set(data["termijnen"]), {"ontvangst", "besluit"})
        # The care profile: free text and consent yes, nationality no.
        self.assertEqual(data["signaal"]["omschrijving"], "Tijdens controle in hotel aangetroffen.")
        self.assertEqual(data["signaal"]["toestemming"]["delenMetZorg"], True)
        self.assertNotIn("nationaliteit", data["signaal"])
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="confirmed at the hub")

    def test_accept_decline_complete(self):
        a = self.adapter.start()
        refs = self.crisis_minor(2)
        wait_for(lambda: self.receiver.count() >= 2, what="two CloudEvents")
        status, _, body = a.request("POST", "/reacties", {"doorverwijzing": refs[0],
                                                          "actie": "accepteren"})
        self.assertEqual(status, 202, body)
        status, _, body = a.request("POST", "/reacties", {
            "doorverwijzing": refs[1], "actie": "afwijzen", "reden": "geen-capaciteit",
            "toelichting": "Opvang vol."})
        self.assertEqual(status, 202, body)

        def states():
            return dict(referrals_for(self.hub, PARTNER))
        wait_for(lambda: states() == {refs[0]: "geaccepteerd", refs[1]: "afgewezen"},
                 what="accepted and declined")
        status, _, body = a.request("POST", "/reacties", {
            "doorverwijzing": refs[0], "actie": "afronden", "uitkomst": "hulp-geboden",
            "tijdstip": "2026-12-20T16:00:00Z"})
        self.assertEqual(status, 202, body)
        wait_for(lambda: states()[refs[0]] == "afgerond", what="afgerond")
        self.assertEqual(events_of_type(self.hub, PREFIX + "afgerond"), 1)

    def test_malformed_messages_refused(self):
        a = self.adapter.start()
        ref = self.crisis_minor()[0]
        before = self.hub.count("SELECT count(*) FROM events")
        cases = [
            ({"doorverwijzing": ref, "actie": "afwijzen"}, 422, [("", "required")]),
            ({"doorverwijzing": ref, "actie": "akkoord"}, 422, [("/actie", "enum")]),
            ({"doorverwijzing": ref, "actie": "afwijzen", "reden": "te-druk"}, 422,
             [("/reden", "enum")]),
            ({"doorverwijzing": ref, "actie": "accepteren", "bsn": "123456782"}, 422,
             [("/bsn", "additionalProperties")]),
        ]
        for msg, want_status, want_errors in cases:
            status, hdrs, body = a.request("POST", "/reacties", msg)
            self.assertEqual(status, want_status, msg)
            self.assertEqual(hdrs["content-type"], "application/problem+json")
            self.assertEqual([(e["path"], e["keyword"]) for e in body["errors"]], want_errors)
            self.assertNotIn("123456782", json.dumps(body))
        status, _, _ = a.request("POST", "/reacties", {"doorverwijzing": ref, "actie": "accepteren"},
                                 token="a-token-of-another-care-provider-0000")
        self.assertEqual(status, 401)
        status, _, _ = a.request("POST", "/signalen", {"signaal": {}})
        self.assertEqual(status, 404)
        # An answer the hub refuses (a referral that is not this partner's)
        # passes the adapter's checks but lands in its failed list, not at the hub.
        other = "0190a3c2-7d1e-7b3a-9c2d-1a2b3c4d5e6f"
        status, _, _ = a.request("POST", "/reacties", {"doorverwijzing": other,
                                                       "actie": "accepteren"})
        self.assertEqual(status, 202)
        wait_for(lambda: a.failed()["failed"], what="hub rejection in the failed list")
        self.assertIn("referral", json.dumps(a.failed()["failed"]))
        time.sleep(0.3 * SLOW)
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), before)
        self.assertEqual(referrals_for(self.hub, PARTNER)[0][1], "aangeboden")

    def test_answer_taken_while_hub_down(self):
        """202 means stored: an answer posted while the hub is down reaches
        it once it is back, once."""
        a = self.adapter.start()
        ref = self.crisis_minor()[0]
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="delivered")
        endpoint = self.hub.endpoint
        self.hub.stop()
        status, _, body = a.request("POST", "/reacties", {"doorverwijzing": ref,
                                                          "actie": "accepteren"})
        self.assertEqual(status, 202, body)
        self.assertEqual(a.failed()["outbox"], 1)
        self.hub.start(listen=endpoint)
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "geaccepteerd", timeout=20,
                 what="accepted after the hub came back")
        wait_for(lambda: a.failed()["outbox"] == 0, what="outbox empty")
        self.assertEqual(events_of_type(self.hub, PREFIX + "geaccepteerd"), 1)

    def test_failures_retried_never_dropped(self):
        self.receiver.script = [(503, {}), (429, {"Retry-After": "1"}), (500, {})]
        self.adapter.start()
        self.crisis_minor()
        time.sleep(0.3 * SLOW)
        self.assertIsNone(deliveries_for(self.hub, PARTNER)[0][3])
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], timeout=20,
                 what="confirmed after retries")
        reqs = self.receiver.requests
        self.assertEqual(len(reqs), 4)
        self.assertEqual(len({json.loads(r["body"])["id"] for r in reqs}), 1)
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 0.95)


class CareMutualTls(unittest.TestCase):
    """The care provider's endpoint requires a client certificate (mutual
    TLS, no token): delivered with it, retried and never taken without it."""

    def setUp(self):
        self.hub = new_hub().start()
        self.pki = make_pki(os.path.join(self.hub.dir, "pki"))
        self.receiver = Receiver(default=(202, {}), tls=(
            self.pki["server.crt"], self.pki["server.key"], self.pki["ca.crt"]))
        self.adapter = HttpAdapter(self.hub, "care", PARTNER, listen={})

    def tearDown(self):
        self.adapter.close()
        self.receiver.close()
        self.hub.close()

    def push(self, with_client_cert):
        sec = {"url": self.receiver.url("/intake"), "ca_file": self.pki["ca.crt"],
               "status_file": "data/push.status.json", "backoff_initial_ms": 200,
               "backoff_max_ms": 1000}
        if with_client_cert:
            sec["client_cert_file"] = self.pki["client.crt"]
            sec["client_key_file"] = self.pki["client.key"]
        self.adapter.config["transports"]["http-push"] = sec

    def test_client_certificate_required(self):
        self.push(with_client_cert=False)
        a = self.adapter.start()
        police_signal(self.hub, urgentie="crisis", minderjarig=True)
        wait_for(lambda: a.log_text().count("event=push_retry") >= 2, timeout=15,
                 what="retries without a client certificate")
        self.assertEqual(self.receiver.count(), 0)
        self.assertIsNone(deliveries_for(self.hub, PARTNER)[0][3])
        a.stop()
        self.push(with_client_cert=True)
        a.start()
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], timeout=15,
                 what="confirmed over mutual TLS")
        self.assertEqual(self.receiver.count(), 1)
        self.assertEqual(self.receiver.requests[0]["client_cn"], "adapter-test")
        self.assertNotIn("authorization", self.receiver.requests[0]["headers"])


if __name__ == "__main__":
    main()
