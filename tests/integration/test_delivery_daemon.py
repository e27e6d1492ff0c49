"""relay --daemon: the front end's poke on SPOOL/trigger delivers new mail
at once, the timer retries deferred mail when it is due, SIGTERM ends it."""

import os
import signal
import stat
import subprocess
import time
import unittest

from delivery_base import DeliveryBase, RELAY
from smtpd_peer import free_port


class TestDaemon(DeliveryBase):
    def start_daemon(self):
        d = subprocess.Popen([RELAY, "-C", self.cfg, "--daemon", "-v"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_daemon, d)
        fifo = os.path.join(self.spool, "trigger")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if stat.S_ISFIFO(os.lstat(fifo).st_mode) and \
                        stat.S_IMODE(os.lstat(fifo).st_mode) == 0o620:
                    break
            except FileNotFoundError:
                pass
            if d.poll() is not None:
                self.fail("daemon exited: %s" % (d.communicate()[1],))
            time.sleep(0.02)
        time.sleep(0.2)  # the first (empty) run is over: it now waits
        return d

    def stop_daemon(self, d):
        if d.poll() is None:
            d.kill()
            d.wait()

    def test_trigger_delivers_at_once_and_sigterm_stops(self):
        p = self.peer()
        self.configure(p.port)
        d = self.start_daemon()
        st = os.lstat(os.path.join(self.spool, "trigger"))
        self.assertTrue(stat.S_ISFIFO(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o620)
        self.assertEqual(st.st_gid, os.stat(os.path.join(self.spool, "maildrop")).st_gid)

        t0 = time.monotonic()
        self.submit("bob@example.net", subject="prompt")
        self.assertTrue(p.wait_for_messages(1, timeout=2), "not delivered within 2 s")
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(p.messages[0].rcpt_tos, ["bob@example.net"])
        # A second submission wakes it again.
        self.submit("carol@example.net", subject="again")
        self.assertTrue(p.wait_for_messages(2, timeout=2))
        end = time.monotonic() + 5
        while self.queue_ids() and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(self.queue_ids(), [])

        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        out, err = d.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(d.returncode, 0, err)
        self.assertIn("daemon started", err)
        self.assertIn("daemon stopped", err)

    def test_sighup_rereads_the_configuration(self):
        dead_port = free_port()  # nobody listens there
        live = self.peer()
        self.configure(dead_port)
        d = self.start_daemon()
        self.submit("bob@example.net", subject="first")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "refused" not in self.relay("mailq").stdout:
            time.sleep(0.05)
        self.assertIn("refused", self.relay("mailq").stdout)
        # A file that does not load is refused; the daemon keeps running.
        good = open(self.cfg).read()
        with open(self.cfg, "w") as f:
            f.write("relayhost = \n")
        d.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(d.poll(), "daemon died on a bad configuration")
        # The fixed file names the live smarthost: new mail goes there.
        with open(self.cfg, "w") as f:
            f.write(good.replace("[127.0.0.1]:%d" % dead_port, "[127.0.0.1]:%d" % live.port))
        d.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.submit("carol@example.net", subject="second")
        self.assertTrue(live.wait_for_messages(1, timeout=5), "not delivered after the reload")
        self.assertEqual(live.messages[0].rcpt_tos, ["carol@example.net"])
        d.send_signal(signal.SIGTERM)
        out, err = d.communicate(timeout=10)
        self.assertEqual(d.returncode, 0, err)
        self.assertIn("reload failed, keeping the running configuration", err)
        self.assertIn("reload: configuration reloaded from " + self.cfg, err)

    def test_timer_retries_when_due(self):
        p = self.peer(rcpt_replies={"later@example.net": ["451 4.3.0 Try again later"]})
        self.configure(p.port, queue={"minimal_backoff_time": "2s", "maximal_backoff_time": "10s"})
        d = self.start_daemon()
        self.submit("later@example.net")
        # Deferred at once, retried about 2 s later without any trigger.
        self.assertTrue(p.wait_for_messages(1, timeout=8), "deferred mail was not retried")
        self.assertEqual(p.messages[0].rcpt_tos, ["later@example.net"])
        d.send_signal(signal.SIGINT)
        out, err = d.communicate(timeout=10)
        self.assertEqual(d.returncode, 0, err)
        self.assertRegex(err, r"to=<later@example\.net>.*tries=1, status=deferred")
        self.assertRegex(err, r"to=<later@example\.net>.*tries=2, status=sent")

    def test_one_daemon_per_spool(self):
        p = self.peer()
        self.configure(p.port)
        self.start_daemon()
        r = self.relay("--daemon", "-v")
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("another relay --daemon is running", r.stderr)

    def test_not_a_fifo_is_refused(self):
        p = self.peer()
        self.configure(p.port)
        with open(os.path.join(self.spool, "trigger"), "w") as f:
            f.write("x")
        r = self.relay("--daemon", "-v")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("is not a FIFO", r.stderr)

    def test_unprivileged_user_is_refused(self):
        p = self.peer()
        self.configure(p.port)
        if os.geteuid() != 0:
            self.skipTest("needs root to run as another user")
        for path in (self.top, self.dir):
            os.chmod(path, 0o755)
        os.chmod(self.cfg, 0o644)
        r = subprocess.run([RELAY, "-C", self.cfg, "--daemon"], capture_output=True, text=True,
                           timeout=30, user="nobody")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.returncode, 77, r.stderr)


if __name__ == "__main__":
    unittest.main()
