#!/usr/bin/python3
"""Flush throughput for 1 and 2 connections (not a ctest test: run by hand).

    RELAY_BIN=build/relay /usr/bin/python3 tests/integration/delivery_bench.py [N]

Queues N messages (default 1,000) once, picked up without a relayhost, then
for each peer and each max_connections copies the spool and times
`relay --flush` (recovery + delivery of all N). Peers, both on 127.0.0.1:
  smtp-sink   Postfix's smtp-sink(1): plain SMTP, no TLS, no AUTH
  aiosmtpd    tests/integration/smtpd_peer.py: STARTTLS + AUTH PLAIN
Prints messages/s (median of three runs)."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtpd_peer import Peer, free_port, make_certs  # noqa: E402

RELAY = os.environ.get("RELAY_BIN", "relay")


def write_config(path, spool, smtp, relayhost=None):
    text = 'myhostname = "client.example.org"\n'
    if relayhost:
        text += 'relayhost = "%s"\n' % relayhost
    text += '[queue]\ndirectory = "%s"\nflush_after_submit = false\n' % spool
    text += "[smtp]\n" + "".join("%s = %s\n" % (k, json.dumps(v)) for k, v in smtp.items())
    with open(path, "w") as f:
        f.write(text)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    top = tempfile.mkdtemp(prefix="relay-bench-")
    try:
        certs = make_certs(os.path.join(top, "certs"))
        pw = os.path.join(top, "pw")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        os.chmod(pw, 0o600)
        base = os.path.join(top, "base")
        cfg = os.path.join(top, "base.toml")
        write_config(cfg, base, {})
        subprocess.run([RELAY, "-C", cfg, "--init-spool"], check=True, capture_output=True)
        body = "".join("line %d of a typical cron report\n" % i for i in range(40))
        for i in range(n):
            msg = "From: alice@example.org\nTo: r%d@example.net\nSubject: m%d\n\n%s" % (i, i, body)
            subprocess.run([RELAY, "-C", cfg, "-f", "alice@example.org", "r%d@example.net" % i],
                           input=msg.encode(), check=True, capture_output=True)
        subprocess.run([RELAY, "-C", cfg, "--flush"], check=True, capture_output=True)  # pickup
        assert len(os.listdir(os.path.join(base, "queue"))) == n

        def run(smtp, relayhost, count_delivered):
            spool = os.path.join(top, "run")
            shutil.rmtree(spool, ignore_errors=True)
            shutil.copytree(base, spool, symlinks=True)
            c = os.path.join(top, "run.toml")
            write_config(c, spool, smtp, relayhost)
            t0 = time.monotonic()
            r = subprocess.run([RELAY, "-C", c, "--flush"], capture_output=True, text=True)
            dt = time.monotonic() - t0
            left = len(os.listdir(os.path.join(spool, "queue")))
            if r.returncode != 0 or left != 0:
                raise SystemExit("flush failed (%d left): %s" % (left, r.stderr[-2000:]))
            if count_delivered is not None:
                assert count_delivered() >= n
            return n / dt

        results = []
        # smtp-sink: plain SMTP.
        port = free_port()
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % port, "256"])
        time.sleep(0.5)
        try:
            for conns in (1, 2):
                smtp = {"tls": "none", "max_connections": conns, "max_messages_per_connection": 100}
                rates = [run(smtp, "[127.0.0.1]:%d" % port, None) for _ in range(3)]
                results.append(("smtp-sink (plain)", conns, statistics.median(rates)))
        finally:
            sink.send_signal(signal.SIGTERM)
            sink.wait()
        # aiosmtpd: STARTTLS + AUTH.
        for conns in (1, 2):
            rates = []
            for _ in range(3):
                p = Peer(os.path.join(top, "peer"), certs=certs,
                         users={"relay@example.org": "s3cret"}).start()
                try:
                    smtp = {"ca_file": certs.ca, "username": "relay@example.org",
                            "password_file": pw, "max_connections": conns,
                            "max_messages_per_connection": 100}
                    rates.append(run(smtp, "[127.0.0.1]:%d" % p.port, lambda: len(p.messages)))
                finally:
                    p.stop()
            results.append(("aiosmtpd (STARTTLS+AUTH)", conns, statistics.median(rates)))
        for peer, conns, rate in results:
            print("%-26s max_connections=%d  %7.0f messages/s" % (peer, conns, rate))
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
