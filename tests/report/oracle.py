#!/usr/bin/python3
"""The expected JSON model of `ketenctl report` (docs/reporting.md §1), computed
independently of the C side: plain SELECTs of the rows, then counting,
sorting and rounding in Python. Shares no code with ctl/report.c.

    /usr/bin/python3 tests/report/oracle.py --db hub.db --config ketenhub.json \
        --from 2026-01-01 --to 2026-06-30 [--threshold 5] [--lines] [--order code|doc]

prints the model (without "generated", which only the real run knows), or
with --lines every suppression line with its raw and shown cells. Exits 2,
as ketenctl does, when the dates are not a period the report accepts.

The rules are docs/reporting.md §1 and §4 and the brief for the report:
- dates: exactly YYYY-MM-DD (ten characters, digits and two dashes), a real
  calendar date; --to not before --from; at most 1200 months (by_month rows);
- signals: signal_facts.received_ms in [from 00:00Z, to + 1 day 00:00Z);
  referrals by signal_seq of those; escalations by referral of those.
- percentiles by nearest rank: the value at rank ceil(p/100 * n) of the
  sorted values; median = p50. Minutes with one decimal, half away from 0.
- within_deadline: received_ms <= receipt_deadline_ms, decided_ms <=
  decision_deadline_ms; a NULL deadline (not known after the migration)
  counts neither as within nor as late, but as "unknown".
- a count 1 .. threshold-1 is "<N"; statistics over fewer than threshold
  answers are null; the share within_deadline_pct only when every answer's
  deadline is known, there are at least threshold answers, and the on-time
  and the late answers are each 0 or at least the threshold.
- a figure shown twice is one cell: receipt.answered IS the partner's
  received cell (the same object here), hidden in both places or neither.
- lines (§4.2): the cells and the total they add up to. Cells the report
  never shows (the late answers, the answers whose deadline is not known,
  the decided-and-since-cancelled) are members too: hidden when small, never
  picked.
- secondary suppression (§4.3): a line with exactly one hidden member gets
  its smallest non-zero shown member (the first of equals; the total is the
  last member) made "x"; the lines are visited in order, each fixed as it is
  visited, and the passes repeat until one changes nothing.
Where these leave a choice, the choice made here is listed in CHOICES.
"""
import argparse
import collections
import datetime
import json
import re
import sqlite3
import sys

FORMS = ["seksueel", "arbeid", "crimineel", "orgaanverwijdering", "onbekend"]
ROLES = ["police", "municipality", "comensha", "care", "coordinator"]
URGENCIES = ["crisis", "hoog", "normaal"]
OPEN = ("aangeboden", "ontvangen")
ACCEPTED = ("geaccepteerd", "afgerond")
DECLINED = ("afgewezen",)
OTHER = ("geannuleerd", "mislukt")
REFERRAL_COLUMNS = ["offered", "open", "accepted", "declined", "other", "received"]
MONTHS_MAX = 1200

