"""relaytest - run the real relay binary against a private spool.

Every integration test starts from a Spool: a temporary directory holding a
relay.toml and a spool initialised with `relay --init-spool`. Spool.run()
executes the binary under any argv[0] (through a symlink of that name, so
the personality dispatch sees what a caller would give it) with chosen
arguments, stdin (bytes through a pipe, a regular file, /dev/null, or a
closed fd), environment, cwd (also one deleted before the exec), umask and
closed fds 0-2. Spool.entries() parses what pickup committed: the envelope
(queue/<id>/envelope) and the message (headers and body).

    with relaytest.Spool() as sp:
        r = sp.sendmail(["-i", "root"], b"Subject: x\n\nhello\n")
        r.check()                     # exit 0, or fail with its stderr
        sp.flush()                    # pickup (no relayhost: mail stays)
        [e] = sp.entries()
        e.envelope.recipients()       # ['root@example.net']
        e.header("Subject")           # 'x'

The binary is $RELAY_BIN (ctest sets it); for manual runs the harness falls
back to build/relay at the top of the source tree.

Only the standard library is used. Nothing here talks to the network.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))

# sysexits(3)
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_SOFTWARE = 70
EX_IOERR = 74
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78

MYHOSTNAME = "relay-test.example.net"
MYORIGIN = "example.net"

# A queue id: 16 characters of Crockford base32 (src/queue/id.cpp).
ID_ALPHABET = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
ID_LENGTH = 16

AREAS = ("maildrop", "incoming", "queue", "hold", "corrupt", "purge")


def relay_bin():
    """Absolute path of the binary under test."""
    path = os.environ.get("RELAY_BIN") or os.path.join(SOURCE_ROOT, "build", "relay")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError("relay binary %s not found or not executable: set RELAY_BIN" % path)
    return path


def is_queue_id(name):
    return len(name) == ID_LENGTH and all(c in ID_ALPHABET for c in name)


def xtext_decode(s):
    """RFC 3461 xtext as src/util/strings.cpp writes it ("+2B" = '+')."""
    out = bytearray()
    b = s.encode("latin-1") if isinstance(s, str) else s
    i = 0
    while i < len(b):
        if b[i:i + 1] == b"+" and i + 2 < len(b):
            try:
                out.append(int(b[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(b[i])
        i += 1
    return out.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- results

class Run:
    """The outcome of one execution of the binary."""

    def __init__(self, argv, returncode, stdout, stderr, stdin_error=None, elapsed=0.0):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout          # bytes
        self.stderr = stderr          # bytes
        self.stdin_error = stdin_error  # exception the stdin writer got, if any
        self.elapsed = elapsed

    @property
    def rc(self):
        return self.returncode

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    def describe(self):
        return "argv=%r exit=%s\n--- stdout ---\n%s--- stderr ---\n%s" % (
            self.argv, self.returncode, self.out, self.err)

    def check(self, expected=0):
        """Raises AssertionError unless the exit status is EXPECTED."""
        if self.returncode != expected:
            raise AssertionError("expected exit %d\n%s" % (expected, self.describe()))
        return self

    def __repr__(self):
        return "<Run %r rc=%s>" % (self.argv, self.returncode)


# ---------------------------------------------------------------- queue files

class Envelope:
    """queue/<id>/envelope (src/queue/envelope.hpp): key: value lines; the
    rcpt.* keys belong to the rcpt line above them."""

    def __init__(self, text):
        self.text = text
        self.fields = {}
        self.rcpts = []
        for n, line in enumerate(text.split("\n")[:-1], 1):
            if ": " in line:
                key, val = line.split(": ", 1)
            elif line.endswith(":"):
                key, val = line[:-1], ""
            else:
                raise ValueError("envelope line %d: not key: value: %r" % (n, line))
            if key == "rcpt":
                self.rcpts.append({"address": val, "orig": val, "status": None})
            elif key.startswith("rcpt."):
                if not self.rcpts:
                    raise ValueError("envelope line %d: %s before any rcpt" % (n, key))
                sub = key[5:]
                self.rcpts[-1][sub] = xtext_decode(val) if sub == "reason" else val
            else:
                if key in self.fields:
                    raise ValueError("envelope line %d: %s twice" % (n, key))
                self.fields[key] = val
        if not text.endswith("\n"):
            raise ValueError("envelope has no final newline (truncated)")

    def __getitem__(self, key):
        return self.fields[key]

    def get(self, key, default=None):
        return self.fields.get(key, default)

    @property
    def sender(self):
        return self.fields["sender"]

    @property
    def user(self):
        return xtext_decode(self.fields.get("user", ""))

    @property
    def uid(self):
        return int(self.fields["uid"])

    def recipients(self, status=None):
        """Envelope recipient addresses in order (optionally by status)."""
        return [r["address"] for r in self.rcpts if status is None or r.get("status") == status]


def split_message(data):
    """(header lines as [(name, raw_bytes)], body bytes) of a stored
    message (LF line ends). The header section ends at the first empty line."""
    sep = data.find(b"\n\n")
    if data.startswith(b"\n"):
        head, body = b"", data[1:]
    elif sep < 0:
        head, body = data, b""
    else:
        head, body = data[:sep + 1], data[sep + 2:]
    fields = []
    for line in head.split(b"\n"):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + b"\n" + line)
        else:
            name = line.split(b":", 1)[0].strip()
            fields.append((name.decode("latin-1"), line))
    return fields, body


class Entry:
    """One committed queue entry: SPOOL/<area>/<id>/{envelope,message}."""

    def __init__(self, path, area="queue"):
        self.path = path
        self.area = area
        self.id = os.path.basename(path)
        with open(os.path.join(path, "envelope"), "rb") as f:
            self.envelope_text = f.read().decode("utf-8", "surrogateescape")
        self.envelope = Envelope(self.envelope_text)
        with open(os.path.join(path, "message"), "rb") as f:
            self.message = f.read()
        self.fields, self.body = split_message(self.message)

    def headers(self, name):
        """Unfolded values (str, surrogate-escaped) of every field NAME."""
        out = []
        for n, raw in self.fields:
            if n.lower() == name.lower():
                val = raw.split(b":", 1)[1].replace(b"\n", b"").lstrip(b" \t")
                out.append(val.decode("utf-8", "surrogateescape"))
        return out

    def header(self, name):
        vals = self.headers(name)
        return vals[0] if vals else None

    def header_names(self):
        return [n for n, _ in self.fields]

    def __repr__(self):
        return "<Entry %s/%s>" % (self.area, self.id)


# ---------------------------------------------------------------- the spool

def default_env():
    """A small, predictable environment (PATH without /usr/sbin, UTC)."""
    return {"PATH": "/usr/bin:/bin", "TZ": "UTC", "LANG": "C.UTF-8"}


class Spool:
    """A temporary relay installation: config, spool and argv[0] symlinks.

    ROOT/relay.toml, ROOT/spool/ (initialised unless init=False) and
    ROOT/bin/<name> -> $RELAY_BIN for each personality run() is asked for.
    EXTRA_CONFIG is appended to relay.toml; QUEUE_CONFIG goes into [queue]."""

    def __init__(self, *, init=True, queue_config="", extra_config="", binary=None,
                 root=None, prefix="relaytest-"):
        self.binary = binary or relay_bin()
        self.root = root or tempfile.mkdtemp(prefix=prefix)
        self.spool = os.path.join(self.root, "spool")
        self.config = os.path.join(self.root, "relay.toml")
        self.bin_dir = os.path.join(self.root, "bin")
        os.makedirs(self.bin_dir, exist_ok=True)
        self.write_config(queue_config=queue_config, extra_config=extra_config)
        if init:
            self.init()

    # -- lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def config_text(self, queue_config="", extra_config="", spool=None):
        return ('myhostname = "%s"\nmyorigin = "%s"\n\n'
                '[queue]\ndirectory = "%s"\nflush_after_submit = false\n'
                'min_free_bytes = "1M"\n%s\n'
                '[rewrite]\nalias_maps = []\n%s\n') % (
                    MYHOSTNAME, MYORIGIN, spool or self.spool, queue_config, extra_config)

    def write_config(self, text=None, *, queue_config="", extra_config="", path=None):
        """Writes relay.toml (or PATH): TEXT as given, or the standard one."""
        if text is None:
            text = self.config_text(queue_config, extra_config)
        with open(path or self.config, "w") as f:
            f.write(text)
        return path or self.config

    def init(self):
        self.run(["--init-spool"]).check()

    # -- running the binary
    def link(self, name):
        """ROOT/bin/NAME -> the binary (argv[0] dispatch)."""
        path = os.path.join(self.bin_dir, name)
        if not os.path.lexists(path):
            os.symlink(self.binary, path)
        return path

    def run(self, args, stdin=b"", *, name="relay", argv0=None, config="arg",
            stdin_mode="pipe", stdout="pipe", stderr="pipe", env=None, extra_env=None,
            cwd=None, cwd_deleted=False, umask=None, close_fds=(), timeout=60,
            executable=None, preexec=None):
        """Runs the binary as NAME (a symlink so named) and waits.

        ARGS follow argv[0]; with config="arg" they are preceded by
        "-C ROOT/relay.toml", with config="env" RELAY_CONFIG names it, with
        config=None nothing points at it. ARGV0 overrides argv[0] itself
        (default: NAME), e.g. "/usr/sbin/sendmail" as cron passes it.
        STDIN is bytes; STDIN_MODE is "pipe" (written by a thread; a write
        error is kept in Run.stdin_error), "file" (a regular file),
        "devnull", or "closed"; STDOUT and STDERR are "pipe", "file",
        "devnull" or "closed" (see execute()). CLOSE_FDS lists more fds to
        close in the child. CWD_DELETED runs in a directory removed before
        exec. UMASK is the child's umask. PREEXEC runs in the child."""
        exe = executable or self.link(name)
        argv = [argv0 if argv0 is not None else name]
        run_env = default_env() if env is None else dict(env)
        if config == "arg":
            argv += ["-C", self.config]
        elif config == "env":
            run_env["RELAY_CONFIG"] = self.config
        argv += list(args)
        if extra_env:
            run_env.update(extra_env)
        return execute(argv, exe, stdin=stdin, stdin_mode=stdin_mode, stdout=stdout,
                       stderr=stderr, env=run_env, cwd=cwd, cwd_deleted=cwd_deleted,
                       umask=umask, close_fds=close_fds, timeout=timeout, scratch=self.root,
                       preexec=preexec)

    def sendmail(self, args, stdin=b"", **kw):
        """`sendmail -C cfg ARGS` with STDIN."""
        kw.setdefault("name", "sendmail")
        return self.run(args, stdin, **kw)

    def flush(self, check=True, **kw):
        """`relay --flush`: recovery and pickup (and delivery when a
        relayhost is configured)."""
        r = self.run(["--flush"], **kw)
        if check:
            r.check()
        return r

    def mailq(self, json_output=False, check=True, **kw):
        r = self.run(["mailq", "--json"] if json_output else ["mailq"], **kw)
        if check:
            r.check()
        return r

    def mailq_json(self):
        """The queue as postqueue -j lists it: one dict per message."""
        r = self.mailq(json_output=True)
        return [json.loads(line) for line in r.out.splitlines() if line.strip()]

    def queue(self, action, *ids, check=True, **kw):
        r = self.run(["queue", action] + list(ids), **kw)
        if check:
            r.check()
        return r

    # -- the spool on disk
    def area(self, name):
        return os.path.join(self.spool, name)

    def names(self, area):
        """Directory entries of SPOOL/AREA, sorted ([] if it is missing)."""
        try:
            return sorted(os.listdir(self.area(area)))
        except FileNotFoundError:
            return []

    def entries(self, area="queue"):
        """Parsed entries of queue/ (or hold/, corrupt/), sorted by id."""
        return [Entry(os.path.join(self.area(area), n), area)
                for n in self.names(area) if is_queue_id(n)]

    def only_entry(self):
        """The single entry in queue/; fails unless there is exactly one."""
        entries = self.entries()
        if len(entries) != 1:
            msg = "expected exactly one queue entry, found %d: %r (maildrop: %r, corrupt: %r)" % (
                len(entries), entries, self.names("maildrop"), self.names("corrupt"))
            raise AssertionError(msg)
        return entries[0]

    def counts(self):
        return {a: len(self.names(a)) for a in AREAS}


