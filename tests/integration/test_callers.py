"""Every recorded caller of /usr/sbin/sendmail, replayed against relay.

tests/data/callers/<caller>.txt hold real invocations captured on Debian 12
(cron, anacron, at, mailx, mutt, PHP, git send-email, fail2ban, ...). Each
record is replayed as it happened: argv exactly (argv[0] too, through a
symlink with its basename), stdin byte for byte as a pipe or a regular file,
stdout/stderr as pipe, file, character device or closed, the umask, the cwd
(a deleted directory when the recorded one does not exist here) and the
recorded environment. The configuration comes through RELAY_CONFIG so that
argv stays exact. Only the identity differs: the test runs as whoever runs
it (test_privilege.py covers submissions by an unprivileged user).

After pickup the queue must hold exactly one message with the right
envelope, completed headers (Date, Message-ID, From added where missing,
Bcc removed, bare addresses qualified with myorigin) and the body made
SMTP-safe as src/message/smtp_safe.hpp documents (smtp_safe_model.py says
what that gives: LF line ends, a final line break, no NUL or bare CR, and
a body with lines over 998 octets re-encoded as quoted-printable).
"""

import email.utils
import os
import pwd
import re
import stat
import unittest

import relaytest as rt
import smtp_safe_model as safe

ORIGIN = rt.MYORIGIN

# Envelope recipients after pickup, in order (command line first, then the
# headers with -t; duplicates once; bare names qualified with myorigin;
# "user@host" kept: append_dot_mydomain is off, as in Postfix >= 3.0).
EXPECTED_RCPTS = {
    "anacron#0": ["root@example.net"],
    "anacron#1": ["ops@example.com", "dev@example.org"],
    "apt-listchanges#0": ["root@example.net"],
    "apticron#0": ["root@example.net"],
    "at#0": ["alice@example.net"],
    "at#1": ["alice@example.net"],
    "bsd-mailx#0": ["rcpt1@example.com", "rcpt2@example.net"],
    "bsd-mailx#1": ["rcpt@example.com"],
    "bsd-mailx#2": ["rcpt@example.com", "cc@example.com", "bcc@example.com"],
    "bsd-mailx#3": ["rcpt@example.com"],
    "bsd-mailx#4": ["rcpt@example.com"],
    "debian-cron#0": ["root@example.net"],
    "debian-cron#1": ["root@example.net"],
    "debian-cron#2": ["www-data@example.net"],
    "debian-cron#3": ["alice@example.net"],
    "debian-cron#4": ["ops@example.com", "dev@example.org"],
    # "To: root, set escape": the bogus phrase is reported, root is kept.
    "fail2ban-mail-action#0": ["root@example.net"],
    "fail2ban-mail-action#1": ["root@example.net"],
    "fail2ban#0": ["ops@example.com"],
    "fail2ban#1": ["ops@example.com"],
    "fail2ban#2": ["ops@example.com"],
    "git-send-email#0": ["list@example.org", "bob@example.org", "alice@example.net",
                         "secret@example.com"],
    "git-send-email#1": ["list@example.org"],
    "icinga2-notification#0": ["ops@example.com"],
    "icinga2-notification#1": ["ops@example.com"],
    "logcheck#0": ["logcheck@example.net"],
    "logrotate#0": ["ops@example.com"],
    "logwatch#0": ["root@example.net", "ops@example.com"],   # two To: lines
    "mailutils#0": ["rcpt1@example.com", "rcpt2@vm"],
    "mailutils#1": ["rcpt@example.com"],
    "mailutils#2": ["rcpt@example.com"],
    "mailutils#3": ["rcpt@example.com"],
    "mutt#0": ["rcpt1@example.com", "rcpt2@vm"],
    "mutt#1": ["rcpt@example.com", "cc@example.com", "bcc@example.com"],
    "mutt#2": ["rcpt@example.com"],
    "mutt#3": ["rcpt@example.com"],
    "mutt#4": ["rcpt@example.com"],
    "neomutt#0": ["rcpt1@example.com", "rcpt2@vm"],
    "neomutt#1": ["rcpt@example.com", "cc@example.com", "bcc@example.com"],
    "neomutt#2": ["rcpt@example.com"],
    "neomutt#3": ["rcpt@example.com"],
    "php-mail#0": ["rcpt@example.com"],
    "php-mail#1": ["a@example.com", "b@example.org"],           # display name
    "rkhunter#0": ["root@example.net"],
    "s-nail#0": ["rcpt1@example.com", "rcpt2@example.net"],
    "s-nail#1": ["rcpt@example.com"],
    "s-nail#2": ["rcpt@example.com", "cc@example.com", "bcc@example.com"],
    "s-nail#3": ["rcpt@example.com"],
    "s-nail#4": ["rcpt@example.com"],
    "s-nail#5": ["t1@example.com", "c1@example.com", "b1@example.com"],
    "smartd#0": ["root@example.net"],
    "sudo#0": ["root@example.net"],
    "sudo#1": ["root@example.net"],
    "systemd-cron#0": ["ops@example.com"],
    "systemd-email#0": ["ops@example.com"],
    "unattended-upgrades#0": ["ops@example.com"],
}

