#!/usr/bin/python3
"""make_corpus.py OUT_DIR [RELAY_BIN] - seed corpora for the fuzz targets.

Writes OUT_DIR/<target>/ for every target in tests/fuzz/CMakeLists.txt from
the project's own test data, so that fuzzing starts from what real callers
and admins write:

  tests/data/callers/*.txt   the stdin of every recorded sendmail call:
                             header, smtp_safe, message_parsers; their
                             From/To/Cc values and argv recipients: address;
                             subject/recipients/body: mime
  tests/golden/*.map + .in   each table type's files, with their lookup
                             keys after a "%%" line: table_<type>
  tests/fuzz/seeds/<kind>/   hand-written configuration files, envelopes,
                             maildrop files, MIME specifications
  RELAY_BIN (optional)       a relay binary run on a private spool: the
                             maildrop files it writes for the caller
                             records, and the envelopes pickup commits

Only the standard library and tests/integration/relaytest.py are used.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
import relaytest  # noqa: E402

TABLE_PREFIXES = {"regexp_": "regexp", "pcre_": "pcre", "texthash_": "texthash",
                  "hash_": "texthash", "aliases_": "aliases"}


class Corpus:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count[target] = self.count.get(target, 0) + 1


def header_values(stdin, names=(b"from", b"to", b"cc", b"bcc", b"reply-to")):
    head = stdin.split(b"\n\n", 1)[0]
    values, current = [], None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and current is not None:
            current += b"\n" + line
            continue
        if current is not None:
            values.append(current)
            current = None
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in names:
            current = value.strip()
    if current is not None:
        values.append(current)
    return values


def from_callers(c):
    for rec in relaytest.load_caller_records():
        for t in ("header_fuzz", "smtp_safe_fuzz", "message_parsers_fuzz"):
            c.add(t, rec.stdin)
        for v in header_values(rec.stdin):
            c.add("address_fuzz", v)
        for a in rec.argv[1:]:
            if not a.startswith("-"):
                c.add("address_fuzz", a)
        subject = b""
        for line in rec.stdin.split(b"\n\n", 1)[0].split(b"\n"):
            if line.lower().startswith(b"subject:"):
                subject = line[8:].strip()
        to = b", ".join(a.encode() for a in rec.argv[1:] if not a.startswith("-")) or b"root"
        body = rec.stdin.split(b"\n\n", 1)[-1]
        c.add("mime_fuzz", b"\n%%\n".join([subject, b"", to, b"", b"", body, b""]))


def from_golden(c):
    golden = os.path.join(TESTS, "golden")
    for name in sorted(os.listdir(golden)):
        if not name.endswith(".map"):
            continue
        for prefix, kind in TABLE_PREFIXES.items():
            if name.startswith(prefix):
                with open(os.path.join(golden, name), "rb") as f:
                    table = f.read()
                keys = b""
                inp = os.path.join(golden, name[:-4] + ".in")
                if os.path.exists(inp):
                    with open(inp, "rb") as f:
                        keys = f.read()
                if not table.endswith(b"\n"):
                    table += b"\n"
                c.add("table_%s_fuzz" % kind, table + b"%%\n" + keys)
                c.add("table_%s_fuzz" % kind, table)


def from_seeds(c):
    seeds = os.path.join(HERE, "seeds")
    targets = {"config": "config_fuzz", "envelope": "envelope_fuzz",
               "maildrop": "maildrop_fuzz", "mime": "mime_fuzz"}
    for kind, target in targets.items():
        d = os.path.join(seeds, kind)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                c.add(target, f.read())
    # The SMTP client: envelopes with the EHLO of a submission server and
    # replies to a pipelined group.
    ehlo = (b"mail.example.net\nPIPELINING\nSIZE 35882577\n8BITMIME\nDSN\nSMTPUTF8\n"
            b"ENHANCEDSTATUSCODES\nAUTH PLAIN LOGIN\n")
    replies = (b"250 2.1.0 Ok\r\n550-5.1.1 <b@example.org>: no\r\n550 5.1.1 such user\r\n"
               b"250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as X\r\n")
    d = os.path.join(seeds, "envelope")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            c.add("smtp_client_fuzz", f.read() + b"%%\n" + ehlo + b"%%\n" + replies)
    # The configuration every integration test runs with.
    sp_text = relaytest.Spool.config_text(relaytest.Spool.__new__(relaytest.Spool),
                                          spool="/var/spool/relay")
    c.add("config_fuzz", sp_text)


def from_relay(c, binary):
    """Maildrop files and envelopes written by the real binary."""
    root = tempfile.mkdtemp(prefix="relay-corpus-")
    try:
        sp = relaytest.Spool(binary=binary, root=root)
        for rec in relaytest.load_caller_records()[:40]:
            if rec.personality not in ("sendmail", "send-mail"):
                continue
            sp.run(rec.argv[1:], rec.stdin, name="sendmail")
            for n in sp.names("maildrop"):
                with open(os.path.join(sp.area("maildrop"), n), "rb") as f:
                    c.add("maildrop_fuzz", f.read())
            sp.run(["--flush"])
        for e in sp.entries():
            c.add("envelope_fuzz", e.envelope_text)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split("\n")[0])
    c = Corpus(sys.argv[1])
    from_callers(c)
    from_golden(c)
    from_seeds(c)
    if len(sys.argv) == 3:
        from_relay(c, os.path.abspath(sys.argv[2]))
    for t in sorted(c.count):
        print("%-24s %4d seeds" % (t, c.count[t]))


if __name__ == "__main__":
    main()
