"""The README's first quick-start command, `bash .ci/demo`, keeps working:
it exits 0 and shows the message arriving at the local STARTTLS+AUTH
smarthost, rewritten. RELAY_BIN makes it use the binary under test instead
of building one."""

import os
import subprocess
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Demo(unittest.TestCase):
    def test_demo_runs_end_to_end(self):
        env = dict(os.environ)
        env["RELAY_BIN"] = os.environ.get("RELAY_BIN", "relay")
        r = subprocess.run(["bash", os.path.join(TOP, ".ci", "demo")], cwd=TOP, env=env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        out = r.stdout
        self.assertIn("sendmail exit status: 0", out)
        self.assertRegex(out, r"to=<sysadmin@example\.org>, orig_to=<root>, .*status=sent \(250 ")
        self.assertIn("TLS: True  AUTH: torres@example.net", out)
        self.assertIn("RCPT TO:<sysadmin@example.org>", out)
        # mailq after the flush
        self.assertEqual(out.count("Mail queue is empty"), 1)
        self.assertNotIn("s3cret", out + r.stderr)  # the password never shows


if __name__ == "__main__":
    unittest.main()
