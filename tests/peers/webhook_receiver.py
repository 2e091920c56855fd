#!/usr/bin/python3
"""webhook_receiver - a test webhook endpoint for hub/notify (docs/notify.md).

Listens on 127.0.0.1 only, prints the port it got on its first stdout line,
verifies each POST (Bearer token, Standard Webhooks signature over
"<webhook-id>.<webhook-timestamp>.<body>", timestamp within 5 minutes),
writes one JSON line per request to --log, and answers as the chosen
behaviour says. A request that fails verification gets 401 (except in
`hang`). Exits after --max-seconds whatever happens.

  webhook_receiver.py --log FILE [--port 0] [--token T]
      (--secret-hex HEX | --secret-file PATH) [--max-seconds 60]
      [--tls-cert PEM --tls-key PEM] BEHAVIOUR [ARGS]

behaviours: ok (204) | fail N (first N requests 500, then 204)
  | ratelimit N S (first N requests 429 with Retry-After: S, then 204)
  | hang (read the request, never answer) | gone (410) | status CODE (always CODE)

Standard library only.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import sys
import threading
import time

BODY_MAX = 1 << 20
FRESH_SECONDS = 300


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--token", default="")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--secret-hex")
    g.add_argument("--secret-file")
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("behaviour", nargs="+")
    a = p.parse_args()
    b = a.behaviour
    shapes = {"ok": 1, "fail": 2, "ratelimit": 3, "hang": 1, "gone": 1, "status": 2}
    if b[0] not in shapes or len(b) != shapes[b[0]]:
        p.error("behaviour: ok | fail N | ratelimit N S | hang | gone | status CODE")
    return a


def verify(headers, body, secret, token):
    """(token_ok, signature_ok, timestamp_ok) for one request."""
    token_ok = not token or hmac.compare_digest(
        headers.get("authorization", ""), "Bearer " + token)
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    try:
        timestamp_ok = abs(time.time() - int(ts)) <= FRESH_SECONDS
    except ValueError:
        timestamp_ok = False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    signature_ok = False
    for part in headers.get("webhook-signature", "").split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            signature_ok = True
    return token_ok, signature_ok, timestamp_ok


def main():
    a = parse_args()
    if a.secret_hex is not None:
        secret = bytes.fromhex(a.secret_hex)
    else:
        with open(a.secret_file, "rb") as f:
            secret = f.read()
    behaviour = a.behaviour
    lock = threading.Lock()
    state = {"n": 0}
    log = open(a.log, "a", encoding="utf-8")
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, extra=None):
            self.send_response(status)
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return status

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, BODY_MAX))
            headers = {k.lower(): v for k, v in self.headers.items()}
            token_ok, signature_ok, timestamp_ok = verify(headers, body, secret, a.token)
            verified = token_ok and signature_ok and timestamp_ok
            with lock:
                state["n"] += 1
                n = state["n"]
            kind = behaviour[0]
            if kind == "hang":
                status = None
            elif not verified:
                status = 401
            elif kind == "ok":
                status = 204
            elif kind == "fail":
                status = 500 if n <= int(behaviour[1]) else 204
            elif kind == "ratelimit":
                status = 429 if n <= int(behaviour[1]) else 204
            elif kind == "gone":
                status = 410
            else:
                status = int(behaviour[1])
            record = {"n": n, "t": time.time(), "method": self.command, "path": self.path,
                      "headers": headers, "body": body.decode("utf-8", "replace"),
                      "token_ok": token_ok, "signature_ok": signature_ok,
                      "timestamp_ok": timestamp_ok, "verified": verified, "status": status}
            with lock:
                log.write(json.dumps(record) + "\n")
                log.flush()
            if status is None:
                stop.wait()
                return
            extra = {"Retry-After": behaviour[2]} if status == 429 else None
            self.answer(status, extra)

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops parallel connects
        daemon_threads = True

    server = Server(("127.0.0.1", a.port), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(a.max_seconds)
    stop.set()
    log.close()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
