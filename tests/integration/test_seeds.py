"""The Postfix setups users run today (/work seeds), as relay.toml + the same
table files, checked end to end at the smarthost.

Each directory under seeds/ holds one setup: relay.toml.in (the seed's
main.cf parameters a null client needs, in relay's words, with @PORT@,
@SPOOL@, @SEED@, @CA_FILE@ for the test to fill in) and the seed's table
files copied as the seed shows them (a file the seed only names is
reconstructed from its description and says so). The test submits mail as
root, as cron does, as www-data does (PHP's mail(): sendmail -t -i, run as
uid 33), and to root/webmaster/local users, flushes to an aiosmtpd peer
with STARTTLS (and AUTH where the seed logs in), and asserts the exact
MAIL FROM, RCPT TO, From: and To: that arrive.

The relay host names of the seeds (mail.example.net, smtp.myisp.com,
smtp.yourisp.com) are kept: the flush runs in a private mount namespace
whose /etc/hosts maps them to 127.0.0.1, and the peer's test certificate
names them, so sasl_password_maps is looked up by the host name exactly as
on the seed's system.

Expected values are hard-coded. They were derived from Postfix's documented
behaviour (cleanup(8): canonical(5) sender/recipient/common maps, then
virtual(5); local(8) aliases for $mydestination; generic(5) in the SMTP
client; masquerading per postconf(5)), and each table lookup was checked
once with the real `postmap -q` / `postalias` of Postfix 3.7 on these very
files (noted as "postmap -q KEY -> VALUE"). Postfix is not needed to run
the test.
"""

import email
import email.policy
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest
import warnings

import relaytest as rt
from smtpd_peer import Certs, Peer

SEEDS = os.path.join(rt.HERE, "seeds")
SEED_HOSTS = ("mail.example.net", "smtp.myisp.com", "smtp.yourisp.com")

# Runs inside a private mount namespace: $1 becomes /etc/hosts, the rest is
# the command. No path is spliced into the script.
HOSTS_SCRIPT = 'set -e; mount --bind "$1" /etc/hosts; shift; exec "$@"'

CRON_ARGS = ["-FCronDaemon", "-i", "-B8BITMIME", "-oem"]


def cron_message(user, to):
    return ("From: root (Cron Daemon)\nTo: %s\nSubject: Cron <%s@server> run-parts /etc/cron.daily\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\nX-Cron-Env: <LOGNAME=%s>\n\n"
            "job output\n" % (to, user, user)).encode()


def php_message(to):
    # PHP mail() without extra headers: To and Subject only, CRLF line ends.
    return ("To: %s\r\nSubject: contact form\r\n\r\nHello from the web site.\r\n" % to).encode()


