"""A spool that runs out of space (root only: it mounts a tmpfs).

The spool is a 2 MB tmpfs (`mount -t tmpfs -o size=2m`), unmounted after
every test whatever happens. A filler file takes the free space. Then:

- a submission fails with EX_TEMPFAIL (75) and says why, and leaves no
  partial file behind; the caller keeps its copy;
- what is already queued is not damaged (`relay queue check`), and a
  submission that pickup cannot commit stays in maildrop/ for later;
- delivery goes on: a flush to an SMTP peer (smtpd_peer.py on 127.0.0.1)
  sends what is queued and frees its space;
- once there is room again, new mail is accepted and delivered.

The [queue] min_free_bytes and min_free_inodes reserves refuse new mail
before the file system is full, with nothing written.
"""

import errno
import os
import shutil
import subprocess
import tempfile
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Peer

MSG = b"Subject: disk full\n\n" + b"queued before the disk filled up\n" * 20


def run_cmd(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, name="filler", leave=0, exact=True):
    """Writes PATH/NAME until at most LEAVE bytes are free (whole pages),
    then, when LEAVE is 0 and EXACT, byte by byte until a write fails with
    ENOSPC. Returns the file's size."""
    fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * 4096
    size = 0
    try:
        while free_bytes(path) > leave + len(block) - 1:
            size += os.write(fd, block)
        while leave == 0 and exact:
            size += os.write(fd, b"\0")
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return size


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root (CI runs tests as root)")
class DiskFull(unittest.TestCase):

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.root = tempfile.mkdtemp(prefix="relaytest-diskfull-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.mnt = os.path.join(self.root, "spool")
        os.mkdir(self.mnt)
        self.peers = []

    def mount(self, options="size=2m"):
        run_cmd("mount", "-t", "tmpfs", "-o", options + ",mode=0755", "tmpfs", self.mnt)
        # Registered after the mount, so it runs before the rmtree above.
        self.addCleanup(run_cmd, "umount", "-l", self.mnt)

    def spool(self, queue_config='min_free_bytes = "0"\nmin_free_inodes = 0\n', options="size=2m"):
        self.mount(options)
        sp = rt.Spool(root=self.root, init=False)
        self.configure(sp, queue_config)
        sp.init()
        return sp

    @staticmethod
    def configure(sp, queue_config, extra=""):
        text = sp.config_text().replace('min_free_bytes = "1M"\n', "")
        text = text.replace("[queue]\n", "[queue]\n" + queue_config, 1)
        sp.write_config(text + extra)

    def peer(self):
        p = Peer(os.path.join(self.root, "peer%d" % len(self.peers)), tls="none").start()
        self.peers.append(p)
        self.addCleanup(p.stop)
        return p

    def relay_to(self, sp, peer, queue_config):
        self.configure(sp, queue_config,
                       '\n[smtp]\nrelayhost = "[127.0.0.1]:%d"\ntls = "none"\n'
                       'connect_timeout = 5\ncommand_timeout = 10\n' % peer.port)

    def queue_check(self, sp):
        r = sp.queue("check", check=False)
        self.assertEqual(r.rc, 0, r.describe())
        return r.out

    def assert_no_partial_files(self, sp):
        for area in ("maildrop", "incoming"):
            left = [n for n in sp.names(area) if not rt.is_queue_id(n)]
            self.assertEqual(left, [], "partial files left in %s/" % area)
        self.assertEqual(sp.names("incoming"), [])

    # ------------------------------------------------------------------

    def test_full_spool(self):
        qc = 'min_free_bytes = "0"\nmin_free_inodes = 0\n'
        sp = self.spool(qc)
        # Three messages queued, one more waiting in maildrop/ for pickup.
        for i in range(3):
            sp.sendmail(["-i", "user%d@example.org" % i], MSG).check(0)
        sp.flush()
        queued = [e.id for e in sp.entries()]
        self.assertEqual(len(queued), 3)
        sp.sendmail(["-i", "waiting@example.org"], MSG).check(0)
        [waiting] = sp.names("maildrop")
        before = {e.id: (e.envelope_text, e.message) for e in sp.entries()}

        filled = fill(self.mnt)
        self.assertGreater(filled, 1024 * 1024)
        self.assertLess(free_bytes(self.mnt), 4096)
        print("\n  spool full: filler %d bytes, %d bytes free" % (filled, free_bytes(self.mnt)))

        # 1. Submissions fail with EX_TEMPFAIL, say so, and leave nothing.
        for name, args, data in (("sendmail", ["-i", "root"], b"Subject: small\n\nx\n"),
                                 ("sendmail", ["-i", "root"], MSG * 50),
                                 ("sendmail", ["-t", "-i"], b"To: root\nSubject: t\n\nx\n"),
                                 ("mail", ["-s", "subject", "root"], b"body\n")):
            with self.subTest(name=name, args=args):
                r = sp.run(args, data, name=name)
                self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
                self.assertRegex(r.err, "not enough free space|No space left on device")
                self.assertIn("not queued", r.err)
                print("  %s %s -> exit %d: %s" % (name, " ".join(args), r.rc, r.err.strip()))
        self.assertEqual(sp.names("maildrop"), [waiting])
        self.assert_no_partial_files(sp)

        # 2. Pickup cannot commit: the submission stays, nothing is damaged.
        r = sp.flush(check=False)
        self.assertIn(waiting, sp.names("maildrop"), r.describe())
        self.assert_no_partial_files(sp)
        after = {e.id: (e.envelope_text, e.message) for e in sp.entries()}
        self.assertEqual(after, before)
        self.assertIn("3 good, 0 damaged", self.queue_check(sp))
        self.assertEqual(sp.names("corrupt"), [])

        # 3. Delivery goes on while the disk is full, and frees space.
        p = self.peer()
        self.relay_to(sp, p, qc)
        free_before = free_bytes(self.mnt)
        sp.flush(check=False)
        got = sorted(r for m in p.messages for r in m.rcpt_tos)
        # The waiting submission may go out in the same run, once the
        # deliveries made room for pickup to commit it.
        self.assertEqual([g for g in got if g != "waiting@example.org"],
                         ["user0@example.org", "user1@example.org", "user2@example.org"])
        self.assertEqual(sp.entries(), [])
        self.assertGreater(free_bytes(self.mnt), free_before)
        print("  flush while full: %d messages delivered, free %d -> %d bytes" %
              (len(p.messages), free_before, free_bytes(self.mnt)))
        self.assertIn("0 good, 0 damaged", self.queue_check(sp))

        # 4. Space returns: the waiting submission and new mail go through.
        os.unlink(os.path.join(self.mnt, "filler"))
        sp.sendmail(["-i", "after@example.org"], b"Subject: after\n\nspace is back\n").check(0)
        sp.flush()
        got = sorted(r for m in p.messages for r in m.rcpt_tos)
        self.assertIn("waiting@example.org", got)
        self.assertIn("after@example.org", got)
        self.assertEqual(sp.names("maildrop"), [])
        self.assertEqual(sp.entries(), [])
        self.assertIn("0 good, 0 damaged", self.queue_check(sp))
        waited = [m for m in p.messages if m.rcpt_tos == ["waiting@example.org"]]
        self.assertEqual(len(waited), 1)
        self.assertIn(b"queued before the disk filled up", waited[0].data)

    def test_write_fails_with_enospc(self):
        """The free-space check passes (the message alone fits), the write
        of the file does not: the front end must see ENOSPC, remove its
        partial file and exit 75."""
        sp = self.spool()
        fill(self.mnt, leave=4096)
        self.assertEqual(free_bytes(self.mnt), 4096)
        body = b"Subject: one page\n\n" + b"y" * (4080 - 20) + b"\n"
        self.assertEqual(len(body), 4080)
        r = sp.sendmail(["-i", "root"], body)
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("No space left on device", r.err)
        self.assertIn("not queued", r.err)
        print("\n  write ENOSPC -> exit %d: %s" % (r.rc, r.err.strip()))
        self.assertEqual(sp.names("maildrop"), [])
        self.assertEqual(free_bytes(self.mnt), 4096)
        # A message that fits is still accepted in the last page.
        sp.sendmail(["-i", "root"], b"Subject: tiny\n\nfits\n").check(0)
        self.assertEqual(len(sp.names("maildrop")), 1)

    def test_deferral_while_full_keeps_the_entry(self):
        """A failed delivery must rewrite the envelope; with no space the
        old envelope stays valid and the entry is tried again later."""
        qc = 'min_free_bytes = "0"\nmin_free_inodes = 0\n'
        sp = self.spool(qc)
        sp.sendmail(["-i", "later@example.org"], MSG).check(0)
        sp.flush()
        [e] = sp.entries()
        p = Peer(os.path.join(self.root, "peer-defer"), tls="none",
                 rcpt_replies={"later@example.org": ["451 4.3.0 try again later"]}).start()
        self.addCleanup(p.stop)
        self.relay_to(sp, p, qc)
        fill(self.mnt)
        sp.flush(check=False)
        [again] = sp.entries()
        self.assertEqual(again.id, e.id)
        self.assertEqual(again.message, e.message)
        self.assertEqual(again.envelope.recipients("pending"), ["later@example.org"])
        self.assertNotIn("envelope.tmp", os.listdir(again.path))
        self.assertIn("1 good, 0 damaged", self.queue_check(sp))
        # With space back the next attempt delivers it (requeue: now).
        os.unlink(os.path.join(self.mnt, "filler"))
        sp.queue("requeue", e.id)
        sp.flush()
        self.assertEqual(sp.entries(), [])
        self.assertEqual([m.rcpt_tos for m in p.messages if m.data],
                         [["later@example.org"]])

    def test_min_free_bytes_reserve(self):
        sp = self.spool('min_free_bytes = "1M"\nmin_free_inodes = 0\n')
        sp.sendmail(["-i", "root"], b"Subject: room\n\nthere is room\n").check(0)
        self.assertEqual(len(sp.names("maildrop")), 1)
        # Leave about 600 KB: more than any message here, less than the reserve.
        fill(self.mnt, leave=600 * 1024)
        self.assertGreater(free_bytes(self.mnt), 500 * 1024)
        r = sp.sendmail(["-i", "root"], b"Subject: reserve\n\nrefused\n")
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("not enough free space", r.err)
        self.assertIn("min_free_bytes", r.err)
        print("\n  reserve: %d bytes free -> exit %d: %s" % (free_bytes(self.mnt), r.rc, r.err.strip()))
        self.assertEqual(len(sp.names("maildrop")), 1, "a refused submission wrote a file")
        r = sp.run(["-s", "x", "root"], b"body\n", name="mail")
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("min_free_bytes", r.err)
        # The reserve is what keeps room for the queue itself: pickup still
        # commits what was accepted before.
        sp.flush()
        self.assertEqual(len(sp.entries()), 1)
        os.unlink(os.path.join(self.mnt, "filler"))
        sp.sendmail(["-i", "root"], b"Subject: room again\n\nok\n").check(0)

    def test_min_free_bytes_counts_the_message(self):
        # 1.5 MB free, reserve 1M: a 100 KB message fits, a 700 KB one does not.
        sp = self.spool('min_free_bytes = "1M"\nmin_free_inodes = 0\n')
        fill(self.mnt, leave=1536 * 1024)
        sp.sendmail(["-i", "root"], b"Subject: s\n\n" + b"x" * 100 * 1024).check(0)
        r = sp.sendmail(["-i", "root"], b"Subject: b\n\n" + b"x" * 700 * 1024)
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("min_free_bytes", r.err)
        self.assertEqual(len(sp.names("maildrop")), 1)

    def test_min_free_inodes_reserve(self):
        sp = self.spool('min_free_bytes = "0"\nmin_free_inodes = 100\n',
                        options="size=2m,nr_inodes=200")
        sp.sendmail(["-i", "root"], b"Subject: i\n\ninodes\n").check(0)
        n = 0
        while os.statvfs(self.mnt).f_favail >= 100:
            with open(os.path.join(self.mnt, "inode%d" % n), "w"):
                pass
            n += 1
        r = sp.sendmail(["-i", "root"], b"Subject: i\n\nno inodes\n")
        self.assertEqual(r.rc, rt.EX_TEMPFAIL, r.describe())
        self.assertIn("not enough free inodes", r.err)
        print("\n  inode reserve: %d inodes free -> exit %d: %s" %
              (os.statvfs(self.mnt).f_favail, r.rc, r.err.strip()))
        self.assertEqual(len(sp.names("maildrop")), 1)


if __name__ == "__main__":
    unittest.main()