# Records that are not submissions: what they must leave behind.
NOT_MAIL = {"newaliases-logcheck-postinst#0"}

# Address headers whose stored value differs from the input: bare local
# parts and "local@" get @myorigin (Postfix cleanup's header rewriting);
# everything else in the header section is stored byte for byte (after
# smtp_safe.hpp's NUL and bare CR rules; a re-encoded body changes only the
# MIME fields, see CallerReplay.expected_fields).
REWRITTEN_HEADERS = {
    ("anacron#0", "From"): ["Anacron <root@example.net>"],
    ("anacron#0", "To"): ["root@example.net"],
    ("anacron#1", "From"): ["Anacron <root@example.net>"],
    ("apt-listchanges#0", "To"): ["root@example.net"],
    ("apticron#0", "To"): ["root@example.net"],
    ("at#0", "To"): ["alice@example.net"],
    ("at#1", "To"): ["alice@example.net"],
    ("bsd-mailx#0", "To"): ["rcpt1@example.com, rcpt2@example.net"],
    ("debian-cron#0", "From"): ["root@example.net (Cron Daemon)"],
    ("debian-cron#0", "To"): ["root@example.net"],
    ("debian-cron#1", "From"): ["root@example.net (Cron Daemon)"],
    ("debian-cron#1", "To"): ["root@example.net"],
    ("debian-cron#2", "From"): ["root@example.net (Cron Daemon)"],
    ("debian-cron#2", "To"): ["www-data@example.net"],
    ("debian-cron#3", "From"): ["root@example.net (Cron Daemon)"],
    ("debian-cron#3", "To"): ["alice@example.net"],
    ("fail2ban-mail-action#0", "To"): ["root@example.net, set escape"],
    ("fail2ban-mail-action#1", "To"): ["root@example.net"],
    ("logcheck#0", "To"): ["logcheck@example.net"],
    ("logwatch#0", "To"): ["root@example.net", "ops@example.com"],
    ("logwatch#0", "From"): ["root@example.net"],
    ("rkhunter#0", "To"): ["root@example.net"],
    ("s-nail#0", "To"): ["rcpt1@example.com, rcpt2@example.net"],
    ("smartd#0", "To"): ["root@example.net"],
    ("sudo#0", "To"): ["root@example.net"],
    ("sudo#0", "From"): ["alice@example.net"],
    ("sudo#1", "To"): ["root@example.net"],
    ("sudo#1", "From"): ["alice@example.net"],
    ("systemd-cron#0", "From"): ["root@example.net (systemd-cron)"],
    ("systemd-email#0", "From"): ["systemd <root@example.net>"],   # "root@": empty domain
    ("unattended-upgrades#0", "From"): ["root@example.net"],
}

# Warnings the front end must print (when the caller gives it a stderr).
EXPECTED_WARNINGS = {
    "fail2ban-mail-action#0": "set escape",
}