def make_named_certs(directory, names):
    """A test CA and one leaf for NAMES (+ localhost, 127.0.0.1)."""
    os.makedirs(directory, exist_ok=True)
    c = Certs(directory)

    def run(*args):
        subprocess.run(list(args), check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key = os.path.join(directory, "ca.key")
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", c.ca, "-days", "2",
        "-subj", "/CN=relay seed test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    pem, key = c.good
    san = ",".join(["DNS:%s" % n for n in names] + ["DNS:localhost", "IP:127.0.0.1"])
    ext = pem + ".ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % san)
    run("openssl", "req", *ec, "-keyout", key, "-out", pem + ".csr", "-subj", "/CN=" + names[0])
    run("openssl", "x509", "-req", "-in", pem + ".csr", "-CA", c.ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext)
    return c


class Seed(unittest.TestCase):
    """One seed directory set up against a fresh peer."""

    SEED = None       # directory name under seeds/
    USERS = None      # peer AUTH accounts, or None for no AUTH

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        if os.geteuid() != 0:
            raise unittest.SkipTest("the seeds run www-data submissions and a mount namespace "
                                    "(root; CI runs as root)")
        cls.top = tempfile.mkdtemp(prefix="relaytest-seed-")
        os.chmod(cls.top, 0o755)
        cls.certs = make_named_certs(os.path.join(cls.top, "certs"), SEED_HOSTS)
        cls.hosts = os.path.join(cls.top, "hosts")
        with open(cls.hosts, "w") as f:
            f.write("127.0.0.1 localhost %s\n::1 localhost ip6-localhost\n" % " ".join(SEED_HOSTS))
        os.chmod(cls.hosts, 0o644)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def setUp(self):
        self.peer = Peer(tempfile.mkdtemp(dir=self.top), certs=self.certs,
                         users=self.USERS).start()
        self.addCleanup(self.peer.stop)
        root = tempfile.mkdtemp(dir=self.top)
        os.chmod(root, 0o755)
        self.sp = rt.Spool(root=root, init=False)
        # The seed's files, byte for byte; secrets 0600 as the seed says.
        self.seed_dir = os.path.join(root, "etc-relay")
        shutil.copytree(os.path.join(SEEDS, self.SEED), self.seed_dir)
        os.chmod(self.seed_dir, 0o755)
        for name in os.listdir(self.seed_dir):
            secret = name in ("smtp_password", "relay_password")
            os.chmod(os.path.join(self.seed_dir, name), 0o600 if secret else 0o644)
        with open(os.path.join(self.seed_dir, "relay.toml.in")) as f:
            text = f.read()
        for k, v in (("@PORT@", str(self.peer.port)), ("@SPOOL@", self.sp.spool),
                     ("@SEED@", self.seed_dir), ("@CA_FILE@", self.certs.ca)):
            text = text.replace(k, v)
        self.assertNotRegex(text, r"@[A-Z_]+@", "unfilled placeholder")
        self.sp.write_config(text)
        os.chmod(self.sp.config, 0o644)
        self.sp.init()
        # Local users submit without the set-gid front end here (that is
        # test_privilege.py's subject): maildrop/ is opened to them.
        os.chmod(self.sp.area("maildrop"), 0o1777)
        self.seen = 0

    # -- submitting
    def submit(self, args, message, user="root"):
        preexec = None
        if user != "root":
            pw = pwd.getpwnam(user)

            def preexec():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        r = self.sp.sendmail(args, message, preexec=preexec, cwd="/")
        r.check()
        return r

    def flush(self):
        """relay --flush in a namespace where the seed's relay hosts are
        127.0.0.1; returns the messages that arrived since the last call."""
        argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", HOSTS_SCRIPT,
                "relaytest-seed-ns", self.hosts, self.sp.binary, "-C", self.sp.config,
                "--flush", "-v"]
        p = subprocess.run(argv, capture_output=True, timeout=120,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        self.flush_log = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, self.flush_log)
        new = self.peer.messages[self.seen:]
        self.seen = len(self.peer.messages)
        return new

    def deliver_one(self, args, message, user="root"):
        self.submit(args, message, user)
        new = self.flush()
        self.assertEqual(len(new), 1, "%r\n%s" % (new, self.flush_log))
        self.assertEqual(self.sp.names("queue"), [], self.flush_log)
        m = new[0]
        m.msg = email.message_from_bytes(m.data.replace(b"\r\n", b"\n"),
                                         policy=email.policy.compat32)
        return m

    def assert_arrived(self, m, mail_from, rcpt_tos, from_hdr=None, to_hdr=None):
        self.assertEqual(m.mail_from, mail_from)
        self.assertEqual(m.rcpt_tos, rcpt_tos)
        if from_hdr is not None:
            self.assertEqual(m.msg.get_all("From"), [from_hdr])
        if to_hdr is not None:
            self.assertEqual(m.msg.get_all("To"), [to_hdr])


# ---------------------------------------------------------------- 000

class Seed000NullClient(Seed):
    """torres: everything to owner@example.net, AUTH as torres@example.net.

    Derivation (Postfix): myorigin = example.net qualifies bare names
    (trivial-rewrite, append_at_myorigin); virtual_alias_maps is applied to
    envelope recipients only (cleanup(8)), headers keep the qualified
    names; postmap -q root@example.net regexp:virtual_alias ->
    owner@example.net, and owner@example.net -> owner@example.net (an
    alias to itself ends the recursion). postmap -q mail.example.net
    hash:smtp_password -> torres@example.net:******** (looked up by the
    relay host name)."""

    SEED = "000-null-client"
    USERS = {"torres@example.net": "********"}

    def test_cron_mail_for_root(self):
        m = self.deliver_one(CRON_ARGS + ["root"], cron_message("root", "root"))
        self.assertTrue(m.tls)
        self.assertEqual(m.auth_user, "torres@example.net")
        self.assert_arrived(m, "root@example.net", ["owner@example.net"],
                            from_hdr="root@example.net (Cron Daemon)",
                            to_hdr="root@example.net")

    def test_www_data_php_mail_to_webmaster(self):
        m = self.deliver_one(["-t", "-i"], php_message("webmaster"), user="www-data")
        # No From: in the message: Postfix's cleanup adds one from the
        # envelope sender (www-data@$myorigin).
        # (hfrom_format = standard; no full name was given, so no phrase).
        self.assert_arrived(m, "www-data@example.net", ["owner@example.net"],
                            from_hdr="www-data@example.net", to_hdr="webmaster@example.net")

    def test_local_and_remote_recipients_all_go_to_the_owner(self):
        m = self.deliver_one(["-i", "root", "alice", "bob@example.org"],
                             b"To: root, alice, bob@example.org\nSubject: all\n\nx\n")
        # Postfix (enable_original_recipient = yes) would keep three
        # owner@example.net recipients, one per original recipient, and
        # send RCPT TO three times; relay sends one copy: its virtual
        # expansion removes duplicates (src/rewrite/pipeline.hpp, step 4).
        self.assert_arrived(m, "root@example.net", ["owner@example.net"],
                            to_hdr="root@example.net, alice@example.net, bob@example.org")


