"""smtpd_peer - a scriptable SMTP server for relay's integration tests.

Built on python3-aiosmtpd (Debian package). A Peer listens on 127.0.0.1 (or
::1) on a free port, in a thread of the test process, and records exactly
what arrived, so a test can assert on the envelope and the bytes:

    with Peer(tmpdir, tls="starttls", certs=certs, users={"u": "pw"}) as p:
        ... run relay against p.port ...
        msg = p.messages[0]
        msg.mail_from, msg.rcpt_tos, msg.data (dot-unstuffed), msg.raw (as
        sent on the wire, stuffed, up to but excluding the final ".\\r\\n")

Modes and scripts:
    tls            "starttls" (STARTTLS offered), "smtps" (implicit TLS),
                   "none" (no STARTTLS offered)
    certs          a Certs object (make_certs) and which leaf to serve:
                   cert="good" (localhost, 127.0.0.1, ::1) or "wrong"
                   (wrong.example)
    users          {"user": "password"}: AUTH PLAIN/LOGIN/CRAM-MD5 accepted
                   for these; anything else gets 535
    mechanisms     the SASL mechanisms offered (default LOGIN, PLAIN; also
                   CRAM-MD5, XOAUTH2)
    tokens         {"user": "access token"} for XOAUTH2
    rcpt_replies   {"addr": ["451 4.3.0 Try later", ...]}: the replies to
                   RCPT TO for that address, consumed one per attempt;
                   once used up the address is accepted
    require_auth   MAIL FROM before AUTH gets aiosmtpd's 530 reply
    mail_replies, data_replies   the same for MAIL FROM and for the reply
                   after the final dot (a list, one per transaction)
    hang           "greeting" (accept, never greet), "dot" (read the whole
                   message, never answer), "rcpt" (never answer RCPT TO)
    extensions     extra EHLO keywords: "PIPELINING" (aiosmtpd reads
                   commands from a buffered stream, so pipelined input
                   works; pipelined[i] then says whether transaction i
                   arrived as one group: RCPT TO and DATA already read when
                   MAIL FROM was), "DSN" (RET/ENVID and NOTIFY/ORCPT are
                   accepted and recorded in Message.mail_options and
                   Message.rcpt_options)
    size           the SIZE limit announced and enforced (aiosmtpd: 32 MiB)
    hangup_after   close each connection that many seconds after the reply
                   to the final dot (an idle timeout, without a 421)

The counters connections and the per-connection command logs
(commands[i] is the list of command verbs connection i sent) let a test
check connection reuse, STARTTLS and AUTH. Every received message is also
appended to DIR/messages.jsonl (raw and data base64-encoded).

Run as a script (python3 smtpd_peer.py --port-file F ...) it serves until
killed, for use from non-Python tests.
"""

import asyncio
import base64
import hmac
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

__all__ = ["Peer", "Certs", "make_certs", "free_port"]

# aiosmtpd logs a traceback for every failed TLS handshake: tests cause
# those on purpose.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Certs:
    """A test CA and two leaf certificates it signed."""

    def __init__(self, directory):
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.good = (os.path.join(directory, "good.pem"), os.path.join(directory, "good.key"))
        self.wrong = (os.path.join(directory, "wrong.pem"), os.path.join(directory, "wrong.key"))
        self.client = (os.path.join(directory, "client.pem"), os.path.join(directory, "client.key"))

    def pin(self, which="good"):
        """curl's pinnedpubkey form of a leaf's public key: sha256//BASE64."""
        pem = self.good[0] if which == "good" else self.wrong[0]
        pub = subprocess.run(["openssl", "x509", "-in", pem, "-pubkey", "-noout"],
                             check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                             check=True, capture_output=True).stdout
        import hashlib
        return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def make_certs(directory):
    """Creates a CA and leaves for localhost/127.0.0.1/::1 and wrong.example."""
    os.makedirs(directory, exist_ok=True)
    c = Certs(directory)

    def run(*args):
        subprocess.run(list(args), check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", os.path.join(directory, "ca.key"),
        "-out", c.ca, "-days", "2", "-subj", "/CN=relay test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for (pem, key), cn, san in ((c.good, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1"),
                                (c.wrong, "wrong.example", "DNS:wrong.example"),
                                (c.client, "relay client", "DNS:client.example")):
        csr = pem + ".csr"
        ext = pem + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % san)
        run("openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        run("openssl", "x509", "-req", "-in", csr, "-CA", c.ca,
            "-CAkey", os.path.join(directory, "ca.key"), "-CAcreateserial",
            "-out", pem, "-days", "2", "-extfile", ext)
    return c


