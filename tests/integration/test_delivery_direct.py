"""Direct delivery ([smtp] direct_delivery = true, no relayhost): each
recipient domain's MX hosts, found through a real DNS server (dnsmasq,
started by the test on 127.0.0.1 and named by direct_dns_server), in
preference order with fallback, the domain itself without MX records,
bounces for a null MX and a domain that does not exist, deferral on a
DNS failure, TLS as direct_tls says, and no AUTH ever offered.

The MX hosts are loopback addresses (127.0.0.1, 127.0.0.2; 127.0.0.3 has
no listener), all on one free port: direct_port."""

import os
import shutil
import signal
import subprocess
import time
import unittest

from delivery_base import DeliveryBase
from smtpd_peer import free_port

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class TestDirect(DeliveryBase):
    def start_dns(self):
        port = free_port()
        records = [
            "--mx-host=one.test,mx1.one.test,10", "--mx-host=one.test,mx2.one.test,20",
            "--host-record=mx1.one.test,127.0.0.3", "--host-record=mx2.one.test,127.0.0.1",
            "--mx-host=two.test,mx.two.test,10", "--host-record=mx.two.test,127.0.0.2",
            "--host-record=plain.test,127.0.0.1",
            "--dns-rr=null.test,15,000000",  # RFC 7505: preference 0, host "."
        ] + ["--host-record=d%d.test,127.0.0.1" % i for i in range(12)]
        p = subprocess.Popen([DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                              "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                              "--port=%d" % port, "--local=/test/", "--pid-file=", "--user=root",
                              "--log-facility=-", *records],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (p.send_signal(signal.SIGTERM), p.wait(10)))
        time.sleep(0.3)
        self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
        return port

    def setup_direct(self, direct_tls="may", tls="starttls"):
        dns = self.start_dns()
        port = free_port()
        one = self.peer(host="127.0.0.1", port=port, users=None, tls=tls)
        two = self.peer(host="127.0.0.2", port=port, users=None, tls=tls)
        self.configure(None, smtp={"direct_delivery": True, "direct_port": port,
                                   "direct_dns_server": "127.0.0.1:%d" % dns,
                                   "direct_tls": direct_tls})
        return one, two

    def test_mx_order_fallback_implicit_mx_and_failures(self):
        one, two = self.setup_direct()
        rcpts = ["a@one.test", "b@two.test", "c@plain.test", "d@null.test", "e@nothing.test",
                 "f@broken.invalid"]
        self.submit(*rcpts, sender="alice@one.test")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        log = r.stderr
        # one.test: mx1 (127.0.0.3) refuses the connection, mx2 (127.0.0.1) takes it.
        got1 = sorted(x for m in one.messages for x in m.rcpt_tos)
        got2 = sorted(x for m in two.messages for x in m.rcpt_tos)
        self.assertIn("a@one.test", got1)
        self.assertIn("c@plain.test", got1)
        self.assertEqual(got2, ["b@two.test"])
        self.assertRegex(log, r"to=<a@one\.test>, relay=mx2\.one\.test\[127\.0\.0\.1\]:\d+, .*status=sent")
        self.assertRegex(log, r"to=<b@two\.test>, relay=mx\.two\.test\[127\.0\.0\.2\]:\d+, .*status=sent")
        self.assertRegex(log, r"to=<c@plain\.test>, relay=plain\.test\[127\.0\.0\.1\]:\d+, .*status=sent")
        self.assertRegex(log, r"to=<d@null\.test>, relay=none, .*status=bounced \(Domain null\.test does not accept mail")
        self.assertRegex(log, r"to=<e@nothing\.test>, .*status=bounced \(Host or domain name not found")
        self.assertRegex(log, r"to=<f@broken\.invalid>, .*status=deferred \(Host or domain name not "
                              r"found\. Name service error for name=broken\.invalid type=MX: Host not "
                              r"found, try again\)")
        # TLS was offered and taken; no AUTH to MX hosts.
        for m in one.messages + two.messages:
            self.assertTrue(m.tls)
            self.assertIsNone(m.auth_user)
        for p in (one, two):
            self.assertFalse(any(c.upper().startswith("AUTH") for conn in p.commands for c in conn))
        # The bounce for d and e went back to the sender's domain, directly.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(m.mail_from in ("", "<>") for m in one.messages):
            self.relay("--flush")
            time.sleep(0.1)
        bounces = [m for m in one.messages if m.mail_from in ("", "<>")]
        self.assertEqual(len(bounces), 1)
        self.assertEqual(bounces[0].rcpt_tos, ["alice@one.test"])
        self.assertIn(b"d@null.test", bounces[0].data)
        self.assertIn(b"e@nothing.test", bounces[0].data)
        # f stays queued for a later try.
        self.assertIn("f@broken.invalid", self.relay("mailq").stdout)

    def test_many_domains_in_one_run(self):
        # More domains than a delivery thread keeps connections for: every
        # recipient still arrives, each message once.
        one, two = self.setup_direct()
        rcpts = ["u%d@d%d.test" % (i, i) for i in range(12)]
        self.submit(*rcpts[:6], subject="first")
        self.submit(*rcpts[6:], subject="second")
        self.submit(rcpts[0], rcpts[11], subject="third")
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = sorted(x for m in one.messages for x in m.rcpt_tos)
        self.assertEqual(got, sorted(rcpts + [rcpts[0], rcpts[11]]))
        self.assertEqual(self.queue_ids(), [])

    def test_direct_tls_verify_refuses_an_unverified_mx(self):
        one, two = self.setup_direct(direct_tls="verify")
        self.submit("b@two.test")
        r = self.relay("--flush", "-v")
        self.assertEqual(two.messages, [])
        self.assertRegex(r.stderr, r"to=<b@two\.test>, .*status=deferred")
        self.assertIn("b@two.test", self.relay("mailq").stdout)

    def test_direct_tls_encrypt_and_none(self):
        # encrypt: an MX without STARTTLS gets nothing (never plaintext);
        # may and none: it gets the message in plaintext.
        one, two = self.setup_direct(direct_tls="encrypt", tls="none")
        self.submit("b@two.test")
        r = self.relay("--flush", "-v")
        self.assertEqual(two.messages, [])
        self.assertRegex(r.stderr, r"to=<b@two\.test>, .*status=deferred")
        for level in ("may", "none"):
            text = open(self.cfg).read()
            text = text.replace('"encrypt"', '"%s"' % level).replace('"may"', '"%s"' % level)
            with open(self.cfg, "w") as f:
                f.write(text)
            self.submit("c@two.test", subject=level)
            r = self.relay("--flush", "--now", "-v")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len([m for m in two.messages if "c@two.test" in m.rcpt_tos]), 2)
        self.assertTrue(all(not m.tls for m in two.messages))

    def test_without_direct_delivery_mail_stays_queued(self):
        self.start_dns()
        self.configure(None)
        self.submit("b@two.test")
        r = self.relay("--flush", "-v")
        self.assertIn("no relayhost configured: mail stays queued", r.stderr)
        self.assertIn("b@two.test", self.relay("mailq").stdout)


if __name__ == "__main__":
    unittest.main()
