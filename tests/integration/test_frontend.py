"""The sendmail front end through the real binary: exit codes, stdin
handling, hostile start-up conditions, mailq output and queue commands.

Rules under test are the ones src/cli/submit.hpp documents (stdin read to
EOF, a lone "." ends the message without -i, LF/CRLF accepted, the size
limit, exit 0 only once durable), the ones src/message/smtp_safe.hpp
documents for what pickup stores (NUL removed, bare CR replaced, long
lines folded or re-encoded, a final line break; smtp_safe_model.py states
them again), and Postfix's where relay documents none (no un-stuffing of
".." lines).
"""

import json
import os
import re
import stat
import subprocess
import time
import unittest

import relaytest as rt
import smtp_safe_model as safe

MSG = b"Subject: test\n\nhello\n"
TWO_MB = b"x" * 79 + b"\n"
TWO_MB = TWO_MB * (2 * 1024 * 1024 // len(TWO_MB))


class SpoolTest(unittest.TestCase):
    """A fresh spool per test."""

    spool_kwargs = {}

    def setUp(self):
        self.sp = rt.Spool(**self.spool_kwargs)
        self.addCleanup(self.sp.cleanup)

    def submit(self, args, stdin=MSG, **kw):
        """sendmail ARGS < STDIN, expected to succeed; returns the entry."""
        self.sp.sendmail(args, stdin, **kw).check(0)
        self.sp.flush()
        return self.sp.only_entry()

    def assert_nothing_queued(self):
        self.sp.flush()
        self.assertEqual(self.sp.entries(), [])
        self.assertEqual(self.sp.names("maildrop"), [])
        self.assertEqual(self.sp.names("corrupt"), [])


# ---------------------------------------------------------------- exit codes

class ExitCodes(SpoolTest):
    def test_unknown_short_flag_is_usage(self):
        r = self.sp.sendmail(["-z", "root"], MSG)
        r.check(rt.EX_USAGE)
        self.assertIn("-- z", r.err)
        self.assert_nothing_queued()

    def test_unknown_long_flag_is_usage(self):
        self.sp.sendmail(["--frobnicate", "root"], MSG).check(rt.EX_USAGE)
        self.assert_nothing_queued()

    def test_bad_mode_is_usage(self):
        self.sp.sendmail(["-bz", "root"], MSG).check(rt.EX_USAGE)

    def test_missing_option_value_is_usage(self):
        self.sp.sendmail(["root", "-f"], MSG).check(rt.EX_USAGE)

    def test_no_recipients_without_t_is_usage(self):
        r = self.sp.sendmail(["-i"], MSG)
        r.check(rt.EX_USAGE)
        self.assertIn("Recipient addresses must be specified", r.err)
        self.assert_nothing_queued()

    def test_t_without_recipient_headers_is_dataerr(self):
        r = self.sp.sendmail(["-t"], b"Subject: nobody\nFrom: a@example.com\n\nbody\n")
        r.check(rt.EX_DATAERR)
        self.assertIn("No recipient addresses found in message header", r.err)
        self.assert_nothing_queued()

    def test_t_with_only_bogus_recipients_is_dataerr(self):
        self.sp.sendmail(["-t"], b"To: set escape\n\nbody\n").check(rt.EX_DATAERR)
        self.assert_nothing_queued()

    def test_t_recipient_in_body_is_not_a_recipient(self):
        self.sp.sendmail(["-t"], b"Subject: x\n\nTo: root\n").check(rt.EX_DATAERR)

    def test_message_over_size_limit_is_dataerr(self):
        self.sp.write_config(queue_config="message_size_limit = 1000")
        r = self.sp.sendmail(["root"], b"Subject: big\n\n" + b"y" * 2000 + b"\n")
        r.check(rt.EX_DATAERR)
        self.assertIn("message_size_limit", r.err)
        self.assert_nothing_queued()

    def test_message_at_size_limit_is_accepted(self):
        self.sp.write_config(queue_config="message_size_limit = 1000")
        msg = b"Subject: fits\n\n" + b"y" * (1000 - 16) + b"\n"
        self.assertEqual(len(msg), 1000)
        e = self.submit(["root"], msg)
        self.assertEqual(e.body, b"y" * 984 + b"\n")

    def test_missing_spool_is_tempfail(self):
        sp = rt.Spool(init=False)
        self.addCleanup(sp.cleanup)
        r = sp.sendmail(["root"], MSG)
        r.check(rt.EX_TEMPFAIL)
        self.assertIn("not queued", r.err)
        self.assertIn("--init-spool", r.err)
        self.assertFalse(os.path.exists(sp.spool))

    def test_spool_below_free_space_reserve_is_tempfail(self):
        self.sp.write_config(self.sp.config_text().replace(
            'min_free_bytes = "1M"', 'min_free_bytes = "1000000G"'))
        r = self.sp.sendmail(["root"], TWO_MB)
        r.check(rt.EX_TEMPFAIL)
        self.assertIn("min_free_bytes", r.err)
        self.assertIsNone(r.stdin_error)
        self.assert_nothing_queued()

    def test_unusable_maildrop(self):
        if os.geteuid() == 0:
            # root ignores modes: make maildrop/ something that is not a
            # directory instead, which is EX_TEMPFAIL like a missing spool.
            os.rmdir(self.sp.area("maildrop"))
            with open(self.sp.area("maildrop"), "w"):
                pass
            self.sp.sendmail(["root"], MSG).check(rt.EX_TEMPFAIL)
        else:
            os.chmod(self.sp.area("maildrop"), 0o500)
            self.sp.sendmail(["root"], MSG).check(rt.EX_NOPERM)

    def test_broken_config_names_file_and_line(self):
        self.sp.write_config('myorigin = "example.net"\n\n[queue]\ndirectory = "%s"\n'
                             'frobnicate = 1\n' % self.sp.spool)
        r = self.sp.sendmail(["root"], MSG)
        r.check(rt.EX_CONFIG)
        self.assertIn("%s:5:" % self.sp.config, r.err)
        self.assertIn("frobnicate", r.err)
        self.assertEqual(self.sp.names("maildrop"), [])

    def test_config_syntax_error_names_file_and_line(self):
        self.sp.write_config('myorigin = "example.net"\n[queue\n')
        r = self.sp.sendmail(["root"], MSG)
        r.check(rt.EX_CONFIG)
        self.assertIn("%s:2:" % self.sp.config, r.err)

    def test_config_bad_value_names_file_and_line(self):
        self.sp.write_config('[queue]\ndirectory = "%s"\nmessage_size_limit = "lots"\n'
                             % self.sp.spool)
        r = self.sp.sendmail(["root"], MSG)
        r.check(rt.EX_CONFIG)
        self.assertIn("%s:3: [queue] message_size_limit" % self.sp.config, r.err)

    def test_missing_explicit_config_is_config_error(self):
        argv_cfg = os.path.join(self.sp.root, "nonexistent.toml")
        r = self.sp.sendmail(["-C", argv_cfg, "root"], MSG, config=None)
        r.check(rt.EX_CONFIG)
        self.assertIn(argv_cfg, r.err)

    def test_errors_are_one_line(self):
        for args, stdin in ((["-z"], MSG), ([], MSG), (["-t"], b"\n")):
            r = self.sp.sendmail(args, stdin)
            self.assertNotEqual(r.rc, 0)
            self.assertEqual(len(r.err.splitlines()), 1, r.err)

    def test_success_is_silent(self):
        r = self.sp.sendmail(["-i", "root"], MSG).check(0)
        self.assertEqual(r.out, "")
        self.assertEqual(r.err, "")


# ---------------------------------------------------------------- stdin drained

class StdinDrained(SpoolTest):
    """A refused submission still reads its stdin to the end, so the writer
    (a cron job, a pipeline) never gets EPIPE or dies of SIGPIPE."""

    def refused(self, args, expected, sp=None, **kw):
        sp = sp or self.sp
        r = sp.sendmail(args, TWO_MB, **kw)
        r.check(expected)
        self.assertIsNone(r.stdin_error, "the writer got %r" % r.stdin_error)
        # And through a shell pipeline whose writer has SIGPIPE at default.
        link = sp.link("sendmail")
        cmd = ['head -c 2097152 /dev/zero | tr "\\0" "x" | "$@"; '
               'echo "${PIPESTATUS[0]} ${PIPESTATUS[1]} ${PIPESTATUS[2]}"']
        argv = ["-C", sp.config] + args if kw.get("config", "arg") == "arg" else args
        p = subprocess.run(["/bin/bash", "-c", cmd[0], "bash", link] + argv,
                           capture_output=True, env=rt.default_env(), timeout=60)
        self.assertEqual(p.stdout.decode().split(), ["0", "0", str(expected)],
                         p.stderr.decode())
        return r

    def test_unknown_flag(self):
        self.refused(["-z", "root"], rt.EX_USAGE)

    def test_no_recipients(self):
        self.refused(["-i"], rt.EX_USAGE)

    def test_t_without_recipients(self):
        self.refused(["-t"], rt.EX_DATAERR)

    def test_too_large(self):
        self.sp.write_config(queue_config="message_size_limit = 10000")
        self.refused(["root"], rt.EX_DATAERR)

    def test_spool_missing(self):
        sp = rt.Spool(init=False)
        self.addCleanup(sp.cleanup)
        self.refused(["root"], rt.EX_TEMPFAIL, sp=sp)

    def test_broken_config(self):
        self.sp.write_config("[queue\n")
        self.refused(["root"], rt.EX_CONFIG)

    def test_header_injection(self):
        self.refused(["-f", "a@example.com\nBcc: x@example.org", "root"], rt.EX_USAGE)

    def test_dot_ends_message_but_rest_is_read(self):
        r = self.sp.sendmail(["root"], b"Subject: x\n\nshort\n.\n" + TWO_MB).check(0)
        self.assertIsNone(r.stdin_error)
        self.sp.flush()
        self.assertEqual(self.sp.only_entry().body, b"short\n")

    def test_accepted_two_megabytes(self):
        r = self.sp.sendmail(["-i", "root"], b"Subject: big\n\n" + TWO_MB).check(0)
        self.assertIsNone(r.stdin_error)
        self.sp.flush()
        self.assertEqual(self.sp.only_entry().body, TWO_MB)


# ---------------------------------------------------------------- dots

class Dots(SpoolTest):
    def body_of(self, args, stdin):
        return self.submit(args, stdin).body

    def test_lone_dot_ends_message_without_i(self):
        self.assertEqual(self.body_of(["root"], b"Subject: x\n\none\n.\ntwo\n"), b"one\n")

    def test_dot_crlf_ends_message_without_i(self):
        self.assertEqual(self.body_of(["root"], b"Subject: x\r\n\r\none\r\n.\r\ntwo\r\n"),
                         b"one\n")

    def test_final_dot_without_newline_ends_message(self):
        self.assertEqual(self.body_of(["root"], b"Subject: x\n\none\n."), b"one\n")

    def test_dot_in_header_section_ends_message(self):
        e = self.submit(["root"], b"Subject: x\n.\nbody\n")
        self.assertEqual(e.header("Subject"), "x")
        self.assertEqual(e.body, b"")

    def test_dot_at_very_start_gives_empty_message(self):
        e = self.submit(["root"], b".\nSubject: lost\n")
        self.assertIsNone(e.header("Subject"))
        self.assertEqual(e.body, b"")

    def test_dot_lines_kept_with_i(self):
        stdin = b"Subject: x\n\none\n.\n.\r\ntwo\n."
        for flag in (["-i"], ["-oi"], ["-oi=true"], ["-ti"]):
            with self.subTest(flag=flag):
                sp = rt.Spool()
                try:
                    args = flag + ([] if flag == ["-ti"] else ["root"])
                    data = b"To: root\n" + stdin if flag == ["-ti"] else stdin
                    sp.sendmail(args, data).check(0)
                    sp.flush()
                    # The final "." line gets its line break at pickup.
                    self.assertEqual(sp.only_entry().body, b"one\n.\n.\ntwo\n.\n")
                finally:
                    sp.cleanup()

    def test_double_dot_lines_kept_as_is(self):
        # No SMTP-style un-stuffing on the command line (Postfix neither).
        stdin = b"Subject: x\n\n..x\n..\n. not alone\n .\n"
        self.assertEqual(self.body_of(["root"], stdin), b"..x\n..\n. not alone\n .\n")
        self.assertEqual(rt_body(["-i", "root"], stdin), b"..x\n..\n. not alone\n .\n")

    def test_dot_with_trailing_space_does_not_end(self):
        self.assertEqual(self.body_of(["root"], b"Subject: x\n\na\n. \nb\n"), b"a\n. \nb\n")


def rt_body(args, stdin):
    """The stored body for one submission in a spool of its own."""
    with rt.Spool() as sp:
        sp.sendmail(args, stdin).check(0)
        sp.flush()
        return sp.only_entry().body


# ---------------------------------------------------------------- bytes

class MessageBytes(SpoolTest):
    def test_lf(self):
        e = self.submit(["-i", "root"], b"Subject: lf\n\na\nb\n")
        self.assertEqual(e.body, b"a\nb\n")
        self.assertEqual(e.header("Subject"), "lf")

    def test_crlf(self):
        e = self.submit(["-i", "root"], b"Subject: crlf\r\nX-A: 1\r\n\r\na\r\nb\r\n")
        self.assertEqual(e.body, b"a\nb\n")
        self.assertEqual(e.header("X-A"), "1")
        self.assertNotIn(b"\r", e.message)

    def test_mixed_line_ends(self):
        e = self.submit(["-i", "root"], b"Subject: mixed\r\nX-A: 1\n\r\na\r\nb\nc\r\r\n")
        self.assertEqual(e.body, b"a\nb\nc\n")
        self.assertEqual(e.header("X-A"), "1")

    def test_folded_crlf_header(self):
        e = self.submit(["-i", "root"], b"Subject: one\r\n two\r\n\r\nbody\r\n")
        self.assertEqual(e.header("Subject"), "one two")

    def test_no_final_newline(self):
        # A non-empty body without a final line break gets one.
        for body in (b"no newline", b"two\nlines", b"x"):
            with self.subTest(body=body):
                with rt.Spool() as sp:
                    sp.sendmail(["-i", "root"], b"Subject: x\n\n" + body).check(0)
                    sp.flush()
                    self.assertEqual(sp.only_entry().body, body + b"\n")

    def test_nul_bytes_removed(self):
        e = self.submit(["-i", "root"], b"Subject: nul\n\na\0b\n\0\nend\n")
        self.assertEqual(e.body, b"ab\n\nend\n")
        self.assertNotIn(b"\0", e.message)

    def test_bare_cr_is_a_line_break_in_the_body(self):
        e = self.submit(["-i", "root"], b"Subject: cr\n\na\rb\nc\r \n")
        self.assertEqual(e.body, b"a\nb\nc\n \n")
        self.assertNotIn(b"\r", e.message)

    def test_long_line(self):
        line = bytes((ord("a") + i % 26) for i in range(5000))
        e = self.submit(["-i", "root"], b"Subject: long\n\n" + line + b"\nnext\n")
        # Re-encoded as quoted-printable: it decodes to what was sent.
        self.assertEqual(e.headers("Content-Transfer-Encoding"), ["quoted-printable"])
        self.assertEqual(safe.decoded_payload(safe.parse_stored(e.message)),
                         line + b"\nnext\n")
        self.assertTrue(safe.all_lines_fit(e.message))

    def test_long_header_line(self):
        # No white space to fold at: split hard with LF SPACE.
        value = b"v" * 5000
        e = self.submit(["-i", "root"], b"X-Long: " + value + b"\n\nbody\n")
        [(_, raw)] = [f for f in e.fields if f[0] == "X-Long"]
        self.assertTrue(safe.all_lines_fit(raw))
        self.assertGreater(raw.count(b"\n "), 0)
        self.assertEqual(raw.replace(b"\n ", b""), b"X-Long: " + value)
        self.assertEqual(e.body, b"body\n")

    def test_utf8_and_8bit_headers(self):
        stdin = ("Subject: Grüße aus Köln ✓\nTo: Jürgen Müller <juergen@example.com>\n"
                 "X-Latin1: ").encode() + b"caf\xe9\n\nk\xc3\xb6rper \xff\n"
        e = self.submit(["-t", "-i"], stdin)
        self.assertEqual(e.envelope.recipients(), ["juergen@example.com"])
        self.assertEqual(e.header("Subject"), "Grüße aus Köln ✓")
        self.assertIn(b"X-Latin1: caf\xe9\n", e.message)
        self.assertEqual(e.body, b"k\xc3\xb6rper \xff\n")
        self.assertEqual(e.envelope.get("body"), "8BITMIME")   # no -B, 8-bit body

    def test_no_headers_at_all(self):
        e = self.submit(["-i", "root"], b"just a line\nand another\n")
        self.assertEqual(e.body, b"just a line\nand another\n")
        for h in ("From", "Date", "Message-ID"):
            self.assertEqual(len(e.headers(h)), 1, h)
        self.assertEqual(e.header("To"), "undisclosed-recipients:;")

    def test_empty_message(self):
        e = self.submit(["-i", "root"], b"")
        self.assertEqual(e.body, b"")
        self.assertEqual(e.header("From"), e.envelope.sender)
        self.assertEqual(e.envelope.recipients(), ["root@" + rt.MYORIGIN])

    def test_stdin_devnull_and_closed(self):
        for mode in ("devnull", "closed"):
            with self.subTest(stdin=mode):
                with rt.Spool() as sp:
                    sp.sendmail(["root"], stdin_mode=mode).check(0)
                    sp.flush()
                    self.assertEqual(sp.only_entry().body, b"")

    def test_stdin_regular_file(self):
        e = self.submit(["root"], b"Subject: f\n\nfrom a file\n.\nafter\n", stdin_mode="file")
        self.assertEqual(e.body, b"from a file\n")

    def test_mbox_from_line_dropped(self):
        e = self.submit(["-i", "root"], b"From alice Tue Dec  1 10:00:00 2026\nSubject: x\n\nb\n")
        self.assertNotIn(b"From alice", e.message)
        self.assertEqual(e.header("Subject"), "x")

    def test_body_starting_without_blank_line(self):
        e = self.submit(["-i", "root"], b"Subject: x\nthis is body text\n")
        self.assertEqual(e.header("Subject"), "x")
        self.assertEqual(e.body, b"this is body text\n")


# ---------------------------------------------------------------- envelope and headers

class Envelope(SpoolTest):
    def test_sender_from_f_and_r(self):
        for flag in (["-f", "bounce@example.org"], ["-fbounce@example.org"],
                     ["-r", "bounce@example.org"], ["-f", "<bounce@example.org>"]):
            with self.subTest(flag=flag):
                with rt.Spool() as sp:
                    sp.sendmail(flag + ["root"], MSG).check(0)
                    sp.flush()
                    self.assertEqual(sp.only_entry().envelope.sender, "bounce@example.org")

    def test_null_sender(self):
        e = self.submit(["-f", "<>", "root"])
        self.assertEqual(e.envelope.sender, "")

    def test_bare_sender_qualified(self):
        e = self.submit(["-f", "daemon", "root"])
        self.assertEqual(e.envelope.sender, "daemon@" + rt.MYORIGIN)
        self.assertEqual(e.header("From"), "daemon@" + rt.MYORIGIN)

    def test_empty_domain_is_dropped_then_qualified(self):
        # "user@" (systemd's "root@" From:): the empty domain goes and the
        # address is qualified like a bare name (src/message/address.hpp;
        # Postfix does the same), in the envelope and in the headers.
        e = self.submit(["-f", "root@", "bob@"], b"To: carol@\nSubject: x\n\nb\n")
        self.assertEqual(e.envelope.sender, "root@" + rt.MYORIGIN)
        self.assertEqual(e.envelope.recipients(), ["bob@" + rt.MYORIGIN])
        self.assertEqual(e.headers("To"), ["carol@" + rt.MYORIGIN])
        self.assertEqual(e.headers("From"), ["root@" + rt.MYORIGIN])

    def test_fullname_in_added_from(self):
        e = self.submit(["-F", 'Cron "Daemon"', "-f", "cron", "root"], b"Subject: x\n\nb\n")
        self.assertEqual(e.header("From"), '"Cron \\"Daemon\\"" <cron@%s>' % rt.MYORIGIN)

    def test_fullname_ignored_when_from_present(self):
        e = self.submit(["-F", "Somebody", "root"], b"From: me@example.org\n\nb\n")
        self.assertEqual(e.headers("From"), ["me@example.org"])

    def test_existing_date_and_message_id_kept(self):
        e = self.submit(["root"], b"Date: Sun, 22 Nov 2026 04:45:25 +0000\n"
                                  b"Message-ID: <abc@example.org>\n\nb\n")
        self.assertEqual(e.headers("Date"), ["Sun, 22 Nov 2026 04:45:25 +0000"])
        self.assertEqual(e.headers("Message-ID"), ["<abc@example.org>"])

    def test_comma_lists_and_several_arguments(self):
        e = self.submit(["a@example.com,b@example.org", "c", "a@example.com"])
        self.assertEqual(e.envelope.recipients(),
                         ["a@example.com", "b@example.org", "c@" + rt.MYORIGIN])

    def test_t_collects_all_headers_and_strips_bcc(self):
        stdin = (b"To: a@example.com, Bob <b@example.org>\nTo: c\n"
                 b"Cc: d@example.net,\n\te@example.net\nBcc: hidden@example.com\n"
                 b"bcc: second@example.com\nSubject: x\n\nbody\n")
        e = self.submit(["-t"], stdin)
        self.assertEqual(e.envelope.recipients(),
                         ["a@example.com", "b@example.org", "c@example.net", "d@example.net",
                          "e@example.net", "hidden@example.com", "second@example.com"])
        self.assertNotIn(b"hidden", e.message)
        self.assertNotIn(b"second@", e.message)
        self.assertEqual(e.headers("Bcc"), [])

    def test_t_plus_command_line_recipients(self):
        e = self.submit(["-t", "extra@example.com"], b"To: a@example.com\n\nb\n")
        self.assertEqual(e.envelope.recipients(), ["extra@example.com", "a@example.com"])

    def test_t_resent_headers_win(self):
        e = self.submit(["-t"], b"To: old@example.com\nResent-To: new@example.com\n"
                                b"Resent-Bcc: rb@example.com\n\nb\n")
        self.assertEqual(e.envelope.recipients(), ["new@example.com", "rb@example.com"])
        self.assertNotIn(b"rb@example.com", e.message)

    def test_t_group_syntax(self):
        e = self.submit(["-t"], b"To: friends: a@example.com, b@example.com;\n\nb\n")
        self.assertEqual(e.envelope.recipients(), ["a@example.com", "b@example.com"])

    def test_bogus_recipient_next_to_valid(self):
        r = self.sp.sendmail(["-t"], b"To: root, set escape\n\nb\n").check(0)
        self.assertIn("set escape", r.err)
        self.sp.flush()
        self.assertEqual(self.sp.only_entry().envelope.recipients(), ["root@example.net"])

    def test_body_type(self):
        self.assertEqual(self.submit(["-B8BITMIME", "root"]).envelope.get("body"), "8BITMIME")

    def test_body_type_given_wins(self):
        # -B is kept as given (upper case), whatever the body holds.
        for args, value, stdin in ((["-B", "7BIT"], "7BIT", b"Subject: x\n\nk\xc3\xb6rper\n"),
                                   (["-B8bitmime"], "8bitmime", MSG),
                                   (["-B", "8BITMIME"], "8BITMIME", b"")):
            with self.subTest(args=args, stdin=stdin):
                with rt.Spool() as sp:
                    sp.sendmail(args + ["root"], stdin).check(0)
                    sp.flush()
                    e = sp.only_entry()
                    self.assertEqual(e.envelope.get("body"), value.upper())
                    self.assertEqual(e.envelope.get("body"),
                                     safe.expected_body_type(value, e.body))

    def test_body_type_from_the_body(self):
        # Without -B: 8BITMIME when the stored body holds 8-bit bytes.
        for stdin, expected in ((MSG, None), (b"", None),
                                (b"Subject: x\n\ncaf\xe9\n", "8BITMIME"),
                                (b"Subject: x\n\n\xe2\x9c\x93", "8BITMIME")):
            with self.subTest(stdin=stdin):
                with rt.Spool() as sp:
                    sp.sendmail(["-i", "root"], stdin).check(0)
                    sp.flush()
                    e = sp.only_entry()
                    self.assertEqual(e.envelope.get("body"), expected)
                    self.assertEqual(e.envelope.get("body"),
                                     safe.expected_body_type(None, e.body))

    def test_dsn_options(self):
        e = self.submit(["-N", "failure,delay", "-R", "hdrs", "-V", "env id+1", "root"])
        self.assertEqual(e.envelope.get("ret"), "HDRS")
        self.assertEqual(e.envelope.rcpts[0].get("notify"), "FAILURE,DELAY")
        self.assertEqual(rt.xtext_decode(e.envelope.get("envid")), "env id+1")

    def test_ignored_options(self):
        e = self.submit(["-oem", "-odi", "-om", "-m", "-n", "-U", "-oQ/tmp", "-h", "5", "root"])
        self.assertEqual(e.envelope.recipients(), ["root@example.net"])


class HeaderInjection(SpoolTest):
    """Values from argv that reach the envelope or a header cannot carry a
    line break: refused with EX_USAGE, nothing queued."""

    CASES = [
        ["-f", "a@example.com\nBcc: evil@example.org", "root"],
        ["-f", "a@example.com\rBcc: evil@example.org", "root"],
        ["-fa@example.com\r\nX-Evil: 1", "root"],
        ["-F", "Name\nBcc: evil@example.org", "root"],
        ["-F", "Name\r\n\r\nbody injected", "root"],
        ["-r", "x\n", "root"],
        ["root\nBcc: evil@example.org"],
        ["root", "ok@example.com,evil@example.org\r\nBcc: x"],
        ["-V", "id\nX: y", "root"],
        ["--", "root\nBcc: evil@example.org"],
    ]

    def test_line_breaks_refused(self):
        for args in self.CASES:
            with self.subTest(args=args):
                r = self.sp.sendmail(args, b"Subject: x\n\nbody\n")
                r.check(rt.EX_USAGE)
                self.assertRegex(r.err, "contains a control character|bad envelope id")
        self.assert_nothing_queued()

    # Every other control character: ESC, 0x01..0x1f but TAB, and DEL.
    CONTROLS = [c for c in range(1, 0x20) if c not in (0x09, 0x0a, 0x0d)] + [0x7f]

    def control_cases(self, c):
        ch = chr(c)
        return [
            ["-f", "a%s@example.com" % ch, "root"],
            ["-fa@example.com" + ch, "root"],
            ["-r", ch + "x@example.com", "root"],
            ["-F", "Name%s[2J" % ch, "root"],
            ["-F" + ch, "root"],
            ["root" + ch],
            ["ok@example.com,b%s@example.org" % ch],
            ["--", "x%s@example.org" % ch],
            ["-t", "x%s@example.org" % ch],
        ]

    def test_control_characters_refused(self):
        self.assertEqual(len(self.CONTROLS), 29)   # CR, LF: test_line_breaks_refused
        for c in self.CONTROLS:
            for args in self.control_cases(c):
                with self.subTest(char="0x%02x" % c, args=args):
                    r = self.sp.sendmail(args, b"To: root\nSubject: x\n\nbody\n")
                    r.check(rt.EX_USAGE)
                    self.assertEqual(len(r.err.splitlines()), 1, r.err)
                    self.assertIsNone(r.stdin_error)
        self.assert_nothing_queued()

    def test_tab_and_8bit_are_not_control_characters(self):
        e = self.submit(["-F", "Cron\tDaemon", "-f", "j\u00fcrgen@example.org",
                         "m\u00fcller@example.com"], b"Subject: x\n\nb\n")
        self.assertEqual(e.envelope.sender, "j\u00fcrgen@example.org")
        self.assertEqual(e.envelope.recipients(), ["m\u00fcller@example.com"])
        self.assertEqual(e.header("From"), '"Cron\tDaemon" <j\u00fcrgen@example.org>')

    def test_surrounding_white_space_is_trimmed(self):
        # A MAILTO read from a file keeps its newline: white space around a
        # recipient argument is not part of it (and injects nothing).
        e = self.submit(["--", " root\n", "\tops@example.com \r\n"])
        self.assertEqual(e.envelope.recipients(), ["root@example.net", "ops@example.com"])

    def test_fullname_cannot_add_headers(self):
        # Quotes and angle brackets in -F stay inside the display name.
        e = self.submit(["-F", 'x" <evil@example.org>, "y', "root"], b"Subject: x\n\nb\n")
        self.assertEqual(len(e.headers("From")), 1)
        self.assertTrue(e.header("From").endswith("<root@example.net>"), e.header("From"))


class DoubleDash(SpoolTest):
    def test_dash_recipients_after_double_dash(self):
        e = self.submit(["-i", "--", "-oi@example.com", "-t"])
        self.assertEqual(e.envelope.recipients(), ["-oi@example.com", "-t@example.net"])

    def test_options_after_double_dash_are_not_options(self):
        # "-t" after "--" does not switch on header extraction.
        e = self.submit(["--", "root", "-t"], b"To: other@example.com\n\nb\n")
        self.assertEqual(e.envelope.recipients(), ["root@example.net", "-t@example.net"])

    def test_options_after_recipients_still_count(self):
        # Postfix (getopt with permutation) and relay: "root -i" is -i.
        e = self.submit(["root", "-i"], b"Subject: x\n\na\n.\nb\n")
        self.assertEqual(e.body, b"a\n.\nb\n")


# ---------------------------------------------------------------- hostile start-up

class HostileStart(SpoolTest):
    def test_stdout_stderr_closed(self):
        # With warnings to print, nothing may land in a spool file.
        stdin = b"To: root, set escape\nSubject: closed\n\nbody\n"
        r = self.sp.sendmail(["-t", "-oX", "root"], stdin, stdout="closed", stderr="closed")
        r.check(0)
        self.check_clean_maildrop()
        self.sp.flush(stdout="closed", stderr="closed")
        self.check_clean_queue(["root@example.net"])

    def test_all_of_0_1_2_closed(self):
        self.sp.sendmail(["-oX", "root"], stdin_mode="closed", stdout="closed",
                         stderr="closed").check(0)
        self.check_clean_maildrop()
        self.sp.run(["-v", "--flush"], stdout="closed", stderr="closed").check(0)
        self.check_clean_queue(["root@example.net"])

    def test_closed_through_shell(self):
        link = self.sp.link("sendmail")
        p = subprocess.run(["/bin/sh", "-c", 'exec 1>&- 2>&- "$@"', "sh", link, "-C",
                            self.sp.config, "-oX", "-t"],
                           input=b"To: root, set escape\n\nvia sh\n", env=rt.default_env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0)
        self.check_clean_maildrop()
        p = subprocess.run(["/bin/sh", "-c", 'exec 0<&- 1>&- 2>&- "$@"', "sh", self.sp.binary,
                            "-C", self.sp.config, "-v", "--flush"], env=rt.default_env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0)
        self.check_clean_queue(["root@example.net"])

    def check_clean_maildrop(self):
        [name] = self.sp.names("maildrop")
        with open(os.path.join(self.sp.area("maildrop"), name), "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"maildrop: 1\n"), data[:80])
        self.assertNotIn(b"warning", data)
        self.assertNotIn(b"sendmail:", data)

    def check_clean_queue(self, rcpts):
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.recipients(), rcpts)
        for blob in (e.message, e.envelope_text.encode()):
            self.assertNotIn(b"warning", blob)
            self.assertNotIn(b"relay:", blob)
        self.assertEqual(self.sp.names("maildrop"), [])

    def test_umask_0177(self):
        self.sp.sendmail(["root"], MSG, umask=0o177).check(0)
        [name] = self.sp.names("maildrop")
        st = os.stat(os.path.join(self.sp.area("maildrop"), name))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)
        self.sp.flush(umask=0o177)
        e = self.sp.only_entry()
        self.assertEqual(stat.S_IMODE(os.stat(e.path).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(e.path, "message")).st_mode), 0o600)

    def test_umask_0777(self):
        self.sp.sendmail(["root"], MSG, umask=0o777).check(0)
        self.sp.flush(umask=0o777)
        self.assertEqual(self.sp.only_entry().body, b"hello\n")

    def test_init_spool_ignores_umask(self):
        sp = rt.Spool(init=False)
        self.addCleanup(sp.cleanup)
        sp.run(["--init-spool"], umask=0o777).check(0)
        modes = {a: stat.S_IMODE(os.stat(sp.area(a)).st_mode) for a in rt.AREAS}
        self.assertEqual(modes["maildrop"], 0o1770)
        for a in ("incoming", "queue", "hold", "corrupt", "purge"):
            self.assertEqual(modes[a], 0o700, a)
        self.assertEqual(stat.S_IMODE(os.stat(sp.spool).st_mode), 0o755)

    def test_nonexistent_cwd(self):
        self.sp.sendmail(["root"], MSG, cwd_deleted=True).check(0)
        self.sp.flush(cwd_deleted=True)
        self.sp.mailq(cwd_deleted=True)
        self.assertEqual(self.sp.only_entry().body, b"hello\n")

    def test_unreadable_cwd(self):
        d = os.path.join(self.sp.root, "locked")
        os.mkdir(d, 0o000)
        self.sp.sendmail(["root"], MSG, cwd=d).check(0)

    def test_relative_config_path(self):
        r = self.sp.sendmail(["-C", "relay.toml", "root"], MSG, config=None, cwd=self.sp.root)
        r.check(0)
        self.assertEqual(len(self.sp.names("maildrop")), 1)
        self.sp.run(["-C", "relay.toml", "--flush"], config=None, cwd=self.sp.root).check(0)
        self.assertEqual(len(self.sp.entries()), 1)

    def test_path_without_sbin(self):
        for env in ({"PATH": "/usr/bin:/bin"}, {"PATH": "/nonexistent"}, {}):
            with self.subTest(env=env):
                with rt.Spool() as sp:
                    sp.sendmail(["root"], MSG, env=env).check(0)
                    sp.flush(env=env)
                    self.assertEqual(len(sp.entries()), 1)

    def test_argv0_forms(self):
        # Absolute, relative, and the other names sendmail is installed as.
        for argv0 in ("/usr/sbin/sendmail", "/usr/lib/sendmail", "sendmail",
                      "./sendmail", "send-mail"):
            with self.subTest(argv0=argv0):
                with rt.Spool() as sp:
                    name = os.path.basename(argv0)
                    sp.run(["-i", "root"], MSG, name=name, argv0=argv0).check(0)
                    self.assertEqual(len(sp.names("maildrop")), 1)

    def test_relay_personality_submits_too(self):
        self.sp.run(["-i", "root"], MSG).check(0)
        self.assertEqual(len(self.sp.names("maildrop")), 1)

    def test_sendmail_name_refuses_relay_long_options(self):
        self.sp.sendmail(["--flush"]).check(rt.EX_USAGE)

    def test_relay_config_env(self):
        r = self.sp.sendmail(["root"], MSG, config="env").check(0)
        self.assertEqual(r.err, "")
        self.assertEqual(len(self.sp.names("maildrop")), 1)

    def test_no_passwd_entry_for_uid(self):
        # A uid without a passwd entry submits as "#uid" (needs root to
        # switch uid; the spool is made writable for it).
        if os.getuid() != 0:
            self.skipTest("needs root")
        uid = 54321
        import pwd
        try:
            pwd.getpwuid(uid)
            self.skipTest("uid %d exists" % uid)
        except KeyError:
            pass
        os.chmod(self.sp.root, 0o755)
        os.chmod(self.sp.area("maildrop"), 0o1777)

        def become():
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        r = self.sp.sendmail(["root"], MSG, preexec=become)
        r.check(0)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.uid, uid)
        self.assertEqual(e.envelope.user, "#%d" % uid)


