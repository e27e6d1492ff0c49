"""kill -9 torture of the whole pipeline, checked at the smarthost.

An aiosmtpd smarthost (smtpd_peer.Peer, STARTTLS + AUTH) on 127.0.0.1
records every message it accepts. N submissions go through `sendmail` in
concurrent batches, some killed with SIGKILL after a random 0-5 ms, while
`relay --flush` (recovery, pickup and delivery over up to two connections,
[smtp] max_connections = 2) is started and killed with SIGKILL after a
random 0-300 ms (counted from its start, or in two runs of three from its
first connection to the smarthost, so that kills land in delivery and
mid-transfer), again and again. Then `relay --flush --now` runs until
the queue is empty, and what the smarthost received must follow the
crash-state table of src/queue/README.md:

  - every submission that exited 0 arrived, complete: sender, recipient,
    its header lines byte for byte, the whole body (start and end
    markers, exact length), over TLS as the authenticated user;
  - a killed submission arrived or not (row S3: it may have been
    accepted before the kill);
  - nothing arrived that was not submitted, and nothing arrived damaged;
  - a message arrived more than once only through the duplicate window
    (rows U1, R1, R3): every copy but its last came over a connection
    that never ended with QUIT (its flush was killed), at most one such
    copy per connection, and the extra copies are at most (flush kills)
    x 64, the bound of the removal batch (R3). A SIGKILL leaves the
    kernel's renames in place, so only a message in flight on a killed
    connection can come again: the per-connection rule is the sharp one;
  - nothing is left in queue/, incoming/, purge/, corrupt/, hold/, and no
    complete submission in maildrop/ (a killed front end's "t.*" file
    may stay until it is an hour old, checked by ageing it).

RELAY_TORTURE_N (default 500) and RELAY_TORTURE_SEED change the run; the
seed is printed with the counts. test_server_torture.py does the same for
`relay serve` (server builds only) with the helpers defined here.
"""

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Peer, make_certs
from test_torture import finish_submission, start_submission

N = int(os.environ.get("RELAY_TORTURE_N", "500"))
BATCH = 20
SEED = int(os.environ.get("RELAY_TORTURE_SEED", str(int(time.time()))))
MAX_CONNECTIONS = 2
REMOVAL_BATCH = 64          # Retired::kMaxRetired, row R3 of src/queue/README.md
USER, PASSWORD = "relay@example.org", "s3cret"
TOKEN_RE = re.compile(rb"^X-Token: ([0-9a-f]{32})$", re.M)


def make_message(i, token, rnd):
    """(header lines, body) of a message whose arrival can be checked in
    full: a token, a folded header, a body between start and end markers;
    one in eight is about 200 KB, so that kills land mid-transfer."""
    t = token.encode()
    if rnd.random() < 0.125:
        lines = rnd.randint(2800, 3000)
    else:
        lines = rnd.randint(1, 80)
    body = (b"BEGIN " + t + b"\n" +
            b"".join(b"%s line %06d of submission %d\n" % (t, n, i) for n in range(lines)) +
            b"END " + t + b"\n")
    headers = [b"From: Torture %d <sender%d@example.org>" % (i, i),
               b"To: rcpt%d@example.com" % i,
               b"Subject: torture %d %s" % (i, t),
               b"X-Token: " + t,
               b"X-Folded: first part of %d\n\tsecond part of %s" % (i, t)]
    return headers, body


def wire(headers, body):
    """The message as a submitter hands it over (LF line ends)."""
    return b"\n".join(headers) + b"\n\n" + body