# ---------------------------------------------------------------- 003

class Seed003MailServer(Seed):
    """The aliases, sender_canonical, canonical, relay_password and
    generic tables on a box named "server" (myorigin = server).

    Lookups (postmap -q on these files):
      canonical:        root -> hostmaster@example.com,
                        webmaster -> webmaster@example.com,
                        postmaster -> postmaster@example.com,
                        root@server -> (none): the "user" key applies to
                        user@$myorigin (canonical(5))
      sender_canonical: www-data -> webmaster@example.com
      aliases:          www-data -> webmaster@example.com
      generic:          user@server -> user@example.com,
                        root@server -> user@example.com,
                        hostmaster@example.com -> (none)
      relay_password:   smtp.myisp.com -> server@example.com:********
    Order (Postfix): cleanup applies sender_canonical then canonical to
    senders, canonical to recipients (envelope and headers); local(8)
    applies aliases to $mydestination recipients (here: server); the SMTP
    client applies generic to envelope and headers, once (not recursive).
    So root is canonicalised before generic could see root@server."""

    SEED = "003-mail-server"
    USERS = {"server@example.com": "********"}

    def test_cron_mail_for_root(self):
        m = self.deliver_one(CRON_ARGS + ["root"], cron_message("root", "root"))
        self.assertEqual(m.auth_user, "server@example.com")
        self.assert_arrived(m, "hostmaster@example.com", ["hostmaster@example.com"],
                            from_hdr="hostmaster@example.com (Cron Daemon)",
                            to_hdr="hostmaster@example.com")

    def test_www_data_php_mail_to_webmaster(self):
        m = self.deliver_one(["-t", "-i"], php_message("webmaster"), user="www-data")
        # sender_canonical www-data -> webmaster@example.com; canonical's
        # "webmaster" key does not apply to @example.com (not $myorigin).
        # The added From: is the rewritten envelope sender.
        self.assert_arrived(m, "webmaster@example.com", ["webmaster@example.com"],
                            from_hdr="webmaster@example.com", to_hdr="webmaster@example.com")

    def test_aliases_and_generic_for_local_recipients(self):
        m = self.deliver_one(["-i", "www-data", "postmaster", "user"],
                             b"To: www-data, postmaster, user\nSubject: local\n\nx\n")
        # www-data: not in canonical; alias -> webmaster@example.com.
        # postmaster: canonical -> postmaster@example.com.
        # user: no table until generic: user@server -> user@example.com.
        # Headers: canonical for postmaster, generic for user; aliases
        # never touch headers, so www-data@server stays.
        self.assert_arrived(m, "hostmaster@example.com",
                            ["webmaster@example.com", "postmaster@example.com", "user@example.com"],
                            to_hdr="www-data@server, postmaster@example.com, user@example.com")

    def test_generic_for_a_local_sender(self):
        m = self.deliver_one(["-i", "-f", "user", "bob@example.org"],
                             b"From: user\nTo: bob@example.org\nSubject: from user\n\nx\n")
        # user -> user@server (myorigin) -> generic -> user@example.com,
        # in MAIL FROM and in From:.
        self.assert_arrived(m, "user@example.com", ["bob@example.org"],
                            from_hdr="user@example.com", to_hdr="bob@example.org")


# ---------------------------------------------------------------- 004