class Message:
    def __init__(self, conn, mail_from, rcpt_tos, raw, data, tls, auth_user, mail_options=(),
                 rcpt_options=None):
        self.connection = conn
        self.mail_options = list(mail_options)
        self.rcpt_options = dict(rcpt_options or {})  # address -> ["NOTIFY=...", ...]
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.raw = raw
        self.data = data
        self.tls = tls
        self.auth_user = auth_user

    def __repr__(self):
        return "Message(from=%r, to=%r, %d bytes)" % (self.mail_from, self.rcpt_tos, len(self.data))


class _Session(SMTP):
    """aiosmtpd's SMTP with recording, scripted replies and raw DATA capture."""

    def __init__(self, peer, **kw):
        self.peer = peer
        self.conn_index = None
        super().__init__(_Handler(peer), **kw)

    def connection_made(self, transport):
        # After STARTTLS aiosmtpd calls this again for the same connection.
        if self.conn_index is None:
            with self.peer.lock:
                self.conn_index = self.peer.connections
                self.peer.connections += 1
                self.peer.commands.append([])
        super().connection_made(transport)

    async def smtp_EHLO(self, hostname):
        self._log("EHLO")
        extra = self.peer.extensions
        if not extra:
            return await super().smtp_EHLO(hostname)
        push = self.push

        async def push_extra(status):
            if status == "250 HELP":
                for e in extra:
                    await push("250-" + e)
            await push(status)
        self.push = push_extra
        try:
            return await super().smtp_EHLO(hostname)
        finally:
            del self.push

    async def smtp_HELO(self, hostname):
        self._log("HELO")
        return await super().smtp_HELO(hostname)

    async def smtp_STARTTLS(self, arg):
        self._log("STARTTLS")
        return await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg):
        self._log("AUTH " + (arg.split()[0].upper() if arg else ""))
        return await super().smtp_AUTH(arg)

    def _dsn_split(self, arg, keys):
        """ARG without the DSN parameters KEYS, and those parameters."""
        if "DSN" not in self.peer.extensions or not arg:
            return arg, []
        words = arg.split(" ")
        dsn = [w for w in words[1:] if w.split("=", 1)[0].upper() in keys]
        return " ".join([words[0]] + [w for w in words[1:] if w not in dsn]), dsn

    async def smtp_MAIL(self, arg):
        self._log("MAIL")
        if "PIPELINING" in self.peer.extensions:
            with self.peer.lock:
                self.peer.pipelined.append(b"DATA\r\n" in bytes(self._reader._buffer))
        reply = self.peer._next("mail", None)
        if reply:
            await self.push(reply)
            return
        arg, dsn = self._dsn_split(arg, ("RET", "ENVID"))
        result = await super().smtp_MAIL(arg)
        if self.envelope.mail_from is not None:
            self.envelope.mail_options.extend(dsn)
        return result

    async def smtp_RCPT(self, arg):
        self._log("RCPT")
        if self.peer.hang == "rcpt":
            await asyncio.sleep(3600)
        arg, dsn = self._dsn_split(arg, ("NOTIFY", "ORCPT"))
        before = len(self.envelope.rcpt_tos)
        result = await super().smtp_RCPT(arg)
        if len(self.envelope.rcpt_tos) > before:
            if not hasattr(self.envelope, "dsn_rcpt"):
                self.envelope.dsn_rcpt = {}
            self.envelope.dsn_rcpt[self.envelope.rcpt_tos[-1]] = dsn
        return result

    async def smtp_RSET(self, arg):
        self._log("RSET")
        return await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg):
        self._log("QUIT")
        return await super().smtp_QUIT(arg)

    def _log(self, verb):
        with self.peer.lock:
            if self.conn_index is not None:
                self.peer.commands[self.conn_index].append(verb)

    async def smtp_DATA(self, arg):
        self._log("DATA")
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        raw = bytearray()
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b".\r\n":
                break
            raw += line
        lines = bytes(raw).split(b"\r\n")
        data = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
        if self.peer.hang == "dot":
            await asyncio.sleep(3600)
        reply = self.peer._next("data", None)
        tls = self.transport.get_extra_info("sslcontext") is not None or self._tls_protocol is not None
        user = self.session.auth_data.login.decode() if isinstance(
            self.session.auth_data, LoginPassword) else None
        if not reply or reply.startswith("2"):
            self.peer._record(Message(self.conn_index, self.envelope.mail_from,
                                      self.envelope.rcpt_tos, bytes(raw), data, tls, user,
                                      self.envelope.mail_options,
                                      getattr(self.envelope, "dsn_rcpt", {})))
        if not reply:
            reply = "250 2.0.0 Ok: queued as Q%04d" % len(self.peer.messages)
        self._set_post_data_state()
        await self.push(reply)
        if self.peer.hangup_after is not None:
            asyncio.get_running_loop().call_later(self.peer.hangup_after, self.transport.close)


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    # Extra SASL mechanisms (aiosmtpd finds auth_* methods on the handler;
    # "__" becomes "-"). Offered only when Peer(mechanisms=...) names them.
    async def auth_CRAM__MD5(self, server, args):
        challenge = ("<%d.%d@peer.test>" % (os.getpid(), time.monotonic_ns())).encode()
        resp = await server.challenge_auth(challenge)
        if not isinstance(resp, bytes) or b" " not in resp:
            return AuthResult(success=False)
        user, digest = resp.split(b" ", 1)
        pw = (self.peer.users or {}).get(user.decode(errors="replace"))
        ok = pw is not None and hmac.new(pw.encode(), challenge, "md5").hexdigest() == \
            digest.decode(errors="replace")
        return self.peer._auth_result("CRAM-MD5", user.decode(errors="replace"), ok)

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except Exception:
                return AuthResult(success=False)
        else:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False)
        fields = dict(f.split("=", 1) for f in blob.decode(errors="replace").split("\x01") if "=" in f)
        user = fields.get("user", "")
        token = fields.get("auth", "")
        ok = token.startswith("Bearer ") and (self.peer.tokens or {}).get(user) == token[7:]
        return self.peer._auth_result("XOAUTH2", user, ok)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.peer._next("rcpt", address)
        if reply and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        return reply or "250 2.1.5 Ok"


