"""The Debian packages: build them, inspect them, install them.

setUpClass builds the two .debs once from a temporary copy of the tree
(dpkg-buildpackage -us -uc -b, DEB_BUILD_OPTIONS=nocheck): relay, the
null client, and relay-server, the same program with its SMTP server
mode. It unpacks both. The checks then need no root file system: fields,
contents and modes, maintainer scripts, lintian, systemd-analyze on the
units, the man pages, the shipped relay.toml against config.cpp,
relay-notify's message, the server binary answering SMTP. The last test
runs tests/package/check-package.sh, which installs the same .debs into
a debootstrap root (needs root and the Debian mirror; about 3-4 minutes).
"""

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

RELAY_BIN = os.environ.get("RELAY_BIN", "")
TOP = Path(os.environ.get("RELAY_TEST_SOURCE_DIR", Path(__file__).resolve().parents[1])).resolve().parent
MAN_DIR = TOP / "man"
UNITS = ["relay-flush.service", "relay-flush.timer", "relay-flush.path", "relay-notify@.service"]
SERVER_UNIT = "relay-serve.service"
# systemd-analyze security --offline for relay-serve.service: 2.4 "OK" when
# measured (the flush and notify units are at most 1.5).
SERVER_EXPOSURE = 2.4
# The capabilities relay-serve.service leaves to the root it starts as.
SERVER_CAPS = {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE"}


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def copy_tree(dst):
    """The tracked and new files of the source tree, without build output."""
    if (TOP / ".git").exists():
        files = run(["git", "ls-files", "-co", "--exclude-standard"], cwd=TOP, check=True).stdout.split("\n")
    else:
        files = [str(p.relative_to(TOP)) for p in TOP.rglob("*") if p.is_file() or p.is_symlink()]
    for f in files:
        if not f or f.startswith(("build", "obj-")) or "/__pycache__/" in f:
            continue
        src = TOP / f
        if not (src.is_file() or src.is_symlink()):
            continue
        out = dst / f
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), out)
        else:
            shutil.copy2(src, out)


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="relay-pkg-"))
        src = cls.tmp / "relay"
        copy_tree(src)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 1))
        start = time.monotonic()
        r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
        cls.build_seconds = time.monotonic() - start
        if r.returncode != 0:
            raise AssertionError("dpkg-buildpackage failed:\n" + (r.stdout + r.stderr)[-6000:])
        print("package built in %.0f s" % cls.build_seconds)
        debs = sorted(cls.tmp.glob("relay_*_*.deb"))
        assert debs, "no relay .deb built"
        cls.deb = debs[0]
        cls.changes = sorted(cls.tmp.glob("relay_*.changes"))[0]
        cls.root = cls.tmp / "root"
        run(["dpkg-deb", "-x", str(cls.deb), str(cls.root)], check=True)
        cls.ctl = cls.tmp / "control"
        run(["dpkg-deb", "-e", str(cls.deb), str(cls.ctl)], check=True)
        server_debs = sorted(cls.tmp.glob("relay-server_*_*.deb"))
        assert server_debs, "no relay-server .deb built"
        cls.server_deb = server_debs[0]
        cls.server_root = cls.tmp / "server-root"
        run(["dpkg-deb", "-x", str(cls.server_deb), str(cls.server_root)], check=True)
        cls.server_ctl = cls.tmp / "server-control"
        run(["dpkg-deb", "-e", str(cls.server_deb), str(cls.server_ctl)], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name, deb=None):
        return run(["dpkg-deb", "-f", str(deb or self.deb), name], check=True).stdout.strip()

    @staticmethod
    def relations(value):
        return [p.strip().split(" ")[0] for p in value.split(",") if p.strip()]

    # --- control fields ---------------------------------------------------
    def test_fields(self):
        self.assertEqual(self.field("Package"), "relay")
        self.assertEqual(self.field("Version"), "0.1.0")
        self.assertEqual(self.field("Section"), "mail")
        for f in ("Provides", "Conflicts", "Replaces"):
            with self.subTest(field=f):
                self.assertIn("mail-transport-agent", self.relations(self.field(f)))

    def test_depends(self):
        deps = self.relations(self.field("Depends"))
        # dlopen()ed at run time: dpkg-shlibdeps cannot see it.
        self.assertIn("libcurl4", deps)
        self.assertIn("adduser", deps)

    def test_server_fields(self):
        sf = lambda name: self.field(name, self.server_deb)
        self.assertEqual(sf("Package"), "relay-server")
        self.assertEqual(sf("Version"), "0.1.0")
        self.assertEqual(sf("Section"), "mail")
        self.assertEqual(sf("Architecture"), self.field("Architecture"))
        self.assertEqual(self.relations(sf("Provides")), ["mail-transport-agent", "relay"])
        for f in ("Conflicts", "Replaces"):
            with self.subTest(field=f):
                self.assertEqual(self.relations(sf(f)), ["mail-transport-agent", "relay"])
                # each conflicts with (and replaces) the other
                self.assertEqual(self.relations(self.field(f)), ["mail-transport-agent", "relay-server"])
        self.assertEqual(sf("Recommends"), self.field("Recommends"))
        self.assertTrue(sf("Description").startswith("sendmail-compatible mail relay with an SMTP server\n"))
        self.assertIn("relay serve", sf("Description"))

    def test_server_depends(self):
        deps = self.relations(self.field("Depends", self.server_deb))
        # Declared by hand: relay serve loads OpenSSL at run time, the
        # null client never uses it.
        self.assertIn("libssl3", deps)
        self.assertNotIn("libssl3", self.relations(self.field("Depends")))
        self.assertIn("libidn2-0", deps)
        self.assertIn("libidn2-0", self.relations(self.field("Depends")))
        for d in ("libcurl4", "adduser", "libc6", "libsodium23", "libpcre2-8-0"):
            with self.subTest(dep=d):
                self.assertIn(d, deps)
        needed = lambda root: re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                                         run(["readelf", "-d", str(root / "usr/sbin/relay")], check=True).stdout)
        # dlopen()ed where used, so that the set-gid sendmail maps neither.
        for root in (self.root, self.server_root):
            with self.subTest(root=str(root)):
                self.assertNotIn("libssl.so.3", needed(root))
                self.assertNotIn("libcurl.so.4", needed(root))

    # --- contents and modes -------------------------------------------------
    def contents(self, deb=None):
        out = run(["dpkg-deb", "-c", str(deb or self.deb)], check=True).stdout
        entries = {}
        for line in out.splitlines():
            parts = line.split(None, 5)
            mode, owner, name = parts[0], parts[1], parts[5]
            target = None
            if " -> " in name:
                name, target = name.split(" -> ", 1)
            entries[name.lstrip(".")] = (mode, owner, target)
        return entries

    def test_binary_and_links(self):
        c = self.contents()
        self.assertEqual(c["/usr/sbin/relay"][:2], ("-rwxr-xr-x", "root/root"))
        # The set-gid bit comes from dpkg-statoverride in the postinst.
        self.assertEqual(c["/usr/sbin/sendmail"][2], "relay")
        self.assertEqual(c["/usr/lib/sendmail"][2], "../sbin/relay")
        self.assertEqual(c["/usr/bin/mailq"][2], "../sbin/relay")
        self.assertEqual(c["/usr/bin/newaliases"][2], "../sbin/relay")
        for name in ("/usr/sbin/relay", "/usr/sbin/sendmail", "/usr/lib/sendmail"):
            self.assertTrue(name in c)
        # Every file is root's: no file is owned by a user the package creates.
        self.assertEqual({o for _, o, _ in c.values()}, {"root/root"})

    def test_files(self):
        c = self.contents()
        expect = {
            "/etc/relay/relay.toml": "-rw-r--r--",
            "/etc/relay/notify.conf": "-rw-r--r--",
            "/usr/lib/relay/relay-notify": "-rwxr-xr-x",
            "/usr/lib/sysusers.d/relay.conf": "-rw-r--r--",
            "/usr/share/man/man8/relay.8.gz": "-rw-r--r--",
            "/usr/share/man/man5/relay.toml.5.gz": "-rw-r--r--",
            "/usr/share/man/man8/relay-notify.8.gz": "-rw-r--r--",
            "/usr/share/doc/relay/examples/README.md": "-rw-r--r--",
            "/usr/share/doc/relay/examples/null-client/relay.toml": "-rw-r--r--",
            "/usr/share/doc/relay/copyright": "-rw-r--r--",
        }
        for u in UNITS:
            expect["/lib/systemd/system/" + u] = "-rw-r--r--"
        for name, mode in expect.items():
            with self.subTest(file=name):
                self.assertIn(name, c)
                self.assertEqual(c[name][0], mode)
        for link in ("/usr/share/man/man8/sendmail.8.gz", "/usr/share/man/man1/mailq.1.gz",
                     "/usr/share/man/man8/newaliases.8.gz"):
            with self.subTest(link=link):
                self.assertTrue(c[link][0].startswith("l"))
                target = (self.root / link.lstrip("/")).resolve()
                self.assertEqual(target.name, "relay.8.gz")
                self.assertTrue(target.is_file())
        # No setuid/setgid bits anywhere in the archive.
        self.assertFalse([n for n, (m, _, _) in c.items() if "s" in m or "S" in m])

    def test_server_same_files(self):
        """relay-server installs relay's paths with the same modes, plus the server's unit and page."""
        def normal(c, doc):
            return {n.replace("/usr/share/doc/%s/" % doc, "/usr/share/doc/PKG/").rstrip("/")
                    .replace("/usr/share/doc/" + doc, "/usr/share/doc/PKG"): (m, o, tgt)
                    for n, (m, o, tgt) in c.items()}
        plain = normal(self.contents(), "relay")
        server = normal(self.contents(self.server_deb), "relay-server")
        only_server = {"/lib/systemd/system/" + SERVER_UNIT, "/usr/share/man/man8/relay-serve.8.gz"}
        self.assertEqual(set(server) - set(plain), only_server)
        # README.Debian: relay-server's own says more (the server section).
        self.assertEqual(set(plain) - set(server), set())
        for name in sorted(set(plain) & set(server)):
            with self.subTest(path=name):
                self.assertEqual(plain[name][:2], server[name][:2])
                self.assertEqual(plain[name][2], server[name][2])
        sc = self.contents(self.server_deb)
        self.assertEqual(sc["/usr/sbin/relay"][:2], ("-rwxr-xr-x", "root/root"))
        self.assertEqual({o for _, o, _ in sc.values()}, {"root/root"})
        self.assertFalse([n for n, (m, _, _) in sc.items() if "s" in m or "S" in m])
        self.assertEqual((self.ctl / "conffiles").read_text(), (self.server_ctl / "conffiles").read_text())
        for f in ("etc/relay/relay.toml", "etc/relay/notify.conf", "usr/lib/sysusers.d/relay.conf",
                  "usr/lib/relay/relay-notify"):
            with self.subTest(file=f):
                self.assertEqual((self.root / f).read_bytes(), (self.server_root / f).read_bytes())
        readme = (self.server_root / "usr/share/doc/relay-server/README.Debian").read_text()
        self.assertIn("relay-serve.service", readme)

    def test_conffiles(self):
        conffiles = (self.ctl / "conffiles").read_text().split()
        self.assertEqual(sorted(conffiles), ["/etc/relay/notify.conf", "/etc/relay/relay.toml"])

    def test_sysusers(self):
        text = (self.root / "usr/lib/sysusers.d/relay.conf").read_text()
        self.assertRegex(text, r"(?m)^g relaydrop -")
        self.assertRegex(text, r"(?m)^u relay - \".*\" /var/spool/relay /usr/sbin/nologin$")

    # --- maintainer scripts -----------------------------------------------
    def test_postinst(self):
        text = (self.ctl / "postinst").read_text()
        self.assertIn("dpkg-statoverride --update --add root relaydrop 2755 \"$BIN\"", text)
        self.assertIn("BIN=/usr/sbin/relay", text)
        self.assertIn("adduser --system", text)
        self.assertIn("addgroup --system --quiet relaydrop", text)
        self.assertIn("--home /var/spool/relay", text)
        self.assertIn("--shell /usr/sbin/nologin", text)
        self.assertIn("--init-spool", text)
        self.assertIn("systemd-sysusers relay.conf", text)
        for unit in ("relay-flush.timer", "relay-flush.path"):
            self.assertIn("deb-systemd-helper enable '%s'" % unit, text)
        self.assertNotIn("relay-notify@", text)  # a template: never enabled
        # the statoverride before the spool, users before both
        self.assertLess(text.index("create_users\n    #"), text.index("dpkg-statoverride --update"))
        self.assertLess(text.index("dpkg-statoverride --update"), text.index("--init-spool;"))

    def test_postrm(self):
        text = (self.ctl / "postrm").read_text()
        purge = text[text.index("purge)"):text.index(";;", text.index("purge)"))]
        for needed in ("dpkg-statoverride --remove /usr/sbin/relay", "rm -rf /var/spool/relay",
                       "rm -rf /etc/relay", "deluser --system --quiet relay",
                       "delgroup --system --quiet relaydrop"):
            self.assertIn(needed, purge)
        # remove and upgrade keep the queue
        self.assertRegex(text, r"remove \| upgrade \| failed-upgrade \| abort-install \| abort-upgrade \| disappear\) ;;")

    def test_maintainer_scripts_parse(self):
        for ctl in (self.ctl, self.server_ctl):
            for s in ("postinst", "postrm", "prerm", "preinst"):
                p = ctl / s
                if p.exists():
                    with self.subTest(package=ctl.name, script=s):
                        r = run(["sh", "-n", str(p)])
                        self.assertEqual(r.returncode, 0, r.stderr)

    @staticmethod
    def own_part(script):
        """A maintainer script without what debhelper added."""
        return re.sub(r"(?ms)^# Automatically added by dh_\S+.*?^# End automatically added section\n", "",
                      script.read_text())

    def test_server_maintainer_scripts(self):
        # The same users, statoverride, spool and purge as relay.
        for s in ("postinst", "postrm"):
            with self.subTest(script=s):
                self.assertEqual(self.own_part(self.server_ctl / s), self.own_part(self.ctl / s))
        post = (self.server_ctl / "postinst").read_text()
        self.assertIn("deb-systemd-helper enable '%s'" % SERVER_UNIT, post)
        self.assertRegex(post, r"deb-systemd-invoke \$_dh_action '?%s" % re.escape(SERVER_UNIT))
        for unit in ("relay-flush.timer", "relay-flush.path"):
            self.assertIn("deb-systemd-helper enable '%s'" % unit, post)
        self.assertIn(SERVER_UNIT, (self.server_ctl / "postrm").read_text())
        self.assertIn(SERVER_UNIT, (self.server_ctl / "prerm").read_text())
        for s in ("postinst", "postrm", "prerm"):
            p = self.ctl / s
            if p.exists():
                self.assertNotIn("relay-serve", p.read_text())

    # --- lintian ------------------------------------------------------------
    def test_lintian(self):
        r = run(["lintian", "--allow-root", "--display-info", "--pedantic", str(self.changes)])
        tags = [l for l in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", l)]
        errors = [t for t in tags if t.startswith("E: ")]
        self.assertEqual(errors, [], "\n".join(tags))
        # Every remaining tag is explained in debian/README.lintian.
        explained = (TOP / "debian" / "README.lintian").read_text()
        for t in tags:
            name = t.split()[2]
            with self.subTest(tag=name):
                self.assertIn(name, explained, t)

    # --- systemd units ----------------------------------------------------
    def unit_root(self, server=False):
        """The unpacked package plus the host's own units (for sysinit.target etc.)."""
        root = self.tmp / ("server-unit-root" if server else "unit-root")
        if not root.exists():
            shutil.copytree(self.server_root if server else self.root, root, symlinks=True)
            dst = root / "lib/systemd/system"
            for src_dir in (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system")):
                if src_dir.is_dir():
                    for u in src_dir.iterdir():
                        if not (dst / u.name).exists() and not u.name.startswith("relay"):
                            if u.is_dir() and not u.is_symlink():
                                shutil.copytree(u, dst / u.name, symlinks=True)
                            elif u.is_symlink():
                                os.symlink(os.readlink(u), dst / u.name)
                            else:
                                shutil.copy2(u, dst / u.name)
            # The shell of ExecReload= (essential: in no relay package).
            (root / "bin").mkdir(exist_ok=True)
            if not (root / "bin/sh").exists():
                shutil.copy2(Path("/bin/sh").resolve(), root / "bin/sh")
        return root

    def test_systemd_analyze_verify(self):
        root = self.unit_root()
        names = [u.replace("@.", "@test.") for u in UNITS]
        r = run(["systemd-analyze", "verify", "--man=no", "--root=%s" % root] + names)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")

    def test_server_systemd_analyze_verify(self):
        root = self.unit_root(server=True)
        names = [u.replace("@.", "@test.") for u in UNITS] + [SERVER_UNIT]
        r = run(["systemd-analyze", "verify", "--man=no", "--root=%s" % root] + names)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")
        self.assertFalse((self.root / "lib/systemd/system" / SERVER_UNIT).exists())

    def exposure(self, unit, server=False):
        r = run(["systemd-analyze", "security", "--offline=yes", "--root=%s" % self.unit_root(server), unit])
        m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(unit), r.stdout + r.stderr)
        self.assertTrue(m, r.stdout + r.stderr)
        return float(m.group(1))

    def test_systemd_security(self):
        flush = self.exposure("relay-flush.service")
        notify = self.exposure("relay-notify@test.service")
        print("systemd-analyze security: relay-flush.service %.1f, relay-notify@.service %.1f" % (flush, notify))
        self.assertLessEqual(flush, 1.5)
        self.assertLessEqual(notify, 1.5)

    def test_server_systemd_security(self):
        serve = self.exposure(SERVER_UNIT, server=True)
        print("systemd-analyze security: %s %.1f" % (SERVER_UNIT, serve))
        # Root with five capabilities and the network (it is a server):
        # systemd-analyze rates that "OK"; everything else is locked down.
        self.assertLessEqual(serve, SERVER_EXPOSURE)
        self.assertLessEqual(self.exposure("relay-flush.service", server=True), 1.5)

    def unit_settings(self, path):
        settings = {}
        for line in path.read_text().splitlines():
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                settings.setdefault(k, []).append(v)
        return settings

    def test_server_unit(self):
        s = self.unit_settings(self.server_root / "lib/systemd/system" / SERVER_UNIT)
        one = lambda k: (s.get(k) or [None])[-1]
        self.assertEqual(one("Type"), "exec")
        self.assertEqual(one("ExecStart"), "/usr/sbin/relay serve --syslog")
        self.assertRegex(one("ExecReload"), r"^\+.*kill -HUP \$\{?MAINPID\}?")
        self.assertEqual(one("Restart"), "on-failure")
        self.assertEqual(one("RestartPreventExitStatus"), "78")
        self.assertEqual(one("WantedBy"), "multi-user.target")
        # Started as root (it binds, then becomes [server] user itself).
        self.assertIsNone(one("User"))
        self.assertIsNone(one("DynamicUser"))
        self.assertEqual(set(one("CapabilityBoundingSet").split()), SERVER_CAPS)
        self.assertEqual(one("AmbientCapabilities"), "")
        self.assertEqual(one("ReadWritePaths").split(), ["/var/spool/relay", "-/var/mail"])
        for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                     ("PrivateTmp", "yes"), ("PrivateDevices", "yes"), ("RestrictSUIDSGID", "yes"),
                     ("MemoryDenyWriteExecute", "yes"), ("SystemCallArchitectures", "native"),
                     ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")):
            with self.subTest(setting=k):
                self.assertEqual(one(k), v)
        self.assertIn("@system-service", s["SystemCallFilter"])

    def test_flush_unit(self):
        text = (self.root / "lib/systemd/system/relay-flush.service").read_text()
        for line in ("Type=oneshot", "User=relay", "Group=relay", "ExecStart=/usr/sbin/relay --flush",
                     "ProtectSystem=strict", "ReadWritePaths=/var/spool/relay", "ProtectHome=yes",
                     "PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet=",
                     "SystemCallFilter=@system-service"):
            self.assertIn("\n" + line + "\n", text)
        path = (self.root / "lib/systemd/system/relay-flush.path").read_text()
        self.assertIn("\nPathChanged=/var/spool/relay/maildrop\n", path)
        timer = (self.root / "lib/systemd/system/relay-flush.timer").read_text()
        self.assertIn("\nPersistent=true\n", timer)
        self.assertRegex(timer, r"\nOnBootSec=\S+\n")
        self.assertIn("\nOnCalendar=*:0/5\n", timer)

    # --- man pages ------------------------------------------------------------
    def man_pages(self):
        pages = sorted(p for p in MAN_DIR.iterdir() if re.search(r"\.[1-8]$", p.name))
        self.assertTrue(pages)
        return pages

    def test_man_groff_clean(self):
        for p in self.man_pages():
            with self.subTest(page=p.name):
                r = run(["groff", "-man", "-ww", "-z", str(p)])
                self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_man_renders(self):
        for p in self.man_pages():
            with self.subTest(page=p.name):
                r = run(["man", "-l", str(p)], env=dict(os.environ, MANWIDTH="80", MAN_KEEP_STDERR="1"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr.strip(), "")
                self.assertIn("NAME", r.stdout)
                self.assertGreater(len(r.stdout.splitlines()), 20)

    def test_man_pages_packaged(self):
        packaged = {p.name[:-3] for p in (self.root / "usr/share/man").rglob("*.gz") if not p.is_symlink()}
        # relay-serve(8) belongs to the server-mode build, not the null client.
        self.assertEqual(packaged, {p.name for p in self.man_pages()} - {"relay-serve.8"})
        server = {p.name[:-3] for p in (self.server_root / "usr/share/man").rglob("*.gz") if not p.is_symlink()}
        self.assertEqual(server, {p.name for p in self.man_pages()})
        self.assertIn("relay-serve.8", server)

    def test_relay8_documents_every_option(self):
        text = (MAN_DIR / "relay.8").read_text().replace("\\-", "-")
        for flag in ("-t", "-i", "-oi", "-f", "-r", "-F", "-B", "-N", "-R", "-V", "-C", "-v", "-bm", "-bp",
                     "-bi", "-I", "-bs", "-bv", "-q", "-qf", "--flush", "--now", "--init-spool", "--config",
                     "--json", "--version", "--help", "--quiet", "RELAY_CONFIG", "relaydrop"):
            with self.subTest(flag=flag):
                self.assertRegex(text, r"(^|[\s\"(])%s\b" % re.escape(flag))
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "INPUT", "QUEUE", "EXIT STATUS",
                        "FILES", "ENVIRONMENT", "SECURITY", "EXAMPLES", "SEE ALSO"):
            self.assertRegex(text, r"(?m)^\.SH \"?%s\"?$" % section)

    # --- relay.toml against config.cpp ---------------------------------------
    def config_keys(self):
        """(section, key) for every key config.cpp accepts."""
        src = (TOP / "src/config/config.cpp").read_text()
        keys = set()
        for section in ("top", "queue", "rewrite", "smtp", "server"):
            m = re.search(r"std::vector<Key> %s_keys\(Config &c\) \{(.*?)\n\}" % section, src, re.S)
            self.assertTrue(m, section)
            body = m.group(1)
            names = re.findall(r"\b(?:STR|BOOL|LIST|SIZE|DUR|UINT)\([^,]+,\s*(\w+)[,)]", body)
            names += re.findall(r"Key\{\"(\w+)\"", body)
            self.assertTrue(names, section)
            keys |= {(section, n) for n in names}
        return keys

    def shipped_keys(self):
        keys, section = set(), "top"
        for line in (self.root / "etc/relay/relay.toml").read_text().splitlines():
            m = re.match(r"^#\[(\w+)\]$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"^#(\w+) = ", line)
            if m:
                keys.add((section, m.group(1)))
        return keys

    def test_relay_toml_lists_every_key(self):
        code, shipped = self.config_keys(), self.shipped_keys()
        self.assertEqual(sorted(code - shipped), [], "keys in config.cpp missing from relay.toml")
        self.assertEqual(sorted(shipped - code), [], "keys in relay.toml that config.cpp does not know")

    def test_relay_toml_man_page_lists_every_key(self):
        man = (MAN_DIR / "relay.toml.5").read_text().replace("\\-", "-")
        for _, key in sorted(self.config_keys()):
            with self.subTest(key=key):
                self.assertRegex(man, r"(?m)^\.BR? .*\b%s\b" % re.escape(key))

    def test_relay_toml_shipped_loads_and_uncommented_loads(self):
        self.assertTrue(RELAY_BIN, "RELAY_BIN is not set")
        shipped = self.root / "etc/relay/relay.toml"
        env = {k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"}
        with tempfile.TemporaryDirectory() as tmp:
            spool = Path(tmp) / "spool"
            # As shipped: nothing set.
            r = run([RELAY_BIN, "-C", str(shipped), "check"], env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # Every "#key = value" and "#[section]" uncommented: each example
            # value is valid for its key.
            text = re.sub(r"(?m)^#(\[\w+\]|\w+ = )", r"\1", shipped.read_text())
            text = text.replace('directory = "/var/spool/relay"', 'directory = "%s"' % spool)
            # The tables and secret files the examples name exist (empty).
            etc = Path(tmp) / "etc"
            etc.mkdir()
            for name in set(re.findall(r"/etc/relay/(\w+)", text)):
                (etc / name).write_text("")
                (etc / name).chmod(0o600)
            text = text.replace("/etc/relay/", str(etc) + "/")
            cfg = Path(tmp) / "all.toml"
            cfg.write_text(text)
            r = run([RELAY_BIN, "-C", str(cfg), "--init-spool"], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run([RELAY_BIN, "-C", str(cfg), "check"], env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("no relayhost", r.stdout)

    # --- the server binary --------------------------------------------------------
    def test_server_binary_has_server_mode(self):
        server = str(self.server_root / "usr/sbin/relay")
        env = {k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"}
        r = run([server, "serve", "--help"], env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--check", r.stdout)
        self.assertIn("--syslog", r.stdout)
        r = run([server, "-C", str(self.server_root / "etc/relay/relay.toml"), "serve", "--check"], env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("configuration ok", r.stderr)
        # The null client has no server mode: "serve" is a recipient to it,
        # and --check an unknown sendmail option.
        plain = str(self.root / "usr/sbin/relay")
        r = run([plain, "-C", str(self.root / "etc/relay/relay.toml"), "serve", "--check"], env=env, input="")
        self.assertEqual(r.returncode, 64, r.stdout + r.stderr)
        self.assertIn("unknown option --check", r.stderr)
        r = run([plain, "serve", "--help"], env=env, input="")
        self.assertNotIn("--syslog", r.stdout + r.stderr)
        self.assertIn("null client", r.stdout)

    @staticmethod
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def test_server_answers_smtp(self):
        """The packaged relay serve: greets, queues, reloads on SIGHUP, stops on SIGTERM; relay passwd."""
        server = str(self.server_root / "usr/sbin/relay")
        env = {k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            port = self.free_port()
            cfg = tmp / "relay.toml"
            cfg.write_text('myhostname = "pkg.example.net"\n[queue]\ndirectory = "%s"\n'
                           'flush_after_submit = false\n[server]\nlisten = ["local 127.0.0.1:%d"]\n'
                           'users_file = "%s"\n' % (tmp / "spool", port, tmp / "users"))
            r = run([server, "-C", str(cfg), "--init-spool"], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run([server, "-C", str(cfg), "passwd", "alice@example.org"], env=env, input="secret\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex((tmp / "users").read_text(), r"^alice@example\.org:\$argon2id\$")
            self.assertEqual((tmp / "users").stat().st_mode & 0o777, 0o600)
            log = open(tmp / "serve.log", "w+")
            proc = subprocess.Popen([server, "-C", str(cfg), "serve"], env=env, stdout=log, stderr=log)
            try:
                def send(subject):
                    s = smtplib.SMTP(timeout=10)
                    for _ in range(100):
                        try:
                            code, banner = s.connect("127.0.0.1", port)
                            break
                        except OSError:
                            self.assertIsNone(proc.poll(), "relay serve exited")
                            time.sleep(0.1)
                    else:
                        self.fail("relay serve does not listen on %d" % port)
                    with s:
                        self.assertEqual((code, banner.decode()), (220, "pkg.example.net ESMTP relay"))
                        s.sendmail("alice@example.org", ["bob@example.org"],
                                   ("Subject: %s\r\n\r\nhello\r\n" % subject).encode())
                send("one")
                maildrop = [p for p in (tmp / "spool/maildrop").iterdir() if not p.name.startswith("t.")]
                self.assertEqual(len(maildrop), 1)
                self.assertIn("Subject: one", maildrop[0].read_text())
                proc.send_signal(signal.SIGHUP)
                for _ in range(50):
                    log.seek(0)
                    if "reload: configuration" in log.read():
                        break
                    time.sleep(0.1)
                else:
                    self.fail("no reload logged after SIGHUP")
                send("two")
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=40), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()

    # --- relay-notify -----------------------------------------------------------
    def notify(self, *args, conf=None):
        with tempfile.TemporaryDirectory() as tmp:
            capture = Path(tmp) / "mail"
            fake = Path(tmp) / "sendmail"
            fake.write_text('#!/bin/sh\nprintf "%%s\\n" "$*" > %s.argv\ncat > %s\n' % (capture, capture))
            fake.chmod(0o755)
            conf_path = Path(tmp) / "notify.conf"
            if conf is not None:
                conf_path.write_text(conf)
            env = dict(os.environ, RELAY_NOTIFY_SENDMAIL=str(fake), RELAY_NOTIFY_CONF=str(conf_path))
            r = run([str(self.root / "usr/lib/relay/relay-notify")] + list(args), env=env)
            msg = capture.read_text() if capture.exists() else None
            argv = (Path(str(capture) + ".argv")).read_text().strip() if msg is not None else None
            return r, msg, argv

    def test_notify_message(self):
        r, msg, argv = self.notify("backup-x.service", conf="# comment\nto = ops@example.net, dev@example.org\n"
                                   "from = systemd <root@example.net>\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(argv, "-odq -t -i")
        head, _, body = msg.partition("\n\n")
        headers = head.splitlines()
        host = os.uname().nodename
        self.assertIn("To: ops@example.net, dev@example.org", headers)
        self.assertIn("From: systemd <root@example.net>", headers)
        self.assertIn("Subject: [%s] unit backup-x.service failed" % host, headers)
        self.assertIn("Auto-Submitted: auto-generated", headers)
        self.assertIn("Content-Type: text/plain; charset=UTF-8", headers)
        self.assertTrue(any(h.startswith("Date: ") for h in headers))
        self.assertIn("backup-x.service", body)
        self.assertIn("Last journal lines:", body)

    def test_notify_defaults_to_root(self):
        r, msg, _ = self.notify("cron.service")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\nTo: root\n", "\n" + msg)
        self.assertNotIn("\nFrom:", "\n" + msg.partition("\n\n")[0])

    def test_notify_refuses_bad_names(self):
        for bad in ("$(touch x)", "a b.service", "-h", "--help", "x;y", "", "a\nSubject: x", "`id`"):
            with self.subTest(name=bad):
                r, msg, _ = self.notify(bad)
                self.assertEqual(r.returncode, 64)
                self.assertIsNone(msg)
        r, msg, _ = self.notify("a.service", "b.service")
        self.assertEqual(r.returncode, 64)
        self.assertIsNone(msg)

    def test_notify_accepts_escaped_instance_names(self):
        r, msg, _ = self.notify("systemd-fsck@dev-disk-by\\x2duuid-1234.service")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unit systemd-fsck@dev-disk-by\\x2duuid-1234.service failed", msg)

    # --- the full installation ------------------------------------------------
    def test_install_in_debootstrap_root(self):
        self.assertEqual(os.geteuid(), 0, "the installation check needs root (debootstrap, chroot)")
        script = TOP / "tests/package/check-package.sh"
        r = run([str(script), "--deb", str(self.deb), "--server-deb", str(self.server_deb)], timeout=2400)
        print(r.stdout[-3000:])
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr)[-6000:])
        self.assertRegex(r.stdout, r"(?m)^\d+ passed, 0 failed$")


if __name__ == "__main__":
    unittest.main()