HEADER_RE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def normalize_crlf(data):
    """Any run of CRs before an LF goes, as pickup stores messages."""
    return re.sub(rb"\r+\n", b"\n", data)


def dot_terminate(data):
    """Without -i: the message ends before the first line that is "." (LF
    or CRLF), or a final "." without a newline."""
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        if data[pos:nl] in (b".", b".\r"):
            return data[:pos]
        pos = nl + 1
    if data[pos:] == b".":
        return data[:pos]
    return data


def split_input(data):
    """(header fields [(name, raw LF text)], body) of raw caller input, by
    the rule of src/message/header.hpp: the header section ends at the
    first empty line or at the first line that is neither a field nor a
    continuation; a leading mbox "From " line is dropped."""
    data = normalize_crlf(data)
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        data = b"" if nl < 0 else data[nl + 1:]
    fields, pos = [], 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl
        line = data[pos:end]
        if line == b"" and nl >= 0:
            return fields, data[nl + 1:]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b"\n" + line)
        elif HEADER_RE.match(line):
            fields.append((line.split(b":", 1)[0].strip().decode("latin-1"), line))
        else:
            return fields, data[pos:]
        pos = end + 1
    return fields, b""


def option_value(argv, letter):
    """The value of -LETTER (glued or separate) in a sendmail argv, or None."""
    args = argv[1:]
    i = 0
    value = None
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a.startswith("-" + letter):
            value = a[2:] if len(a) > 2 else (args[i + 1] if i + 1 < len(args) else None)
            if len(a) == 2:
                i += 1
        i += 1
    return value


def has_flag(argv, flag):
    args = argv[1:]
    return flag in args[:args.index("--")] if "--" in args else flag in args


def qualify(addr):
    if not addr:
        return addr
    if "@" not in addr:
        return addr + "@" + ORIGIN
    if addr.endswith("@"):
        return addr + ORIGIN
    return addr


def replay(spool, rec):
    """Runs REC against SPOOL as it was recorded; returns the Run."""
    cwd_exists = os.path.isdir(rec.cwd)
    return spool.run(rec.argv[1:], rec.stdin, name=rec.personality, argv0=rec.argv[0],
                     config="env", env=dict(rec.env), stdin_mode=rec.stdio[0],
                     stdout=rec.stdio[1], stderr=rec.stdio[2], umask=rec.umask,
                     cwd=rec.cwd if cwd_exists else None, cwd_deleted=not cwd_exists)


