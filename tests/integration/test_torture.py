"""kill -9 torture: accepted once means queued exactly once.

N submissions run in concurrent batches; each is killed with SIGKILL after
a random 0-5 ms or left alone, while `relay --flush` (recovery and pickup)
is started and killed at random moments in a loop. Then pickup runs to
completion and the spool must satisfy the state table in
src/queue/README.md:

  - every submission that exited 0 is in the queue exactly once;
  - a killed submission is there once or not at all, never twice;
  - every entry is complete: its envelope parses and names the recipient
    of its submission, its message holds the whole body (start and end
    markers, exact length), and `relay queue check` reports 0 damaged;
  - nothing is left in incoming/, purge/, corrupt/, and no complete
    submission in maildrop/ (half-written "t.*" files of killed front ends
    may stay: pickup removes them once they are an hour old, checked by
    ageing them).

RELAY_TORTURE_N (default 200) and RELAY_TORTURE_SEED change the run.
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

import relaytest as rt

N = int(os.environ.get("RELAY_TORTURE_N", "200"))
BATCH = 20
SEED = int(os.environ.get("RELAY_TORTURE_SEED", str(int(time.time()))))
TOKEN_RE = re.compile(rb"^X-Token: ([0-9a-f]{32})$", re.M)


def make_message(i, token, rnd):
    """A message whose completeness can be checked: a token header, a body
    of random size between start and end markers."""
    lines = rnd.randint(1, 3000)   # up to ~200 KB: kills land mid-write
    body = b"".join(b"%s line %06d of submission %d\n" % (token.encode(), n, i)
                    for n in range(lines))
    head = b"Subject: torture %d\nX-Token: %s\n\n" % (i, token.encode())
    return head + b"BEGIN " + token.encode() + b"\n" + body + b"END " + token.encode() + b"\n"


def kill(proc):
    """SIGKILL PROC unless it has been reaped already."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_submission(sp, exe, path, args, sub):
    """Starts sendmail ARGS on the message file PATH into SUB["proc"];
    with SUB["kill_after"] set, a timer kills it that many seconds later."""
    with open(path, "rb") as stdin:
        sub["proc"] = subprocess.Popen(
            ["sendmail", "-C", sp.config, "-i"] + list(args),
            executable=exe, stdin=stdin, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=rt.default_env())
    if sub["kill_after"] is not None:
        sub["timer"] = threading.Timer(sub["kill_after"], kill, [sub["proc"]])
        sub["timer"].start()


def finish_submission(sub):
    """Waits for SUB's sendmail: SUB["stderr"] and SUB["rc"]; the process
    and its timer are dropped from SUB."""
    proc = sub.pop("proc")
    sub["stderr"] = proc.stderr.read()
    proc.stderr.close()
    sub["rc"] = proc.wait()
    timer = sub.pop("timer", None)
    if timer:
        timer.join()


class PickupKiller(threading.Thread):
    """Starts `relay --flush` and SIGKILLs it after a random delay, again
    and again, until stopped."""

    def __init__(self, spool, rnd):
        super().__init__(daemon=True)
        self.spool, self.rnd = spool, rnd
        self.stop = threading.Event()
        self.started = self.killed = 0

    def run(self):
        argv = ["relay", "-C", self.spool.config, "--flush"]
        exe = self.spool.link("relay")
        while not self.stop.is_set():
            p = subprocess.Popen(argv, executable=exe, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=rt.default_env())
            self.started += 1
            time.sleep(self.rnd.uniform(0, 0.03))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                self.killed += 1
            p.wait()


