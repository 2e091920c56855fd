"""ketenctl report: the coordinator's overview (docs/reporting.md).

A hub database (made by starting the real ketenhubd once, so every migration
ran) is filled by tests/report/gen_data.py with six months of pseudo-random
signals, referrals and escalations, and `ketenctl report` must give exactly
what tests/report/oracle.py computes from the same rows in plain Python. The
CSV must equal tests/data/report/golden.csv (made from a run whose JSON had
matched the oracle; regenerate with REPORT_WRITE_GOLDEN=1, then review the
diff) and hold every figure of the JSON; the HTML must pass
tests/report/check_html.py with one <svg> per chart section.

Random periods and thresholds, over that data and over data as a migration
leaves it (deadlines and decision moments not known), against the oracle
too (REPORT_RANDOM_RUNS=N for more than the default); every report checked
for hidden counts that one line of docs/reporting.md §4 would give away.

Then small hand-made data sets whose figures are written out below by hand
(small numbers, secondary suppression, rounding half away from zero,
nearest-rank percentiles, hidden counts that must stay hidden: a figure shown
twice, answers whose deadline is not known, decisions since cancelled, the
order of the lines), arguments (strict dates, the longest period), --out's
mode, empty periods, a version-3 database migrated by the hub, and two runs
through the real intake: facts written as signals arrive, and an
acknowledged escalation. Where docs/reporting.md leaves a choice,
tests/report/oracle.py lists the one these tests expect (CHOICES).
"""
import collections
import csv
import datetime
import html.parser
import io
import json
import os
import random
import re
import stat
import subprocess
import sys
import time
import unittest

from harness import KETENCTL, ROOT, SLOW, Hub, Peer, main, make_event, response_event, signal_data

sys.path.insert(0, os.path.join(ROOT, "tests", "report"))
import gen_data  # noqa: E402
import oracle  # noqa: E402
from gen_data import DAY, MINUTE, Facts, ms_of  # noqa: E402

PY = "/usr/bin/python3"
REPORT_DIR = os.path.join(ROOT, "tests", "report")
GOLDEN = os.path.join(ROOT, "tests", "data", "report", "golden.csv")
CHECK_HTML = os.path.join(REPORT_DIR, "check_html.py")
SCREENSHOT = os.path.join(REPORT_DIR, "screenshot.sh")
FROM, TO = "2026-01-01", "2026-06-30"
SEED, SIGNALS = 1, 3000
RANDOM_RUNS = 30  # random periods and thresholds per generated database
GENERATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def report_hub(partners=None, extra=None):
    """A config with named partners and a database every migration has run
    on: the hub is started once and stopped. The caller closes it."""
    partners = gen_data.CONFIG_PARTNERS if partners is None else partners
    extra = gen_data.CONFIG_EXTRA if extra is None else extra
    hub = Hub(partners=[(p, r) for p, r, _ in partners], extra_config=dict(extra))
    names = {p: n for p, _, n in partners}
    for p in hub.config["partners"]:
        if names.get(p["id"]):
            p["name"] = names[p["id"]]
    hub.rewrite_config()
    hub.start()
    rc = hub.stop()
    assert rc == 0, hub.log_text()
    return hub


def ctl_report(hub, *args):
    """Runs ketenctl report; stdout and stderr as text, CRLFs kept."""
    r = subprocess.run([KETENCTL, "--config", hub.config_path, "report"] + list(args),
                       capture_output=True, timeout=60 * SLOW)
    r.stdout = r.stdout.decode("utf-8")
    r.stderr = r.stderr.decode("utf-8", errors="replace")
    return r


def is_count(v):
    """A count the report shows as a number (not "<N", "x" or null)."""
    return isinstance(v, int) and not isinstance(v, bool)


