"""smtp_generic_maps: what reaches the smarthost is rewritten (envelope and
address headers), what stays in the queue and shows in mailq is not."""

import json
import os
import unittest

from delivery_base import DeliveryBase


class TestGenericMaps(DeliveryBase):
    def setUp(self):
        super().setUp()
        self.map = self.write("generic",
                              "alice@example.org      alice.smith@public.example\n"
                              "@client.example.org    @public.example\n"
                              "bob@internal.test      robert@public.example\n", mode=0o644)

    def test_rewritten_on_the_wire_only(self):
        p = self.peer(rcpt_replies={"dave@example.net": ["451 4.3.0 Try again later"]})
        self.configure(p.port, rewrite={"smtp_generic_maps": ["texthash:" + self.map]})
        body = "Mail for alice@example.org stays as written.\nFrom: alice@example.org\n"
        self.send("alice@example.org", ["bob@internal.test", "dave@example.net"],
                  [("From", "Alice Example <alice@example.org>"),
                   ("To", "bob@internal.test, Dave <dave@example.net>"),
                   ("Cc", "\"Carol\" <carol@client.example.org>"),
                   ("Reply-To", "alice@example.org (Alice)"),
                   ("Resent-From", "root@client.example.org"),
                   ("Subject", "about alice@example.org")], body=body)
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)

        # What arrived: rewritten envelope and address headers.
        self.assertEqual(len(p.messages), 1, r.stderr)
        m = p.messages[0]
        self.assertEqual(m.mail_from, "alice.smith@public.example")
        self.assertEqual(m.rcpt_tos, ["robert@public.example"])
        head, _, got_body = m.data.decode().partition("\r\n\r\n")
        self.assertIn("\r\nFrom: Alice Example <alice.smith@public.example>\r\n", "\r\n" + head + "\r\n")
        self.assertIn("To: robert@public.example, Dave <dave@example.net>", head)
        self.assertIn("Cc: \"Carol\" <carol@public.example>", head)
        self.assertIn("Reply-To: alice.smith@public.example (Alice)", head)
        self.assertIn("Resent-From: root@public.example", head)
        self.assertIn("Subject: about alice@example.org", head)  # not an address header
        self.assertEqual(got_body, body.replace("\n", "\r\n"))  # the body is never touched

        # The log names the queued addresses, as Postfix does.
        self.assertRegex(r.stderr, r"to=<bob@internal\.test>.*status=sent")
        self.assertRegex(r.stderr, r"to=<dave@example\.net>.*status=deferred")

        # The queue is unchanged: envelope and message as submitted.
        ids = self.queue_ids()
        self.assertEqual(len(ids), 1)
        env = self.envelope(ids[0])
        self.assertIn("sender: alice@example.org\n", env)
        self.assertIn("rcpt: bob@internal.test\nrcpt.status: sent", env)
        self.assertIn("rcpt: dave@example.net\nrcpt.status: pending", env)
        text = self.message_file(ids[0])
        self.assertIn("From: Alice Example <alice@example.org>\n", text)
        self.assertIn("Cc: \"Carol\" <carol@client.example.org>\n", text)
        self.assertNotIn("public.example", text)
        q = self.relay("mailq", "--json")
        entry = json.loads(q.stdout.splitlines()[0])
        self.assertEqual(entry["sender"], "alice@example.org")
        self.assertNotIn("public.example", q.stdout)

        # The retry is rewritten the same way.
        r = self.relay("--flush", "--now", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(p.messages), 2)
        self.assertEqual(p.messages[1].mail_from, "alice.smith@public.example")
        self.assertEqual(p.messages[1].rcpt_tos, ["dave@example.net"])
        self.assertIn(b"From: Alice Example <alice.smith@public.example>\r\n", p.messages[1].data)
        self.assertEqual(self.queue_ids(), [])

    def test_bounce_keeps_null_sender_and_original_addresses(self):
        p = self.peer(rcpt_replies={"robert@public.example": ["550 5.1.1 no such user"]})
        self.configure(p.port, rewrite={"smtp_generic_maps": ["texthash:" + self.map]})
        self.send("alice@example.org", ["bob@internal.test"],
                  [("From", "alice@example.org"), ("Subject", "t")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The notification goes to the rewritten sender from <>, and reports
        # the recipient as queued (Final-Recipient is not rewritten).
        self.assertEqual(len(p.messages), 1, r.stderr)
        dsn = p.messages[0]
        self.assertEqual(dsn.mail_from, "<>")
        self.assertEqual(dsn.rcpt_tos, ["alice.smith@public.example"])
        self.assertIn(b"Final-Recipient: rfc822; bob@internal.test", dsn.data)

    def test_unopenable_map_keeps_mail_queued(self):
        p = self.peer()
        self.configure(p.port, rewrite={"smtp_generic_maps": ["texthash:" + self.map + ".missing"]})
        self.send("alice@example.org", ["bob@internal.test"], [("Subject", "t")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("smtp_generic_maps", r.stderr)
        self.assertEqual(len(p.messages), 0)
        self.assertEqual(len(self.queue_ids()), 1)


if __name__ == "__main__":
    unittest.main()
