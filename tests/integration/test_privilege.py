"""The privilege model (design section 2) with a real set-gid binary.

Runs as root (as CI does). The test creates a throw-away user and a
relaydrop-like group, a set-gid copy of relay (root:<group> 2755), and a
spool whose maildrop/ is 1770 root:<group> as `relay --init-spool` makes it
for relaydrop. A set-gid relay reads only the compiled-in configuration
file (/etc/relay/relay.toml), so the test installs one naming its spool for
its duration, under a lock, and restores whatever was there before.

What it shows: the user can submit (the file is the user's, pickup records
the user's uid and login name); it cannot read the queue or credentials
through relay; -C and RELAY_CONFIG are ignored when set-gid; every command
other than submitting is refused with EX_NOPERM; the environment
(RELAY_CONFIG, LD_PRELOAD, USER/LOGNAME) does not steer the set-gid front end.
"""

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

import relaytest as rt

DEFAULT_CONFIG = os.environ.get("RELAY_TEST_DEFAULT_CONFIG", "/etc/relay/relay.toml")
LOCK_PATH = "/run/lock/relay-integration-default-config.lock"
MSG = b"Subject: from a user\n\nhello from an unprivileged user\n"


def run_cmd(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


@unittest.skipUnless(os.geteuid() == 0, "the privilege tests need root (CI runs them as root)")
class SetgidFrontEnd(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = rt.relay_bin()
        with open(cls.binary, "rb") as f:
            if (DEFAULT_CONFIG.encode() + b"\0") not in f.read():
                raise AssertionError("%s is not the binary's default configuration file "
                                     "(set RELAY_TEST_DEFAULT_CONFIG)" % DEFAULT_CONFIG)
        tag = secrets.token_hex(3)
        cls.group = "rtdrop" + tag
        cls.user = "rtuser" + tag
        run_cmd("groupadd", "--system", cls.group)
        cls.addClassCleanup(run_cmd, "groupdel", cls.group)
        run_cmd("useradd", "--system", "--no-create-home", "--user-group",
                "--shell", "/usr/sbin/nologin", cls.user)
        cls.addClassCleanup(subprocess.run, ["userdel", cls.user], capture_output=True)
        pw = pwd.getpwnam(cls.user)
        cls.uid, cls.gid = pw.pw_uid, pw.pw_gid
        cls.drop_gid = grp.getgrnam(cls.group).gr_gid

        # One test run at a time may own the default configuration file.
        os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
        cls.lock = open(LOCK_PATH, "w")
        fcntl.flock(cls.lock, fcntl.LOCK_EX)
        cls.addClassCleanup(cls.lock.close)
        cls.save_default_config()

    @classmethod
    def save_default_config(cls):
        d = os.path.dirname(DEFAULT_CONFIG)
        made_dir = not os.path.isdir(d)
        os.makedirs(d, exist_ok=True)
        original = None
        if os.path.lexists(DEFAULT_CONFIG):
            backup = tempfile.mkdtemp(prefix="relaytest-etc-")
            original = os.path.join(backup, "relay.toml")
            shutil.copy2(DEFAULT_CONFIG, original, follow_symlinks=False)

        def restore():
            if original:
                shutil.copy2(original, DEFAULT_CONFIG, follow_symlinks=False)
                shutil.rmtree(os.path.dirname(original))
            else:
                if os.path.lexists(DEFAULT_CONFIG):
                    os.unlink(DEFAULT_CONFIG)
                if made_dir:
                    os.rmdir(d)
        cls.addClassCleanup(restore)

    @staticmethod
    def suid_capable_dir():
        """A temporary directory on a file system not mounted nosuid."""
        for d in (tempfile.gettempdir(), "/var/tmp", rt.HERE):
            if os.path.isdir(d) and not os.statvfs(d).f_flag & os.ST_NOSUID:
                return d
        raise AssertionError("no temporary directory without nosuid")

    def setUp(self):
        root = tempfile.mkdtemp(prefix="relaytest-", dir=self.suid_capable_dir())
        self.sp = rt.Spool(root=root)
        self.addCleanup(self.sp.cleanup)
        os.chmod(self.sp.root, 0o755)
        # As `relay --init-spool` makes it for relaydrop: maildrop 1770 root:GROUP.
        md = self.sp.area("maildrop")
        os.chown(md, 0, self.drop_gid)
        os.chmod(md, 0o1770)
        # The default configuration names this spool; flush_after_submit is
        # on, so a set-gid front end that started a flush would show it.
        self.install_default_config(self.sp.config_text().replace(
            "flush_after_submit = false", "flush_after_submit = true"))
        # The set-gid copy and its argv[0] names.
        self.sgid_dir = os.path.join(self.sp.root, "sgid")
        os.mkdir(self.sgid_dir, 0o755)
        self.sgid = os.path.join(self.sgid_dir, "relay")
        shutil.copy(self.binary, self.sgid)
        os.chown(self.sgid, 0, self.drop_gid)
        os.chmod(self.sgid, 0o2755)
        for name in ("sendmail", "mailq", "newaliases"):
            os.symlink("relay", os.path.join(self.sgid_dir, name))
        st = os.stat(self.sgid)
        self.assertTrue(st.st_mode & stat.S_ISGID)
        self.assertFalse(os.statvfs(self.sgid_dir).f_flag & os.ST_NOSUID,
                         "the temp directory is mounted nosuid")

    def install_default_config(self, text):
        with open(DEFAULT_CONFIG, "w") as f:
            f.write(text)
        os.chmod(DEFAULT_CONFIG, 0o644)

    # -- running as the user
    def become(self, uid=None, gid=None):
        uid = self.uid if uid is None else uid
        gid = self.gid if gid is None else gid

        def drop():
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        return drop

    def as_user(self, args, stdin=b"", name="sendmail", setgid=True, config=None, env=None,
                uid=None, gid=None, **kw):
        """Runs relay as NAME (the set-gid copy, or the plain binary) as the
        test user. CONFIG is "arg"/"env"/None as for Spool.run()."""
        exe = os.path.join(self.sgid_dir, name) if setgid else self.sp.link(name)
        user_env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "USER": self.user,
                    "LOGNAME": self.user}
        if env is not None:
            user_env = env
        return self.sp.run(args, stdin, name=name, config=config, env=user_env,
                           executable=exe, preexec=self.become(uid, gid), **kw)

    # -- root through the installed (set-gid) binary
    def test_root_is_not_treated_as_a_setgid_caller(self):
        """The packaged binary is set-gid for everyone, root included: root
        gives the group back and may list, check and flush."""
        r = self.sp.run(["-bp"], b"", name="mailq", executable=os.path.join(self.sgid_dir, "mailq"),
                        config=None, env={"PATH": "/usr/bin:/bin"})
        r.check(0)
        self.assertIn("Mail queue is empty", r.out)
        r = self.sp.run(["-i", "root"], MSG, name="sendmail",
                        executable=os.path.join(self.sgid_dir, "sendmail"), config=None,
                        env={"PATH": "/usr/bin:/bin"})
        r.check(0)
        # flush_after_submit is on and root may run the queue: the submission
        # started a flush by itself. Another one may find it still running.
        r = self.sp.run(["--flush"], b"", name="relay", executable=self.sgid, config=None,
                        env={"PATH": "/usr/bin:/bin"})
        r.check(0)
        deadline = time.monotonic() + 10
        while len(self.sp.entries()) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.sp.entries()), 1)
        self.assertEqual(self.sp.names("maildrop"), [])

    # -- submitting
    def test_user_can_submit(self):
        r = self.as_user(["-i", "root"], MSG).check(0)
        self.assertEqual(r.err, "")
        [name] = self.sp.names("maildrop")
        st = os.stat(os.path.join(self.sp.area("maildrop"), name))
        self.assertEqual(st.st_uid, self.uid)
        self.assertEqual(st.st_gid, self.drop_gid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.uid, self.uid)
        self.assertEqual(e.envelope.user, self.user)
        self.assertEqual(e.envelope.sender, "%s@%s" % (self.user, rt.MYORIGIN))
        self.assertEqual(e.header("From"), "%s@%s" % (self.user, rt.MYORIGIN))
        self.assertIn("from userid %d" % self.uid, e.header("Received"))
        self.assertEqual(e.envelope.recipients(), ["root@example.net"])
        self.assertEqual(e.body, b"hello from an unprivileged user\n")

    def test_login_name_comes_from_uid_not_environment(self):
        env = {"PATH": "/usr/bin:/bin", "USER": "root", "LOGNAME": "root", "HOME": "/root"}
        self.as_user(["root"], MSG, env=env).check(0)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.user, self.user)
        self.assertEqual(e.envelope.sender, "%s@%s" % (self.user, rt.MYORIGIN))

    def test_user_without_passwd_entry(self):
        uid = 54323
        try:
            pwd.getpwuid(uid)
            self.skipTest("uid %d exists here" % uid)
        except KeyError:
            pass
        self.as_user(["root"], MSG, uid=uid, gid=uid).check(0)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.uid, uid)
        self.assertEqual(e.envelope.user, "#%d" % uid)

    def test_user_replays_a_caller(self):
        rec = [r for r in rt.load_caller_records() if r.name == "bsd-mailx#2"][0]
        self.as_user(rec.argv[1:], rec.stdin, argv0=rec.argv[0], env=dict(rec.env),
                     stdin_mode=rec.stdio[0], stdout=rec.stdio[1], stderr=rec.stdio[2],
                     umask=rec.umask, cwd_deleted=True).check(0)
        self.sp.flush()
        e = self.sp.only_entry()
        self.assertEqual(e.envelope.recipients(),
                         ["rcpt@example.com", "cc@example.com", "bcc@example.com"])
        self.assertEqual(e.headers("Bcc"), [])
        self.assertEqual(e.envelope.uid, self.uid)

    def test_submission_with_closed_fds(self):
        self.as_user(["-t", "-oX"], b"To: root, set escape\n\nclosed fds\n",
                     stdin_mode="pipe", stdout="closed", stderr="closed").check(0)
        [name] = self.sp.names("maildrop")
        with open(os.path.join(self.sp.area("maildrop"), name), "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"maildrop: 1\n"))
        self.assertNotIn(b"warning", data)
        self.sp.flush()
        self.assertEqual(self.sp.only_entry().body, b"closed fds\n")

    def test_setgid_front_end_does_not_flush(self):
        self.as_user(["root"], MSG).check(0)
        time.sleep(0.5)
        self.assertEqual(len(self.sp.names("maildrop")), 1)
        self.assertEqual(self.sp.entries(), [])

    def test_plain_binary_cannot_submit(self):
        r = self.as_user(["root"], MSG, setgid=False)
        r.check(rt.EX_NOPERM)
        self.assertIn("set-gid", r.err)
        self.assertEqual(self.sp.names("maildrop"), [])

    def test_umask_does_not_open_the_file(self):
        self.as_user(["root"], MSG, umask=0).check(0)
        [name] = self.sp.names("maildrop")
        st = os.stat(os.path.join(self.sp.area("maildrop"), name))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)

    # -- what the set-gid front end refuses
    def test_commands_refused_with_noperm(self):
        self.sp.sendmail(["root"], MSG).check(0)
        self.sp.flush()
        [e] = self.sp.entries()
        refused = [
            ("relay", ["--flush"]),
            ("relay", ["--init-spool"]),
            ("relay", ["mailq"]),
            ("relay", ["mailq", "--json"]),
            ("relay", ["check"]),
            ("relay", ["queue", "show", e.id]),
            ("relay", ["queue", "delete", e.id]),
            ("relay", ["queue", "delete", "ALL"]),
            ("relay", ["queue", "hold", e.id]),
            ("relay", ["queue", "requeue", e.id]),
            ("relay", ["-C", self.sp.config, "queue", "delete", e.id]),
            ("mailq", []),
            ("sendmail", ["-bp"]),
            ("sendmail", ["-q"]),
            ("sendmail", ["-qf"]),
            ("sendmail", ["-bv", "root"]),
            ("sendmail", ["-bi"]),
            ("newaliases", []),
        ]
        for name, args in refused:
            with self.subTest(name=name, args=args):
                r = self.as_user(args, name=name)
                r.check(rt.EX_NOPERM)
                self.assertEqual(r.out, "")
                self.assertNotIn(e.id, r.err)
        # Nothing changed.
        self.assertEqual([x.id for x in self.sp.entries()], [e.id])
        self.assertEqual(self.sp.names("hold"), [])

    def test_help_and_version_allowed(self):
        self.assertIn("relay", self.as_user(["--version"], name="relay").check(0).out)
        self.assertIn("usage", self.as_user(["--help"], name="sendmail").check(0).out)

    def test_queue_not_readable_without_setgid_either(self):
        self.sp.sendmail(["root"], MSG).check(0)
        self.sp.flush()
        for args in (["mailq"], ["-C", self.sp.config, "mailq"],
                     ["-C", self.sp.config, "queue", "show", self.sp.entries()[0].id]):
            with self.subTest(args=args):
                r = self.as_user(args, name="relay", setgid=False)
                self.assertNotEqual(r.rc, 0)
                self.assertNotIn(b"hello", r.stdout)

    def test_credentials_not_readable(self):
        secret = os.path.join(self.sp.root, "smtp-password")
        with open(secret, "w") as f:
            f.write("s3cret-Passw0rd\n")
        os.chmod(secret, 0o600)
        self.install_default_config(self.sp.config_text() +
                                    '\n[smtp]\nrelayhost = "[127.0.0.1]:9"\n'
                                    'username = "u"\npassword_file = "%s"\n' % secret)
        attempts = [
            ("sendmail", ["-C", secret, "root"]),
            ("sendmail", ["root"]),
            ("relay", ["-C", secret, "check"]),
            ("relay", ["-C", secret, "--flush"]),
            ("relay", ["--flush", "-v"]),
            ("sendmail", ["-bv", "root"]),
            ("sendmail", ["-v", "-q"]),
        ]
        # RELAY_CONFIG names the secret too.
        for setgid in (True, False):
            for name, args in attempts:
                with self.subTest(setgid=setgid, name=name, args=args):
                    env = {"PATH": "/usr/bin:/bin", "RELAY_CONFIG": secret}
                    r = self.as_user(args, MSG, name=name, setgid=setgid, env=env)
                    self.assertNotIn(b"s3cret", r.stdout + r.stderr)
                    if name == "relay" or "-q" in args or "-bv" in args:
                        self.assertNotEqual(r.rc, 0)

    # -- configuration and environment ignored
    def other_spool(self):
        other = rt.Spool(prefix="relaytest-other-")
        self.addCleanup(other.cleanup)
        os.chmod(other.root, 0o755)
        os.chmod(other.area("maildrop"), 0o1777)  # writable: only -C could stop it
        return other

    def test_dash_c_ignored_when_setgid(self):
        other = self.other_spool()
        r = self.as_user(["-C", other.config, "root"], MSG).check(0)
        self.assertIn("-C %s ignored" % other.config, r.err)
        self.assertEqual(other.names("maildrop"), [])
        self.assertEqual(len(self.sp.names("maildrop")), 1)

    def test_dash_c_honoured_without_setgid(self):
        # The control case: the same -C works for the plain binary.
        other = self.other_spool()
        self.as_user(["-C", other.config, "root"], MSG, setgid=False).check(0)
        self.assertEqual(len(other.names("maildrop")), 1)
        self.assertEqual(self.sp.names("maildrop"), [])

    def test_relay_config_env_ignored_when_setgid(self):
        other = self.other_spool()
        env = {"PATH": "/usr/bin:/bin", "RELAY_CONFIG": other.config}
        self.as_user(["root"], MSG, env=env).check(0)
        self.assertEqual(other.names("maildrop"), [])
        self.assertEqual(len(self.sp.names("maildrop")), 1)
        # Control: the plain binary follows RELAY_CONFIG.
        self.as_user(["root"], MSG, env=env, setgid=False).check(0)
        self.assertEqual(len(other.names("maildrop")), 1)

    def test_ld_preload_ignored_when_setgid(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        src = os.path.join(self.sp.root, "preload.c")
        lib = os.path.join(self.sp.root, "preload.so")
        marker = os.path.join(self.sp.root, "preload-ran")
        with open(src, "w") as f:
            f.write('#include <fcntl.h>\n#include <unistd.h>\n'
                    '__attribute__((constructor)) static void hit(void) {\n'
                    '  int fd = open("%s", O_WRONLY|O_CREAT|O_APPEND, 0666);\n'
                    '  if (fd >= 0) { write(fd, "x", 1); close(fd); }\n}\n' % marker)
        subprocess.run([cc, "-shared", "-fPIC", "-o", lib, src], check=True, timeout=120)
        os.chmod(lib, 0o755)
        os.chmod(self.sp.root, 0o777)  # the marker must be creatable by the user
        try:
            env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": lib, "LD_LIBRARY_PATH": self.sp.root}
            self.as_user(["--version"], name="relay", env=env, setgid=False).check(0)
            self.assertTrue(os.path.exists(marker), "control: LD_PRELOAD works for the plain binary")
            os.unlink(marker)
            self.as_user(["root"], MSG, env=env).check(0)
            self.assertFalse(os.path.exists(marker), "LD_PRELOAD ran in the set-gid front end")
            self.assertEqual(len(self.sp.names("maildrop")), 1)
        finally:
            os.chmod(self.sp.root, 0o755)

    def test_maildrop_not_listable_by_user(self):
        self.sp.sendmail(["root"], MSG).check(0)
        p = subprocess.run(["ls", self.sp.area("maildrop")], preexec_fn=self.become(),
                           capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
