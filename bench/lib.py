#!/usr/bin/python3
"""lib.py - helpers for bench/run: statistics, queue prefill and the table.

  lib.py stats NAME RAW...           raw files of `benchtool lat -r` -> NAME.key=value lines
  lib.py flushstats NAME N RAW       RAW lines "ms sessions rss_kb" (one per trial) ->
                                     NAME.ms (median), NAME.rate (N / median), NAME.sess, NAME.rss_kb
  lib.py kv FILE KEY                 print one value of a key=value file
  lib.py prefill-queue SPOOL ENTRY N clone the committed entry ENTRY (a queue/<id>/
                                     directory relay wrote) N times into SPOOL/queue/
  lib.py prefill-files DIR FILE N    copy FILE N times into DIR (maildrop, floor)
  lib.py portfree PORT               exit 0 if nothing listens on 127.0.0.1:PORT
  lib.py freeport                    print a port that is free on 127.0.0.1 (bound and released)
  lib.py mem PID...                  summed VmRSS and Pss of the PIDs: "n=.. rss_kb=.. pss_kb=.."
  lib.py children PPID COMM          the pids of PPID's children named COMM, one per line
  lib.py netstat KEY                 one TcpExt counter of /proc/net/netstat (ListenOverflows)
  lib.py serverstats NAME N RAW      RAW lines "ms committed cpu_s" (one per trial) -> NAME.rate
                                     (N / median ms), NAME.ms, NAME.committed (min), NAME.cpu_ms_per_msg
  lib.py table RESULTS               the markdown table from RESULTS (key=value lines)

Prefill names start with "0000000" (an id time of 0), so bench/run can tell
them from what sendmail queued. Nothing here talks to the network except
portfree, which binds 127.0.0.1 only.
"""
import os
import socket
import statistics
import sys

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # the queue id alphabet


def clone_id(i):
    s = ""
    for _ in range(9):
        s = ALPHABET[i & 31] + s
        i >>= 5
    return "0000000" + s


def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    idx = p * (len(v) - 1)
    lo = int(idx)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] * (1 - (idx - lo)) + v[hi] * (idx - lo)


def cmd_stats(name, raws):
    ms, rss, cpu, fail = [], [], [], 0
    for path in raws:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 4:
                    continue
                if parts[2] != "0":
                    fail += 1
                    continue
                ms.append(float(parts[0]))
                rss.append(int(parts[1]))
                cpu.append(float(parts[3]))
    out = {
        "runs": len(ms), "fail": fail,
        "med_ms": statistics.median(ms) if ms else 0,
        "p10_ms": pct(ms, .1), "p90_ms": pct(ms, .9),
        "cpu_ms": statistics.median(cpu) if cpu else 0,
        "rss_kb": int(statistics.median(rss)) if rss else 0,
        "rss_max_kb": max(rss) if rss else 0,
    }
    for k, v in out.items():
        print(f"{name}.{k}={v:.3f}" if isinstance(v, float) else f"{name}.{k}={v}")


def cmd_flushstats(name, n, raw):
    rows = []
    with open(raw) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                rows.append((float(parts[0]), int(parts[1]), int(parts[2])))
    if not rows:
        return
    med = statistics.median(r[0] for r in rows)
    print(f"{name}.ms={med:.1f}")
    print(f"{name}.rate={n / med * 1000:.1f}")
    print(f"{name}.trials={len(rows)}")
    sess = sorted(set(r[1] for r in rows))
    print(f"{name}.sess={sess[0] if len(sess) == 1 else '–'.join(map(str, (sess[0], sess[-1])))}")
    rss = max(r[2] for r in rows)
    if rss > 0:
        print(f"{name}.rss_kb={rss}")


def cmd_prefill_queue(spool, entry, n):
    with open(os.path.join(entry, "envelope")) as f:
        env = f.read().splitlines(keepends=True)
    with open(os.path.join(entry, "message"), "rb") as f:
        msg = f.read()
    qdir = os.path.join(spool, "queue")
    for i in range(n):
        qid = clone_id(i)
        d = os.path.join(qdir, qid)
        os.mkdir(d, 0o700)
        with open(os.path.join(d, "message"), "wb") as f:
            f.write(msg)
        with open(os.path.join(d, "envelope"), "w") as f:
            f.writelines(("id: " + qid + "\n") if l.startswith("id: ") else l for l in env)
            os.fchmod(f.fileno(), 0o600)


def cmd_prefill_files(d, src, n):
    with open(src, "rb") as f:
        data = f.read()
    for i in range(n):
        p = os.path.join(d, clone_id(i))
        with open(p, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o644)


