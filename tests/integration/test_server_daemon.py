"""relay serve as a daemon: SIGHUP reload, SIGTERM shutdown, systemd socket
activation, timeouts for slow clients, connection limits, and a load run
(messages per second, memory per idle connection) that reports its numbers."""

import os
import signal
import select
import socket
import smtplib
import threading
import time
import unittest

from serverharness import Raw, Server


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Signals(unittest.TestCase):
    def test_sighup_reloads_tables_and_config(self):
        with Server() as srv:
            c = Raw(srv.port())
            c.reply()
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<>")
            self.assertEqual(c.cmd("RCPT TO:<carol@hosted.example>")[0], 550)
            c.close()
            with open(srv.mailboxes, "a") as f:
                f.write("carol@hosted.example hosted.example/carol/\n")
            srv.write_config(srv.server_section + "recipient_limit = 1\n")
            srv.signal(signal.SIGHUP)
            srv.wait_log("reload: configuration")
            c = Raw(srv.port())
            c.reply()
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<>")
            self.assertEqual(c.cmd("RCPT TO:<carol@hosted.example>")[0], 250)
            self.assertEqual(c.cmd("RCPT TO:<alice@hosted.example>")[0], 452)  # the new limit
            c.close()

    def test_failed_reload_keeps_running(self):
        with Server() as srv:
            srv.spool.write_config("this is = = not toml\n")
            srv.signal(signal.SIGHUP)
            srv.wait_log("reload failed, keeping the running configuration")
            c = Raw(srv.port())
            self.assertEqual(c.reply()[0], 220)
            c.close()

    def test_sigterm_says_421_to_idle_clients_and_exits_0(self):
        srv = Server()
        try:
            srv.start()
            c = Raw(srv.port())
            c.reply()
            c.cmd("EHLO c.example")
            srv.signal(signal.SIGTERM)
            code, text = c.reply()
            self.assertEqual(code, 421, text)
            self.assertIn("4.3.2", text)
            self.assertTrue(c.closed())
            c.close()
            self.assertEqual(srv.proc.wait(20), 0)
            self.assertIn("stopped", srv.log_text())
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.port()), timeout=2)
        finally:
            srv.cleanup()

    def test_sigterm_lets_a_message_in_flight_finish(self):
        srv = Server()
        try:
            srv.start()
            c = Raw(srv.port())
            c.reply()
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<>")
            c.cmd("RCPT TO:<alice@hosted.example>")
            c.cmd("DATA")
            c.send("Subject: last one\r\n\r\nbody\r\n.\r\n")
            srv.signal(signal.SIGTERM)
            codes = [c.reply()[0], c.reply()[0]]
            self.assertIn(codes, ([250, 421],))
            self.assertEqual(srv.proc.wait(20), 0)
            self.assertEqual(len(srv.maildir_messages("alice")), 1)
        finally:
            srv.cleanup()


class SocketActivation(unittest.TestCase):
    def test_listen_fds_from_systemd(self):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::1", 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        srv = Server(listen={"smtp": 0})  # ignored: systemd's socket wins
        fd = sock.fileno()
        # What systemd does: the socket as fd 3, LISTEN_PID = the pid that
        # execs relay (the shell's own, kept by exec).
        wrapper = ["/bin/sh", "-c",
                   'exec 3<&%d %d<&-; LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=submission exec "$0" "$@"'
                   % (fd, fd)]
        try:
            srv.start(pass_fds=(fd,), wrapper=wrapper)
            sock.close()
            self.assertIn("submission (systemd fd 3", srv.log_text())
            c = Raw(port, "::1")
            self.assertEqual(c.reply()[0], 220)
            c.cmd("EHLO c.example")
            # A submission socket: no mail without TLS and AUTH.
            self.assertEqual(c.cmd("MAIL FROM:<alice@hosted.example>")[0], 530)
            c.close()
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.port()), timeout=2)
        finally:
            srv.cleanup()


class LibrariesLoaded(unittest.TestCase):
    """The server build is also the set-gid sendmail: OpenSSL is loaded by
    `relay serve` when it offers TLS, never by a submission."""

    def maps(self, pid):
        with open("/proc/%d/maps" % pid) as f:
            return f.read()

    def test_submission_never_maps_libssl(self):
        srv = Server(listen={"smtp": 0}, tls=True)
        try:
            r = srv.spool.run(["-f", "alice@example.org", "bob@example.net"],
                              b"Subject: x\n\nbody\n", name="sendmail",
                              extra_env={"LD_DEBUG": "files"})
            self.assertEqual(r.returncode, 0, r.stderr)
            err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else r.stderr
            self.assertIn("libsodium", err)  # LD_DEBUG works here
            self.assertNotIn("libssl", err)
            self.assertNotIn("libcrypto", err)
        finally:
            srv.cleanup()

    def test_serve_loads_libssl_for_starttls(self):
        with Server(listen={"smtp": 0}, tls=True) as srv:
            self.assertIn("libssl.so.3", self.maps(srv.proc.pid))
            c = Raw(srv.port())
            self.assertEqual(c.reply()[0], 220)
            ehlo = c.cmd("EHLO c.example")
            self.assertIn("STARTTLS", " ".join(str(x) for x in ehlo))
            c.close()
        with Server(listen={"smtp": 0}, tls=False) as srv:
            self.assertNotIn("libssl", self.maps(srv.proc.pid))