# ---------------------------------------------------------------- mailq

LONG_HEADER = ("----Queue ID----- --Size-- ---Arrival Time---- "
               "--Sender/Recipient------")
ENTRY_RE = re.compile(r"^(?P<id>[0-9A-Z]{16})(?P<mark>[ *!#]) (?P<size>[ \d]{8}) "
                      r"(?P<date>\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<sender>\S.*)$")
RCPT_PREFIX = " " * 47


def parse_mailq(text):
    """Postfix long-id mailq output -> [(id, mark, size, date, sender, [rcpts])]."""
    lines = text.split("\n")
    assert lines[-1] == "", "output must end with a newline"
    lines = lines[:-1]
    assert lines[0] == LONG_HEADER, lines[0]
    out, i = [], 1
    while i < len(lines) and not lines[i].startswith("-- "):
        m = ENTRY_RE.match(lines[i])
        assert m, "bad entry line %r" % lines[i]
        rcpts = []
        i += 1
        while lines[i] != "":
            if lines[i].startswith(RCPT_PREFIX) and not lines[i].strip().startswith("("):
                rcpts.append(lines[i][47:])
            i += 1
        out.append((m["id"], m["mark"], int(m["size"]), m["date"], m["sender"], rcpts))
        i += 1  # the blank line after each message
    assert i == len(lines) - 1, "summary must be the last line"
    return out, lines[-1]


