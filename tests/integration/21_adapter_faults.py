"""adapter-police under faults, against the real hub.

- the hub down while 100 files are dropped in: every file is taken (done/)
  into the outbox, and once the hub is back all 100 events reach it, none
  twice;
- kill -9 of the adapter between the outbox write and the hub's ack (made
  deterministic by stopping the hub with SIGSTOP, so no ack can come): after
  the hub resumes and the adapter restarts nothing is lost and nothing is
  stored twice;
- the in-flight window: with the hub frozen, no more than `window` distinct
  events are out at a time;
- the partner side unable to take a delivery (out/ unusable): retried, not
  confirmed to the hub meanwhile, the hub's repeated offers not handed over
  twice, and written exactly once when out/ works again;
- a half-written file (a .tmp name, or a file still being appended to) is
  never read;
- a delivery the hub offers while the adapter is down is written once it is
  back; a restart does not write it again.
"""
import json
import os
import re
import signal
import time
import unittest

from adapter_util import (PoliceAdapter, hub_distinct_event_count, hub_event_count, new_hub,
                          wait_for)
from harness import SLOW, Peer, main, make_event, signal_data


def police_signal(ref, **fields):
    doc = {"referentie": ref, "vormenVanUitbuiting": ["arbeid"], "urgentie": "normaal",
           "minderjarig": False, "indicatoren": ["onderbetaling"],
           "toestemming": {"registratieCoMensha": False}}
    doc.update(fields)
    return json.dumps(doc)