class Seed004IspRelay(Seed):
    """myorigin = example.com, no AUTH, masquerading and queue timers.

    Masquerading (postconf(5) masquerade_domains): an address in a
    SUBdomain of a listed domain becomes user@that domain; the listed
    domain itself is left alone (so the seed's "mail.example.com" does
    not turn user@mail.example.com into user@example.com, which is what
    its text hoped for). The list is searched in order and a "!domain"
    entry stops it; "!sub.dyndomain.com" has no effect here since no
    parent domain of it is listed. masquerade_exceptions = root keeps
    root's addresses. masquerade_classes defaults to envelope_sender,
    header_sender, header_recipient: envelope recipients are never
    masqueraded."""

    SEED = "004-isp-relay"

    def test_local_names_get_myorigin(self):
        m = self.deliver_one(CRON_ARGS + ["alice"], cron_message("alice", "alice"))
        self.assertIsNone(m.auth_user)
        self.assert_arrived(m, "root@example.com", ["alice@example.com"],
                            from_hdr="root@example.com (Cron Daemon)", to_hdr="alice@example.com")

    def test_masquerading(self):
        m = self.deliver_one(
            ["-i", "-f", "alice@host.mail.example.com", "carol@x.mail.example.com",
             "dave@host.sub.dyndomain.com"],
            b"From: alice@host.mail.example.com\n"
            b"Sender: root@host.mail.example.com\n"
            b"Reply-To: bob@www.example.com, bob@web1.www.example.com\n"
            b"To: carol@x.mail.example.com, dave@host.sub.dyndomain.com\n"
            b"Cc: erin@mail.example.com\n"
            b"Subject: masq\n\nx\n")
        self.assert_arrived(m, "alice@mail.example.com",
                            ["carol@x.mail.example.com", "dave@host.sub.dyndomain.com"],
                            from_hdr="alice@mail.example.com",
                            to_hdr="carol@mail.example.com, dave@host.sub.dyndomain.com")
        self.assertEqual(m.msg["Sender"], "root@host.mail.example.com")
        self.assertEqual(m.msg["Reply-To"], "bob@www.example.com, bob@www.example.com")
        self.assertEqual(m.msg["Cc"], "erin@mail.example.com")

    def test_root_is_a_masquerade_exception(self):
        m = self.deliver_one(["-i", "-f", "root@host.mail.example.com", "ops@example.org"],
                             b"Subject: root\n\nx\n")
        # No To:/Cc:/Bcc: given: Postfix's undisclosed_recipients_header.
        self.assert_arrived(m, "root@host.mail.example.com", ["ops@example.org"],
                            from_hdr="root@host.mail.example.com",
                            to_hdr="undisclosed-recipients:;")

    def test_deferral_waits_minimal_backoff_time(self):
        # minimal_backoff_time = 1000s: after a 4xx the message is not
        # tried again by a plain flush (Postfix: not before 1000 s).
        self.peer.scripts["rcpt"]["ops@example.org"] = ["451 4.3.0 try again later"]
        self.submit(["-i", "ops@example.org"], b"Subject: later\n\nx\n")
        before = time.time()
        self.assertEqual(self.flush(), [])
        [e] = self.sp.entries("queue")
        self.assertEqual(e.envelope.recipients(), ["ops@example.org"])
        nxt = int(e.envelope["next"])
        self.assertGreaterEqual(nxt, int(before) + 1000 - 2)
        # relay adds up to 10 % jitter (Postfix does not) so that many
        # deferred messages do not all come due in the same second.
        self.assertLessEqual(nxt, int(time.time()) + 1100 + 2)
        self.assertEqual(self.flush(), [])   # not due yet: nothing sent


# ---------------------------------------------------------------- 001

class Seed001VirtualDomains(Seed):
    """mail.hoppr.in: the virtual alias row, recipient_delimiter = +,
    aliases for the $mydestination domains.

    Derivation (Postfix): virtual(5) looks up user+ext@domain, then
    user@domain; with propagate_unmatched_extensions = canonical, virtual
    (the default) the extension is carried over: abuse+spam@mytuto.com ->
    alain+spam@mytuto.com. local(8) looks up aliases for domains in
    mydestination: "postmaster+x" then "postmaster"; aliases are not in
    propagate_unmatched_extensions, so the result is plain root, qualified
    with myorigin (mail.hoppr.in). A null client delivers nothing locally,
    so root@mail.hoppr.in goes to the smarthost (Postfix, a full server
    here, would put it in root's mailbox)."""

    SEED = "001-virtual-domains"

    def test_virtual_alias_with_extension(self):
        m = self.deliver_one(["-i", "abuse@mytuto.com", "abuse+spam@mytuto.com"],
                             b"To: abuse@mytuto.com\nSubject: abuse\n\nx\n")
        self.assert_arrived(m, "root@mail.hoppr.in",
                            ["alain@mytuto.com", "alain+spam@mytuto.com"],
                            to_hdr="abuse@mytuto.com")

    def test_aliases_in_every_local_domain(self):
        m = self.deliver_one(CRON_ARGS + ["postmaster,postmaster+x@ip-172-30-1-40,"
                                          "postmaster@localhost.localdomain"],
                             cron_message("root", "postmaster"))
        self.assert_arrived(m, "root@mail.hoppr.in", ["root@mail.hoppr.in"],
                            from_hdr="root@mail.hoppr.in (Cron Daemon)",
                            to_hdr="postmaster@mail.hoppr.in")


if __name__ == "__main__":
    unittest.main()