CHOICES = [
    "dates: --from and --to exactly YYYY-MM-DD (ASCII digits only: no sign, space or time), "
    "a real date in the Gregorian calendar from 1970-01-01 on; --to before --from, or a "
    "period of more than 1200 calendar months (the by_month rows, from --from's month to "
    "--to's month inclusive) is a usage error, exit 2",
    "by_month lists every month from --from to --to (UTC), zero months included",
    "by_role lists all five roles, whether or not a partner has them ('every configured "
    "role'), then 'unknown' (signals from before migration 4) when there are any",
    "by_municipality lists every code of the config's municipalities table and every other "
    "code that occurs, sorted, then the null/onbekend row (always, also with 0)",
    "a municipality's name is its partner's config name; the code when no partner takes it "
    "or the partner has no name",
    "referrals.partners[].name is the config name, else the partner id; role the config "
    "role, else 'unknown' (a partner no longer in the config)",
    "escalations.by_level lists level 0 when there are any, then 1 .. the highest reached "
    "(zeros between included); [] without escalations",
    "receipt.answered counts the referrals with received_ms (so it is the received count); "
    "decision.answered those with decided_ms, whatever the state now",
    "deadline_minutes: deadline_ms - created_ms over the answered referrals whose deadline "
    "is known (§5: an unknown deadline counts neither way); null when none is known or they "
    "differ; not nulled below the threshold",
    "within_deadline_pct = within / answered, computed from the raw counts before secondary "
    "suppression: null unless known == answered, answered >= threshold, and within and late "
    "are each 0 or >= threshold (and null when answered or within_deadline end up hidden, "
    "also by secondary suppression); escalations.acknowledged is a count in no line",
    "a partner's decision line answered = accepted + declined + decided_other is a line only "
    "when decided >= accepted + declined (else decided_other would be negative: rows whose "
    "decision moment is not known)",
    "secondary suppression: a line's members are its cells in the model's order, then its "
    "total; exactly one hidden member hides the smallest non-zero shown member (the first "
    "of equals), never a cell the report does not show",
    "the order of the lines matters (which cell becomes 'x' when a hidden cell can be "
    "covered by more than one line, or by equal cells; a line fixed early can make a later "
    "one have two hidden cells already). The order used is that of ctl/report.c: the by_month "
    "form columns (forms order) adding up to by_form, by_month signals, by_role, "
    "by_municipality, by_age, by_urgency (all adding up to signals.total); then per partner "
    "in id order its offered line, its receipt line, its decision line, its decisions line; "
    "then the referral columns offered .. received; then the referrals.total row; then "
    "escalations.by_level, then matches.by_month and matches.by_roles. docs/reporting.md "
    "§4.2 says 'in the order of this list', which is another order (--order doc gives it)",
    "matches: found_ms in the period; by_month every month of the period; by_roles every "
    "unordered pair of the five roles in role order (police+police, police+municipality, ..., "
    "coordinator+coordinator), then pairs with 'unknown' only when non-zero; not available "
    "(count null, no rows) on a database before schema version 5",
    "time_to_ack: acked_ms - due_ms of the acknowledged escalations",
]


def choices():
    return list(CHOICES)


# ---- dates ----------------------------------------------------------------

DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_date(text):
    """A datetime.date for exactly 'YYYY-MM-DD' (ASCII digits), 1970 on; else None."""
    if not isinstance(text, str) or not DATE.fullmatch(text):
        return None
    y, m, d = int(text[:4]), int(text[5:7]), int(text[8:])
    try:
        date = datetime.date(y, m, d)
    except ValueError:
        return None
    return date if y >= 1970 else None


def period_error(frm, to):
    """Why ketenctl must refuse --from frm --to to (exit 2), or None."""
    a, b = parse_date(frm), parse_date(to)
    if a is None:
        return "--from %r is not a date" % (frm,)
    if b is None:
        return "--to %r is not a date" % (to,)
    if b < a:
        return "--to is before --from"
    if (b.year * 12 + b.month) - (a.year * 12 + a.month) + 1 > MONTHS_MAX:
        return "longer than %d months" % MONTHS_MAX
    return None


def day_ms(date):
    d = parse_date(date)
    if d is None:
        raise ValueError("not a date: %r" % (date,))
    return (d - datetime.date(1970, 1, 1)).days * 86400000


def month_of(ms):
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return "%04d-%02d" % (d.year, d.month)


