"""mail user agents sending through relay, checked at a real smarthost.

Three front ends hand relay a message, `relay --flush` delivers it to an
aiosmtpd smarthost (STARTTLS + AUTH), and the test reads what arrived
with Python's email package:

  s-nail 14.9 (Debian's)   -S mta=RELAY: s-nail runs the file-based MTA
                           with argv[0] "sendmail" (its mta-argv0 default),
                           the recipients as arguments after "--".
  bsd-mailx (Debian's)     calls /usr/sbin/sendmail -i -t (hard-coded): it
                           runs in a private mount namespace where relay is
                           bind-mounted over /usr/sbin/sendmail.
  relay's own mail(1)      the `mail` name (argv[0] dispatch) and `relay
                           mail`: -s -c -b -r -a -E, usage errors, --help.

relay finds its configuration through RELAY_CONFIG (the MUAs pass their
environment on), and runs as root, not set-gid, so it honours it.
"""

import base64
import email
import email.header
import email.policy
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Peer, make_certs

S_NAIL = "/usr/bin/s-nail"
BSD_MAILX = "/usr/bin/bsd-mailx"
SENDMAIL = "/usr/sbin/sendmail"

PASSWORD = "mailx-s3cret"


def parse(data):
    """The message as it arrived (CRLF on the wire), read with LF line ends."""
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)


def raw_header_block(data):
    return data.split(b"\r\n\r\n", 1)[0]


class MailxBase(unittest.TestCase):
    """A spool whose relayhost is a fresh peer; deliver() flushes to it."""

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.top = tempfile.mkdtemp(prefix="relaytest-mailx-")
        cls.certs = make_certs(os.path.join(cls.top, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def setUp(self):
        self.peer = Peer(tempfile.mkdtemp(dir=self.top), certs=self.certs,
                         users={"relay@example.org": PASSWORD}).start()
        self.addCleanup(self.peer.stop)
        self.sp = rt.Spool(root=tempfile.mkdtemp(dir=self.top), init=False)
        self.addCleanup(self.sp.cleanup)
        pw = os.path.join(self.sp.root, "password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        self.sp.write_config(
            'myhostname = "mua-host.example.net"\nmyorigin = "example.net"\n'
            'relayhost = "[127.0.0.1]:%d"\n\n'
            '[queue]\ndirectory = "%s"\nflush_after_submit = false\nmin_free_bytes = "1M"\n\n'
            '[rewrite]\nalias_maps = []\n\n'
            '[smtp]\nca_file = "%s"\nusername = "relay@example.org"\npassword_file = "%s"\n'
            'connect_timeout = 5\ncommand_timeout = 10\n'
            % (self.peer.port, self.sp.spool, self.certs.ca, pw))
        self.sp.init()
        self.delivered = 0

    def env(self, **extra):
        e = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC", "HOME": self.sp.root,
             "RELAY_CONFIG": self.sp.config, "MAILRC": "/dev/null"}
        e.update(extra)
        return e

    def deliver(self, expected=1):
        """Flushes the queue and returns the EXPECTED new peer messages."""
        self.sp.flush()
        self.assertTrue(self.peer.wait_for_messages(self.delivered + expected, timeout=10),
                        "peer got %d message(s), expected %d more"
                        % (len(self.peer.messages) - self.delivered, expected))
        new = self.peer.messages[self.delivered:]
        self.delivered = len(self.peer.messages)
        self.assertEqual(len(new), expected, new)
        self.assertEqual(self.sp.names("queue"), [])
        return new

    def assert_nothing_queued(self):
        self.assertEqual(self.sp.names("maildrop"), [])
        self.assertEqual(self.sp.names("queue"), [])

    def decoded_subject(self, data):
        raw = parse(data)["Subject"]
        return str(raw)


# ---------------------------------------------------------------- s-nail

@unittest.skipUnless(os.access(S_NAIL, os.X_OK), "s-nail is installed by .ci/deps")
class SNail(MailxBase):
    def snail(self, args, body, **env):
        # -n: no system mailrc; -Sv15-compat is not needed for -S mta=.
        # sendwait: s-nail waits for the MTA and reports its exit status.
        argv = [S_NAIL, "-n", "-Smta=" + self.sp.binary, "-Ssendwait"]
        argv += args
        p = subprocess.run(argv, input=body, capture_output=True, env=self.env(**env),
                           cwd=self.sp.root, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p

    def test_8bit_subject_recipients_and_body(self):
        self.snail(["-s", "Sübject ümlaut", "-r", "Alice Sender <alice@example.net>",
                    "rcpt1@example.com", "rcpt2"], "plain line\ncafé line\n".encode())
        [m] = self.deliver()
        # -r sets s-nail's From: and `-f addr` for the MTA: the envelope sender.
        self.assertEqual(m.mail_from, "alice@example.net")
        # "rcpt2" is qualified with myorigin, in the envelope and in To:.
        self.assertEqual(m.rcpt_tos, ["rcpt1@example.com", "rcpt2@example.net"])
        msg = parse(m.data)
        self.assertEqual(str(msg["Subject"]), "Sübject ümlaut")
        # s-nail itself encodes the subject (RFC 2047); relay keeps it as is.
        self.assertRegex(raw_header_block(m.data).decode("ascii"), r"(?mi)^Subject: =\?utf-8\?")
        self.assertEqual(msg["To"].addresses[0].addr_spec, "rcpt1@example.com")
        self.assertEqual(msg["To"].addresses[1].addr_spec, "rcpt2@example.net")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "alice@example.net")
        self.assertEqual(msg["From"].addresses[0].display_name, "Alice Sender")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg.get_content(), "plain line\ncafé line\n")
        self.assertEqual(len(msg.get_all("Date")), 1)
        self.assertEqual(len(msg.get_all("Message-ID")), 1)

    def test_bcc_as_argument_only(self):
        # s-nail's default: Bcc receivers are MTA arguments, never a header.
        self.snail(["-s", "cc bcc", "-c", "cc@example.com", "-b", "hidden@example.com",
                    "rcpt@example.com"], b"body cc bcc\n")
        [m] = self.deliver()
        self.assertEqual(sorted(m.rcpt_tos),
                         ["cc@example.com", "hidden@example.com", "rcpt@example.com"])
        self.assertNotIn(b"hidden@example.com", raw_header_block(m.data))
        msg = parse(m.data)
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(str(msg["Cc"]), "cc@example.com")

    def test_bcc_header_with_t_is_removed(self):
        # mta-bcc-ok + -t: s-nail leaves Bcc: in the message and passes no
        # receivers; relay (sendmail -t) must take it as a recipient and
        # remove the header, as RFC 5322 3.6.3 wants.
        self.snail(["-Smta-bcc-ok", "-Smta-no-receiver-arguments", "-Smta-arguments=-t",
                    "-s", "template", "-b", "hidden@example.com", "rcpt@example.com"],
                   b"body via -t\n")
        [m] = self.deliver()
        self.assertEqual(sorted(m.rcpt_tos), ["hidden@example.com", "rcpt@example.com"])
        self.assertNotIn(b"hidden@example.com", raw_header_block(m.data))
        self.assertNotIn(b"\r\nBcc:", raw_header_block(m.data))
        self.assertEqual(parse(m.data).get_content(), "body via -t\n")


