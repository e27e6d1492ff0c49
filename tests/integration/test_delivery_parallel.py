"""max_connections: a large queue drains over parallel connections, every
message exactly once, max_messages_per_connection still honoured, and the
log stays one whole line per event."""

import os
import re
import threading
import time
import unittest

from delivery_base import DeliveryBase


class TestParallel(DeliveryBase):
    def submit_many(self, n):
        for i in range(n):
            self.send("alice@example.org", ["r%03d@example.net" % i], [("Subject", "m%d" % i)])

    def test_two_connections_in_parallel(self):
        p = self.peer()
        # Record how many connections are open at once.
        live = {"now": 0, "max": 0}
        lock = threading.Lock()
        import smtpd_peer
        session = smtpd_peer._Session
        made, lost = session.connection_made, session.connection_lost
        quit_ = session.smtp_QUIT

        def connection_made(s, transport):
            if s.conn_index is None:
                with lock:
                    live["now"] += 1
                    live["max"] = max(live["max"], live["now"])
            made(s, transport)

        # A connection ends for the client when it sends QUIT; the server's
        # connection_lost can run later, after the client already opened
        # the next one, which would count three at once that never were.
        def done(s):
            if not getattr(s, "_counted_lost", False) and s.peer is p:
                s._counted_lost = True
                with lock:
                    live["now"] -= 1

        async def smtp_QUIT(s, arg):
            done(s)
            return await quit_(s, arg)

        def connection_lost(s, exc):
            done(s)
            lost(s, exc)

        session.connection_made, session.connection_lost = connection_made, connection_lost
        session.smtp_QUIT = smtp_QUIT
        self.addCleanup(setattr, session, "connection_made", made)
        self.addCleanup(setattr, session, "connection_lost", lost)
        self.addCleanup(setattr, session, "smtp_QUIT", quit_)

        self.configure(p.port, smtp={"max_connections": 2, "max_messages_per_connection": 30})
        n = 120
        self.submit_many(n)
        r = self.relay("--flush", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.queue_ids(), [])
        got = sorted(m.rcpt_tos[0] for m in p.messages)
        self.assertEqual(got, ["r%03d@example.net" % i for i in range(n)])  # each exactly once
        per_conn = {}
        for m in p.messages:
            per_conn[m.connection] = per_conn.get(m.connection, 0) + 1
        self.assertTrue(all(c <= 30 for c in per_conn.values()), per_conn)
        self.assertGreaterEqual(p.connections, 4)  # 120 / 30
        self.assertEqual(live["max"], 2)  # two at once, never more
        # One whole line per event: every line is a complete log line.
        lines = r.stderr.splitlines()
        sent = [l for l in lines if "status=sent" in l]
        self.assertEqual(len(sent), n)
        for l in sent:
            self.assertRegex(l, r"^relay: [0-9A-Z]{16}: to=<r\d{3}@example\.net>, relay=\S+, "
                                r"delay=[\d.]+, tries=1, status=sent \(250 [^()]*\)$")
        self.assertEqual(len(re.findall(r"(?m)^relay: [0-9A-Z]{16}: removed$", r.stderr)), n)
        self.assertRegex(r.stderr, r"flush: %d message\(s\) attempted, %d sent" % (n, n))

    def test_a_queue_larger_than_one_chunk(self):
        # The flush loads kFlushChunk (1,000) envelopes at a time: a queue
        # of 1,050 crosses a chunk boundary and every message still goes
        # exactly once. Maildrop files are written directly (root owns
        # them, as if root had submitted), named with ids of time 0.
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        p = self.peer()
        self.configure(p.port, smtp={"max_connections": 2})
        n = 1050
        md = os.path.join(self.spool, "maildrop")
        for i in range(n):
            qid, v = "", i
            for _ in range(9):
                qid = alphabet[v % 32] + qid
                v //= 32
            qid = "0000000" + qid
            with open(os.path.join(md, qid), "w") as f:
                f.write("maildrop: 1\nsender: alice@example.org\nrcpt: r%04d@example.net\n"
                        "data:\nSubject: m%d\n\nbody %d\n" % (i, i, i))
            os.chmod(os.path.join(md, qid), 0o644)
        r = self.relay("--flush")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        got = sorted(x for m in p.messages for x in m.rcpt_tos)
        self.assertEqual(got, ["r%04d@example.net" % i for i in range(n)])
        self.assertEqual(self.queue_ids(), [])

    def test_one_connection_when_asked(self):
        p = self.peer()
        self.configure(p.port, smtp={"max_connections": 1})
        self.submit_many(40)
        r = self.relay("--flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(p.messages), 40)
        self.assertEqual(p.connections, 1)

    def test_few_messages_share_one_connection(self):
        p = self.peer()
        self.configure(p.port, smtp={"max_connections": 4})
        self.submit_many(9)
        r = self.relay("--flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(p.messages), 9)
        self.assertEqual(p.connections, 1)

    def test_dead_relay_costs_one_timeout_per_connection(self):
        p = self.peer(hang="greeting")
        self.configure(p.port, smtp={"max_connections": 2, "command_timeout": 2})
        self.submit_many(40)
        t0 = time.monotonic()
        r = self.relay("--flush", "-v")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.queue_ids()), 40)
        self.assertEqual(len(re.findall(r"status=deferred", r.stderr)), 40)
        self.assertLessEqual(p.connections, 2)
        self.assertLess(took, 15, r.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
