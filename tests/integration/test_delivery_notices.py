"""Delay warnings (delay_warning_time), the admin notice for configuration
failures (notify_recipient, at most one an hour) and the progress line."""

import os
import pty
import re
import subprocess
import time
import unittest

from delivery_base import DeliveryBase, RELAY


class TestDelayWarning(DeliveryBase):
    def test_one_warning_with_action_delayed(self):
        p = self.peer(rcpt_replies={"later@example.net": ["451 4.3.0 Try again later"] * 10})
        self.configure(p.port, queue={"delay_warning_time": "2s"})
        self.submit("later@example.net", "ok@example.net", subject="slow one")
        # Young message: deferred, no warning yet.
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("delay notification", r.stderr)
        self.assertEqual(len(p.messages), 1)  # ok@ only
        time.sleep(2.2)
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r": sender delay notification: [0-9A-Z]{16}")
        self.assertEqual(len(p.messages), 2, r.stderr)
        w = p.messages[1]
        self.assertEqual(w.mail_from, "<>")
        self.assertEqual(w.rcpt_tos, ["alice@example.org"])
        text = w.data.decode()
        self.assertIn("Subject: Delayed Mail (still being retried)", text)
        self.assertIn("Content-Type: multipart/report; report-type=delivery-status", text)
        self.assertIn("THIS IS A WARNING ONLY", text)
        self.assertIn("Final-Recipient: rfc822; later@example.net\r\n", text)
        self.assertIn("Action: delayed\r\nStatus: 4.3.0", text)
        self.assertIn("Diagnostic-Code: smtp; 451 4.3.0 Try again later", text)
        self.assertIn("Will-Retry-Until: ", text)
        self.assertNotIn("Final-Recipient: rfc822; ok@example.net", text)  # delivered: not listed
        self.assertIn("Content-Type: text/rfc822-headers", text)
        self.assertIn("Subject: slow one", text)
        self.assertNotIn("Hello.", text)  # headers only
        ids = self.queue_ids()
        self.assertEqual(len(ids), 1)
        self.assertRegex(self.envelope(ids[0]), r"(?m)^warned: (1|yes|true)$")
        # Warned once: later runs send no second warning.
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("delay notification", r.stderr)
        self.assertEqual(len(p.messages), 2)

    def test_notify_without_delay_and_null_sender_get_none(self):
        p = self.peer(rcpt_replies={"later@example.net": ["451 4.3.0 Try again later"] * 10,
                                    "alice@example.org": ["451 4.3.0 Try again later"] * 10})
        self.configure(p.port, queue={"delay_warning_time": "1s"})
        msg = "From: alice@example.org\nSubject: t\n\nx\n"
        r = self.relay("-f", "alice@example.org", "-N", "failure", "later@example.net", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.relay("-f", "<>", "later@example.net", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.submit("later@example.net")  # default NOTIFY: warned
        time.sleep(1.2)
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(r"sender delay notification", r.stderr)), 1, r.stderr)
        # The warning itself (from <>, to alice@ who is deferred too) is never warned about.
        time.sleep(1.2)
        r = self.relay("--flush", "--now", "-v")
        self.assertNotIn("sender delay notification", r.stderr)

    def test_off_by_default(self):
        p = self.peer(rcpt_replies={"later@example.net": ["451 4.3.0 Try again later"] * 10})
        self.configure(p.port)
        self.submit("later@example.net")
        time.sleep(1.1)
        r = self.relay("--flush", "--now", "-v")
        self.assertNotIn("delay notification", r.stderr)
        self.assertEqual(len(p.messages), 0)