def differences(got, want, path="$"):
    """Every place where got and want differ: values, and int / str / float /
    null kinds (a count must be an int or a string; 12 is not 12.0)."""
    out = []
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(got) | set(want)):
            if k not in got:
                out.append("%s.%s missing (want %r)" % (path, k, want[k]))
            elif k not in want:
                out.append("%s.%s extra: %r" % (path, k, got[k]))
            else:
                out += differences(got[k], want[k], "%s.%s" % (path, k))
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            out.append("%s: %d items, want %d" % (path, len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            out += differences(g, w, "%s[%d]" % (path, i))
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if got != want:
            out.append("%s: got %r, want %r" % (path, got, want))
    elif type(got) is not type(want) or got != want:
        out.append("%s: got %r, want %r" % (path, got, want))
    return out


class ReportCase(unittest.TestCase):
    hub = None

    def report_json(self, *args, threshold=None):
        extra = ["--threshold", str(threshold)] if threshold else []
        r = ctl_report(self.hub, *(list(args) + extra))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertRegex(doc.get("generated", ""), GENERATED)
        return doc

    def assertModel(self, got, want):
        got = dict(got)
        got.pop("generated", None)
        diff = differences(got, want)
        self.assertEqual(diff, [], "report differs from the expected model:\n  " +
                         "\n  ".join(diff[:60]))

    def expected(self, frm, to, threshold=5):
        return oracle.Oracle(self.hub.db_path, self.hub.config_path, frm, to, threshold).compute()

    def assertNothingDerivable(self, got, lines, threshold=5):
        """No hidden count follows from one line of docs/reporting.md §4 by
        subtraction. For every line (cells and the total they add up to, as
        the oracle lists them), a member is known to the reader when the
        report shows it as an integer in any of its places (a figure shown
        twice is one cell: `received` and `receipt.answered`), and, at
        worst, when it is one the report never shows (late answers, answers
        whose deadline is not known, decided and since cancelled) but is 0
        or at least the threshold. A line with all members known but one
        would give that one away: it must not happen. Also: one cell reads
        the same in all its places, the lines really add up, and a share is
        shown only when share x answered gives no hidden count away. Values
        as the report shows them; the raw ones from the oracle."""
        problems = []

        def known(c):
            if c.virtual:
                return not 0 < c.raw < threshold
            return any(is_count(oracle.at_path(got, p)) for p in c.paths)

        for name, cells, total in lines:
            members = list(cells) + [total]
            if sum(c.raw for c in cells) != total.raw:
                problems.append("%s: the cells add up to %d, not %d"
                                % (name, sum(c.raw for c in cells), total.raw))
            for c in members:
                shown = [oracle.at_path(got, p) for p in c.paths]
                if len({json.dumps(v) for v in shown}) > 1:
                    problems.append("%s: one cell shown as %s" % (name, ", ".join(
                        "%s %r" % (".".join(map(str, p)), v) for p, v in zip(c.paths, shown))))
            unknown = [c for c in members if not known(c)]
            if len(unknown) == 1:
                c = unknown[0]
                where = c.name if c.virtual else ".".join(map(str, c.path))
                problems.append("%s: all but %s shown, so it is %d" % (name, where, c.raw))
            # receipt / decision: share x answered would give within and late
            late = [c for c in cells if c.virtual and c.name == "late"]
            stats = [p[:-1] for p in total.paths if p[-1] == "answered"]
            if late and stats:
                t = oracle.at_path(got, stats[0])
                if t["within_deadline_pct"] is not None and (
                        not is_count(t["answered"]) or not is_count(t["within_deadline"])
                        or 0 < late[0].raw < threshold):
                    problems.append("%s: share %r of answered %r gives within %d, late %d"
                                    % (name, t["within_deadline_pct"], t["answered"],
                                       cells[0].raw, late[0].raw))
        self.assertEqual(problems, [])


    def compare_random_periods(self, seed, runs=None):
        """`runs` random periods (a day to over a year, around the data's
        2026-01 .. 2026-06) and thresholds: the report must be the oracle's
        model, and give no hidden count away. REPORT_RANDOM_RUNS=N runs more;
        the subtest names the period and threshold of a failing one. Returns
        the oracle's (model, lines, fixed) of each, for coverage checks."""
        runs = int(os.environ.get("REPORT_RANDOM_RUNS", RANDOM_RUNS)) if runs is None else runs
        rng = random.Random(seed)
        seen = []
        for k in range(runs):
            frm = datetime.date(2025, 11, 15) + datetime.timedelta(days=rng.randrange(280))
            to = frm + datetime.timedelta(days=rng.choice([0, 1, 6, 13, 30, 45, 90, 200, 400]))
            t = rng.choice([2, 2, 3, 3, 4, 5, 5, 5, 6, 7, 10, 15, 40, 100])
            frm, to = frm.isoformat(), to.isoformat()
            with self.subTest(run=k, frm=frm, to=to, threshold=t):
                got = self.report_json("--from", frm, "--to", to, threshold=t)
                want, lines, fixed, unfixable = self.expected(frm, to, t)
                self.assertModel(got, want)
                self.assertEqual(unfixable, [])
                self.assertNothingDerivable(got, lines, t)
                seen.append((want, lines, fixed))
        return seen


class GeneratedData(ReportCase):
    """Six months of generated data against the oracle."""

    @classmethod
    def setUpClass(cls):
        cls.hub = report_hub()
        con = gen_data.connect(cls.hub.db_path)
        try:
            gen_data.check_schema(con)
            cls.summary = gen_data.generate(con, gen_data.Config(cls.hub.config_path), SEED,
                                            SIGNALS)
        finally:
            con.close()
        cls.want, cls.lines, cls.fixed, cls.unfixable = oracle.Oracle(
            cls.hub.db_path, cls.hub.config_path, FROM, TO).compute()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def test_the_data_covers_the_cases(self):
        """The generator's promises (gen_data.py docstring), seen by the oracle."""
        w = self.want
        sig = w["signals"]
        self.assertEqual(sig["total"], SIGNALS)
        self.assertEqual([r["role"] for r in sig["by_role"]], oracle.ROLES)
        self.assertEqual(sig["by_role"][-1]["signals"], "<5")  # coordinator: 3
        self.assertEqual(sig["by_form"]["orgaanverwijdering"], "<5")
        self.assertEqual(sig["by_month"][-1]["onbekend"], "<5")
        self.assertIn("x", [m["onbekend"] for m in sig["by_month"]])
        self.assertEqual([m["code"] for m in sig["by_municipality"]][-3:],
                         ["GM0363", "GM0518", None])
        for part in ("by_age", "by_urgency"):
            self.assertTrue(all(isinstance(v, int) and v > 0 for v in sig[part].values()))
        for name in ("by_role", "by_month.onbekend", "escalations.by_level",
                     # fier: accepted 13, declined 2 (hidden), decision.answered 15
                     "referrals.fier.decisions",
                     # 4 decided late (hidden): within_deadline hidden with them
                     "referrals.gemeente-losser.decision"):
            self.assertIn(name, self.fixed)  # secondary suppression happened there
        self.assertEqual(self.unfixable, [])
        levels = {b["level"]: b["escalations"] for b in w["escalations"]["by_level"]}
        self.assertEqual(levels[0], "<5")
        self.assertTrue(1 in levels and 2 in levels)
        self.assertIsInstance(w["escalations"]["acknowledged"], int)
        # matches: shown in total, comensha+care exactly 2 (hidden), with other
        # small pairs in the same line (so nothing follows by subtraction);
        # coordinator+coordinator 0
        m = w["matches"]
        self.assertTrue(m["available"])
        self.assertIsInstance(m["count"], int)
        self.assertGreater(m["count"], 100)
        pairs = {tuple(r["roles"]): r["matches"] for r in m["by_roles"]}
        self.assertEqual(len(pairs), 15)
        self.assertEqual(pairs["comensha", "care"], "<5")
        self.assertEqual(pairs["coordinator", "coordinator"], 0)
        self.assertGreaterEqual(sum(1 for v in pairs.values() if v in ("<5", "x")), 2)
        self.assertEqual([r["month"] for r in m["by_month"]],
                         [r["month"] for r in sig["by_month"]])
        con = self.hub.db()
        try:
            states = dict(con.execute("SELECT state, count(*) FROM referrals GROUP BY state"))
            on_deadline = con.execute("SELECT count(*) FROM referrals WHERE received_ms ="
                                      " receipt_deadline_ms").fetchone()[0]
            just_late = con.execute("SELECT count(*) FROM referrals WHERE received_ms ="
                                    " receipt_deadline_ms + 1").fetchone()[0]
            unacked = con.execute("SELECT count(*) FROM escalations WHERE acked_ms IS NULL"
                                  " AND level >= 0").fetchone()[0]
        finally:
            con.close()
        self.assertEqual(sorted(states), sorted(["aangeboden", "ontvangen", "geaccepteerd",
                                                 "afgewezen", "afgerond", "geannuleerd",
                                                 "mislukt"]))
        self.assertGreater(on_deadline, 0)
        self.assertGreater(just_late, 0)
        self.assertGreater(unacked, 0)

    def test_json_is_the_oracle_model(self):
        self.assertModel(self.report_json("--from", FROM, "--to", TO), self.want)

    def test_json_is_the_default_format_and_out_writes_a_file_0644(self):
        out = os.path.join(self.hub.dir, "report.json")
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
        with open(out) as f:
            self.assertModel(json.load(f), self.want)

    def test_other_periods_and_threshold_3(self):
        for frm, to, t in [("2026-02-01", "2026-02-28", 5), ("2026-03-15", "2026-04-10", 5),
                           ("2025-12-01", "2026-07-31", 5), ("2026-01-01", "2026-01-01", 5),
                           ("2025-12-31", "2025-12-31", 5), ("2026-06-30", "2026-07-01", 2),
                           (FROM, TO, 3), ("2026-05-01", "2026-06-30", 100)]:
            with self.subTest(frm=frm, to=to, threshold=t):
                want = self.expected(frm, to, t)[0]
                self.assertModel(self.report_json("--from", frm, "--to", to, threshold=t), want)
        # The period's edges: signals at 00:00:00.000Z on the first day and
        # 23:59:59.999Z on the last are in; one millisecond outside is not.
        one = self.report_json("--from", "2026-01-01", "--to", "2026-01-01", threshold=2)
        self.assertEqual(self.expected("2026-01-01", "2026-01-01", 2)[0]["signals"]["total"],
                         one["signals"]["total"])
        con = self.hub.db()
        try:
            edge = con.execute("SELECT count(*) FROM signal_facts WHERE received_ms IN (?, ?)",
                               (ms_of("2026-01-01"), ms_of("2026-01-01") - 1)).fetchone()[0]
        finally:
            con.close()
        self.assertEqual(edge, 2)

    def test_threshold_3_shows_3_and_hides_2(self):
        doc = self.report_json("--from", FROM, "--to", TO, threshold=3)
        self.assertEqual(doc["threshold"], 3)
        roles = {r["role"]: r["signals"] for r in doc["signals"]["by_role"]}
        self.assertEqual(roles["coordinator"], 3)
        munis = {m["code"]: m["signals"] for m in doc["signals"]["by_municipality"]}
        self.assertEqual((munis["GM0363"], munis["GM0518"]), ("<3", "<3"))
        self.assertEqual(doc["signals"]["by_form"]["orgaanverwijdering"], 3)

    def test_no_hidden_count_follows_by_subtraction(self):
        got = self.report_json("--from", FROM, "--to", TO)
        self.assertNothingDerivable(got, self.lines)

    def test_random_periods_and_thresholds(self):
        self.compare_random_periods(SEED)

    def test_a_hidden_received_count_is_not_shown_as_receipt_answered(self):
        """`received` and `receipt.answered` are the same number (docs §1):
        one must not show what the other hides."""
        hidden = set()
        for frm, to, t in [(FROM, TO, 5), ("2026-02-01", "2026-02-28", 5),
                           ("2026-01-01", "2026-01-31", 5), ("2026-02-01", "2026-02-28", 2)]:
            got = self.report_json("--from", frm, "--to", to, threshold=t)
            for p in got["referrals"]["partners"]:
                self.assertEqual(p["received"], p["receipt"]["answered"], (frm, to, t, p))
                if not is_count(p["received"]):
                    hidden.add(p["received"])
        self.assertEqual(hidden, {"<5", "x"})

    def csv_rows(self, text):
        self.assertTrue(text.startswith("table,row,column,value\r\n"), text[:80])
        self.assertTrue(text.endswith("\r\n"))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(rows[0], ["table", "row", "column", "value"])
        self.assertTrue(all(len(r) == 4 for r in rows), [r for r in rows if len(r) != 4][:3])
        return rows[1:]

    def test_csv_is_the_golden_file(self):
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = normalise_csv(r.stdout)
        if os.environ.get("REPORT_WRITE_GOLDEN"):
            self.assertModel(self.report_json("--from", FROM, "--to", TO), self.want)
            os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
            with open(GOLDEN, "w", newline="") as f:
                f.write(got)
        with open(GOLDEN, newline="") as f:
            want = f.read()
        # The golden file itself holds exactly the oracle's figures.
        model = dict(self.want, generated="*")
        rows = self.csv_rows(want)
        self.assertEqual({tuple(r[:3]): r[3] for r in rows}.keys(), csv_figures(model).keys())
        for key, value in csv_figures(model).items():
            cell = [r[3] for r in rows if tuple(r[:3]) == key][0]
            self.assertTrue(value == "*" or same_figure(cell, value), (key, cell, value))
        self.assertEqual(got.splitlines(), want.splitlines())
        self.assertEqual(got, want)  # also the CRLFs

    def test_csv_holds_every_figure_of_the_json(self):
        doc = self.report_json("--from", FROM, "--to", TO)
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.csv_rows(r.stdout)
        keys = [tuple(row[:3]) for row in rows]
        self.assertEqual(len(keys), len(set(keys)), "a (table, row, column) twice")
        table = {tuple(row[:3]): row[3] for row in rows}
        want = csv_figures(doc)
        missing, wrong = [], []
        self.assertRegex(table.get(("report", "generated", "value"), ""), GENERATED)
        del want[("report", "generated", "value")]  # another run, another moment
        for key, value in want.items():
            if key not in table:
                missing.append(key)
            elif not same_figure(table[key], value):
                wrong.append((key, table[key], value))
        self.assertEqual(missing, [])
        self.assertEqual(wrong, [])
        # ... and nothing that is not in the JSON.
        self.assertEqual(sorted(k for k in table if k not in want and k[1] != "generated"), [])

    def test_html_is_well_formed_with_one_svg_per_chart(self):
        out = os.path.join(self.hub.dir, "report.html")
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "html", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
        self.assertTrue(os.path.exists(CHECK_HTML), "tests/report/check_html.py is missing")
        c = subprocess.run([PY, CHECK_HTML, out], capture_output=True, text=True,
                           timeout=60 * SLOW)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        info = json.loads(c.stdout)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        sections = Sections()
        sections.feed(page)
        self.assertGreater(len(sections.charts), 0)
        for name, svgs in sections.charts:
            self.assertEqual(svgs, 1, "chart section %s has %d <svg>" % (name, svgs))
        self.assertEqual(info["svg"], len(sections.charts))
        if "sections" in info:  # check_html.py's own view of the page
            charts = [x for x in info["sections"] if x.get("chart")]
            self.assertEqual([x.get("svg") for x in charts], [1] * len(charts))
            self.assertEqual(len(charts), len(sections.charts))
        # The names that need escaping are there, escaped.
        self.assertIn("Fier &lt;opvang&gt; &amp; zorg", page)
        self.assertNotIn("Fier <opvang>", page)

    def test_html_screenshot(self):
        out = os.path.join(self.hub.dir, "shot.html")
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "html", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        if not os.path.exists(SCREENSHOT):
            self.fail("tests/report/screenshot.sh is missing")
        png = os.path.join(self.hub.dir, "shot.png")  # removed with the hub's folder
        s = subprocess.run(["bash", SCREENSHOT, out, png], capture_output=True, text=True,
                           timeout=150 * SLOW)
        if s.returncode == 77:
            self.skipTest("chromium missing: " + (s.stdout + s.stderr).strip()[-200:])
        self.assertEqual(s.returncode, 0, s.stdout + s.stderr)

    def test_all_three_formats_hide_the_same_number_of_cells(self):
        """Every hidden count of the JSON is a hidden cell in the CSV and in
        the HTML's tables, and there are no others."""
        doc = self.report_json("--from", FROM, "--to", TO)
        values = list(leaves(doc))
        want = (values.count("x"), values.count("<5"))
        self.assertGreater(want[0], 0)
        self.assertGreater(want[1], 0)
        r = ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "csv")
        rows = self.csv_rows(r.stdout)
        self.assertEqual((sum(1 for row in rows if row[3] == "x"),
                          sum(1 for row in rows if row[3] == "<5")), want)
        out = os.path.join(self.hub.dir, "same.html")
        self.assertEqual(ctl_report(self.hub, "--from", FROM, "--to", TO, "--format", "html",
                                    "--out", out).returncode, 0)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertEqual((len(re.findall(r"<td[^>]*>\s*x\s*</td>", page)),
                          len(re.findall(r"<td[^>]*>\s*&lt;5\s*</td>", page))), want)


def leaves(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from leaves(v)
    elif isinstance(x, list):
        for v in x:
            yield from leaves(v)
    else:
        yield x


class Sections(html.parser.HTMLParser):
    """<section class="... chart ..."> elements and the <svg> in each."""

    def __init__(self):
        super().__init__()
        self.charts = []
        self.stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            is_chart = "chart" in (a.get("class") or "").split()
            self.stack.append(is_chart)
            if is_chart:
                self.charts.append([a.get("id"), 0])
        elif tag == "svg" and any(self.stack) and self.charts:
            self.charts[-1][1] += 1

    def handle_endtag(self, tag):
        if tag == "section" and self.stack:
            self.stack.pop()


def normalise_csv(text):
    """The CSV with its one moving part, the generation time, fixed."""
    return re.sub(r"(?m)^report,generated,value,[^\r\n]*", "report,generated,value,*", text)


def csv_figures(doc):
    """(table, row, column) -> JSON value for every figure of the model, as
    the CSV (docs/reporting.md §2) names them."""
    out = {("report", "version", "value"): doc["version"],
           ("report", "period", "from"): doc["period"]["from"],
           ("report", "period", "to"): doc["period"]["to"],
           ("report", "generated", "value"): doc["generated"],
           ("report", "threshold", "value"): doc["threshold"]}
    s = doc["signals"]
    out[("signals", "total", "signals")] = s["total"]
    for m in s["by_month"]:
        for k, v in m.items():
            if k != "month":
                out[("by_month", m["month"], k)] = v
    for f, v in s["by_form"].items():
        out[("by_form", f, "signals")] = v
    for r in s["by_role"]:
        out[("by_role", r["role"], "signals")] = r["signals"]
    for m in s["by_municipality"]:
        code = m["code"] or ""
        out[("by_municipality", code, "name")] = m["name"]
        out[("by_municipality", code, "signals")] = m["signals"]
    for part in ("by_age", "by_urgency"):
        for k, v in s[part].items():
            out[(part, k, "signals")] = v
    for p in doc["referrals"]["partners"]:
        for k, v in p.items():
            if k == "partner":
                continue
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    out[("referrals", p["partner"], "%s_%s" % (k, k2))] = v2
            else:
                out[("referrals", p["partner"], k)] = v
    for k, v in doc["referrals"]["total"].items():
        out[("referrals", "total", k)] = v
    e = doc["escalations"]
    out[("escalations", "total", "escalations")] = e["total"]
    for b in e["by_level"]:
        out[("escalations", "level %d" % b["level"], "escalations")] = b["escalations"]
    out[("escalations", "acknowledged", "escalations")] = e["acknowledged"]
    for k, v in e["time_to_ack"].items():
        out[("escalations", "time_to_ack", k)] = v
    out[("matches", "count", "available")] = doc["matches"]["available"]
    out[("matches", "count", "matches")] = doc["matches"]["count"]
    for r in doc["matches"].get("by_month", []):
        out[("matches", r["month"], "matches")] = r["matches"]
    for r in doc["matches"].get("by_roles", []):
        out[("matches", "+".join(r["roles"]), "matches")] = r["matches"]
    return out


def same_figure(text, value):
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, float):
        try:
            return float(text) == value and re.fullmatch(r"-?\d+\.\d", text) is not None
        except ValueError:
            return False
    return text == value


class MigratedRows(ReportCase):
    """Generated data as a migration from before the report leaves some of
    it (docs/reporting.md §5): receipt and decision deadlines that are not
    known, and accepted or declined referrals whose moment of decision is
    not known (so a partner's decided count can be below accepted +
    declined, and its decisions line is left out). Random periods and
    thresholds against the oracle."""

    @classmethod
    def setUpClass(cls):
        cls.hub = report_hub()
        con = gen_data.connect(cls.hub.db_path)
        try:
            gen_data.generate(con, gen_data.Config(cls.hub.config_path), 2, 1200)
            rng = random.Random(2)
            con.execute("BEGIN")
            for (rid,) in con.execute("SELECT id FROM referrals ORDER BY id").fetchall():
                x = rng.random()
                if x < 0.10:
                    con.execute("UPDATE referrals SET receipt_deadline_ms = NULL WHERE id = ?",
                                (rid,))
                elif x < 0.18:
                    con.execute("UPDATE referrals SET decision_deadline_ms = NULL WHERE id = ?",
                                (rid,))
                elif x < 0.21:
                    con.execute("UPDATE referrals SET decided_ms = NULL WHERE id = ?", (rid,))
            con.execute("COMMIT")
        finally:
            con.close()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def test_random_periods_and_thresholds(self):
        seen = self.compare_random_periods(SEED + 1)
        # What this data is for happened in these runs: answers whose
        # deadline is not known as a hidden cell of a line, a share left out
        # only because a deadline is not known, a partner without its
        # decisions line, and a decisions line fixed.
        found = collections.Counter()
        for want, lines, fixed in seen:
            t = want["threshold"]
            names = {line.name for line in lines}
            for name, cells, total in lines:
                virtual = {c.name: c.raw for c in cells if c.virtual}
                found["small unknown"] += 0 < virtual.get("unknown", 0) < t
                if "late" in virtual and virtual["unknown"] > 0 and total.raw >= t and all(
                        v == 0 or v >= t for v in (cells[0].raw, virtual["late"])):
                    found["share left out"] += 1
            for p in want["referrals"]["partners"]:
                found["no decisions line"] += "referrals.%s.decisions" % p["partner"] not in names
            found["decisions fixed"] += any(f.endswith(".decisions") for f in fixed)
        for what in ("small unknown", "share left out", "no decisions line", "decisions fixed"):
            self.assertGreater(found[what], 0, (what, dict(found)))

    def test_the_main_period(self):
        got = self.report_json("--from", FROM, "--to", TO)
        want, lines, fixed, unfixable = self.expected(FROM, TO)
        self.assertModel(got, want)
        self.assertNothingDerivable(got, lines)
        self.assertEqual(unfixable, [])


# ---- hand-made data ------------------------------------------------------

MARCH = ms_of("2026-03-02T10:00:00.000Z")
APRIL = ms_of("2026-04-06T09:00:00.000Z")
MAY = ms_of("2026-05-04T08:00:00.000Z")
JUNE = ms_of("2026-06-01T08:00:00.000Z")
JULY = ms_of("2026-07-06T08:00:00.000Z")
AUGUST = ms_of("2026-08-03T09:00:00.000Z")
SEPTEMBER = ms_of("2026-09-07T08:00:00.000Z")
# September: minutes from offer to receipt per partner, in the order the
# signals came in (the order the report reads them): descending, all equal,
# alternating, up and down, and exactly the threshold with equal values.
# Each accepted a minute after receipt.
SEPTEMBER_RECEIPT_MIN = {
    "comensha": list(range(19, 0, -1)),         # median 10th = 10, p90 18th = 18
    "gemeente-almelo": [5] * 7,                  # 5, 5
    "gemeente-enschede": [1, 9] * 5,             # median 5th = 1, p90 9th = 9
    "gemeente-hengelo": [1, 3, 5, 7, 9, 8, 6, 4, 2],  # median 5th = 5, p90 9th = 9
    "gemeente-losser": [4, 4, 2, 2, 1],          # median 3rd = 2, p90 5th = 4
}
SEPTEMBER_ACK_MIN = [60, 50, 40, 30, 20, 10]     # median 3rd = 30, p90 6th = 60
# Receipt times of politie-oost-nederland's 16 referrals (crisis: receipt
# within 15 min): 5 within (the 5th exactly at the deadline), 11 late (the
# first by 1 ms). Median = 8th = 16.25 min -> 16.3 (half away from zero;
# printf's "%.1f" would say 16.2); p90 = 15th = 30.25 min -> 30.3; within
# 5/16 = 31.25 % -> 31.3.
RECEIPT_MS = [60000, 120000, 300000, 600000, 900000, 900001, 930000, 975000, 1200000, 1300000,
              1400000, 1500000, 1600000, 1700000, 1815000, 3600000]
ACK_MS = [60000, 120000, 180000, 240000, 300000, 3600000]  # median 3rd, p90 6th


def craft(hub):
    """Writes the hand-made data sets; see SmallNumbers for what they must give."""
    con = gen_data.connect(hub.db_path)
    rng = random.Random(7)
    cfg = gen_data.Config(hub.config_path)
    con.execute("BEGIN")
    # March: 53 signals; by_role police 20, municipality 9, comensha 3, care 9,
    # coordinator 12. Police's are crisis, 16 of them referred to
    # politie-oost-nederland; 4 hoog, the other 29 normaal; 8 minors; all
    # arbeid, one also orgaanverwijdering; 40 in GM0153, 13 in GM0164.
    n = 0
    signals = []
    for role, count in [("police", 20), ("municipality", 9), ("comensha", 3), ("care", 9),
                        ("coordinator", 12)]:
        for i in range(count):
            urgency = "crisis" if role == "police" else ("hoog" if n < 24 else "normaal")
            f = Facts(MARCH + n * 37 * MINUTE, cfg.by_role[role][0], role,
                      ["arbeid"] + (["orgaanverwijdering"] if n == 30 else []), urgency,
                      n % 7 == 3, "GM0153" if n < 40 else "GM0164")
            gen_data.insert_signal(con, f, rng)
            signals.append(f)
            n += 1
    crisis = gen_data.CONFIG_EXTRA["policies"]["crisis"]
    rec, dec = gen_data.duration_ms(crisis["receipt"]), gen_data.duration_ms(crisis["decision"])
    refs = []
    for i, d in enumerate(RECEIPT_MS):
        f = signals[i]
        steps = [("ontvangen", f.received_ms + d)]
        if i < 4:  # four decided, well within 4 h
            steps.append(("geaccepteerd", f.received_ms + d + 10 * MINUTE))
        refs.append(gen_data.insert_referral(con, rng, f.seq, "politie-oost-nederland",
                                             "crisis", f.received_ms, rec, dec, steps))
    # Nine escalations of missed receipts: two reached level 1, seven level 2;
    # six acknowledged.
    for k, r in enumerate(refs[5:14]):
        ack = r["receipt_deadline_ms"] + ACK_MS[k] if k < len(ACK_MS) else None
        gen_data.insert_escalation(con, r, "receipt", 0 if k < 2 else 1, ack)
    # April: 20 police signals; gemeente-enschede gets 13 referrals (3 open,
    # 10 accepted), comensha 7 (all mislukt).
    standaard = gen_data.CONFIG_EXTRA["policies"]["standaard"]
    rec, dec = gen_data.duration_ms(standaard["receipt"]), gen_data.duration_ms(
        standaard["decision"])
    for i in range(20):
        f = Facts(APRIL + i * gen_data.HOUR, "politie-oost-nederland", "police", ["seksueel"],
                  "normaal", False, "GM0153")
        gen_data.insert_signal(con, f, rng)
        t = f.received_ms
        if i < 3:
            steps = []
        elif i < 13:
            steps = [("ontvangen", t + MINUTE), ("geaccepteerd", t + 2 * MINUTE)]
        else:
            steps = [("mislukt", t + 30 * MINUTE)]
        gen_data.insert_referral(con, rng, f.seq, "gemeente-enschede" if i < 13 else "comensha",
                                 "standaard", t, rec, dec, steps)
    # May: comensha 7 referrals, all received and accepted in time;
    # gemeente-enschede 12, two received (so a hidden "<5" in the received
    # column), ten not yet; gemeente-hengelo 12, all received and accepted.
    plan = [("comensha", 7, "accepted")] + [("gemeente-enschede", 2, "received"),
                                             ("gemeente-enschede", 10, "offered"),
                                             ("gemeente-hengelo", 12, "accepted")]
    i = 0
    for partner, count, outcome in plan:
        for _ in range(count):
            f = Facts(MAY + i * gen_data.HOUR, "politie-oost-nederland", "police", ["arbeid"],
                      "normaal", False, "GM0153")
            gen_data.insert_signal(con, f, rng)
            t = f.received_ms
            steps = {"offered": [], "received": [("ontvangen", t + MINUTE)],
                     "accepted": [("ontvangen", t + MINUTE), ("geaccepteerd", t + 2 * MINUTE)]}
            gen_data.insert_referral(con, rng, f.seq, partner, "standaard", t, rec, dec,
                                     steps[outcome])
            i += 1
    # June, July, August: one month per plan, as (partner, count, outcome);
    # every signal police, arbeid, normaal, GM0153, an hour apart.
    # June: veilig-thuis-twente 10 referrals, received after a minute and
    # accepted after two, all in time; of 3 the receipt deadline is not
    # known (as after the migration). July: gemeente-hengelo 10 accepted, 2
    # accepted and since cancelled, 4 failed. August: comensha 5 open, 1
    # accepted, 2 failed; gemeente-enschede 3 open, 2 accepted, 5 failed.
    steps = {"offered": lambda t: [],
             "accepted": lambda t: [("ontvangen", t + MINUTE), ("geaccepteerd", t + 2 * MINUTE)],
             "cancelled": lambda t: [("ontvangen", t + MINUTE), ("geaccepteerd", t + 2 * MINUTE),
                                     ("geannuleerd", t + DAY)],
             "failed": lambda t: [("mislukt", t + 30 * MINUTE)]}
    months = [(JUNE, [("veilig-thuis-twente", 10, "accepted")]),
              (JULY, [("gemeente-hengelo", 10, "accepted"), ("gemeente-hengelo", 2, "cancelled"),
                      ("gemeente-hengelo", 4, "failed")]),
              (AUGUST, [("comensha", 5, "offered"), ("comensha", 1, "accepted"),
                        ("comensha", 2, "failed"), ("gemeente-enschede", 3, "offered"),
                        ("gemeente-enschede", 2, "accepted"),
                        ("gemeente-enschede", 5, "failed")])]
    for start, plan in months:
        i = 0
        for partner, count, outcome in plan:
            for _ in range(count):
                f = Facts(start + i * gen_data.HOUR, "politie-oost-nederland", "police",
                          ["arbeid"], "normaal", False, "GM0153")
                gen_data.insert_signal(con, f, rng)
                t = f.received_ms
                r = gen_data.insert_referral(con, rng, f.seq, partner, "standaard", t, rec, dec,
                                             steps[outcome](t))
                if start == JUNE and i < 3:
                    con.execute("UPDATE referrals SET receipt_deadline_ms = NULL WHERE id = ?",
                                (r["id"],))
                i += 1
    i = 0
    for partner, receipt_min in SEPTEMBER_RECEIPT_MIN.items():
        for m in receipt_min:
            f = Facts(SEPTEMBER + i * gen_data.HOUR, "politie-oost-nederland", "police",
                      ["arbeid"], "normaal", False, "GM0153")
            gen_data.insert_signal(con, f, rng)
            t = f.received_ms
            r = gen_data.insert_referral(con, rng, f.seq, partner, "standaard", t, rec, dec,
                                         [("ontvangen", t + m * MINUTE),
                                          ("geaccepteerd", t + (m + 1) * MINUTE)])
            if partner == "comensha" and i < len(SEPTEMBER_ACK_MIN):
                gen_data.insert_escalation(con, r, "receipt", 0, r["receipt_deadline_ms"]
                                           + SEPTEMBER_ACK_MIN[i] * MINUTE)
            i += 1
    con.execute("COMMIT")
    con.close()


MARCH_MODEL = {
    "report": "ketenhub", "version": 1, "period": {"from": "2026-03-01", "to": "2026-03-31"},
    "threshold": 5,
    "signals": {
        "total": 53,
        "forms": oracle.FORMS,
        "by_month": [{"month": "2026-03", "signals": 53, "seksueel": 0, "arbeid": 53,
                      "crimineel": 0, "orgaanverwijdering": "<5", "onbekend": 0}],
        "by_form": {"seksueel": 0, "arbeid": 53, "crimineel": 0, "orgaanverwijdering": "<5",
                    "onbekend": 0},
        # comensha hidden; the smallest shown (9, twice: the first) with it
        "by_role": [{"role": "police", "signals": 20}, {"role": "municipality", "signals": "x"},
                    {"role": "comensha", "signals": "<5"}, {"role": "care", "signals": 9},
                    {"role": "coordinator", "signals": 12}],
        # every code of the config's municipalities table, sorted; then none
        "by_municipality": [{"code": "GM0141", "name": "Gemeente Almelo", "signals": 0},
                            {"code": "GM0153", "name": "Gemeente Enschede", "signals": 40},
                            {"code": "GM0164", "name": "Gemeente Hengelo", "signals": 13},
                            {"code": "GM0168", "name": "Gemeente Losser", "signals": 0},
                            {"code": None, "name": "onbekend", "signals": 0}],
        "by_age": {"minderjarig": 8, "meerderjarig": 45},
        "by_urgency": {"crisis": "x", "hoog": "<5", "normaal": 29},
    },
    "referrals": {
        "partners": [{
            "partner": "politie-oost-nederland", "name": "Politie Oost-Nederland",
            "role": "police", "offered": 16, "open": "x", "accepted": "<5", "declined": 0,
            "other": 0, "received": 16,
            "receipt": {"answered": 16, "median_minutes": 16.3, "p90_minutes": 30.3,
                        "within_deadline": 5, "within_deadline_pct": 31.3,
                        "deadline_minutes": 15.0},
            "decision": {"answered": "<5", "median_minutes": None, "p90_minutes": None,
                         "within_deadline": "<5", "within_deadline_pct": None,
                         "deadline_minutes": 240.0}}],
        "total": {"offered": 16, "open": "x", "accepted": "<5", "declined": 0, "other": 0,
                  "received": 16},
    },
    "escalations": {"total": 9,
                    "by_level": [{"level": 1, "escalations": "<5"},
                                 {"level": 2, "escalations": "x"}],
                    "acknowledged": 6,
                    "time_to_ack": {"median_minutes": 3.0, "p90_minutes": 60.0}},
    # no matches in the hand-made data: every pair of roles, zeros
    "matches": {"available": True, "count": 0, "by_month": [{"month": "2026-03", "matches": 0}],
                "by_roles": [{"roles": [a, b], "matches": 0}
                             for i, a in enumerate(oracle.ROLES) for b in oracle.ROLES[i:]]},
}


class SmallNumbers(ReportCase):
    """Hand-made data: the figures are written out above, by hand."""

    @classmethod
    def setUpClass(cls):
        cls.hub = report_hub()
        craft(cls.hub)

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def test_the_oracle_agrees_with_the_hand_made_figures(self):
        self.assertEqual(differences(self.expected("2026-03-01", "2026-03-31")[0], MARCH_MODEL),
                         [])

    def test_march_by_hand(self):
        got = self.report_json("--from", "2026-03-01", "--to", "2026-03-31")
        self.assertModel(got, MARCH_MODEL)

    def test_one_small_cell_hides_another(self):
        got = self.report_json("--from", "2026-03-01", "--to", "2026-03-31")
        roles = [r["signals"] for r in got["signals"]["by_role"]]
        self.assertEqual(roles, [20, "x", "<5", 9, 12])
        # 53 - 20 - 9 - 12 = 12 = 9 + 3: not the hidden 3.
        self.assertNotEqual(got["signals"]["total"] - sum(v for v in roles if isinstance(v, int)),
                            3)
        self.assertNothingDerivable(got, self.expected("2026-03-01", "2026-03-31")[1])

    def test_threshold_3(self):
        got = self.report_json("--from", "2026-03-01", "--to", "2026-03-31", threshold=3)
        self.assertModel(got, self.expected("2026-03-01", "2026-03-31", 3)[0])
        self.assertEqual([r["signals"] for r in got["signals"]["by_role"]], [20, 9, 3, 9, 12])
        self.assertEqual(got["signals"]["by_urgency"], {"crisis": 20, "hoog": 4, "normaal": 29})
        self.assertEqual(got["referrals"]["partners"][0]["decision"]["answered"], 4)
        # Four answers are enough with threshold 3: all within 4 h, 10 min after receipt.
        self.assertEqual(got["referrals"]["partners"][0]["decision"]["within_deadline_pct"],
                         100.0)
        self.assertEqual(got["signals"]["by_form"]["orgaanverwijdering"], "<3")

    def referral_rows(self, got):
        """partner -> [offered, open, accepted, declined, other, received], and "total"."""
        rows = {q["partner"]: [q[k] for k in oracle.REFERRAL_COLUMNS]
                for q in got["referrals"]["partners"]}
        rows["total"] = [got["referrals"]["total"][k] for k in oracle.REFERRAL_COLUMNS]
        return rows

    def timing(self, got, partner, part):
        """(answered, within_deadline, within_deadline_pct, deadline_minutes)."""
        t = [q for q in got["referrals"]["partners"] if q["partner"] == partner][0][part]
        return (t["answered"], t["within_deadline"], t["within_deadline_pct"],
                t["deadline_minutes"])

    def test_april_a_column_with_nothing_else_to_hide_hides_its_total(self):
        """gemeente-enschede: open 3 (hidden), accepted 10, so accepted is
        hidden too ("x"); but comensha accepted none, so the accepted column
        has nothing else to hide, and its total (10) would give the "x" and
        with it 13 - 10 = the hidden 3: the total is hidden. The decisions
        line (decision.answered 10 = accepted + declined 0 + 0 decided and
        since cancelled) would give the "x" too: decision.answered is hidden,
        and with it (decision.answered = within + late + unknown) the 10
        decided in time."""
        got = self.report_json("--from", "2026-04-01", "--to", "2026-04-30")
        want, lines, fixed, unfixable = self.expected("2026-04-01", "2026-04-30")
        self.assertModel(got, want)
        self.assertEqual(unfixable, [])
        rows = self.referral_rows(got)
        self.assertEqual(rows["gemeente-enschede"], [13, "<5", "x", 0, 0, 10])
        self.assertEqual(rows["comensha"], [7, 0, 0, 0, 7, 0])
        self.assertEqual(rows["total"], [20, "<5", "x", 0, 7, 10])
        self.assertEqual(self.timing(got, "gemeente-enschede", "receipt")[:2], (10, 10))
        self.assertEqual(self.timing(got, "gemeente-enschede", "decision")[:2], ("x", "x"))
        self.assertIn("referrals.gemeente-enschede.decisions", fixed)
        self.assertNothingDerivable(got, lines)

    def test_may_a_hidden_received_count_stays_hidden(self):
        """The received column: gemeente-enschede 2 (hidden), comensha 7,
        gemeente-hengelo 12, total 21; comensha's 7 is hidden with it ("x").
        comensha's receipt.answered is the same cell, so it is "x" as well:
        if it showed 7, 21 - 12 - 7 would give gemeente-enschede's hidden 2.
        And comensha's receipt line (received = within 7 + late 0 + unknown
        0) now has its total hidden, so the 7 received in time is hidden too:
        it would give the received count back."""
        got = self.report_json("--from", "2026-05-01", "--to", "2026-05-31")
        want, lines, fixed, unfixable = self.expected("2026-05-01", "2026-05-31")
        self.assertModel(got, want)
        rows = self.referral_rows(got)
        self.assertEqual(rows, {"comensha": [7, 0, 7, 0, 0, "x"],
                                "gemeente-enschede": [12, 12, 0, 0, 0, "<5"],
                                "gemeente-hengelo": [12, 0, 12, 0, 0, 12],
                                "total": [31, 12, 19, 0, 0, 21]})
        self.assertEqual(self.timing(got, "comensha", "receipt")[:2], ("x", "x"))
        self.assertEqual(self.timing(got, "gemeente-enschede", "receipt")[:2], ("<5", "<5"))
        self.assertEqual(self.timing(got, "gemeente-hengelo", "receipt")[:2], (12, 12))
        for q in got["referrals"]["partners"]:
            self.assertEqual(q["received"], q["receipt"]["answered"], q["partner"])
        # Nothing in the received column or a receipt line gives the 2 back,
        # whichever of the two places of each received count one reads.
        shown = [v for q in got["referrals"]["partners"]
                 for v in (q["received"], q["receipt"]["answered"]) if is_count(v)]
        self.assertEqual(shown, [12, 12])  # gemeente-hengelo's, twice: 21 - 12 = 7 + 2
        self.assertNothingDerivable(got, lines)

    def test_june_answers_whose_deadline_is_not_known(self):
        """veilig-thuis-twente received all 10 in time, but of 3 the receipt
        deadline is not known: received 10 = within 7 + late 0 + unknown 3.
        The unknown ones are not shown, but 10 - 7 would give them: a
        hidden cell of the line, so within_deadline is hidden ("x"). No share
        without every deadline known; deadline_minutes from the known ones."""
        got = self.report_json("--from", "2026-06-01", "--to", "2026-06-30")
        want, lines, fixed, unfixable = self.expected("2026-06-01", "2026-06-30")
        self.assertModel(got, want)
        self.assertEqual(self.referral_rows(got), {"veilig-thuis-twente": [10, 0, 10, 0, 0, 10],
                                                   "total": [10, 0, 10, 0, 0, 10]})
        p = got["referrals"]["partners"][0]
        self.assertEqual(p["receipt"], {"answered": 10, "median_minutes": 1.0, "p90_minutes": 1.0,
                                        "within_deadline": "x", "within_deadline_pct": None,
                                        "deadline_minutes": 1440.0})
        self.assertEqual(p["decision"], {"answered": 10, "median_minutes": 2.0,
                                         "p90_minutes": 2.0, "within_deadline": 10,
                                         "within_deadline_pct": 100.0,
                                         "deadline_minutes": 7200.0})
        self.assertEqual(fixed, ["referrals.veilig-thuis-twente.receipt"])
        self.assertNothingDerivable(got, lines)
        # With threshold 3 the 3 unknown ones are no small number: within
        # shows, the share still does not.
        got = self.report_json("--from", "2026-06-01", "--to", "2026-06-30", threshold=3)
        self.assertModel(got, self.expected("2026-06-01", "2026-06-30", 3)[0])
        self.assertEqual(self.timing(got, "veilig-thuis-twente", "receipt"),
                         (10, 7, None, 1440.0))

    def test_july_decided_and_since_cancelled(self):
        """gemeente-hengelo: 10 accepted, 2 accepted and since cancelled, 4
        failed: offered 16 = open 0 + accepted 10 + declined 0 + other 6,
        nothing small. But decision.answered 12 = accepted 10 + declined 0 +
        2 decided and since cancelled: the 2 are not shown, and 12 - 10
        would give them, so accepted is hidden ("x"); then the offered line
        has one hidden cell and other (6) is hidden too, and the totals with
        them (the columns of one partner are their totals)."""
        got = self.report_json("--from", "2026-07-01", "--to", "2026-07-31")
        want, lines, fixed, unfixable = self.expected("2026-07-01", "2026-07-31")
        self.assertModel(got, want)
        self.assertEqual(self.referral_rows(got), {"gemeente-hengelo": [16, 0, "x", 0, "x", 12],
                                                   "total": [16, 0, "x", 0, "x", 12]})
        self.assertEqual(self.timing(got, "gemeente-hengelo", "receipt"), (12, 12, 100.0, 1440.0))
        self.assertEqual(self.timing(got, "gemeente-hengelo", "decision"),
                         (12, 12, 100.0, 7200.0))
        self.assertEqual(fixed[0], "referrals.gemeente-hengelo.decisions")
        self.assertNothingDerivable(got, lines)

    def test_august_the_order_of_the_lines(self):
        """Two ways to cover the same hidden cells; the order the lines are
        visited in decides (oracle.CHOICES). comensha: open 5, accepted 1,
        other 2; gemeente-enschede: open 3, accepted 2, other 5. The other
        column (2 hidden + 5 = 7) and the totals row (open 8 + accepted 3
        hidden + declined 0 + other 7 = 18) each have one hidden cell.
        ctl/report.c visits the columns first: the other column hides
        gemeente-enschede's 5, then the totals row its other (7). Visiting
        the totals row first would hide its 7, and the other column would
        then have two hidden cells already, leaving the 5 shown."""
        got = self.report_json("--from", "2026-08-01", "--to", "2026-08-31")
        want, lines, fixed, unfixable = self.expected("2026-08-01", "2026-08-31")
        self.assertModel(got, want)
        self.assertEqual(self.referral_rows(got), {
            "comensha": [8, "x", "<5", 0, "<5", "<5"],
            "gemeente-enschede": [10, "<5", "<5", 0, "x", "<5"],
            "total": [18, 8, "<5", 0, "x", "<5"]})
        self.assertEqual(fixed, ["referrals.total.open", "referrals.total.other",
                                 "referrals.total"])
        self.assertNothingDerivable(got, lines)
        other = oracle.Oracle(self.hub.db_path, self.hub.config_path, "2026-08-01", "2026-08-31",
                              order="doc").model()
        self.assertEqual(self.referral_rows(other)["gemeente-enschede"][4], 5)

    def test_september_percentiles_whatever_the_order(self):
        """Nearest rank over lists read in awkward orders (see
        SEPTEMBER_RECEIPT_MIN): the same as over the sorted values."""
        got = self.report_json("--from", "2026-09-01", "--to", "2026-09-30")
        self.assertModel(got, self.expected("2026-09-01", "2026-09-30")[0])
        want = {"comensha": (10.0, 18.0), "gemeente-almelo": (5.0, 5.0),
                "gemeente-enschede": (1.0, 9.0), "gemeente-hengelo": (5.0, 9.0),
                "gemeente-losser": (2.0, 4.0)}
        for p in got["referrals"]["partners"]:
            r, d = p["receipt"], p["decision"]
            self.assertEqual((r["median_minutes"], r["p90_minutes"]), want[p["partner"]])
            self.assertEqual((d["median_minutes"], d["p90_minutes"]),
                             tuple(v + 1 for v in want[p["partner"]]))
        self.assertEqual(got["escalations"]["time_to_ack"],
                         {"median_minutes": 30.0, "p90_minutes": 60.0})
        # Threshold 8: no statistics over the 7 and the 5, the others as before.
        got = self.report_json("--from", "2026-09-01", "--to", "2026-09-30", threshold=8)
        self.assertModel(got, self.expected("2026-09-01", "2026-09-30", 8)[0])
        self.assertEqual({p["partner"]: p["receipt"]["median_minutes"]
                          for p in got["referrals"]["partners"]},
                         {"comensha": 10.0, "gemeente-almelo": None, "gemeente-enschede": 1.0,
                          "gemeente-hengelo": 5.0, "gemeente-losser": None})
        self.assertEqual(got["escalations"]["time_to_ack"],
                         {"median_minutes": None, "p90_minutes": None})

    def test_empty_period(self):
        got = self.report_json("--from", "2027-01-01", "--to", "2027-02-28")
        self.assertModel(got, self.expected("2027-01-01", "2027-02-28")[0])
        s = got["signals"]
        self.assertEqual(s["total"], 0)
        self.assertEqual([m["month"] for m in s["by_month"]], ["2027-01", "2027-02"])
        self.assertTrue(all(v == 0 for m in s["by_month"] for k, v in m.items() if k != "month"))
        self.assertTrue(all(v == 0 for v in s["by_form"].values()))
        self.assertTrue(all(r["signals"] == 0 for r in s["by_role"]))
        self.assertEqual(got["referrals"]["partners"], [])
        self.assertTrue(all(v == 0 for v in got["referrals"]["total"].values()))
        self.assertEqual(got["escalations"]["total"], 0)
        self.assertEqual(got["escalations"]["acknowledged"], 0)
        self.assertEqual(got["escalations"]["time_to_ack"],
                         {"median_minutes": None, "p90_minutes": None})
        for fmt in ("csv", "html"):
            r = ctl_report(self.hub, "--from", "2027-01-01", "--to", "2027-02-28",
                           "--format", fmt)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout)

    # Dates the report must refuse: not exactly YYYY-MM-DD in ASCII digits,
    # not a real date, before 1970, --to before --from, more than 1200 months.
    BAD_PERIODS = [
        ("2026-03-31", "2026-03-01"),  # --to before --from
        ("2026-02-30", "2026-03-31"), ("2026-02-29", "2026-03-31"), ("2100-02-29", "2100-03-01"),
        ("2026-13-01", "2026-12-31"), ("2026-00-10", "2026-12-31"), ("2026-03-00", "2026-03-31"),
        ("2026-04-31", "2026-05-01"), ("2026-3-1", "2026-03-31"),
        ("2026-03-01T00:00:00Z", "2026-03-31"), ("", "2026-03-31"), ("2026-03-01", ""),
        ("2026-03-01", "2026-03-31x"), ("2026- 3-01", "2026-03-31"), ("2026-03- 1", "2026-03-31"),
        ("2026-+3-01", "2026-03-31"), ("+026-03-01", "2026-03-31"), ("-026-03-01", "2026-03-31"),
        (" 026-03-01", "2026-03-31"), ("2026-03-1 ", "2026-03-31"), ("2026-03-0x", "2026-03-31"),
        ("2026/03/01", "2026-03-31"), ("2026-03-01", "2026-03-31\n"), ("20260301", "20260331"),
        ("\uff12\uff10\uff12\uff16-03-01", "2026-03-31"),  # fullwidth digits
        ("2026-0\u0663-01", "2026-03-31"),  # an Arabic-Indic digit: 10 characters, not bytes
        ("1969-12-31", "1970-01-31"), ("0000-01-01", "2026-03-31"),
        ("1970-01-01", "2070-01-01"), ("1970-01-31", "2070-01-01"),  # 1201 months
        ("2026-03-01", "9999-12-31"),
    ]
    GOOD_PERIODS = [("2028-02-29", "2028-02-29"), ("2000-02-29", "2000-03-01"),
                    ("1970-01-01", "1970-01-01"), ("9999-12-31", "9999-12-31"),
                    ("1970-01-01", "2069-12-31"), ("1970-01-31", "2069-12-01")]  # 1200 months

    def test_bad_arguments_exit_2(self):
        good = ["--from", "2026-03-01", "--to", "2026-03-31"]
        cases = [
            [], ["--from", "2026-03-01"], ["--to", "2026-03-31"],
            good + ["--format", "pdf"], good + ["--format"], good + ["--threshold", "1"],
            good + ["--threshold", "101"], good + ["--threshold", "abc"],
            good + ["--threshold", "5x"], good + ["--threshold", ""], good + ["--bogus"],
            good + ["extra"],
        ]
        for frm, to in self.BAD_PERIODS:
            self.assertIsNotNone(oracle.period_error(frm, to), (frm, to))
            cases.append(["--from", frm, "--to", to])
        for args in cases:
            with self.subTest(args=args):
                r = ctl_report(self.hub, *args)
                self.assertEqual(r.returncode, 2, (r.stdout[:120], r.stderr))
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.strip())
        r = subprocess.run([KETENCTL, "report"] + good, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)  # no --config
        # The edges of what is allowed.
        for args in (["--threshold", "2"], ["--threshold", "100"]):
            self.assertEqual(ctl_report(self.hub, *(good + args)).returncode, 0)
        for frm, to in self.GOOD_PERIODS:
            with self.subTest(frm=frm, to=to):
                self.assertIsNone(oracle.period_error(frm, to))
                r = ctl_report(self.hub, "--from", frm, "--to", to)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_longest_period(self):
        """1200 months, 1970-01 .. 2069-12: every month a row, the figures
        those of the shorter periods."""
        got = self.report_json("--from", "1970-01-01", "--to", "2069-12-31")
        want = self.expected("1970-01-01", "2069-12-31")[0]
        self.assertModel(got, want)
        months = got["signals"]["by_month"]
        self.assertEqual((len(months), months[0]["month"], months[-1]["month"]),
                         (1200, "1970-01", "2069-12"))
        self.assertEqual(got["signals"]["total"], sum(
            self.report_json("--from", "2026-%02d-01" % m, "--to", "2026-%02d-28" % m)
            ["signals"]["total"] for m in range(3, 10)))

    def test_out_is_mode_0644_whatever_the_umask(self):
        for mask in (0o000, 0o077, 0o277):
            with self.subTest(umask=oct(mask)):
                out = os.path.join(self.hub.dir, "umask-%o.csv" % mask)
                r = subprocess.run([KETENCTL, "--config", self.hub.config_path, "report",
                                    "--from", "2026-03-01", "--to", "2026-03-31", "--format",
                                    "csv", "--out", out], capture_output=True, text=True,
                                   preexec_fn=lambda m=mask: os.umask(m))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(oct(stat.S_IMODE(os.stat(out).st_mode)), oct(0o644))
        # A file that is there already is written over, and made 0644.
        for mode in (0o600, 0o666):
            with self.subTest(existing=oct(mode)):
                out = os.path.join(self.hub.dir, "existing-%o.json" % mode)
                with open(out, "w") as f:
                    f.write("x" * 100000)
                os.chmod(out, mode)
                r = ctl_report(self.hub, "--from", "2026-03-01", "--to", "2026-03-31",
                               "--out", out)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(oct(stat.S_IMODE(os.stat(out).st_mode)), oct(0o644))
                with open(out) as f:
                    self.assertEqual(json.load(f)["signals"]["total"], 53)

    def test_config_and_database_errors_exit_1(self):
        good = ["--from", "2026-03-01", "--to", "2026-03-31"]
        r = subprocess.run([KETENCTL, "--config", os.path.join(self.hub.dir, "nope.json"),
                            "report"] + good, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        cfg = dict(self.hub.config, database="missing/hub.db")
        path = os.path.join(self.hub.dir, "bad-db.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([KETENCTL, "--config", path, "report"] + good, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        r = ctl_report(self.hub, *(good + ["--out", os.path.join(self.hub.dir, "no", "r.json")]))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no/r.json", r.stderr)


# ---- a database from before the report -------------------------------------

class MigratedDatabase(ReportCase):
    """A version-3 database (no signal_facts, no referral moments, no
    acked_ms) that the hub migrates when it starts: the facts come from the
    stored signals (role "unknown"), the moments from the history."""

    SIGNALS = [  # received, data
        ("2026-02-03T10:00:00.004Z", {"vormenVanUitbuiting": ["arbeid", "seksueel"],
                                      "urgentie": "hoog", "minderjarig": True,
                                      "woongemeente": "GM0153"}),
        ("2026-02-03T11:12:13.005Z", {"vormenVanUitbuiting": ["crimineel"],
                                      "urgentie": "normaal", "minderjarig": False}),
        ("2026-02-04T00:00:00.000Z", {"vormenVanUitbuiting": ["onbekend"], "urgentie": "crisis",
                                      "minderjarig": False, "woongemeente": "GM0363"}),
        ("2026-02-05T23:59:59.999Z", {"vormenVanUitbuiting": ["orgaanverwijdering"],
                                      "urgentie": "normaal", "minderjarig": False,
                                      "woongemeente": "GM0164"}),
        ("2026-02-06T08:30:00.011Z", {"vormenVanUitbuiting": ["arbeid"], "urgentie": "normaal",
                                      "minderjarig": False, "woongemeente": "GM0153"}),
        ("2026-02-07T09:45:00.123Z", {"vormenVanUitbuiting": ["seksueel"], "urgentie": "normaal",
                                      "minderjarig": True, "woongemeente": "GM0153"}),
    ]
    # per signal: the referral's state changes after aangeboden, as
    # (to_state, ms after the offer)
    HISTORY = [[("ontvangen", 300007), ("geaccepteerd", 3600009)],
               [],
               [("ontvangen", 60001)],
               [("afgewezen", 7200003)],
               [("mislukt", 1800000)],
               [("geaccepteerd", 900013)]]

    @classmethod
    def setUpClass(cls):
        cls.hub = report_hub()
        con = gen_data.connect(cls.hub.db_path)
        con.execute("DROP TABLE signal_facts")
        for c in ("created_ms", "receipt_deadline_ms", "decision_deadline_ms", "received_ms",
                  "decided_ms"):
            con.execute("ALTER TABLE referrals DROP COLUMN " + c)
        con.execute("ALTER TABLE escalations DROP COLUMN acked_ms")
        # ... and what version 5 added: the audit chain, sealing, pseudonyms.
        for c in ("subject", "address", "purpose", "prev_hash", "hash"):
            con.execute("ALTER TABLE audit DROP COLUMN " + c)
        con.execute("DROP INDEX events_unpurged_signals")
        con.execute("ALTER TABLE events DROP COLUMN purged")
        con.execute("ALTER TABLE deliveries DROP COLUMN purged")
        con.execute("DROP TABLE pseudonyms")
        con.execute("DROP TABLE IF EXISTS matches")
        con.execute("PRAGMA user_version = 3")
        rng = random.Random(3)
        rec, dec = DAY, 5 * DAY  # standaard
        cls.refs = []
        for (received, data), steps in zip(cls.SIGNALS, cls.HISTORY):
            ev = make_event(data, time=received)
            seq = con.execute("INSERT INTO events (partner, source, id, type, time, received,"
                              " body) VALUES ('politie-oost-nederland', ?, ?, ?, ?, ?, ?)",
                              (ev["source"], ev["id"], ev["type"], received, received,
                               json.dumps(ev))).lastrowid
            t = ms_of(received)
            rid = gen_data.new_uuid(rng)
            state, hist = "aangeboden", [(gen_data.iso(t), "hub", "aangeboden", None,
                                          "aangeboden")]
            for to_state, after in steps:
                hist.append((gen_data.iso(t + after), "gemeente-enschede", to_state, state,
                             to_state))
                state = to_state
            con.execute("INSERT INTO referrals (id, signal_seq, partner, policy, rule, state,"
                        " created, updated, receipt_due_ms, decision_due_ms) VALUES (?, ?,"
                        " 'gemeente-enschede', 'standaard', 'regel', ?, ?, ?, ?, ?)",
                        (rid, seq, state, gen_data.iso(t), hist[-1][0],
                         t + rec if state == "aangeboden" else None,
                         t + dec if state in ("aangeboden", "ontvangen") else None))
            for h in hist:
                con.execute("INSERT INTO referral_history (referral, time, actor, event,"
                            " from_state, to_state) VALUES (?, ?, ?, ?, ?, ?)", (rid,) + h)
            cls.refs.append((rid, t, steps))
        # The open referral's receipt deadline passed: escalated, acknowledged.
        rid, t, _ = cls.refs[1]
        cls.acked = gen_data.iso(t + rec + 61017)
        con.execute("INSERT INTO escalations (referral, deadline, due_ms, policy, partner, state,"
                    " base_ms, level, created, updated, acked, acked_by) VALUES (?, 'receipt', ?,"
                    " 'standaard', 'gemeente-enschede', 'acknowledged', ?, 0, ?, ?, ?, 'anna')",
                    (rid, t + rec, t + rec, gen_data.iso(t + rec), cls.acked, cls.acked))
        con.close()
        cls.hub.start()  # migrates to the current version
        assert cls.hub.stop() == 0, cls.hub.log_text()

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def test_the_facts_are_filled_in_from_the_signals(self):
        con = self.hub.db()
        try:
            facts = con.execute("SELECT f.received_ms, e.received, f.partner, f.role, f.forms,"
                                " f.urgency, f.minor, f.municipality FROM signal_facts f"
                                " JOIN events e ON e.seq = f.seq ORDER BY f.seq").fetchall()
        finally:
            con.close()
        self.assertEqual([f[2:] for f in facts], [
            ("politie-oost-nederland", "unknown", 0b00011, "hoog", 1, "GM0153"),
            ("politie-oost-nederland", "unknown", 0b00100, "normaal", 0, None),
            ("politie-oost-nederland", "unknown", 0b10000, "crisis", 0, "GM0363"),
            ("politie-oost-nederland", "unknown", 0b01000, "normaal", 0, "GM0164"),
            ("politie-oost-nederland", "unknown", 0b00010, "normaal", 0, "GM0153"),
            ("politie-oost-nederland", "unknown", 0b00001, "normaal", 1, "GM0153")])
        self.assertEqual([f[0] for f in facts], [ms_of(f[1]) for f in facts])

    def test_the_referral_moments_come_from_the_history(self):
        con = self.hub.db()
        try:
            rows = {r[0]: r[1:] for r in con.execute(
                "SELECT id, created_ms, receipt_deadline_ms, decision_deadline_ms, received_ms,"
                " decided_ms FROM referrals")}
            acked_ms = con.execute("SELECT acked_ms FROM escalations").fetchone()[0]
        finally:
            con.close()
        got, want = [], []
        for (rid, t, steps), state in zip(self.refs, ["geaccepteerd", "aangeboden", "ontvangen",
                                                      "afgewezen", "mislukt", "geaccepteerd"]):
            received = [t + a for s, a in steps if s in ("ontvangen", "geaccepteerd",
                                                         "afgewezen")]
            decided = [t + a for s, a in steps if s in ("geaccepteerd", "afgewezen")]
            want.append((t,
                         t + DAY if state == "aangeboden" else None,  # only those still due
                         t + 5 * DAY if state in ("aangeboden", "ontvangen") else None,
                         received[0] if received else None, decided[0] if decided else None))
            got.append(rows[rid])
        self.assertEqual(got, want)
        self.assertEqual(acked_ms, ms_of(self.acked))

    def test_the_report_on_a_migrated_database(self):
        got = self.report_json("--from", "2026-02-01", "--to", "2026-02-28", threshold=2)
        self.assertModel(got, self.expected("2026-02-01", "2026-02-28", 2)[0])
        roles = {r["role"]: r["signals"] for r in got["signals"]["by_role"]}
        self.assertEqual(roles, {"police": 0, "municipality": 0, "comensha": 0, "care": 0,
                                 "coordinator": 0, "unknown": 6})
        r = got["referrals"]["partners"][0]["receipt"]
        # Answered: 4 (ontvangen twice, accepted at once, declined at once);
        # the deadline of none of them is known.
        self.assertEqual((r["answered"], r["within_deadline"], r["within_deadline_pct"],
                          r["deadline_minutes"]), (4, 0, None, None))


# ---- through the real intake ---------------------------------------------

def today_period():
    """Yesterday to tomorrow (UTC): whatever the hub's clock says now is in it."""
    now = datetime.datetime.now(datetime.timezone.utc).date()
    return ((now - datetime.timedelta(days=1)).isoformat(),
            (now + datetime.timedelta(days=1)).isoformat())


class ThroughTheHub(ReportCase):
    """Facts and moments written by the hub itself as signals and answers
    arrive, and the report on them while the hub runs."""

    def setUp(self):
        partners = [("police-1", "police", "Politie"), ("gemeente-1", "municipality",
                                                         "Gemeente Een"),
                    ("comensha-1", "comensha", "CoMensha"), ("care-1", "care", "Zorg"),
                    ("kenniscentrum", "coordinator", None)]  # no name
        extra = {"municipalities": {"GM0153": "gemeente-1"},
                 "policies": {"standaard": {"receipt": "PT1H", "decision": "P1D"}},
                 "routes": [{"name": "woonplaats", "to": [{"municipality_of": "/woongemeente"}]},
                            {"name": "rest", "when": {"/woongemeente": {"present": False}},
                             "to": [{"role": "coordinator"}]}]}
        self.hub = report_hub(partners, extra)

    def tearDown(self):
        self.hub.close()

    def test_signals_and_answers_arrive_in_the_report(self):
        hub = self.hub
        hub.start()
        sent = [("police-1", signal_data(vormenVanUitbuiting=["seksueel", "arbeid"],
                                         urgentie="crisis", minderjarig=True)),
                ("police-1", signal_data(vormenVanUitbuiting=["orgaanverwijdering"],
                                         urgentie="hoog", woongemeente=None)),
                ("gemeente-1", signal_data(vormenVanUitbuiting=["onbekend"],
                                           woongemeente="GM0363")),
                ("care-1", signal_data(vormenVanUitbuiting=["crimineel"], minderjarig=True)),
                ("comensha-1", signal_data(vormenVanUitbuiting=["arbeid", "crimineel"]))]
        peers = {}
        ids = []
        for partner, data in sent:
            data = {k: v for k, v in data.items() if v is not None}
            peer = peers.setdefault(partner, Peer(hub, partner))
            ev = make_event(data)
            reply = peer.request(ev)
            self.assertEqual(reply.get("status"), "accepted", reply)
            ids.append(ev["id"])
        con = hub.db()
        try:
            facts = con.execute(
                "SELECT f.role, f.forms, f.urgency, f.minor, f.municipality, f.partner,"
                " f.received_ms, e.received FROM signal_facts f JOIN events e ON e.seq = f.seq"
                " ORDER BY f.seq").fetchall()
            refs = con.execute("SELECT r.id, e.id FROM referrals r JOIN events e ON"
                               " e.seq = r.signal_seq WHERE r.partner = 'gemeente-1'"
                               " ORDER BY r.signal_seq").fetchall()
        finally:
            con.close()
        self.assertEqual([f[:6] for f in facts], [
            ("police", 0b00011, "crisis", 1, "GM0153", "police-1"),
            ("police", 0b01000, "hoog", 0, None, "police-1"),
            ("municipality", 0b10000, "normaal", 0, "GM0363", "gemeente-1"),
            ("care", 0b00100, "normaal", 1, "GM0153", "care-1"),
            ("comensha", 0b00110, "normaal", 0, "GM0153", "comensha-1")])
        for f in facts:
            # received_ms is when the hub took the signal in: the clock read
            # when routing it, a moment before the commit that stamps
            # events.received (the referrals' created_ms is the same read).
            self.assertLessEqual(0, ms_of(f[7]) - f[6], f)
            self.assertLess(ms_of(f[7]) - f[6], 1000, f)
        # gemeente-1 has three referrals: receipt then accept; accept at
        # once (receipt implied); decline.
        self.assertEqual(len(refs), 3)
        g = peers["gemeente-1"]
        for kind, ref in [("ontvangen", refs[0][0]), ("geaccepteerd", refs[0][0]),
                          ("geaccepteerd", refs[1][0]), ("afgewezen", refs[2][0])]:
            extra = {"reden": "geen-capaciteit"} if kind == "afgewezen" else {}
            reply = g.request(response_event(kind, ref, **extra))
            self.assertEqual(reply.get("status"), "accepted", reply)
            time.sleep(0.01)
        con = hub.db()
        try:
            moments = con.execute(
                "SELECT state, created_ms, receipt_deadline_ms, decision_deadline_ms,"
                " received_ms, decided_ms, receipt_due_ms, decision_due_ms FROM referrals"
                " WHERE partner = 'gemeente-1' ORDER BY signal_seq").fetchall()
            hist = {row[0]: row[1] for row in con.execute(
                "SELECT referral || '/' || to_state, time FROM referral_history")}
            mismatched = con.execute(
                "SELECT count(*) FROM referrals r JOIN signal_facts f ON f.seq = r.signal_seq"
                " WHERE r.created_ms != f.received_ms").fetchone()[0]
        finally:
            con.close()
        self.assertEqual([m[0] for m in moments], ["geaccepteerd", "geaccepteerd", "afgewezen"])
        self.assertEqual(mismatched, 0)  # deadlines run from the moment the signal counts
        for (ref, _), m in zip(refs, moments):
            state, created, rdl, ddl, received, decided = m[:6]
            self.assertEqual(rdl - created, 3600000)  # deadlines as set, never cleared
            self.assertEqual(ddl - created, 86400000)
            self.assertIsNone(m[6])
            self.assertIsNone(m[7])
            self.assertIsNotNone(received)
            self.assertIsNotNone(decided)
            self.assertLessEqual(created, received)
            self.assertLessEqual(received, decided)
            first = hist.get(ref + "/ontvangen") or hist.get(ref + "/" + state)
            self.assertLessEqual(abs(received - ms_of(first)), 50, (ref, received, first))
            self.assertLessEqual(abs(decided - ms_of(hist[ref + "/" + state])), 50)
        self.assertLess(moments[0][4], moments[0][5])  # received before it was accepted
        self.assertEqual(moments[1][4], moments[1][5])  # accepted at once: received then
        # The report while the hub runs, then after it stopped: the same figures.
        frm, to = today_period()
        running = self.report_json("--from", frm, "--to", to, threshold=2)
        self.assertEqual(hub.stop(), 0)
        stopped = self.report_json("--from", frm, "--to", to, threshold=2)
        want = self.expected(frm, to, 2)[0]
        self.assertModel(running, want)
        self.assertModel(stopped, want)
        s = stopped["signals"]
        self.assertEqual(s["total"], 5)
        self.assertEqual(s["by_form"], {"seksueel": "<2", "arbeid": 2, "crimineel": 2,
                                        "orgaanverwijdering": "<2", "onbekend": "<2"})
        self.assertEqual([(m["code"], m["name"]) for m in s["by_municipality"]],
                         [("GM0153", "Gemeente Een"), ("GM0363", "GM0363"), (None, "onbekend")])
        parts = {p["partner"]: p for p in stopped["referrals"]["partners"]}
        self.assertEqual(sorted(parts), ["gemeente-1", "kenniscentrum"])
        self.assertEqual((parts["kenniscentrum"]["name"], parts["kenniscentrum"]["role"]),
                         ("kenniscentrum", "coordinator"))  # no name: its id
        self.assertEqual(parts["kenniscentrum"]["offered"], 2)  # no or an unknown code
        g1 = parts["gemeente-1"]
        self.assertEqual((g1["name"], g1["role"]), ("Gemeente Een", "municipality"))
        # declined 1 is hidden, so the smallest other (accepted 2) is too
        self.assertEqual([g1[k] for k in ("offered", "open", "accepted", "declined", "other",
                                          "received")], [3, 0, "x", "<2", 0, 3])
        self.assertEqual(g1["receipt"]["within_deadline"], 3)
        self.assertEqual(g1["receipt"]["within_deadline_pct"], 100.0)
        self.assertEqual(g1["receipt"]["deadline_minutes"], 60.0)


class AcknowledgedEscalation(unittest.TestCase):
    """An escalation acknowledged with `ketenctl ack` counts as acknowledged,
    with its time from the missed deadline."""

    def test_ack_reaches_the_report(self):
        from escalation_util import EscalationHub
        with EscalationHub() as eh:
            eh.start()
            refs = [eh.crisis_signal(), eh.crisis_signal()]
            eh.wait_webhooks(2, timeout=10)
            deadline = time.time() + 10 * SLOW
            while time.time() < deadline and len(eh.escalations()) < 2:
                time.sleep(0.1)
            escs = eh.escalations()
            self.assertEqual(len(escs), 2, escs)
            for e in escs:
                r = eh.ctl("ack", str(e["id"]), "--by", "anna")
                self.assertEqual(r.returncode, 0, r.stderr)
            con = eh.hub.db()
            try:
                rows = con.execute("SELECT referral, acked, acked_ms, due_ms FROM escalations"
                                   " ORDER BY id").fetchall()
            finally:
                con.close()
            self.assertEqual(sorted(r[0] for r in rows), sorted(refs))
            for ref, acked, acked_ms, due in rows:
                self.assertIsNotNone(acked)
                self.assertIsNotNone(acked_ms, "escalations.acked_ms not set by ack")
                self.assertEqual(acked_ms, ms_of(acked))
                self.assertGreaterEqual(acked_ms, due)
            self.assertEqual(eh.hub.stop(), 0)
            frm, to = today_period()
            r = subprocess.run([KETENCTL, "--config", eh.hub.config_path, "report", "--from", frm,
                                "--to", to, "--threshold", "2"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            e = got["escalations"]
            self.assertEqual(e["total"], 2)
            self.assertEqual(e["by_level"], [{"level": 1, "escalations": 2}])
            self.assertEqual(e["acknowledged"], 2)
            self.assertIsNotNone(e["time_to_ack"]["median_minutes"])
            want = oracle.Oracle(eh.hub.db_path, eh.hub.config_path, frm, to, 2).model()
            got.pop("generated")
            self.assertEqual(differences(got, want), [])


if __name__ == "__main__":
    main()