class Peer:
    def __init__(self, directory, tls="starttls", certs=None, cert="good", users=None,
                 rcpt_replies=None, mail_replies=None, data_replies=None, hang=None,
                 host="127.0.0.1", port=0, smtputf8=False, client_ca=None, require_auth=False,
                 mechanisms=("LOGIN", "PLAIN"), tokens=None, extensions=(), size=None, hangup_after=None):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.tls_mode = tls
        self.certs = certs
        self.cert = cert
        self.users = users
        self.hang = hang
        self.host = host
        self.port = port or free_port(host)
        self.smtputf8 = smtputf8
        self.extensions = list(extensions)
        self.size = size
        self.hangup_after = hangup_after
        self.pipelined = []
        self.client_ca = client_ca
        self.require_auth = require_auth
        self.mechanisms = set(mechanisms)
        self.tokens = tokens
        self.scripts = {"rcpt": {k.lower(): list(v) for k, v in (rcpt_replies or {}).items()},
                        "mail": list(mail_replies or []), "data": list(data_replies or [])}
        self.lock = threading.Lock()
        self.connections = 0
        self.commands = []
        self.messages = []
        self.auth_attempts = []
        self._loop = None
        self._thread = None
        self._server = None

    # scripts
    def _next(self, kind, address):
        with self.lock:
            if kind == "rcpt":
                q = self.scripts["rcpt"].get((address or "").lower())
            else:
                q = self.scripts[kind]
            return q.pop(0) if q else None

    def _record(self, msg):
        with self.lock:
            self.messages.append(msg)
            with open(os.path.join(self.dir, "messages.jsonl"), "a") as f:
                f.write(json.dumps({"connection": msg.connection, "mail_from": msg.mail_from,
                                    "rcpt_tos": msg.rcpt_tos, "tls": msg.tls,
                                    "auth_user": msg.auth_user,
                                    "raw": base64.b64encode(msg.raw).decode(),
                                    "data": base64.b64encode(msg.data).decode()}) + "\n")

    def _auth_result(self, mechanism, user, ok):
        with self.lock:
            self.auth_attempts.append((mechanism, user, ok))
        data = LoginPassword(user.encode(), b"") if ok else None
        return AuthResult(success=ok, handled=False, auth_data=data)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = False
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            user = auth_data.login.decode(errors="replace")
            ok = self.users.get(user) == auth_data.password.decode(errors="replace")
            with self.lock:
                self.auth_attempts.append((mechanism, user, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _context(self):
        if not self.certs:
            return None
        pem, key = self.certs.good if self.cert == "good" else self.certs.wrong
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pem, key)
        if self.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.client_ca)
        return ctx

    def _factory(self):
        ctx = self._context()
        kw = dict(hostname="peer.test", authenticator=self._authenticate,
                  auth_require_tls=self.tls_mode != "none", enable_SMTPUTF8=self.smtputf8,
                  auth_required=self.require_auth, timeout=60, loop=self._loop,
                  data_size_limit=self.size or 2**25,
                  auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2")
                                          if m not in self.mechanisms])
        if self.tls_mode == "starttls" and ctx:
            kw["tls_context"] = ctx
        return _Session(self, **kw)

    def start(self):
        ready = threading.Event()
        errors = []

        def run():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                if self.hang == "greeting":
                    async def silent(reader, writer):
                        with self.lock:
                            self.connections += 1
                            self.commands.append([])
                        try:
                            while await reader.read(4096):
                                pass
                        except Exception:
                            pass
                    coro = asyncio.start_server(silent, self.host, self.port)
                else:
                    ssl_ctx = self._context() if self.tls_mode == "smtps" else None
                    coro = loop.create_server(self._factory, self.host, self.port, ssl=ssl_ctx)
                self._server = loop.run_until_complete(coro)
            except Exception as e:  # bind failure
                errors.append(e)
                ready.set()
                return
            loop.call_soon(ready.set)
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            for t in asyncio.all_tasks(loop):
                t.cancel()
            try:
                loop.run_until_complete(asyncio.sleep(0))
            except Exception:
                pass
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self):
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_for_messages(self, n, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.messages) >= n:
                return True
            time.sleep(0.02)
        return False


def _main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls", default="none", choices=["starttls", "smtps", "none"])
    ap.add_argument("--user", action="append", default=[], help="user:password")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--hang", choices=["greeting", "dot", "rcpt"])
    args = ap.parse_args()
    certs = make_certs(os.path.join(args.dir, "certs")) if args.tls != "none" else None
    users = dict(u.split(":", 1) for u in args.user) or None
    p = Peer(args.dir, tls=args.tls, certs=certs, users=users, port=args.port, hang=args.hang)
    p.start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(p.port))
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        p.stop()


if __name__ == "__main__":
    _main()
