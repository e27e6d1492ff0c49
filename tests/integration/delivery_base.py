"""Shared set-up for the test_delivery_*.py tests: a spool, a configuration
written from dicts, aiosmtpd peers started and stopped by the test."""

import json
import os
import subprocess

from test_flush import FlushBase

RELAY = os.environ.get("RELAY_BIN", "relay")


def toml_section(name, values):
    if not values:
        return ""
    return "[%s]\n" % name + "".join("%s = %s\n" % (k, json.dumps(v)) for k, v in values.items())


class DeliveryBase(FlushBase):
    def configure(self, port, queue=None, smtp=None, rewrite=None, top=None):
        """PORT None: no relayhost at the top level."""
        q = {"directory": self.spool, "flush_after_submit": False}
        q.update(queue or {})
        s = {"ca_file": self.certs.ca, "username": "relay@example.org",
             "password_file": self.pwfile, "command_timeout": 5, "connect_timeout": 5}
        s.update(smtp or {})
        for k in [k for k, v in s.items() if v is None]:
            del s[k]
        text = 'myhostname = "client.example.org"\n'
        if port is not None:
            text += 'relayhost = "[127.0.0.1]:%d"\n' % port
        for k, v in (top or {}).items():
            text += "%s = %s\n" % (k, json.dumps(v))
        text += toml_section("queue", q) + toml_section("smtp", s)
        text += toml_section("rewrite", rewrite or {})
        self.cfg = os.path.join(self.dir, "relay.toml")
        with open(self.cfg, "w") as f:
            f.write(text)
        r = self.relay("--init-spool")
        self.assertEqual(r.returncode, 0, r.stderr)

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def send(self, sender, rcpts, headers, body="Hello.\n", args=()):
        msg = "".join("%s: %s\n" % h for h in headers) + "\n" + body
        r = self.relay(*args, "-f", sender, *rcpts, stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr)

    def message_file(self, qid):
        with open(os.path.join(self.spool, "queue", qid, "message")) as f:
            return f.read()

    def run_relay(self, *args, timeout=300):
        return subprocess.run([RELAY, "-C", self.cfg, *args], capture_output=True, text=True,
                              timeout=timeout)
