"""A real SMTP server for the notification tests (tests/it/notify.rs).

Usage: smtp_sink.py PORT OUTDIR [CERT KEY USER PASSWORD]

With CERT and KEY it offers STARTTLS and requires it, and with USER and
PASSWORD it requires authentication (AUTH PLAIN or LOGIN) after it. Each
message accepted is written to OUTDIR/NNNN.eml (renamed into place before
the server answers 250, so a client that saw 250 finds the file), headed by
X-Sink-* lines saying whether the session was encrypted, who logged in and
the envelope's recipients. Prints READY once listening; stops when its
standard input closes.
"""

import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.outdir, "%04d.eml" % self.count)
        head = (
            "X-Sink-Tls: %s\r\nX-Sink-Auth: %s\r\nX-Sink-To: %s\r\n"
            % (
                "yes" if session.ssl is not None else "no",
                session.auth_data.login.decode()
                if isinstance(session.auth_data, LoginPassword)
                else "",
                ",".join(envelope.rcpt_tos),
            )
        ).encode()
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        with open(name + ".tmp", "wb") as f:
            f.write(head + content)
        os.rename(name + ".tmp", name)
        return "250 OK"


def main():
    port = int(sys.argv[1])
    outdir = sys.argv[2]
    kwargs = {}
    if len(sys.argv) >= 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        kwargs.update(tls_context=context, require_starttls=True)
    if len(sys.argv) >= 7:
        user, password = sys.argv[5].encode(), sys.argv[6].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user
                and auth_data.password == password
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kwargs.update(authenticator=authenticator, auth_required=True)
    controller = Controller(
        Sink(outdir), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
    )
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
