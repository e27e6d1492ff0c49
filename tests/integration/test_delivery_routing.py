"""Per-sender routing: sender_dependent_relayhost_maps picks the smarthost,
sender_dependent_authentication the account; mail of one route shares a
connection, two routes never do."""

import os
import unittest

from delivery_base import DeliveryBase


class TestSenderRouting(DeliveryBase):
    def test_two_senders_two_peers_two_accounts(self):
        pa = self.peer(users={"alice-account": "pw-alice"})
        pb = self.peer(users={"bob-account": "pw-bob"})
        relays = self.write("relays",
                            "alice@example.org   [127.0.0.1]:%d\n"
                            "@bob.example        [127.0.0.1]:%d\n" % (pa.port, pb.port), mode=0o644)
        sasl = self.write("sasl_passwd",
                          "alice@example.org   alice-account:pw-alice\n"
                          "@bob.example        bob-account:pw-bob\n")
        # No default relayhost at all: every message is routed by its sender.
        self.configure(None, smtp={"sender_dependent_relayhost_maps": "hash:" + relays,
                                   "sasl_password_maps": "hash:" + sasl,
                                   "sender_dependent_authentication": True,
                                   "username": None, "password_file": None})
        for i in range(3):
            self.send("alice@example.org", ["a%d@example.net" % i], [("Subject", "a%d" % i)])
            self.send("bob@bob.example", ["b%d@example.net" % i], [("Subject", "b%d" % i)])
        self.send("nobody@elsewhere.test", ["c@example.net"], [("Subject", "c")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)

        self.assertEqual(sorted(m.rcpt_tos[0] for m in pa.messages),
                         ["a0@example.net", "a1@example.net", "a2@example.net"])
        self.assertEqual(sorted(m.rcpt_tos[0] for m in pb.messages),
                         ["b0@example.net", "b1@example.net", "b2@example.net"])
        self.assertTrue(all(m.auth_user == "alice-account" and m.tls for m in pa.messages))
        self.assertTrue(all(m.auth_user == "bob-account" and m.tls for m in pb.messages))
        # One connection (and one AUTH) per route.
        self.assertEqual(pa.connections, 1)
        self.assertEqual(pb.connections, 1)
        self.assertEqual([a[1:] for a in pa.auth_attempts], [("alice-account", True)])
        self.assertEqual([a[1:] for a in pb.auth_attempts], [("bob-account", True)])
        # The sender without a route stays queued, and says why.
        self.assertRegex(r.stderr, r"no relayhost for sender <nobody@elsewhere\.test>: mail stays queued")
        ids = self.queue_ids()
        self.assertEqual(len(ids), 1)
        self.assertIn("sender: nobody@elsewhere.test", self.envelope(ids[0]))
        self.assertIn("tries: 0", self.envelope(ids[0]))

    def test_same_relay_two_accounts_never_share_a_connection(self):
        p = self.peer(users={"alice-account": "pw-alice", "relay-account": "pw-relay"})
        sasl = self.write("sasl_passwd",
                          "alice@example.org        alice-account:pw-alice\n"
                          "[127.0.0.1]:%d           relay-account:pw-relay\n" % p.port)
        self.configure(p.port, smtp={"sasl_password_maps": "hash:" + sasl,
                                     "sender_dependent_authentication": True,
                                     "username": None, "password_file": None})
        self.send("alice@example.org", ["x@example.net"], [("Subject", "1")])
        self.send("carol@example.org", ["y@example.net"], [("Subject", "2")])
        self.send("alice@example.org", ["z@example.net"], [("Subject", "3")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        by_rcpt = {m.rcpt_tos[0]: m for m in p.messages}
        self.assertEqual(by_rcpt["x@example.net"].auth_user, "alice-account")
        self.assertEqual(by_rcpt["z@example.net"].auth_user, "alice-account")
        self.assertEqual(by_rcpt["y@example.net"].auth_user, "relay-account")  # by relay
        self.assertEqual(by_rcpt["x@example.net"].connection, by_rcpt["z@example.net"].connection)
        self.assertNotEqual(by_rcpt["x@example.net"].connection, by_rcpt["y@example.net"].connection)
        self.assertEqual(p.connections, 2)

    def test_without_sender_dependent_authentication_the_relay_entry_is_used(self):
        p = self.peer(users={"relay-account": "pw-relay"})
        sasl = self.write("sasl_passwd",
                          "alice@example.org        alice-account:pw-alice\n"
                          "[127.0.0.1]:%d           relay-account:pw-relay\n" % p.port)
        self.configure(p.port, smtp={"sasl_password_maps": "hash:" + sasl,
                                     "username": None, "password_file": None})
        self.send("alice@example.org", ["x@example.net"], [("Subject", "1")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([m.auth_user for m in p.messages], ["relay-account"])

    def test_dunno_and_null_sender_route(self):
        main = self.peer()
        bounces = self.peer()
        relays = self.write("relays",
                            "@keep.example   DUNNO\n"
                            "<>              [127.0.0.1]:%d\n" % bounces.port, mode=0o644)
        self.configure(main.port, smtp={"sender_dependent_relayhost_maps": "hash:" + relays})
        main.scripts["rcpt"]["gone@example.net"] = ["550 5.1.1 no such user"]
        self.send("x@keep.example", ["gone@example.net"], [("Subject", "t")])
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        # DUNNO: the message went to the default relayhost, and bounced there;
        # the notification (from <>) took the "<>" route.
        self.assertEqual(len(main.messages), 0)
        self.assertEqual(len(bounces.messages), 1)
        self.assertEqual(bounces.messages[0].mail_from, "<>")
        self.assertEqual(bounces.messages[0].rcpt_tos, ["x@keep.example"])
        self.assertEqual(main.connections, 1)


if __name__ == "__main__":
    unittest.main()
