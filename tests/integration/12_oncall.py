"""ketenctl oncall: who is on duty at a moment, from the config's officers and rota.

The rota below: office hours Monday to Friday 08:00-17:00 (anna), weeknights
(bram), the weekend from Friday 17:00 to Monday 08:00 (cor), all in
Europe/Amsterdam, and one override over Christmas 2026 (cor). ketenctl only
reads the config, so the hub does not need to run; `ketenhubd --check-config`
must refuse a rota with a gap, naming /rota/weekly.
"""
import datetime
import json
import subprocess
import unittest

from harness import KETENCTL, KETENHUBD, SLOW, Hub, main

WEBHOOK = "https://chat.example.org/hooks/geheim-token-123"
OFFICERS = [
    {"id": "anna", "name": "Anna Jansen", "email": "anna@example.org", "phone": "+31 53 000 0001",
     "webhook": WEBHOOK},
    {"id": "bram", "name": "Bram de Vries", "email": "bram@example.org"},
    {"id": "cor", "name": "Cor Bulut"},
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE = {"days": WEEKDAYS, "from": "08:00", "to": "17:00", "officer": "anna"}
NIGHTS = {"days": ["mon", "tue", "wed", "thu"], "from": "17:00", "to": "08:00", "officer": "bram"}
WEEKEND = [{"days": ["fri"], "from": "17:00", "to": "08:00", "officer": "cor"},
           {"days": ["sat", "sun"], "from": "08:00", "to": "08:00", "officer": "cor"}]
CHRISTMAS = {"from": "2026-12-24T12:00:00+01:00", "to": "2026-12-27T08:00:00+01:00",
             "officer": "cor", "reason": "kerstdienst"}


def rota(weekly=None, overrides=None):
    return {"timezone": "Europe/Amsterdam",
            "weekly": weekly if weekly is not None else [OFFICE, NIGHTS] + WEEKEND,
            "overrides": overrides if overrides is not None else [CHRISTMAS],
            "fallback": "anna"}


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60 * SLOW)


