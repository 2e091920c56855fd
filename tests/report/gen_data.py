#!/usr/bin/python3
"""Test data for `ketenctl report`: fills a hub database (schema version 4)
with deterministic pseudo-random signals, referrals, their history and
escalations over 2026-01 .. 2026-06, plus a few outside that period.

    /usr/bin/python3 tests/report/gen_data.py --db hub.db --config ketenhub.json \
        [--seed 1] [--signals 3000] [--outside 60]

The database must exist and be migrated already (start bin/ketenhubd on it
once; tests/integration/15_report.py does that with harness.Hub). Partners,
their roles, the municipalities table and the policies come from the config.
CONFIG_PARTNERS / CONFIG_EXTRA below are the config this generator is made
for (every role, municipalities with and without a partner, three policies);
with another config it still works, but the deliberate small cells may not be
where the notes below say.

What the data covers (docs/reporting.md §1):
- every form, signals naming two or three forms; every role; municipalities
  with a partner, codes without one (GM0363, GM0518) and no code at all;
  minors; every urgency;
- referrals in every state, open ones included; receipts and decisions
  within, exactly at (received_ms == deadline) and after the deadline;
  accepted straight from aangeboden (receipt implied); cancelled after
  acceptance; every state change also in referral_history and (for partner
  answers) in events;
- escalations of missed receipt and decision deadlines at levels 1 and 2
  (level column 0 and 1) and exactly two opened without an alert yet
  (level -1), acknowledged and not;
- signals just outside the period (2025-12-31T23:59:59.999Z,
  2026-07-01T00:00:00.000Z, and some in December and July) whose referrals
  and escalations must not count; and just inside (2026-01-01T00:00:00.000Z,
  2026-06-30T23:59:59.999Z);
- matches (schema version 5, docs/matching.md): about one in twenty
  signals matches an earlier signal of another partner; the match is found
  when the later signal arrives, so matches of signals just outside the
  period do not count; none between two coordinators, and exactly 2 between
  comensha and care: a hidden cell of matches.by_roles;
- deliberate small cells (for the default config, any seed, --signals 3000
  or more; with fewer, other months get small counts too):
  * role coordinator: exactly 3 signals in the period: the one hidden cell of
    by_role, so secondary suppression must hide another;
  * orgaanverwijdering: exactly 3 signals (2 in February, 1 in May): by_form
    "<5" and two hidden months;
  * onbekend: no signals in June but exactly 2: the one hidden cell of that
    form column of by_month (secondary suppression);
  * GM0363 2 signals, GM0518 1 signal: two hidden cells in by_municipality;
  * level -1 ("opened, no alert yet"): exactly 2 escalations: the one hidden
    cell of by_level;
  * partner fier: a handful of referrals, so its row and several referral
    columns get small cells.

Importable too: 15_report.py uses connect(), Facts and the insert_* helpers
to craft small data sets by hand.
"""
import argparse
import datetime
import json
import random
import re
import sqlite3
import sys
import uuid

FORMS = ["seksueel", "arbeid", "crimineel", "orgaanverwijdering", "onbekend"]
ROLES = ["police", "municipality", "comensha", "care", "coordinator"]
URGENCIES = ["crisis", "hoog", "normaal"]
SIGNAL_TYPE = "nl.mensenhandel.signalen.signaal-geregistreerd"
REFERRAL_PREFIX = "nl.mensenhandel.doorverwijzingen.doorverwijzing-"

