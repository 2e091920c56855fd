#!/usr/bin/env bash
# `make run`: the whole chain on one machine. The hub with the example config
# on its own SQLite store; the four partner adapters (police, a municipality,
# CoMensha, a care provider), each configured from config/adapters/; small
# stand-ins for the partners' own systems (scripts/demo_partners.py: a drop
# folder for the police, HTTP endpoints for the others); a local webhook
# receiver and mail server for the duty officer. Then a police signal file
# goes all the way to the partners and back, and an unanswered crisis
# referral escalates. Everything lives in run/ (git-ignored): the keys (made
# once, kept), run/ketenhub.json, run/adapters/*.json, the database and the
# logs (fresh on every run). Leaves it all running until Ctrl-C, then stops
# every process it started.
# KETENHUB_RUN_DIR (default run/), KETENHUB_DEMO_LISTEN (the hub's endpoint,
# default tcp://127.0.0.1:5570) and KETENHUB_BIN or BIN (the programs,
# default bin/) override the defaults.
# shellcheck disable=SC2317 # functions called by wait_until and the traps
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=${KETENHUB_RUN_DIR:-$root/run}
# The programs: KETENHUB_BIN, else the Makefile's BIN (`make run BIN=...`), else bin/.
bin=${KETENHUB_BIN:-${BIN:-bin}}
[[ $bin == /* ]] || bin=$root/$bin
ctl=$bin/ketenctl
hubd=$bin/ketenhubd
py=/usr/bin/python3
partners_py=$root/scripts/demo_partners.py
listen=${KETENHUB_DEMO_LISTEN:-tcp://127.0.0.1:5570}
cfgf=$run/ketenhub.json
police=$run/partners/politie
kinds=(police municipality comensha care)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
fail() {
    echo "demo: $*" >&2
    exit 1
}
# Every process the demo starts, as "name:pid"; stopped in reverse order.
procs=()
log_of() {
    case $1 in
    ketenhubd) echo run/hub.log ;;
    adapter-*) echo "run/adapters/${1#adapter-}.log" ;;
    partner-stand-ins) echo run/partners/serve.log ;;
    *) echo "its output" ;;
    esac
}
# Stops the demo at once when a process it started has died.
check_alive() {
    local p
    for p in "${procs[@]}"; do
        kill -0 "${p##*:}" 2>/dev/null || fail "${p%%:*} exited unexpectedly (see $(log_of "${p%%:*}"))"
    done
}
# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; after SECONDS stops the demo naming WHAT did not happen.
wait_until() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        check_alive
        sleep 0.1
    done
    fail "timed out after $secs s: $what"
}
in_log() { grep -q -- "$2" "$1" 2>/dev/null; }
ctl_cfg() { "$ctl" --config "$cfgf" "$@"; }

stop_all() {
    local i name pid n left=()
    for ((i = ${#procs[@]} - 1; i >= 0; i--)); do
        name=${procs[i]%%:*}
        pid=${procs[i]##*:}
        kill -TERM "$pid" 2>/dev/null || continue
        for ((n = 0; n < 100; n++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "demo: $name (pid $pid) did not stop within 10 s of SIGTERM; killed" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    for p in "${procs[@]}"; do
        ps -p "${p##*:}" >/dev/null 2>&1 && left+=("$p")
    done
    procs=()
    if [ ${#left[@]} -ne 0 ]; then
        echo "demo: still running after the stop: ${left[*]}" >&2
        return 1
    fi
}
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    [ ${#procs[@]} -eq 0 ] || echo "demo: stopping what it started (${#procs[@]} processes)" >&2
    stop_all || rc=1
    exit "$rc"
}
trap on_exit EXIT
for prog in ketenhubd ketenctl adapter-police adapter-municipality adapter-comensha adapter-care; do
    [ -x "$bin/$prog" ] || fail "$bin/$prog is missing: build it first (make)"
done
trap 'exit 130' INT TERM # Ctrl-C before the end: stop everything too (on_exit)

say "keys (run/keys/, made once, never committed)"
mkdir -p "$run/keys"
chmod 700 "$run/keys"
partners=$($py -c 'import json,sys; print(" ".join(p["id"] for p in json.load(open(sys.argv[1]))["partners"]))' config/ketenhub.example.json)
for id in hub $partners; do
    [ -f "$run/keys/$id.key" ] || "$ctl" keygen "$run/keys/$id" >/dev/null 2>&1
done
note "hub and $(wc -w <<<"$partners") partner key pairs in run/keys/ (an adapter uses its partner's pair)"
# The key that signs alert webhooks (Standard Webhooks: whsec_ + base64).
[ -f "$run/keys/webhook.secret" ] ||
    (umask 077 && echo "whsec_$(openssl rand -base64 32)" >"$run/keys/webhook.secret")
note "webhook signing secret in run/keys/webhook.secret"
for s in store pseudonym; do
    [ -f "$run/keys/$s.secret" ] || "$ctl" keygen --secret "$run/keys/$s.secret" >/dev/null 2>&1
done
note "store encryption key and pseudonym key in run/keys/ (store.secret, pseudonym.secret)"

# A fresh start: the previous run's database, adapter databases, folders and logs go.
rm -rf "$run/ketenhub.db" "$run/ketenhub.db-wal" "$run/ketenhub.db-shm" "$run/ketenhub.sock" \
    "$run"/adapter-* "$run/adapters" "$run/partners" "$run/hub.log" "$run/report.html" \
    "$run/webhook.log" "$run/mail.log" "$run/webhook.port" "$run/mail.port"
mkdir -p "$run/adapters" "$police"/{in,out,done,failed,tmp}

say "demo receivers for the duty officer's alerts: a webhook endpoint and a mail server (127.0.0.1)"
secret_hex=$($py -c 'import base64,sys; print(base64.b64decode(open(sys.argv[1]).read().strip()[6:]).hex())' "$run/keys/webhook.secret")
$py "$root/tests/peers/webhook_receiver.py" --log "$run/webhook.log" \
    --secret-hex "$secret_hex" --max-seconds 86400 ok >"$run/webhook.port" &
procs+=("webhook-receiver:$!")
$py "$root/tests/peers/smtp_receiver.py" --log "$run/mail.log" --max-seconds 86400 >"$run/mail.port" &
procs+=("mail-server:$!")
wait_until 10 "the webhook receiver and the mail server did not start" \
    test -s "$run/webhook.port" -a -s "$run/mail.port"
webhook_port=$(head -1 "$run/webhook.port")
smtp_port=$(head -1 "$run/mail.port")
note "webhook receiver on http://127.0.0.1:$webhook_port (verifies each signature), log run/webhook.log"
note "mail server on smtp://127.0.0.1:$smtp_port, log run/mail.log"

say "config run/ketenhub.json (the example config with these keys)"
$py - "$root" "$listen" "$run" "$webhook_port" "$smtp_port" <<'PY'
import json, sys
root, listen, run, webhook_port, smtp_port = sys.argv[1:6]
cfg = json.load(open(f"{root}/config/ketenhub.example.json"))
cfg.update(listen=listen, database="ketenhub.db", schemas=f"{root}/schemas", server_key="keys/hub.key",
           encryption_key="keys/store.secret", pseudonym_key="keys/pseudonym.secret",
           admin_socket="ketenhub.sock")
for p in cfg["partners"]:
    p["public_key"] = open(f"{run}/keys/{p['id']}.pub").read().strip()
# Alerts go to the demo receivers, and the crisis deadlines are seconds, not
# minutes, so the demo shows an escalation while you watch.
cfg["alerting"].update(webhook_secret_file="keys/webhook.secret", smtp_url=f"smtp://127.0.0.1:{smtp_port}")
for o in cfg["officers"]:
    o["webhook"] = f"http://127.0.0.1:{webhook_port}/piket/{o['id']}"
crisis = cfg["policies"]["crisis"]
crisis.update(receipt="PT8S", decision="PT10M")
crisis["escalation"]["levels"][0]["repeat"] = "PT8S"
crisis["escalation"]["levels"][1]["after"] = "PT1M"
crisis["escalation"]["rearm"] = "PT2M"
with open(f"{run}/ketenhub.json", "w") as f:
    json.dump(cfg, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
"$hubd" --check-config "$cfgf"

say "starting ketenhubd on $listen (log: run/hub.log; follow it with tail -f)"
"$hubd" --config "$cfgf" 2>"$run/hub.log" &
hub=$!
procs+=("ketenhubd:$hub")
wait_until 10 "ketenhubd did not log event=listening (see run/hub.log)" in_log "$run/hub.log" 'event=listening'
grep -m1 'event=listening' "$run/hub.log" | sed 's/^/   hub.log: /'

say "stand-ins for the partners' own systems (scripts/demo_partners.py, 127.0.0.1)"
$py "$partners_py" serve --dir "$run/partners" --adapters "$run/adapters" >/dev/null 2>"$run/partners/serve.log" &
procs+=("partner-stand-ins:$!")
# (It reads the adapters' configs when a message arrives; they are written next.)
wait_until 10 "the partner stand-ins did not start (see run/partners/serve.log)" test -s "$run/partners/ports.json"
note "politie-oost-nederland: a drop folder run/partners/politie/ (in/ out/ done/ failed/); the demo script plays the police"
note "gemeente-enschede:      takes notifications, fetches each referral from its adapter, confirms receipt"
note "comensha:               takes registration records"
note "veilig-thuis-twente:    takes referrals as CloudEvents and accepts them"

say "the four adapters: run/adapters/<kind>.json from config/adapters/<kind>.example.json"
# The example configs are the source of truth; only the run's paths, the
# hub's endpoint and the ports (free ones, 127.0.0.1) change. The bearer
# tokens for the HTTP sides are made here, one line each, mode 0600.
$py - "$root" "$run" "$listen" "$run/partners/ports.json" "${kinds[@]}" <<'PY'
import json, os, secrets, socket, sys, urllib.parse
root, run, listen, ports_file, kinds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
ports = json.load(open(ports_file))

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def fix(v):
    """Paths in the examples are relative to config/adapters/: run/ ones
    become relative to run/adapters/, the rest absolute."""
    if isinstance(v, dict):
        return {k: fix(x) for k, x in v.items()}
    if isinstance(v, list):
        return [fix(x) for x in v]
    if isinstance(v, str) and v.startswith("../../run/"):
        return "../" + v[len("../../run/"):]
    if isinstance(v, str) and v.startswith("../../"):
        return os.path.normpath(os.path.join(root, v[len("../../"):]))
    return v

def at(url, port):
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, "127.0.0.1:%d" % port, u.path, u.query, u.fragment))

adir = os.path.join(run, "adapters")
for kind in kinds:
    cfg = fix(json.load(open(os.path.join(root, "config", "adapters", kind + ".example.json"))))
    cfg["hub"]["endpoint"] = listen
    os.makedirs(os.path.normpath(os.path.join(adir, cfg["data_dir"])), exist_ok=True)
    tr = cfg["transports"]
    tokens = []
    if "filedrop" in tr:
        tr["filedrop"]["dir"] = "../partners/politie"
    if "http-push" in tr:
        tr["http-push"]["url"] = at(tr["http-push"]["url"], ports[kind])
        tokens.append(tr["http-push"]["token_file"])
    if "http-listen" in tr:
        port = free_port()
        tr["http-listen"]["listen"] = "127.0.0.1:%d" % port
        tokens += [t["token_file"] for t in tr["http-listen"]["tokens"]]
        if "resource_url" in cfg.get("mapping", {}):
            cfg["mapping"]["resource_url"] = at(cfg["mapping"]["resource_url"], port)
    for t in tokens:
        path = os.path.normpath(os.path.join(adir, t))
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
    with open(os.path.join(adir, kind + ".json"), "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")
    push = tr.get("http-push", {}).get("url")
    lst = tr.get("http-listen", {}).get("listen")
    side = ("folder run/partners/politie" if "filedrop" in tr else
            "pushes to %s" % push + (", listens on %s" % lst if lst else ""))
    key = os.path.basename(cfg["hub"]["key"])[:-4]
    print("   adapter-%-13s %-23s %s" % (kind, key, side))
PY
note "bearer tokens for the HTTP sides: run/keys/*.token (mode 0600)"
for k in "${kinds[@]}"; do
    "$bin/adapter-$k" --check-config "$run/adapters/$k.json" >/dev/null ||
        fail "adapter-$k --check-config run/adapters/$k.json failed"
done
note "adapter-<kind> --check-config run/adapters/<kind>.json: config ok (all four)"
for k in "${kinds[@]}"; do
    "$bin/adapter-$k" --config "$run/adapters/$k.json" 2>"$run/adapters/$k.log" &
    procs+=("adapter-$k:$!")
done
for k in "${kinds[@]}"; do
    id=$($py -c 'import json,os,sys; print(os.path.basename(json.load(open(sys.argv[1]))["hub"]["key"])[:-4])' "$run/adapters/$k.json")
    wait_until 15 "adapter-$k did not connect to the hub (no event=session_opened partner=$id in run/hub.log; see run/adapters/$k.log)" \
        in_log "$run/hub.log" "event=session_opened partner=$id"
done
note "all four started (logs run/adapters/<kind>.log) and connected: the hub logged event=session_opened for each"

say "1. the police export a signal: a CSV file, written in tmp/ and renamed into in/ (docs/adapters.md, Police)"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
today=$(date -u +%Y-%m-%d)
ref="PL0600-$(date -u +%Y%m%d%H%M%S)"
signal_file=signalen-$(date -u +%Y%m%d-%H%M%S).csv
cat >"$police/tmp/$signal_file" <<CSV
referentie;tijdstip;vormenVanUitbuiting;urgentie;minderjarig;woongemeente;indicatoren;toestemmingRegistratieCoMensha;toestemmingDelenMetZorg;datumSignalering;leeftijdsgroep;geslacht;nationaliteit;omschrijving
$ref;$now;seksueel;crisis;ja;GM0153;loverboy-methode|beperkte-bewegingsvrijheid|geweld-of-bedreiging;ja;ja;$today;12-17;vrouw;NL;"Tijdens controle in hotel aangetroffen; verklaart te moeten werken voor een 'vriend'. Direct gevaar."
CSV
note "run/partners/politie/tmp/$signal_file:"
sed 's/^/   | /' "$police/tmp/$signal_file"
mv "$police/tmp/$signal_file" "$police/in/$signal_file"
note "\$ mv run/partners/politie/tmp/$signal_file run/partners/politie/in/"
note "(a crisis about a minor living in Enschede, consent to registration at CoMensha: ja)"

say "2. adapter-police takes the file (to done/) and the hub accepts the signal"
wait_until 15 "adapter-police did not move $signal_file to run/partners/politie/done/ (see run/adapters/police.log)" \
    test -f "$police/done/$signal_file"
note "run/partners/politie/done/$signal_file"
wait_until 5 "adapter-police did not log event=file_taken" in_log "$run/adapters/police.log" 'event=file_taken'
grep -m1 'event=file_taken' "$run/adapters/police.log" | sed 's/^/   police.log: /'
# An event leaves the adapter's outbox only when the hub has acknowledged it;
# one the hub rejected would be on the adapter's failed list.
police_outbox_empty() {
    "$bin/adapter-police" --config "$run/adapters/police.json" failed --json |
        $py -c 'import json,sys; d = json.load(sys.stdin); sys.exit(d["outbox"] != 0 or d["failed"] != [])'
}
wait_until 15 "the hub did not accept the police signal (see adapter-police --config run/adapters/police.json failed)" \
    police_outbox_empty
echo "\$ adapter-police --config run/adapters/police.json failed"
"$bin/adapter-police" --config "$run/adapters/police.json" failed | sed 's/^/   /'
note "(the signal left the adapter's outbox: the hub stored it and acknowledged)"

say "3. the routing rules make referrals (docs/routing.md): police, Veilig Thuis, gemeente Enschede, CoMensha, the knowledge centre"
five_referrals() {
    ctl_cfg referrals --json | $py -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["referrals"]) < 5)'
}
wait_until 10 "the hub did not make the five referrals for the police signal" five_referrals
echo "\$ ketenctl --config run/ketenhub.json referrals"
ctl_cfg referrals
note "(gemeente Enschede and CoMensha may be ontvangen already: their systems answered within milliseconds, see 4.)"

say "4. each partner's system gets its referral through its adapter, and answers"
echo "-- the police (adapter-police: a case table record in out/; the team accepts with a file in in/)"
ids=$run/partners/politie/ids
$py "$partners_py" police-take --dir "$police" --count 1 --ids "$ids"
$py "$partners_py" police-answer --dir "$police" --status geaccepteerd \
    --toelichting "Team Mensenhandel pakt het op." "$(sed -n 1p "$ids")"
echo "-- gemeente Enschede (adapter-municipality: a notification, then the details on request)"
$py "$partners_py" show --dir "$run/partners" municipality --count 1
echo "-- CoMensha (adapter-comensha: a registration record; its 2xx is the receipt)"
$py "$partners_py" show --dir "$run/partners" comensha --count 1
echo "-- Veilig Thuis Twente (adapter-care: the referral as a CloudEvent; it accepts)"
$py "$partners_py" show --dir "$run/partners" care --count 1
echo "-- the knowledge centre (the coordinator; no adapter in this demo: ketenctl receive)"
echo "\$ ketenctl receive --hub $listen --hub-key run/keys/hub.pub --key run/keys/kenniscentrum-twente.key --accept --count 1"
"$ctl" receive --hub "$listen" --hub-key "$run/keys/hub.pub" --key "$run/keys/kenniscentrum-twente.key" \
    --accept --count 1 --timeout 15 |
    $py -c 'import json,sys
n = 0
for line in sys.stdin:
    d = json.loads(line)["data"]; n += 1
    print("   referral %s, policy %s (rule %s), signal fields: %s"
          % (d["doorverwijzing"], d["beleid"], d.get("regel", "-"), ", ".join(sorted(d["signaal"])) or "none"))
sys.exit(0 if n else 1)' || fail "ketenctl receive got no referral for kenniscentrum-twente"

say "5. the referrals after the answers"
all_answered() {
    ctl_cfg referrals --json | $py -c 'import json,sys
r = json.load(sys.stdin)["referrals"]
sys.exit(0 if r and all(x["state"] != "aangeboden" for x in r) else 1)'
}
wait_until 15 "not every referral was answered (see ketenctl referrals; logs in run/adapters/)" all_answered
echo "\$ ketenctl --config run/ketenhub.json referrals"
ctl_cfg referrals

say "6. a crisis signal nobody answers: gemeente Enschede's neighbourhood team posts it to its adapter"
# The signal of config/examples/04-signaal-crisis-enschede.json, in the
# municipality's format (docs/adapters.md, Municipality: POST /signalen).
$py - config/examples/04-signaal-crisis-enschede.json "$run/partners/gemeente-enschede-signaal.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
json.dump({"kenmerk": ev["subject"], "signaal": ev["data"]}, open(sys.argv[2], "w"), ensure_ascii=False)
PY
$py "$partners_py" post --config "$run/adapters/municipality.json" /signalen "$run/partners/gemeente-enschede-signaal.json"
note "(a crisis about an adult: the rule \"crisis\" refers it to the police, receipt due within 8 s in this demo)"
$py "$partners_py" police-take --dir "$police" --count 1 --ids "$ids"
note "the police adapter wrote it to out/ and confirmed the delivery; nobody reads the case table at night"
echo "\$ ketenctl --config run/ketenhub.json oncall"
ctl_cfg oncall | head -3
officer=$(ctl_cfg oncall --json | $py -c 'import json,sys; print(json.load(sys.stdin)["on_duty"]["officer"]["id"])')

say "7. meanwhile, an invalid police file: refused, to failed/ with NAME.error.json, nothing sent"
bad=signaal-$(date -u +%Y%m%d-%H%M%S)-fout.json
cat >"$police/tmp/$bad" <<JSON
{"referentie": "$ref-2", "vormenVanUitbuiting": ["arbeid"], "urgentie": "spoed", "minderjarig": false,
 "woongemeente": "Enschede", "indicatoren": [], "toestemming": {"registratieCoMensha": false}}
JSON
note "run/partners/politie/tmp/$bad:"
sed 's/^/   | /' "$police/tmp/$bad"
mv "$police/tmp/$bad" "$police/in/$bad"
note "\$ mv run/partners/politie/tmp/$bad run/partners/politie/in/"
note "(urgentie \"spoed\" is not a code, and woongemeente must be a CBS code such as GM0153)"
wait_until 15 "adapter-police did not move $bad to failed/ with $bad.error.json" \
    test -f "$police/failed/$bad.error.json"
note "run/partners/politie/failed/$bad.error.json:"
$py -c 'import json,sys
e = json.load(open(sys.argv[1]))
for x in e["errors"]:
    print("   %s %s: %s%s" % (x["path"], x["keyword"], x["message"], " (record %s)" % x["item"] if x.get("item") else ""))' \
    "$police/failed/$bad.error.json"

say "8. the receipt deadline passes: the duty officer is alerted (a signed webhook and an e-mail, no personal data)"
wait_until 30 "no alert reached the webhook receiver and the mail server (see run/hub.log)" \
    test -s "$run/mail.log" -a -s "$run/webhook.log"
$py - "$run/webhook.log" "$run/mail.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line); b = json.loads(r["body"])
    print("   webhook %s (signature %s): escalation %s level %s to %s: %s" % (
        r["path"], "verified" if r["verified"] else "NOT VERIFIED", b["escalation"], b["level"],
        b["officer"], b["summary"]))
for line in open(sys.argv[2]):
    r = json.loads(line)
    print("   e-mail to %s: %s" % (", ".join(r["rcpt_tos"]), r["subject"]))
PY
echo "\$ ketenctl --config run/ketenhub.json escalations --open"
ctl_cfg escalations --open
esc=$(ctl_cfg escalations --open --json | $py -c 'import json,sys; print(json.load(sys.stdin)["escalations"][0]["id"])')

say "9. the duty officer acknowledges: the repeats stop"
echo "\$ ketenctl --config run/ketenhub.json ack $esc --by $officer --note \"politie gebeld, pakt het op\""
ctl_cfg ack "$esc" --by "$officer" --note "politie gebeld, pakt het op"
before=$(cat "$run/webhook.log" "$run/mail.log" | wc -l)
sleep 9
after=$(cat "$run/webhook.log" "$run/mail.log" | wc -l)
note "alerts before the acknowledgement: $before; 9 s later (one repeat interval): $after"

say "10. the police read the case table and accept with a file: the escalation is resolved"
$py "$partners_py" police-answer --dir "$police" --status geaccepteerd \
    --toelichting "Piket belde; team gaat vannacht langs." "$(sed -n 2p "$ids")"
resolved() { ctl_cfg escalations --json | $py -c 'import json,sys
e = json.load(sys.stdin)["escalations"]
sys.exit(0 if e and all(x["state"] == "resolved" for x in e) else 1)'; }
wait_until 15 "the escalation was not resolved by the police's acceptance (see run/adapters/police.log, adapter-police failed)" resolved
echo "\$ ketenctl --config run/ketenhub.json escalations"
ctl_cfg escalations
echo "\$ ketenctl --config run/ketenhub.json referrals"
ctl_cfg referrals
note "(the knowledge centre's copy of the second signal waits for it: policy standaard, due tomorrow)"

say "status"
ctl_cfg status

say "the coordinator's report of today (docs/reporting.md; counts under 5 show as <5)"
echo "\$ ketenctl --config run/ketenhub.json report --from $today --to $today --format html --out run/report.html"
ctl_cfg report --from "$today" --to "$today" --format html --out "$run/report.html" &&
    echo "written: $run/report.html (open it in a browser, or print it)"
ctl_cfg report --from "$today" --to "$today" --format json |
    $py -c 'import json,sys
m = json.load(sys.stdin); s = m["signals"]
print("   signals: %s; by form: %s" % (s["total"], ", ".join("%s %s" % kv for kv in s["by_form"].items())))
for p in m["referrals"]["partners"]:
    print("   referrals to %s: offered %s, accepted %s, open %s" % (p["partner"], p["offered"], p["accepted"], p["open"]))
print("   escalations: %s" % m["escalations"]["total"])'

stop_demo() {
    trap - EXIT INT TERM
    echo
    say "stopping: the adapters, the hub, the stand-ins and the receivers"
    if stop_all; then
        note "all stopped; no process of the demo is left"
        exit 0
    fi
    exit 1
}
trap stop_demo INT TERM
say "the hub, the four adapters and the stand-ins keep running (hub on $listen); Ctrl-C stops it"
note "try: drop another file into run/partners/politie/in/ (write it elsewhere, then mv), or"
note "     ${bin#"$root"/}/adapter-police --config run/adapters/police.json failed"
while kill -0 "$hub" 2>/dev/null; do
    wait "$hub" || true
done
fail "ketenhubd stopped by itself (see run/hub.log)"