class SlowClients(unittest.TestCase):
    def test_idle_client_times_out(self):
        with Server(server_config="timeout = 2") as srv:
            c = Raw(srv.port(), timeout=10)
            c.reply()
            t0 = time.time()
            code, text = c.reply()
            self.assertEqual(code, 421, text)
            self.assertIn("4.4.2", text)
            self.assertTrue(1.5 <= time.time() - t0 < 8)
            self.assertTrue(c.closed())
            c.close()

    def test_a_client_trickling_bytes_is_closed_after_timeout(self):
        # One byte every 0.5 s never completes "EHLO ..." within timeout = 2:
        # the deadline runs per line, not per read.
        with Server(server_config="timeout = 2") as srv:
            c = Raw(srv.port(), timeout=10)
            c.reply()
            t0 = time.time()
            for ch in b"EHLO slow.client.example.with.a.long.name\r\n":
                try:
                    c.send(bytes([ch]))
                except OSError:
                    break
                # Stop as soon as the server says something.
                if select.select([c.sock], [], [], 0.5)[0]:
                    break
            code, text = c.reply()
            self.assertEqual(code, 421, text)
            self.assertIn("4.4.2", text)
            self.assertLess(time.time() - t0, 5)
            c.close()

    def test_stalled_data_times_out_and_nothing_is_delivered(self):
        with Server(server_config="data_timeout = 2") as srv:
            c = Raw(srv.port(), timeout=10)
            c.reply()
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<>")
            c.cmd("RCPT TO:<alice@hosted.example>")
            c.cmd("DATA")
            c.send("Subject: half a message\r\n")
            code, _ = c.reply()
            self.assertEqual(code, 421)
            c.close()
            self.assertEqual(srv.maildir_messages("alice"), [])

    def test_errors_are_tarpitted_then_disconnected(self):
        with Server(server_config="soft_error_limit = 2\nhard_error_limit = 5\nerror_sleep_time = 1") as srv:
            c = Raw(srv.port(), timeout=20)
            c.reply()
            t0 = time.time()
            codes = [c.cmd("XYZZY")[0] for _ in range(4)]
            self.assertEqual(codes, [502] * 4)
            self.assertGreaterEqual(time.time() - t0, 1.8)  # errors 3 and 4 slept
            code, text = c.cmd("XYZZY")
            self.assertEqual(code, 502)
            self.assertIn("421 4.7.0", text + c.line())
            self.assertTrue(c.closed())
            c.close()


class Limits(unittest.TestCase):
    def test_total_and_per_client_limits(self):
        with Server(server_config="max_connections = 30\nclient_connection_limit = 20") as srv:
            conns = []
            try:
                for _ in range(20):
                    c = Raw(srv.port())
                    self.assertEqual(c.reply()[0], 220)
                    conns.append(c)
                extra = Raw(srv.port())
                code, text = extra.reply()
                self.assertEqual(code, 421, text)
                self.assertIn("too many connections from 127.0.0.1", text)
                extra.close()
                # One gone: room again.
                conns.pop().close()
                time.sleep(0.3)
                c = Raw(srv.port())
                self.assertEqual(c.reply()[0], 220)
                conns.append(c)
            finally:
                for c in conns:
                    c.close()

    def test_many_concurrent_clients_all_finish(self):
        with Server(server_config="max_connections = 500\nclient_connection_limit = 500") as srv:
            results = []
            lock = threading.Lock()

            def client(i):
                try:
                    with smtplib.SMTP("127.0.0.1", srv.port(), timeout=30) as s:
                        s.sendmail("x%d@outside.example" % i, ["alice@hosted.example"],
                                   b"Subject: %d\r\n\r\nbody\r\n" % i)
                    ok = True
                except Exception as e:  # noqa: BLE001 - reported below
                    ok = repr(e)
                with lock:
                    results.append(ok)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual([r for r in results if r is not True], [])
            self.assertEqual(len(srv.maildir_messages("alice")), 200)


class Load(unittest.TestCase):
    def test_throughput_and_idle_memory(self):
        with Server(listen={"local": 0}, server_config="max_connections = 2000") as srv:
            port = srv.port("local")
            # Idle connections first, on a fresh process.
            time.sleep(0.3)
            base = rss_kib(srv.proc.pid)
            idle = []
            try:
                for _ in range(1000):
                    c = Raw(port)
                    c.reply()
                    idle.append(c)
                time.sleep(0.5)
                grown = rss_kib(srv.proc.pid) - base
            finally:
                for c in idle:
                    c.close()
            n = 300
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                s.ehlo("load.example")
                t0 = time.time()
                for i in range(n):
                    s.sendmail("load@example.net", ["alice@hosted.example"], b"Subject: %d\r\n\r\nx\r\n" % i)
                elapsed = time.time() - t0
            rate = n / elapsed
            self.assertEqual(len(srv.maildir_messages("alice")), n)
            per_conn = grown * 1024 / len(idle)
            print("\nrelay serve: %.0f messages/s over one connection (maildir, fsync); "
                  "%.0f bytes RSS per idle connection" % (rate, per_conn))
            self.assertGreater(rate, 20)
            self.assertLess(per_conn, 64 * 1024)


if __name__ == "__main__":
    unittest.main()