# The config the generator is made for: (id, role, name). Names hold a
# comma, a quote, non-ASCII and HTML specials, for the renderers.
CONFIG_PARTNERS = [
    ("politie-oost-nederland", "police", "Politie Oost-Nederland"),
    ("politie-recherche", "police", 'Politie, team "Recherche"'),
    ("gemeente-enschede", "municipality", "Gemeente Enschede"),
    ("gemeente-hengelo", "municipality", "Gemeente Hengelo"),
    ("gemeente-almelo", "municipality", "Gemeente Almelo"),
    ("gemeente-losser", "municipality", "Gemeente Losser"),
    ("comensha", "comensha", "CoMensha, landelijk coördinatiecentrum"),
    ("veilig-thuis-twente", "care", "Veilig Thuis Twente"),
    ("fier", "care", "Fier <opvang> & zorg"),
    ("kenniscentrum", "coordinator", "Regionaal kenniscentrum mensenhandel Twente"),
]
CONFIG_EXTRA = {
    "municipalities": {"GM0153": "gemeente-enschede", "GM0164": "gemeente-hengelo",
                       "GM0141": "gemeente-almelo", "GM0168": "gemeente-losser"},
    "policies": {"crisis": {"receipt": "PT15M", "decision": "PT4H"},
                 "hoog": {"receipt": "PT4H", "decision": "P1D"},
                 "standaard": {"receipt": "P1D", "decision": "P5D"}},
    "default_policy": "standaard",
}
UNCONFIGURED = ["GM0363", "GM0518"]  # codes no partner takes
ESCALATING = ("crisis", "hoog")       # policies whose missed deadlines escalate here

MINUTE = 60000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def ms_of(text):
    """'2026-01-01T00:00:00.000Z' (or '2026-01-01') -> UTC ms since the epoch."""
    if len(text) == 10:
        text += "T00:00:00.000Z"
    d = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (d - datetime.datetime(1970, 1, 1)) // datetime.timedelta(milliseconds=1)


PERIOD = (ms_of("2026-01-01"), ms_of("2026-07-01"))  # the main period, [from, to + 1 day)


def iso(ms):
    """UTC ms -> '2026-01-01T00:00:00.000Z' (the hub's time format)."""
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def duration_ms(text):
    """ISO 8601 duration as the config allows it (PnW, PnDTnHnMnS) -> ms."""
    m = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
                     text)
    if not m or text in ("P", "PT"):
        raise ValueError("not a duration: %r" % text)
    w, d, h, mi, s = m.groups()
    return (int(w or 0) * 7 * DAY + int(d or 0) * DAY + int(h or 0) * HOUR
            + int(mi or 0) * MINUTE + round(float(s or 0) * 1000))


def month_start(year, month):
    return ms_of("%04d-%02d-01" % (year, month))


# ---- the schema ---------------------------------------------------------

def connect(path):
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 30000")
    return con


def columns(con, table):
    return [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]


def check_schema(con):
    """Raises if the tables and columns the report reads are not there."""
    need = {
        "signal_facts": ["seq", "received_ms", "partner", "role", "forms", "urgency", "minor",
                         "municipality"],
        "referrals": ["id", "signal_seq", "partner", "policy", "rule", "state", "created",
                      "updated", "receipt_due_ms", "decision_due_ms", "created_ms",
                      "receipt_deadline_ms", "decision_deadline_ms", "received_ms", "decided_ms"],
        "escalations": ["id", "referral", "deadline", "due_ms", "level", "acked", "acked_ms"],
        "referral_history": ["referral", "time", "actor", "event", "from_state", "to_state"],
        "events": ["seq", "partner", "source", "id", "type", "time", "received", "body"],
    }
    missing = []
    for table, cols in need.items():
        have = set(columns(con, table))
        if not have:
            missing.append(table)
            continue
        missing += ["%s.%s" % (table, c) for c in cols if c not in have]
    if missing:
        raise SystemExit("gen_data: the database lacks %s (not schema version 4?)"
                         % ", ".join(missing))


# ---- inserting ----------------------------------------------------------

class Facts:
    """One signal as the report sees it."""

    def __init__(self, received_ms, partner, role, forms, urgency="normaal", minor=False,
                 municipality=None):
        self.received_ms = received_ms
        self.partner = partner
        self.role = role
        self.forms = list(forms)
        self.urgency = urgency
        self.minor = bool(minor)
        self.municipality = municipality
        self.seq = None


def forms_bits(forms):
    bits = 0
    for f in forms:
        bits |= 1 << FORMS.index(f)
    return bits


