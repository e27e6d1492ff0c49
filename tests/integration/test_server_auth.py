"""relay serve: STARTTLS, implicit TLS, AUTH against the argon2id users
file (relay passwd), the brute-force limit and the sender login check."""

import os
import re
import smtplib
import ssl
import stat
import subprocess
import unittest

from serverharness import HOSTNAME, Raw, Server

# fail2ban's postfix-sasl filter (filter.d/postfix.conf, mode "auth"), in
# Python syntax.
FAIL2BAN = re.compile(r"warning: [-._\w]+\[(?P<host>[^\]]+)\]: SASL ((?i:LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5)) "
                      r"authentication failed(: [ A-Za-z0-9+/]*={0,2})?\s*$")


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(listen={"smtp": 0, "submission": 0, "smtps": 0}, tls=True,
                         server_config="auth_failure_limit = 3")
        cls.srv.add_user("alice@hosted.example", "correct horse")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_users_file_is_private_argon2id(self):
        st = os.stat(self.srv.users_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.srv.users_file) as f:
            line = f.read()
        self.assertTrue(line.startswith("alice@hosted.example:$argon2id$"), line)
        self.assertNotIn("correct horse", line)

    def test_submission_requires_starttls_then_auth(self):
        with smtplib.SMTP("127.0.0.1", self.srv.port("submission"), timeout=20) as s:
            s.ehlo("mua.example")
            self.assertFalse(s.has_extn("auth"))
            self.assertTrue(s.has_extn("starttls"))
            code, _ = s.mail("alice@hosted.example")
            self.assertEqual(code, 530)
            s.starttls(context=self.srv.client_context())
            s.ehlo("mua.example")
            self.assertIn("PLAIN", s.esmtp_features["auth"])
            code, _ = s.mail("alice@hosted.example")
            self.assertEqual(code, 530)  # authentication required
            s.rset()
            s.login("alice@hosted.example", "correct horse")
            refused = s.sendmail("alice@hosted.example", ["friend@remote.example"],
                                 b"Subject: from my phone\r\n\r\nhi\r\n")
            self.assertEqual(refused, {})
        self.assertTrue(self.srv.maildrop())
        self.srv.wait_log("sasl_username=alice@hosted.example")

    def test_smtps_implicit_tls_and_login_mechanism(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.srv.port("smtps"), timeout=20,
                              context=self.srv.client_context()) as s:
            s.ehlo("mua.example")
            self.assertNotIn("starttls", s.esmtp_features)
            s.user, s.password = "alice@hosted.example", "correct horse"
            code, _ = s.auth("LOGIN", s.auth_login)
            self.assertEqual(code, 235)
            code, text = s.mail("bob@hosted.example")
            self.assertEqual(code, 553, text)  # not alice's address
            self.assertIn(b"not owned by user alice@hosted.example", text)
            s.rset()
            self.assertEqual(s.mail("alice@hosted.example")[0], 250)
            self.assertEqual(s.rcpt("bob@hosted.example")[0], 250)

    def test_tls_1_1_refused(self):
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with self.assertRaises(ssl.SSLError) as cm:
            smtplib.SMTP_SSL("127.0.0.1", self.srv.port("smtps"), timeout=10, context=ctx).quit()
        # The server's alert, not the client library refusing to try.
        self.assertIn("ALERT_PROTOCOL_VERSION", str(cm.exception))

    def test_starttls_injection_is_discarded(self):
        c = Raw(self.srv.port("smtp"))
        c.reply()
        c.cmd("EHLO c.example")
        # A man in the middle appends a command to STARTTLS in the same packet.
        c.send("STARTTLS\r\nHELP\r\n")
        code, _ = c.reply()
        self.assertEqual(code, 220)
        c.starttls(self.srv.client_context())
        code, text = c.cmd("NOOP")
        # The first reply after the handshake answers NOOP, not the HELP.
        self.assertEqual(code, 250, text)
        self.assertEqual(c.cmd("MAIL FROM:<a@outside.example>")[0], 503)  # state was reset
        code, text = c.cmd("EHLO c.example")
        self.assertNotIn("STARTTLS", text)
        c.close()

    def test_plaintext_after_starttls_breaks_the_handshake(self):
        c = Raw(self.srv.port("smtp"))
        c.reply()
        c.cmd("EHLO c.example")
        c.send("STARTTLS\r\n")
        self.assertEqual(c.reply()[0], 220)
        c.send("MAIL FROM:<evil@outside.example>\r\n")
        self.assertTrue(c.closed())
        c.close()


