"""A hostile local user against the set-gid front end (root only).

Root creates two throw-away users, `attacker` and `victim`, a
relaydrop-like group, a set-gid copy of relay (root:GROUP 2755) and a spool
whose maildrop/ is 1770 root:GROUP, as `relay --init-spool` makes it (the
setup of test_privilege.py). The default configuration file names the
spool for the duration of the test, under the same lock.

The attacker tries to
  - read the SMTP password (password_file, 0600) through relay;
  - read the victim's mail, queued or still in maildrop/;
  - inject header fields and envelope fields through arguments;
  - write a maildrop file by hand (it cannot: no group);
  - exhaust the spool (min_free_bytes refuses first).
Files a user with the group (or a broken front end) could leave in
maildrop/ are crafted by root: forged fields, a symlink named like a queue
id (to /etc/shadow and to a bait file whose atime shows it is never read),
a FIFO, a directory, a hard link, a huge file. pickup must quarantine each
one in corrupt/ and deliver nothing; the SMTP peer (smtpd_peer.py on
127.0.0.1) shows what would have left the machine.

Every attempt and its result is printed at the end.
"""

import errno
import fcntl
import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Peer

DEFAULT_CONFIG = os.environ.get("RELAY_TEST_DEFAULT_CONFIG", "/etc/relay/relay.toml")
LOCK_PATH = "/run/lock/relay-integration-default-config.lock"
SECRET = "s3cret-Hostile-Passw0rd"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EVIL = "evil@attacker.example"


