"""The browser client's files: `callwire serve` answers GET and HEAD outside /v1 from its web
folder (--web DIR, CALLWIRE_WEB, config `web`; by default the repository's web/), with
content types, validators and security headers, and nothing outside that folder."""

import http.client
import json
import os
import shutil
import socket
import tempfile
import unittest

from harness import REPO, Server, wait_until

CSP = ("default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
       "media-src 'self' blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")
SECRET = b"OUTSIDE-THE-WEB-FOLDER-7f3a"
HIDDEN = b"DOTFILE-IN-THE-WEB-FOLDER-91c2"
INDEX = b"<!doctype html><title>callwire test</title><p>index of the test folder</p>\n"
SUB_INDEX = b"<!doctype html><title>sub</title>\n"
A_JS = b"export const a = 1;\n"


def fetch(server, method, path, headers=None, timeout=10.0):
    """One request with the path sent exactly as given. Returns (status, headers, body bytes),
    or None when the server closed the connection without an answer."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        conn.close()


def raw_exchange(server, data):
    """Sends bytes, reads until the server closes; for checking what HEAD puts on the wire."""
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks)


def make_site(root):
    """A web folder and, beside it, a folder it must never expose.

    root/outside/secret.txt     the secret
    root/web/index.html, a.js, sub/index.html, files of every known type
    root/web/.hidden, .git/config  dotfiles
    root/web/leak.txt -> ../outside/secret.txt, root/web/outdir -> ../outside
    root/web/inside.js -> a.js  (a symlink that stays inside)
    """
    web = os.path.join(root, "web")
    outside = os.path.join(root, "outside")
    os.makedirs(os.path.join(web, "sub"))
    os.makedirs(os.path.join(web, ".git"))
    os.makedirs(outside)
    files = {
        "index.html": INDEX,
        "a.js": A_JS,
        "sub/index.html": SUB_INDEX,
        "m.mjs": b"export default 1;\n",
        "app.css": b"body { color: black; }\n",
        "icon.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
        "logo.png": b"\x89PNG\r\n\x1a\n",
        "favicon.ico": b"\x00\x00\x01\x00",
        "data.json": b"{}\n",
        "app.webmanifest": b"{\"name\":\"callwire\"}\n",
        "ring.wav": b"RIFF\x00\x00\x00\x00WAVE",
        "font.woff2": b"wOF2",
        "blob.bin": b"\x00\x01\x02",
        "UPPER.JS": b"1;\n",
        ".hidden": HIDDEN,
        ".git/config": HIDDEN,
        "sub/.env": HIDDEN,
    }
    for name, data in files.items():
        with open(os.path.join(web, name), "wb") as f:
            f.write(data)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(SECRET)
    with open(os.path.join(root, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink("../outside/secret.txt", os.path.join(web, "leak.txt"))
    os.symlink("../outside", os.path.join(web, "outdir"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(web, "abs-leak.js"))
    os.symlink("a.js", os.path.join(web, "inside.js"))
    os.symlink(".hidden", os.path.join(web, "to-hidden.txt"))
    os.mkfifo(os.path.join(web, "pipe.js"))
    # Over the 8 MiB limit, without writing 8 MiB.
    with open(os.path.join(web, "huge.js"), "wb") as f:
        f.truncate(8 * 1024 * 1024 + 1)
    return web


class WebTestCase(unittest.TestCase):
    """One server with --web pointing at a fresh folder, shared by the class."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="callwire-web-")
        cls.web = make_site(cls.root)
        cls.server = Server(extra_args=["--web", cls.web])
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()
            shutil.rmtree(cls.root, ignore_errors=True)

    def get(self, path, method="GET", headers=None):
        resp = fetch(self.server, method, path, headers)
        self.assertIsNotNone(resp, f"{method} {path}: connection closed without an answer")
        return resp

    def assertJsonError(self, resp, status, code):
        st, headers, body = resp
        self.assertEqual(st, status, body[:300])
        self.assertIn("application/json", headers.get("Content-Type", ""))
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], code)
        self.assertTrue(err["message"])


