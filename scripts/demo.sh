#!/usr/bin/env bash
# `make run`: the hub with the example config on its own SQLite store, and a
# signal flow end to end. Everything it makes lives in run/ (git-ignored):
# fresh CURVE keys for the hub and every example partner, run/ketenhub.json
# (config/ketenhub.example.json with those keys filled in) and the database.
# Leaves the hub running in the foreground until Ctrl-C.
# KETENHUB_RUN_DIR (default run/) and KETENHUB_DEMO_LISTEN override the folder
# and the endpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=${KETENHUB_RUN_DIR:-$root/run}
ctl=$root/bin/ketenctl
hubd=$root/bin/ketenhubd
listen=${KETENHUB_DEMO_LISTEN:-tcp://127.0.0.1:5570}
mkdir -p "$run/keys"
chmod 700 "$run/keys"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "keys (run/keys/, made once, never committed)"
partners=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(open(sys.argv[1]))["partners"]))' config/ketenhub.example.json)
for id in hub $partners; do
    [ -f "$run/keys/$id.key" ] || "$ctl" keygen "$run/keys/$id" >/dev/null 2>&1
done
echo "hub and $(wc -w <<<"$partners") partner key pairs in run/keys/"
# The key that signs alert webhooks (Standard Webhooks: whsec_ + base64).
[ -f "$run/keys/webhook.secret" ] ||
    (umask 077 && echo "whsec_$(openssl rand -base64 32)" >"$run/keys/webhook.secret")
echo "webhook signing secret in run/keys/webhook.secret"
for s in store pseudonym; do
    [ -f "$run/keys/$s.secret" ] || "$ctl" keygen --secret "$run/keys/$s.secret" >/dev/null 2>&1
done
echo "store encryption key and pseudonym key in run/keys/ (store.secret, pseudonym.secret)"

say "demo receivers for the duty officer's alerts: a webhook endpoint and a mail server (127.0.0.1)"
secret_hex=$(/usr/bin/python3 -c 'import base64,sys; print(base64.b64decode(open(sys.argv[1]).read().strip()[6:]).hex())' "$run/keys/webhook.secret")
rm -f "$run/webhook.log" "$run/mail.log" "$run/webhook.port" "$run/mail.port"
/usr/bin/python3 "$root/tests/peers/webhook_receiver.py" --log "$run/webhook.log" \
    --secret-hex "$secret_hex" --max-seconds 86400 ok >"$run/webhook.port" &
receivers=$!
/usr/bin/python3 "$root/tests/peers/smtp_receiver.py" --log "$run/mail.log" --max-seconds 86400 \
    >"$run/mail.port" &
receivers="$receivers $!"
hub=
trap 'kill $receivers 2>/dev/null; [ -z "$hub" ] || kill -TERM $hub 2>/dev/null' EXIT
for _ in $(seq 100); do
    [ -s "$run/webhook.port" ] && [ -s "$run/mail.port" ] && break
    sleep 0.1
done
webhook_port=$(head -1 "$run/webhook.port")
smtp_port=$(head -1 "$run/mail.port")
echo "webhook receiver on http://127.0.0.1:$webhook_port (verifies each signature), log run/webhook.log"
echo "mail server on smtp://127.0.0.1:$smtp_port, log run/mail.log"

say "config run/ketenhub.json (the example config with these keys)"
/usr/bin/python3 - "$root" "$listen" "$run" "$webhook_port" "$smtp_port" <<'PY'
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
"$hubd" --check-config "$run/ketenhub.json"

say "starting ketenhubd (log: run/hub.log)"
"$hubd" --config "$run/ketenhub.json" 2> >(tee "$run/hub.log" >&2) &
hub=$!
trap 'kill -TERM $hub 2>/dev/null; wait $hub 2>/dev/null; kill $receivers 2>/dev/null; trap - EXIT; exit 0' INT TERM
for _ in $(seq 100); do
    grep -q 'event=listening' "$run/hub.log" 2>/dev/null && break
    kill -0 $hub 2>/dev/null || { echo "ketenhubd did not start; see run/hub.log" >&2; exit 1; }
    sleep 0.1
done

send() { # partner-id file...
    local who=$1
    shift
    echo "\$ ketenctl send --hub $listen --hub-key run/keys/hub.pub --key run/keys/$who.key ${*#$root/}"
    "$ctl" send --hub "$listen" --hub-key "$run/keys/hub.pub" --key "$run/keys/$who.key" "$@" || true
}
say "signals from three partners (a second run shows \"duplicate\": true)"
send politie-oost-nederland config/examples/01-signaal-crisis-minderjarig.json
send gemeente-hengelo config/examples/02-signaal-arbeid-hengelo.json
send veilig-thuis-twente config/examples/03-signaal-crimineel-onbekende-woonplaats.json

say "an invalid signal: rejected, each error with its JSON pointer, nothing stored"
send politie-oost-nederland config/examples/invalid/signaal-ongeldig.json