def new_uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def insert_signal(con, f, rng):
    """An accepted signaal-geregistreerd event and its signal_facts row; sets f.seq."""
    data = {"vormenVanUitbuiting": f.forms, "urgentie": f.urgency, "minderjarig": f.minor,
            "indicatoren": ["onderbetaling"], "toestemming": {"registratieCoMensha": False}}
    if f.municipality:
        data["woongemeente"] = f.municipality
    ev_time = iso(f.received_ms - rng.randrange(0, 10 * MINUTE))
    ev = {"specversion": "1.0", "id": new_uuid(rng),
          "source": "urn:nld:oin:00000001003214345000:systeem:%s" % f.partner,
          "type": SIGNAL_TYPE, "time": ev_time, "datacontenttype": "application/json",
          "data": data}
    cur = con.execute("INSERT INTO events (partner, source, id, type, time, received, body)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (f.partner, ev["source"], ev["id"], SIGNAL_TYPE, ev_time,
                       iso(f.received_ms), json.dumps(ev, ensure_ascii=False)))
    f.seq = cur.lastrowid
    con.execute("INSERT INTO signal_facts (seq, received_ms, partner, role, forms, urgency,"
                " minor, municipality) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (f.seq, f.received_ms, f.partner, f.role, forms_bits(f.forms), f.urgency,
                 1 if f.minor else 0, f.municipality))
    return f.seq


def _response_event(con, rng, partner, kind, referral, at_ms):
    """A partner's answer (doorverwijzing-<kind>) as the hub stores it."""
    ev = {"specversion": "1.0", "id": new_uuid(rng),
          "source": "urn:nld:oin:00000001003214345000:systeem:%s" % partner,
          "type": REFERRAL_PREFIX + kind, "time": iso(at_ms),
          "datacontenttype": "application/json", "data": {"doorverwijzing": referral}}
    cur = con.execute("INSERT INTO events (partner, source, id, type, time, received, body)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (partner, ev["source"], ev["id"], ev["type"], iso(at_ms), iso(at_ms),
                       json.dumps(ev)))
    return cur.lastrowid


def insert_referral(con, rng, signal_seq, partner, policy, created_ms, receipt_ms,
                    decision_ms, steps, rule="regel"):
    """A referral made at created_ms with the policy's two deadlines, and its
    history: `steps` is a list of (event, at_ms) after aangeboden, e.g.
    [("ontvangen", t1), ("geaccepteerd", t2)]. Answers from the partner get
    an event; geannuleerd and mislukt are the hub's. Returns the row as a dict."""
    rid = new_uuid(rng)
    receipt_deadline = created_ms + receipt_ms
    decision_deadline = created_ms + decision_ms
    state = "aangeboden"
    received = decided = None
    history = [(iso(created_ms), "hub", "aangeboden", None, "aangeboden", None)]
    for event, at in steps:
        prev = state
        state = event
        if event in ("ontvangen", "geaccepteerd", "afgewezen") and received is None:
            received = at
        if event in ("geaccepteerd", "afgewezen") and decided is None:
            decided = at
        if event in ("geannuleerd", "mislukt"):
            actor, ev_seq = "hub", None
        else:
            actor, ev_seq = partner, _response_event(con, rng, partner, event, rid, at)
        history.append((iso(at), actor, event, prev, state, ev_seq))
    receipt_due = receipt_deadline if state == "aangeboden" else None
    decision_due = decision_deadline if state in ("aangeboden", "ontvangen") else None
    updated = steps[-1][1] if steps else created_ms
    con.execute("INSERT INTO referrals (id, signal_seq, partner, policy, rule, state, created,"
                " updated, receipt_due_ms, decision_due_ms, created_ms, receipt_deadline_ms,"
                " decision_deadline_ms, received_ms, decided_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, signal_seq, partner, policy, rule, state, iso(created_ms), iso(updated),
                 receipt_due, decision_due, created_ms, receipt_deadline, decision_deadline,
                 received, decided))
    for h in history:
        con.execute("INSERT INTO referral_history (referral, time, actor, event, from_state,"
                    " to_state, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?)", (rid,) + h)
    return {"id": rid, "signal_seq": signal_seq, "partner": partner, "policy": policy,
            "state": state, "created_ms": created_ms, "receipt_deadline_ms": receipt_deadline,
            "decision_deadline_ms": decision_deadline, "received_ms": received,
            "decided_ms": decided, "end_ms": updated}