class HubDown(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.adapter = PoliceAdapter(self.hub).start()

    def tearDown(self):
        if self.hub.proc and self.hub.proc.poll() is None:
            self.hub.proc.send_signal(signal.SIGCONT)
        self.adapter.close()
        self.hub.close()

    def test_hub_down_while_100_events_are_dropped_in_all_arrive_once(self):
        endpoint = self.hub.endpoint
        self.hub.stop()
        for i in range(100):
            self.adapter.drop_in("signaal-%03d.json" % i, police_signal("PL-DOWN-%03d" % i))
        wait_for(lambda: len(self.adapter.listing("done")) == 100, timeout=30,
                 what="all 100 files taken while the hub is down")
        self.assertEqual(self.adapter.outbox_count(), 100)
        self.hub.start(listen=endpoint)
        wait_for(lambda: hub_event_count(self.hub) >= 100, timeout=60, what="100 events in the hub")
        wait_for(lambda: self.adapter.outbox_count() == 0, timeout=30, what="outbox emptied")
        time.sleep(0.5 * SLOW)
        self.assertEqual(hub_event_count(self.hub), 100)
        self.assertEqual(hub_distinct_event_count(self.hub), 100)
        self.assertEqual(self.adapter.failed()["failed"], [])
        self.assertIn("event=hub_connected", self.adapter.log_text())

    def test_kill9_between_outbox_write_and_ack_loses_and_duplicates_nothing(self):
        # Some events reach the hub normally first.
        for i in range(5):
            self.adapter.drop_in("voor-%d.json" % i, police_signal("PL-VOOR-%d" % i))
        wait_for(lambda: hub_event_count(self.hub) == 5, what="5 events before the fault")
        wait_for(lambda: self.adapter.outbox_count() == 0, what="outbox empty")
        # The hub is frozen: it can take nothing off its socket, so no ack comes.
        self.hub.proc.send_signal(signal.SIGSTOP)
        for i in range(20):
            self.adapter.drop_in("tijdens-%02d.json" % i, police_signal("PL-KILL-%02d" % i))
        wait_for(lambda: len(self.adapter.listing("done")) == 25, timeout=30,
                 what="20 files taken (in the outbox, told received)")
        self.assertEqual(self.adapter.outbox_count(), 20)
        # The adapter has sent them (into the frozen hub's socket), unacked.
        wait_for(lambda: self.adapter.log_text().count("event=sent ") >= 25,
                 what="the 20 sent to the frozen hub")
        self.assertEqual(self.adapter.outbox_count(), 20)
        self.adapter.kill9()
        self.hub.proc.send_signal(signal.SIGCONT)
        # The hub may or may not store what was sent on the dead connection...
        time.sleep(1.0 * SLOW)
        before_restart = hub_event_count(self.hub)
        self.assertGreaterEqual(before_restart, 5)
        self.assertLessEqual(before_restart, 25)
        # ...the restarted adapter sends the outbox again with the same ids.
        self.adapter.start()
        wait_for(lambda: hub_event_count(self.hub) >= 25, timeout=30, what="25 events")
        wait_for(lambda: self.adapter.outbox_count() == 0, timeout=30, what="outbox emptied")
        time.sleep(0.5 * SLOW)
        self.assertEqual(hub_event_count(self.hub), 25)
        self.assertEqual(hub_distinct_event_count(self.hub), 25)
        self.assertEqual(self.adapter.failed()["failed"], [])
        self.assertEqual(len(self.adapter.listing("done")), 25)
        self.assertEqual(self.adapter.listing("in"), [])

    def test_the_window_bounds_the_events_in_flight(self):
        self.adapter.close()
        self.adapter = PoliceAdapter(self.hub)
        self.adapter.config["hub"]["window"] = 3
        self.adapter.start()
        wait_for(lambda: "event=hub_connected" in self.adapter.log_text(), what="connected")
        self.hub.proc.send_signal(signal.SIGSTOP)  # no acks: the window stays full
        for i in range(10):
            self.adapter.drop_in("w-%d.json" % i, police_signal("PL-W-%d" % i))
        wait_for(lambda: len(self.adapter.listing("done")) == 10, what="10 files taken")
        time.sleep(1.0 * SLOW)
        # Exactly three distinct events went out (resends of them may follow).
        sent = set(re.findall(r"event=(?:sent|resend) id=(\S+)", self.adapter.log_text()))
        self.assertEqual(len(sent), 3, sent)
        self.hub.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: hub_event_count(self.hub) >= 10, timeout=30, what="10 events")
        wait_for(lambda: self.adapter.outbox_count() == 0, what="outbox emptied")
        self.assertEqual(hub_distinct_event_count(self.hub), 10)
        self.assertEqual(hub_event_count(self.hub), 10)

    def test_a_stopped_hub_redelivery_and_adapter_restart_write_one_file(self):
        # A referral offered while the adapter is down is written once it is
        # back; a second restart does not write it again.
        self.adapter.stop()
        gemeente = Peer(self.hub, "gemeente-enschede")
        reply = gemeente.request(make_event(signal_data(urgentie="crisis")))
        self.assertEqual(reply["status"], "accepted", reply)
        time.sleep(0.5 * SLOW)
        self.assertEqual(self.adapter.out_files(), [])
        self.adapter.start()
        out = wait_for(lambda: self.adapter.out_files(), what="the referral in out/")
        self.assertEqual(len(out), 1)
        path = self.adapter.path("out", out[0])
        first = os.stat(path).st_mtime_ns
        wait_for(lambda: "event=receipt id=" in self.adapter.log_text(), what="receipt sent")
        self.assertEqual(self.adapter.stop(), 0)  # a clean stop (and no leaks under ASan)
        self.adapter.start()
        time.sleep(2.0 * SLOW)  # longer than the hub's redelivery timeout (1 s)
        self.assertEqual(self.adapter.out_files(), out)
        self.assertEqual(os.stat(path).st_mtime_ns, first)