class FlushKiller(threading.Thread):
    """Starts `relay --flush` and SIGKILLs it after a random 0-300 ms, again
    and again, until stopped. Pickup alone takes longer than that on a
    slow disk, so two runs in three count the delay from the moment the
    run connects to PEER (its delivery has begun; at most WAIT seconds
    for that). KILLED counts the runs still alive when the signal went
    out (a run that ended on its own is not counted)."""

    def __init__(self, spool, rnd, peer, max_delay=0.3, wait=2):
        super().__init__(daemon=True)
        self.spool, self.rnd, self.peer = spool, rnd, peer
        self.max_delay, self.wait = max_delay, wait
        self.stop = threading.Event()
        self.started = self.killed = 0

    def run(self):
        argv = ["relay", "-C", self.spool.config, "--flush"]
        exe = self.spool.link("relay")
        while not self.stop.is_set():
            in_delivery = self.rnd.random() < 2 / 3
            delay = self.rnd.uniform(0, self.max_delay)
            before = self.peer.connections
            p = subprocess.Popen(argv, executable=exe, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=rt.default_env())
            self.started += 1
            if in_delivery:
                end = time.monotonic() + self.wait
                while (self.peer.connections == before and p.poll() is None
                       and time.monotonic() < end):
                    time.sleep(0.002)
            self.stop.wait(delay)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                self.killed += 1
            p.wait()

    def run_more(self, runs, timeout=30):
        """Lets RUNS more runs start (kills landing on the backlog), then stops."""
        target = self.started + runs
        end = time.monotonic() + timeout
        while self.started < target and time.monotonic() < end:
            time.sleep(0.01)
        self.stop.set()
        self.join()


def smarthost_config(sp, peer, certs, pwfile):
    """relay.toml for SP: relayhost PEER, STARTTLS + AUTH, two connections."""
    return ('myhostname = "%s"\nmyorigin = "%s"\nrelayhost = "[127.0.0.1]:%d"\n\n'
            '[queue]\ndirectory = "%s"\nflush_after_submit = false\nmin_free_bytes = "1M"\n\n'
            '[rewrite]\nalias_maps = []\n\n%s') % (
                rt.MYHOSTNAME, rt.MYORIGIN, peer.port, sp.spool, smtp_section(certs, pwfile))


def smtp_section(certs, pwfile):
    # Generous timeouts: a slow reply on a loaded machine must not make a
    # deferral (and an honest duplicate) that no kill caused.
    return ('[smtp]\nca_file = "%s"\nusername = "%s"\npassword_file = "%s"\n'
            'max_connections = %d\nconnect_timeout = 30\ncommand_timeout = 60\n'
            'data_timeout = 120\n') % (certs.ca, USER, pwfile, MAX_CONNECTIONS)