class StaticFilesTest(WebTestCase):
    def test_root_serves_index_html_with_the_security_headers(self):
        st, h, body = self.get("/")
        self.assertEqual(st, 200, body)
        self.assertEqual(body, INDEX)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(int(h["Content-Length"]), len(INDEX))
        self.assertEqual(h["Content-Security-Policy"], CSP)
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        self.assertEqual(h["Referrer-Policy"], "no-referrer")
        self.assertEqual(h["Cache-Control"], "no-cache")
        self.assertRegex(h["ETag"], r'^"[^"]+"$')
        self.assertEqual(self.get("/index.html")[2], INDEX)

    def test_a_folder_path_ending_in_a_slash_serves_its_index(self):
        st, h, body = self.get("/sub/")
        self.assertEqual((st, body), (200, SUB_INDEX))
        self.assertEqual(h["Content-Security-Policy"], CSP)
        # The folder itself is not a file.
        self.assertJsonError(self.get("/sub"), 404, "ERR_NOT_FOUND")

    def test_content_type_follows_the_extension(self):
        want = {
            "/a.js": "text/javascript; charset=utf-8",
            "/m.mjs": "text/javascript; charset=utf-8",
            "/UPPER.JS": "text/javascript; charset=utf-8",
            "/app.css": "text/css; charset=utf-8",
            "/icon.svg": "image/svg+xml",
            "/logo.png": "image/png",
            "/favicon.ico": "image/x-icon",
            "/data.json": "application/json",
            "/app.webmanifest": "application/manifest+json",
            "/ring.wav": "audio/wav",
            "/font.woff2": "font/woff2",
            "/blob.bin": "application/octet-stream",
        }
        for path, ctype in want.items():
            with self.subTest(path=path):
                st, h, body = self.get(path)
                self.assertEqual(st, 200, body)
                self.assertEqual(h["Content-Type"], ctype)
                self.assertEqual(h["X-Content-Type-Options"], "nosniff")
                self.assertEqual(h["Cache-Control"], "no-cache")
                # The policy is the page's; scripts and images do not carry it.
                self.assertIsNone(h["Content-Security-Policy"])
        self.assertEqual(self.get("/a.js")[2], A_JS)

    def test_a_symlink_that_stays_inside_the_folder_is_served(self):
        st, h, body = self.get("/inside.js")
        self.assertEqual((st, body), (200, A_JS))

    def test_etag_and_if_none_match_give_304(self):
        path = os.path.join(self.web, "etag.js")
        with open(path, "wb") as f:
            f.write(b"one\n")
        st, h, body = self.get("/etag.js")
        self.assertEqual((st, body), (200, b"one\n"))
        etag = h["ETag"]
        self.assertEqual(self.get("/etag.js")[1]["ETag"], etag, "the ETag is stable")
        for value in (etag, "W/" + etag, f'"other", {etag}', "*"):
            with self.subTest(if_none_match=value):
                st, h2, body = self.get("/etag.js", headers={"If-None-Match": value})
                self.assertEqual(st, 304)
                self.assertEqual(body, b"")
                self.assertEqual(h2["ETag"], etag)
                self.assertEqual(h2["Cache-Control"], "no-cache")
        st, _, body = self.get("/etag.js", headers={"If-None-Match": '"not-it"'})
        self.assertEqual((st, body), (200, b"one\n"))
        # A changed file has a new tag, and the old one no longer matches.
        with open(path + ".new", "wb") as f:
            f.write(b"two, longer\n")
        os.replace(path + ".new", path)
        st, h3, body = self.get("/etag.js", headers={"If-None-Match": etag})
        self.assertEqual((st, body), (200, b"two, longer\n"))
        self.assertNotEqual(h3["ETag"], etag)

    def test_head_sends_the_headers_and_no_body(self):
        for path, data in (("/", INDEX), ("/a.js", A_JS)):
            with self.subTest(path=path):
                st, h, body = self.get(path, method="HEAD")
                self.assertEqual(st, 200)
                self.assertEqual(int(h["Content-Length"]), len(data))
                self.assertEqual(h["ETag"], self.get(path)[1]["ETag"])
                reply = raw_exchange(self.server, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n"
                                     "Connection: close\r\n\r\n".encode())
                head, _, rest = reply.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                self.assertIn(f"content-length: {len(data)}".encode(), head.lower())
                self.assertEqual(rest, b"", "HEAD must not send a body")
        self.assertEqual(self.get("/", method="HEAD")[1]["Content-Security-Policy"], CSP)
        # A keep-alive connection goes on after a HEAD answer.
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=5)
        try:
            conn.request("HEAD", "/a.js")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b""))
            conn.request("GET", "/a.js")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, A_JS))
        finally:
            conn.close()

    def test_nothing_outside_the_folder_and_no_dotfile_is_ever_served(self):
        paths = ["/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/etc/passwd",
                 "/%2e%2e/secret.txt", "/../secret.txt", "/../outside/secret.txt",
                 "/%2e%2e/outside/secret.txt", "/%2E%2E%2Foutside%2Fsecret.txt",
                 "/sub/../../secret.txt", "/sub/../../outside/secret.txt",
                 "/sub/%2e%2e/%2e%2e/outside/secret.txt", "/..%2fsecret.txt",
                 "/.hidden", "/%2ehidden", "/.git/config", "/sub/.env", "/./.hidden",
                 "/leak.txt", "/abs-leak.js", "/outdir/secret.txt", "/outdir/",
                 "/to-hidden.txt", "/%00", "/sub/%00", "/a.js%00", "/a.js%00.html",
                 "/%00/../secret.txt", "/%00/a.js", "/sub/%00/../../outside/secret.txt",
                 "/a%20b", "/a+b.js", "/a;b.js", "/a.js%0a", "/a:b", "/\\a.js", "/~"]
        for path in paths:
            with self.subTest(path=path):
                resp = fetch(self.server, "GET", path)
                if resp is None:
                    # libwebsockets closes the connection on a NUL inside a name.
                    self.assertIn("%00", path)
                    continue
                st, _, body = resp
                self.assertNotIn(SECRET, body)
                self.assertNotIn(HIDDEN, body)
                self.assertNotIn(b"root:", body)
                if st == 200 and path.endswith("/%00"):
                    # libwebsockets drops a NUL that ends the path: "/sub/%00" is "/sub/".
                    self.assertEqual(body, self.get(path[:-3])[2])
                    continue
                self.assertIn(st, (400, 404), f"{path}: {st} {body[:200]!r}")
                if st == 404:
                    self.assertJsonError(resp, 404, "ERR_NOT_FOUND")
        self.assertEqual(self.get("/")[0], 200, "the server stopped serving")

    def test_a_fifo_is_404_without_blocking_the_server(self):
        self.assertJsonError(self.get("/pipe.js"), 404, "ERR_NOT_FOUND")
        self.assertEqual(self.get("/a.js")[0], 200)

    def test_an_unknown_file_is_the_json_404(self):
        for path in ("/nope.html", "/sub/nope.js", "/nope/", "/favicon.ico.gz"):
            with self.subTest(path=path):
                self.assertJsonError(self.get(path), 404, "ERR_NOT_FOUND")

    def test_a_file_over_8_mib_is_refused_and_logged(self):
        resp = self.get("/huge.js")
        self.assertJsonError(resp, 500, "ERR_INTERNAL")
        wait_until(lambda: "event=web.too_large" in self.server.log(), 5.0,
                   "the web.too_large log line")

    def test_other_methods_on_static_paths_are_405_with_allow(self):
        for method, path in (("POST", "/index.html"), ("PUT", "/"), ("DELETE", "/a.js"),
                             ("PATCH", "/sub/"), ("POST", "/no-such-file")):
            with self.subTest(method=method, path=path):
                resp = self.get(path, method=method)
                self.assertJsonError(resp, 405, "ERR_BAD_REQUEST")
                allow = {m.strip() for m in resp[1]["Allow"].split(",")}
                self.assertEqual(allow, {"GET", "HEAD"})
        self.assertEqual(self.get("/index.html")[2], INDEX)

    def test_api_paths_keep_their_answers(self):
        self.assertJsonError(self.get("/v1/nope"), 404, "ERR_NOT_FOUND")
        self.assertJsonError(self.get("/v1"), 404, "ERR_NOT_FOUND")
        self.assertJsonError(self.get("/v1/"), 404, "ERR_NOT_FOUND")
        self.assertJsonError(self.get("/v1/index.html"), 404, "ERR_NOT_FOUND")
        self.assertJsonError(self.get("/v1/apps"), 401, "ERR_UNAUTHORIZED")
        st, h, body = self.get("/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["status"], "ok")
        self.assertEqual(h["Cache-Control"], "no-store")
        self.assertIsNone(h["X-Content-Type-Options"])
        resp = self.get("/healthz", method="POST")
        self.assertJsonError(resp, 405, "ERR_BAD_REQUEST")
        self.assertEqual(resp[1]["Allow"], "GET")
        st, h, _ = self.get("/metrics")
        self.assertEqual(st, 200)
        self.assertIn("text/plain", h["Content-Type"])

    def test_static_requests_are_logged_and_counted_as_route_static(self):
        self.get("/a.js")
        self.get("/nope.txt")
        wait_until(lambda: "route=static path=/nope.txt status=404" in self.server.log(),
                   5.0, "the log line of /nope.txt")
        self.assertIn("route=static path=/a.js status=200", self.server.log())
        _, _, text = self.get("/metrics")
        lines = [ln for ln in text.decode().splitlines()
                 if ln.startswith("callwire_http_requests_total{") and 'route="static"' in ln]
        self.assertTrue(any('status="200"' in ln for ln in lines), lines)
        self.assertTrue(any('status="404"' in ln for ln in lines), lines)

    def test_the_start_log_names_the_web_folder(self):
        self.assertIn(f"web={os.path.realpath(self.web)}", self.server.log())


class WebFolderChoiceTest(unittest.TestCase):
    """Which folder is served: --web, CALLWIRE_WEB, the config file, none, the default."""

    def setUp(self):
        self.servers = []
        self.root = tempfile.mkdtemp(prefix="callwire-web-")

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)

    def folder(self, name, index):
        path = os.path.join(self.root, name)
        os.makedirs(path)
        with open(os.path.join(path, "index.html"), "wb") as f:
            f.write(index)
        return path

    def start(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s.start()

    def index_of(self, server):
        st, _, body = fetch(server, "GET", "/")
        return st, body

    def test_web_none_serves_no_file(self):
        s = self.start(extra_args=["--web", "none"])
        for path in ("/", "/index.html", "/a.js"):
            with self.subTest(path=path):
                st, h, body = fetch(s, "GET", path)
                self.assertEqual(st, 404)
                self.assertEqual(json.loads(body)["error"]["code"], "ERR_NOT_FOUND")
        # Without a folder, POST on such a path is the plain 404 of an unknown route.
        self.assertEqual(fetch(s, "POST", "/index.html")[0], 404)
        self.assertIn("web=none", s.log())

    def test_the_environment_and_the_config_file_choose_the_folder(self):
        env_dir = self.folder("env", b"from CALLWIRE_WEB\n")
        file_dir = self.folder("file", b"from the config file\n")
        flag_dir = self.folder("flag", b"from --web\n")
        s = self.start(env={"CALLWIRE_WEB": env_dir})
        self.assertEqual(self.index_of(s), (200, b"from CALLWIRE_WEB\n"))
        conf = os.path.join(self.root, "callwire.conf")
        with open(conf, "w") as f:
            f.write(f"web = {file_dir}\n")
        s = self.start(extra_args=["--config", conf])
        self.assertEqual(self.index_of(s), (200, b"from the config file\n"))
        # Flags over the environment over the file.
        s = self.start(env={"CALLWIRE_WEB": env_dir}, extra_args=["--config", conf])
        self.assertEqual(self.index_of(s), (200, b"from CALLWIRE_WEB\n"))
        s = self.start(env={"CALLWIRE_WEB": env_dir}, extra_args=["--web", flag_dir])
        self.assertEqual(self.index_of(s), (200, b"from --web\n"))
        s = self.start(env={"CALLWIRE_WEB": "none"})
        self.assertEqual(self.index_of(s)[0], 404)

    def test_a_web_folder_that_does_not_exist_fails_the_start(self):
        missing = os.path.join(self.root, "missing")
        s = Server(extra_args=["--web", missing])
        self.servers.append(s)
        log = s.expect_start_failure()
        self.assertIn("--web", log)
        self.assertIn(missing, log)
        a_file = os.path.join(self.root, "file.txt")
        with open(a_file, "w") as f:
            f.write("x")
        s = Server(extra_args=["--web", a_file])
        self.servers.append(s)
        self.assertIn("not a folder", s.expect_start_failure())

    def test_without_web_the_repositorys_web_folder_is_served(self):
        # The browser client itself: what web/index.html holds is what / answers.
        with open(os.path.join(REPO, "web", "index.html"), "rb") as f:
            want = f.read()
        s = self.start()
        st, h, body = fetch(s, "GET", "/")
        self.assertEqual(st, 200)
        self.assertEqual(body, want)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(h["Content-Security-Policy"], CSP)
        self.assertIn(f"web={os.path.realpath(os.path.join(REPO, 'web'))}", s.log())


if __name__ == "__main__":
    unittest.main()