def insert_match(con, later, earlier, kinds="bsn"):
    """A match raised when `later` arrived, with the earlier signal `earlier`
    (both Facts already inserted), as hub/match.c writes it."""
    con.execute("INSERT INTO matches (seq, partner, role, earlier_seq, earlier_partner,"
                " earlier_role, kinds, found_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (later.seq, later.partner, later.role, earlier.seq, earlier.partner,
                 earlier.role, kinds, later.received_ms))


def insert_escalation(con, referral, deadline, level, acked_ms=None, state=None, by="anna"):
    """An escalation of a referral's missed `deadline` ('receipt' or
    'decision'); level is the 0-based highest level fired, -1 none."""
    due = referral["receipt_deadline_ms" if deadline == "receipt" else "decision_deadline_ms"]
    if state is None:
        answered = referral["received_ms" if deadline == "receipt" else "decided_ms"]
        final = referral["state"] in ("afgewezen", "afgerond", "geannuleerd", "mislukt")
        state = "resolved" if (answered or final) else ("acknowledged" if acked_ms else "open")
    fired = due if level >= 0 else None
    cur = con.execute(
        "INSERT INTO escalations (referral, deadline, due_ms, policy, partner, state, base_ms,"
        " level, fired_ms, rounds, next_ms, created, updated, acked, acked_by, ack_note,"
        " resolved, resolution, acked_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?)",
        (referral["id"], deadline, due, referral["policy"], referral["partner"], state, due,
         level, fired, level + 1, None, iso(due), iso(acked_ms or due),
         iso(acked_ms) if acked_ms else None, by if acked_ms else None, None,
         iso(referral["end_ms"]) if state == "resolved" else None,
         "answered" if state == "resolved" else None, acked_ms))
    return cur.lastrowid


# ---- the generator ------------------------------------------------------

class Config:
    def __init__(self, path):
        with open(path) as f:
            c = json.load(f)
        self.partners = [(p["id"], p["role"]) for p in c.get("partners", [])]
        self.by_role = {r: [p for p, pr in self.partners if pr == r] for r in ROLES}
        self.municipalities = dict(c.get("municipalities", {}))
        pol = c.get("policies") or {"standaard": {"receipt": "P1D", "decision": "P5D"}}
        self.policies = {n: (duration_ms(p["receipt"]), duration_ms(p["decision"]))
                         for n, p in pol.items()}
        self.default_policy = c.get("default_policy") or (
            next(iter(self.policies)) if len(self.policies) == 1 else "standaard")

    def policy_for(self, urgency):
        name = {"crisis": "crisis", "hoog": "hoog"}.get(urgency, "standaard")
        return name if name in self.policies else self.default_policy


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


