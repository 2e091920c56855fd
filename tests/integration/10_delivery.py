"""Referrals end to end: routing, delivery with receipts, responses, data
minimisation, partners kept apart, and store-and-forward across absence."""
import json
import time
import unittest

from harness import (OFFER_TYPE, SLOW, Hub, Peer, main, make_event, response_event,
                     signal_data)

PARTNERS = [("politie", "police"), ("veilig-thuis", "care"), ("gemeente-enschede", "municipality"),
            ("comensha", "comensha"), ("kenniscentrum", "coordinator")]

CONFIG = {
    "policies": {"crisis": {"receipt": "PT15M", "decision": "PT4H"},
                 "standaard": {"receipt": "P1D", "decision": "P5D"}},
    "default_policy": "standaard",
    "municipalities": {"GM0153": "gemeente-enschede"},
    "profiles": {
        "police": ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente", "omschrijving"],
        "care": ["vormenVanUitbuiting", "urgentie", "minderjarig", "toestemming"],
        "municipality": ["vormenVanUitbuiting", "woongemeente"],
        "comensha": ["vormenVanUitbuiting", "minderjarig"],
        "coordinator": ["vormenVanUitbuiting", "urgentie", "minderjarig", "woongemeente",
                        "indicatoren", "toestemming", "omschrijving"],
    },
    "routes": [
        {"name": "crisis-minderjarige", "when": {"/urgentie": "crisis", "/minderjarig": True},
         "to": [{"partner": "veilig-thuis"}, {"partner": "politie"}], "policy": "crisis"},
        {"name": "woongemeente", "when": {"/woongemeente": {"present": True}},
         "to": [{"municipality_of": "/woongemeente"}]},
        {"name": "registratie", "when": {"/toestemming/registratieCoMensha": True},
         "to": [{"partner": "comensha"}]},
        {"name": "coordinator", "to": [{"role": "coordinator"}]},
    ],
    "delivery_ack_timeout_ms": 1000,
    "session_timeout_ms": 3000,
}


def crisis_signal():
    return make_event(signal_data(urgentie="crisis", minderjarig=True, woongemeente="GM0153",
                                  omschrijving="zeer vertrouwelijk", indicatoren=["loverboy-methode"]))