class Mailq(SpoolTest):
    def test_empty_queue(self):
        for args, name in ((["mailq"], "relay"), ([], "mailq"), (["-bp"], "sendmail")):
            with self.subTest(name=name):
                r = self.sp.run(args, name=name).check(0)
                self.assertEqual(r.stdout, b"Mail queue is empty\n")
                self.assertEqual(r.err, "")

    def fill(self):
        self.sp.sendmail(["-f", "alice@example.org", "root", "ops@example.com"], MSG).check(0)
        self.sp.sendmail(["-i", "bob"], b"Subject: big\n\n" + b"z" * 5000 + b"\n").check(0)
        self.sp.sendmail(["-t"], b"To: carol@example.com\nSubject: t\n\nx\n").check(0)
        self.sp.flush()

    def test_postfix_layout(self):
        self.fill()
        r = self.sp.mailq()
        self.assertEqual(r.err, "")
        rows, summary = parse_mailq(r.out)
        entries = {e.id: e for e in self.sp.entries()}
        self.assertEqual([row[0] for row in rows], sorted(entries))
        total = 0
        for ident, mark, size, date, sender, rcpts in rows:
            e = entries[ident]
            self.assertEqual(mark, " ")
            self.assertEqual(size, int(e.envelope["size"]))
            self.assertEqual(size, len(e.message))
            self.assertEqual(date, time.asctime(time.gmtime(int(e.envelope["arrival"])))[:19])
            self.assertEqual(sender, e.envelope.sender)
            self.assertEqual(rcpts, e.envelope.recipients())
            total += size
        self.assertEqual(summary, "-- %d Kbytes in 3 Requests." % (total // 1024))
        self.assertGreater(total // 1024, 0)
        # Column layout of the first line, exactly as Postfix prints it.
        first = r.out.split("\n")[1]
        ident = rows[0][0]
        self.assertEqual(first[:17], ident + " ")
        self.assertEqual(first[18:26], "%8d" % rows[0][2])
        self.assertEqual(first[26], " ")
        self.assertEqual(first[46], " ")

    def test_singular_request(self):
        self.sp.sendmail(["root"], MSG).check(0)
        self.sp.flush()
        out = self.sp.mailq().out
        self.assertTrue(out.endswith("\n\n-- 0 Kbytes in 1 Request.\n"), out)

    def test_scripts_and_check_mailq_parse_it(self):
        self.fill()
        link = self.sp.link("mailq")
        env = dict(rt.default_env(), PATH=self.sp.bin_dir + ":/usr/bin:/bin",
                   RELAY_CONFIG=self.sp.config)
        count = subprocess.run(["/bin/sh", "-c", "mailq | tail -1 | awk '{print $5}'"],
                               env=env, capture_output=True, timeout=60)
        self.assertEqual(count.stdout, b"3\n", count.stderr)
        ids = subprocess.run(["/bin/sh", "-c", "mailq | grep -c '^[0-9A-Z]'"],
                             env=env, capture_output=True, timeout=60)
        self.assertEqual(ids.stdout, b"3\n")
        # check_mailq -M postfix: reverse the lines, look at the last one.
        out = subprocess.run([link], env=env, capture_output=True, timeout=60).stdout
        last = out.decode().splitlines()[-1]
        self.assertRegex(last, r"Kbytes in (\d+)")
        self.assertEqual(re.search(r"Kbytes in (\d+)", last).group(1), "3")

    def test_maildrop_entries_listed_before_pickup(self):
        self.sp.sendmail(["-f", "alice@example.org", "root"], MSG).check(0)
        rows, summary = parse_mailq(self.sp.mailq().out)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], self.sp.names("maildrop")[0])
        self.assertEqual(rows[0][4], "alice@example.org")
        self.assertEqual(rows[0][5], ["root"])
        self.assertEqual(summary, "-- 0 Kbytes in 1 Request.")
        [j] = self.sp.mailq_json()
        self.assertEqual(j["queue_name"], "maildrop")

    def test_hold_mark(self):
        self.fill()
        ident = self.sp.entries()[1].id
        self.sp.queue("hold", ident)
        rows, _ = parse_mailq(self.sp.mailq().out)
        marks = {row[0]: row[1] for row in rows}
        self.assertEqual(marks[ident], "!")
        self.assertEqual(sorted(m for i, m in marks.items() if i != ident), [" ", " "])

    def test_null_sender_is_mailer_daemon(self):
        self.sp.sendmail(["-f", "<>", "root"], MSG).check(0)
        self.sp.flush()
        rows, _ = parse_mailq(self.sp.mailq().out)
        self.assertEqual(rows[0][4], "MAILER-DAEMON")

    def test_json(self):
        self.fill()
        entries = {e.id: e for e in self.sp.entries()}
        objs = self.sp.mailq_json()
        self.assertEqual(len(objs), 3)
        for o in objs:
            e = entries[o["queue_id"]]
            self.assertIn(o["queue_name"], ("active", "deferred"))
            self.assertEqual(o["arrival_time"], int(e.envelope["arrival"]))
            self.assertEqual(o["message_size"], len(e.message))
            self.assertIs(o["forced_expire"], False)
            self.assertEqual(o["sender"], e.envelope.sender)
            self.assertEqual([x["address"] for x in o["recipients"]], e.envelope.recipients())
        bob = [o for o in objs if o["recipients"][0]["address"] == "bob@example.net"][0]
        self.assertEqual(bob["recipients"][0]["orig_address"], "bob")

    def test_json_empty(self):
        self.assertEqual(self.sp.mailq(json_output=True).stdout, b"")

    def test_json_escapes(self):
        # A quoted local part with a quote and a backslash in it.
        sender = '"we\\"ird\\\\"@example.org'
        self.sp.sendmail(["-f", sender, "root"], MSG).check(0)
        for picked in (False, True):
            with self.subTest(picked_up=picked):
                [o] = self.sp.mailq_json()
                self.assertEqual(o["sender"], sender)
                self.sp.flush()

    def plant_sender(self, sender):
        """Queues a message whose queue envelope names SENDER (str,
        surrogate-escaped). Neither sendmail's -f nor pickup's reading of a
        maildrop file lets control characters in, but an envelope written by
        anything else (an older relay, an admin's hand) could hold them:
        mailq must cope."""
        r = self.sp.sendmail(["-f", sender, "root"], MSG)
        if any(ord(c) < 0x20 or ord(c) == 0x7f for c in sender):
            r.check(rt.EX_USAGE)
        else:
            r.check(0)
            self.sp.flush()
            return
        self.sp.sendmail(["-f", "PLANT@example.org", "root"], MSG).check(0)
        self.sp.flush()
        [name] = [n for n in self.sp.names("queue")
                  if b"sender: PLANT@example.org\n" in open(
                      os.path.join(self.sp.area("queue"), n, "envelope"), "rb").read()]
        path = os.path.join(self.sp.area("queue"), name, "envelope")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data.replace(b"PLANT@example.org",
                                 sender.encode("utf-8", "surrogateescape")))

    def test_planted_maildrop_sender_is_quarantined(self):
        self.sp.sendmail(["-f", "PLANT@example.org", "root"], MSG).check(0)
        [name] = self.sp.names("maildrop")
        path = os.path.join(self.sp.area("maildrop"), name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data.replace(b"PLANT@example.org", b"\x1b[2Jx@example.org"))
        self.sp.flush()
        self.assertEqual(self.sp.names("queue"), [])
        self.assertEqual(self.sp.names("corrupt"), [name + ".maildrop"])

    def test_json_is_valid_utf8_whatever_the_addresses(self):
        # Addresses may hold 8-bit bytes (8-bit local parts), and a queue
        # file may hold control characters; the JSON must still be valid
        # UTF-8.
        latin1 = b"j\xfcrgen@example.com".decode("utf-8", "surrogateescape")
        self.sp.sendmail(["-f", latin1, "root", "m\u00fcller@example.com"], MSG).check(0)
        self.plant_sender("\x1b[2J\x07x@example.org")
        out = self.sp.mailq(json_output=True).stdout
        objs = [json.loads(line) for line in out.decode("utf-8").splitlines()]
        senders = sorted(o["sender"] for o in objs)
        self.assertEqual(senders, ["\x1b[2J\x07x@example.org", "j?rgen@example.com"])
        rcpts = [r["address"] for o in objs for r in o["recipients"]]
        self.assertIn("m\u00fcller@example.com", rcpts)

    def test_text_output_cannot_drive_a_terminal(self):
        # A sender that reached a queue file must not reach root's terminal.
        evil = "\x1b]0;owned\x07\x1b[2J\u009b31m@example.org"
        self.plant_sender(evil)
        out = self.sp.mailq().stdout
        self.assertFalse(re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", out), out)
        rows, _ = parse_mailq(out.decode())
        self.assertEqual(rows[0][4], "?]0;owned??[2J?31m@example.org")

    def test_bp_equals_mailq(self):
        self.fill()
        a = self.sp.run(["mailq"]).check(0).stdout
        b = self.sp.sendmail(["-bp"]).check(0).stdout
        c = self.sp.run([], name="mailq").check(0).stdout
        self.assertEqual(a, b)
        self.assertEqual(a, c)

    def test_mailq_missing_spool(self):
        sp = rt.Spool(init=False)
        self.addCleanup(sp.cleanup)
        r = sp.mailq(check=False)
        r.check(rt.EX_TEMPFAIL)


# ---------------------------------------------------------------- other personalities

class Newaliases(SpoolTest):
    def test_newaliases_exits_zero(self):
        for name, args in (("newaliases", []), ("sendmail", ["-bi"]), ("sendmail", ["-I"])):
            with self.subTest(name=name, args=args):
                r = self.sp.run(args, name=name).check(0)
                self.assertEqual(r.out, "")

    def test_newaliases_with_default_aliases(self):
        self.sp.write_config(self.sp.config_text().replace("alias_maps = []\n", ""))
        self.sp.run([], name="newaliases").check(0)

    def test_newaliases_checks_aliases_files(self):
        # Nothing to build (aliases are read at pickup): newaliases checks
        # each file, silent when it is good, a Postfix-style warning with
        # file and line and EX_DATAERR when it is not.
        aliases = os.path.join(self.sp.root, "aliases")
        self.sp.write_config(self.sp.config_text().replace(
            "alias_maps = []", 'alias_maps = ["hash:%s"]' % aliases))
        for text, rc, line in (
                ("# comment\npostmaster: root\nlogcheck: root,\n  ops@example.com\n\n", 0, None),
                ("postmaster: root\nno colon here\n", rt.EX_DATAERR, 2),
                ("postmaster: root\npostmaster: other\n", rt.EX_DATAERR, 2)):
            with self.subTest(text=text):
                with open(aliases, "w") as f:
                    f.write(text)
                r = self.sp.run([], name="newaliases").check(rc)
                self.assertEqual(r.out, "")
                if line is None:
                    self.assertEqual(r.err, "")
                else:
                    self.assertIn("warning: %s, line %d: " % (aliases, line), r.err)
                    self.assertEqual(len(r.err.splitlines()), 1, r.err)
        # The good file is the one pickup uses: the continuation belongs to
        # logcheck.
        with open(aliases, "w") as f:
            f.write("postmaster: root\nlogcheck: root,\n  ops@example.com\n")
        e = self.submit(["logcheck@" + rt.MYHOSTNAME])
        self.assertEqual(e.envelope.recipients(), ["root@example.net", "ops@example.com"])

    def test_newaliases_missing_file_is_fine(self):
        self.sp.write_config(self.sp.config_text().replace(
            "alias_maps = []", 'alias_maps = ["hash:/nonexistent/aliases"]'))
        self.sp.run([], name="newaliases").check(0)


class QueueCommands(SpoolTest):
    def fill(self, n=3):
        for i in range(n):
            self.sp.sendmail(["-i", "user%d@example.com" % i],
                             b"Subject: %d\n\nbody %d\n" % (i, i)).check(0)
        self.sp.flush()
        return [e.id for e in self.sp.entries()]

    def test_hold_and_release(self):
        a, b, c = self.fill()
        self.sp.queue("hold", b)
        self.assertEqual(self.sp.names("hold"), [b])
        self.assertEqual([e.id for e in self.sp.entries()], [a, c])
        self.sp.queue("hold", b)  # already held: no error
        self.sp.flush()           # held mail stays held
        self.assertEqual(self.sp.names("hold"), [b])
        self.sp.queue("release", b)
        self.assertEqual(self.sp.names("hold"), [])
        self.assertEqual([e.id for e in self.sp.entries()], [a, b, c])
        held = self.sp.entries()[1]
        self.assertEqual(held.body, b"body 1\n")

    def test_delete(self):
        a, b, c = self.fill()
        self.sp.queue("delete", b)
        self.assertEqual([e.id for e in self.sp.entries()], [a, c])
        self.assertEqual(self.sp.names("purge"), [])
        self.sp.queue("hold", c)
        self.sp.queue("delete", c)
        self.assertEqual(self.sp.names("hold"), [])

    def test_delete_all(self):
        self.fill()
        self.sp.sendmail(["root"], MSG).check(0)  # still in maildrop/
        self.sp.queue("delete", "ALL")
        self.assertEqual(self.sp.entries(), [])
        self.assertEqual(self.sp.names("maildrop"), [])
        self.assertEqual(self.sp.mailq().stdout, b"Mail queue is empty\n")

    def test_delete_maildrop_entry(self):
        self.sp.sendmail(["root"], MSG).check(0)
        [ident] = self.sp.names("maildrop")
        self.sp.queue("delete", ident)
        self.assert_nothing_queued()

    def test_requeue(self):
        a, b, c = self.fill()
        path = os.path.join(self.sp.area("queue"), b, "envelope")
        with open(path) as f:
            text = f.read()
        later = int(time.time()) + 3600
        with open(path, "w") as f:
            f.write(text.replace("next: 0\n", "next: %d\n" % later))
        self.assertEqual(self.sp.entries()[1].envelope["next"], str(later))
        self.sp.queue("requeue", b)
        self.assertEqual(self.sp.entries()[1].envelope["next"], "0")
        # From hold: back in the queue, due now.
        self.sp.queue("hold", c)
        self.sp.queue("requeue", c)
        self.assertEqual(self.sp.names("hold"), [])
        self.assertEqual([e.id for e in self.sp.entries()], [a, b, c])

    def test_show(self):
        a, b, c = self.fill()
        r = self.sp.queue("show", b)
        e = self.sp.entries()[1]
        expected = ("*** ENVELOPE RECORDS %s ***\n" % b).encode() + e.envelope_text.encode() + \
            ("*** MESSAGE CONTENTS %s ***\n" % b).encode() + e.message + \
            ("*** END OF MESSAGE %s ***\n" % b).encode()
        self.assertEqual(r.stdout, expected)

    def test_unknown_and_invalid_ids(self):
        self.fill(1)
        r = self.sp.queue("hold", "0000000000000000", check=False)
        r.check(rt.EX_NOINPUT)
        self.assertIn("no such queue entry", r.err)
        self.sp.queue("delete", "../../etc/passwd", check=False).check(rt.EX_USAGE)
        self.sp.queue("show", "not-an-id", check=False).check(rt.EX_USAGE)
        self.sp.queue("frobnicate", self.sp.entries()[0].id, check=False).check(rt.EX_USAGE)
        self.sp.queue("hold", check=False).check(rt.EX_USAGE)
        self.assertEqual(len(self.sp.entries()), 1)

    def test_several_ids_one_bad(self):
        a, b, c = self.fill()
        r = self.sp.queue("hold", a, "0000000000000000", c, check=False)
        r.check(rt.EX_NOINPUT)
        self.assertEqual(self.sp.names("hold"), [a, c])

    def test_check(self):
        self.fill()
        r = self.sp.queue("check")
        self.assertIn("3 good, 0 damaged entries", r.out)
        victim = self.sp.entries()[0]
        os.unlink(os.path.join(victim.path, "message"))
        r = self.sp.queue("check", check=False)
        r.check(rt.EX_DATAERR)
        self.assertIn("2 good, 1 damaged entry", r.out)
        self.assertIn(victim.id, r.out)
        # Recovery (any flush) quarantines it; mailq shows it with '#'.
        self.sp.flush()
        self.assertEqual(self.sp.names("corrupt"), [victim.id])
        rows, _ = parse_mailq(self.sp.mailq().out)
        self.assertEqual({r_[0]: r_[1] for r_ in rows}[victim.id], "#")

    def test_relay_check_command(self):
        self.fill(1)
        r = self.sp.run(["check"]).check(0)
        self.assertIn("ok", r.out)
        self.assertIn("1 good, 0 damaged entries", r.out)

    def test_flush_without_relayhost_keeps_mail(self):
        ids = self.fill()
        for _ in range(2):
            self.sp.flush()
        self.assertEqual([e.id for e in self.sp.entries()], ids)

    def test_q_flag_flushes(self):
        self.sp.sendmail(["root"], MSG).check(0)
        self.sp.sendmail(["-q"]).check(0)
        self.assertEqual(len(self.sp.entries()), 1)
        self.assertEqual(self.sp.names("maildrop"), [])


if __name__ == "__main__":
    unittest.main()
