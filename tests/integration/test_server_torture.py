"""kill -9 torture of `relay serve`, checked at the smarthost.

Like test_torture_pipeline.py, whose helpers it uses, but the messages
come over SMTP: client threads (smtplib, one message per connection) send
N messages to a `relay serve` local listener on 127.0.0.1, which queues
them for the smarthost (an aiosmtpd Peer with STARTTLS + AUTH). The server
is killed with SIGKILL at random moments and started again, while `relay
--flush` is started and killed as in the pipeline test. Then `relay
--flush --now` runs until the queue is empty, and:

  - every message that got 250 after its DATA arrived, complete;
  - one that did not (the server died in the session, or was down) may
    have arrived, at most once but for the duplicate window of the flush
    (test_torture_pipeline.Arrivals: every copy but the last came over a
    connection its killed flush never closed with QUIT);
  - nothing else arrived, nothing damaged, nothing is left in the spool.

This file runs only against a binary built with the server
(-DRELAY_WITH_SERVER=ON): tests/CMakeLists.txt registers test_server_*.py
in such builds only, and CI runs them in its build-server tree. The
null-client build has the pipeline test (test_torture_pipeline.py).

RELAY_TORTURE_N (default 1000: a session costs less than a sendmail run) and RELAY_TORTURE_SEED change the run.
"""

import os
import random
import signal
import smtplib
import sys
import tempfile
import threading
import time
import unittest
import warnings

import test_torture_pipeline as tp
from serverharness import Server
from smtpd_peer import Peer, make_certs

CLIENTS = 4
N = int(os.environ.get("RELAY_TORTURE_N", "1000"))


class ServerKiller(threading.Thread):
    """Starts `relay serve`, waits for it to listen, SIGKILLs it after a
    random 0-300 ms, and starts it again, until stopped; the server is
    down when the thread ends."""

    def __init__(self, srv, rnd):
        super().__init__(daemon=True)
        self.srv, self.rnd = srv, rnd
        self.stop = threading.Event()
        self.started = self.killed = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.srv.start(wait=False)
                self.started += 1
                self.srv.wait_log("daemon started", timeout=15, count=self.started)
                self.stop.wait(self.rnd.uniform(0, 0.3))
                proc, reader = self.srv.proc, self.srv._reader
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                self.killed += 1
                reader.join(5)
                proc.stderr.close()
        except Exception as e:  # reported by the test
            self.error = e


class Client(threading.Thread):
    """Sends submissions taken from NEXT over SMTP, one per connection,
    recording whether each got 250 after its DATA; while the server is
    down it waits for it."""

    def __init__(self, port, next_sub):
        super().__init__(daemon=True)
        self.port, self.next_sub = port, next_sub

    def connect(self, timeout=15):
        """A connection to the server once it is up (nothing was sent
        before one is made, so waiting for it changes nothing)."""
        end = time.monotonic() + timeout
        while True:
            try:
                return smtplib.SMTP("127.0.0.1", self.port, timeout=20)
            except (OSError, smtplib.SMTPException):
                if time.monotonic() > end:
                    return None
                time.sleep(0.005)

    def run(self):
        while True:
            s = self.next_sub()
            if s is None:
                return
            msg = tp.wire(s["headers"], s["body"]).replace(b"\n", b"\r\n")
            conn = self.connect()
            if conn is None:
                s["outcome"] = "no connection"
                continue
            try:
                conn.sendmail("sender%d@example.org" % s["i"], ["rcpt%d@example.com" % s["i"]], msg)
                s["accepted"] = True
                s["outcome"] = "250"
                try:
                    conn.quit()
                except (smtplib.SMTPException, OSError):
                    pass
            except (smtplib.SMTPException, OSError) as e:
                s["outcome"] = "failed (%s)" % type(e).__name__
            finally:
                conn.close()


class ServerTorture(unittest.TestCase):
    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.top = tempfile.mkdtemp(prefix="relay-server-torture-")
        self.certs = make_certs(os.path.join(self.top, "certs"))
        self.peer = Peer(os.path.join(self.top, "peer"), certs=self.certs,
                         users={tp.USER: tp.PASSWORD}).start()
        self.addCleanup(self.peer.stop)
        self.srv = Server(listen={"local": 0}, hosted=False,
                          top_config='relayhost = "[127.0.0.1]:%d"' % self.peer.port,
                          server_config="\n" + tp.smtp_section(self.certs, tp.write_password(self.top)))
        self.addCleanup(self.srv.cleanup)

    def test_kill_nine_server(self):
        t0 = time.monotonic()
        rnd = random.Random(tp.SEED)
        sp = self.srv.spool
        subs, lock = [], threading.Lock()

        def next_sub():
            with lock:
                if len(subs) >= N:
                    return None
                i = len(subs)
                token = "%032x" % rnd.getrandbits(128)
                headers, body = tp.make_message(i, token, rnd)
                s = {"i": i, "token": token, "headers": headers, "body": body,
                     "accepted": False, "outcome": None}
                subs.append(s)
                return s

        server_killer = ServerKiller(self.srv, random.Random(rnd.random()))
        flush_killer = tp.FlushKiller(sp, random.Random(rnd.random()), self.peer)
        server_killer.start()
        flush_killer.start()
        clients = [Client(self.srv.port("local"), next_sub) for _ in range(CLIENTS)]
        try:
            for c in clients:
                c.start()
            for c in clients:
                c.join(300)
        finally:
            server_killer.stop.set()
            server_killer.join(30)
            flush_killer.stop.set()
            flush_killer.join(30)
        self.assertIsNone(server_killer.error)
        self.assertFalse(any(c.is_alive() for c in clients), "a client hung")

        tp.drain(self, sp)
        arrivals = tp.Arrivals(self.peer, subs)
        accepted = [s for s in subs if s["accepted"]]
        failed = [s for s in subs if s["outcome"].startswith("failed")]
        unconnected = [s for s in subs if s["outcome"].startswith("no connection")]
        failed_arrived = sum(1 for s in failed if s["token"] in arrivals.copies)
        report = ("kill -9 server torture (seed %d): sessions %d, got 250 %d, failed %d "
                  "(of which arrived %d), no connection %d; server starts %d, kills %d; "
                  "flush runs %d, flush kills %d; received %d (distinct %d), duplicated %d, "
                  "extra copies %d, broken connections %d of %d; lost %d, damaged %d; %.1fs"
                  % (tp.SEED, len(subs), len(accepted), len(failed), failed_arrived,
                     len(unconnected), server_killer.started, server_killer.killed,
                     flush_killer.started, flush_killer.killed, len(arrivals.messages),
                     len(arrivals.copies), len(arrivals.duplicated()), arrivals.extra_copies(),
                     len(arrivals.broken), self.peer.connections, len(arrivals.lost()),
                     len(arrivals.damaged), time.monotonic() - t0))
        print("\n" + report, file=sys.stderr)

        self.assertEqual(len(accepted) + len(failed) + len(unconnected), len(subs))
        tp.assert_arrivals(self, arrivals, flush_killer.killed)
        self.assertEqual([s["i"] for s in unconnected if s["token"] in arrivals.copies], [],
                         "arrived without ever reaching the server")
        tp.assert_clean_spool(self, sp)
        # The run must really have exercised every side.
        self.assertGreater(len(accepted), 0)
        self.assertGreater(len(failed), 0, "no kill landed in a session")
        self.assertGreater(server_killer.killed, 0)
        self.assertGreater(flush_killer.killed, 0)


if __name__ == "__main__":
    unittest.main()