class Generator:
    def __init__(self, con, cfg, seed):
        self.con = con
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.referrals = []
        self.stats = {"signals": 0, "referrals": 0, "escalations": 0, "history": 0,
                      "matches": 0}

    # -- signals ----------------------------------------------------------
    def sender(self, role):
        ids = self.cfg.by_role.get(role) or [p for p, _ in self.cfg.partners]
        return self.rng.choice(ids)

    def random_facts(self, at_ms, allow_onbekend=True):
        rng = self.rng
        role = weighted(rng, [("police", 45), ("municipality", 25), ("care", 18),
                              ("comensha", 12)])
        main_forms = [("seksueel", 40), ("arbeid", 35), ("crimineel", 18)]
        if allow_onbekend:
            main_forms.append(("onbekend", 7))
        forms = [weighted(rng, main_forms)]
        others = [f for f, _ in main_forms if f not in forms and f != "onbekend"]
        if rng.random() < 0.15:
            forms.append(rng.choice(others))
            if rng.random() < 0.2:
                forms.append(next(f for f in others if f not in forms))
        urgency = weighted(rng, [("crisis", 8), ("hoog", 22), ("normaal", 70)])
        configured = sorted(self.cfg.municipalities)
        code = None
        if configured and rng.random() < 0.9:
            weights = [35, 25, 15, 8] + [5] * max(0, len(configured) - 4)
            code = weighted(rng, list(zip(configured, weights)))
        return Facts(at_ms, self.sender(role), role, forms, urgency, rng.random() < 0.12, code)

    def add_signal(self, f):
        insert_signal(self.con, f, self.rng)
        self.stats["signals"] += 1
        self.add_referrals(f)
        return f

    # -- referrals --------------------------------------------------------
    def targets(self, f):
        """Roughly what the example routes would do."""
        out = []
        police = self.cfg.by_role.get("police") or []
        care = self.cfg.by_role.get("care") or []
        if f.urgency == "crisis" and police:
            out.append((police[0], "crisis"))
            if f.minor and care:
                out.append((care[0], "crisis"))
        partner = self.cfg.municipalities.get(f.municipality or "")
        if partner:
            out.append((partner, "hoog" if f.urgency in ("crisis", "hoog") else "standaard"))
        if self.cfg.by_role.get("comensha") and self.rng.random() < 0.3:
            out.append((self.cfg.by_role["comensha"][0], "standaard"))
        if len(police) > 1 and "seksueel" in f.forms and self.rng.random() < 0.08:
            out.append((police[1], f.urgency == "crisis" and "crisis" or "standaard"))
        if len(care) > 1 and self.rng.random() < 0.004:
            out.append((care[1], "standaard"))
        if not out:
            out = [(p, "standaard") for p in self.cfg.by_role.get("coordinator", [])]
        seen, uniq = set(), []
        for p, pol in out:
            if p not in seen:
                seen.add(p)
                uniq.append((p, pol if pol in self.cfg.policies else self.cfg.default_policy))
        return uniq

    def delay(self, due_ms, boundary=True):
        """A response time for a deadline of due_ms: mostly within, some late,
        some exactly on it and some 1 ms after."""
        rng = self.rng
        x = rng.random()
        if boundary and x < 0.015:
            return due_ms
        if boundary and x < 0.03:
            return due_ms + 1
        ratio = rng.lognormvariate(-0.9, 0.8)
        return max(1000, int(ratio * due_ms)) + rng.randrange(0, 1000)

    def add_referrals(self, f):
        for partner, policy in self.targets(f):
            self.add_referral(f, partner, policy)

    def add_referral(self, f, partner, policy, outcome=None):
        rng = self.rng
        rec_ms, dec_ms = self.cfg.policies[policy]
        created = f.received_ms + rng.randrange(0, 50)
        if outcome is None:
            outcome = weighted(rng, [("aangeboden", 4), ("ontvangen", 6), ("geaccepteerd", 38),
                                     ("direct", 6), ("afgewezen", 14), ("afgerond", 20),
                                     ("geannuleerd", 6), ("mislukt", 4)])
        t_rec = created + self.delay(rec_ms)
        t_dec = t_rec + self.delay(dec_ms, boundary=False) // 2
        if rng.random() < 0.02:
            t_dec = created + dec_ms  # decided exactly at the decision deadline
        steps = []
        if outcome == "ontvangen":
            steps = [("ontvangen", t_rec)]
        elif outcome == "geaccepteerd":
            steps = [("ontvangen", t_rec), ("geaccepteerd", max(t_dec, t_rec))]
        elif outcome == "direct":  # accepted straight from aangeboden
            steps = [("geaccepteerd", t_rec)]
        elif outcome == "afgewezen":
            steps = ([("ontvangen", t_rec)] if rng.random() < 0.7 else []) + \
                [("afgewezen", max(t_dec, t_rec))]
        elif outcome == "afgerond":
            steps = [("ontvangen", t_rec), ("geaccepteerd", max(t_dec, t_rec)),
                     ("afgerond", max(t_dec, t_rec) + rng.randrange(DAY, 30 * DAY))]
        elif outcome == "geannuleerd":
            k = rng.randrange(3)
            steps = [("ontvangen", t_rec), ("geaccepteerd", max(t_dec, t_rec))][:k]
            last = steps[-1][1] if steps else created
            steps.append(("geannuleerd", last + rng.randrange(MINUTE, 3 * DAY)))
        elif outcome == "mislukt":
            steps = [("mislukt", created + rng.randrange(20 * MINUTE, 2 * DAY))]
        r = insert_referral(self.con, rng, f.seq, partner, policy, created, rec_ms, dec_ms,
                            steps, rule="regel-%s" % policy)
        r["in_period"] = PERIOD[0] <= f.received_ms < PERIOD[1]
        self.stats["referrals"] += 1
        self.stats["history"] += 1 + len(steps)
        self.referrals.append(r)
        return r

    # -- escalations ------------------------------------------------------
    def add_escalations(self):
        """Every missed deadline of an escalating policy escalates: level 2
        (column 1) when it stayed unanswered 30 min past the deadline, else
        level 1 (column 0); then two are set back to 'opened, no alert yet'."""
        rng = self.rng
        made = []
        for r in self.referrals:
            if r["policy"] not in ESCALATING:
                continue
            for deadline, due_key, ans_key in (("receipt", "receipt_deadline_ms", "received_ms"),
                                               ("decision", "decision_deadline_ms",
                                                "decided_ms")):
                due, ans = r[due_key], r[ans_key]
                final_unanswered = ans is None and r["state"] in (
                    "afgewezen", "afgerond", "geannuleerd", "mislukt")
                end = ans if ans is not None else (r["end_ms"] if final_unanswered else None)
                if end is not None and end <= due:
                    continue
                if deadline == "decision" and r["state"] == "mislukt":
                    continue
                late = (end - due) if end is not None else 10 * DAY
                level = 1 if late > 30 * MINUTE else 0
                acked = None
                if rng.random() < 0.65:
                    span = min(late, 2 * HOUR) if end is not None else 2 * HOUR
                    acked = due + rng.randrange(0, max(1, span))
                made.append((r, deadline, level, acked))
        # Exactly two in the period opened, no alert yet, never acknowledged.
        inside = [i for i, m in enumerate(made) if m[0].get("in_period")]
        picks = rng.sample(inside, min(2, len(inside)))
        for i in picks:
            r, deadline, _, _ = made[i]
            made[i] = (r, deadline, -1, None)
        for r, deadline, level, acked in made:
            insert_escalation(self.con, r, deadline, level, acked)
            self.stats["escalations"] += 1
        return made


    def add_matches(self, everything):
        """About one signal in twenty matches an earlier one of another partner
        (never coordinator with coordinator); the comensha+care pair is
        avoided here and made exactly twice below."""
        rng = self.rng
        pair = {"comensha", "care"}
        for i, later in enumerate(everything):
            if i == 0 or rng.random() >= 0.05:
                continue
            earlier = everything[rng.randrange(0, i)]
            if earlier.partner == later.partner or {earlier.role, later.role} == pair or \
                    earlier.role == later.role == "coordinator":
                continue
            kinds = weighted(rng, [("bsn", 60), ("naam-geboortedatum", 30),
                                   ("bsn,naam-geboortedatum", 10)])
            insert_match(self.con, later, earlier, kinds)
            self.stats["matches"] += 1
        inside = [f for f in everything if ms_of("2026-01-01") <= f.received_ms
                  < ms_of("2026-07-01")]
        care = [f for f in inside if f.role == "care"]
        comensha = [f for f in inside if f.role == "comensha"]
        for _ in range(2 if care and comensha else 0):
            a, b = rng.choice(care), rng.choice(comensha)
            later, earlier = (a, b) if a.received_ms > b.received_ms else (b, a)
            insert_match(self.con, later, earlier)
            self.stats["matches"] += 1


