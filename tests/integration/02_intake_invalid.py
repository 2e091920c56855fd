"""Every bad event is rejected with the right JSON pointer, audited, and leaves
the event store unchanged; hostile frames never stop the hub."""
import json
import unittest

import zmq

from harness import Hub, SLOW, main, make_event, recv_reply, request, signal_data


def without(d, key):
    d = dict(d)
    d.pop(key)
    return d


# (name, event, {(path, keyword), ...}) — the exact set of errors expected.
CASES = [
    ("urgentie missing", make_event(without(signal_data(), "urgentie")), {("/data", "required")}),
    ("urgentie not in enum", make_event(signal_data(urgentie="spoed")), {("/data/urgentie", "enum")}),
    ("minderjarig not boolean", make_event(signal_data(minderjarig="ja")),
     {("/data/minderjarig", "type")}),
    ("woongemeente not a CBS code", make_event(signal_data(woongemeente="Enschede")),
     {("/data/woongemeente", "pattern")}),
    ("no form of exploitation", make_event(signal_data(vormenVanUitbuiting=[])),
     {("/data/vormenVanUitbuiting", "minItems")}),
    ("unknown form of exploitation", make_event(signal_data(vormenVanUitbuiting=["arbeid", "smokkel"])),
     {("/data/vormenVanUitbuiting/1", "enum")}),
    ("repeated form", make_event(signal_data(vormenVanUitbuiting=["arbeid", "arbeid"])),
     {("/data/vormenVanUitbuiting", "uniqueItems")}),
    ("unknown indicator", make_event(signal_data(indicatoren=["onderbetaling", "x"])),
     {("/data/indicatoren/1", "enum")}),
    ("personal data field refused", make_event(signal_data(naam="Jan Jansen")),
     {("/data/naam", "additionalProperties")}),
    ("description too long", make_event(signal_data(omschrijving="x" * 2001)),
     {("/data/omschrijving", "maxLength")}),
    ("consent flag missing", make_event(signal_data(toestemming={})),
     {("/data/toestemming", "required")}),
    ("extra consent member", make_event(signal_data(toestemming={"registratieCoMensha": True, "bsn": "1"})),
     {("/data/toestemming/bsn", "additionalProperties")}),
    ("bad date", make_event(signal_data(datumSignalering="2026-13-01")),
     {("/data/datumSignalering", "format")}),
    ("data not an object", make_event([1, 2]), {("/data", "type")}),
    ("id not a uuid", make_event(id="signaal-1"), {("/id", "format")}),
    ("specversion wrong", make_event(specversion="0.3"), {("/specversion", "const")}),
    ("time not a date-time", make_event(time="gisteren"), {("/time", "format")}),
    ("envelope attribute not allowed", make_event(bsn="123456782"), {("/bsn", "additionalProperties")}),
    ("subject with a name in it", make_event(subject="Jan Jansen"), {("/subject", "pattern")}),
    ("data missing", make_event(), {("", "required")}),
    ("unknown type", make_event(type="nl.mensenhandel.signalen.signaal-verzonnen"), {("/type", "type")}),
    ("not JSON content", make_event(datacontenttype="application/xml"), {("/datacontenttype", "pattern")}),
]