# ---------------------------------------------------------------- execution

def execute(argv, executable, *, stdin=b"", stdin_mode="pipe", stdout="pipe", stderr="pipe",
            env=None, cwd=None, cwd_deleted=False, umask=None, close_fds=(), timeout=60,
            scratch=None, preexec=None):
    """Runs EXECUTABLE with ARGV (argv[0] included) and returns a Run.

    STDIN_MODE is "pipe", "file", "devnull" or "closed" (see Spool.run()).
    STDOUT and STDERR are "pipe" (captured), "file" (a regular file, read
    back into the Run afterwards), "devnull" (a character device, as atd
    gives) or "closed". CLOSE_FDS closes more fds in the child. SCRATCH is
    a directory for the stdin/output files and the deleted cwd (default:
    the system temp dir). PREEXEC runs in the child just before exec."""
    scratch = scratch or tempfile.gettempdir()
    opened = []   # our copies of the child's stdio files, closed after the spawn
    outfiles = {}

    def regular_file(data=b""):
        fd, path = tempfile.mkstemp(dir=scratch, prefix="stdio-")
        os.unlink(path)  # like atd's job output: an unlinked regular file
        if data:
            os.write(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
        return fd

    if stdin_mode == "pipe":
        stdin_arg = subprocess.PIPE
    elif stdin_mode == "file":
        stdin_arg = regular_file(stdin)
        opened.append(stdin_arg)
    elif stdin_mode in ("devnull", "closed"):
        stdin_arg = subprocess.DEVNULL
    else:
        raise ValueError("stdin_mode: %r" % stdin_mode)

    to_close = list(close_fds)
    if stdin_mode == "closed":
        to_close.append(0)
    out_args = []
    for fd, mode in ((1, stdout), (2, stderr)):
        if mode == "pipe":
            out_args.append(subprocess.PIPE)
        elif mode == "file":
            f = regular_file()
            outfiles[fd] = os.dup(f)
            opened.append(f)
            out_args.append(f)
        elif mode in ("devnull", "chardev"):
            out_args.append(subprocess.DEVNULL)
        elif mode == "closed":
            out_args.append(subprocess.DEVNULL)
            to_close.append(fd)
        else:
            raise ValueError("stdout/stderr mode: %r" % mode)

    run_dir = cwd
    if cwd_deleted:
        run_dir = tempfile.mkdtemp(dir=scratch, prefix="gone-")

    def child_setup():
        if cwd_deleted:
            os.rmdir(run_dir)
        for fd in to_close:
            os.close(fd)
        if preexec:
            preexec()

    needs_setup = bool(to_close or cwd_deleted or preexec)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, executable=executable, stdin=stdin_arg,
                                stdout=out_args[0], stderr=out_args[1], env=env,
                                cwd=run_dir, umask=-1 if umask is None else umask,
                                preexec_fn=child_setup if needs_setup else None)
    finally:
        for fd in opened:
            os.close(fd)
    writer_error = []
    writer = None
    if stdin_mode == "pipe":
        def feed():
            try:
                view = memoryview(stdin)
                while view:
                    n = os.write(proc.stdin.fileno(), view[:65536])
                    view = view[n:]
            except OSError as e:  # BrokenPipeError: the reader did not drain
                writer_error.append(e)
            finally:
                try:
                    proc.stdin.close()
                except OSError as e:
                    writer_error.append(e)
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
    try:
        out, err = communicate_out(proc, timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("timeout after %ss: %r" % (timeout, argv))
    finally:
        if writer:
            writer.join(timeout)
        if cwd_deleted and os.path.isdir(run_dir):
            os.rmdir(run_dir)
    for fd, dupfd in outfiles.items():
        os.lseek(dupfd, 0, os.SEEK_SET)
        data = b""
        while True:
            block = os.read(dupfd, 65536)
            if not block:
                break
            data += block
        os.close(dupfd)
        if fd == 1:
            out = data
        else:
            err = data
    return Run(argv, proc.returncode, out, err, writer_error[0] if writer_error else None,
               time.monotonic() - start)


def communicate_out(proc, timeout):
    """Reads stdout and stderr to EOF (stdin is fed separately) and waits."""
    chunks = {"out": [], "err": []}

    def drain(stream, key):
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    threads = []
    for stream, key in ((proc.stdout, "out"), (proc.stderr, "err")):
        if stream is not None:
            threads.append(threading.Thread(target=drain, args=(stream, key), daemon=True))
    for t in threads:
        t.start()
    proc.wait(timeout)
    for t in threads:
        t.join(timeout)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return b"".join(chunks["out"]), b"".join(chunks["err"])


def signal_name(returncode):
    if returncode is not None and returncode < 0:
        return signal.Signals(-returncode).name
    return None


# ---------------------------------------------------------------- caller samples

CALLERS_DIR = os.path.join(SOURCE_ROOT, "tests", "data", "callers")


class CallerRecord:
    """One recorded sendmail invocation (tests/data/callers/<caller>.txt):
    how a real program ran /usr/sbin/sendmail, and its stdin byte for byte."""

    def __init__(self, caller, index, fields, stdin):
        self.caller = caller          # "debian-cron"
        self.index = index            # record number in its file, from 0
        self.fields = fields          # raw "key : value" lines
        self.stdin = stdin            # bytes, exact
        self.exec_path = fields.get("exec path", "/usr/sbin/sendmail")
        self.argv = json.loads(fields["argv"])
        self.cwd = fields.get("cwd", "/")
        self.umask = int(fields.get("umask", "0o22"), 8)
        self.env = json.loads(fields["env"]) if "env" in fields else {}
        ids = fields.get("uid/gid", "0/0").split()[0]
        self.uid, self.gid = (int(x) for x in ids.split("/"))
        # "0=pipe 1=file 2=closed": pipe, file, chardev or closed per fd.
        self.stdio = {0: "pipe", 1: "pipe", 2: "pipe"}
        for part in fields.get("stdio", "").split():
            fd, kind = part.split("=", 1)
            self.stdio[int(fd)] = kind

    @property
    def name(self):
        return "%s#%d" % (self.caller, self.index)

    @property
    def personality(self):
        """The basename of argv[0]: what relay dispatches on."""
        return os.path.basename(self.argv[0])

    def __repr__(self):
        return "<CallerRecord %s %r>" % (self.name, self.argv)


def load_caller_records(directory=CALLERS_DIR):
    """Every record of every sample file, in file order."""
    records = []
    for fname in sorted(os.listdir(directory)):
        if not fname.endswith(".txt"):
            continue
        with open(os.path.join(directory, fname), "rb") as f:
            data = f.read()
        caller = fname[:-4]
        marker = b"----- BEGIN STDIN ("
        pos, index = 0, 0
        sep = b"=" * 72 + b"\n"
        while True:
            start = data.find(sep, pos)
            if start < 0:
                break
            begin = data.find(marker, start)
            if begin < 0:
                break
            fields = {}
            for line in data[start + len(sep):begin].decode("utf-8").splitlines():
                if " : " in line:
                    key, val = line.split(" : ", 1)
                    fields[key.strip()] = val.strip()
            num_end = data.index(b" bytes)", begin)
            n = int(data[begin + len(marker):num_end])
            body_start = data.index(b"-----\n", num_end) + 6
            stdin = data[body_start:body_start + n]
            records.append(CallerRecord(caller, index, fields, stdin))
            index += 1
            pos = body_start + n
        if index == 0:
            raise ValueError(fname + ": no records")
    return records