class PartnerSideDown(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.adapter = PoliceAdapter(self.hub).start()

    def tearDown(self):
        self.adapter.close()
        self.hub.close()

    def test_a_delivery_out_cannot_take_is_retried_and_written_once_it_can(self):
        out = self.adapter.path("out")
        os.rmdir(out)
        with open(out, "w") as f:  # out/ is not a folder: every write fails
            f.write("not a folder")
        gemeente = Peer(self.hub, "gemeente-enschede")
        reply = gemeente.request(make_event(signal_data(urgentie="crisis")))
        self.assertEqual(reply["status"], "accepted", reply)
        wait_for(lambda: self.adapter.log_text().count("event=delivery_retry") >= 2,
                 what="retries while out/ is unusable")
        con = self.hub.db()
        try:
            confirmed = con.execute("SELECT count(*) FROM deliveries WHERE confirmed IS NOT NULL"
                                    ).fetchone()[0]
        finally:
            con.close()
        self.assertEqual(confirmed, 0)  # no receipt while the partner side has nothing
        # The hub offers it again meanwhile (ack timeout 1 s); the copies are not
        # handed over a second time.
        time.sleep(1.5 * SLOW)
        os.unlink(out)
        os.mkdir(out)
        files = wait_for(lambda: self.adapter.out_files(), timeout=15, what="the file in out/")
        self.assertEqual(len(files), 1)
        wait_for(lambda: self.hub.count(
            "SELECT count(*) FROM deliveries WHERE confirmed IS NOT NULL") == 1,
            what="receipt at the hub")
        time.sleep(1.0 * SLOW)
        self.assertEqual(self.adapter.log_text().count("event=delivered "), 1)
        self.assertEqual(self.adapter.out_files(), files)


class HalfWritten(unittest.TestCase):
    def setUp(self):
        self.hub = new_hub().start()
        self.adapter = PoliceAdapter(self.hub).start()

    def tearDown(self):
        self.adapter.close()
        self.hub.close()

    def test_tmp_part_and_hidden_files_are_never_read(self):
        names = ["signaal.json.tmp", ".signaal.json", "signaal.json.part", "signaal.json~"]
        for name in names:
            with open(self.adapter.path("in", name), "w") as f:
                f.write(police_signal("PL-TMP"))
        time.sleep(1.5 * SLOW)  # many scans, well past settle_ms
        self.assertEqual(sorted(self.adapter.listing("in")), sorted(names))
        self.assertEqual(self.adapter.listing("done"), [])
        self.assertEqual(self.adapter.listing("failed"), [])
        self.assertEqual(hub_event_count(self.hub), 0)
        # Renamed to its final name, it is read.
        os.rename(self.adapter.path("in", "signaal.json.tmp"), self.adapter.path("in", "signaal.json"))
        wait_for(lambda: self.adapter.listing("done") == ["signaal.json"], what="done/")
        wait_for(lambda: hub_event_count(self.hub) == 1, what="1 event")

    def test_a_file_still_being_appended_is_not_read_before_it_is_complete(self):
        rows = ["referentie;vormenVanUitbuiting;urgentie;minderjarig;"
                "toestemmingRegistratieCoMensha\n"]
        rows += ["PL-APP-%02d;arbeid;normaal;nee;nee\n" % i for i in range(30)]
        path = self.adapter.path("in", "export.csv")
        # Written in place (against the rules), a row every 100 ms: each
        # pause is shorter than settle_ms (300 ms), so no scan sees it settled.
        with open(path, "w") as f:
            for i, row in enumerate(rows):
                # A half row at a time: a read now would be a broken CSV.
                half = len(row) // 2
                f.write(row[:half])
                f.flush()
                time.sleep(0.05)
                f.write(row[half:])
                f.flush()
                time.sleep(0.05)
                self.assertEqual(self.adapter.listing("done"), [], "read while row %d" % i)
                self.assertEqual(self.adapter.listing("failed"), [], "read while row %d" % i)
        wait_for(lambda: self.adapter.listing("done") == ["export.csv"], what="done/")
        wait_for(lambda: hub_event_count(self.hub) == 30, what="30 events")
        self.assertEqual(self.adapter.listing("failed"), [])


if __name__ == "__main__":
    main()
