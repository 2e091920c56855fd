#!/usr/bin/python3
"""demo_partners - stand-ins for the partners' own systems in `make run`
(scripts/demo.sh), each talking to its real adapter as the partner's system
would. Standard library only; everything on 127.0.0.1.

  demo_partners.py serve --dir RUN/partners --adapters RUN/adapters [--max-seconds S]
      Three HTTP endpoints on free ports, written to DIR/ports.json once all
      listen ({"municipality": P, "comensha": P, "care": P}):
      - municipality (the municipality's case system): takes a notification
        (VNG Notificaties shape), fetches the referral's details from its
        adapter's http-listen endpoint (the notification's resourceUrl, with
        its token) and confirms receipt (POST /reacties, "ontvangen");
      - comensha (CoMensha's registration endpoint): takes registration records;
      - care (the care provider's client system): takes a referral as a
        CloudEvent and accepts it (POST /reacties, "accepteren").
      Each endpoint checks the adapter's bearer token (http-push token_file)
      and reads the adapter's listen address and its own token from the
      adapter's config (ADAPTERS/<kind>.json), as the partner's IT staff
      would configure both sides. One JSON line per message handled, after
      the follow-up calls, in DIR/<partner>.log.

  demo_partners.py show --dir RUN/partners KIND --count N [--skip K] [--timeout S]
      Waits until KIND's log holds K+N records, prints records K.. briefly.

  demo_partners.py police-take --dir RUN/partners/politie --count N --ids FILE [--timeout S]
      The police's case table: waits for N referral files in out/, prints
      them briefly, moves them to verwerkt/ and appends their referral ids to FILE.

  demo_partners.py police-answer --dir RUN/partners/politie --status S [--toelichting T] ID
      Writes the police's response for referral ID: tmp/ first, then renamed into in/.

  demo_partners.py post --config ADAPTER.json PATH JSON-FILE
      POSTs a message to an adapter's http-listen endpoint with the first
      token of its config; prints the answer (exit 1 unless 202).

Every wait is bounded; a timeout names what did not happen and exits 1.
"""
import argparse
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

KINDS = ("municipality", "comensha", "care")


def die(msg):
    print("demo_partners: " + msg, file=sys.stderr)
    sys.exit(1)


def read_token(path):
    with open(path) as f:
        return f.read().strip()


def adapter_config(adapters, kind):
    """(partner id, config dict, folder) of run/adapters/<kind>.json."""
    path = os.path.join(adapters, kind + ".json")
    with open(path) as f:
        cfg = json.load(f)
    partner = os.path.basename(cfg["hub"]["key"])[:-len(".key")]
    return partner, cfg, os.path.dirname(os.path.abspath(path))


def resolve(folder, p):
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(folder, p))


def call(url_or_host, method, path, token, body=None, timeout=10):
    """One HTTP request; (status, parsed body or text)."""
    host, port = url_or_host
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        status = r.status
    except OSError as e:
        return None, str(e)
    finally:
        c.close()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def listen_side(folder, cfg):
    """((host, port), token) of an adapter's http-listen endpoint."""
    sec = cfg["transports"]["http-listen"]
    host, port = sec["listen"].rsplit(":", 1)
    return (host, int(port)), read_token(resolve(folder, sec["tokens"][0]["token_file"]))