def months_between(frm, to):
    y, m = int(frm[:4]), int(frm[5:7])
    out = []
    while "%04d-%02d" % (y, m) <= to[:7]:
        out.append("%04d-%02d" % (y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# ---- numbers ----------------------------------------------------------------

def round_tenths(num, den):
    """num/den rounded to one decimal, half away from zero, exactly (as a float)."""
    neg = (num < 0) != (den < 0)
    num, den = abs(num), abs(den)
    tenths = (20 * num + den) // (2 * den)  # floor(10*num/den + 1/2)
    return (-tenths if neg else tenths) / 10.0


def minutes(ms):
    return round_tenths(ms, 60000)


def nearest_rank(sorted_values, p):
    n = len(sorted_values)
    rank = (p * n + 99) // 100  # ceil(p/100 * n), exactly
    return sorted_values[max(rank, 1) - 1]


# ---- cells and lines ----------------------------------------------------------

class Cell:
    """One count. It may be shown in several places of the model (paths;
    the same number shown twice is one cell) or in none (virtual: it only
    takes part in a line). mark: None shown, "small" (1 .. threshold-1),
    "x" (secondary suppression)."""

    def __init__(self, raw, threshold, virtual=False, name=None):
        self.raw = raw
        self.t = threshold
        self.virtual = virtual
        self.name = name
        self.paths = []
        self.mark = "small" if 0 < raw < threshold else None

    def hidden(self):
        return self.mark is not None

    @property
    def shown(self):
        if self.mark == "small":
            return "<%d" % self.t
        return "x" if self.mark == "x" else self.raw

    @property
    def path(self):
        """The first place in the model; None for a virtual cell."""
        return self.paths[0] if self.paths else None

    def __repr__(self):
        return "Cell(%r, %r%s)" % (self.raw, self.shown, ", virtual" if self.virtual else "")


Line = collections.namedtuple("Line", "name cells total")


class Oracle:
    def __init__(self, db_path, config_path, frm, to, threshold=5, order="code"):
        err = period_error(frm, to)
        if err:
            raise ValueError(err)
        self.frm, self.to, self.t = frm, to, threshold
        self.order = order
        with open(config_path) as f:
            cfg = json.load(f)
        self.partner_cfg = {p["id"]: p for p in cfg.get("partners", [])}
        self.munis = dict(cfg.get("municipalities", {}))
        con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
        try:
            self.load(con)
        finally:
            con.close()

    def load(self, con):
        lo, hi = day_ms(self.frm), day_ms(self.to) + 86400000
        self.signals = []
        for row in con.execute("SELECT seq, received_ms, partner, role, forms, urgency, minor,"
                               " municipality FROM signal_facts"):
            if lo <= row[1] < hi:
                self.signals.append(row)
        seqs = {s[0] for s in self.signals}
        self.referrals = []
        for row in con.execute("SELECT id, signal_seq, partner, state, created_ms,"
                               " receipt_deadline_ms, decision_deadline_ms, received_ms,"
                               " decided_ms FROM referrals"):
            if row[1] in seqs:
                self.referrals.append(row)
        ids = {r[0] for r in self.referrals}
        self.escalations = []
        for row in con.execute("SELECT id, referral, due_ms, level, acked_ms FROM escalations"):
            if row[1] in ids:
                self.escalations.append(row)
        # Matches (docs/matching.md) by when they were found; none before
        # schema version 5 (the section is then not available).
        self.matches = None
        if con.execute("PRAGMA user_version").fetchone()[0] >= 5:
            self.matches = [row for row in con.execute(
                "SELECT found_ms, role, earlier_role FROM matches") if lo <= row[0] < hi]

    def cell(self, raw):
        return Cell(raw, self.t)

    def virtual(self, raw, name):
        return Cell(raw, self.t, virtual=True, name=name)

    # -- the model with cells ---------------------------------------------
    def build(self):
        """The model with Cells in place of counts, and the lines."""
        C = self.cell
        sig = self.signals
        months = months_between(self.frm, self.to)
        month_count = collections.Counter()
        form_count = collections.Counter()
        for s in sig:
            mo = month_of(s[1])
            month_count[mo] += 1
            for i, f in enumerate(FORMS):
                if s[4] >> i & 1:
                    form_count[mo, f] += 1
        by_month = []
        for mo in months:
            row = {"month": mo, "signals": C(month_count[mo])}
            for f in FORMS:
                row[f] = C(form_count[mo, f])
            by_month.append(row)
        by_form = {f: C(sum(1 for s in sig if s[4] >> i & 1)) for i, f in enumerate(FORMS)}
        by_role = [{"role": r, "signals": C(sum(1 for s in sig if s[3] == r))} for r in ROLES]
        unknown = sum(1 for s in sig if s[3] not in ROLES)  # migrated: 'unknown'
        if unknown:
            by_role.append({"role": "unknown", "signals": C(unknown)})
        codes = sorted({s[7] for s in sig if s[7]} | set(self.munis))
        by_muni = []
        for code in codes:
            name = self.partner_cfg.get(self.munis.get(code), {}).get("name") or code
            by_muni.append({"code": code, "name": name,
                            "signals": C(sum(1 for s in sig if s[7] == code))})
        by_muni.append({"code": None, "name": "onbekend",
                        "signals": C(sum(1 for s in sig if not s[7]))})
        by_age = {"minderjarig": C(sum(1 for s in sig if s[6])),
                  "meerderjarig": C(sum(1 for s in sig if not s[6]))}
        by_urgency = {u: C(sum(1 for s in sig if s[5] == u)) for u in URGENCIES}
        total = C(len(sig))
        signals = {"total": total, "forms": list(FORMS), "by_month": by_month,
                   "by_form": by_form, "by_role": by_role, "by_municipality": by_muni,
                   "by_age": by_age, "by_urgency": by_urgency}

        partners, extra = [], {}
        for pid in sorted({r[2] for r in self.referrals}):
            rs = [r for r in self.referrals if r[2] == pid]
            pc = self.partner_cfg.get(pid, {})
            received = C(sum(1 for r in rs if r[7] is not None))
            row = {"partner": pid, "name": pc.get("name") or pid,
                   "role": pc.get("role") or "unknown",
                   "offered": C(len(rs)),
                   "open": C(sum(1 for r in rs if r[3] in OPEN)),
                   "accepted": C(sum(1 for r in rs if r[3] in ACCEPTED)),
                   "declined": C(sum(1 for r in rs if r[3] in DECLINED)),
                   "other": C(sum(1 for r in rs if r[3] in OTHER)),
                   "received": received}
            rec, rec_virtual = self.timing(rs, 7, 5, answered=received)
            dec, dec_virtual = self.timing(rs, 8, 6)
            row["receipt"], row["decision"] = rec, dec
            decided = dec["answered"].raw
            settled = row["accepted"].raw + row["declined"].raw
            extra[pid] = {"receipt": rec_virtual, "decision": dec_virtual,
                          "decided_other": self.virtual(decided - settled, "decided_other")
                          if decided >= settled else None}
            partners.append(row)
        rtotal = {col: C(sum(p[col].raw for p in partners)) for col in REFERRAL_COLUMNS}
        referrals = {"partners": partners, "total": rtotal}

        esc = self.escalations
        highest = max([e[3] + 1 for e in esc] + [0])
        levels = ([0] if any(e[3] < 0 for e in esc) else []) + list(range(1, highest + 1))
        by_level = [{"level": lv, "escalations": C(sum(1 for e in esc if e[3] + 1 == lv))}
                    for lv in levels]
        acked = sorted(e[4] - e[2] for e in esc if e[4] is not None)
        escalations = {"total": C(len(esc)), "by_level": by_level, "acknowledged": C(len(acked)),
                       "time_to_ack": self.stats(acked)}

        match_lines = []
        if self.matches is None:
            matches = {"available": False, "count": None}
        else:
            names = ROLES + ["unknown"]

            def index(role):
                return ROLES.index(role) if role in ROLES else len(ROLES)
            pair_count = collections.Counter(tuple(sorted((index(r[1]), index(r[2]))))
                                             for r in self.matches)
            mcount = C(len(self.matches))
            mmonths = [{"month": mo, "matches": C(sum(1 for r in self.matches
                                                       if month_of(r[0]) == mo))}
                       for mo in months]
            pairs = [{"roles": [names[x], names[y]], "matches": C(pair_count[x, y])}
                     for x in range(len(names)) for y in range(x, len(names))
                     if y < len(ROLES) or pair_count[x, y]]
            matches = {"available": True, "count": mcount, "by_month": mmonths,
                       "by_roles": pairs}
            match_lines = [Line("matches.by_month", [m["matches"] for m in mmonths], mcount),
                           Line("matches.by_roles", [m["matches"] for m in pairs], mcount)]

        model = {"report": "ketenhub", "version": 1,
                 "period": {"from": self.frm, "to": self.to},
                 "threshold": self.t, "signals": signals, "referrals": referrals,
                 "escalations": escalations, "matches": matches}

        # The lines of §4.2, by group; ordered below (see CHOICES).
        g = collections.OrderedDict()
        g["forms"] = [Line("by_month." + f, [m[f] for m in by_month], by_form[f])
                      for f in FORMS]
        g["signals"] = [Line("by_month.signals", [m["signals"] for m in by_month], total)]
        g["role"] = [Line("by_role", [r["signals"] for r in by_role], total)]
        g["muni"] = [Line("by_municipality", [m["signals"] for m in by_muni], total)]
        g["age"] = [Line("by_age", list(by_age.values()), total)]
        g["urgency"] = [Line("by_urgency", list(by_urgency.values()), total)]
        per_partner = []
        for p in partners:
            pid, x = p["partner"], extra[p["partner"]]
            offered = Line("referrals." + pid,
                           [p["open"], p["accepted"], p["declined"], p["other"]], p["offered"])
            timing = [Line("referrals.%s.%s" % (pid, part),
                           [p[part]["within_deadline"]] + x[part], p[part]["answered"])
                      for part in ("receipt", "decision")]
            decisions = ([Line("referrals.%s.decisions" % pid,
                               [p["accepted"], p["declined"], x["decided_other"]],
                               p["decision"]["answered"])]
                         if x["decided_other"] is not None else [])
            per_partner.append((offered, timing, decisions))
        columns = [Line("referrals.total." + col, [p[col] for p in partners], rtotal[col])
                   for col in REFERRAL_COLUMNS]
        total_row = Line("referrals.total", [rtotal["open"], rtotal["accepted"],
                                             rtotal["declined"], rtotal["other"]],
                         rtotal["offered"])
        levels_line = [Line("escalations.by_level", [b["escalations"] for b in by_level],
                            escalations["total"])] if by_level else []
        if self.order == "doc":
            # docs/reporting.md §4.2's list as written.
            lines = (g["role"] + g["muni"] + g["age"] + g["urgency"] + g["signals"] + g["forms"]
                     + [o for o, _, _ in per_partner] + [total_row] + columns
                     + [t for _, ts, _ in per_partner for t in ts]
                     + [d for _, _, ds in per_partner for d in ds] + levels_line
                     + match_lines)
        else:
            # ctl/report.c's: the order the lines are made in.
            lines = g["forms"] + g["signals"] + g["role"] + g["muni"] + g["age"] + g["urgency"]
            for offered, timing, decisions in per_partner:
                lines += [offered] + timing + decisions
            lines += columns + [total_row] + levels_line + match_lines
        return model, lines

    def stats(self, sorted_ms):
        if len(sorted_ms) < self.t:
            return {"median_minutes": None, "p90_minutes": None}
        return {"median_minutes": minutes(nearest_rank(sorted_ms, 50)),
                "p90_minutes": minutes(nearest_rank(sorted_ms, 90))}

    def timing(self, rs, at_col, deadline_col, answered=None):
        """receipt or decision of one partner, and the line's cells the report
        does not show ([late, unknown]). `answered`: the cell that already
        counts these answers elsewhere (received), shown here again."""
        done = [r for r in rs if r[at_col] is not None]
        times = sorted(r[at_col] - r[4] for r in done if r[4] is not None)
        known = [r for r in done if r[4] is not None and r[deadline_col] is not None]
        within = sum(1 for r in known if r[at_col] <= r[deadline_col])
        late = len(known) - within
        n = len(done)
        if answered is None:
            answered = self.cell(n)
        assert answered.raw == n
        deadlines = {r[deadline_col] - r[4] for r in known}
        out = {"answered": answered}
        out.update(self.stats(times))
        out["within_deadline"] = self.cell(within)
        t = self.t
        share = (len(known) == n and n >= t and (within == 0 or within >= t)
                 and (late == 0 or late >= t))
        out["within_deadline_pct"] = round_tenths(1000 * within, 10 * n) if share else None
        out["deadline_minutes"] = minutes(deadlines.pop()) if len(deadlines) == 1 else None
        return out, [self.virtual(late, "late"), self.virtual(n - len(known), "unknown")]

    # -- suppression ------------------------------------------------------
    @staticmethod
    def suppress(lines):
        """Secondary suppression, in place. Returns (the names of the lines
        where a cell was made "x", in that order; lines left with one hidden
        member because nothing in them could be hidden)."""
        fixed = []
        while True:
            changed = False
            for line in lines:
                members = list(line.cells) + [line.total]
                if sum(1 for c in members if c.hidden()) != 1:
                    continue
                candidates = [c for c in members
                              if not c.virtual and not c.hidden() and c.raw > 0]
                if not candidates:
                    continue
                pick = min(candidates, key=lambda c: c.raw)  # min keeps the first of equals
                pick.mark = "x"
                fixed.append(line.name)
                changed = True
            if not changed:
                break
        unfixable = [line.name for line in lines
                     if sum(1 for c in list(line.cells) + [line.total] if c.hidden()) == 1]
        return fixed, unfixable

    def compute(self):
        """(model with plain values, lines, fixed, unfixable). Each Cell of the
        lines knows its places in the model (cell.paths; [] for the cells
        the model does not show)."""
        model, lines = self.build()
        set_paths(model, ())
        fixed, unfixable = self.suppress(lines)
        null_shares(model)
        return plain(model), lines, fixed, unfixable

    def model(self):
        return self.compute()[0]


def null_shares(x):
    """§4.4: no share next to a hidden answered or within_deadline (after
    secondary suppression too): 100.0 would say within = answered."""
    if isinstance(x, dict):
        if "within_deadline_pct" in x and (x["answered"].hidden() or
                                           x["within_deadline"].hidden()):
            x["within_deadline_pct"] = None
        for v in x.values():
            null_shares(v)
    elif isinstance(x, list):
        for v in x:
            null_shares(v)


def set_paths(x, path):
    if isinstance(x, Cell):
        x.paths.append(path)
    elif isinstance(x, dict):
        for k, v in x.items():
            set_paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            set_paths(v, path + (i,))


def at_path(model, path):
    """The value at a path (as set_paths makes them) in a plain model."""
    for k in path:
        model = model[k]
    return model


def plain(x):
    if isinstance(x, Cell):
        return x.shown
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    return x


def expected(db, config, frm, to, threshold=5):
    return Oracle(db, config, frm, to, threshold).model()


def main(argv=None):
    ap = argparse.ArgumentParser(description="the expected report model")
    ap.add_argument("--db", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--from", dest="frm", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--threshold", type=int, default=5)
    ap.add_argument("--order", choices=("code", "doc"), default="code",
                    help="the order the lines are visited in (see CHOICES)")
    ap.add_argument("--lines", action="store_true", help="print the suppression lines")
    a = ap.parse_args(argv)
    err = period_error(a.frm, a.to)
    if err or not 2 <= a.threshold <= 100:
        print("oracle: %s" % (err or "--threshold is not 2 .. 100"), file=sys.stderr)
        return 2
    model, lines, fixed, unfixable = Oracle(a.db, a.config, a.frm, a.to, a.threshold,
                                            a.order).compute()
    if a.lines:
        def show(c):
            return "%s%s/%s" % (c.name + ":" if c.virtual else "", c.raw, c.shown)
        for line in lines:
            print("%-44s total %s: %s" % (line.name, show(line.total),
                                          " ".join(show(c) for c in line.cells)))
        print("secondary suppression in:", ", ".join(fixed) or "-")
        print("unfixable:", ", ".join(unfixable) or "-")
    else:
        json.dump(model, sys.stdout, indent=2, ensure_ascii=False)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
