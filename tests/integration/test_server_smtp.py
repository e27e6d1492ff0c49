"""relay serve: the ESMTP conversation, relay policy and hosted delivery,
against real clients (smtplib, swaks, raw sockets)."""

import os
import smtplib
import socket
import subprocess
import time
import unittest

import relaytest
from serverharness import HOSTNAME, Raw, Server

SWAKS = "/usr/bin/swaks"


def fcrdns(ip):
    """The client name Postfix's smtpd would log for IP: the PTR name when
    it resolves back to IP, else "unknown" (a reference for the tests)."""
    try:
        name = socket.gethostbyaddr(ip)[0]
        back = {a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)}
    except OSError:
        return "unknown"
    return name if ip in back else "unknown"


def swaks(port, *args, host="127.0.0.1"):
    r = subprocess.run([SWAKS, "--server", host, "--port", str(port), "--timeout", "20"] + list(args),
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace")


class Conversation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(listen={"smtp": 0, "local": 0, "local6": 0}).start()
        cls.port = cls.srv.port("smtp")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def raw(self):
        c = Raw(self.port)
        code, text = c.reply()
        self.assertEqual(code, 220, text)
        self.assertIn(HOSTNAME + " ESMTP", text)
        self.addCleanup(c.close)
        return c

    def test_reply_codes(self):
        c = self.raw()
        self.assertEqual(c.cmd("MAIL FROM:<a@outside.example>")[0], 503)  # HELO first
        code, text = c.cmd("EHLO client.example")
        self.assertEqual(code, 250)
        for kw in ("PIPELINING", "SIZE 10485760", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"):
            self.assertIn(kw, text)
        self.assertNotIn("AUTH", text)
        self.assertNotIn("STARTTLS", text)  # no certificate configured
        self.assertEqual(c.cmd("STARTTLS")[0], 502)
        self.assertEqual(c.cmd("AUTH PLAIN AGEAYg==")[0], 503)
        self.assertEqual(c.cmd("VRFY alice@hosted.example")[0], 252)
        self.assertEqual(c.cmd("EXPN staff")[0], 502)
        self.assertEqual(c.cmd("HELP")[0], 214)
        self.assertEqual(c.cmd("NOOP")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<alice@hosted.example>")[0], 503)  # need MAIL
        self.assertEqual(c.cmd("DATA")[0], 503)
        self.assertEqual(c.cmd("MAIL FROM:alice@outside.example")[0], 501)
        self.assertEqual(c.cmd("MAIL FROM:<a@outside.example> FOO=BAR")[0], 555)
        self.assertEqual(c.cmd("MAIL FROM:<a@outside.example> SIZE=999999999")[0], 552)
        self.assertEqual(c.cmd("MAIL FROM:<root@localhost>")[0], 504)
        self.assertEqual(c.cmd("MAIL FROM:<>")[0], 250)
        self.assertEqual(c.cmd("MAIL FROM:<>")[0], 503)  # nested
        self.assertEqual(c.cmd("DATA")[0], 554)  # no valid recipients
        self.assertEqual(c.cmd("RCPT TO:<nobody@hosted.example>")[0], 550)
        self.assertEqual(c.cmd("RCPT TO:<alice@hosted>")[0], 504)
        self.assertEqual(c.cmd("RCPT TO:<alice@hosted.example> NOTIFY=BOGUS")[0], 501)
        self.assertEqual(c.cmd("RCPT TO:<alice@hosted.example> NOTIFY=NEVER")[0], 250)
        self.assertEqual(c.cmd("RSET")[0], 250)
        self.assertEqual(c.cmd("BDAT 10 LAST")[0], 502)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assertTrue(c.closed())

    def test_line_too_long(self):
        c = self.raw()
        self.assertEqual(c.cmd("NOOP " + "x" * 5000)[0], 500)
        self.assertEqual(c.cmd("NOOP")[0], 250)

    def test_http_is_dropped(self):
        c = self.raw()
        self.assertEqual(c.cmd("GET / HTTP/1.0")[0], 221)
        self.assertTrue(c.closed())

    def test_hosted_delivery_with_smtplib(self):
        msg = b"Subject: hello\r\nFrom: x@outside.example\r\n\r\n.line with a dot\r\nbye\r\n"
        before = len(self.srv.maildir_messages("bob"))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            refused = s.sendmail("x@outside.example", ["bob@hosted.example"], msg)
            self.assertEqual(refused, {})
        msgs = self.srv.maildir_messages("bob")
        self.assertEqual(len(msgs), before + 1)
        m = [x for x in msgs if b"Subject: hello" in x][0]
        self.assertTrue(m.startswith(b"Return-Path: <x@outside.example>\nDelivered-To: bob@hosted.example\nReceived: from "))
        self.assertIn(b"by " + HOSTNAME.encode() + b" (relay) with ESMTP", m)
        self.assertIn(b"\n.line with a dot\nbye\n", m)
        self.assertNotIn(b"\r", m)
        self.assertEqual(self.srv.maildrop(), [])  # nothing for the queue

    def test_alias_to_two_mailboxes_and_a_remote_address(self):
        before_a = len(self.srv.maildir_messages("alice"))
        before_b = len(self.srv.maildir_messages("bob"))
        rc, out = swaks(self.port, "--from", "x@outside.example", "--to", "info@hosted.example,fwd@hosted.example")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.srv.maildir_messages("alice")), before_a + 1)
        self.assertEqual(len(self.srv.maildir_messages("bob")), before_b + 1)
        # fwd@ goes to the queue for the smarthost: one maildrop submission.
        drops = self.srv.maildrop()
        self.assertEqual(len(drops), 1)
        with open(os.path.join(self.srv.spool.spool, "maildrop", drops[0]), "rb") as f:
            text = f.read()
        self.assertIn(b"rcpt: friend@remote.example\n", text)
        self.assertIn(b"sender: x@outside.example\n", text)
        os.unlink(os.path.join(self.srv.spool.spool, "maildrop", drops[0]))

    def test_pipelining_keeps_replies_in_order(self):
        c = self.raw()
        c.send("EHLO c.example\r\nMAIL FROM:<x@outside.example>\r\nRCPT TO:<nobody@hosted.example>\r\n"
               "RCPT TO:<alice@hosted.example>\r\nDATA\r\n")
        codes = [c.reply()[0] for _ in range(5)]
        self.assertEqual(codes, [250, 250, 550, 250, 354])
        c.send("Subject: p\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
        codes = [c.reply()[0] for _ in range(3)]
        self.assertEqual(codes, [250, 250, 221])

    def test_size_limit_in_data(self):
        c = self.raw()
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<>")
        c.cmd("RCPT TO:<alice@hosted.example>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        chunk = ("x" * 998 + "\r\n").encode()
        for _ in range(11 * 1024):
            c.send(chunk)
        code, text = c.cmd(".")
        self.assertEqual(code, 552, text)
        self.assertEqual(c.cmd("NOOP")[0], 250)

    def test_too_many_hops(self):
        before = len(self.srv.maildir_messages("alice"))
        c = self.raw()
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<>")
        c.cmd("RCPT TO:<alice@hosted.example>")
        c.cmd("DATA")
        c.send("".join("Received: from h%d by h%d; Tue, 1 Dec 2026 00:00:00 +0000\r\n" % (i, i) for i in range(60)))
        code, text = c.cmd("\r\nlooping\r\n.")
        self.assertEqual(code, 554, text)
        self.assertIn("5.4.6", text)
        self.assertEqual(len(self.srv.maildir_messages("alice")), before)

    def test_smuggling_is_content_not_a_second_message(self):
        before = len(self.srv.maildir_messages("alice"))
        c = self.raw()
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<x@outside.example>")
        c.cmd("RCPT TO:<alice@hosted.example>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send("Subject: first\r\n\r\nhello\n.\nMAIL FROM:<evil@outside.example>\r\n"
               "RCPT TO:<bob@hosted.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
        code, _ = c.reply()
        self.assertEqual(code, 250)
        self.assertEqual(c.cmd("NOOP")[0], 250)  # no reply was left over
        msgs = self.srv.maildir_messages("alice")
        self.assertEqual(len(msgs), before + 1)
        self.assertIn(b"Subject: smuggled", msgs[-1])  # it is all one message's body
        self.assertEqual([m for m in self.srv.maildir_messages("bob") if b"smuggled" in m], [])

    def test_bare_cr_refused(self):
        c = self.raw()
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<>")
        c.cmd("RCPT TO:<alice@hosted.example>")
        c.cmd("DATA")
        code, text = c.cmd("Subject: x\r\n\r\na\rb\r\n.")
        self.assertEqual(code, 550, text)

    def test_swaks_ipv6_local_listener_relays_without_auth(self):
        rc, out = swaks(self.srv.port("local6"), "-6", "--from", "app@example.net", "--to", "user@remote.example",
                        host="::1")
        self.assertEqual(rc, 0, out)
        self.assertIn("250 2.0.0 Ok: queued as", out)
        self.assertTrue(self.srv.maildrop())
        for n in self.srv.maildrop():
            os.unlink(os.path.join(self.srv.spool.spool, "maildrop", n))


class OpenRelay(unittest.TestCase):
    """Every way to relay without permission is refused, and nothing is queued."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(listen={"smtp": 0, "smtp6": 0}).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    ATTEMPTS = [
        "victim@elsewhere.example",
        "VICTIM@ELSEWHERE.EXAMPLE",
        "victim%elsewhere.example@hosted.example",
        "elsewhere.example!victim@hosted.example",
        "@hosted.example:victim@elsewhere.example",
        '"victim@elsewhere.example"@hosted.example',
        "victim@elsewhere.example@hosted.example",
        "victim@elsewhere.example.",
        "victim@[203.0.113.1]",
        "victim@hosted.example.elsewhere.example",
        "victim@sub.hosted.example",
        "victim",
    ]

    def attempt(self, port, host, sender):
        c = Raw(port, host)
        try:
            self.assertEqual(c.reply()[0], 220)
            self.assertEqual(c.cmd("EHLO attacker.example")[0], 250)
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % sender)[0] in (250, 553), True)
            for rcpt in self.ATTEMPTS:
                code, text = c.cmd("RCPT TO:<%s>" % rcpt)
                with self.subTest(rcpt=rcpt, host=host, sender=sender):
                    self.assertGreaterEqual(code, 500, text)
            code, _ = c.cmd("DATA")
            self.assertGreaterEqual(code, 500)
        finally:
            c.close()

    def test_nothing_relays(self):
        for sender in ("attacker@outside.example", "", "postmaster@hosted.example", "bob@hosted.example"):
            self.attempt(self.srv.port("smtp"), "127.0.0.1", sender)
            self.attempt(self.srv.port("smtp6"), "::1", sender)
        self.assertEqual(self.srv.maildrop(), [])
        self.assertIn("Relay access denied", self.srv.log_text())

    def test_swaks_relay_refused(self):
        rc, out = swaks(self.srv.port("smtp"), "--from", "a@outside.example", "--to", "b@elsewhere.example")
        self.assertNotEqual(rc, 0)
        self.assertIn("554 5.7.1 <b@elsewhere.example>: Relay access denied", out)


class BareNewlineReject(unittest.TestCase):
    def test_reject_mode_disconnects(self):
        with Server(server_config='forbid_bare_newline = "reject"') as srv:
            c = Raw(srv.port())
            c.reply()
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<>")
            c.cmd("RCPT TO:<alice@hosted.example>")
            c.cmd("DATA")
            code, text = c.cmd("Subject: x\n\nbody")
            self.assertEqual(code, 521, text)
            self.assertTrue(c.closed())
            c.close()
            self.assertEqual(srv.maildir_messages("alice"), [])


class Pregreet(unittest.TestCase):
    def test_client_talking_first_is_rejected(self):
        with Server(greet_pause=1) as srv:
            c = Raw(srv.port())
            c.send("EHLO hasty.example\r\n")
            code, text = c.reply()
            self.assertEqual(code, 554, text)
            self.assertTrue(c.closed())
            c.close()
            srv.wait_log("PREGREET from %s\\[127.0.0.1\\]" % fcrdns("127.0.0.1"))
            # A patient client gets the banner after greet_pause.
            t0 = time.time()
            c = Raw(srv.port())
            code, _ = c.reply()
            self.assertEqual(code, 220)
            self.assertGreaterEqual(time.time() - t0, 0.9)
            self.assertEqual(c.cmd("EHLO patient.example")[0], 250)
            c.close()


class QueuePath(unittest.TestCase):
    def queue_one(self, srv, mail, rcpts, data):
        """One transaction on the local listener: MAIL, each (RCPT, expected
        code), DATA; returns the queue id and the entry pickup committed."""
        c = Raw(srv.port("local"))
        c.reply()
        c.cmd("EHLO app.example")
        self.assertEqual(c.cmd(mail)[0], 250)
        for rcpt, want in rcpts:
            self.assertEqual(c.cmd(rcpt)[0], want, rcpt)
        c.cmd("DATA")
        code, text = c.cmd(data)
        self.assertEqual(code, 250, text)
        c.cmd("QUIT")
        c.close()
        # The server started relay --flush: pickup commits the entry.
        deadline = time.time() + 20
        while time.time() < deadline and not srv.spool.names("queue"):
            time.sleep(0.1)
        [e] = srv.spool.entries()
        return text.split()[-1], e

    def test_mail_for_the_smarthost_reaches_the_queue_with_dsn(self):
        with Server(listen={"local": 0}, flush_after_submit=True) as srv:
            qid, e = self.queue_one(srv, "MAIL FROM:<app@example.net> RET=HDRS ENVID=job+2B42",
                                    [("RCPT TO:<user@remote.example> NOTIFY=FAILURE,DELAY", 250)],
                                    "Subject: report\r\n\r\nall good\r\n.")
            self.assertEqual(e.id, qid)
            self.assertEqual(e.envelope.sender, "app@example.net")
            self.assertEqual(e.envelope.recipients(), ["user@remote.example"])
            self.assertIn("HDRS", e.envelope_text)
            self.assertIn("FAILURE,DELAY", e.envelope_text)
            self.assertEqual(e.header("Subject"), "report")
            name = fcrdns("127.0.0.1")  # what this machine's resolver says
            self.assertTrue(any(h.startswith("from app.example (%s [127.0.0.1])" % name)
                                for h in e.headers("Received")), e.headers("Received"))

    def test_each_recipient_keeps_its_notify_and_orcpt(self):
        with Server(listen={"local": 0}, flush_after_submit=True) as srv:
            _, e = self.queue_one(srv, "MAIL FROM:<app@example.net>", [
                ("RCPT TO:<one@remote.example> NOTIFY=NEVER", 250),
                ("RCPT TO:<two@remote.example> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;Two+2Bx@remote.example", 250),
                ("RCPT TO:<three@remote.example>", 250),
                ("RCPT TO:<four@remote.example> ORCPT=rfc822;bad+zz", 501)],
                "Subject: dsn\r\n\r\nbody\r\n.")
            rcpts = {}
            cur = None
            for line in e.envelope_text.splitlines():
                k, _, v = line.partition(": ")
                if k == "rcpt":
                    cur = rcpts.setdefault(v, {})
                elif k.startswith("rcpt.") and cur is not None:
                    cur[k[5:]] = v
            self.assertEqual(sorted(rcpts), ["one@remote.example", "three@remote.example",
                                             "two@remote.example"])
            self.assertEqual(rcpts["one@remote.example"].get("notify"), "NEVER")
            self.assertEqual(rcpts["two@remote.example"].get("notify"), "SUCCESS,FAILURE")
            self.assertEqual(rcpts["two@remote.example"].get("orig"), "Two+x@remote.example")
            self.assertIsNone(rcpts["three@remote.example"].get("notify"))



class PeerName(unittest.TestCase):
    """Client host names by forward-confirmed reverse DNS, against the
    system resolver: relay serve runs in a mount namespace of its own where
    /etc/hosts is a file the test wrote, and clients connect from 127.0.0.x
    source addresses."""

    HOSTS = ("127.0.0.1 localhost\n"
             "127.0.0.5 mail.client.test\n"
             "127.0.0.6 bad!name.test\n")

    def start(self, server_config=""):
        srv = Server(listen={"smtp": 0}, mynetworks='["127.0.0.0/8"]', server_config=server_config)
        hosts = os.path.join(srv.root, "hosts")
        with open(hosts, "w") as f:
            f.write(self.HOSTS)
        wrapper = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                   'mount --bind "$0" /etc/hosts && exec "$@"', hosts]
        srv.start(wrapper=wrapper)
        self.addCleanup(srv.cleanup)
        return srv

    def talk(self, srv, source):
        s = socket.create_connection(("127.0.0.1", srv.port()), timeout=10,
                                     source_address=(source, 0))
        f = s.makefile("rb")
        greeting = f.readline()
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        return greeting

    def test_names_confirmed_by_the_resolver(self):
        srv = self.start()
        self.assertTrue(self.talk(srv, "127.0.0.5").startswith(b"220 "))
        srv.wait_log(r"connect from mail\.client\.test\[127\.0\.0\.5\]")
        # A PTR name that is no plain host name is not believed, and an
        # address without one stays unknown.
        self.talk(srv, "127.0.0.6")
        srv.wait_log(r"connect from unknown\[127\.0\.0\.6\]")
        self.talk(srv, "127.0.0.7")
        srv.wait_log(r"connect from unknown\[127\.0\.0\.7\]")
        self.assertNotIn("bad!name", srv.log_text())

    def test_received_header_names_the_client(self):
        srv = self.start()
        s = socket.create_connection(("127.0.0.1", srv.port()), timeout=10,
                                     source_address=("127.0.0.5", 0))
        c = smtplib.SMTP()
        c.sock = s
        c.file = None
        code, _ = c.getreply()
        self.assertEqual(code, 220)
        c.ehlo("app.client.test")
        c.sendmail("app@client.test", ["alice@hosted.example"],
                   b"Subject: names\r\n\r\nhello\r\n")
        c.quit()
        srv.wait_log(r"status=sent", timeout=20)
        inbox = os.path.join(srv.mail, "hosted.example", "alice", "new")
        [name] = os.listdir(inbox)
        with open(os.path.join(inbox, name), "rb") as f:
            text = f.read().decode()
        self.assertIn("Received: from app.client.test (mail.client.test [127.0.0.5])", text)

    def test_lookup_can_be_turned_off(self):
        srv = self.start("peername_lookup = false")
        self.talk(srv, "127.0.0.5")
        srv.wait_log(r"connect from unknown\[127\.0\.0\.5\]")


if __name__ == "__main__":
    unittest.main()