class KillNine(unittest.TestCase):
    def test_kill_nine_torture(self):
        rnd = random.Random(SEED)
        sp = rt.Spool()
        self.addCleanup(sp.cleanup)
        exe = sp.link("sendmail")
        scratch = tempfile.mkdtemp(dir=sp.root, prefix="msgs-")

        subs = []   # dicts: i, token, size, rc, killed
        killer = PickupKiller(sp, random.Random(rnd.random()))
        killer.start()
        try:
            for start in range(0, N, BATCH):
                batch = []
                for i in range(start, min(N, start + BATCH)):
                    token = "%032x" % rnd.getrandbits(128)
                    msg = make_message(i, token, rnd)
                    path = os.path.join(scratch, "%d.eml" % i)
                    with open(path, "wb") as f:
                        f.write(msg)
                    sub = {"i": i, "token": token, "message": msg, "rc": None,
                           "kill_after": rnd.uniform(0, 0.005) if rnd.random() < 0.6 else None}
                    start_submission(sp, exe, path, ["rcpt%d@example.com" % i], sub)
                    batch.append(sub)
                for s in batch:
                    finish_submission(s)
                    subs.append(s)
        finally:
            killer.stop.set()
            killer.join()

        # Recovery and pickup to completion.
        before = {a: len(sp.names(a)) for a in ("maildrop", "incoming", "queue")}
        sp.flush()
        sp.flush()

        by_token = {s["token"]: s for s in subs}
        found = {}
        damaged = []
        for e in sp.entries():
            m = TOKEN_RE.search(e.message)
            if not m:
                damaged.append((e.id, "no token"))
                continue
            token = m.group(1).decode()
            found.setdefault(token, []).append(e)
            s = by_token.get(token)
            if s is None:
                damaged.append((e.id, "unknown token"))
                continue
            _, body = rt.split_message(s["message"])
            if e.body != body:
                damaged.append((e.id, "body differs (%d vs %d bytes)" % (len(e.body), len(body))))
            if e.envelope.recipients() != ["rcpt%d@example.com" % s["i"]]:
                damaged.append((e.id, "recipients %r" % e.envelope.recipients()))
            if e.header("Subject") != "torture %d" % s["i"]:
                damaged.append((e.id, "subject %r" % e.header("Subject")))
            if int(e.envelope["size"]) != len(e.message):
                damaged.append((e.id, "size field"))

        exited0 = [s for s in subs if s["rc"] == 0]
        killed = [s for s in subs if s["rc"] == -signal.SIGKILL]
        other = [s for s in subs if s["rc"] not in (0, -signal.SIGKILL)]
        duplicates = {t: [e.id for e in es] for t, es in found.items() if len(es) > 1}
        lost = [s["i"] for s in exited0 if s["token"] not in found]
        killed_found = sum(1 for s in killed if s["token"] in found)
        check = sp.queue("check", check=False)

        report = ("kill -9 torture (seed %d): submitted %d, exited 0 %d, killed %d "
                  "(of which queued %d), other exits %d; pickup runs %d, killed %d; "
                  "left by the kills: incoming %d, maildrop %d, queue %d; "
                  "found %d, duplicates %d, lost %d, damaged %d; t.* left %d"
                  % (SEED, len(subs), len(exited0), len(killed), killed_found, len(other),
                     killer.started, killer.killed, before["incoming"], before["maildrop"],
                     before["queue"], len(found), len(duplicates), len(lost),
                     len(damaged), sum(1 for n in sp.names("maildrop") if n.startswith("t."))))
        print("\n" + report, file=sys.stderr)

        self.assertEqual(other, [], "unexpected exits: %r" % [
            (s["i"], s["rc"], s["stderr"][:200]) for s in other])
        self.assertEqual(lost, [], "accepted (exit 0) but not queued")
        self.assertEqual(duplicates, {}, "queued more than once")
        self.assertEqual(damaged, [])
        self.assertEqual(len(found), len(sp.entries()))
        self.assertEqual(check.rc, 0, check.out + check.err)
        self.assertIn("%d good, 0 damaged entries" % len(found), check.out)
        for area in ("incoming", "purge", "corrupt", "hold"):
            self.assertEqual(sp.names(area), [], area)
        self.assertEqual([n for n in sp.names("maildrop") if not n.startswith("t.")], [])
        # Row S1: a killed front end's "t.*" file goes once it is an hour old.
        partial = [n for n in sp.names("maildrop") if n.startswith("t.")]
        old = time.time() - 2 * 3600
        for n in partial:
            os.utime(os.path.join(sp.area("maildrop"), n), (old, old))
        sp.flush()
        self.assertEqual(sp.names("maildrop"), [])
        self.assertEqual(len(sp.entries()), len(found))
        # The run must really have exercised both sides.
        self.assertGreater(len(exited0), 0)
        self.assertGreater(len(killed), 0)
        self.assertGreater(killer.killed, 0)
        self.assertGreater(len(found), len(exited0) // 2)


if __name__ == "__main__":
    unittest.main()