class TestAdminNotice(DeliveryBase):
    def notices(self):
        out = []
        for qid in self.queue_ids():
            env = self.envelope(qid)
            if "rcpt: postmaster@example.org" in env:
                out.append(qid)
        return out

    def test_rate_limited_notice(self):
        p = self.peer(users={"relay@example.org": "other"})  # our password is refused
        self.configure(p.port, smtp={"notify_recipient": "postmaster@example.org"})
        self.submit("bob@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertRegex(r.stderr, r": configuration notice to <postmaster@example\.org>: .*SASL")
        self.assertEqual(len(self.notices()), 1)
        stamp = os.path.join(self.spool, "notice.stamp")
        self.assertTrue(os.path.exists(stamp))
        # Ten failing runs later: still the one notice (it is queued, undelivered).
        for _ in range(10):
            r = self.relay("--flush", "--now", "-v")
            self.assertEqual(r.returncode, 78)
        self.assertEqual(len(self.notices()), 1)
        self.assertEqual(len(re.findall(r"configuration notice to", r.stderr)), 0)

        # The password is fixed: both the mail and the notice go out.
        with open(self.pwfile, "w") as f:
            f.write("other\n")
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.queue_ids(), [])
        notice = [m for m in p.messages if m.rcpt_tos == ["postmaster@example.org"]]
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice[0].mail_from, "<>")
        text = notice[0].data.decode()
        self.assertIn("Subject: relay on client.example.org: mail delivery fails (configuration)", text)
        self.assertIn("SASL authentication failed", text)
        self.assertIn("Auto-Submitted: auto-generated", text)
        self.assertNotIn("s3cret", text)

        # Broken again within the hour: no new notice, although the last one
        # was delivered.
        with open(self.pwfile, "w") as f:
            f.write("wrong\n")
        self.submit("carol@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(self.notices(), [])
        # An hour later the next failure is reported again.
        with open(stamp) as f:
            t, qid = f.read().split()
        with open(stamp, "w") as f:
            f.write("%d %s\n" % (int(t) - 3601, qid))
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(len(self.notices()), 1)

    def test_off_without_notify_recipient(self):
        p = self.peer(users={"relay@example.org": "other"})
        self.configure(p.port)
        self.submit("bob@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 78)
        self.assertNotIn("configuration notice", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.spool, "notice.stamp")))
        self.assertEqual(len(self.queue_ids()), 1)

    def test_recipient_failures_are_no_configuration_failure(self):
        p = self.peer(rcpt_replies={"later@example.net": ["451 4.3.0 Try again later"]})
        self.configure(p.port, smtp={"notify_recipient": "postmaster@example.org"})
        self.submit("later@example.net")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.notices(), [])


class TestProgressLine(DeliveryBase):
    def flush_on_a_terminal(self):
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([RELAY, "-C", self.cfg, "--flush"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=slave)
            os.close(slave)
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            proc.wait(timeout=120)
            return proc.returncode, out.decode(errors="replace")
        finally:
            os.close(master)

    def test_one_progress_line_for_a_large_queue(self):
        p = self.peer()
        self.configure(p.port)
        for i in range(60):
            self.send("alice@example.org", ["r%d@example.net" % i], [("Subject", "m")])
        rc, out = self.flush_on_a_terminal()
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(p.messages), 60)
        self.assertIn("relay: sending ", out)
        self.assertRegex(out, r"relay: sending 60/60 \.\.\.")
        self.assertNotIn("status=sent", out)  # the per-recipient lines go to syslog only
        self.assertIn("\r\x1b[K", out)  # cleared at the end
        lines = [l for l in out.replace("\r\n", "\n").split("\n") if l.strip()]
        self.assertRegex(lines[-1], r"sent 60, deferred 0, bounced 0 recipient\(s\) of 60 message")

    def test_small_queue_has_no_progress_line(self):
        p = self.peer()
        self.configure(p.port)
        for i in range(5):
            self.send("alice@example.org", ["r%d@example.net" % i], [("Subject", "m")])
        rc, out = self.flush_on_a_terminal()
        self.assertEqual(rc, 0, out)
        self.assertNotIn("sending ", out)
        self.assertEqual(len(re.findall("status=sent", out)), 5)


if __name__ == "__main__":
    unittest.main()
