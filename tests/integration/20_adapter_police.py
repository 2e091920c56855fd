"""adapter-police end to end: the real bin/adapter-police on a drop folder,
against the real hub.

- police JSON and CSV files in in/ become signals in the hub (and the files
  move to done/);
- a referral the hub makes for the police appears in out/ as the documented
  case table record, exactly, and is confirmed to the hub;
- the police's response files move the referral through its states;
- malformed files go to failed/ with NAME.error.json naming the fault and
  never reach the hub; what the hub itself rejects is listed by `failed`;
- the same file dropped twice is sent once; a key the hub refuses is logged
  and what was handed in waits in the outbox; --check-config exits 0/1
  naming each fault by its JSON pointer.
"""
import datetime
import json
import os
import shutil
import subprocess
import time
import unittest
import uuid

from adapter_util import (ADAPTER_POLICE, DATA, SOURCE, PoliceAdapter, hub_event_count, new_hub,
                          wait_for)
from harness import KETENCTL, SLOW, Peer, keygen, main, make_event, signal_data

OFFER_FIELDS = ["soort", "doorverwijzing", "aanbod", "aangeboden", "beleid", "regel",
                "reageerVoor", "signaal"]


def ctl_json(hub, *args):
    r = subprocess.run([KETENCTL, "--config", hub.config_path, *args, "--json"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def police_signal(ref, **fields):
    doc = {"referentie": ref, "vormenVanUitbuiting": ["seksueel"], "urgentie": "normaal",
           "minderjarig": False, "indicatoren": [], "toestemming": {"registratieCoMensha": False}}
    doc.update(fields)
    return json.dumps(doc)


class PoliceAdapterEndToEnd(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.adapter = PoliceAdapter(self.hub).start()

    def tearDown(self):
        self.adapter.close()
        self.hub.close()

    def wait_hub_events(self, n, what="hub events"):
        wait_for(lambda: hub_event_count(self.hub) >= n, what=what)
        time.sleep(0.2)
        self.assertEqual(hub_event_count(self.hub), n)

    def test_a_json_signal_file_becomes_a_signal_in_the_hub(self):
        with open(os.path.join(DATA, "parse", "signal-crisis.json")) as f:
            content = f.read()
        self.adapter.drop_in("signaal-1.json", content)
        wait_for(lambda: self.adapter.listing("done") == ["signaal-1.json"], what="done/")
        self.assertEqual(self.adapter.listing("in"), [])
        self.wait_hub_events(1)
        con = self.hub.db()
        try:
            row = con.execute("SELECT partner, type, time FROM events WHERE source = ?",
                              (SOURCE,)).fetchone()
        finally:
            con.close()
        self.assertEqual(row, ("politie", "nl.mensenhandel.signalen.signaal-geregistreerd",
                               "2026-11-28T23:14:05Z"))
        wait_for(lambda: self.adapter.outbox_count() == 0, what="outbox emptied by the ack")
        self.assertEqual(self.adapter.failed()["failed"], [])
        # It was a crisis signal: routed to the police themselves, so it comes
        # back in out/ with the fields of the police's profile.
        out = wait_for(lambda: self.adapter.out_files(), what="a referral in out/")
        with open(self.adapter.path("out", out[0])) as f:
            record = json.load(f)
        self.assertEqual(record["signaal"]["omschrijving"],
                         "Tijdens controle in hotel aangetroffen. Direct gevaar.")
        self.assertEqual(record["signaal"]["indicatoren"],
                         ["loverboy-methode", "beperkte-bewegingsvrijheid"])
        self.assertNotIn("toestemming", record["signaal"])  # not in the police profile

    def test_a_csv_file_becomes_one_signal_per_row(self):
        shutil.copy(os.path.join(DATA, "parse", "signals.csv"), self.adapter.path("signalen.csv"))
        os.rename(self.adapter.path("signalen.csv"), self.adapter.path("in", "signalen.csv"))
        wait_for(lambda: self.adapter.listing("done") == ["signalen.csv"], what="done/")
        self.wait_hub_events(3)
        con = self.hub.db()
        try:
            ids = [r[0] for r in con.execute("SELECT id FROM events WHERE source = ?", (SOURCE,))]
            times = sorted(r[0] or "" for r in con.execute(
                "SELECT time FROM events WHERE source = ?", (SOURCE,)))
        finally:
            con.close()
        self.assertEqual(len(set(ids)), 3)
        self.assertIn("2026-11-29T07:30:00Z", times)  # the tijdstip column became the time

    def test_a_referral_to_the_police_is_written_to_out_exactly_and_confirmed(self):
        gemeente = Peer(self.hub, "gemeente-enschede")
        signal = make_event(signal_data(urgentie="crisis", minderjarig=True, woongemeente="GM0153",
                                        indicatoren=["loverboy-methode"],
                                        toestemming={"registratieCoMensha": True},
                                        omschrijving="Aangetroffen bij controle."))
        reply = gemeente.request(signal)
        self.assertEqual(reply["status"], "accepted", reply)
        out = wait_for(lambda: self.adapter.out_files(), what="a referral in out/")
        self.assertEqual(len(out), 1)
        refs = ctl_json(self.hub, "referrals", "--partner", "politie")["referrals"]
        self.assertEqual(len(refs), 1)
        ref = refs[0]
        self.assertEqual(out, ["doorverwijzing-%s.json" % ref["id"]])
        # Confirmed to the hub only now that the file is there.
        def confirmed():
            d = ctl_json(self.hub, "referral", ref["id"])["deliveries"]
            return d if d and d[0]["confirmed"] else None
        delivery = wait_for(confirmed, what="receipt at the hub")[0]
        with open(self.adapter.path("out", out[0]), "rb") as f:
            raw = f.read()
        record = json.loads(raw)
        self.assertEqual(list(record), OFFER_FIELDS)  # the documented order
        self.assertEqual(record, {
            "soort": "doorverwijzing",
            "doorverwijzing": ref["id"],
            "aanbod": delivery["event_id"],
            "aangeboden": record["aangeboden"],
            "beleid": "crisis",
            "regel": "crisis-politie",
            "reageerVoor": {"ontvangst": ref["receipt_due"], "besluit": ref["decision_due"]},
            # The police profile of this hub: no toestemming, no nationaliteit given.
            "signaal": {"vormenVanUitbuiting": ["arbeid"], "urgentie": "crisis",
                        "minderjarig": True, "woongemeente": "GM0153",
                        "indicatoren": ["loverboy-methode"],
                        "omschrijving": "Aangetroffen bij controle."},
        })
        offered = datetime.datetime.strptime(record["aangeboden"], "%Y-%m-%dT%H:%M:%S.%fZ")
        created = datetime.datetime.strptime(ref["created"], "%Y-%m-%dT%H:%M:%S.%fZ")
        self.assertLess(abs((offered - created).total_seconds()), 60)
        self.assertEqual(raw, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode())
        # No temporary file is left behind, and nothing else was written.
        self.assertEqual(sorted(os.listdir(self.adapter.path("out"))), out)

    def test_response_files_move_the_referral_through_its_states(self):
        gemeente = Peer(self.hub, "gemeente-enschede")
        refs = []
        for _ in range(2):
            reply = gemeente.request(make_event(signal_data(urgentie="crisis")))
            self.assertEqual(reply["status"], "accepted", reply)
        wait_for(lambda: len(self.adapter.out_files()) == 2, what="two referrals in out/")
        refs = [r["id"] for r in ctl_json(self.hub, "referrals", "--partner", "politie")["referrals"]]
        first, second = refs
        steps = [("ontvangen", {}), ("geaccepteerd", {"toelichting": "Team pakt het op."}),
                 ("afgerond", {"uitkomst": "hulp-geboden"})]
        for i, (status, extra) in enumerate(steps):
            doc = {"doorverwijzing": first, "status": status}
            doc.update(extra)
            self.adapter.drop_in("reactie-%d.json" % i, json.dumps(doc))
            wait_for(lambda: ctl_json(self.hub, "referral", first)["state"] == status,
                     what="state %s" % status)
        self.adapter.drop_in("reactie-afwijzing.json", json.dumps(
            {"doorverwijzing": second, "status": "afgewezen", "reden": "buiten-werkgebied"}))
        wait_for(lambda: ctl_json(self.hub, "referral", second)["state"] == "afgewezen",
                 what="state afgewezen")
        history = ctl_json(self.hub, "referral", first)["history"]
        self.assertEqual([h["to_state"] for h in history],
                         ["aangeboden", "ontvangen", "geaccepteerd", "afgerond"])
        self.assertEqual(sorted(self.adapter.listing("done")),
                         ["reactie-0.json", "reactie-1.json", "reactie-2.json",
                          "reactie-afwijzing.json"])
        wait_for(lambda: self.adapter.outbox_count() == 0, what="outbox empty")
        self.assertEqual(self.adapter.failed()["failed"], [])
        self.assertEqual(self.adapter.stop(), 0)  # a clean stop (and no leaks under ASan)

    def test_responses_in_one_array_are_applied_in_their_order(self):
        gemeente = Peer(self.hub, "gemeente-enschede")
        self.assertEqual(gemeente.request(make_event(signal_data(urgentie="crisis")))["status"],
                         "accepted")
        wait_for(lambda: self.adapter.out_files(), what="the referral in out/")
        ref = ctl_json(self.hub, "referrals", "--partner", "politie")["referrals"][0]["id"]
        self.adapter.drop_in("reacties.json", json.dumps([
            {"doorverwijzing": ref, "status": "ontvangen"},
            {"doorverwijzing": ref, "status": "geaccepteerd"},
            {"doorverwijzing": ref, "status": "afgerond", "uitkomst": "doorverwezen"}]))
        wait_for(lambda: ctl_json(self.hub, "referral", ref)["state"] == "afgerond",
                 what="state afgerond")
        self.assertEqual([h["to_state"] for h in ctl_json(self.hub, "referral", ref)["history"]],
                         ["aangeboden", "ontvangen", "geaccepteerd", "afgerond"])
        self.assertEqual(self.adapter.failed()["failed"], [])

    def test_malformed_files_go_to_failed_with_the_reason_and_never_to_the_hub(self):
        cases = {
            "kapot.json": ('{"referentie": "PL1", "urgentie": ', "", "json"),
            "fout.json": (police_signal("PL2", urgentie="spoed"), "/data/urgentie", "enum"),
            "naam.json": (police_signal("PL3", naam="Jan"), "/naam", "additionalProperties"),
            "kolom.csv": ("referentie;vormenVanUitbuiting;urgentie;minderjarig;"
                          "toestemmingRegistratieCoMensha;bsn\nPL4;arbeid;normaal;nee;nee;1\n",
                          "/1/bsn", "additionalProperties"),
            "rij.csv": ("referentie;vormenVanUitbuiting;urgentie;minderjarig;"
                        "toestemmingRegistratieCoMensha\nPL5;arbeid;normaal;nee;nee\n"
                        "PL6;arbeid;normaal;misschien;nee\n", "/3/minderjarig", "type"),
            "export.xlsx": ("PK\x03\x04", "", "format"),
        }
        for name, (content, _, _) in cases.items():
            self.adapter.drop_in(name, content)
        wait_for(lambda: len(self.adapter.listing("failed")) == 2 * len(cases), what="failed/")
        for name, (_, path, keyword) in cases.items():
            with open(self.adapter.path("failed", name + ".error.json")) as f:
                doc = json.load(f)
            self.assertEqual(doc["file"], name)
            self.assertTrue(any(e["path"] == path and e["keyword"] == keyword
                                for e in doc["errors"]), (name, doc))
            self.assertTrue(all(e["message"] for e in doc["errors"]))
            with open(self.adapter.path("failed", name)) as f:  # the file itself, unchanged
                self.assertEqual(f.read(), cases[name][0])
        self.assertEqual(self.adapter.listing("in"), [])
        self.assertEqual(self.adapter.listing("done"), [])
        # Nothing of rij.csv was taken, not even its good first row.
        time.sleep(0.5 * SLOW)
        self.assertEqual(hub_event_count(self.hub), 0)
        self.assertEqual(self.adapter.outbox_count(), 0)
        self.assertNotIn("Jan", self.adapter.log_text())  # no personal data in the log

    def test_a_file_dropped_twice_is_sent_once(self):
        content = police_signal("PL0600-77")
        self.adapter.drop_in("a.json", content)
        wait_for(lambda: self.adapter.listing("done") == ["a.json"], what="done/")
        self.adapter.drop_in("a.json", content)
        self.adapter.drop_in("b.json", content)
        wait_for(lambda: len(self.adapter.listing("done")) == 3, what="done/ x3")
        self.assertEqual(self.adapter.listing("done"), ["a.json", "a.json.1", "b.json"])
        self.wait_hub_events(1)

    def test_what_the_hub_rejects_is_listed_by_failed(self):
        unknown = str(uuid.uuid4())
        self.adapter.drop_in("reactie.json", json.dumps(
            {"doorverwijzing": unknown, "status": "geaccepteerd"}))
        wait_for(lambda: self.adapter.failed()["failed"], what="a failed event")
        doc = self.adapter.failed()
        self.assertEqual(doc["outbox"], 0)
        f = doc["failed"][0]
        self.assertEqual(f["direction"], "in")
        self.assertEqual(f["type"], "nl.mensenhandel.doorverwijzingen.doorverwijzing-geaccepteerd")
        self.assertEqual(f["input"], "reactie.json")
        self.assertEqual([(e["path"], e["keyword"]) for e in f["errors"]],
                         [("/data/doorverwijzing", "referral")])
        # The file was taken (it was valid); the hub said no.
        self.assertEqual(self.adapter.listing("done"), ["reactie.json"])
        r = self.adapter.ctl("failed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f["id"], r.stdout)
        self.assertIn("/data/doorverwijzing: referral:", r.stdout)
        self.assertIn("input=reactie.json", r.stdout)


class UnknownKey(unittest.TestCase):
    def test_a_refused_key_is_logged_and_what_was_handed_in_waits(self):
        hub = new_hub().start()
        adapter = None
        try:
            _, stranger = keygen(os.path.join(hub.dir, "keys", "stranger"))
            hub.keys["stranger"] = stranger
            adapter = PoliceAdapter(hub, partner="stranger").start()
            adapter.drop_in("signaal.json", police_signal("PL-X"))
            wait_for(lambda: adapter.listing("done") == ["signaal.json"], what="done/")
            wait_for(lambda: "event=hub_refused" in adapter.log_text(), what="refusal logged")
            self.assertEqual(adapter.outbox_count(), 1)  # kept, not dropped
            self.assertEqual(hub_event_count(hub), 0)
        finally:
            if adapter:
                adapter.close()
            hub.close()


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = new_hub()
        cls.hub.endpoint = "tcp://127.0.0.1:5999"
        cls.adapter = PoliceAdapter(cls.hub)
        os.makedirs(os.path.join(cls.adapter.drop), exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def check(self, config):
        path = os.path.join(self.adapter.dir, "check.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return subprocess.run([ADAPTER_POLICE, "--check-config", path], capture_output=True,
                              text=True, timeout=30 * SLOW)

    def test_a_good_config_exits_0(self):
        self.adapter.write_config()
        r = self.check(self.adapter.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config ok", r.stdout)

    def test_a_bad_config_exits_1_naming_each_fault(self):
        config = json.loads(json.dumps(self.adapter.config))
        config["hub"]["window"] = 0
        config["transports"]["filedrop"]["dir"] = "nergens"
        config["transports"]["filedrop"]["extra"] = True
        config["kleur"] = "rood"
        r = self.check(config)
        self.assertEqual(r.returncode, 1)
        for pointer in ("/hub/window", "/transports/filedrop/dir", "/transports/filedrop/extra",
                        "/kleur"):
            self.assertIn("config error: %s:" % pointer, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_a_readable_key_file_is_refused(self):
        config = json.loads(json.dumps(self.adapter.config))
        os.chmod(self.adapter.key, 0o644)
        try:
            r = self.check(config)
        finally:
            os.chmod(self.adapter.key, 0o600)
        self.assertEqual(r.returncode, 1)
        self.assertIn("config error: /hub/key:", r.stderr)

    def test_usage_errors_exit_2(self):
        for args in ([], ["--config"], ["--config", "a", "--check-config", "b"], ["--colour"]):
            r = subprocess.run([ADAPTER_POLICE, *args], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)


if __name__ == "__main__":
    main()