def cmd_portfree(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    except OSError:
        return 1
    finally:
        s.close()
    return 0


def cmd_freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()
    return 0


def proc_mem(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    return rss, pss


def cmd_mem(pids):
    n = rss = pss = 0
    for pid in pids:
        m = proc_mem(pid)
        if m is None:
            continue
        n += 1
        rss += m[0]
        pss += m[1]
    print(f"n={n} rss_kb={rss} pss_kb={pss}")


def cmd_netstat(key):
    """One TcpExt counter of /proc/net/netstat (e.g. ListenOverflows)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            d = dict(zip(names.split()[1:], values.split()[1:]))
            print(d.get(key, 0))
            return
    print(0)


def cmd_children(ppid, comm):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        if fields[1] == ppid and name == comm:
            print(d)


def cmd_serverstats(name, n, raw):
    rows = []
    with open(raw) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                rows.append((float(parts[0]), int(parts[1]), float(parts[2])))
    if not rows:
        return
    med = statistics.median(r[0] for r in rows)
    print(f"{name}.ms={med:.1f}")
    print(f"{name}.rate={n / med * 1000:.1f}")
    print(f"{name}.rate_min={min(n / r[0] * 1000 for r in rows):.1f}")
    print(f"{name}.rate_max={max(n / r[0] * 1000 for r in rows):.1f}")
    print(f"{name}.trials={len(rows)}")
    print(f"{name}.committed={min(r[1] for r in rows)}")
    print(f"{name}.cpu_ms_per_msg={statistics.median(r[2] for r in rows) * 1000 / n:.3f}")


def load(path):
    kv = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
    return kv


def num(kv, k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None


def ms(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    if v < 0.01:
        return f"{v * 1000:.1f} µs"
    return f"{v:.2f} ms"


def mib(kb):
    return "–" if kb is None or kb == 0 else f"{kb / 1024:.1f} MiB"


def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def kib(kb):
    if kb is None:
        return "–"
    if abs(kb) >= 10240:
        return f"{kb / 1024:.1f} MiB"
    return f"{kb:.1f} kB" if abs(kb) < 100 else f"{kb:.0f} kB"


def sratio(a, b):
    """ratio() that keeps two significant digits of a small ratio."""
    if a is None or b is None or b == 0 or a / b >= 0.1:
        return ratio(a, b)
    return f"{a / b:.2g}× (1/{b / a:,.0f})" if a > 0 else "0×"


def normal(kv, key):
    """One normal client's message: its time, or why it was not served."""
    rc = kv.get(key + ".normal_rc")
    if rc is None:
        return "–"
    if rc == "0":
        return ms(num(kv, key + ".normal_ms"))
    if rc == "124":
        return "not served in 20 s"
    return f"refused (smtp-source exit {rc})"


def server_table(kv):
    out = []
    p = out.append
    n, trials = kv.get("sv_n", "?"), kv.get("sv_trials", "?")
    p(f"**5. Server** `relay serve` and Postfix's `smtpd` on 127.0.0.1, both committing each message "
      f"to disk before the 250 and delivering nothing (relay: maildrop/; Postfix: cleanup → hold/)")
    p("")
    p("| | relay serve | Postfix smtpd | relay / Postfix |")
    p("|---|---:|---:|---:|")
    r, f = num(kv, "sv.relay.rate"), num(kv, "sv.postfix.rate")
    p(f"| throughput, msgs/s (median of {trials}: `smtp-source -s 20 -m {n} -l 2048`) | "
      f"{'–' if r is None else f'{r:,.0f}'} | {'–' if f is None else f'{f:,.0f}'} | {ratio(r, f)} |")
    rng = []
    for k in ("relay", "postfix"):
        lo, hi = num(kv, f"sv.{k}.rate_min"), num(kv, f"sv.{k}.rate_max")
        rng.append("–" if lo is None else f"{lo:,.0f}–{hi:,.0f}")
    p(f"| throughput, range over the trials | {rng[0]} | {rng[1]} | |")
    nf = num(kv, "sv.relay_nf.rate")
    if nf is not None:
        p(f"| diagnosis: relay serve with fsync() elided (not durable), msgs/s | {nf:,.0f} | | {ratio(nf, f)} |")
    a, b = num(kv, "sv.relay.cpu_ms_per_msg"), num(kv, "sv.postfix.cpu_ms_per_msg")
    p(f"| server CPU per message (relay's process; Postfix's master and its children) | {ms(a)} | {ms(b)} | {ratio(a, b)} |")
    idle = kv.get("sv_idle", "?")
    per = {}
    for k in ("relay", "postfix"):
        held = num(kv, f"sv.idle.{k}.held")
        for m in ("rss", "pss"):
            v1, v0 = num(kv, f"sv.idle.{k}.{m}_kb"), num(kv, f"sv.idle.{k}.base_{m}_kb")
            per[k, m] = None if not held or v1 is None or v0 is None else (v1 - v0) / held
    held = [kv.get(f"sv.idle.{k}.held", "–") for k in ("relay", "postfix")]
    p(f"| idle connections held (of {idle}, after EHLO) | {held[0]} | {held[1]} | |")
    procs = kv.get("sv.idle.postfix.procs", "–")
    p(f"| processes then | 1 | {procs} smtpd | |")
    for m, label in (("pss", "memory per idle connection, PSS growth / connections"),
                     ("rss", "memory per idle connection, RSS growth / connections")):
        p(f"| {label} | {kib(per['relay', m])} | {kib(per['postfix', m])} | {sratio(per['relay', m], per['postfix', m])} |")
    tot = [kib(num(kv, f"sv.idle.{k}.pss_kb")) for k in ("relay", "postfix")]
    p(f"| PSS of the server processes with them held (relay; all smtpd) | {tot[0]} | {tot[1]} | |")
    if r is not None and f is not None:
        p("")
        p(f"Target: relay at or above Postfix's rate: {verdict(r >= f)} ({ratio(r, f)}).")
    p("")

    flood = kv.get("sv_flood", "?")
    p(f"Flood: {flood} connections from 127.0.0.2 (each reads the greeting, sends EHLO, stays idle), "
      f"counted after 20 s; then one normal message from 127.0.0.1 (`smtp-source -m 1`, 20 s at most)")
    p("")
    p("| server and limits | greeted | refused 421 | connecting (SYN queue full) | waiting for the banner | "
      "not opened | listen queue overflows | normal message before | during the flood | server PSS during |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = (("relay", "defaults", "relay, default limits (max_connections 100, client_connection_limit 20, greet_pause 1 s)"),
            ("relay", "open", "relay, limits raised above the flood"),
            ("postfix", "defaults", "Postfix, default limits (process limit 100, connection count limit 50)"),
            ("postfix", "open", "Postfix, process limit raised to " + str(int(num(kv, "sv_idle") or 0) + int(num(kv, "sv_slow") or 0) + 200)))
    for k, mode, label in rows:
        q = f"sv.flood.{k}.{mode}"
        if kv.get(q + ".greeted") is None:
            continue
        g = lambda x: kv.get(f"{q}.{x}", "–")
        mem = kib(num(kv, q + ".mem.pss_kb"))
        if k == "postfix":
            mem += f" ({kv.get(q + '.mem.n', '?')} smtpd)"
        p(f"| {label} | {g('greeted')} | {g('refused421')} | {g('connecting')} | {g('waiting')} | {g('unopened')} | "
          f"{g('overflows')} | {normal(kv, q + '.before')} | {normal(kv, q)} | {mem} |")
    p("")
    if kv.get("sv_secs"):
        p(f"The server section took {kv['sv_secs']} s.")
        p("")
    slow, t, hold, sms = (kv.get(x, "?") for x in ("sv_slow", "sv_timeout", "sv_hold", "sv_slow_ms"))
    p(f"Slow clients: {slow} clients from 127.0.0.3 send one byte of an endless command line every {sms} ms, "
      f"beside 100 idle clients from 127.0.0.4 (nothing after EHLO); per-read timeout {t} s on both servers; "
      f"kept {hold} s; one normal message from 127.0.0.1 at {int(t) + 3 if t.isdigit() else '?'} s")
    p("")
    p("| | slow clients held | slow ones closed by the server | idle ones closed | idle: median time to close | "
      "normal message meanwhile |")
    p("|---|---:|---:|---:|---:|---:|")
    for k, label in (("relay", "relay serve"), ("postfix", "Postfix smtpd"),
                     ("postfix_deadline", "Postfix smtpd, `smtpd_per_record_deadline = yes` (its default under stress)")):
        q = f"sv.slow.{k}"
        if kv.get(q + ".held") is None:
            continue
        g = lambda x: kv.get(f"{q}.{x}", "–")
        p(f"| {label} | {g('held')} | {g('closed_by_server')} | {g('idle.closed_by_server')} of {g('idle.held')} | "
          f"{g('idle.close_med_s')} s | {normal(kv, q)} |")
    p("")
    return out


def cmd_table(path):
    kv = load(path)
    out = []
    p = out.append
    p(f"Machine: {kv.get('machine', '?')}")
    p(f"Spool file system: {kv.get('spool_fs', '?')}")
    p(f"Load average: {kv.get('load_start', '?')} at start, {kv.get('load_end', '?')} at end; "
      f"relay {kv.get('relay_version', '?')}, binary `{kv.get('relay_libs', '?')}`")
    p("")

    names = [("floor", "floor: C program, create+write+fsync+rename+fsync(dir)"),
             ("relay", "relay `sendmail -i`"), ("nullmailer", "nullmailer `sendmail -i`"),
             ("dma", "dma `-i`"), ("postfix", "Postfix `sendmail -i`")]
    if num(kv, "enq.floor.med_ms") is not None:
        runs = kv.get("enq.relay.runs", "?")
        p(f"**1. Enqueue** one 2 KB message, {runs} runs each, interleaved (medians)")
        p("")
        p("| | median | p10 | p90 | × floor | CPU (median) | peak RSS |")
        p("|---|---:|---:|---:|---:|---:|---:|")
        floor = num(kv, "enq.floor.med_ms")
        for key, label in names:
            m = num(kv, f"enq.{key}.med_ms")
            if m is None:
                if key != "floor":
                    p(f"| {label} | not installed | | | | | |")
                continue
            fails = int(num(kv, f"enq.{key}.fail") or 0)
            extra = f" ({fails} failed)" if fails else ""
            p(f"| {label}{extra} | {ms(m)} | {ms(num(kv, f'enq.{key}.p10_ms'))} | "
              f"{ms(num(kv, f'enq.{key}.p90_ms'))} | {ratio(m, floor)} | "
              f"{ms(num(kv, f'enq.{key}.cpu_ms'))} | {mib(num(kv, f'enq.{key}.rss_kb'))} |")
        r = num(kv, "enq.relay.med_ms")
        peers = [num(kv, f"enq.{k}.med_ms") for k in ("nullmailer", "dma", "postfix")]
        peers = [x for x in peers if x is not None]
        rss = num(kv, "enq.relay.rss_max_kb")
        if r is not None:
            p("")
            p(f"Targets: relay ≤ 1.5× floor: {verdict(r <= 1.5 * floor)} ({ratio(r, floor)}); "
              f"below every peer: {verdict(all(r < x for x in peers))}"
              + (f" (fastest peer {ms(min(peers))})" if peers else " (no peer installed)")
              + f"; peak RSS ≤ 4 MiB: {verdict(rss is not None and rss <= 4096)} ({mib(rss)} max).")
        p("")

    if num(kv, "fl.source.rate") is not None or num(kv, "fl.relay.rate") is not None:
        n = kv.get("flush_n", "1000")
        trials = kv.get("flush_trials", "?")
        p(f"**2. Flush** {n} queued 2 KB messages to smtp-sink on 127.0.0.1, "
          f"median of {trials} trials (time = start of the flush command to the last message at the sink)")
        p("")
        p("| | msgs/s | time | SMTP sessions | × smtp-source | peak RSS |")
        p("|---|---:|---:|---:|---:|---:|")
        src = num(kv, "fl.source.rate")
        rows = [("source", "smtp-source, one reused connection (loopback limit)"),
                ("relay", "relay `--flush`: pickup from maildrop + send"),
                ("relaysend", "relay `--flush --now`: send only (already in queue/)"),
                ("relay_nf", "  diagnosis: relay `--flush`, fsync() elided (not durable)"),
                ("relaysend_nf", "  diagnosis: relay `--flush --now`, fsync() elided (not durable)"),
                ("nullmailer", "nullmailer-send"), ("dma", "dma `-q`"),
                ("postfix", "Postfix `postsuper -H ALL; postqueue -f`")]
        for key, label in rows:
            rate = num(kv, f"fl.{key}.rate")
            if rate is None:
                if key in ("nullmailer", "dma", "postfix"):
                    p(f"| {label} | not installed | | | | |")
                continue
            rss = num(kv, f"fl.{key}.rss_kb")
            p(f"| {label} | {rate:,.0f} | {ms(num(kv, f'fl.{key}.ms'))} | "
              f"{kv.get(f'fl.{key}.sess', '?')} | {ratio(rate, src)} | {mib(rss)} |")
        peers = [num(kv, f"fl.{k}.rate") for k in ("nullmailer", "dma", "postfix")]
        peers = [x for x in peers if x is not None]
        for key, label in (("relay", "from maildrop"), ("relaysend", "send only")):
            rate = num(kv, f"fl.{key}.rate")
            if rate is None or src is None:
                continue
            p("")
            p(f"Targets ({label}): ≥ 0.8× smtp-source: {verdict(rate >= 0.8 * src)} ({ratio(rate, src)}); "
              f"≥ 2× the fastest peer: "
              + (f"{verdict(rate >= 2 * max(peers))} ({ratio(rate, max(peers))})" if peers else "no peer installed")
              + ".")
        p("")

    sizes = kv.get("scale_sizes", "").split()
    if sizes:
        p("**3. Scaling** with N messages already queued (N in queue/ and N in maildrop/ "
          "while enqueueing; N in queue/ for the flush, `relay --flush --now`)")
        p("")
        p("| N queued | enqueue median | floor median | × floor | flush: time per message | msgs/s | "
          "sessions | flush peak RSS |")
        p("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            e = num(kv, f"sc.{n}.relay.med_ms")
            f = num(kv, f"sc.{n}.floor.med_ms")
            per = num(kv, f"sc.{n}.flush_per_msg_ms")
            rate = 1000 / per if per else None
            p(f"| {int(n):,} | {ms(e)} | {ms(f)} | {ratio(e, f)} | {ms(per)} | "
              f"{'–' if rate is None else f'{rate:,.0f}'} | {kv.get(f'sc.{n}.sess', '?')} | "
              f"{mib(num(kv, f'sc.{n}.rss_kb'))} |")
        p("")

    if num(kv, "tb.relay_re.med_ms") is not None or num(kv, "rw_load_regexp_ms") is not None:
        p("**4. Lookup tables** (the tables of `rewrite_bench`: 10,000 regexp rules, "
          "100,000 texthash keys; one query of the last rule/key; medians)")
        p("")
        p("| | relay | Postfix 3.7 | relay / Postfix |")
        p("|---|---:|---:|---:|")
        for key, label in (("re", "`postmap -q` regexp (process: load + 1 query)"),
                           ("th", "`postmap -q` texthash (process: load + 1 query)")):
            a, b = num(kv, f"tb.relay_{key}.med_ms"), num(kv, f"tb.postfix_{key}.med_ms")
            p(f"| {label} | {ms(a)} | {ms(b)} | {ratio(a, b)} |")
        for key, label in (("re", "peak RSS, regexp"), ("th", "peak RSS, texthash")):
            a, b = num(kv, f"tb.relay_{key}.rss_kb"), num(kv, f"tb.postfix_{key}.rss_kb")
            p(f"| {label} | {mib(a)} | {mib(b)} | {ratio(a, b)} |")
        for key, label in (("rw_load_regexp_ms", "rewrite_bench: load regexp"),
                           ("rw_load_texthash_ms", "rewrite_bench: load texthash"),
                           ("rw_lookup_regexp_ms", "rewrite_bench: 1 lookup, last regexp rule"),
                           ("rw_lookup_texthash_ms", "rewrite_bench: 1 lookup, texthash"),
                           ("rw_pipeline_ms", "rewrite_bench: pipeline with both tables"),
                           ("rw_rewrite_ms", "rewrite_bench: rewrite one message (1 sender + 3 rcpts)")):
            p(f"| {label} | {ms(num(kv, key))} | | |")
        p("")
    if num(kv, "sv.relay.rate") is not None or num(kv, "sv.idle.relay.held") is not None:
        out.extend(server_table(kv))
    print("\n".join(out))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "stats":
        cmd_stats(argv[2], argv[3:])
    elif cmd == "flushstats":
        cmd_flushstats(argv[2], int(argv[3]), argv[4])
    elif cmd == "kv":
        print(load(argv[2]).get(argv[3], ""))
    elif cmd == "prefill-queue":
        cmd_prefill_queue(argv[2], argv[3], int(argv[4]))
    elif cmd == "prefill-files":
        cmd_prefill_files(argv[2], argv[3], int(argv[4]))
    elif cmd == "freeport":
        return cmd_freeport()
    elif cmd == "mem":
        cmd_mem(argv[2:])
    elif cmd == "netstat":
        cmd_netstat(argv[2])
    elif cmd == "children":
        cmd_children(argv[2], argv[3])
    elif cmd == "serverstats":
        cmd_serverstats(argv[2], int(argv[3]), argv[4])
    elif cmd == "portfree":
        return cmd_portfree(int(argv[2]))
    elif cmd == "table":
        cmd_table(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