class BruteForce(unittest.TestCase):
    def setUp(self):
        self.srv = Server(listen={"submission": 0}, tls=True, server_config="auth_failure_limit = 3")
        self.srv.add_user("alice@hosted.example", "correct horse")
        self.srv.start()
        self.addCleanup(self.srv.cleanup)

    def test_brute_force_is_limited_and_logged_for_fail2ban(self):
        srv = self.srv
        with smtplib.SMTP("127.0.0.1", srv.port("submission"), timeout=30) as s:
            s.starttls(context=srv.client_context())
            s.ehlo("bot.example")
            for i in range(3):
                s.user, s.password = "alice@hosted.example", "guess%d" % i
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.auth("PLAIN" if i % 2 else "LOGIN", s.auth_plain if i % 2 else s.auth_login)
                self.assertEqual(cm.exception.smtp_code, 535)
            code, text = s.docmd("AUTH", "PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAGNvcnJlY3QgaG9yc2U=")
            self.assertEqual(code, 421, text)
        # A new connection from the same address is refused at AUTH too,
        # even with the right password.
        with smtplib.SMTP("127.0.0.1", srv.port("submission"), timeout=30) as s:
            s.starttls(context=srv.client_context())
            s.ehlo("bot.example")
            code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAGNvcnJlY3QgaG9yc2U=")
            self.assertEqual(code, 421)
        lines = [l for l in srv.log_text().splitlines() if "authentication failed" in l]
        self.assertGreaterEqual(len(lines), 3)
        for l in lines:
            m = FAIL2BAN.search(l)
            self.assertTrue(m, l)
            self.assertEqual(m.group("host"), "127.0.0.1")



class Passwd(unittest.TestCase):
    def test_passwd_changes_take_effect_without_reload(self):
        with Server(listen={"submission": 0}, tls=True) as srv:
            srv.add_user("alice@hosted.example", "first")
            srv.add_user("bob@hosted.example", "bobpw")

            def login(user, pw):
                with smtplib.SMTP("127.0.0.1", srv.port("submission"), timeout=20) as s:
                    s.starttls(context=srv.client_context())
                    try:
                        s.login(user, pw)
                        return True
                    except smtplib.SMTPAuthenticationError:
                        return False

            self.assertTrue(login("alice@hosted.example", "first"))
            srv.add_user("alice@hosted.example", "second")
            self.assertFalse(login("alice@hosted.example", "first"))
            self.assertTrue(login("alice@hosted.example", "second"))
            self.assertTrue(login("bob@hosted.example", "bobpw"))
            srv.relay("passwd", "-d", "bob@hosted.example").check()
            self.assertFalse(login("bob@hosted.example", "bobpw"))
            self.assertFalse(login("nobody@hosted.example", "x"))
            with open(srv.users_file) as f:
                self.assertEqual([l.split(":")[0] for l in f.read().split()], ["alice@hosted.example"])

    def test_passwd_refuses_an_empty_password_and_bad_names(self):
        with Server(listen={"smtp": 0}) as srv:
            r = srv.relay("passwd", "alice@hosted.example", stdin=b"\n")
            self.assertEqual(r.rc, 65, r.err)
            r = srv.relay("passwd", "bad:name", stdin=b"pw\n")
            self.assertEqual(r.rc, 64, r.err)
            self.assertFalse(os.path.exists(srv.users_file))


if __name__ == "__main__":
    unittest.main()
