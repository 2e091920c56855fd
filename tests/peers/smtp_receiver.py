#!/usr/bin/python3
"""smtp_receiver - a test SMTP relay for hub/notify (docs/notify.md).

An aiosmtpd server on 127.0.0.1 only; prints the port it got on its first
stdout line, appends one JSON line per accepted message to --log (envelope,
raw content, the Subject as a mail reader decodes it, whether the session
was TLS and authenticated), and exits after --max-seconds.

  smtp_receiver.py --log FILE [--port 0] [--max-seconds 60] [--auth USER:PASS]
      [--tls starttls|smtps --tls-cert PEM --tls-key PEM]

--auth requires AUTH before MAIL (over plain text too unless --tls starttls,
which requires STARTTLS first). Standard library and aiosmtpd only.
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--auth")
    p.add_argument("--tls", choices=["starttls", "smtps"])
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    a = p.parse_args()
    if a.tls and not (a.tls_cert and a.tls_key):
        p.error("--tls needs --tls-cert and --tls-key")
    return a


class Handler:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        record = {"t": time.time(), "mail_from": envelope.mail_from,
                  "rcpt_tos": list(envelope.rcpt_tos),
                  "content": raw.decode("utf-8", "replace"),
                  "subject": str(parsed.get("subject", "")),
                  "tls": (session.ssl is not None
                          or server.transport.get_extra_info("ssl_object") is not None),
                  "authenticated": bool(session.authenticated)}
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        return "250 OK"


def main():
    a = parse_args()
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    # Plain-text AUTH is what the local tests want; aiosmtpd warns about it.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    log = open(a.log, "a", encoding="utf-8")
    handler = Handler(log)
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    authenticator = None
    if a.auth:
        user, _, password = a.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (getattr(auth_data, "login", None) == user.encode()
                  and getattr(auth_data, "password", None) == password.encode())
            return AuthResult(success=ok, handled=False)

    def factory():
        return SMTP(handler, hostname="ketenhub-test", decode_data=False,
                    tls_context=ctx if a.tls == "starttls" else None,
                    require_starttls=a.tls == "starttls",
                    authenticator=authenticator, auth_required=bool(a.auth),
                    auth_require_tls=a.tls == "starttls")

    async def run():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", a.port,
                                          ssl=ctx if a.tls == "smtps" else None)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(a.max_seconds)

    asyncio.run(run())
    log.close()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