class Oncall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub(extra_config={"officers": OFFICERS, "rota": rota()})

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def oncall(self, *args):
        return run(KETENCTL, "--config", self.hub.config_path, "oncall", *args)

    def oncall_json(self, at):
        r = self.oncall("--at", at, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_a_weekday_afternoon_is_the_office_officer(self):
        doc = self.oncall_json("2026-12-01T14:00:00+01:00")  # Tuesday
        self.assertEqual(sorted(doc), ["at", "at_local", "fallback", "next", "on_duty", "timezone"])
        on = doc["on_duty"]
        self.assertEqual(sorted(on), ["officer", "reason", "since", "since_local", "source",
                                      "until", "until_local", "why"])
        self.assertEqual(on["officer"]["id"], "anna")
        self.assertEqual(on["why"], "weekly")
        self.assertEqual(on["source"], "/rota/weekly/0")
        self.assertIsNone(on["reason"])
        self.assertEqual(on["since"], "2026-12-01T07:00:00.000Z")
        self.assertEqual(on["since_local"], "2026-12-01T08:00:00+01:00")
        self.assertEqual(on["until"], "2026-12-01T16:00:00.000Z")
        self.assertEqual(on["until_local"], "2026-12-01T17:00:00+01:00")
        self.assertEqual(doc["at"], "2026-12-01T13:00:00.000Z")
        self.assertEqual(doc["at_local"], "2026-12-01T14:00:00+01:00")
        self.assertEqual(doc["timezone"], "Europe/Amsterdam")
        self.assertEqual(doc["fallback"]["id"], "anna")
        self.assertEqual(sorted(doc["fallback"]), ["email", "has_webhook", "id", "name", "phone"])
        self.assertEqual([(n["officer"]["id"], n["since_local"]) for n in doc["next"]],
                         [("bram", "2026-12-01T17:00:00+01:00"),
                          ("anna", "2026-12-02T08:00:00+01:00"),
                          ("bram", "2026-12-02T17:00:00+01:00")])

    def test_a_night_shift_runs_past_midnight(self):
        doc = self.oncall_json("2026-12-02T03:00:00+01:00")  # Wednesday night
        on = doc["on_duty"]
        self.assertEqual(on["officer"]["id"], "bram")
        self.assertEqual(on["since_local"], "2026-12-01T17:00:00+01:00")
        self.assertEqual(on["until_local"], "2026-12-02T08:00:00+01:00")
        self.assertEqual(on["officer"]["email"], "bram@example.org")
        self.assertIsNone(on["officer"]["phone"])
        self.assertFalse(on["officer"]["has_webhook"])

    def test_the_weekend_is_one_duty_from_friday_to_monday(self):
        on = self.oncall_json("2026-12-06T23:59:00+01:00")["on_duty"]
        self.assertEqual(on["officer"]["id"], "cor")
        self.assertEqual(on["since_local"], "2026-12-04T17:00:00+01:00")
        self.assertEqual(on["until_local"], "2026-12-07T08:00:00+01:00")

    def test_an_override_wins_and_says_why(self):
        doc = self.oncall_json("2026-12-24T23:30:00+01:00")
        on = doc["on_duty"]
        self.assertEqual(on["officer"]["id"], "cor")
        self.assertEqual(on["why"], "override")
        self.assertEqual(on["source"], "/rota/overrides/0")
        self.assertEqual(on["reason"], "kerstdienst")
        self.assertEqual(on["since_local"], "2026-12-24T12:00:00+01:00")
        self.assertEqual(on["until_local"], "2026-12-27T08:00:00+01:00")
        # After the override the weekend duty resumes (Sunday), then Monday's office.
        self.assertEqual([(n["officer"]["id"], n["why"], n["since_local"]) for n in doc["next"]],
                         [("cor", "weekly", "2026-12-27T08:00:00+01:00"),
                          ("anna", "weekly", "2026-12-28T08:00:00+01:00"),
                          ("bram", "weekly", "2026-12-28T17:00:00+01:00")])
        # The office hours of the 24th end where the override begins.
        on = self.oncall_json("2026-12-24T11:59:59+01:00")["on_duty"]
        self.assertEqual(on["officer"]["id"], "anna")
        self.assertEqual(on["until_local"], "2026-12-24T12:00:00+01:00")

    def test_right_at_a_boundary_the_next_officer_has_it(self):
        on = self.oncall_json("2026-12-01T17:00:00+01:00")["on_duty"]
        self.assertEqual(on["officer"]["id"], "bram")
        self.assertEqual(on["since_local"], "2026-12-01T17:00:00+01:00")
        on = self.oncall_json("2026-12-01T15:59:59.999Z")["on_duty"]
        self.assertEqual(on["officer"]["id"], "anna")
        self.assertEqual(on["until"], "2026-12-01T16:00:00.000Z")

    def test_the_repeated_hour_of_the_autumn_change_keeps_its_officer(self):
        # Sunday 25 October 2026: 02:30 happens twice; both times cor (weekend).
        for at in ("2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"):
            on = self.oncall_json(at)["on_duty"]
            self.assertEqual(on["officer"]["id"], "cor")
            self.assertEqual(on["until_local"], "2026-10-26T08:00:00+01:00")

    def test_human_output_names_officer_why_times_fallback_and_changes(self):
        r = self.oncall("--at", "2026-12-24T23:30:00+01:00")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("Cor Bulut [cor]", out)
        self.assertIn("override /rota/overrides/0: kerstdienst", out)
        self.assertIn("thu 2026-12-24T12:00:00+01:00  (2026-12-24T11:00:00Z)", out)  # since
        self.assertIn("sun 2026-12-27T08:00:00+01:00  (2026-12-27T07:00:00Z)", out)  # until
        self.assertIn("Anna Jansen [anna]", out)  # the fallback
        self.assertIn("Europe/Amsterdam", out)
        changes = out.split("next changes")[1].strip().splitlines()
        self.assertEqual(len(changes), 3, out)
        self.assertIn("cor  weekly shift /rota/weekly/3", changes[0])
        self.assertIn("mon 2026-12-28T08:00:00+01:00  anna", changes[1])

    def test_a_webhook_url_is_never_printed(self):
        for extra in ([], ["--json"]):
            r = self.oncall("--at", "2026-12-01T14:00:00+01:00", *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("geheim-token", r.stdout)

    def test_now_is_the_default(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        r = self.oncall("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        at = datetime.datetime.strptime(json.loads(r.stdout)["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        at = at.replace(tzinfo=datetime.timezone.utc)
        self.assertLess(abs((at - before).total_seconds()), 30 * SLOW)
        self.assertEqual(self.oncall("--at", "now").returncode, 0)

    def test_a_bad_time_is_a_usage_error_naming_it(self):
        for bad in ("2026-12-24T23:30:00", "tomorrow", "2026-02-30T10:00:00Z"):
            r = self.oncall("--at", bad)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn('ketenctl oncall: --at "%s" is not an RFC 3339 time' % bad, r.stderr)
            self.assertEqual(r.stdout, "")
        r = self.oncall("--at")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--at needs a value", r.stderr)
        r = self.oncall("--colour")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown argument "--colour"', r.stderr)
        r = run(KETENCTL, "oncall")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--config FILE is required", r.stderr)


class NoRota(unittest.TestCase):
    def test_without_a_rota_oncall_says_so_and_exits_1(self):
        hub = Hub()
        try:
            r = run(KETENCTL, "--config", hub.config_path, "oncall")
            self.assertEqual(r.returncode, 1)
            self.assertIn("ketenctl oncall: no rota configured in", r.stderr)
            self.assertEqual(r.stdout, "")
            # Officers alone (the rota comes later) are no rota either.
            hub.rewrite_config(officers=OFFICERS)
            r = run(KETENCTL, "--config", hub.config_path, "oncall", "--json")
            self.assertEqual(r.returncode, 1)
            self.assertIn("no rota configured", r.stderr)
        finally:
            hub.close()


class BadRota(unittest.TestCase):
    def test_a_gap_in_the_week_is_a_config_error(self):
        # The weekend ends Monday 07:00 instead of 08:00: an hour of nobody.
        weekend = [{"days": ["fri"], "from": "17:00", "to": "08:00", "officer": "cor"},
                   {"days": ["sat"], "from": "08:00", "to": "08:00", "officer": "cor"},
                   {"days": ["sun"], "from": "08:00", "to": "07:00", "officer": "cor"}]
        hub = Hub(extra_config={"officers": OFFICERS, "rota": rota(weekly=[OFFICE, NIGHTS] + weekend)})
        try:
            r = run(KETENHUBD, "--check-config", hub.config_path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("ketenhubd: config error: /rota/weekly: nobody is on duty on mon from "
                          "07:00 to 08:00", r.stderr)
            r = run(KETENCTL, "--config", hub.config_path, "oncall")
            self.assertEqual(r.returncode, 1)
            self.assertIn("/rota/weekly: nobody is on duty", r.stderr)
        finally:
            hub.close()

    def test_overlaps_and_unknown_officers_are_config_errors(self):
        nights = dict(NIGHTS, **{"from": "16:00", "officer": "zorro"})
        overrides = [CHRISTMAS, dict(CHRISTMAS, **{"from": "2026-12-26T08:00:00+01:00"})]
        hub = Hub(extra_config={"officers": OFFICERS,
                                "rota": rota(weekly=[OFFICE, nights] + WEEKEND, overrides=overrides)})
        try:
            r = run(KETENHUBD, "--check-config", hub.config_path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("/rota/weekly/1: overlaps /rota/weekly/0 on mon from 16:00 to 17:00",
                          r.stderr)
            self.assertIn("/rota/weekly/1/officer: not an officer id in /officers", r.stderr)
            self.assertIn("/rota/overrides/1: overlaps /rota/overrides/0", r.stderr)
        finally:
            hub.close()

    def test_a_sound_rota_passes_the_check(self):
        hub = Hub(extra_config={"officers": OFFICERS, "rota": rota()})
        try:
            r = run(KETENHUBD, "--check-config", hub.config_path)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            hub.close()


if __name__ == "__main__":
    main()