class Delivery(unittest.TestCase):
    def setUp(self):
        self.hub = Hub(partners=PARTNERS, extra_config=dict(CONFIG)).start()

    def tearDown(self):
        self.hub.close()

    def referrals(self):
        con = self.hub.db()
        try:
            return {r[0]: r[1:] for r in con.execute(
                "SELECT partner, id, state, policy, rule FROM referrals")}
        finally:
            con.close()

    def test_crisis_minor_signal_makes_the_referrals_the_rules_say(self):
        police = Peer(self.hub, "politie")
        ev = crisis_signal()
        self.assertEqual(police.request(ev)["status"], "accepted")
        refs = self.referrals()
        self.assertEqual(sorted(refs), ["gemeente-enschede", "kenniscentrum", "politie", "veilig-thuis"])
        self.assertEqual(refs["veilig-thuis"][2:], ("crisis", "crisis-minderjarige"))
        self.assertEqual(refs["politie"][2:], ("crisis", "crisis-minderjarige"))
        self.assertEqual(refs["gemeente-enschede"][2:], ("standaard", "woongemeente"))
        self.assertEqual(refs["kenniscentrum"][2:], ("standaard", "coordinator"))
        for partner, (ref_id, state, _, _) in refs.items():
            self.assertEqual(state, "aangeboden")
        import subprocess
        from harness import KETENCTL
        st = json.loads(subprocess.run([KETENCTL, "--config", self.hub.config_path, "status", "--json"],
                                       capture_output=True, text=True, check=True).stdout)
        self.assertEqual(st["referrals_by_state"], {"aangeboden": 4})
        self.assertEqual(st["deliveries_by_state"], {"pending": 4})

    def test_each_peer_gets_its_referral_with_only_its_profile_fields(self):
        police = Peer(self.hub, "politie")
        ev = crisis_signal()
        police.request(ev)
        refs = self.referrals()
        expect = {pid: set(CONFIG["profiles"][role]) for pid, role in PARTNERS}
        for pid in ["veilig-thuis", "gemeente-enschede", "kenniscentrum", "politie"]:
            peer = police if pid == "politie" else Peer(self.hub, pid)
            peer.heartbeat()
            offer = peer.wait_delivery()[0]
            self.assertEqual(offer["type"], OFFER_TYPE)
            self.assertEqual(offer["data"]["doorverwijzing"], refs[pid][0])
            self.assertEqual(offer["subject"], refs[pid][0])
            sent = set(offer["data"]["signaal"])
            present = {k for k in expect[pid] if k in ev["data"]}
            self.assertEqual(sent, present, pid)
            for k in sent:
                self.assertEqual(offer["data"]["signaal"][k], ev["data"][k])
            if pid == "gemeente-enschede":
                self.assertNotIn("omschrijving", json.dumps(offer))
            self.assertEqual(set(offer["data"]["termijnen"]), {"ontvangst", "besluit"})
            peer.receipt(offer["id"])
        time.sleep(0.5 * SLOW)
        self.assertEqual(self.hub.count("SELECT count(*) FROM deliveries WHERE state = 'confirmed'"), 4)

    def test_receipt_and_responses_move_the_state_machine(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        care = Peer(self.hub, "veilig-thuis")
        care.heartbeat()
        offer = care.wait_delivery()[0]
        care.receipt(offer["id"])
        ref = offer["data"]["doorverwijzing"]
        self.assertEqual(care.request(response_event("ontvangen", ref))["status"], "accepted")
        r = care.request(response_event("afgerond", ref))
        self.assertEqual(r["status"], "rejected")
        self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("/type", "state")])
        self.assertIn('"ontvangen"', r["errors"][0]["message"])
        self.assertIn('"afgerond"', r["errors"][0]["message"])
        self.assertEqual(care.request(response_event("geaccepteerd", ref))["status"], "accepted")
        self.assertEqual(care.request(response_event("afgerond", ref, uitkomst="hulp-geboden"))["status"],
                         "accepted")
        con = self.hub.db()
        state, rdue, ddue = con.execute(
            "SELECT state, receipt_due_ms, decision_due_ms FROM referrals WHERE id = ?", (ref,)).fetchone()
        hist = con.execute("SELECT event, from_state, to_state, actor FROM referral_history "
                           "WHERE referral = ? ORDER BY seq", (ref,)).fetchall()
        con.close()
        self.assertEqual((state, rdue, ddue), ("afgerond", None, None))
        self.assertEqual(hist, [("aangeboden", None, "aangeboden", "hub"),
                                ("ontvangen", "aangeboden", "ontvangen", "veilig-thuis"),
                                ("geaccepteerd", "ontvangen", "geaccepteerd", "veilig-thuis"),
                                ("afgerond", "geaccepteerd", "afgerond", "veilig-thuis")])

    def test_decline_needs_a_reason(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        ref = self.referrals()["gemeente-enschede"][0]
        muni = Peer(self.hub, "gemeente-enschede")
        r = muni.request(response_event("afgewezen", ref))
        self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("/data", "required")])
        r = muni.request(response_event("afgewezen", ref, reden="buiten-werkgebied"))
        self.assertEqual(r["status"], "accepted")
        self.assertEqual(self.referrals()["gemeente-enschede"][1], "afgewezen")

    def test_a_partner_cannot_act_on_another_partners_referral(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        refs = self.referrals()
        care = Peer(self.hub, "veilig-thuis")
        before = self.hub.count("SELECT count(*) FROM events")
        other = care.request(response_event("geaccepteerd", refs["politie"][0]))
        unknown = care.request(response_event("geaccepteerd", "00000000-0000-4000-8000-000000000000"))
        for r in (other, unknown):
            self.assertEqual(r["status"], "rejected")
            self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]],
                             [("/data/doorverwijzing", "referral")])
        # The same words either way: nothing tells whether the referral exists.
        self.assertEqual(other["errors"][0]["message"], unknown["errors"][0]["message"])
        self.assertEqual(self.referrals()["politie"][1], "aangeboden")
        self.assertEqual(self.hub.count("SELECT count(*) FROM events"), before)
        con = self.hub.db()
        reasons = [json.loads(d)["reason"] for (d,) in con.execute(
            "SELECT detail FROM audit WHERE actor = 'veilig-thuis' AND outcome = 'rejected'")]
        con.close()
        self.assertEqual(sorted(reasons), ["referral_of_other_partner", "referral_unknown"])
        # And its session never carried the police's referral.
        care.heartbeat()
        for offer in care.wait_delivery():
            self.assertNotEqual(offer["data"]["doorverwijzing"], refs["politie"][0])

    def test_offline_partner_gets_its_referral_when_it_connects(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        time.sleep(0.5 * SLOW)  # nobody from the municipality is connected
        muni = Peer(self.hub, "gemeente-enschede")
        muni.heartbeat()
        offer = muni.wait_delivery()[0]
        self.assertEqual(offer["data"]["doorverwijzing"], self.referrals()["gemeente-enschede"][0])

    def test_unconfirmed_delivery_comes_again_with_the_same_id_after_reconnect(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        muni = Peer(self.hub, "gemeente-enschede")
        muni.heartbeat()
        first = muni.wait_delivery()[0]
        muni.sock.close(linger=0)  # gone before confirming
        self.hub.sockets.remove(muni.sock)
        again = Peer(self.hub, "gemeente-enschede")
        again.heartbeat()
        second = again.wait_delivery(timeout=10)[0]
        self.assertEqual(second["id"], first["id"])
        again.receipt(second["id"])
        time.sleep(0.3 * SLOW)
        self.assertEqual(self.hub.count(
            "SELECT state FROM deliveries WHERE event_id = ?", first["id"]), "confirmed")

    def test_unconfirmed_delivery_is_resent_then_dead_lettered(self):
        self.hub.stop()
        self.hub.rewrite_config(delivery_ack_timeout_ms=200, delivery_max_attempts=3,
                                delivery_backoff_max_ms=400)
        self.hub.start()
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        muni = Peer(self.hub, "gemeente-enschede")
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            muni.heartbeat()
            muni.pump(0.2)
            if self.hub.count("SELECT count(*) FROM deliveries WHERE state = 'dead' "
                              "AND partner = 'gemeente-enschede'"):
                break
        ids = [d["id"] for d in muni.deliveries]
        self.assertEqual(len(ids), 3, "three attempts with the same event id")
        self.assertEqual(len(set(ids)), 1)
        con = self.hub.db()
        row = con.execute("SELECT state, attempts, dead_reason FROM deliveries WHERE event_id = ?",
                          (ids[0],)).fetchone()
        con.close()
        self.assertEqual(row[:2], ("dead", 3))
        self.assertIn("3 attempts", row[2])
        self.assertIn("event=dead_letter partner=gemeente-enschede", self.hub.log_text())

    def test_silent_session_is_dropped_and_its_delivery_goes_back_to_the_queue(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        muni = Peer(self.hub, "gemeente-enschede")
        muni.heartbeat()
        first = muni.wait_delivery()[0]
        time.sleep(3.5)  # session_timeout_ms 3000 without a frame
        self.assertIn("event=session_closed partner=gemeente-enschede reason=silent",
                      self.hub.log_text())
        muni.heartbeat()  # the same socket comes back: a new session
        muni.deliveries.clear()
        again = muni.wait_delivery(timeout=5)[0]
        self.assertEqual(again["id"], first["id"])

    def test_heartbeat_is_answered(self):
        care = Peer(self.hub, "veilig-thuis")
        care.heartbeat(41)
        deadline = time.time() + 3 * SLOW
        while {"heartbeat": 41} not in care.replies and time.time() < deadline:
            care.pump(0.1)
        self.assertIn({"heartbeat": 41}, care.replies)

    def test_kill9_between_delivery_and_receipt_loses_no_referral(self):
        police = Peer(self.hub, "politie")
        police.request(crisis_signal())
        muni = Peer(self.hub, "gemeente-enschede")
        muni.heartbeat()
        first = muni.wait_delivery()[0]
        self.hub.kill9()
        self.hub.start()
        again = Peer(self.hub, "gemeente-enschede")
        again.heartbeat()
        second = again.wait_delivery(timeout=10)[0]
        self.assertEqual(second["id"], first["id"])
        self.assertEqual(second["data"], first["data"])


if __name__ == "__main__":
    main()