class Partner:
    """One stand-in endpoint: checks the adapter's token, answers 200 at
    once, then runs the partner's follow-up (fetch, answer) in a thread and
    logs one line per message. A repeated delivery (same webhook-id) is
    answered 200 and not handled again."""

    def __init__(self, kind, partners_dir, adapters):
        self.kind, self.partners_dir, self.adapters = kind, partners_dir, adapters
        self.cfg = None
        self.lock = threading.Lock()
        self.seen = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.wfile.flush()

            def do_POST(self):
                outer.load()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if 0 <= n <= 1 << 20 else b""
                if self.headers.get("Authorization") != "Bearer " + outer.push_token:
                    self.answer(401)
                    outer.write({"path": self.path, "error": "401: not the adapter's token"})
                    return
                try:
                    msg = json.loads(body)
                except ValueError:
                    self.answer(400)
                    outer.write({"path": self.path, "error": "400: body is not JSON"})
                    return
                wid = self.headers.get("webhook-id")
                with outer.lock:
                    repeat = wid in outer.seen
                    outer.seen.add(wid)
                self.answer(200)
                if not repeat:
                    rec = {"path": self.path, "webhook_id": wid,
                           "content_type": self.headers.get("Content-Type"), "received": msg}
                    threading.Thread(target=outer.follow_up, args=(rec,), daemon=True).start()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def load(self):
        """Reads the adapter's config on the first request: the demo writes it
        after the stand-ins have told it their ports."""
        with self.lock:
            if self.cfg is None:
                self.partner, cfg, self.folder = adapter_config(self.adapters, self.kind)
                self.push_token = read_token(resolve(self.folder, cfg["transports"]["http-push"]["token_file"]))
                self.log_path = os.path.join(self.partners_dir, self.partner + ".log")
                self.cfg = cfg

    def write(self, rec):
        rec["t"] = time.time()
        line = json.dumps(rec, ensure_ascii=False)
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def follow_up(self, rec):
        msg = rec["received"]
        try:
            if self.kind == "municipality":
                # The notification names the resource; fetch it with our token.
                url = urllib.parse.urlsplit(msg["resourceUrl"])
                _, token = listen_side(self.folder, self.cfg)
                status, details = call((url.hostname, url.port), "GET", url.path, token)
                rec["fetched"] = {"status": status, "body": details}
                ref = url.path.rsplit("/", 1)[1]
                answer = {"doorverwijzing": ref, "reactie": "ontvangen"}
            elif self.kind == "care":
                time.sleep(0.3)  # a person reads it first
                answer = {"doorverwijzing": msg["subject"], "actie": "accepteren",
                          "toelichting": "Casemanager neemt vandaag contact op."}
            else:
                answer = None
            if answer:
                where, token = listen_side(self.folder, self.cfg)
                status, body = call(where, "POST", "/reacties", token, answer)
                rec["answered"] = {"request": answer, "status": status, "body": body}
        except (KeyError, IndexError, TypeError, ValueError, OSError) as e:
            rec["error"] = "follow-up failed: %s" % e
        self.write(rec)