def write_password(directory):
    path = os.path.join(directory, "password")
    with open(path, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(path, 0o600)
    return path


def drain(test, sp, rounds=10):
    """`relay --flush --now` until nothing is left to deliver (or ROUNDS)."""
    for _ in range(rounds):
        r = sp.run(["--flush", "--now"], timeout=300)
        test.assertEqual(r.rc, 0, r.describe())
        left = sp.names("queue") + sp.names("incoming") + [
            n for n in sp.names("maildrop") if not n.startswith("t.")]
        if not left:
            return
    test.fail("still queued after %d runs of relay --flush --now: %r" % (rounds, left))


class Arrivals:
    """What the smarthost received, held against the submissions.

    SUBS are dicts with token, i, headers, body, and "accepted" (the
    submitter was told so: exit 0 or a 250 reply)."""

    def __init__(self, peer, subs):
        with peer.lock:
            self.messages = list(peer.messages)
            commands = [list(c) for c in peer.commands]
        self.by_token = {s["token"]: s for s in subs}
        # A connection without QUIT is one whose client died (or gave up).
        self.broken = {i for i, c in enumerate(commands) if "QUIT" not in c and c}
        self.copies = {}        # token -> [(position, connection)]
        self.damaged = []
        for pos, m in enumerate(self.messages):
            data = m.data.replace(b"\r\n", b"\n")
            fields, body = rt.split_message(data)
            head = data[:len(data) - len(body)]
            found = TOKEN_RE.findall(head)
            if len(found) != 1:
                self.damaged.append((pos, "%d X-Token fields (from %r to %r)" % (
                    len(found), m.mail_from, m.rcpt_tos)))
                continue
            token = found[0].decode()
            s = self.by_token.get(token)
            if s is None:
                self.damaged.append((pos, "token %s was never submitted" % token))
                continue
            self.copies.setdefault(token, []).append((pos, m.connection))
            why = self.check(s, m, head, body)
            if why:
                self.damaged.append((pos, "submission %d: %s" % (s["i"], why)))

    @staticmethod
    def check(s, m, head, body):
        """Why message M is not submission S delivered whole, or None."""
        i = s["i"]
        if m.mail_from != "sender%d@example.org" % i:
            return "sender %r" % m.mail_from
        if m.rcpt_tos != ["rcpt%d@example.com" % i]:
            return "recipients %r" % m.rcpt_tos
        if body != s["body"]:
            return "body of %d bytes, not %d (ends %r)" % (len(body), len(s["body"]), body[-40:])
        lines = head.split(b"\n")
        for h in s["headers"]:
            first = h.split(b"\n")[0]
            n = sum(1 for k in range(len(lines)) if lines[k] == first)
            if n != 1 or h not in head:
                return "header %r not there once, intact" % first
        if not m.tls or m.auth_user != USER:
            return "not over TLS as %s (tls %r, user %r)" % (USER, m.tls, m.auth_user)
        return None

    def lost(self):
        """Accepted submissions that never arrived."""
        return [s["i"] for s in self.by_token.values() if s["accepted"] and s["token"] not in self.copies]

    def extra_copies(self):
        return sum(len(c) - 1 for c in self.copies.values())

    def duplicated(self):
        return {t: c for t, c in self.copies.items() if len(c) > 1}

    def unexplained_duplicates(self):
        """Copies that came again though their connection ended with QUIT,
        and connections that sent more than one message that came again."""
        bad, per_conn = [], {}
        for token, c in self.duplicated().items():
            for pos, conn in c[:-1]:
                if conn not in self.broken:
                    bad.append((self.by_token[token]["i"], pos, conn, "connection ended with QUIT"))
                per_conn.setdefault(conn, []).append(self.by_token[token]["i"])
        bad += [(subs, None, conn, "one connection sent several that came again")
                for conn, subs in per_conn.items() if len(subs) > 1]
        return bad

    def parallel(self):
        """Pairs of connections whose messages interleave: two at once."""
        span = {}
        for pos, m in enumerate(self.messages):
            lo, hi = span.get(m.connection, (pos, pos))
            span[m.connection] = (min(lo, pos), max(hi, pos))
        ordered = sorted(span.values())
        return sum(1 for a, b in zip(ordered, ordered[1:]) if b[0] < a[1])


def assert_clean_spool(test, sp):
    """Nothing left but killed front ends' t.* files, which go once old."""
    for area in ("queue", "incoming", "purge", "corrupt", "hold"):
        test.assertEqual(sp.names(area), [], area)
    test.assertEqual([n for n in sp.names("maildrop") if not n.startswith("t.")], [])
    partial = [n for n in sp.names("maildrop") if n.startswith("t.")]
    old = time.time() - 2 * 3600
    for n in partial:
        os.utime(os.path.join(sp.area("maildrop"), n), (old, old))
    sp.flush()
    test.assertEqual(sp.names("maildrop"), [])
    return len(partial)


def assert_arrivals(test, arrivals, flush_kills):
    test.assertEqual(arrivals.damaged, [], "damaged or unknown messages at the smarthost")
    test.assertEqual(arrivals.lost(), [], "accepted but never arrived")
    test.assertEqual(arrivals.unexplained_duplicates(), [],
                     "a message came again outside the duplicate window")
    test.assertLessEqual(arrivals.extra_copies(), flush_kills * REMOVAL_BATCH)
    test.assertLessEqual(arrivals.extra_copies(), len(arrivals.broken))


class PipelineTorture(unittest.TestCase):
    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.top = tempfile.mkdtemp(prefix="relay-torture-")
        self.certs = make_certs(os.path.join(self.top, "certs"))
        self.peer = Peer(os.path.join(self.top, "peer"), certs=self.certs,
                         users={USER: PASSWORD}).start()
        self.addCleanup(self.peer.stop)
        self.sp = rt.Spool(init=False, root=os.path.join(self.top, "relay"))
        self.sp.write_config(smarthost_config(self.sp, self.peer, self.certs,
                                              write_password(self.top)))
        self.sp.init()
        self.addCleanup(self.sp.cleanup)

    def test_kill_nine_pipeline(self):
        t0 = time.monotonic()
        rnd = random.Random(SEED)
        sp = self.sp
        exe = sp.link("sendmail")
        scratch = tempfile.mkdtemp(dir=sp.root, prefix="msgs-")
        subs = []
        killer = FlushKiller(sp, random.Random(rnd.random()), self.peer)
        killer.start()
        try:
            for start in range(0, N, BATCH):
                batch = []
                for i in range(start, min(N, start + BATCH)):
                    token = "%032x" % rnd.getrandbits(128)
                    headers, body = make_message(i, token, rnd)
                    path = os.path.join(scratch, "%d.eml" % i)
                    with open(path, "wb") as f:
                        f.write(wire(headers, body))
                    sub = {"i": i, "token": token, "headers": headers, "body": body,
                           "kill_after": rnd.uniform(0, 0.005) if rnd.random() < 0.5 else None}
                    start_submission(sp, exe, path, ["-f", "sender%d@example.org" % i,
                                                     "rcpt%d@example.com" % i], sub)
                    batch.append(sub)
                for s in batch:
                    finish_submission(s)
                    s["accepted"] = s["rc"] == 0
                    subs.append(s)
            # Kills on the backlog: both connections busy.
            killer.run_more(10)
        finally:
            killer.stop.set()
            killer.join()

        drain(self, sp)
        arrivals = Arrivals(self.peer, subs)
        exited0 = [s for s in subs if s["rc"] == 0]
        killed = [s for s in subs if s["rc"] == -signal.SIGKILL]
        other = [s for s in subs if s["rc"] not in (0, -signal.SIGKILL)]
        killed_arrived = sum(1 for s in killed if s["token"] in arrivals.copies)
        report = ("kill -9 pipeline torture (seed %d): submitted %d, exited 0 %d, killed %d "
                  "(of which arrived %d), other exits %d; flush runs %d, flush kills %d; "
                  "received %d (distinct %d), duplicated %d, extra copies %d, "
                  "broken connections %d of %d, parallel %d; lost %d, damaged %d; %.1fs"
                  % (SEED, len(subs), len(exited0), len(killed), killed_arrived, len(other),
                     killer.started, killer.killed, len(arrivals.messages), len(arrivals.copies),
                     len(arrivals.duplicated()), arrivals.extra_copies(), len(arrivals.broken),
                     self.peer.connections, arrivals.parallel(), len(arrivals.lost()),
                     len(arrivals.damaged), time.monotonic() - t0))
        print("\n" + report, file=sys.stderr)

        self.assertEqual(other, [], "unexpected exits: %r" % [
            (s["i"], s["rc"], s["stderr"][:200]) for s in other])
        assert_arrivals(self, arrivals, killer.killed)
        assert_clean_spool(self, sp)
        self.assertEqual(len(self.peer.messages), len(arrivals.messages), "sent again after the end")
        # The run must really have exercised every side.
        self.assertGreater(len(exited0), 0)
        self.assertGreater(len(killed), 0)
        self.assertGreater(killer.killed, 0)
        self.assertGreater(len(arrivals.broken), 0, "no kill landed on a connection")
        self.assertGreater(arrivals.parallel(), 0, "never two connections at once")


if __name__ == "__main__":
    unittest.main()