def run_cmd(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def make_id():
    """A queue id as src/queue/id.cpp makes them: time, microseconds, random."""
    t = time.time()
    sec, usec = int(t), int((t - int(t)) * 1e6)

    def b32(v, n):
        return "".join(ALPHABET[(v >> (5 * i)) & 31] for i in range(n - 1, -1, -1))
    return b32(sec, 7) + b32(usec, 4) + b32(secrets.randbits(25), 5)


@unittest.skipUnless(os.geteuid() == 0, "the hostile-user tests need root (CI runs them as root)")
class HostileUser(unittest.TestCase):
    attempts = []

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.binary = rt.relay_bin()
        with open(cls.binary, "rb") as f:
            if (DEFAULT_CONFIG.encode() + b"\0") not in f.read():
                raise AssertionError("%s is not the binary's default configuration file "
                                     "(set RELAY_TEST_DEFAULT_CONFIG)" % DEFAULT_CONFIG)
        tag = secrets.token_hex(3)
        cls.group = "rhdrop" + tag
        run_cmd("groupadd", "--system", cls.group)
        cls.addClassCleanup(run_cmd, "groupdel", cls.group)
        cls.drop_gid = grp.getgrnam(cls.group).gr_gid
        cls.users = {}
        for role in ("attacker", "victim"):
            name = "rh%s%s" % (role[:3], tag)
            run_cmd("useradd", "--system", "--no-create-home", "--user-group",
                    "--shell", "/usr/sbin/nologin", name)
            cls.addClassCleanup(subprocess.run, ["userdel", name], capture_output=True)
            pw = pwd.getpwnam(name)
            cls.users[role] = (name, pw.pw_uid, pw.pw_gid)
        os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
        cls.lock = open(LOCK_PATH, "w")
        fcntl.flock(cls.lock, fcntl.LOCK_EX)
        cls.addClassCleanup(cls.lock.close)
        cls.save_default_config()
        cls.addClassCleanup(cls.report)

    @classmethod
    def save_default_config(cls):
        d = os.path.dirname(DEFAULT_CONFIG)
        made_dir = not os.path.isdir(d)
        os.makedirs(d, exist_ok=True)
        backup = None
        if os.path.lexists(DEFAULT_CONFIG):
            backup = tempfile.mkdtemp(prefix="relaytest-etc-")
            shutil.copy2(DEFAULT_CONFIG, os.path.join(backup, "relay.toml"), follow_symlinks=False)

        def restore():
            if backup:
                shutil.copy2(os.path.join(backup, "relay.toml"), DEFAULT_CONFIG,
                             follow_symlinks=False)
                shutil.rmtree(backup)
            else:
                if os.path.lexists(DEFAULT_CONFIG):
                    os.unlink(DEFAULT_CONFIG)
                if made_dir:
                    os.rmdir(d)
        cls.addClassCleanup(restore)

    @classmethod
    def report(cls):
        print("\n  hostile-user attempts (%d):" % len(cls.attempts))
        for area, what, result in cls.attempts:
            print("  [%s] %s\n      -> %s" % (area, what, result))

    def record(self, what, result):
        self.attempts.append((self._testMethodName[5:], what, result))

    @staticmethod
    def suid_capable_dir():
        for d in (tempfile.gettempdir(), "/var/tmp", rt.HERE):
            if os.path.isdir(d) and not os.statvfs(d).f_flag & os.ST_NOSUID:
                return d
        raise AssertionError("no temporary directory without nosuid")

    # -- setup per test
    def setUp(self):
        spool_tmpfs, queue_config = None, ""
        if self._testMethodName == "test_exhaust_the_spool":
            spool_tmpfs = "size=8m,mode=0755"
            queue_config = 'min_free_bytes = "3M"\nmessage_size_limit = "1M"\n'
        self.root = tempfile.mkdtemp(prefix="relaytest-hostile-", dir=self.suid_capable_dir())
        self.addCleanup(shutil.rmtree, self.root, True)
        os.chmod(self.root, 0o755)
        if spool_tmpfs:
            os.mkdir(os.path.join(self.root, "spool"))
            self.mount(os.path.join(self.root, "spool"), spool_tmpfs)
        self.peer = Peer(os.path.join(self.root, "peer"), tls="none").start()
        self.addCleanup(self.peer.stop)
        self.sp = rt.Spool(root=self.root, init=False)
        self.queue_config = queue_config
        self.sp.write_config(self.config_text())
        self.sp.init()
        md = self.sp.area("maildrop")
        os.chown(md, 0, self.drop_gid)
        os.chmod(md, 0o1770)
        self.install_default_config(self.config_text())
        self.sgid_dir = os.path.join(self.root, "sgid")
        os.mkdir(self.sgid_dir, 0o755)
        self.sgid = os.path.join(self.sgid_dir, "relay")
        shutil.copy(self.binary, self.sgid)
        os.chown(self.sgid, 0, self.drop_gid)
        os.chmod(self.sgid, 0o2755)
        for name in ("sendmail", "mailq", "mail"):
            os.symlink("relay", os.path.join(self.sgid_dir, name))

    def mount(self, path, options):
        run_cmd("mount", "-t", "tmpfs", "-o", options, "tmpfs", path)
        self.addCleanup(run_cmd, "umount", "-l", path)

    def config_text(self, relayhost=True):
        text = self.sp.config_text()
        if self.queue_config:
            text = text.replace('min_free_bytes = "1M"\n', "")
            text = text.replace("[queue]\n", "[queue]\n" + self.queue_config, 1)
        if not relayhost:
            return text
        return text + ('\n[smtp]\nrelayhost = "[127.0.0.1]:%d"\ntls = "none"\n'
                       'connect_timeout = 5\ncommand_timeout = 10\n' % self.peer.port)

    def install_default_config(self, text):
        with open(DEFAULT_CONFIG, "w") as f:
            f.write(text)
        os.chmod(DEFAULT_CONFIG, 0o644)

    # -- running as a user
    def become(self, role="attacker"):
        _, uid, gid = self.users[role]

        def drop():
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        return drop

    def as_user(self, args, stdin=b"", name="sendmail", role="attacker", setgid=True, env=None,
                config=None, **kw):
        exe = os.path.join(self.sgid_dir, name) if setgid else self.sp.link(name)
        user = self.users[role][0]
        user_env = env or {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "USER": user,
                           "LOGNAME": user}
        return self.sp.run(args, stdin, name=name, config=config, env=user_env,
                           executable=exe, preexec=self.become(role), **kw)

    def shell_as(self, argv, role="attacker"):
        return subprocess.run(argv, preexec_fn=self.become(role), capture_output=True, timeout=60)

    def pickup_and_deliver(self):
        # -v: pickup's warnings go to stderr too, not only to syslog.
        r = self.sp.run(["--flush", "-v"])
        self.assertEqual(r.rc, 0, r.describe())
        return r

    def delivered_to(self):
        return sorted(a for m in self.peer.messages for a in m.rcpt_tos)

    def delivered_bytes(self):
        return b"".join(m.data for m in self.peer.messages)

    def assert_nothing_evil_delivered(self):
        self.assertNotIn(EVIL, self.delivered_to())
        for e in self.sp.entries() + self.sp.entries("hold"):
            self.assertNotIn(EVIL, e.envelope.recipients())

    # ------------------------------------------------------------ credentials
    def test_credentials(self):
        secret = os.path.join(self.root, "smtp-password")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        self.install_default_config(self.config_text().replace(
            'tls = "none"\n', 'tls = "none"\nallow_plaintext_auth = true\nusername = "u"\n'
            'password_file = "%s"\n' % secret))
        attempts = [
            ("sendmail", ["-C", secret, "root"], {}),
            ("sendmail", ["root"], {"RELAY_CONFIG": secret}),
            ("relay", ["-C", secret, "check"], {}),
            ("relay", ["--flush", "-v"], {}),
            ("sendmail", ["-v", "-q"], {}),
            ("sendmail", ["-bv", "root"], {}),
            ("mail", ["-a", secret, "-s", "pw", EVIL], {}),
            ("mail", ["-A", secret, "-s", "pw", EVIL], {}),
        ]
        for name, args, extra in attempts:
            with self.subTest(name=name, args=args):
                env = {"PATH": "/usr/bin:/bin"}
                env.update(extra)
                r = self.as_user(args, b"Subject: x\n\nbody\n", name=name, env=env)
                self.assertNotIn(SECRET.encode(), r.stdout + r.stderr)
                self.record("%s %s%s" % (name, " ".join(args),
                                         " RELAY_CONFIG=" + secret if extra else ""),
                            "exit %d: %s" % (r.rc, r.err.strip().splitlines()[-1] if r.err.strip() else "(no message)"))
        # What did get queued (the -C/RELAY_CONFIG submissions are ordinary
        # mail to root) never holds the secret, and neither does the wire.
        self.pickup_and_deliver()
        self.assertNotIn(SECRET.encode(), self.delivered_bytes())
        for e in self.sp.entries():
            self.assertNotIn(SECRET.encode(), e.message)
        self.assert_nothing_evil_delivered()
        r = self.shell_as(["cat", secret])
        self.assertNotEqual(r.returncode, 0)
        self.record("cat " + secret, "exit %d: %s" % (r.returncode, r.stderr.decode().strip()))

    # ------------------------------------------------------------ other users' mail
    def test_read_other_users_mail(self):
        victim_text = b"Subject: private\n\nthe victim's private words\n"
        self.as_user(["-i", "root"], victim_text, role="victim").check(0)
        self.as_user(["-i", "root"], victim_text, role="victim").check(0)
        pending, queued_id = sorted(self.sp.names("maildrop"))
        # One goes into the queue; the other stays in maildrop/.
        os.rename(os.path.join(self.sp.area("maildrop"), pending),
                  os.path.join(self.root, "held-back"))
        self.sp.write_config(self.config_text(relayhost=False))
        self.sp.flush()
        self.sp.write_config(self.config_text())
        os.rename(os.path.join(self.root, "held-back"),
                  os.path.join(self.sp.area("maildrop"), pending))
        [q] = self.sp.entries()
        self.assertEqual(q.id, queued_id)
        self.peer.messages.clear()
        files = [os.path.join(self.sp.area("maildrop"), pending),
                 os.path.join(q.path, "message"), os.path.join(q.path, "envelope")]
        for path in files + [self.sp.area("maildrop"), self.sp.area("queue")]:
            r = self.shell_as(["cat", path] if os.path.isfile(path) else ["ls", path])
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn(b"private words", r.stdout)
            self.record("%s %s" % ("cat" if os.path.isfile(path) else "ls", path),
                        "exit %d: %s" % (r.returncode, r.stderr.decode().strip()))
        for name, args in (("mailq", []), ("sendmail", ["-bp"]),
                           ("relay", ["queue", "show", q.id])):
            for setgid in (True, False):
                r = self.as_user(args, name=name, setgid=setgid,
                                 config="arg" if not setgid else None)
                self.assertNotEqual(r.rc, 0)
                self.assertNotIn(b"private", r.stdout + r.stderr)
                self.record("%s %s (%s)" % (name, " ".join(args), "set-gid" if setgid else "plain"),
                            "exit %d" % r.rc)
        # The set-gid mail front end opens attachments: with the group's
        # credentials it could search maildrop/ and read a 0644 submission.
        for path in files:
            r = self.as_user(["-a", path, "-s", "stolen", EVIL], b"see attachment\n", name="mail")
            self.assertNotEqual(r.rc, 0, "attached %s: %s" % (path, r.describe()))
            self.record("mail -a %s %s" % (path, EVIL),
                        "exit %d: %s" % (r.rc, r.err.strip()))
        self.pickup_and_deliver()
        # The victim's two messages reach root; nothing reaches the attacker.
        self.assertEqual(self.delivered_to(), ["root@example.net"] * 2)
        self.assert_nothing_evil_delivered()

    # ------------------------------------------------------------ injection by arguments
    def test_injection_through_arguments(self):
        body = b"Subject: injection\n\nbody\n"
        refused = [
            ("sendmail", ["-f", "a@example.org\nrcpt: " + EVIL, "root"]),
            ("sendmail", ["-f", "a@example.org\rrcpt: " + EVIL, "root"]),
            ("sendmail", ["-F", "Name\nBcc: " + EVIL, "root"]),
            ("sendmail", ["-N", "FAILURE\nrcpt: " + EVIL, "root"]),
            ("sendmail", ["-V", "envid\nrcpt: " + EVIL, "root"]),
            ("sendmail", ["-R", "FULL\nrcpt: " + EVIL, "root"]),
            ("sendmail", ["-B", "8BITMIME\nrcpt: " + EVIL, "root"]),
            ("sendmail", ["root\nrcpt: " + EVIL]),
            ("sendmail", ["root\ndata:\nTo: " + EVIL]),
            ("mail", ["-s", "hi\nBcc: " + EVIL, "root"]),
            ("mail", ["-r", "a@example.org\nBcc: " + EVIL, "root"]),
            ("mail", ["root\nBcc: " + EVIL]),
        ]
        for name, args in refused:
            with self.subTest(args=args):
                r = self.as_user(args, body, name=name)
                self.assertNotEqual(r.rc, 0, r.describe())
                self.assertEqual(self.sp.names("maildrop"), [], "queued: %r" % (args,))
                self.record("%s %r" % (name, args), "exit %d: %s" % (r.rc, r.err.strip()))
        # Accepted, but harmless: the text stays inside one field or body.
        accepted = [
            ("mail", ["-a", "X-Note: v\nBcc: " + EVIL, "-s", "ok", "root"], b"body\n"),
            ("mail", ["-c", "cc@example.org\nBcc: " + EVIL, "root"], b"body\n"),
            ("sendmail", ["-i", "root"], b"To: root\n\nrcpt: " + EVIL.encode() +
             b"\ndata:\nBcc: " + EVIL.encode() + b"\n"),
            ("sendmail", ["-i", "root"], b"Bcc: " + EVIL.encode() + b"\nSubject: no -t\n\nx\n"),
            ("sendmail", ["-i", "-F", "\"Quoted\" <%s>, x" % EVIL, "root"], b"Subject: F\n\nx\n"),
        ]
        for name, args, data in accepted:
            r = self.as_user(args, data, name=name)
            self.assertEqual(r.rc, 0, r.describe())
            self.record("%s %r" % (name, args), "exit 0: queued, checked below")
        self.pickup_and_deliver()
        self.assert_nothing_evil_delivered()
        self.assertEqual(set(self.delivered_to()), {"root@example.net"}, self.delivered_to())
        self.assertEqual(len(self.peer.messages), len(accepted))
        for m in self.peer.messages:
            headers = m.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
            fields = [ln for ln in headers.split(b"\n") if ln and ln[:1] not in b" \t"]
            for f in fields:
                self.assertFalse(f.lower().startswith(b"bcc:"), headers)
            self.assertNotIn(b"\nrcpt:", headers)

    def test_oversized_arguments(self):
        """What the front end accepts, pickup must be able to read: a field
        too long for a maildrop file is refused at once (EX_DATAERR), never
        accepted and then quarantined."""
        name_800 = "\u00e9" * 400  # 800 bytes of UTF-8: 2400 as xtext
        cases = [
            (["-F", name_800, "-i", "root"], 0),
            (["-F", "\u00e9" * 1100, "-i", "root"], rt.EX_DATAERR),
            (["-i", "a" * 3000 + "@example.org"], rt.EX_DATAERR),
            (["-f", "b" * 3000 + "@example.org", "-i", "root"], rt.EX_DATAERR),
        ]
        for args, expected in cases:
            r = self.as_user(args, b"Subject: long\n\nx\n")
            self.assertEqual(r.rc, expected, r.describe())
            shown = [a if len(a) < 40 else "<%d bytes>" % len(a.encode()) for a in args]
            self.record("sendmail %s" % " ".join(shown), "exit %d: %s" % (r.rc, r.err.strip()[:160]))
        self.assertEqual(len(self.sp.names("maildrop")), 1)
        self.pickup_and_deliver()
        self.assertEqual(self.sp.names("corrupt"), [])
        [m] = self.peer.messages
        self.assertIn(name_800.encode("utf-8"), m.data)  # the From: display name

    # ------------------------------------------------------------ maildrop by hand
    def test_write_maildrop_directly(self):
        md = self.sp.area("maildrop")
        name = make_id()
        probe = ("import os\n"
                 "try:\n"
                 "    fd = os.open(%r, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)\n"
                 "    os.write(fd, b'maildrop: 1\\nrcpt: %s\\ndata:\\nforged\\n')\n"
                 "    print('written')\n"
                 "except OSError as e:\n"
                 "    print('refused:', e.strerror)\n" % (os.path.join(md, name), EVIL))
        r = self.shell_as(["/usr/bin/python3", "-c", probe])
        out = r.stdout.decode().strip()
        self.assertEqual(out, "refused: Permission denied")
        self.record("create %s/%s with open(2)" % (md, name), out)
        # A forged file in a directory of the user's own, then cp, mv, ln.
        own = os.path.join(self.root, "user-dir")
        os.mkdir(own)
        os.chown(own, self.users["attacker"][1], self.users["attacker"][2])
        forged = os.path.join(own, "forged")
        r = self.shell_as(["/usr/bin/python3", "-c", "open(%r, 'w').write('maildrop: 1\\nrcpt: %s"
                           "\\ndata:\\nforged\\n')" % (forged, EVIL)])
        self.assertEqual(r.returncode, 0, r.stderr)
        for argv in (["cp", forged, os.path.join(md, name)],
                     ["mv", forged, os.path.join(md, name)],
                     ["ln", "-s", forged, os.path.join(md, name)],
                     ["ln", "-s", "/etc/shadow", os.path.join(md, name)]):
            r = self.shell_as(argv)
            self.assertNotEqual(r.returncode, 0)
            self.record(" ".join(argv), "exit %d: %s" % (r.returncode, r.stderr.decode().strip()))
        self.assertEqual(self.sp.names("maildrop"), [])
        # Hard links to root's files are refused by the kernel for users
        # (fs.protected_hardlinks), wherever they would go.
        with open("/proc/sys/fs/protected_hardlinks") as f:
            protected = f.read().strip() == "1"
        r = self.shell_as(["ln", "/etc/shadow", os.path.join(own, "x")])
        self.record("ln /etc/shadow (fs.protected_hardlinks=%d)" % protected,
                    "exit %d: %s" % (r.returncode, r.stderr.decode().strip()))
        if protected:
            self.assertNotEqual(r.returncode, 0)

    # ------------------------------------------------------------ hostile maildrop files
    def plant(self, content, owner="attacker", mode=0o644):
        name = make_id()
        path = os.path.join(self.sp.area("maildrop"), name)
        with open(path, "wb") as f:
            f.write(content)
        _, uid, gid = self.users[owner]
        os.chown(path, uid, self.drop_gid)
        os.chmod(path, mode)
        return name

    def assert_quarantined(self, names, stderr):
        corrupt = self.sp.names("corrupt")
        for n in names:
            self.assertNotIn(n, self.sp.names("maildrop"))
            self.assertIn(n + ".maildrop", corrupt, stderr)
            self.assertFalse(os.path.exists(os.path.join(self.sp.area("queue"), n)))

    def test_forged_maildrop_files(self):
        good = b"maildrop: 1\nrcpt: root\ndata:\nSubject: fine\n\nok\n"
        forged = {
            "uid field": b"maildrop: 1\nuid: 0\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "user field": b"maildrop: 1\nuser: root\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "arrival field": b"maildrop: 1\narrival: 0\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "version 2": b"maildrop: 2\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "CR in sender": b"maildrop: 1\nsender: a@b\rrcpt: " + EVIL.encode() + b"\nrcpt: root\ndata:\nx\n",
            "NUL in rcpt": b"maildrop: 1\nrcpt: " + EVIL.encode() + b"\0root\ndata:\nx\n",
            "LF in fullname (xtext)": b"maildrop: 1\nfullname: x+0ABcc+3A+20" + EVIL.encode() +
                                       b"\nrcpt: root\ndata:\nx\n",
            "LF in envid (xtext)": b"maildrop: 1\nenvid: x+0Arcpt+3A+20" + EVIL.encode() +
                                   b"\nrcpt: root\ndata:\nx\n",
            "unknown flag": b"maildrop: 1\nflags: tq\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "bad body type": b"maildrop: 1\nbody: BINARYMIME\nrcpt: " + EVIL.encode() + b"\ndata:\nx\n",
            "no data line": b"maildrop: 1\nrcpt: " + EVIL.encode() + b"\n",
            "empty file": b"",
            "not a maildrop file": b"From: x\nTo: " + EVIL.encode() + b"\n\nbody\n",
        }
        names = {why: self.plant(data) for why, data in forged.items()}
        ok = self.plant(good)
        r = self.pickup_and_deliver()
        self.assert_quarantined(names.values(), r.err)
        for why, n in names.items():
            line = [ln for ln in r.err.splitlines() if n in ln]
            self.record("maildrop file with %s" % why, line[0].split(": ", 1)[-1] if line else "?")
        self.assert_nothing_evil_delivered()
        # The well-formed one is delivered as the file's owner, not as root.
        self.assertEqual(self.delivered_to(), ["root@example.net"])
        [m] = self.peer.messages
        self.assertIn(("from userid %d" % self.users["attacker"][1]).encode(), m.data)
        self.assertNotIn(ok, self.sp.names("maildrop"))

    def test_symlink_fifo_directory_hardlink(self):
        bait_dir = os.path.join(self.root, "bait")
        os.mkdir(bait_dir)
        self.mount(bait_dir, "size=1m,strictatime,mode=0755")
        bait = os.path.join(bait_dir, "bait")
        with open(bait, "wb") as f:
            f.write(b"maildrop: 1\nrcpt: " + EVIL.encode() + b"\ndata:\nBAIT-CONTENT\n")
        os.utime(bait, (1000000000, 1000000000))
        md = self.sp.area("maildrop")
        links = {}
        for target in ("/etc/shadow", bait):
            n = make_id()
            os.symlink(target, os.path.join(md, n))
            links[n] = target
        fifo = make_id()
        os.mkfifo(os.path.join(md, fifo), 0o644)
        directory = make_id()
        os.mkdir(os.path.join(md, directory))
        shadow_before = open("/etc/shadow", "rb").read()
        hard = make_id()
        try:
            os.link("/etc/shadow", os.path.join(md, hard))
            hardlinked = True
        except OSError as e:
            hardlinked = False
            self.record("hard link of /etc/shadow into maildrop/", "not possible here: %s" % e.strerror)

        start = time.monotonic()
        r = self.pickup_and_deliver()  # a FIFO must not block it
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 30)
        names = list(links) + [fifo, directory] + ([hard] if hardlinked else [])
        self.assert_quarantined(names, r.err)
        for n, target in links.items():
            moved = os.path.join(self.sp.area("corrupt"), n + ".maildrop")
            self.assertTrue(os.path.islink(moved))
            self.assertEqual(os.readlink(moved), target)
        self.assertEqual(os.stat(bait).st_atime, 1000000000, "the bait file was read")
        self.assertEqual(open("/etc/shadow", "rb").read(), shadow_before)
        self.assertNotIn(b"BAIT-CONTENT", r.stdout + r.stderr)
        self.assertEqual(self.peer.messages, [])
        self.assertEqual(self.sp.entries(), [])
        for n, what in [(n, "symlink to " + t) for n, t in links.items()] + \
                [(fifo, "FIFO"), (directory, "directory")] + \
                ([(hard, "hard link to /etc/shadow")] if hardlinked else []):
            line = [ln for ln in r.err.splitlines() if n in ln]
            self.record("maildrop/%s is a %s" % (n, what),
                        line[0].split(": ", 1)[-1] if line else "?")
        self.record("pickup with a FIFO in maildrop/", "finished in %.2fs" % elapsed)
        # Control: the atime check does see a read.
        with open(bait, "rb") as f:
            f.read()
        self.assertNotEqual(os.stat(bait).st_atime, 1000000000)

    def test_huge_maildrop_file(self):
        self.queue_config = 'message_size_limit = "1M"\n'
        self.sp.write_config(self.config_text())
        big = self.plant(b"maildrop: 1\nrcpt: root\ndata:\n")
        with open(os.path.join(self.sp.area("maildrop"), big), "r+b") as f:
            f.truncate(8 << 30)  # 8 GiB, sparse
        over = self.plant(b"maildrop: 1\nrcpt: root\ndata:\nSubject: big\n\n" + b"x" * (1 << 21))
        start = time.monotonic()
        r = self.pickup_and_deliver()
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 30)
        self.assert_quarantined([big, over], r.err)
        self.assertEqual(self.peer.messages, [])
        for n, what in ((big, "an 8 GiB sparse file"), (over, "a 2 MiB message (limit 1M)")):
            line = [ln for ln in r.err.splitlines() if n in ln]
            self.record("maildrop/%s: %s" % (n, what),
                        (line[0].split(": ", 1)[-1] if line else "?") + " (%.2fs)" % elapsed)

    # ------------------------------------------------------------ resource limits
    def test_file_size_limit(self):
        """RLIMIT_FSIZE below the message size: the write fails (SIGXFSZ
        must not kill the front end half-way) and no partial file stays."""
        import resource
        drop = self.become()

        def limited():
            drop()
            resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        exe = os.path.join(self.sgid_dir, "sendmail")
        r = self.sp.run(["-i", "root"], b"Subject: big\n\n" + b"f" * 10000, name="sendmail",
                        config=None, env={"PATH": "/usr/bin:/bin"}, executable=exe,
                        preexec=limited)
        self.record("sendmail with RLIMIT_FSIZE=200 and a 10 KB message",
                    "exit %s: %s" % (r.rc if r.rc >= 0 else rt.signal_name(r.rc), r.err.strip()))
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("File too large", r.err)
        self.assertEqual(self.sp.names("maildrop"), [], "partial submission left behind")

    # ------------------------------------------------------------ exhausting the spool
    def test_exhaust_the_spool(self):
        # setUp made the spool an 8 MB tmpfs with min_free_bytes = "3M".
        spool = self.sp.spool

        def free():
            st = os.statvfs(spool)
            return st.f_bavail * st.f_frsize
        chunk = b"Subject: flood\n\n" + (b"y" * 75 + b"\n") * 9000  # ~690 KB
        accepted = 0
        last = None
        for _ in range(20):
            last = self.as_user(["-i", "root"], chunk)
            if last.rc != 0:
                break
            accepted += 1
        self.assertEqual(last.rc, rt.EX_TEMPFAIL, last.describe())
        self.assertIn("min_free_bytes", last.err)
        self.assertGreaterEqual(free(), 3 * 1024 * 1024 - 64 * 1024)
        self.record("flood of %d-byte messages into an 8 MB spool (min_free_bytes 3M)" % len(chunk),
                    "%d accepted, then exit %d: %s; %d KiB still free" %
                    (accepted, last.rc, last.err.strip(), free() // 1024))
        # -C and RELAY_CONFIG cannot lower the reserve for a set-gid front end.
        lax = os.path.join(self.root, "lax.toml")
        with open(lax, "w") as f:
            f.write(self.config_text().replace('min_free_bytes = "3M"', 'min_free_bytes = "0"'))
        os.chmod(lax, 0o644)
        for args, env in ((["-C", lax, "-i", "root"], None),
                          (["-i", "root"], {"PATH": "/usr/bin:/bin", "RELAY_CONFIG": lax})):
            r = self.as_user(args, chunk, env=env)
            self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
            self.record("the same with %s" % ("-C " + lax if env is None else "RELAY_CONFIG=" + lax),
                        "exit %d" % r.rc)
        r = self.as_user(["-i", "root"], b"Subject: big\n\n" + b"z" * (2 << 20))
        self.assertEqual(r.rc, rt.EX_DATAERR, r.describe())
        self.record("one 2 MiB message (message_size_limit 1M)", "exit %d: %s" % (r.rc, r.err.strip()))
        n = len(self.sp.names("maildrop"))
        self.assertEqual(n, accepted)
        # The reserve leaves room for pickup to commit what was accepted.
        r = self.sp.flush(check=False)
        self.assertEqual(len(self.peer.messages), accepted, r.describe())
        self.assertEqual(self.sp.names("maildrop"), [])


if __name__ == "__main__":
    unittest.main()
