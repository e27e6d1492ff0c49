"""Every example configuration in examples/ loads: `relay -C X check` exits 0.

The examples name their tables and credential files under /etc/relay/, as
they would be installed. Each test copies one example directory into a
temporary directory, points those paths at the copies (so the shipped
table files are the ones checked), gives the secret files mode 0600 as
the README tells the admin to, uses a private spool, and runs
`relay check`.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

RELAY_BIN = os.environ.get("RELAY_BIN", "")
SOURCE_DIR = Path(os.environ.get("RELAY_TEST_SOURCE_DIR", Path(__file__).resolve().parents[1])).resolve().parent
EXAMPLES = SOURCE_DIR / "examples"
SECRET_FILES = {"password", "relay_password"}


def example_dirs():
    return sorted(p.parent for p in EXAMPLES.glob("*/relay.toml"))


class ExamplesLoad(unittest.TestCase):
    def setUp(self):
        self.assertTrue(RELAY_BIN and os.access(RELAY_BIN, os.X_OK), "RELAY_BIN is not set to the built relay")

    def test_there_are_examples(self):
        names = {d.name for d in example_dirs()}
        for expected in ("null-client", "all-to-one", "sender-canonical", "generic",
                         "oauth2-gmail", "oauth2-office365", "isp-relay"):
            self.assertIn(expected, names)

    def test_readme_names_every_example(self):
        readme = (EXAMPLES / "README.md").read_text()
        for d in example_dirs():
            self.assertIn("`%s/`" % d.name, readme)

    def test_examples_reference_only_shipped_files(self):
        # Every /etc/relay/NAME a config mentions is shipped next to it
        # (except what the admin must write: none at present).
        for d in example_dirs():
            text = (d / "relay.toml").read_text()
            for word in text.replace('"', " ").split():
                if word.startswith("/etc/relay/") or ":/etc/relay/" in word:
                    name = word.rsplit("/", 1)[1]
                    with self.subTest(example=d.name, file=name):
                        self.assertTrue((d / name).is_file(), "%s names %s, not in %s" % (d.name, word, d))

    def test_each_example_checks(self):
        dirs = example_dirs()
        self.assertTrue(dirs)
        for d in dirs:
            with self.subTest(example=d.name):
                self.check_one(d)

    def check_one(self, d):
        with tempfile.TemporaryDirectory(prefix="relay-example-") as tmp:
            etc = Path(tmp) / "etc"
            shutil.copytree(d, etc)
            for f in etc.iterdir():
                if f.name in SECRET_FILES:
                    f.chmod(0o600)
            text = (etc / "relay.toml").read_text().replace("/etc/relay/", str(etc) + "/")
            # A private spool, whatever [queue] the example sets.
            spool = Path(tmp) / "spool"
            if "\n[queue]\n" in text:
                text = text.replace("\n[queue]\n", '\n[queue]\ndirectory = "%s"\n' % spool, 1)
            else:
                text += '\n[queue]\ndirectory = "%s"\n' % spool
            cfg = etc / "relay.toml"
            cfg.write_text(text)
            env = {k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"}
            init = subprocess.run([RELAY_BIN, "-C", str(cfg), "--init-spool"], env=env,
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(init.returncode, 0, init.stderr)
            r = subprocess.run([RELAY_BIN, "-C", str(cfg), "check"], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, "relay check %s: %s%s" % (d.name, r.stdout, r.stderr))
            self.assertIn("configuration %s: ok" % cfg, r.stdout)
            self.assertNotIn("no relayhost", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
