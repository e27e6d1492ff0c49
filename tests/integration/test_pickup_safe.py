"""What pickup makes of bytes SMTP cannot carry, through the real binary.

The rules are the ones src/message/smtp_safe.hpp documents; the expected
queue files come from smtp_safe_model.py (the rules written again in
Python) and, for re-encoded bodies, from Python's email package decoding
the stored message: what a reader gets must be what the caller sent.
"""

import base64
import unittest

import relaytest as rt
import smtp_safe_model as safe


def stored(args, stdin):
    """The queue entry for one submission in a spool of its own."""
    with rt.Spool() as sp:
        sp.sendmail(args, stdin).check(0)
        sp.flush()
        return sp.only_entry()


def field_raw(entry, name):
    """The stored raw text of the one field NAME."""
    raws = [raw for n, raw in entry.fields if n.lower() == name.lower()]
    assert len(raws) == 1, (name, raws)
    return raws[0]


class LongBodyLines(unittest.TestCase):
    def check_reencoded(self, e, original_body):
        """E's body is quoted-printable that decodes to ORIGINAL_BODY."""
        self.assertEqual(e.headers("Content-Transfer-Encoding"), ["quoted-printable"])
        self.assertEqual(e.headers("MIME-Version"), ["1.0"])
        self.assertEqual(len(e.headers("Content-Type")), 1)
        msg = safe.parse_stored(e.message)
        self.assertFalse(msg.is_multipart())
        self.assertEqual(safe.decoded_payload(msg), original_body)
        for line in e.message.split(b"\n"):
            self.assertLessEqual(len(line), safe.LIMIT)
        for line in e.body.split(b"\n"):
            self.assertLessEqual(len(line), 76)   # RFC 2045 6.7 (5)

    def test_5000_octet_line(self):
        line = bytes((ord("a") + i % 26) for i in range(5000))
        body = b"first\n" + line + b"\nlast\n"
        e = stored(["-i", "root"], b"Subject: long\n\n" + body)
        self.check_reencoded(e, body)
        self.assertEqual(e.header("Content-Type"), "text/plain; charset=us-ascii")
        self.assertEqual(e.header("Subject"), "long")
        self.assertGreater(len(e.body.split(b"\n")), 5000 // 76)
        self.assertIsNone(e.envelope.get("body"))

    def test_5000_octet_line_without_final_newline(self):
        line = b"y" * 5000
        e = stored(["-i", "root"], b"Subject: long\n\n" + line)
        self.check_reencoded(e, line + b"\n")

    def test_awkward_bytes_survive(self):
        # '=', trailing white space, "From " and "." lines, a tab, 8-bit.
        line = (b"a=b " * 400) + b"\t "
        body = b"From here\n.\n" + line + b"\nend \n"
        e = stored(["-i", "root"], b"Subject: awkward\n\n" + body)
        self.check_reencoded(e, body)
        self.assertNotIn(b"\nFrom ", b"\n" + e.body)

    def test_charset_of_added_content_type(self):
        for body, charset in ((b"\xc3\xa9" * 700 + b"\n", "utf-8"),
                              (b"\xe9" * 1200 + b"\n", "unknown-8bit")):
            self.assertEqual(safe.charset_for(body), charset)
            with self.subTest(charset=charset):
                e = stored(["-i", "root"], b"Subject: x\n\n" + body)
                self.check_reencoded(e, body)
                self.assertEqual(e.header("Content-Type"), "text/plain; charset=" + charset)
                # Quoted-printable is 7-bit: no 8BITMIME without -B.
                self.assertFalse(safe.eight_bit(e.body))
                self.assertIsNone(e.envelope.get("body"))
                self.assertEqual(e.envelope.get("body"),
                                 safe.expected_body_type(None, e.body))

    def test_existing_mime_fields(self):
        # Content-Type kept as written; the 8bit encoding replaced, once;
        # MIME-Version not added twice.
        body = b"\xe9t\xe9 " * 400 + b"\n"
        e = stored(["-i", "root"], b"MIME-Version: 1.0\nContent-Type: text/plain; "
                   b"charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\nSubject: x\n\n" + body)
        self.check_reencoded(e, body)
        self.assertEqual(e.headers("Content-Type"), ["text/plain; charset=iso-8859-1"])
        self.assertEqual(safe.parse_stored(e.message).get_content_charset(), "iso-8859-1")

    def test_b_option_kept_when_reencoded(self):
        body = b"\xc3\xa9" * 700 + b"\n"
        e = stored(["-i", "-B8BITMIME", "root"], b"Subject: x\n\n" + body)
        self.check_reencoded(e, body)
        self.assertEqual(e.envelope.get("body"), "8BITMIME")

    def test_quoted_printable_gets_soft_breaks(self):
        # Already quoted-printable, one encoded line too long: soft breaks
        # only, the decoded text is unchanged.
        encoded = b"=C3=A9" * 400 + b"\n"
        e = stored(["-i", "root"], b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                   b"Content-Transfer-Encoding: quoted-printable\n\n" + encoded)
        msg = safe.parse_stored(e.message)
        self.assertEqual(safe.decoded_payload(msg), b"\xc3\xa9" * 400 + b"\n")
        self.assertEqual(e.headers("Content-Transfer-Encoding"), ["quoted-printable"])
        self.assertTrue(safe.all_lines_fit(e.message))
        self.assertIn(b"=\n", e.body)

    def test_base64_rewrapped(self):
        data = bytes(range(256)) * 12
        encoded = base64.b64encode(data) + b"\n"
        self.assertGreater(len(encoded), 4000)
        e = stored(["-i", "root"], b"MIME-Version: 1.0\nContent-Type: application/octet-stream\n"
                   b"Content-Transfer-Encoding: base64\n\n" + encoded)
        self.assertEqual(safe.decoded_payload(safe.parse_stored(e.message)), data)
        self.assertEqual(e.headers("Content-Transfer-Encoding"), ["base64"])
        self.assertEqual(max(len(x) for x in e.body.split(b"\n")), 76)

    def test_unknown_encoding_split_hard(self):
        # Nothing to re-encode with: LF SPACE at the limit, as Postfix does.
        line = b"z" * 3000
        e = stored(["-i", "root"], b"Content-Transfer-Encoding: x-private\n\n" + line + b"\n")
        self.assertEqual(e.headers("Content-Transfer-Encoding"), ["x-private"])
        self.assertTrue(safe.all_lines_fit(e.message))
        self.assertEqual(e.body.replace(b"\n ", b""), line + b"\n")

    def test_multipart_per_leaf_part(self):
        long_text = ("Grüße " * 500).encode() + b"\n"
        attachment = bytes(range(256)) * 8
        b64_one_line = base64.b64encode(attachment)
        msg = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUND\"\n"
               b"Subject: parts\n\npreamble\n"
               b"--BOUND\nContent-Type: text/plain; charset=utf-8\n"
               b"Content-Transfer-Encoding: 8bit\n\n" + long_text +
               b"--BOUND\nContent-Type: text/plain\n\nshort part\n"
               b"--BOUND\nContent-Type: application/octet-stream\n"
               b"Content-Transfer-Encoding: base64\n\n" + b64_one_line + b"\n"
               b"--BOUND--\nepilogue\n")
        e = stored(["-i", "root"], msg)
        self.assertTrue(safe.all_lines_fit(e.message))
        parsed = safe.parse_stored(e.message)
        self.assertTrue(parsed.is_multipart())
        parts = parsed.get_payload()
        # Each part decodes as the part sent (the line break before a
        # delimiter belongs to the delimiter, RFC 2046 5.1.1).
        sent = safe.parse_stored(msg).get_payload()
        self.assertEqual(len(parts), len(sent))
        self.assertEqual(len(parts), 3)
        for got, want in zip(parts, sent):
            self.assertEqual(safe.decoded_payload(got), safe.decoded_payload(want))
            self.assertEqual(got.get_content_type(), want.get_content_type())
        self.assertEqual(safe.decoded_payload(parts[0]), long_text[:-1])
        self.assertEqual(parts[0]["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        self.assertEqual(safe.decoded_payload(parts[1]), b"short part")
        self.assertIsNone(parts[1]["Content-Transfer-Encoding"])
        self.assertEqual(parts[2]["Content-Transfer-Encoding"], "base64")
        self.assertEqual(safe.decoded_payload(parts[2]), attachment)
        # The top level keeps its fields: no encoding of its own.
        self.assertEqual(e.headers("Content-Transfer-Encoding"), [])
        self.assertEqual(e.headers("MIME-Version"), ["1.0"])
        self.assertTrue(e.body.startswith(b"preamble\n--BOUND\n"))
        self.assertTrue(e.body.endswith(b"--BOUND--\nepilogue\n"))


class LongHeaderLines(unittest.TestCase):
    def test_folded_before_white_space(self):
        value = b"word " * 1000 + b"end"
        e = stored(["-i", "root"], b"X-Words: " + value + b"\n\nbody\n")
        raw = field_raw(e, "X-Words")
        self.assertTrue(safe.all_lines_fit(raw))
        lines = raw.split(b"\n")
        self.assertGreater(len(lines), 4)
        for cont in lines[1:]:
            self.assertIn(cont[:1], (b" ", b"\t"))
        # Only line breaks were inserted: unfolding gives the value back.
        self.assertEqual(raw.replace(b"\n", b""), b"X-Words: " + value)
        self.assertEqual(e.header("X-Words"), value.decode())
        self.assertEqual(e.body, b"body\n")

    def test_split_hard_without_white_space(self):
        value = b"v" * 5000
        e = stored(["-i", "root"], b"Subject: s\nX-Long: " + value + b"\n\nbody\n")
        raw = field_raw(e, "X-Long")
        self.assertTrue(safe.all_lines_fit(raw))
        self.assertEqual(raw.replace(b"\n ", b""), b"X-Long: " + value)
        self.assertEqual(e.header("Subject"), "s")

    def test_name_too_long_for_a_line_is_dropped(self):
        name = b"X-" + b"n" * 1100
        e = stored(["-i", "root"], b"Subject: s\n" + name + b": v\nX-After: a\n\nbody\n")
        self.assertNotIn(name, e.message)
        self.assertEqual(e.header("Subject"), "s")
        self.assertEqual(e.header("X-After"), "a")
        self.assertEqual(e.body, b"body\n")
        self.assertTrue(safe.all_lines_fit(e.message))


class NulAndBareCr(unittest.TestCase):
    BODIES = [
        # (body as sent, body as stored)
        (b"a\0b\n\0\nend\n", b"ab\n\nend\n"),
        (b"\0\0\0", b""),
        (b"10%\r20%\r30%\n", b"10%\n20%\n30%\n"),
        (b"a\r\r\rb\n", b"a\n\n\nb\n"),
        (b"crlf\r\nmixed\r\r\nbare\r", b"crlf\nmixed\nbare\n"),
        (b"a\r\0\nb\n", b"a\n\nb\n"),        # CR, NUL, LF: the CR is bare
        (b"a\0\r\nb\n", b"a\nb\n"),          # NUL, CR, LF: CRLF is a line end
        (b"tail\r", b"tail\n"),
    ]

    def test_body(self):
        for sent, want in self.BODIES:
            self.assertEqual(safe.body_text(sent), want)
            with self.subTest(body=sent):
                e = stored(["-i", "root"], b"Subject: bytes\n\n" + sent)
                self.assertEqual(e.body, want)
                self.assertNotIn(b"\0", e.message)
                self.assertNotIn(b"\r", e.message)

    def test_header_nul_removed(self):
        e = stored(["-i", "root"], b"Subject: a\0b\0\nX-Z: \0\n\nbody\n")
        self.assertEqual(e.header("Subject"), "ab")
        self.assertEqual(field_raw(e, "X-Z"), safe.header_field(b"X-Z: \0"))
        self.assertNotIn(b"\0", e.message)

    def test_header_bare_cr_is_a_space(self):
        # A bare CR cannot start a new field.
        e = stored(["-i", "root"], b"X-A: 1\rBcc: evil@example.org\nSubject: p\r\r\n\nbody\n")
        self.assertEqual(field_raw(e, "X-A"), b"X-A: 1 Bcc: evil@example.org")
        self.assertEqual(field_raw(e, "X-A"), safe.header_field(b"X-A: 1\rBcc: evil@example.org"))
        self.assertEqual(e.headers("Bcc"), [])
        self.assertEqual(e.header("Subject"), "p")
        self.assertEqual(e.envelope.recipients(), ["root@" + rt.MYORIGIN])
        self.assertNotIn(b"\r", e.message)

    def test_header_bare_cr_with_t(self):
        # -t: "To: a\rCc: b" is one To: field, never a Cc: whose address
        # becomes a recipient; the CR is a space in the stored copy.
        with rt.Spool() as sp:
            r = sp.sendmail(["-t", "-i", "root"],
                            b"To: a@example.com\rCc: b@example.com\n\nbody\n").check(0)
            self.assertIn("To:", r.err)
            sp.flush()
            e = sp.only_entry()
        self.assertEqual(e.envelope.recipients(), ["root@" + rt.MYORIGIN])
        self.assertEqual(e.headers("Cc"), [])
        self.assertEqual(field_raw(e, "To"), b"To: a@example.com Cc: b@example.com")
        self.assertNotIn(b"\r", e.message)

    def test_bare_cr_dot_does_not_end_the_message(self):
        # Without -i only an input line that is "." ends the message; a
        # "." between bare CRs is body text, stored on a line of its own.
        e = stored(["root"], b"Subject: d\n\na\r.\rb\n")
        self.assertEqual(e.body, b"a\n.\nb\n")


if __name__ == "__main__":
    unittest.main()
