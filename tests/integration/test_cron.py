"""Debian's real cron mails a job's output through relay to a smarthost.

cron (3.0pl1, Debian's, not cronie) hard-codes /usr/sbin/sendmail and runs
it as the job's owner with `-FCronDaemon -i -B8BITMIME -oem MAILTO`. The
test gives cron a private world: it runs in its own mount namespace
(`unshare -m --propagation private`) where

  /usr/sbin/sendmail          is a set-gid copy of relay (root:GROUP 2755),
                              as the package installs it
  /etc/relay/                 holds the test's relay.toml (a set-gid relay
                              reads only its compiled-in default path)
  /etc/cron.d/                holds one job, run every minute as a
                              throw-away unprivileged user
  /etc/crontab, /var/spool/cron/crontabs
                              are empty (no system or user jobs run)
  /run                        is a fresh tmpfs (cron's pid file)

so nothing outside the namespace sees any of it. The job's output reaches
relay's maildrop/ as the user; `relay --flush` (as root, what
relay-flush.path does on a real system) delivers it to an aiosmtpd
smarthost with STARTTLS and AUTH, and the test checks what arrived there:
envelope sender rewritten by sender_canonical_maps, the recipient
re-routed by a regexp virtual_alias_maps, the headers cron wrote (From:
rewritten as a sender address, To: only qualified) and the body.

Needs root (CI runs as root). cron is installed with apt-get when missing.
The wait for cron is bounded (WAIT_LIMIT seconds: the job runs at the next
minute boundary) and reported.
"""

import email
import email.policy
import fcntl
import grp
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Peer, make_certs

CRON = "/usr/sbin/cron"
SENDMAIL = "/usr/sbin/sendmail"
DEFAULT_CONFIG = os.environ.get("RELAY_TEST_DEFAULT_CONFIG", "/etc/relay/relay.toml")
# Shared with test_privilege.py: one test at a time owns /etc/relay.
LOCK_PATH = "/run/lock/relay-integration-default-config.lock"
WAIT_LIMIT = 130      # seconds: up to one minute for cron, plus margin
JOB_MARK = "relay-cron-job-output"

# Runs inside the new mount namespace: "$@" are the paths to bind. No path
# is ever spliced into the script text.
NAMESPACE_SCRIPT = r"""
set -e
relay_sgid=$1 etc_relay=$2 cron_d=$3 crontabs=$4 crontab=$5 out=$6
mount -t tmpfs -o mode=0755 relaytest-run /run
mount --bind "$relay_sgid" /usr/sbin/sendmail
mount --bind "$etc_relay" /etc/relay
mount --bind "$cron_d" /etc/cron.d
mount --bind "$crontabs" /var/spool/cron/crontabs
mount --bind "$crontab" /etc/crontab
# What a caller that execs /usr/sbin/sendmail gets: argv[0] as the caller
# wrote it, whatever the bind mount's source is called.
/usr/sbin/sendmail --help >"$out/argv0-help" 2>&1 || echo "exit $?" >>"$out/argv0-help"
exec /usr/sbin/cron -f -L 15
"""


def run_cmd(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, timeout=300)


def ensure_cron():
    """Installs Debian's cron when it is missing (needs root and apt)."""
    if os.access(CRON, os.X_OK):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "cron"]):
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        if p.returncode != 0 and cmd[1] == "install":
            raise AssertionError("cannot install cron: %s" % p.stderr.decode(errors="replace"))
    if not os.access(CRON, os.X_OK):
        raise AssertionError("cron installed but %s is missing" % CRON)


def suid_capable_dir():
    """A temporary directory on a file system not mounted nosuid."""
    for d in (tempfile.gettempdir(), "/var/tmp", rt.HERE):
        if os.path.isdir(d) and not os.statvfs(d).f_flag & os.ST_NOSUID:
            return d
    raise AssertionError("no temporary directory without nosuid")