class CallerReplay(unittest.TestCase):
    """One test per record (generated below)."""

    def setUp(self):
        self.spool = rt.Spool()
        self.addCleanup(self.spool.cleanup)

    def check_record(self, rec):
        sp = self.spool
        run = replay(sp, rec)
        run.check(0)
        if rec.name in NOT_MAIL:
            sp.flush()
            self.assertEqual(sp.counts()["queue"], 0)
            self.assertEqual(sp.names("maildrop"), [])
            return
        self.check_maildrop(rec)
        if rec.stdio[2] != "closed":
            # Silent on success, but for what the caller should hear about.
            if rec.name in EXPECTED_WARNINGS:
                self.assertIn(EXPECTED_WARNINGS[rec.name], run.err)
                self.assertEqual(len(run.err.splitlines()), 1, run.err)
            else:
                self.assertEqual(run.err, "")
        self.assertEqual(run.out, "")
        sp.flush()
        entry = sp.only_entry()
        for area in ("maildrop", "incoming", "corrupt", "purge", "hold"):
            self.assertEqual(sp.names(area), [], area + "/ not empty")
        self.check_modes(entry)
        self.check_envelope(rec, entry)
        self.check_headers(rec, entry)
        self.check_body(rec, entry)

    def check_maildrop(self, rec):
        """One complete submission file whatever the caller's umask."""
        names = self.spool.names("maildrop")
        self.assertEqual(len(names), 1, names)
        self.assertTrue(rt.is_queue_id(names[0]), names)
        st = os.stat(os.path.join(self.spool.area("maildrop"), names[0]))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644, "umask %o" % rec.umask)

    def check_modes(self, entry):
        self.assertEqual(stat.S_IMODE(os.stat(entry.path).st_mode), 0o700)
        for f in ("message", "envelope"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(entry.path, f)).st_mode), 0o600, f)

    def check_envelope(self, rec, entry):
        env = entry.envelope
        self.assertEqual(env["id"], entry.id)
        self.assertEqual(env.recipients(), EXPECTED_RCPTS[rec.name])
        self.assertEqual(env.recipients("pending"), EXPECTED_RCPTS[rec.name])
        sender = option_value(rec.argv, "f") or option_value(rec.argv, "r")
        login = pwd.getpwuid(os.getuid()).pw_name
        self.assertEqual(env.sender, qualify(sender if sender is not None else login))
        self.assertEqual(env.uid, os.getuid())
        self.assertEqual(env.user, login)
        self.assertEqual(int(env["size"]), len(entry.message))
        # -B as given, else 8BITMIME when the stored body is 8-bit.
        body_type = option_value(rec.argv, "B")
        self.assertEqual(env.get("body"), safe.expected_body_type(body_type, entry.body))
        if not body_type:
            # The same from the model: a re-encoded body is 7-bit.
            _, body, reencoded = self.expected(rec)
            eight = safe.eight_bit(body) and not reencoded
            self.assertEqual(env.get("body"), "8BITMIME" if eight else None)
        for r in env.rcpts:
            # The recipient as the caller wrote it is kept for DSN ORCPT.
            if r["address"].endswith("@" + ORIGIN) and r["orig"] != r["address"]:
                self.assertEqual(qualify(r["orig"]), r["address"])

    def expected(self, rec):
        """(header fields, body before any re-encoding, re-encoded?) as
        pickup must store them for REC."""
        data = rec.stdin if self.ignore_dots(rec) else dot_terminate(rec.stdin)
        fields, body = split_input(data)
        fields = [(n, safe.header_field(raw)) for n, raw in fields]
        for _, raw in fields:
            self.assertLessEqual(safe.longest_line(raw), safe.LIMIT,
                                 "no recorded caller writes over-long header lines")
        body = safe.body_text(body)
        reencoded = safe.needs_reencoding(body)
        if reencoded:
            # The samples need the single-part rule only (multipart is
            # covered by test_frontend.py).
            self.assertNotEqual((safe.content_type(fields) or "").split("/")[0], "multipart")
            self.assertIn(safe.transfer_encoding(fields), safe.REENCODABLE)
        return fields, body, reencoded

    def check_headers(self, rec, entry):
        fields, _, reencoded = self.expected(rec)
        in_names = [n.lower() for n, _ in fields]
        mime_added = []
        if reencoded:
            # Content-Transfer-Encoding is replaced (the new one comes
            # after the caller's fields); Content-Type and MIME-Version
            # are added when missing.
            fields = [(n, raw) for n, raw in fields if n.lower() != "content-transfer-encoding"]
            mime_added = ["Content-Transfer-Encoding"]
            if "content-type" not in in_names:
                mime_added.append("Content-Type")
            if "mime-version" not in in_names:
                mime_added.append("MIME-Version")
        out = entry.fields
        # Received: first, naming our host and the queue id.
        self.assertEqual(out[0][0], "Received")
        self.assertIn(b"by " + rt.MYHOSTNAME.encode(), out[0][1])
        self.assertIn(entry.id.encode(), out[0][1])
        # Bcc never stored; everything else kept in order, byte for byte
        # unless it is an address header with something to qualify.
        self.assertEqual(entry.headers("Bcc"), [])
        self.assertEqual(entry.headers("Resent-Bcc"), [])
        kept = [(n, raw) for n, raw in fields if n.lower() not in ("bcc", "resent-bcc", "return-path")]
        stored = out[1:1 + len(kept)]
        self.assertEqual([n for n, _ in stored], [n for n, _ in kept],
                         "header order changed")
        for (name, raw), (_, got) in zip(kept, stored):
            key = (rec.name, name)
            if key in REWRITTEN_HEADERS:
                continue
            self.assertEqual(got, raw, "%s: header changed" % name)
        for (rname, hname), values in REWRITTEN_HEADERS.items():
            if rname == rec.name:
                self.assertEqual(entry.headers(hname), values, hname)
        # Added where missing, exactly once, after the caller's own fields.
        for name in ("From", "Date", "Message-ID"):
            self.assertEqual(len(entry.headers(name)), 1, name)
        added = [n for n, _ in out[1 + len(kept):]]
        expect_added = [n for n in ("From", "Date", "Message-ID") if n.lower() not in in_names]
        if not any(n in in_names for n in ("to", "cc", "bcc", "resent-to", "resent-cc",
                                           "resent-bcc")):
            expect_added.append("To")
        self.assertEqual(added[:len(expect_added)], expect_added)
        self.assertEqual(sorted(added[len(expect_added):]), sorted(mime_added))
        if reencoded:
            self.assertEqual(entry.headers("Content-Transfer-Encoding"), ["quoted-printable"])
            self.assertEqual(len(entry.headers("MIME-Version")), 1)
            self.assertEqual(len(entry.headers("Content-Type")), 1)
        if "date" not in in_names:
            parsed = email.utils.parsedate_to_datetime(entry.header("Date"))
            self.assertIsNotNone(parsed.tzinfo)
        if "message-id" not in in_names:
            self.assertRegex(entry.header("Message-ID"),
                             r"^<\d{14}\.%s@%s>$" % (entry.id, re.escape(rt.MYHOSTNAME)))
        if "from" not in in_names:
            fullname = option_value(rec.argv, "F")
            if fullname:
                self.assertEqual(entry.header("From"),
                                 '"%s" <%s>' % (fullname, entry.envelope.sender))
            else:
                self.assertEqual(entry.header("From"), entry.envelope.sender)

    def check_body(self, rec, entry):
        _, body, reencoded = self.expected(rec)
        if reencoded:
            # Quoted-printable now: it decodes to the body as it came.
            part = safe.parse_stored(entry.message)
            self.assertFalse(part.is_multipart())
            self.assertEqual(safe.decoded_payload(part), body)
            self.assertNotEqual(entry.body, body)
        else:
            self.assertEqual(entry.body, body)
        self.assertTrue(safe.all_lines_fit(entry.message))
        # Stored with LF line ends only, no NUL, no CR at all.
        self.assertNotIn(b"\r", entry.message)
        self.assertNotIn(b"\0", entry.message)

    @staticmethod
    def ignore_dots(rec):
        return has_flag(rec.argv, "-i") or has_flag(rec.argv, "-oi")


