"""The SMTP client (relay::smtp::Client) against a real aiosmtpd peer.

Driven through tests/smtp_client_probe (env SMTP_CLIENT_PROBE), which sends
one message file N times through one Client and prints one JSON line per
message. Every peer runs on 127.0.0.1 on a free port and is stopped by the
test.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import warnings

from smtpd_peer import Peer, free_port, make_certs

def probe_path():
    p = os.environ.get("SMTP_CLIENT_PROBE")
    if p:
        return p
    relay = os.environ.get("RELAY_BIN", "")
    return os.path.join(os.path.dirname(relay), "tests", "smtp_client_probe")


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.top = tempfile.mkdtemp(prefix="relay-smtp-")
        cls.certs = make_certs(os.path.join(cls.top, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.top)
        self.pwfile = os.path.join(self.dir, "password")
        self.write_secret(self.pwfile, "s3cret pass\n")
        self.msg = os.path.join(self.dir, "message")
        with open(self.msg, "wb") as f:
            f.write(b"From: a@example.org\nTo: b@example.net\nSubject: test\n\nHello.\n")
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def write_secret(self, path, text, mode=0o600):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def peer(self, **kw):
        kw.setdefault("certs", self.certs)
        kw.setdefault("users", {"user@example.org": "s3cret pass"})
        p = Peer(os.path.join(self.dir, "peer%d" % len(self.peers)), **kw).start()
        self.peers.append(p)
        return p

    def config(self, relayhost, smtp=None, top=None):
        lines = ['relayhost = %s' % json.dumps(relayhost), 'myhostname = "client.example.org"']
        lines += top or []
        s = {"ca_file": self.certs.ca, "username": "user@example.org",
             "password_file": self.pwfile, "connect_timeout": 5, "command_timeout": 5,
             "data_timeout": 5}
        s.update(smtp or {})
        lines.append("[smtp]")
        for k, v in s.items():
            if v is None:
                continue
            lines.append("%s = %s" % (k, json.dumps(v)))
        path = os.path.join(self.dir, "relay.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def run_probe(self, cfg, rcpts, count=1, sender="a@example.org", msg=None, timeout=60):
        args = [probe_path(), "-c", cfg, "-f", sender, "-m", msg or self.msg, "-n", str(count)]
        for r in rcpts:
            args += ["-t", r]
        t0 = time.monotonic()
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        self.elapsed = time.monotonic() - t0
        self.stderr = r.stderr
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertTrue(lines, "probe printed nothing; stderr:\n" + r.stderr)
        self.summary = lines[-1]
        return r.returncode, lines[:-1]


class TestDelivery(Base):
    def test_starttls_auth_success(self):
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(rc, 0, self.stderr)
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent")
        self.assertRegex(out[0]["reply"], r"^250 2\.0\.0 Ok: queued as Q\d+")
        self.assertEqual(out[0]["relay"], "127.0.0.1[127.0.0.1]:%d" % p.port)
        self.assertEqual(len(p.messages), 1)
        m = p.messages[0]
        self.assertTrue(m.tls)
        self.assertEqual(m.auth_user, "user@example.org")
        self.assertEqual(m.mail_from, "a@example.org")
        self.assertEqual(m.rcpt_tos, ["b@example.net"])
        self.assertEqual(m.data, b"From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n"
                                 b"\r\nHello.\r\n")
        cmds = p.commands[0]
        self.assertLess(cmds.index("STARTTLS"), cmds.index("AUTH PLAIN"))
        # The password never shows up in what relay prints, even with -v.
        rc, _ = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertNotIn("s3cret", self.stderr)

    def test_verbose_transcript_redacts_auth(self):
        p = self.peer()
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"auth_mechanisms": ["LOGIN"]})
        args = [probe_path(), "-c", cfg, "-f", "a@example.org", "-t", "b@example.net",
                "-m", self.msg, "-v"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("> AUTH LOGIN", r.stderr)
        self.assertIn("> <redacted>", r.stderr)
        import base64
        for secret in ("s3cret pass", base64.b64encode(b"s3cret pass").decode(),
                       base64.b64encode(b"user@example.org").decode()):
            self.assertNotIn(secret, r.stderr)
        self.assertEqual(p.auth_attempts, [("LOGIN", "user@example.org", True)])
        # The transaction in order; the body is shown by its size only.
        trace = [l.split("] ", 1)[1] for l in r.stderr.splitlines() if "127.0.0.1] " in l]
        at = trace.index("> DATA")
        self.assertEqual(trace[at + 1], "< 354 End data with <CR><LF>.<CR><LF>")
        self.assertRegex(trace[at + 2], r"^> \(message, \d+ octets\)$")
        self.assertEqual(trace[at + 3], "> .")
        self.assertTrue(trace[at + 4].startswith("< 250 2.0.0 Ok: queued as"), trace)
        self.assertNotIn("Hello.", r.stderr)

    def test_wrong_password_defers_with_reason(self):
        p = self.peer()
        self.write_secret(self.pwfile, "wrong\n")
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertTrue(out[0]["config_failure"])
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("SASL authentication failed", r["reply"])
        self.assertIn("535", r["reply"])
        self.assertNotIn("wrong", r["reply"])
        self.assertEqual(p.messages, [])

    def test_certificate_for_wrong_host_refused(self):
        p = self.peer(cert="wrong")
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(rc, 78)
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("TLS certificate verification failed", r["reply"])
        self.assertEqual(p.messages, [])
        self.assertNotIn("AUTH PLAIN", sum(p.commands, []))

    def test_untrusted_ca_refused_unless_verify_off(self):
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port, {"ca_file": None,
                                             "ca_path": self.dir}), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertEqual(p.messages, [])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port, {
            "ca_file": None, "ca_path": self.dir, "tls_verify": False}), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)

    def test_pinned_public_key(self):
        p = self.peer()
        good = self.config("[127.0.0.1]:%d" % p.port, {"tls_pin_sha256": self.certs.pin("good")})
        rc, out = self.run_probe(good, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        bad = self.config("[127.0.0.1]:%d" % p.port, {"tls_pin_sha256": self.certs.pin("wrong")})
        rc, out = self.run_probe(bad, ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("tls_pin_sha256", out[0]["rcpts"][0]["reply"])
        self.assertEqual(len(p.messages), 1)

    def test_server_without_starttls_refused(self):
        p = self.peer(tls="none")
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(rc, 78)
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("TLS is required, but was not offered", r["reply"])
        self.assertEqual(p.messages, [])
        self.assertNotIn("AUTH PLAIN", sum(p.commands, []))
        self.assertNotIn("MAIL", sum(p.commands, []))

    def test_implicit_tls(self):
        p = self.peer(tls="smtps")
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port, {"tls": "smtps"}),
                                 ["b@example.net"])
        self.assertEqual(rc, 0, self.stderr)
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent")
        self.assertTrue(p.messages[0].tls)
        self.assertNotIn("STARTTLS", p.commands[0])

    def test_plaintext_auth_needs_permission(self):
        p = self.peer(tls="none")
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"tls": "none"})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("allow_plaintext_auth", out[0]["rcpts"][0]["reply"])
        self.assertEqual(p.connections, 0)
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"tls": "none", "allow_plaintext_auth": True})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 0, self.stderr)
        self.assertEqual(p.messages[0].auth_user, "user@example.org")
        self.assertFalse(p.messages[0].tls)

    def test_server_down_defers(self):
        port = free_port()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % port), ["b@example.net"], count=3)
        self.assertEqual(rc, 0)  # a network failure is not a configuration failure
        for o in out:
            self.assertEqual(o["rcpts"][0]["status"], "deferred")
            self.assertIn("connect to 127.0.0.1[127.0.0.1]:%d: Connection refused" % port,
                          o["rcpts"][0]["reply"])
            self.assertEqual(o["relay"], "none")
        # The dead relay is not retried for every message of the run.
        self.assertEqual(self.summary["messages"], 1)

    def test_fallback_relay(self):
        p = self.peer()
        dead = free_port()
        rc, out = self.run_probe(self.config(["[127.0.0.1]:%d" % dead, "[127.0.0.1]:%d" % p.port]),
                                 ["b@example.net"], count=2)
        self.assertEqual(rc, 0, self.stderr)
        self.assertEqual([o["rcpts"][0]["status"] for o in out], ["sent", "sent"])
        self.assertEqual(len(p.messages), 2)
        self.assertEqual(p.connections, 1)

    def test_451_then_250(self):
        p = self.peer(rcpt_replies={"b@example.net": ["451 4.3.0 Try again later"]})
        cfg = self.config("[127.0.0.1]:%d" % p.port)
        rc, out = self.run_probe(cfg, ["b@example.net"])
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertEqual(r["reply"], "host 127.0.0.1[127.0.0.1] said: 451 4.3.0 Try again later "
                                     "(in reply to RCPT TO command)")
        self.assertEqual(p.messages, [])
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent")
        self.assertEqual(len(p.messages), 1)

    def test_550_for_one_of_three(self):
        p = self.peer(rcpt_replies={"bad@example.net": ["550 5.1.1 <bad@example.net>: unknown"]})
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port),
                                 ["one@example.net", "bad@example.net", "three@example.net"])
        st = [r["status"] for r in out[0]["rcpts"]]
        self.assertEqual(st, ["sent", "bounced", "sent"])
        self.assertIn("550 5.1.1 <bad@example.net>: unknown", out[0]["rcpts"][1]["reply"])
        self.assertEqual(len(p.messages), 1)
        self.assertEqual(p.messages[0].rcpt_tos, ["one@example.net", "three@example.net"])

    def test_mixed_4xx_5xx_and_all_rejected(self):
        p = self.peer(rcpt_replies={"a@x.example": ["452 4.5.3 Too many"],
                                    "b@x.example": ["553 5.1.3 bad"]})
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port),
                                 ["a@x.example", "b@x.example"])
        self.assertEqual([r["status"] for r in out[0]["rcpts"]], ["deferred", "bounced"])
        self.assertEqual(p.messages, [])

    def test_data_rejected_bounces_message(self):
        p = self.peer(data_replies=["554 5.6.0 Message rejected"])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port),
                                 ["one@example.net", "two@example.net"])
        self.assertEqual([r["status"] for r in out[0]["rcpts"]], ["bounced", "bounced"])
        self.assertIn("(in reply to end of DATA command)", out[0]["rcpts"][0]["reply"])

    def test_mail_from_451_defers(self):
        p = self.peer(mail_replies=["451 4.7.1 Greylisted"])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertIn("in reply to MAIL FROM command", out[0]["rcpts"][0]["reply"])

    def test_garbage_reply_defers_and_gives_up_the_relay(self):
        p = self.peer(mail_replies=["hello, this is not SMTP"])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"], count=2)
        self.assertEqual([o["rcpts"][0]["status"] for o in out], ["deferred", "deferred"], out)
        self.assertIn("unexpected reply from 127.0.0.1[127.0.0.1] after MAIL FROM", out[0]["reply"])
        # The relay is unusable for the rest of the run: no second attempt.
        self.assertEqual(p.connections, 1)
        self.assertEqual(out[1]["reply"], out[0]["reply"])

    def test_endless_reply_is_cut_off(self):
        # More than Wire::max_reply (64 KiB) of continuation lines: a
        # broken or hostile server, not a reply to wait for or to keep.
        huge = "\r\n".join(["250-2.0.0 " + "x" * 100] * 1000 + ["250 2.0.0 done"])
        p = self.peer(data_replies=[huge])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred", out)
        self.assertIn("unexpected reply from 127.0.0.1[127.0.0.1]", out[0]["reply"])

    def test_multiline_reply_to_the_dot(self):
        # A three-line reply after the first message: the client must read
        # all of it, or the second message's replies would be off by two.
        p = self.peer(data_replies=["250-2.0.0 Ok\r\n250-2.0.0 scanned\r\n250 2.0.0 queued as AAA"])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"], count=2)
        self.assertEqual([o["rcpts"][0]["status"] for o in out], ["sent", "sent"], out)
        self.assertEqual(out[0]["reply"], "250 2.0.0 Ok scanned queued as AAA")
        self.assertTrue(out[1]["reply"].startswith("250 2.0.0 Ok: queued as Q"), out[1])
        self.assertEqual(p.connections, 1)
        self.assertEqual(len(p.messages), 2)

    def test_auth_required_but_no_credentials_defers(self):
        p = self.peer(require_auth=True)
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"username": None, "password_file": None})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertEqual(rc, 78)
        self.assertIn("530", out[0]["rcpts"][0]["reply"])

    def test_hung_server_greeting_times_out(self):
        p = self.peer(hang="greeting")
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"command_timeout": 2})
        rc, out = self.run_probe(cfg, ["b@example.net"], count=2)
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("timed out while receiving the initial server greeting", r["reply"])
        self.assertEqual(out[1]["rcpts"][0]["status"], "deferred")
        self.assertLess(self.elapsed, 10)  # one timeout for the run, not one per message
        self.assertEqual(p.connections, 1)

    def test_hung_server_after_dot_times_out(self):
        p = self.peer(hang="dot")
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"command_timeout": 2})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("timed out", r["reply"])
        self.assertLess(self.elapsed, 10)

    def test_hung_server_rcpt_times_out(self):
        p = self.peer(hang="rcpt")
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"command_timeout": 2})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertIn("timed out after RCPT TO", out[0]["rcpts"][0]["reply"])

    def test_reply_to_the_dot_waits_data_timeout(self):
        p = self.peer(hang="dot")
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"command_timeout": 2, "data_timeout": 6})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred", out)
        self.assertIn("timed out while sending the message body or after END-OF-MESSAGE",
                      out[0]["reply"])
        self.assertGreaterEqual(self.elapsed, 6)  # not command_timeout's 2 s

    def test_connection_the_server_closed_is_not_reused(self):
        # The server drops each connection 0.3 s after a message; the
        # client sends the next one 1 s later, so it must notice and
        # reconnect instead of losing that message to a dead socket.
        p = self.peer(hangup_after=0.3)
        cfg = self.config("[127.0.0.1]:%d" % p.port)
        msgs = []
        args = [probe_path(), "-c", cfg, "-f", "a@example.org", "-t", "b@example.net",
                "-m", self.msg, "-n", "3", "-w", "1"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual([l["rcpts"][0]["status"] for l in lines[:-1]], ["sent"] * 3, lines)
        self.assertEqual(lines[-1]["connections"], 3)
        self.assertEqual(len(p.messages), 3)

    def test_dot_stuffing_and_crlf_byte_exact(self):
        body = (b"Subject: dots\n\n.\n..\n.leading\nmid . dot\n"
                b"crlf line\r\nbare\rcr\nlast line without newline")
        with open(self.msg, "wb") as f:
            f.write(body)
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        raw = p.messages[0].raw
        self.assertEqual(raw, b"Subject: dots\r\n\r\n..\r\n...\r\n..leading\r\nmid . dot\r\n"
                              b"crlf line\r\nbare\r\ncr\r\nlast line without newline\r\n")
        self.assertEqual(p.messages[0].data,
                         b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid . dot\r\n"
                         b"crlf line\r\nbare\r\ncr\r\nlast line without newline\r\n")
        # No bare CR or LF anywhere on the wire.
        self.assertEqual(raw.count(b"\n"), raw.count(b"\r\n"))
        self.assertEqual(raw.count(b"\r"), raw.count(b"\r\n"))

    def test_body_starting_with_dot(self):
        with open(self.msg, "wb") as f:
            f.write(b".first line is a dot line\n.\n")
        p = self.peer()
        self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(p.messages[0].raw, b"..first line is a dot line\r\n..\r\n")

    def test_long_line_folded(self):
        long = b"x" * 2500
        with open(self.msg, "wb") as f:
            f.write(b"Subject: " + b"y" * 1200 + b"\n\n" + long + b"\n")
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertTrue(out[0]["folded"])
        lines = p.messages[0].raw.split(b"\r\n")
        self.assertTrue(all(len(l) <= 998 for l in lines), [len(l) for l in lines])
        self.assertTrue(lines[1].startswith(b" "))  # header continuation stays a header
        self.assertEqual(b"".join(lines[lines.index(b"") + 1:]), long)

    def test_large_message_streamed(self):
        line = b"0123456789" * 7 + b"\n"
        with open(self.msg, "wb") as f:
            f.write(b"Subject: big\n\n")
            for _ in range(50000):  # ~3.5 MB
                f.write(line)
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent")
        self.assertEqual(len(p.messages[0].data), len(b"Subject: big\r\n\r\n") + 50000 * 72)

    def test_hundred_messages_one_connection(self):
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port,
                                             {"max_messages_per_connection": 1000}),
                                 ["b@example.net"], count=100)
        self.assertEqual(rc, 0)
        self.assertTrue(all(o["rcpts"][0]["status"] == "sent" for o in out))
        self.assertEqual(len(p.messages), 100)
        self.assertEqual(p.connections, 1)
        self.assertEqual(self.summary["connections"], 1)
        self.assertEqual(p.commands[0].count("STARTTLS"), 1)
        self.assertEqual(p.commands[0].count("AUTH PLAIN"), 1)

    def test_max_messages_per_connection(self):
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port,
                                             {"max_messages_per_connection": 4}),
                                 ["b@example.net"], count=10)
        self.assertEqual(len(p.messages), 10)
        self.assertEqual(p.connections, 3)
        self.assertEqual([len([c for c in cmds if c == "MAIL"]) for cmds in p.commands], [4, 4, 2])

    def test_null_sender(self):
        p = self.peer()
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"],
                                 sender="")
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent")
        self.assertEqual(p.messages[0].mail_from, "<>")  # aiosmtpd's spelling of MAIL FROM:<>

    def test_ipv6_relayhost(self):
        try:
            p = self.peer(host="::1")
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        rc, out = self.run_probe(self.config("[::1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(out[0]["relay"], "::1[::1]:%d" % p.port)


class TestMechanisms(Base):
    def test_cram_md5_preferred_when_offered(self):
        p = self.peer(mechanisms=["CRAM-MD5", "PLAIN", "LOGIN"])
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(p.auth_attempts, [("CRAM-MD5", "user@example.org", True)])

    def test_auth_mechanisms_restrict_the_choice(self):
        p = self.peer(mechanisms=["CRAM-MD5", "PLAIN", "LOGIN"])
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"auth_mechanisms": ["plain"]})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(p.auth_attempts, [("PLAIN", "user@example.org", True)])

    def test_no_common_mechanism_defers(self):
        p = self.peer(mechanisms=["LOGIN"])
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"auth_mechanisms": ["CRAM-MD5"]})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertIn("SASL authentication failed", out[0]["rcpts"][0]["reply"])
        self.assertEqual(p.messages, [])

    def test_unknown_mechanism_is_a_config_error(self):
        p = self.peer()
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"auth_mechanisms": ["ROT13"]})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("unknown mechanism", out[0]["rcpts"][0]["reply"])

    def test_xoauth2_token_command(self):
        p = self.peer(mechanisms=["XOAUTH2"], tokens={"user@example.org": "ya29.token-123"})
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"password_file": None,
                                                      "oauth2_token_command": "echo ya29.token-123"})
        args = [probe_path(), "-c", cfg, "-f", "a@example.org", "-t", "b@example.net",
                "-m", self.msg, "-v"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(p.auth_attempts, [("XOAUTH2", "user@example.org", True)])
        self.assertNotIn("ya29", r.stderr)
        self.assertEqual(len(p.messages), 1)

    def test_smtputf8_added_when_offered(self):
        p = self.peer(smtputf8=True)
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["jörg@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(p.messages[0].rcpt_tos, ["jörg@example.net"])
        self.assertIn("SMTPUTF8", p.messages[0].mail_options)
        # An ASCII body declares no BODY=8BITMIME.
        self.assertFalse(any(o.startswith("BODY=") for o in p.messages[0].mail_options))

    def test_ascii_message_does_not_claim_smtputf8(self):
        p = self.peer(smtputf8=True)
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertNotIn("SMTPUTF8", p.messages[0].mail_options)


class TestCredentials(Base):
    def test_group_readable_password_file_refused(self):
        p = self.peer()
        os.chmod(self.pwfile, 0o640)
        rc, out = self.run_probe(self.config("[127.0.0.1]:%d" % p.port), ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("mode 0640", out[0]["rcpts"][0]["reply"])
        self.assertIn("chmod 0600", out[0]["rcpts"][0]["reply"])
        self.assertEqual(p.connections, 0)

    def test_password_command(self):
        p = self.peer()
        cmd = "printf '%s\\n' 's3cret pass'"
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"password_file": None,
                                                      "password_command": cmd})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)

    def test_password_command_failure(self):
        p = self.peer()
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"password_file": None,
                                                      "password_command": "exit 3"})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("exited with status 3", out[0]["rcpts"][0]["reply"])

    def test_postfix_sasl_password_maps(self):
        p = self.peer()
        maps = os.path.join(self.dir, "sasl_passwd")
        self.write_secret(maps, "# Postfix format\n"
                                "other.example other:nope\n"
                                "127.0.0.1 user@example.org:wrong-host-entry\n"
                                "[127.0.0.1]:%d user@example.org:s3cret pass\n" % p.port)
        cfg = self.config("[127.0.0.1]:%d" % p.port, {"username": None, "password_file": None,
                                                      "sasl_password_maps": "hash:" + maps})
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(p.messages[0].auth_user, "user@example.org")


if __name__ == "__main__":
    unittest.main()