def serve(a):
    partners = [Partner(k, a.dir, a.adapters) for k in KINDS]
    for p in partners:
        threading.Thread(target=p.server.serve_forever, daemon=True).start()
    tmp = os.path.join(a.dir, ".ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump({p.kind: p.port for p in partners}, f)
    os.rename(tmp, os.path.join(a.dir, "ports.json"))
    time.sleep(a.max_seconds)


def fields(signaal):
    return ", ".join(sorted(signaal or {})) or "none"


def brief(kind, r):
    """A few lines about one handled message; no signal values beyond codes."""
    if "error" in r and "received" not in r:
        return ["   ERROR %s" % r["error"]]
    m = r["received"]
    out = []
    if kind == "municipality":
        k = m.get("kenmerken", {})
        out.append("   <- notification (%s): kanaal %s, resource %s, actie %s, kenmerken {beleid %s, "
                   "ontvangstUiterlijk %s, besluitUiterlijk %s}"
                   % (r.get("path"), m.get("kanaal"), m.get("resource"), m.get("actie"), k.get("beleid"),
                      k.get("ontvangstUiterlijk"), k.get("besluitUiterlijk")))
        out.append("      resourceUrl %s" % m.get("resourceUrl"))
        f = r.get("fetched", {})
        d = f.get("body") if isinstance(f.get("body"), dict) else {}
        out.append("   -> GET resourceUrl with its token: %s; referral %s, policy %s (rule %s), signal fields: %s"
                   % (f.get("status"), d.get("doorverwijzing"), d.get("beleid"), d.get("regel"),
                      fields(d.get("signaal"))))
    elif kind == "comensha":
        out.append("   <- registration record (%s):" % r.get("path"))
        out.append("      " + json.dumps(m, ensure_ascii=False))
    else:
        d = m.get("data", {})
        out.append("   <- CloudEvent (%s, %s): type %s, subject %s"
                   % (r.get("path"), r.get("content_type"), m.get("type"), m.get("subject")))
        out.append("      data: policy %s (rule %s), deadlines %s, signal fields: %s"
                   % (d.get("beleid"), d.get("regel"), json.dumps(d.get("termijnen")), fields(d.get("signaal"))))
    ans = r.get("answered")
    if ans:
        req = {k: v for k, v in ans["request"].items() if k != "doorverwijzing"}
        out.append("   -> POST /reacties %s: %s %s" % (json.dumps(req, ensure_ascii=False), ans["status"],
                                                      json.dumps(ans["body"])))
    if "error" in r:
        out.append("   ERROR %s" % r["error"])
    return out


def read_log(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.endswith("\n")]
    except FileNotFoundError:
        return []


def show(a):
    adapters = os.path.join(os.path.dirname(os.path.abspath(a.dir)), "adapters")
    partner = adapter_config(adapters, a.kind)[0]
    path = os.path.join(a.dir, partner + ".log")
    deadline = time.time() + a.timeout
    recs = read_log(path)
    while len(recs) < a.skip + a.count and time.time() < deadline:
        time.sleep(0.1)
        recs = read_log(path)
    got = recs[a.skip:a.skip + a.count]
    print("   %s (stand-in, log run/%s):" % (partner, os.path.relpath(path, os.path.dirname(a.dir))))
    for r in got:
        print("\n".join(brief(a.kind, r)))
    if len(got) < a.count:
        die("timed out after %g s: %s received %d of %d expected message(s) from adapter-%s "
            "(see run/adapters/%s.log)" % (a.timeout, partner, len(got), a.count, a.kind, a.kind))
    if any("error" in r or (r.get("answered") or {}).get("status") not in (None, 202) for r in got):
        die("%s: a message was not handled as expected (see %s)" % (partner, path))


def police_take(a):
    out, done = os.path.join(a.dir, "out"), os.path.join(a.dir, "verwerkt")
    os.makedirs(done, exist_ok=True)
    deadline = time.time() + a.timeout
    taken = []
    while len(taken) < a.count:
        names = sorted(n for n in os.listdir(out) if n.startswith("doorverwijzing-") and n.endswith(".json"))
        for n in names[:a.count - len(taken)]:
            with open(os.path.join(out, n), encoding="utf-8") as f:
                rec = json.load(f)
            os.rename(os.path.join(out, n), os.path.join(done, n))
            taken.append(rec)
            print("   out/%s (now in verwerkt/): policy %s (rule %s), respond before: receipt %s, decision %s; "
                  "signal fields: %s" % (n, rec.get("beleid"), rec.get("regel"),
                                         rec.get("reageerVoor", {}).get("ontvangst"),
                                         rec.get("reageerVoor", {}).get("besluit"), fields(rec.get("signaal"))))
        if len(taken) < a.count:
            if time.time() > deadline:
                die("timed out after %g s: adapter-police wrote %d of %d expected referral file(s) to %s "
                    "(see run/adapters/police.log)" % (a.timeout, len(taken), a.count, out))
            time.sleep(0.1)
    with open(a.ids, "a") as f:
        for rec in taken:
            f.write(rec["doorverwijzing"] + "\n")


def police_answer(a):
    doc = {"doorverwijzing": a.id, "status": a.status}
    if a.toelichting:
        doc["toelichting"] = a.toelichting
    name = "reactie-%s-%s.json" % (a.id, a.status)
    tmp = os.path.join(a.dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(os.path.join(tmp, name), os.path.join(a.dir, "in", name))
    print("   tmp/%s -> in/%s: %s" % (name, name, json.dumps(doc, ensure_ascii=False)))


def post(a):
    folder = os.path.dirname(os.path.abspath(a.config))
    with open(a.config) as f:
        cfg = json.load(f)
    where, token = listen_side(folder, cfg)
    with open(a.file, encoding="utf-8") as f:
        body = json.load(f)
    status, answer = call(where, "POST", a.path, token, body)
    print("   body: {%s}" % ", ".join(
        '"%s": {%s}' % (k, ", ".join(sorted(v))) if isinstance(v, dict) else '"%s": %s' % (k, json.dumps(v))
        for k, v in body.items()))
    print("   POST http://%s:%d%s (Bearer token): %s %s" % (where[0], where[1], a.path, status,
                                                           json.dumps(answer, ensure_ascii=False)))
    if status != 202:
        die("the adapter did not take the message (expected 202)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--adapters", required=True)
    s.add_argument("--max-seconds", type=float, default=86400)
    s = sub.add_parser("show")
    s.add_argument("--dir", required=True)
    s.add_argument("kind", choices=KINDS)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--skip", type=int, default=0)
    s.add_argument("--timeout", type=float, default=15)
    s = sub.add_parser("police-take")
    s.add_argument("--dir", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--ids", required=True)
    s.add_argument("--timeout", type=float, default=15)
    s = sub.add_parser("police-answer")
    s.add_argument("--dir", required=True)
    s.add_argument("--status", required=True)
    s.add_argument("--toelichting")
    s.add_argument("id")
    s = sub.add_parser("post")
    s.add_argument("--config", required=True)
    s.add_argument("path")
    s.add_argument("file")
    a = p.parse_args()
    {"serve": serve, "show": show, "police-take": police_take, "police-answer": police_answer,
     "post": post}[a.cmd](a)


if __name__ == "__main__":
    main()
