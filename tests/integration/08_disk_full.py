"""Disk full: the batch is rejected with keyword "store", nothing half-kept,
the hub keeps running and accepts again once there is room.

Needs root to mount a small tmpfs; skipped (saying so) otherwise."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import Hub, main, make_event, request, signal_data


@unittest.skipUnless(os.geteuid() == 0, "needs root to mount a size-limited tmpfs")
class DiskFull(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="ketenhub-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount tmpfs here: " + r.stderr.strip())
        self.hub = Hub(extra_config={"database": os.path.join(self.mnt, "hub.db")})
        self.hub.db_path = os.path.join(self.mnt, "hub.db")
        self.hub.start()

    def tearDown(self):
        self.hub.close()
        subprocess.run(["umount", self.mnt])
        os.rmdir(self.mnt)

    def fill(self):
        path = os.path.join(self.mnt, "filler")
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        return path

    def test_full_disk_rejects_with_store_error_and_recovers(self):
        c = self.hub.client("police-1")
        kept = []
        for _ in range(20):
            ev = make_event()
            self.assertEqual(request(c, ev)["status"], "accepted")
            kept.append(ev["id"])
        filler = self.fill()
        rejected = None
        for _ in range(400):
            ev = make_event(signal_data(omschrijving="x" * 1500))
            r = request(c, ev)
            if r["status"] == "rejected":
                rejected = (ev, r)
                break
        self.assertIsNotNone(rejected, "the disk never filled up")
        ev, r = rejected
        self.assertEqual([(e["path"], e["keyword"]) for e in r["errors"]], [("", "store")])
        self.assertIn("event=store_failed", self.hub.log_text())
        self.assertIsNone(self.hub.proc.poll(), "hub died on a full disk")
        os.unlink(filler)
        r = request(c, ev)
        self.assertEqual(r["status"], "accepted", r)
        self.assertNotIn("duplicate", r, "a rejected event had been kept")
        for i in kept:
            self.assertEqual(self.hub.count("SELECT count(*) FROM events WHERE id = ?", i), 1)


if __name__ == "__main__":
    main()