def _make_test(rec):
    def test(self):
        self.check_record(rec)
    test.__doc__ = "%s: %s" % (rec.name, " ".join(rec.argv))
    return test


RECORDS = rt.load_caller_records()
for _rec in RECORDS:
    _name = "test_" + re.sub(r"\W", "_", _rec.name)
    setattr(CallerReplay, _name, _make_test(_rec))


class CallerTable(unittest.TestCase):
    def test_every_record_has_an_expectation(self):
        names = {r.name for r in RECORDS}
        self.assertEqual(names - NOT_MAIL, set(EXPECTED_RCPTS))
        self.assertEqual(len(RECORDS), 57)
        for rname, _ in REWRITTEN_HEADERS:
            self.assertIn(rname, names)

    def test_samples_cover_what_callers_do(self):
        """The traits the replay depends on are really in the samples."""
        kinds = {(fd, r.stdio[fd]) for r in RECORDS for fd in (0, 1, 2)}
        for k in [(0, "pipe"), (0, "file"), (1, "closed"), (2, "closed"), (1, "chardev"),
                  (1, "file")]:
            self.assertIn(k, kinds)
        self.assertTrue(any(r.umask == 0o177 for r in RECORDS))
        self.assertTrue(any(b"\r\n" in r.stdin for r in RECORDS))
        self.assertTrue(any(not r.stdin.endswith(b"\n") and r.stdin for r in RECORDS))
        self.assertTrue(any(not os.path.isdir(r.cwd) for r in RECORDS))


if __name__ == "__main__":
    unittest.main()