def random_time(rng, start_ms, end_ms):
    return start_ms + rng.randrange(0, end_ms - start_ms)


def generate(con, cfg, seed=1, signals=3000, outside=60):
    """Fills the database (one transaction). Returns a summary dict."""
    g = Generator(con, cfg, seed)
    rng = g.rng
    months = [(2026, m) for m in range(1, 7)]
    weights = [1.0, 0.8, 1.2, 1.0, 0.9, 1.1]
    con.execute("BEGIN")
    # Boundaries: two just inside the period, two just outside.
    edges_in = [ms_of("2026-01-01"), ms_of("2026-07-01") - 1]
    edges_out = [ms_of("2026-01-01") - 1, ms_of("2026-07-01")]
    special = []
    coordinators = cfg.by_role.get("coordinator") or []
    for i, at in enumerate([ms_of("2026-01-20T09:00:00.000Z"), ms_of("2026-03-03T14:30:00.000Z"),
                            ms_of("2026-05-31T23:59:59.999Z")]):
        if coordinators:  # exactly three from the coordinator role
            special.append(Facts(at, coordinators[i % len(coordinators)], "coordinator",
                                 ["arbeid"], "normaal", False, "GM0153"))
    for at in (ms_of("2026-02-10T10:00:00.000Z"), ms_of("2026-02-27T23:00:00.000Z"),
               ms_of("2026-05-05T05:05:05.005Z")):  # orgaanverwijdering: 2 in Feb, 1 in May
        special.append(Facts(at, g.sender("police"), "police",
                             ["orgaanverwijdering"] + (["crimineel"] if at % 2 else []),
                             "hoog", False, "GM0164"))
    for at in (ms_of("2026-06-01T00:00:00.000Z"), ms_of("2026-06-18T12:00:00.000Z")):
        special.append(Facts(at, g.sender("care"), "care", ["onbekend"], "normaal", True, None))
    for code, n in zip(UNCONFIGURED, (2, 1)):
        for k in range(n):
            special.append(Facts(ms_of("2026-04-%02dT08:00:00.000Z" % (10 + k)),
                                 g.sender("municipality"), "municipality", ["seksueel"],
                                 "crisis", k == 0, code))
    total_w = sum(weights)
    regular = max(0, signals - len(special) - len(edges_in))
    times = []
    for (y, m), w in zip(months, weights):
        start = month_start(y, m)
        end = month_start(y + (m == 12), m % 12 + 1)
        n = int(round(regular * w / total_w))
        times += [random_time(rng, start, end) for _ in range(n)]
    times = times[:regular] + [random_time(rng, ms_of("2026-01-01"), ms_of("2026-07-01"))
                               for _ in range(regular - len(times))]
    facts = [g.random_facts(t, allow_onbekend=t < ms_of("2026-06-01")) for t in times]
    facts += [g.random_facts(t, allow_onbekend=False) for t in edges_in]
    # Outside the period, with their own referrals and escalations.
    out_times = edges_out + [random_time(rng, ms_of("2025-12-01"), ms_of("2026-01-01"))
                             for _ in range(outside // 2)]
    out_times += [random_time(rng, ms_of("2026-07-01"), ms_of("2026-08-01"))
                  for _ in range(outside - outside // 2)]
    outside_facts = [g.random_facts(t) for t in out_times]
    for f in outside_facts:
        f.forms = sorted(set(f.forms + (["orgaanverwijdering"] if rng.random() < 0.3 else [])),
                         key=FORMS.index)
        if rng.random() < 0.2 and coordinators:
            f.role, f.partner = "coordinator", coordinators[0]
    everything = facts + special + outside_facts
    everything.sort(key=lambda f: (f.received_ms, rng.random()))  # seq in arrival order
    for f in everything:
        g.add_signal(f)
    # fier: a handful of referrals in known states (aangeboden, afgewezen,
    # geaccepteerd x5, mislukt), on top of the random ones.
    care = cfg.by_role.get("care") or []
    if len(care) > 1:
        in_period = [f for f in facts if f.urgency == "normaal"]
        for outcome in ("aangeboden", "afgewezen", "geaccepteerd", "geaccepteerd", "geaccepteerd",
                        "geaccepteerd", "geaccepteerd", "mislukt"):
            g.add_referral(rng.choice(in_period), care[1], "standaard", outcome)
    g.add_escalations()
    if columns(con, "matches"):
        g.add_matches(everything)
    con.execute("COMMIT")
    summary = dict(g.stats)
    summary["in_period_signals"] = len(facts) + len(special)
    summary["seed"] = seed
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="the hub database (schema version 4)")
    ap.add_argument("--config", required=True, help="the hub config (partners, policies)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--signals", type=int, default=3000, help="signals in 2026-01 .. 2026-06")
    ap.add_argument("--outside", type=int, default=60, help="signals outside that period")
    a = ap.parse_args(argv)
    con = connect(a.db)
    check_schema(con)
    if con.execute("SELECT count(*) FROM signal_facts").fetchone()[0]:
        raise SystemExit("gen_data: %s already holds signals" % a.db)
    summary = generate(con, Config(a.config), a.seed, a.signals, a.outside)
    con.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