say "referrals made by the routing rules (docs/routing.md)"
"$ctl" --config "$run/ketenhub.json" referrals

say "each partner's adapter takes its referrals, confirms them and accepts (ketenctl receive --accept)"
waiting=$("$ctl" --config "$run/ketenhub.json" referrals --state aangeboden --json |
    /usr/bin/python3 -c 'import collections,json,sys
c = collections.Counter(r["partner"] for r in json.load(sys.stdin)["referrals"])
print(" ".join("%s:%d" % kv for kv in sorted(c.items())))')
for pc in $waiting; do
    who=${pc%%:*}
    count=${pc##*:}
    echo "\$ ketenctl receive --hub $listen --hub-key run/keys/hub.pub --key run/keys/$who.key --accept --count $count"
    "$ctl" receive --hub "$listen" --hub-key "$run/keys/hub.pub" --key "$run/keys/$who.key" \
        --accept --count "$count" --timeout 15 |
        /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    e = json.loads(line); d = e["data"]
    print("  %s: referral %s, policy %s (rule %s), signal fields: %s"
          % (sys.argv[1], d["doorverwijzing"], d["beleid"], d.get("regel", "-"), ", ".join(sorted(d["signaal"])) or "none"))' "$who" || true
done
sleep 0.5

say "referrals after the partners answered"
"$ctl" --config "$run/ketenhub.json" referrals

say "a crisis signal whose referral nobody answers (demo deadline: receipt within 8 s)"
send gemeente-enschede config/examples/04-signaal-crisis-enschede.json
cfgf=$run/ketenhub.json
echo "\$ ketenctl --config run/ketenhub.json oncall"
"$ctl" --config "$cfgf" oncall | head -3
officer=$("$ctl" --config "$cfgf" oncall --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["on_duty"]["officer"]["id"])')
echo "waiting for the deadline to pass ..."
for _ in $(seq 200); do
    [ -s "$run/mail.log" ] && [ -s "$run/webhook.log" ] && break
    sleep 0.1
done

say "the duty officer is alerted: a signed webhook and an e-mail, with no personal data"
show_alerts() {
    /usr/bin/python3 - "$run/webhook.log" "$run/mail.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line); b = json.loads(r["body"])
    print("  webhook %s (signature %s): escalation %s level %s to %s: %s" % (
        r["path"], "verified" if r["verified"] else "NOT VERIFIED", b["escalation"], b["level"],
        b["officer"], b["summary"]))
for line in open(sys.argv[2]):
    r = json.loads(line)
    print("  e-mail to %s: %s" % (", ".join(r["rcpt_tos"]), r["subject"]))
PY
}
show_alerts
echo "\$ ketenctl --config run/ketenhub.json escalations --open"
"$ctl" --config "$cfgf" escalations --open
esc=$("$ctl" --config "$cfgf" escalations --open --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["escalations"][0]["id"])')

say "the duty officer acknowledges: the repeats stop"
echo "\$ ketenctl --config run/ketenhub.json ack $esc --by $officer --note \"politie gebeld, pakt het op\""
"$ctl" --config "$cfgf" ack "$esc" --by "$officer" --note "politie gebeld, pakt het op"
before=$(cat "$run/webhook.log" "$run/mail.log" | wc -l)
sleep 9
after=$(cat "$run/webhook.log" "$run/mail.log" | wc -l)
echo "alerts before the acknowledgement: $before; 9 s later (one repeat interval): $after"

say "the police adapter takes the referral and accepts it: the escalation is resolved"
echo "\$ ketenctl receive --hub $listen --hub-key run/keys/hub.pub --key run/keys/politie-oost-nederland.key --accept --count 1"
"$ctl" receive --hub "$listen" --hub-key "$run/keys/hub.pub" --key "$run/keys/politie-oost-nederland.key" \
    --accept --count 1 --timeout 15 >/dev/null || true
sleep 0.5
"$ctl" --config "$cfgf" escalations

say "status"
"$ctl" --config "$run/ketenhub.json" status

say "the coordinator's report of today (docs/reporting.md; counts under 5 show as <5)"
today=$(date -u +%Y-%m-%d)
echo "\$ ketenctl --config run/ketenhub.json report --from $today --to $today --format html --out run/report.html"
"$ctl" --config "$cfgf" report --from "$today" --to "$today" --format html --out "$run/report.html" &&
    echo "written: $run/report.html (open it in a browser, or print it)"
"$ctl" --config "$cfgf" report --from "$today" --to "$today" --format json |
    /usr/bin/python3 -c 'import json,sys
m = json.load(sys.stdin); s = m["signals"]
print("  signals: %s; by form: %s" % (s["total"], ", ".join("%s %s" % kv for kv in s["by_form"].items())))
for p in m["referrals"]["partners"]:
    print("  referrals to %s: offered %s, accepted %s, open %s" % (p["partner"], p["offered"], p["accepted"], p["open"]))
print("  escalations: %s" % m["escalations"]["total"])'

say "the hub keeps running on $listen; Ctrl-C stops it"
wait $hub