@unittest.skipUnless(os.geteuid() == 0, "cron, useradd and mount namespaces need root (CI runs as root)")
class CronJobMail(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        ensure_cron()
        for tool in ("unshare", "mount", "useradd"):
            if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
                raise AssertionError("%s is missing" % tool)
        if not os.path.exists(SENDMAIL):
            # The bind mount needs something to cover; cron stat()s it too.
            raise AssertionError("%s does not exist: nothing to bind relay over" % SENDMAIL)
        for d in ("/etc/cron.d", "/var/spool/cron/crontabs"):
            if not os.path.isdir(d):
                raise AssertionError("%s is missing (is cron installed?)" % d)
        with open(rt.relay_bin(), "rb") as f:
            if (DEFAULT_CONFIG.encode() + b"\0") not in f.read():
                raise AssertionError("%s is not the binary's default configuration file "
                                     "(set RELAY_TEST_DEFAULT_CONFIG)" % DEFAULT_CONFIG)

    def setUp(self):
        tag = secrets.token_hex(3)
        self.user = "rtcron" + tag
        self.group = "rtdrop" + tag
        run_cmd("groupadd", "--system", self.group)
        self.addCleanup(run_cmd, "groupdel", self.group, check=False)
        run_cmd("useradd", "--system", "--no-create-home", "--user-group", "--home-dir", "/",
                "--shell", "/bin/sh", self.user)
        self.addCleanup(run_cmd, "userdel", self.user, check=False)
        self.uid = pwd.getpwnam(self.user).pw_uid
        self.drop_gid = grp.getgrnam(self.group).gr_gid

        # One test run at a time may cover /etc/relay (test_privilege.py
        # writes the file itself under the same lock).
        os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
        self.lock = open(LOCK_PATH, "w")
        self.addCleanup(self.lock.close)
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        etc_relay_dir = os.path.dirname(DEFAULT_CONFIG)
        if not os.path.isdir(etc_relay_dir):
            os.makedirs(etc_relay_dir)
            self.addCleanup(os.rmdir, etc_relay_dir)

        self.top = tempfile.mkdtemp(prefix="relaytest-cron-", dir=suid_capable_dir())
        self.addCleanup(shutil.rmtree, self.top, True)
        os.chmod(self.top, 0o755)
        self.certs = make_certs(os.path.join(self.top, "certs"))
        self.peer = Peer(os.path.join(self.top, "peer"), certs=self.certs,
                         users={"relay@example.org": "cron-s3cret"}).start()
        self.addCleanup(self.peer.stop)

        self.sp = rt.Spool(root=os.path.join(self.top, "relay"), init=False)
        os.chmod(self.sp.root, 0o755)
        self.etc = os.path.join(self.top, "etc-relay")
        os.mkdir(self.etc, 0o755)
        self.write_tables()
        self.cfg_text = self.config_text()
        self.sp.write_config(self.cfg_text)
        self.sp.write_config(self.cfg_text, path=os.path.join(self.etc, "relay.toml"))
        os.chmod(os.path.join(self.etc, "relay.toml"), 0o644)
        self.sp.init()
        # As `relay --init-spool` makes it for relaydrop: maildrop 1770 root:GROUP.
        md = self.sp.area("maildrop")
        os.chown(md, 0, self.drop_gid)
        os.chmod(md, 0o1770)

        self.sgid = os.path.join(self.top, "sgid-relay")
        shutil.copy(self.sp.binary, self.sgid)
        os.chown(self.sgid, 0, self.drop_gid)
        os.chmod(self.sgid, 0o2755)

    def write_tables(self):
        self.pwfile = os.path.join(self.top, "smarthost-password")
        with open(self.pwfile, "w") as f:
            f.write("cron-s3cret\n")
        os.chmod(self.pwfile, 0o600)
        self.canonical = os.path.join(self.etc, "sender_canonical")
        with open(self.canonical, "w") as f:
            f.write("# The job's owner sends as the operations robot; root as hostmaster.\n"
                    "%s    jobs@example.org\n"
                    "root    hostmaster@example.org\n" % self.user)
        self.virtual = os.path.join(self.etc, "virtual.regexp")
        with open(self.virtual, "w") as f:
            f.write("# Everything goes to one person.\n"
                    "/.+/    admin@example.org\n")
        for p in (self.canonical, self.virtual):
            os.chmod(p, 0o644)

    def config_text(self):
        return ('myhostname = "cronbox.example.net"\n'
                'myorigin = "example.net"\n'
                'relayhost = "[127.0.0.1]:%d"\n\n'
                '[queue]\ndirectory = "%s"\nflush_after_submit = true\nmin_free_bytes = "1M"\n\n'
                '[rewrite]\nalias_maps = []\n'
                'sender_canonical_maps = ["hash:%s"]\n'
                'virtual_alias_maps = ["regexp:%s"]\n\n'
                '[smtp]\nca_file = "%s"\nusername = "relay@example.org"\n'
                'password_file = "%s"\nconnect_timeout = 5\ncommand_timeout = 10\n') % (
                    self.peer.port, self.sp.spool, self.canonical, self.virtual,
                    self.certs.ca, self.pwfile)

    def cron_world(self):
        """The directories and files bound over cron's own."""
        cron_d = os.path.join(self.top, "cron.d")
        crontabs = os.path.join(self.top, "crontabs")
        os.mkdir(cron_d, 0o755)
        os.mkdir(crontabs, 0o730)
        job = os.path.join(cron_d, "relaytest")
        # cron.d entries carry the user name; cron mails the output to the
        # owner (no MAILTO) with its own headers.
        with open(job, "w") as f:
            f.write("SHELL=/bin/sh\nPATH=/usr/bin:/bin\n"
                    "* * * * * %s echo %s; echo \"uid=$(id -u)\"; printf 'caf\\303\\251\\n'\n"
                    % (self.user, JOB_MARK))
        os.chmod(job, 0o644)
        crontab = os.path.join(self.top, "crontab")
        with open(crontab, "w") as f:
            f.write("# no system jobs while the test runs\n")
        os.chmod(crontab, 0o644)
        out = os.path.join(self.top, "ns-out")
        os.mkdir(out, 0o755)
        return cron_d, crontabs, crontab, out

    def start_cron(self, cron_d, crontabs, crontab, out):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", NAMESPACE_SCRIPT,
                "relaytest-cron-ns", self.sgid, self.etc, cron_d, crontabs, crontab, out]
        log = open(os.path.join(self.top, "cron.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True)
        self.addCleanup(self.stop_cron, proc)
        return proc

    def stop_cron(self, proc):
        # cron and whatever it still runs (the job's shell, sendmail) are in
        # the session started for it; end that process group, by its id.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        # A straggler of the group (a child cron left behind) gets the same.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def maildrop_files(self):
        md = self.sp.area("maildrop")
        return [os.path.join(md, n) for n in os.listdir(md) if not n.startswith(".")]

    def diagnostics(self, proc):
        parts = ["cron exit status: %r" % proc.poll()]
        try:
            with open(os.path.join(self.top, "cron.log"), "rb") as f:
                parts.append("cron/unshare output:\n" + f.read().decode(errors="replace"))
        except OSError:
            pass
        parts.append("maildrop: %r" % self.maildrop_files())
        parts.append("queue: %r" % self.sp.names("queue"))
        parts.append("peer messages: %r" % self.peer.messages)
        return "\n".join(parts)

    def test_cron_job_output_reaches_the_smarthost(self):
        cron_d, crontabs, crontab, out = self.cron_world()
        start = time.monotonic()
        proc = self.start_cron(cron_d, crontabs, crontab, out)

        # Wait (bounded) for the job's mail: first in maildrop, then at the
        # peer after a flush. Each round also runs the flush, as the path
        # unit would, so a message already picked up is not missed.
        owner = None
        flushes = []
        while time.monotonic() - start < WAIT_LIMIT:
            if proc.poll() is not None:
                self.fail("cron exited early\n" + self.diagnostics(proc))
            files = self.maildrop_files()
            if files and owner is None:
                st = os.stat(files[0])
                owner = (st.st_uid, st.st_gid)
                waited_drop = time.monotonic() - start
            if files or owner is not None:
                r = self.sp.flush(check=False, extra_env=None)
                flushes.append(r)
                if self.peer.wait_for_messages(1, timeout=2):
                    break
            time.sleep(1)
        waited = time.monotonic() - start
        sys.stderr.write("\n[test_cron] waited %.1f s for cron's mail (%s in maildrop after %s)\n"
                         % (waited, "found" if owner else "nothing",
                            "%.1f s" % waited_drop if owner else "-"))
        self.assertTrue(self.peer.messages, "no mail within %d s\n%s" % (WAIT_LIMIT,
                                                                         self.diagnostics(proc)))
        self.stop_cron(proc)

        # argv[0] survived the bind mount: relay answered as "sendmail".
        with open(os.path.join(out, "argv0-help"), "rb") as f:
            usage = f.read().decode(errors="replace")
        self.assertRegex(usage, r"(?m)^usage: sendmail ", usage)

        # The submission was the user's, through the set-gid front end.
        self.assertEqual(owner, (self.uid, self.drop_gid))
        for r in flushes:
            r.check()

        m = self.peer.messages[0]
        self.assertTrue(m.tls)
        self.assertEqual(m.auth_user, "relay@example.org")
        # Envelope: the owner's sender_canonical entry; the regexp re-routes
        # the recipient (MAILTO defaulted to the owner's login name).
        self.assertEqual(m.mail_from, "jobs@example.org")
        self.assertEqual(m.rcpt_tos, ["admin@example.org"])

        msg = email.message_from_bytes(m.data, policy=email.policy.compat32)
        # cron wrote "From: root (Cron Daemon)": a sender address, so
        # qualified and then rewritten by sender_canonical (root ->
        # hostmaster), the comment kept. Postfix does the same
        # (canonical_classes include header_sender).
        self.assertEqual(msg["From"], "hostmaster@example.org (Cron Daemon)")
        # "To: USER" is qualified only: virtual aliasing is for the envelope.
        self.assertEqual(msg["To"], "%s@example.net" % self.user)
        host = os.uname().nodename.split(".")[0]
        self.assertEqual(msg["Subject"].replace("\n", "").replace("\r", ""),
                         "Cron <%s@%s> echo %s; echo \"uid=$(id -u)\"; printf 'caf\\303\\251\\n'"
                         % (self.user, host, JOB_MARK))
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg["Content-Transfer-Encoding"], "8bit")
        self.assertIn("text/plain", msg["Content-Type"])
        self.assertIn("<LOGNAME=%s>" % self.user, msg.get_all("X-Cron-Env"))
        # relay added what cron leaves out, and says who submitted it.
        self.assertRegex(msg["Received"], r"^by cronbox\.example\.net \(relay, from userid %d\)"
                         % self.uid)
        self.assertIsNotNone(msg["Date"])
        self.assertRegex(msg["Message-ID"] or "", r"^<[^@>]+@[^>]+>$")
        self.assertEqual(len(msg.get_all("From")), 1)
        body = m.data.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(body, ("%s\r\nuid=%d\r\ncaf\u00e9\r\n" % (JOB_MARK, self.uid)).encode())
        # cron is stopped; a later minute's mail may still be in maildrop.
        # One more flush leaves nothing behind, and every copy is the same.
        self.sp.flush()
        self.assertEqual(self.maildrop_files(), [])
        self.assertEqual(self.sp.names("queue"), [])
        for other in self.peer.messages[1:]:
            self.assertEqual((other.mail_from, other.rcpt_tos), (m.mail_from, m.rcpt_tos))


if __name__ == "__main__":
    unittest.main()
