"""A real SMTP server for orkhub's tests (aiosmtpd).

Every accepted message is saved, raw MIME as received, to DIR/NNNN.eml
(written to a temporary name, then renamed, so a reader never sees half a
file). Replies are scripted by the recipient's local part:

  reject...@         550 5.1.1 <addr>: mailbox unavailable (no such user here)
  tempfail-once...@  451 4.7.1 greylisted, try again later  (first try only)
  tempfail...@       451 4.3.0 mailbox busy                  (every try)
  anything else      250

Usage: server.py PORT DIR [MODE CERT KEY]. MODE "starttls" offers and
requires STARTTLS, "tls" speaks TLS from the first byte; CERT and KEY are
the server's PEM certificate chain and key. Prints "READY" once it accepts
connections.
"""

import asyncio
import os
import ssl
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.seen = {}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        tries = self.seen.get(address, 0)
        self.seen[address] = tries + 1
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable (no such user here)" % address
        if local.startswith("tempfail-once"):
            if tries == 0:
                return "451 4.7.1 greylisted, try again later"
        elif local.startswith("tempfail"):
            return "451 4.3.0 mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%04d.eml" % self.count
        tmp = os.path.join(self.outdir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.outdir, name))
        return "250 2.0.0 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    tls = {}
    if len(sys.argv) > 3:
        mode, cert, key = sys.argv[3], sys.argv[4], sys.argv[5]
        # PROTOCOL_TLS (not _SERVER): the controller's own readiness check
        # connects through the same context as a client.
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        if mode == "starttls":
            tls = {"tls_context": ctx, "require_starttls": True}
        else:
            tls = {"ssl_context": ctx}
    controller = Controller(Handler(outdir), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print("READY", flush=True)
    try:
        # Until the test kills us (or closes our stdin).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
