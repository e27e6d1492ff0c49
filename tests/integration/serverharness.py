"""serverharness - start and stop `relay serve` for the server tests.

A Server is a private installation (relaytest.Spool: relay.toml, an
initialised spool) plus a [server] section with listeners on free loopback
ports. start() runs `relay -C relay.toml serve` in the foreground, collects
its log lines (stderr) in a thread and waits for "daemon started"; stop()
sends SIGTERM and waits for the exit. Every test stops what it started
(the class is a context manager; tearDown calls stop()).

    with Server(listen={"smtp": 0, "submission": 0}, tls=True) as srv:
        port = srv.port("smtp")
        ... smtplib / swaks / raw sockets against 127.0.0.1:port ...
        srv.wait_log("status=sent")

Ports given as 0 are picked free. Hosted domain "hosted.example" with
users alice and bob (maildirs under ROOT/mail) is configured unless
hosted=False.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import relaytest
from smtpd_peer import free_port, make_certs

HOSTNAME = "mx.example.net"


class Server:
    def __init__(self, *, listen=None, tls=False, hosted=True, server_config="", top_config="",
                 flush_after_submit=False, mynetworks="[]", greet_pause=0):
        self.spool = relaytest.Spool()
        self.top_config = top_config
        self.flush_after_submit = flush_after_submit
        self.root = self.spool.root
        self.ports = {}
        entries = []
        for kind, port in (listen or {"smtp": 0}).items():
            host = "127.0.0.1"
            if kind.endswith("6"):
                kind, host = kind[:-1], "::1"
            port = port or free_port(host)
            self.ports[kind + ("6" if host == "::1" else "")] = port
            entries.append('"%s %s:%d"' % (kind, "[::1]" if host == "::1" else host, port))
        self.mail = os.path.join(self.root, "mail")
        self.users_file = os.path.join(self.root, "users")
        lines = ["[server]", "listen = [%s]" % ", ".join(entries),
                 "mynetworks = %s" % mynetworks, "greet_pause = %d" % greet_pause,
                 'users_file = "%s"' % self.users_file]
        if tls:
            self.certs = make_certs(os.path.join(self.root, "certs"))
            lines += ['tls_cert_file = "%s"' % self.certs.good[0],
                      'tls_key_file = "%s"' % self.certs.good[1]]
        if hosted:
            self.mailboxes = os.path.join(self.root, "vmailbox")
            with open(self.mailboxes, "w") as f:
                f.write("alice@hosted.example hosted.example/alice/\n"
                        "bob@hosted.example hosted.example/bob/\n")
            self.aliases = os.path.join(self.root, "valias")
            with open(self.aliases, "w") as f:
                f.write("info@hosted.example alice@hosted.example, bob@hosted.example\n"
                        "fwd@hosted.example friend@remote.example\n")
            lines += ['virtual_mailbox_domains = ["hosted.example"]',
                      'virtual_mailbox_maps = ["hash:%s"]' % self.mailboxes,
                      'virtual_alias_maps = ["hash:%s"]' % self.aliases,
                      'sender_login_maps = ["inline:{ alice@hosted.example=alice@hosted.example }"]',
                      'virtual_mailbox_base = "%s"' % self.mail]
        lines.append(server_config)
        self.server_section = "\n".join(lines) + "\n"
        self.write_config()
        self.proc = None
        self.log = []
        self._log_lock = threading.Lock()
        self._reader = None

    def write_config(self, server_section=None):
        if server_section is not None:
            self.server_section = server_section
        text = ('myhostname = "%s"\nmyorigin = "example.net"\n%s\n'
                '[queue]\ndirectory = "%s"\nflush_after_submit = %s\nmin_free_bytes = "1M"\n'
                '[rewrite]\nalias_maps = []\n%s') % (
                    HOSTNAME, self.top_config, self.spool.spool,
                    "true" if self.flush_after_submit else "false", self.server_section)
        self.spool.write_config(text)

    # ------------------------------------------------------------ process

    def start(self, *, wait=True, pass_fds=(), preexec_fn=None, env=None, wrapper=()):
        self.proc = subprocess.Popen(list(wrapper) + [self.spool.binary, "-C", self.spool.config, "serve"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, pass_fds=pass_fds,
                                     preexec_fn=preexec_fn, env=env)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if wait:
            self.wait_log("daemon started", timeout=15)
        return self

    def _read_log(self):
        for raw in self.proc.stderr:
            with self._log_lock:
                self.log.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log_text(self):
        with self._log_lock:
            return "\n".join(self.log)

    def wait_log(self, pattern, timeout=10, count=1):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            with self._log_lock:
                n = sum(1 for l in self.log if rx.search(l))
            if n >= count:
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError("log never showed %r (%d times); log:\n%s" % (pattern, count, self.log_text()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader:
            self._reader.join(5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        self.spool.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ------------------------------------------------------------ helpers

    def port(self, kind="smtp"):
        return self.ports[kind]

    def relay(self, *args, stdin=b""):
        return self.spool.run(list(args), stdin=stdin)

    def add_user(self, user, password):
        r = self.spool.run(["passwd", user], stdin=password.encode() + b"\n")
        r.check()

    def maildir_messages(self, user):
        d = os.path.join(self.mail, "hosted.example", user, "new")
        if not os.path.isdir(d):
            return []
        out = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
        return out

    def maildrop(self):
        return [n for n in os.listdir(os.path.join(self.spool.spool, "maildrop")) if not n.startswith("t.")]

    def client_context(self):
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        return ctx


class Raw:
    """A line-oriented raw SMTP client, for what smtplib will not send."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One complete (possibly multi-line) reply as (code, text)."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return (None, "\n".join(lines))
            lines.append(line)
            if len(line) < 4 or line[3:4] != "-":
                return (int(line[:3]), "\n".join(lines))

    def line(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (reads until EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def starttls(self, ctx, server_hostname="localhost"):
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
