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

say "config run/ketenhub.json (the example config with these keys)"
/usr/bin/python3 - "$root" "$listen" "$run" <<'PY'
import json, sys
root, listen, run = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(f"{root}/config/ketenhub.example.json"))
cfg.update(listen=listen, database="ketenhub.db", schemas=f"{root}/schemas", server_key="keys/hub.key")
for p in cfg["partners"]:
    p["public_key"] = open(f"{run}/keys/{p['id']}.pub").read().strip()
with open(f"{run}/ketenhub.json", "w") as f:
    json.dump(cfg, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
"$hubd" --check-config "$run/ketenhub.json"

say "starting ketenhubd (log: run/hub.log)"
"$hubd" --config "$run/ketenhub.json" 2> >(tee "$run/hub.log" >&2) &
hub=$!
trap 'kill -TERM $hub 2>/dev/null; wait $hub 2>/dev/null; exit 0' INT TERM
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

say "status"
"$ctl" --config "$run/ketenhub.json" status

say "the hub keeps running on $listen; Ctrl-C stops it"
wait $hub
