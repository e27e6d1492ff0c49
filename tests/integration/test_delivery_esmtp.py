"""The mail transaction relay speaks itself: PIPELINING (RFC 2920), the
ESMTP parameters SIZE, BODY=8BITMIME, SMTPUTF8 and DSN, RSET after an
unfinished transaction, and addresses a server without SMTPUTF8 cannot
take. Everything goes sendmail -> queue -> relay --flush -> an aiosmtpd
peer on 127.0.0.1 that announces (and handles) the extension."""

import re
import unittest

from delivery_base import DeliveryBase


class TestPipelining(DeliveryBase):
    def test_transactions_go_out_as_one_group(self):
        p = self.peer(extensions=["PIPELINING"])
        self.configure(p.port)
        for i in range(3):
            self.send("alice@example.org", ["a%d@example.net" % i, "b%d@example.net" % i],
                      [("Subject", "m%d" % i)])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.queue_ids(), [])
        self.assertEqual(sorted(tuple(m.rcpt_tos) for m in p.messages),
                         [("a%d@example.net" % i, "b%d@example.net" % i) for i in range(3)])
        # MAIL, both RCPTs and DATA were in the server's buffer at once.
        self.assertEqual(p.pipelined, [True, True, True])
        self.assertEqual(p.connections, 1)
        self.assertNotIn("RSET", p.commands[0])

    def test_many_recipients_go_in_several_groups(self):
        # 250 RCPT TO: more than one group (100 commands), all answered.
        p = self.peer(extensions=["PIPELINING"],
                      rcpt_replies={"r007@example.net": ["550 5.1.1 no r007"]})
        self.configure(p.port)
        rcpts = ["r%03d@example.net" % i for i in range(250)]
        self.send("alice@example.org", rcpts, [("Subject", "many")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [m for m in p.messages if m.mail_from != "<>"]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].rcpt_tos, [x for x in rcpts if x != "r007@example.net"])
        self.assertRegex(r.stderr, r"to=<r007@example\.net>.*status=bounced \(.*550 5\.1\.1 no r007")
        self.assertEqual(len(re.findall(r"status=sent", r.stderr)), 249 + 1)  # and the notice

    def test_without_pipelining_each_command_waits(self):
        p = self.peer(extensions=["PIPELINING"])
        q = self.peer()  # aiosmtpd as it is: no PIPELINING
        self.configure(q.port)
        self.send("alice@example.org", ["a@example.net", "b@example.net"], [("Subject", "x")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(q.messages[0].rcpt_tos, ["a@example.net", "b@example.net"])
        self.assertEqual(p.pipelined, [])

    def test_per_recipient_replies_in_one_group(self):
        p = self.peer(extensions=["PIPELINING"],
                      rcpt_replies={"gone@example.net": ["550 5.1.1 <gone@example.net>: no such user"],
                                    "later@example.net": ["451 4.3.0 Try again later"]})
        self.configure(p.port)
        self.send("alice@example.org", ["ok@example.net", "gone@example.net", "later@example.net"],
                  [("Subject", "three")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<ok@example\.net>.*status=sent \(250 ")
        self.assertRegex(r.stderr, r"to=<gone@example\.net>.*status=bounced \(host 127\.0\.0\.1"
                                   r"\[127\.0\.0\.1\] said: 550 5\.1\.1 <gone@example\.net>: no such "
                                   r"user \(in reply to RCPT TO command\)\)")
        self.assertRegex(r.stderr, r"to=<later@example\.net>.*status=deferred \(host .* said: "
                                   r"451 4\.3\.0 Try again later \(in reply to RCPT TO command\)\)")
        self.assertEqual(p.messages[0].rcpt_tos, ["ok@example.net"])
        self.assertEqual(p.pipelined[0], True)
        # The deferred one goes next time, alone.
        r = self.relay("--flush", "--now")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.queue_ids(), [])
        self.assertEqual([m.rcpt_tos for m in p.messages if m.mail_from != "<>"],
                         [["ok@example.net"], ["later@example.net"]])

    def test_refused_mail_from_is_reset_before_the_next_message(self):
        p = self.peer(extensions=["PIPELINING"], mail_replies=["451 4.3.0 Busy, try later"])
        self.configure(p.port)
        self.send("alice@example.org", ["first@example.net"], [("Subject", "1")])
        self.send("alice@example.org", ["second@example.net"], [("Subject", "2")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The reply to MAIL FROM explains it, not the 503s that followed it.
        self.assertRegex(r.stderr, r"to=<first@example\.net>.*status=deferred \(host .* said: "
                                   r"451 4\.3\.0 Busy, try later \(in reply to MAIL FROM command\)\)")
        self.assertRegex(r.stderr, r"to=<second@example\.net>.*status=sent")
        self.assertEqual([m.rcpt_tos for m in p.messages], [["second@example.net"]])
        self.assertEqual(p.connections, 1)
        cmds = p.commands[0]
        self.assertEqual(cmds.count("RSET"), 1)
        self.assertLess(cmds.index("RSET"), len(cmds) - cmds[::-1].index("MAIL") - 1)

    def test_421_in_the_middle_of_a_group(self):
        # The server goes away after one RCPT TO was accepted: nothing was
        # sent, so every recipient is deferred, and so is the next message
        # (the relay is given up for the run: one connection, not one per
        # message).
        p = self.peer(extensions=["PIPELINING"],
                      rcpt_replies={"b@example.net": ["421 4.3.2 Shutting down"]})
        self.configure(p.port)
        self.send("alice@example.org", ["a@example.net", "b@example.net", "c@example.net"],
                  [("Subject", "1")])
        self.send("alice@example.org", ["d@example.net"], [("Subject", "2")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(p.messages, [])
        for rcpt in ("a", "b", "c", "d"):
            self.assertRegex(r.stderr, r"to=<%s@example\.net>.*status=deferred \(host .* said: 421 "
                                       r"4\.3\.2 Shutting down \(in reply to RCPT TO command\)\)" % rcpt)
        self.assertEqual(p.connections, 1)
        self.assertEqual(len(self.queue_ids()), 2)
        # Next time it works, each message once.
        r = self.relay("--flush", "--now")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(tuple(m.rcpt_tos) for m in p.messages),
                         [("a@example.net", "b@example.net", "c@example.net"), ("d@example.net",)])

    def test_every_recipient_refused(self):
        p = self.peer(extensions=["PIPELINING"],
                      rcpt_replies={"x@example.net": ["550 5.1.1 no x"], "y@example.net": ["550 5.1.1 no y"]})
        self.configure(p.port)
        self.send("alice@example.org", ["x@example.net", "y@example.net"], [("Subject", "none")])
        self.send("alice@example.org", ["z@example.net"], [("Subject", "after")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<x@example\.net>.*status=bounced \(.*550 5\.1\.1 no x")
        self.assertRegex(r.stderr, r"to=<y@example\.net>.*status=bounced \(.*550 5\.1\.1 no y")
        self.assertRegex(r.stderr, r"to=<z@example\.net>.*status=sent")
        got = [m.rcpt_tos for m in p.messages if m.mail_from != "<>"]
        self.assertEqual(got, [["z@example.net"]])
        # One notification to the sender, listing both.
        dsn = [m for m in p.messages if m.mail_from == "<>"]
        self.assertEqual(len(dsn), 1)
        self.assertIn("Final-Recipient: rfc822; x@example.net", dsn[0].data.decode())
        self.assertIn("Final-Recipient: rfc822; y@example.net", dsn[0].data.decode())


class TestParameters(DeliveryBase):
    def test_dsn_parameters_go_to_a_dsn_server(self):
        p = self.peer(extensions=["DSN"])
        self.configure(p.port)
        self.send("alice@example.org", ["bob@example.net"], [("Subject", "dsn")],
                  args=("-N", "success,delay", "-R", "hdrs", "-V", "env 42"))
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = p.messages[0]
        self.assertIn("RET=HDRS", m.mail_options)
        self.assertIn("ENVID=env+2042", m.mail_options)  # xtext
        self.assertEqual(m.rcpt_options["bob@example.net"], ["NOTIFY=SUCCESS,DELAY"])
        self.assertTrue(any(o.startswith("SIZE=") for o in m.mail_options), m.mail_options)

    def test_orcpt_names_the_address_before_rewriting(self):
        p = self.peer(extensions=["DSN"])
        virtual = self.write("virtual", "postmaster@client.example.org ops@example.net\n")
        self.configure(p.port, rewrite={"virtual_alias_maps": ["texthash:" + virtual]})
        self.send("alice@example.org", ["postmaster@client.example.org", "bob@example.net"],
                  [("Subject", "orcpt")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = p.messages[0]
        self.assertEqual(m.rcpt_tos, ["ops@example.net", "bob@example.net"])
        self.assertEqual(m.rcpt_options["ops@example.net"],
                         ["ORCPT=rfc822;postmaster@client.example.org"])
        self.assertEqual(m.rcpt_options["bob@example.net"], [])  # not rewritten: none

    def test_no_dsn_parameters_without_dsn(self):
        p = self.peer()
        self.configure(p.port)
        self.send("alice@example.org", ["bob@example.net"], [("Subject", "dsn")],
                  args=("-N", "never", "-R", "full"))
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        opts = p.messages[0].mail_options
        self.assertFalse(any(o.startswith(("RET=", "ENVID=")) for o in opts), opts)
        self.assertEqual(p.messages[0].rcpt_options["bob@example.net"], [])

    def test_eight_bit_body_declared(self):
        p = self.peer()
        self.configure(p.port)
        self.send("alice@example.org", ["bob@example.net"],
                  [("Subject", "caf\u00e9"), ("MIME-Version", "1.0"),
                   ("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Transfer-Encoding", "8bit")],
                  body="Gr\u00fc\u00dfe aus K\u00f6ln.\n", args=("-B", "8BITMIME"))
        self.send("alice@example.org", ["carol@example.net"], [("Subject", "plain")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        by_rcpt = {m.rcpt_tos[0]: m for m in p.messages}
        self.assertIn("BODY=8BITMIME", by_rcpt["bob@example.net"].mail_options)
        self.assertIn("Gr\u00fc\u00dfe".encode(), by_rcpt["bob@example.net"].data)
        self.assertFalse(any(o.startswith("BODY=") for o in by_rcpt["carol@example.net"].mail_options))

    def test_message_over_the_size_limit_bounces_unsent(self):
        p = self.peer(size=2000)
        self.configure(p.port)
        self.send("alice@example.org", ["big@example.net"], [("Subject", "big")], body="x" * 70 + "\n" * 1)
        self.send("alice@example.org", ["huge@example.net"], [("Subject", "huge")],
                  body=("y" * 70 + "\n") * 100)
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"to=<big@example\.net>.*status=sent")
        self.assertRegex(r.stderr, r"to=<huge@example\.net>.*status=bounced \(.*552 5\.3\.4 message "
                                   r"size \d+ exceeds size limit 2000 of server 127\.0\.0\.1\[127\.0\.0\.1\]")
        # Never offered to the server: every MAIL FROM it got was a message
        # it took (big@, and the notice to alice@ if it fit the limit too).
        self.assertEqual(sum(c.count("MAIL") for c in p.commands), len(p.messages))
        self.assertNotIn("huge@example.net", [r for m in p.messages for r in m.rcpt_tos])
        self.assertIn("big@example.net", [r for m in p.messages for r in m.rcpt_tos])

    def test_utf8_address_needs_smtputf8(self):
        p = self.peer(smtputf8=False)
        self.configure(p.port)
        self.send("alice@example.org", ["j\u00f6rg@example.net", "b@example.net",
                                        "bob@b\u00fccher.example"], [("Subject", "utf8")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, "to=<j\u00f6rg@example\\.net>.*status=bounced \\(.*553 5\\.6\\.7 "
                                   "SMTPUTF8 is required, but was not offered by host 127\\.0\\.0\\.1")
        self.assertRegex(r.stderr, r"to=<b@example\.net>.*status=sent")
        self.assertRegex(r.stderr, "to=<bob@b\u00fccher\\.example>.*status=sent")
        first = [m for m in p.messages if m.mail_from != "<>"][0]
        # Only the domain had to change: it went as A-labels.
        self.assertEqual(first.rcpt_tos, ["b@example.net", "bob@xn--bcher-kva.example"])
        self.assertNotIn("SMTPUTF8", first.mail_options)

    def test_utf8_address_with_smtputf8(self):
        p = self.peer(smtputf8=True, extensions=["PIPELINING"])
        self.configure(p.port)
        self.send("alice@example.org", ["j\u00f6rg@example.net"], [("Subject", "utf8")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(p.messages[0].rcpt_tos, ["j\u00f6rg@example.net"])
        self.assertIn("SMTPUTF8", p.messages[0].mail_options)


if __name__ == "__main__":
    unittest.main()