class InvalidIntake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = Hub(partners=[("police-1", "police"), ("care-1", "care")],
                      extra_config={"authorisation": {"care": []}}).start()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def events(self):
        return self.hub.count("SELECT count(*) FROM events")

    def test_each_invalid_signal_is_rejected_with_its_pointer(self):
        c = self.hub.client("police-1")
        before = self.events()
        for name, ev, expected in CASES:
            with self.subTest(name):
                if name == "data missing":
                    ev.pop("data", None)
                r = request(c, ev)
                self.assertEqual(r["status"], "rejected", r)
                self.assertEqual(r["ack"], ev.get("id") if name != "id not a uuid" else "signaal-1")
                got = {(e["path"], e["keyword"]) for e in r["errors"]}
                self.assertEqual(got, expected, r)
                for e in r["errors"]:
                    self.assertTrue(e["message"], e)
                self.assertNotIn("seq", r)
        self.assertEqual(self.events(), before, "a rejected event changed the store")

    def test_rejections_are_audited_without_values(self):
        c = self.hub.client("police-1")
        ev = make_event(signal_data(naam="Jan Jansen", urgentie="spoed"))
        r = request(c, ev)
        self.assertEqual(r["status"], "rejected")
        con = self.hub.db()
        row = con.execute("SELECT actor, outcome, detail FROM audit WHERE object = ?",
                          (ev["id"],)).fetchone()
        con.close()
        self.assertEqual(row[:2], ("police-1", "rejected"))
        detail = json.loads(row[2])
        self.assertIn({"path": "/data/naam", "keyword": "additionalProperties"}, detail["errors"])
        self.assertNotIn("Jansen", row[2])
        self.assertNotIn("spoed", row[2])
        self.assertNotIn("Jansen", self.hub.log_text())

    def test_role_not_authorised_for_type_is_rejected_naming_it(self):
        c = self.hub.client("care-1")
        before = self.events()
        r = request(c, make_event())
        self.assertEqual(r["status"], "rejected")
        self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("/type", "authorisation")])
        self.assertIn("nl.mensenhandel.signalen.signaal-geregistreerd", r["errors"][0]["message"])
        self.assertIn("care", r["errors"][0]["message"])
        self.assertEqual(self.events(), before)

    def test_unknown_type_message_names_the_type(self):
        c = self.hub.client("police-1")
        r = request(c, make_event(type="nl.example.iets-anders"))
        self.assertIn("nl.example.iets-anders", r["errors"][0]["message"])

    def test_malformed_and_non_object_json(self):
        c = self.hub.client("police-1")
        for frame, keyword in [(b"{\"id\": ", "json"), (b"not json", "json"), (b"[1, 2, 3]", "type"),
                               (b"\"a string\"", "json"), (b"", "json"), (b"{\"a\": \"\xff\"}", "json"),
                               (b"{\"id\": \"a\", \"id\": \"b\"}", "json")]:
            with self.subTest(frame=frame):
                r = request(c, frame)
                self.assertEqual(r["status"], "rejected")
                self.assertIsNone(r["ack"])
                self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("", keyword)], r)

    def test_deeply_nested_json_is_rejected_and_hub_keeps_serving(self):
        c = self.hub.client("police-1")
        deep = b"{\"a\":" * 2000 + b"1" + b"}" * 2000
        r = request(c, deep)
        self.assertEqual(r["status"], "rejected")
        self.assertEqual(r["errors"][0]["keyword"], "maxDepth")
        deep_array = b"[" * 100000 + b"]" * 100000
        r = request(c, deep_array)
        self.assertEqual(r["errors"][0]["keyword"], "maxDepth")
        self.assertEqual(request(c, make_event())["status"], "accepted")

    def test_multi_frame_message_is_refused(self):
        c = self.hub.client("police-1")
        ev = make_event()
        c.send_multipart([b"", json.dumps(ev).encode()])
        r = recv_reply(c)
        self.assertEqual(r["status"], "rejected")
        self.assertIsNone(r["ack"])
        self.assertEqual(r["errors"][0]["keyword"], "frames")
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", ev["id"]), 0)

    def test_oversized_frame_drops_connection_and_hub_keeps_serving(self):
        c = self.hub.client("police-1")
        self.assertEqual(request(c, make_event())["status"], "accepted")
        big = make_event(signal_data(omschrijving="x" * (300 * 1024)))
        c.send(json.dumps(big).encode())
        self.assertFalse(c.poll(int(1000 * SLOW)), "no reply expected for an oversized frame")
        # The same socket reconnects by itself; a fresh one works at once.
        fresh = self.hub.client("police-1")
        self.assertEqual(request(fresh, make_event())["status"], "accepted")
        self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", big["id"]), 0)

    def test_error_list_is_bounded(self):
        c = self.hub.client("police-1")
        data = signal_data(indicatoren=["x%d" % i for i in range(20)])
        r = request(c, make_event(data))
        self.assertEqual(r["status"], "rejected")
        self.assertLessEqual(len(r["errors"]), 20)
        self.assertGreater(len(r["errors"]), 1)

    def test_error_list_is_bounded_also_with_a_type_error(self):
        c = self.hub.client("police-1")
        extra = {"x%d" % i: 1 for i in range(25)}
        r = request(c, make_event(type="nl.example.onbekend", **extra))
        self.assertEqual(r["status"], "rejected")
        self.assertEqual(len(r["errors"]), 20)

    def test_hub_still_accepts_after_all_this(self):
        c = self.hub.client("police-1")
        self.assertEqual(request(c, make_event())["status"], "accepted")
        self.assertIsNone(self.hub.proc.poll())


if __name__ == "__main__":
    main()
