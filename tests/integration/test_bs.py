"""sendmail -bs: an SMTP dialogue on stdin/stdout that queues what it
accepts (as Postfix's sendmail -bs does), with bounded memory whatever
the input."""

import os
import subprocess
import tempfile
import unittest

import relaytest as rt


class BsDialogue(unittest.TestCase):
    def setUp(self):
        self.sp = rt.Spool(queue_config='message_size_limit = "1M"')
        self.addCleanup(self.sp.cleanup)

    def bs(self, script):
        r = self.sp.sendmail(["-bs"], script)
        return r, r.out.replace("\r\n", "\n").splitlines()

    def test_a_message_is_queued_with_dots_unstuffed(self):
        r, lines = self.bs(b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n"
                           b"RCPT TO:<bob@example.net>\r\nDATA\r\nSubject: bs\r\n\r\n"
                           b"..leading dot\r\nlast\r\n.\r\nQUIT\r\n")
        r.check(0)
        self.assertTrue(lines[0].startswith("220 "), lines)
        self.assertIn("250-SIZE", "\n".join(lines))
        self.assertTrue(any(l.startswith("354 ") for l in lines), lines)
        queued = [l for l in lines if l.startswith("250 2.0.0 Ok: queued as ")]
        self.assertEqual(len(queued), 1, lines)
        self.assertTrue(lines[-1].startswith("221 "), lines)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.id, queued[0].split()[-1])
        self.assertEqual(e.envelope.sender, "alice@example.org")
        self.assertEqual(e.envelope.recipients(), ["bob@example.net"])
        self.assertIn(b"\n.leading dot\n", e.message.replace(b"\r\n", b"\n"))

    def test_an_overlong_command_line_is_refused_and_the_dialogue_goes_on(self):
        r, lines = self.bs(b"EHLO client.example\r\nMAIL FROM:<" + b"a" * 100000 + b"@x>\r\n"
                           b"NOOP\r\nQUIT\r\n")
        r.check(0)
        self.assertIn("500 5.5.2 Error: line too long", lines)
        # The rest of the long line is not taken for commands: NOOP is next.
        i = lines.index("500 5.5.2 Error: line too long")
        self.assertTrue(lines[i + 1].startswith("250"), lines)
        self.assertTrue(lines[-1].startswith("221 "), lines)

    def peak_rss_kib(self, head, filler, tail=b""):
        """Peak RSS of `sendmail -bs` reading HEAD, FILLER bytes of "x"
        and TAIL from a file (written in pieces: this process stays small,
        and the child's figure counts from its fork)."""
        with tempfile.TemporaryFile(dir=self.sp.root) as f:
            f.write(head)
            chunk = b"x" * (1 << 20)
            for _ in range(filler >> 20):
                f.write(chunk)
            f.write(tail)
            f.seek(0)
            p = subprocess.Popen([self.sp.link("sendmail"), "-C", self.sp.config, "-bs"],
                                 stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=rt.default_env())
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            self.assertEqual(p.returncode, 0)
            return usage.ru_maxrss

    def test_input_without_line_breaks_is_not_buffered(self):
        # 64 MiB with no line break, as a command and inside DATA: the peak
        # RSS grows by far less than the input (buffering it would add 64
        # MiB or more). The bound leaves room for the 1 MiB size limit a few
        # times over and for ASan's quarantine of freed memory.
        ehlo = b"EHLO c\r\n"
        txn = ehlo + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
        base = self.peak_rss_kib(txn + b"hi\r\n.\r\nQUIT\r\n", 0)
        for head, tail in ((ehlo + b"MAIL FROM:<", b""), (txn, b"\r\n.\r\nQUIT\r\n")):
            peak = self.peak_rss_kib(head, 64 << 20, tail)
            self.assertLess(peak, base + 24 * 1024, "peak RSS %d KiB, %d KiB for one line" % (peak, base))
        # The small message was queued; the one in DATA was over the size
        # limit and refused.
        self.sp.flush()
        self.assertEqual(len(self.sp.entries()), 1)

    def test_input_ending_inside_data_queues_nothing(self):
        r, lines = self.bs(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                           b"DATA\r\nSubject: cut\r\n\r\npartial")
        self.assertEqual(r.rc, 65, r.describe())
        self.sp.flush()
        self.assertEqual(self.sp.entries(), [])
        self.assertEqual(self.sp.names("maildrop"), [])


if __name__ == "__main__":
    unittest.main()
