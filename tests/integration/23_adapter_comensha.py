#!/usr/bin/python3
"""adapter-comensha against the real hub and a real local HTTP endpoint: a
referral with consent becomes exactly the documented registration record;
CoMensha's 2xx becomes doorverwijzing-ontvangen at the hub; without consent
nothing is sent; 500 / 429 / endpoint down are retried and 410 retires the
endpoint, the hub's delivery staying unconfirmed until CoMensha took it.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SLOW, main  # noqa: E402
from adapter_http_util import (HUB_CONFIG, PARTNERS, PREFIX, HttpAdapter,  # noqa: E402
                               Receiver, deliveries_for, events_of_type, free_port,
                               police_signal, referrals_for, wait_for)
from harness import Hub  # noqa: E402

TOKEN = "comensha-registration-endpoint-token-0123456789abcdef"
PARTNER = "comensha"
ORG = "Regionaal kenniscentrum mensenhandel Twente"


def comensha_hub():
    cfg = json.loads(json.dumps(HUB_CONFIG))
    # A test-only rule that routes to CoMensha WITHOUT consent, to show the
    # adapter's own check (the Twente rules never do this).
    cfg["routes"].insert(0, {"name": "test-zonder-toestemming",
                             "when": {"/vormenVanUitbuiting": {"contains": "orgaanverwijdering"}},
                             "to": [{"partner": "comensha"}]})
    return Hub(partners=PARTNERS, extra_config=cfg)


class CoMensha(unittest.TestCase):
    def setUp(self):
        self.hub = comensha_hub().start()
        self.receiver = Receiver(token=TOKEN, default=(201, {}))
        self.adapter = None

    def tearDown(self):
        if self.adapter:
            self.adapter.close()
        self.receiver.close()
        self.hub.close()

    def start_adapter(self, url=None):
        a = HttpAdapter(self.hub, "comensha", PARTNER,
                        mapping={"meldende_organisatie": ORG, "legal_duty_roles": ["police"]})
        a.config["transports"]["http-push"] = {
            "url": url or self.receiver.url("/registraties"), "token_file": a.push_token(TOKEN),
            "receipt_event": True, "status_file": "data/push.status.json", "timeout_ms": 2000,
            "backoff_initial_ms": 200, "backoff_max_ms": 1000}
        self.adapter = a.start()
        return a

    def consent_signal(self, **extra):
        data = dict(vormenVanUitbuiting=["seksueel"], urgentie="normaal", minderjarig=False,
                    woongemeente="GM0153", leeftijdsgroep="18-23", geslacht="vrouw",
                    nationaliteit="RO", datumSignalering="2026-11-27",
                    indicatoren=["loverboy-methode"], omschrijving="Via een datingapp benaderd.",
                    toestemming={"registratieCoMensha": True})
        data.update(extra)
        police_signal(self.hub, **data)
        return wait_for(lambda: referrals_for(self.hub, PARTNER), what="referral")[0][0]

    def test_registration_record_and_receipt(self):
        self.start_adapter()
        ref = self.consent_signal()
        wait_for(lambda: self.receiver.count() >= 1, what="registration")
        req = self.receiver.requests[0]
        self.assertEqual(json.loads(req["body"]), {
            "registratieKenmerk": ref, "registratietype": "mogelijk-slachtoffer",
            "grondslag": "toestemming", "vormenVanUitbuiting": ["seksueel"], "minderjarig": False,
            "leeftijdsgroep": "18-23", "geslacht": "vrouw", "nationaliteit": "RO",
            "meldendeOrganisatie": ORG, "datumSignalering": "2026-11-27"})
        # Nothing beyond what registration needs (no place, text, indicators).
        for value in (b"GM0153", b"datingapp", b"loverboy"):
            self.assertNotIn(value, req["body"])
        self.assertEqual(req["path"], "/registraties")
        self.assertEqual(req["headers"]["authorization"], "Bearer " + TOKEN)
        self.assertEqual(req["headers"]["content-type"], "application/json")
        # The 201 is CoMensha's receipt: doorverwijzing-ontvangen at the hub.
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "ontvangen", what="ontvangen")
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="delivery confirmed")
        self.assertEqual(events_of_type(self.hub, PREFIX + "ontvangen"), 1)
        self.assertEqual(self.receiver.count(), 1)

    def test_no_consent_nothing_sent(self):
        # Reported by a municipality: no legal duty to report, no consent.
        a = self.start_adapter()
        police_signal(self.hub, sender="gemeente-enschede",
                      vormenVanUitbuiting=["orgaanverwijdering"],
                      toestemming={"registratieCoMensha": False}, geslacht="man")
        ref = wait_for(lambda: referrals_for(self.hub, PARTNER), what="referral")[0][0]
        # The adapter takes the offer (receipt to the hub) but registers nothing.
        wait_for(lambda: deliveries_for(self.hub, PARTNER)[0][3], what="delivery confirmed")
        wait_for(lambda: "event=registration_withheld referral=" + ref in a.log_text(),
                 what="withheld log line")
        time.sleep(0.5 * SLOW)
        self.assertEqual(self.receiver.count(), 0)
        self.assertEqual(referrals_for(self.hub, PARTNER)[0][1], "aangeboden")
        self.assertEqual(events_of_type(self.hub, PREFIX + "ontvangen"), 0)

    def test_police_signal_without_consent_registered_under_duty_to_report(self):
        # The same test-only rule, but the police reported it: the offer says
        # melder.rol police, which is in legal_duty_roles.
        self.start_adapter()
        police_signal(self.hub, vormenVanUitbuiting=["orgaanverwijdering"],
                      toestemming={"registratieCoMensha": False}, geslacht="man")
        ref = wait_for(lambda: referrals_for(self.hub, PARTNER), what="referral")[0][0]
        wait_for(lambda: self.receiver.count() >= 1, what="registration")
        body = json.loads(self.receiver.requests[0]["body"])
        self.assertEqual(body["registratieKenmerk"], ref)
        self.assertEqual(body["grondslag"], "meldplicht")
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "ontvangen", what="ontvangen")

    def test_500_and_429_retried_one_registration_one_receipt(self):
        self.receiver.script = [(500, {}), (429, {"Retry-After": "1"})]
        self.start_adapter()
        self.consent_signal()
        wait_for(lambda: referrals_for(self.hub, PARTNER)[0][1] == "ontvangen", timeout=20,
                 what="ontvangen after retries")
        reqs = self.receiver.requests
        self.assertEqual(len(reqs), 3)
        self.assertEqual(len({r["body"] for r in reqs}), 1)  # the same record each time
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 0.95)  # Retry-After: 1
        time.sleep(1.0 * SLOW)
        self.assertEqual(events_of_type(self.hub, PREFIX + "ontvangen"), 1)

    def test_endpoint_down_delivery_waits(self):
        port = free_port()  # nothing listens there
        a = self.start_adapter(url="http://127.0.0.1:%d/registraties" % port)
        self.consent_signal()
        wait_for(lambda: a.log_text().count("event=push_retry") >= 2, timeout=15,
                 what="two retries")
        self.assertIsNone(deliveries_for(self.hub, PARTNER)[0][3])
        self.assertEqual(referrals_for(self.hub, PARTNER)[0][1], "aangeboden")
        self.assertEqual(json.load(open(a.status_file))["state"], "backoff")

    def test_410_retires(self):
        self.receiver.default = (410, {})
        a = self.start_adapter()
        self.consent_signal()
        wait_for(lambda: "event=push_endpoint_retired" in a.log_text(), what="retired")
        self.assertEqual(json.load(open(a.status_file))["state"], "retired")
        time.sleep(2.5 * SLOW)
        self.assertEqual(self.receiver.count(), 1)
        self.assertIsNone(deliveries_for(self.hub, PARTNER)[0][3])
        self.assertEqual(events_of_type(self.hub, PREFIX + "ontvangen"), 0)


if __name__ == "__main__":
    main()
