"""`relay --flush` end to end: sendmail queues, the flush delivers to an
aiosmtpd smarthost (STARTTLS + AUTH) on 127.0.0.1, the queue and the log
show what happened."""

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import warnings

from smtpd_peer import Peer, free_port, make_certs

RELAY = os.environ.get("RELAY_BIN", "relay")


class FlushBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.top = tempfile.mkdtemp(prefix="relay-flush-")
        cls.certs = make_certs(os.path.join(cls.top, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.top)
        self.spool = os.path.join(self.dir, "spool")
        self.pwfile = os.path.join(self.dir, "password")
        with open(self.pwfile, "w") as f:
            f.write("s3cret\n")
        os.chmod(self.pwfile, 0o600)
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def peer(self, **kw):
        kw.setdefault("certs", self.certs)
        kw.setdefault("users", {"relay@example.org": "s3cret"})
        p = Peer(os.path.join(self.dir, "peer%d" % len(self.peers)), **kw).start()
        self.peers.append(p)
        return p

    def configure(self, port, queue=None, smtp=None):
        q = {"directory": self.spool, "flush_after_submit": False}
        q.update(queue or {})
        s = {"ca_file": self.certs.ca, "username": "relay@example.org",
             "password_file": self.pwfile, "command_timeout": 5, "connect_timeout": 5}
        s.update(smtp or {})
        text = 'relayhost = "[127.0.0.1]:%d"\nmyhostname = "client.example.org"\n' % port
        text += "[queue]\n" + "".join("%s = %s\n" % (k, json.dumps(v)) for k, v in q.items())
        text += "[smtp]\n" + "".join("%s = %s\n" % (k, json.dumps(v)) for k, v in s.items())
        self.cfg = os.path.join(self.dir, "relay.toml")
        with open(self.cfg, "w") as f:
            f.write(text)
        r = self.relay("--init-spool")
        self.assertEqual(r.returncode, 0, r.stderr)

    def relay(self, *args, stdin=None, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([RELAY, "-C", self.cfg, *args], input=stdin, capture_output=True,
                              text=True, timeout=120, env=e)

    def submit(self, *rcpts, subject="test", body="Hello.\n", sender="alice@example.org"):
        msg = "From: %s\nSubject: %s\n\n%s" % (sender, subject, body)
        r = self.relay("-f", sender, *rcpts, stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr)

    def queue_ids(self):
        q = os.path.join(self.spool, "queue")
        return sorted(os.listdir(q)) if os.path.isdir(q) else []

    def envelope(self, qid):
        with open(os.path.join(self.spool, "queue", qid, "envelope")) as f:
            return f.read()


class TestFlush(FlushBase):
    def test_flush_delivers_all_over_one_connection(self):
        p = self.peer()
        self.configure(p.port)
        for i in range(3):
            self.submit("bob%d@example.net" % i, subject="n%d" % i)
        self.assertEqual(len(os.listdir(os.path.join(self.spool, "maildrop"))), 3)
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.queue_ids(), [])
        self.assertEqual(len(p.messages), 3)
        self.assertEqual(p.connections, 1)
        self.assertEqual(sorted(m.rcpt_tos[0] for m in p.messages),
                         ["bob0@example.net", "bob1@example.net", "bob2@example.net"])
        self.assertTrue(all(m.tls and m.auth_user == "relay@example.org" for m in p.messages))
        lines = [l for l in r.stderr.splitlines() if "status=sent" in l]
        self.assertEqual(len(lines), 3, r.stderr)
        pat = (r"^relay: [0-9A-Z]{16}: to=<bob\d@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, "
               r"delay=\d+(\.\d)?, tries=1, status=sent \(250 2\.0\.0 Ok: queued as Q\d+\)$" % p.port)
        for l in lines:
            self.assertRegex(l, pat)
        self.assertEqual(len(re.findall(r": removed$", r.stderr, re.M)), 3)
        # The body arrived as queued, with CRLF line ends.
        self.assertTrue(p.messages[0].data.endswith(b"\r\n\r\nHello.\r\n"))
        self.assertNotIn("s3cret", r.stderr)

    def test_per_recipient_outcomes_and_retry(self):
        p = self.peer(rcpt_replies={"gone@example.net": ["550 5.1.1 <gone@example.net>: no such user"],
                                    "later@example.net": ["451 4.3.0 Try again later"]})
        self.configure(p.port)
        self.submit("ok@example.net", "gone@example.net", "later@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<ok@example\.net>.*status=sent")
        self.assertRegex(r.stderr, r"to=<gone@example\.net>.*status=bounced \(host 127\.0\.0\.1"
                                   r"\[127\.0\.0\.1\] said: 550 5\.1\.1 <gone@example\.net>: no such "
                                   r"user \(in reply to RCPT TO command\)\)")
        self.assertRegex(r.stderr, r"to=<later@example\.net>.*tries=1, status=deferred")
        # ok@ got the message; the sender got one notification for gone@.
        self.assertEqual(len(p.messages), 2)
        self.assertEqual(p.messages[0].rcpt_tos, ["ok@example.net"])
        dsn = p.messages[1]
        self.assertEqual(dsn.mail_from, "<>")
        self.assertEqual(dsn.rcpt_tos, ["alice@example.org"])
        text = dsn.data.decode()
        self.assertIn("Content-Type: multipart/report; report-type=delivery-status", text)
        self.assertIn("Final-Recipient: rfc822; gone@example.net", text)
        self.assertIn("Action: failed\r\nStatus: 5.1.1", text)
        self.assertIn("Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: no such user", text)
        self.assertIn("Auto-Submitted: auto-replied", text)
        self.assertNotIn("later@example.net", text.split("message/delivery-status")[1].split("message/rfc822")[0])
        self.assertIn("Subject: test", text)  # the original is attached
        self.assertRegex(r.stderr, r": sender non-delivery notification: [0-9A-Z]{16}")
        ids = self.queue_ids()
        self.assertEqual(len(ids), 1)
        env = self.envelope(ids[0])
        self.assertIn("rcpt: ok@example.net\nrcpt.status: sent", env)
        self.assertIn("rcpt: gone@example.net\nrcpt.status: bounced", env)
        self.assertIn("rcpt: later@example.net\nrcpt.status: pending", env)
        self.assertIn("tries: 1", env)
        nxt = int(re.search(r"^next: (\d+)$", env, re.M).group(1))
        self.assertGreaterEqual(nxt - time.time(), 250)  # minimal_backoff_time 300s, minus slack

        # Not due yet: a plain flush does not touch it.
        conns = p.connections
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(p.connections, conns)
        # --now sends only the pending recipient.
        r = self.relay("--flush", "-v", "--now")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<later@example\.net>.*tries=2, status=sent")
        self.assertNotRegex(r.stderr, r"to=<(ok|gone)@example\.net>")
        self.assertEqual(p.messages[2].rcpt_tos, ["later@example.net"])
        self.assertEqual(self.queue_ids(), [])

    def test_second_runner_exits_at_once(self):
        p = self.peer()
        self.configure(p.port)
        self.submit("bob@example.net")
        with open(os.path.join(self.spool, "flush.lock"), "a+") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            t0 = time.monotonic()
            r = self.relay("--flush", "-v")
            self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(r.returncode, 0)
        self.assertIn("already running", r.stderr)
        self.assertEqual(p.connections, 0)
        self.assertEqual(len(os.listdir(os.path.join(self.spool, "maildrop"))), 1)
        # Once the lock is free, the next run delivers it.
        r = self.relay("--flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(p.messages), 1)

    def test_wrong_password_exits_config_and_keeps_mail(self):
        p = self.peer(users={"relay@example.org": "other"})
        self.configure(p.port)
        self.submit("bob@example.net")
        self.submit("carol@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("SASL authentication failed", r.stderr)
        ids = self.queue_ids()
        self.assertEqual(len(ids), 2)
        self.assertIn("SASL+20authentication+20failed", self.envelope(ids[0]))
        # One AUTH attempt for the run, not one per message.
        self.assertEqual(len(p.auth_attempts), 1)

    def test_server_down_defers_with_backoff(self):
        port = free_port()
        self.configure(port, queue={"minimal_backoff_time": "100s",
                                    "maximal_backoff_time": "1000s"})
        self.submit("bob@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("relay=none", r.stderr)
        self.assertIn("Connection refused", r.stderr)
        qid = self.queue_ids()[0]
        env = self.envelope(qid)
        nxt = int(re.search(r"^next: (\d+)$", env, re.M).group(1))
        last = int(re.search(r"^last: (\d+)$", env, re.M).group(1))
        self.assertTrue(100 <= nxt - last <= 110, nxt - last)
        r = self.relay("--flush", "-v", "--now")
        env = self.envelope(qid)
        nxt = int(re.search(r"^next: (\d+)$", env, re.M).group(1))
        last = int(re.search(r"^last: (\d+)$", env, re.M).group(1))
        self.assertTrue(200 <= nxt - last <= 220, nxt - last)
        self.assertIn("tries: 2", env)
        # The reason shows in mailq.
        q = self.relay("mailq")
        self.assertIn("Connection refused", q.stdout)

    def test_expired_message_is_given_up(self):
        port = free_port()
        self.configure(port, queue={"maximal_queue_lifetime": 0})
        self.submit("bob@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<bob@example\.net>.*status=bounced \(message expired")
        # Only the notification to the sender is left, from <>, deferred
        # like any message (the smarthost is down).
        ids = self.queue_ids()
        self.assertEqual(len(ids), 1)
        env = self.envelope(ids[0])
        self.assertRegex(env, r"(?m)^sender: ?$")
        self.assertIn("rcpt: alice@example.org\nrcpt.status: pending", env)
        with open(os.path.join(self.spool, "queue", ids[0], "message")) as f:
            dsn = f.read()
        self.assertIn("Status: 4.4.7", dsn)
        self.assertIn("Final-Recipient: rfc822; bob@example.net", dsn)

    def test_bounce_is_never_bounced(self):
        p = self.peer(rcpt_replies={"alice@example.org": ["550 5.1.1 no such sender mailbox"] * 5,
                                    "gone@example.net": ["550 5.1.1 no such user"]})
        self.configure(p.port)
        self.submit("gone@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        # gone@ bounced; the notification to alice@ bounced too and was dropped.
        self.assertRegex(r.stderr, r"to=<gone@example\.net>.*status=bounced")
        self.assertRegex(r.stderr, r"to=<alice@example\.org>.*status=bounced")
        self.assertRegex(r.stderr, r"undeliverable bounce discarded")
        self.assertEqual(self.queue_ids(), [])
        self.assertEqual(len(p.messages), 0)

    def test_notify_never_gets_no_bounce(self):
        p = self.peer(rcpt_replies={"gone@example.net": ["550 5.1.1 no such user"]})
        self.configure(p.port)
        msg = "From: alice@example.org\nSubject: t\n\nx\n"
        r = self.relay("-f", "alice@example.org", "-N", "never", "gone@example.net", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.relay("--flush", "-v")
        self.assertRegex(r.stderr, r"to=<gone@example\.net>.*status=bounced")
        self.assertNotIn("non-delivery notification", r.stderr)
        self.assertEqual(self.queue_ids(), [])

    def test_submission_never_loads_libcurl(self):
        p = self.peer()
        self.configure(p.port)
        env = {"LD_DEBUG": "files"}
        r = self.relay("-f", "alice@example.org", "bob@example.net",
                       stdin="Subject: x\n\nbody\n", env=env)
        self.assertEqual(r.returncode, 0)
        self.assertIn("libsodium", r.stderr)  # LD_DEBUG works here
        self.assertNotIn("libcurl", r.stderr)
        r = self.relay("--flush", env=env)
        self.assertIn("libcurl", r.stderr)  # the delivery path does load it
        self.assertEqual(len(p.messages), 1)


if __name__ == "__main__":
    unittest.main()