# ---------------------------------------------------------------- bsd-mailx

@unittest.skipUnless(os.access(BSD_MAILX, os.X_OK), "bsd-mailx is installed by .ci/deps")
@unittest.skipUnless(os.geteuid() == 0, "a mount namespace needs root (CI runs as root)")
class BsdMailx(MailxBase):
    """bsd-mailx execs /usr/sbin/sendmail: relay is bound over it in a
    private mount namespace, so only the mailx process tree sees it."""

    SCRIPT = ('set -e; mount --bind "$1" /usr/sbin/sendmail; shift; '
              'exec "$@"')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(SENDMAIL):
            raise AssertionError("%s does not exist: nothing to bind relay over" % SENDMAIL)

    def mailx(self, args, body):
        argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", self.SCRIPT,
                "relaytest-mailx-ns", self.sp.binary, BSD_MAILX] + args
        env = self.env(PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        p = subprocess.run(argv, input=body, capture_output=True, env=env, cwd=self.sp.root,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p

    def test_8bit_subject_cc_bcc(self):
        self.mailx(["-s", "Sübject ümlaut", "-c", "cc@example.com", "-b", "hidden@example.com",
                    "rcpt@example.com"], "subj ümlaut\n".encode())
        [m] = self.deliver()
        # bsd-mailx writes To/Cc/Bcc headers and runs `sendmail -i -t`.
        self.assertEqual(sorted(m.rcpt_tos),
                         ["cc@example.com", "hidden@example.com", "rcpt@example.com"])
        head = raw_header_block(m.data)
        self.assertNotIn(b"hidden@example.com", head)
        self.assertNotIn(b"\r\nBcc:", head)
        msg = parse(m.data)
        # bsd-mailx sends the subject as raw UTF-8 (no RFC 2047); relay,
        # like Postfix, passes the 8-bit header through unchanged to a
        # smarthost that offers 8BITMIME.
        self.assertIn("\r\nSubject: Sübject ümlaut\r\n".encode(), head)
        self.assertEqual(str(msg["Subject"]), "Sübject ümlaut")
        self.assertEqual(str(msg["Cc"]), "cc@example.com")
        self.assertEqual(msg.get_content(), "subj ümlaut\n")
        # The author is the submitting user (root), qualified by relay.
        self.assertEqual(m.mail_from, "root@example.net")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "root@example.net")

    def test_r_sender_and_a_header(self):
        self.mailx(["-s", "with -r", "-r", "sender@example.net", "-a", "X-Extra: yes",
                    "rcpt@example.com"], b"body with from\n")
        [m] = self.deliver()
        self.assertEqual(m.mail_from, "sender@example.net")
        self.assertEqual(m.rcpt_tos, ["rcpt@example.com"])
        msg = parse(m.data)
        self.assertEqual(str(msg["From"]), "sender@example.net")
        self.assertEqual(str(msg["X-Extra"]), "yes")
        self.assertEqual(str(msg["Subject"]), "with -r")


# ---------------------------------------------------------------- relay's mail

class RelayMail(MailxBase):
    """relay's own mail/mailx front end (src/cli/mailx.cpp)."""

    def mail(self, args, body=b"", name="mail", expected=0):
        if name == "relay":
            args = ["mail"] + list(args)
        r = self.sp.run(args, body, name=name)
        r.check(expected)
        return r

    def test_subject_rfc2047_cc_bcc_from(self):
        subject = "Überwachung: Plattenplatz knapp – 95 %"
        self.mail(["-s", subject, "-c", "cc1@example.com, Carol <cc2@example.org>",
                   "-b", "hidden@example.com", "-r", "Monitor <monitor@example.net>",
                   "ops@example.com"], b"disk almost full\n")
        [m] = self.deliver()
        self.assertEqual(m.mail_from, "monitor@example.net")
        self.assertEqual(m.rcpt_tos, ["ops@example.com", "cc1@example.com", "cc2@example.org",
                                      "hidden@example.com"])
        head = raw_header_block(m.data)
        # Non-ASCII subject: RFC 2047 encoded words, ASCII on the wire.
        head.decode("ascii")
        self.assertRegex(head.decode(), r"(?mi)^Subject: =\?utf-8\?[bq]\?")
        self.assertNotIn(b"hidden@example.com", head)
        self.assertNotIn(b"\r\nBcc:", head)
        msg = parse(m.data)
        self.assertEqual(str(msg["Subject"]), subject)
        self.assertEqual([a.addr_spec for a in msg["Cc"].addresses],
                         ["cc1@example.com", "cc2@example.org"])
        self.assertEqual(msg["Cc"].addresses[1].display_name, "Carol")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "monitor@example.net")
        self.assertEqual(msg["From"].addresses[0].display_name, "Monitor")
        self.assertEqual(str(msg["To"]), "ops@example.com")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content(), "disk almost full\n")

    def test_relay_mail_command(self):
        # "relay mail" is the same front end.
        self.mail(["-s", "via relay mail", "root"], b"hello\n", name="relay")
        [m] = self.deliver()
        self.assertEqual(m.rcpt_tos, ["root@example.net"])
        self.assertEqual(str(parse(m.data)["Subject"]), "via relay mail")

    def test_utf8_body_declares_charset(self):
        body = "Grüße aus Köln\nτεστ ✓\n"
        self.mail(["-s", "utf-8", "a@example.com"], body.encode())
        [m] = self.deliver()
        msg = parse(m.data)
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertIn(msg["Content-Transfer-Encoding"].lower(), ("8bit", "quoted-printable"))
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content(), body)

    def test_ascii_body_is_plain(self):
        self.mail(["-s", "ascii", "a@example.com"], b"just ascii\n")
        [m] = self.deliver()
        msg = parse(m.data)
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertIn(msg.get_content_charset(), ("us-ascii", None))

    def test_attachments_mime_structure(self):
        pdf = os.path.join(self.sp.root, "report.pdf")
        pdf_data = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
        with open(pdf, "wb") as f:
            f.write(pdf_data)
        blob = os.path.join(self.sp.root, "dump.bin.unknownext")
        blob_data = os.urandom(3000)
        with open(blob, "wb") as f:
            f.write(blob_data)
        txt = os.path.join(self.sp.root, "notes.txt")
        with open(txt, "wb") as f:
            f.write("line one\nzweite Zeile: äöü\n".encode())
        self.mail(["-s", "report", "-a", pdf, "-a", blob, "-a", txt, "boss@example.com"],
                  b"see attached\n")
        [m] = self.deliver()
        msg = parse(m.data)
        self.assertTrue(msg.is_multipart())
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = list(msg.iter_parts())
        self.assertEqual(len(parts), 4, [p.get_content_type() for p in parts])
        text, p_pdf, p_blob, p_txt = parts
        self.assertEqual(text.get_content_type(), "text/plain")
        self.assertEqual(text.get_content(), "see attached\n")
        self.assertIsNone(text.get_filename())

        self.assertEqual(p_pdf.get_content_type(), "application/pdf")
        self.assertEqual(p_pdf["Content-Transfer-Encoding"].lower(), "base64")
        self.assertEqual(p_pdf.get_filename(), "report.pdf")
        self.assertEqual(p_pdf.get_content_disposition(), "attachment")
        self.assertEqual(p_pdf.get_content(), pdf_data)
        # base64 in lines of at most 76 characters.
        encoded = p_pdf.get_payload()
        self.assertTrue(all(len(l) <= 76 for l in encoded.splitlines()))
        self.assertEqual(base64.b64decode(encoded), pdf_data)

        self.assertEqual(p_blob.get_content_type(), "application/octet-stream")
        self.assertEqual(p_blob["Content-Transfer-Encoding"].lower(), "base64")
        self.assertEqual(p_blob.get_filename(), "dump.bin.unknownext")
        self.assertEqual(p_blob.get_content(), blob_data)

        self.assertEqual(p_txt.get_content_type(), "text/plain")
        self.assertEqual(p_txt.get_filename(), "notes.txt")
        self.assertEqual(p_txt.get_content(), "line one\nzweite Zeile: äöü\n")

    def test_a_header_compatibility(self):
        # bsd-mailx's `-a "Header: value"` (apticron, Icinga2): no such file,
        # so it is a header, not an attachment.
        self.mail(["-s", "hdr", "-a", "X-Monitoring: check_disk", "-a",
                   "Reply-To: noc@example.org", "a@example.com"], b"body\n")
        [m] = self.deliver()
        msg = parse(m.data)
        self.assertFalse(msg.is_multipart())
        self.assertEqual(str(msg["X-Monitoring"]), "check_disk")
        self.assertEqual(str(msg["Reply-To"]), "noc@example.org")
        self.assertEqual(msg.get_content(), "body\n")

    def test_E_with_empty_body_sends_nothing(self):
        r = self.mail(["-E", "-s", "nothing to report", "a@example.com"], b"")
        self.assert_nothing_queued()
        r = self.mail(["-E", "-s", "nothing to report", "a@example.com"], b"\n  \n")
        self.assert_nothing_queued()
        self.sp.flush()
        self.assertEqual(self.peer.messages, [])
        # ... and with a body it is sent.
        self.mail(["-E", "-s", "something", "a@example.com"], b"something\n")
        [m] = self.deliver()
        self.assertEqual(parse(m.data).get_content(), "something\n")

    def test_bogus_set_escape_recipient_next_to_valid_one(self):
        # fail2ban's mail action runs `mail -E 'set escape' -s ... dest`
        # with bsd-mailx; with another mailx the words land as recipients.
        r = self.mail(["-s", "[Fail2Ban] sshd: banned", "set escape", "root"],
                      b"The IP 192.0.2.7 has just been banned.\n")
        self.assertRegex(r.err, r"(?i)set escape")
        [m] = self.deliver()
        self.assertEqual(m.rcpt_tos, ["root@example.net"])
        msg = parse(m.data)
        self.assertEqual([a.addr_spec for a in msg["To"].addresses], ["root@example.net"])
        self.assertNotIn(b"escape", raw_header_block(m.data).lower())

    def test_usage_errors_exit_64(self):
        cases = [
            ["-Z", "a@example.com"],          # unknown option
            ["a@example.com", "-s"],          # -s without its value
            ["-s", "no recipients"],          # nothing to send to
            ["-f", "/var/mail/root"],         # reading a mailbox
            ["-u", "root"],
        ]
        for args in cases:
            with self.subTest(args=args):
                for name in ("mail", "relay"):
                    r = self.mail(args, b"body\n", name=name, expected=rt.EX_USAGE)
                    self.assertTrue(r.err.strip(), "no diagnostic for %r" % args)
        self.assert_nothing_queued()

    def test_help_says_reading_mail_is_not_supported(self):
        for name in ("mail", "mailx", "relay"):
            with self.subTest(name=name):
                r = self.mail(["--help"], name=name)
                self.assertIn("usage:", r.out)
                self.assertRegex(r.out, r"(?i)reading mailboxes is not supported")
                self.assertIn("-s", r.out)
        self.assert_nothing_queued()


if __name__ == "__main__":
    unittest.main()
