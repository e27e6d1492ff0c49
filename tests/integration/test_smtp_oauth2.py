"""OAuth2 for XOAUTH2: relay fetches its access token from an HTTPS token
endpoint (refresh-token or client-credentials grant), caches it in the
spool, and uses it against an aiosmtpd smarthost offering XOAUTH2."""

import json
import os
import unittest

from test_smtp_client import Base


class _TokenServer:
    """An HTTPS OAuth2 token endpoint on 127.0.0.1 (certificate from the test CA)."""

    def __init__(self, certs, replies):
        import http.server
        import ssl
        import threading
        import urllib.parse
        self.requests = []
        self.replies = list(replies)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                outer.requests.append({k: v[0] for k, v in form.items()})
                code, body = outer.replies.pop(0) if outer.replies else (500, {})
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*certs.good)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/token" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TestOAuth2(Base):
    def setUp(self):
        super().setUp()
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool, 0o700)
        self.refresh = os.path.join(self.dir, "refresh")
        self.write_secret(self.refresh, "refresh-1\n")
        self.secret = os.path.join(self.dir, "client_secret")
        self.write_secret(self.secret, "client-secret-xyz\n")

    def oauth_config(self, port, url, **extra):
        s = {"password_file": None, "oauth2_token_endpoint": url,
             "oauth2_client_id": "relay-client", "oauth2_client_secret_file": self.secret,
             "oauth2_refresh_token_file": self.refresh, "oauth2_ca_file": self.certs.ca}
        s.update(extra)
        return self.config("[127.0.0.1]:%d" % port, s,
                           top=["[queue]", "directory = %s" % json.dumps(self.spool)])

    def test_refresh_grant_cached_and_rotated(self):
        ts = _TokenServer(self.certs, [(200, {"access_token": "tok-1", "expires_in": 3600,
                                              "token_type": "Bearer", "refresh_token": "refresh-2"})])
        self.addCleanup(ts.stop)
        p = self.peer(mechanisms=["XOAUTH2"], tokens={"user@example.org": "tok-1"})
        cfg = self.oauth_config(p.port, ts.url)
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(rc, 0, self.stderr)
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(ts.requests, [{"grant_type": "refresh_token", "refresh_token": "refresh-1",
                                        "client_id": "relay-client",
                                        "client_secret": "client-secret-xyz"}])
        with open(self.refresh) as f:
            self.assertEqual(f.read(), "refresh-2\n")
        self.assertEqual(os.stat(self.refresh).st_mode & 0o777, 0o600)
        cache = os.path.join(self.spool, "oauth2.token")
        self.assertEqual(os.stat(cache).st_mode & 0o777, 0o600)
        # The second run uses the cached token: no new request.
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(len(ts.requests), 1)
        self.assertEqual([a[0] for a in p.auth_attempts], ["XOAUTH2", "XOAUTH2"])
        for secret in ("tok-1", "refresh-1", "refresh-2", "client-secret-xyz"):
            self.assertNotIn(secret, self.stderr)

    def test_client_credentials_grant(self):
        os.unlink(self.refresh)
        ts = _TokenServer(self.certs, [(200, {"access_token": "cc-tok", "expires_in": 600})])
        self.addCleanup(ts.stop)
        p = self.peer(mechanisms=["XOAUTH2"], tokens={"user@example.org": "cc-tok"})
        cfg = self.oauth_config(p.port, ts.url, oauth2_refresh_token_file=None,
                                oauth2_scope="https://outlook.office365.com/.default")
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(ts.requests[0]["grant_type"], "client_credentials")
        self.assertEqual(ts.requests[0]["scope"], "https://outlook.office365.com/.default")

    def test_token_endpoint_error_defers(self):
        ts = _TokenServer(self.certs, [(400, {"error": "invalid_grant",
                                              "error_description": "Token has been revoked"})])
        self.addCleanup(ts.stop)
        p = self.peer(mechanisms=["XOAUTH2"], tokens={})
        rc, out = self.run_probe(self.oauth_config(p.port, ts.url), ["b@example.net"])
        self.assertEqual(rc, 78)
        r = out[0]["rcpts"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("HTTP 400: invalid_grant (Token has been revoked)", r["reply"])
        self.assertNotIn("refresh-1", r["reply"])
        self.assertEqual(p.connections, 0)

    def test_refused_token_is_forgotten(self):
        ts = _TokenServer(self.certs, [(200, {"access_token": "stale", "expires_in": 3600}),
                                       (200, {"access_token": "fresh", "expires_in": 3600})])
        self.addCleanup(ts.stop)
        p = self.peer(mechanisms=["XOAUTH2"], tokens={"user@example.org": "fresh"})
        cfg = self.oauth_config(p.port, ts.url)
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "deferred")
        self.assertFalse(os.path.exists(os.path.join(self.spool, "oauth2.token")))
        rc, out = self.run_probe(cfg, ["b@example.net"])
        self.assertEqual(out[0]["rcpts"][0]["status"], "sent", out)
        self.assertEqual(len(ts.requests), 2)

    def test_endpoint_must_be_https(self):
        p = self.peer(mechanisms=["XOAUTH2"])
        rc, out = self.run_probe(self.oauth_config(p.port, "http://127.0.0.1:1/token"),
                                 ["b@example.net"])
        self.assertEqual(rc, 78)
        self.assertIn("https://", out[0]["rcpts"][0]["reply"])


if __name__ == "__main__":
    unittest.main()
