"""Starts the real `callwire serve` binary on a free port and talks to it over HTTP.

Every integration test goes through this module, so the tests exercise exactly what an
operator runs: the same binary, a real TCP socket, a real data folder on disk.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

START_DEADLINE = 10.0  # seconds for the server to answer /healthz
STOP_DEADLINE = 10.0  # seconds for the server to exit after SIGTERM
POLL = 0.05


def callwire_bin():
    """The binary under test: $CALLWIRE_BIN (relative to the current directory, or failing
    that to the repository), else build/callwire in the repository."""
    path = os.environ.get("CALLWIRE_BIN")
    if not path:
        return os.path.join(HERE, "../../build/callwire")
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(REPO, path)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    """Polls predicate every 50 ms until it returns something truthy; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL)


def http_request(host, port, method, path, body=None, token=None, raw=None, headers=None,
                 timeout=10.0):
    """One HTTP request on a fresh connection. body is JSON-encoded; raw is sent as is
    (bytes or str). Returns (status, headers, data) where data is the parsed JSON when the
    response is JSON, else the text."""
    hdrs = {}
    payload = None
    if raw is not None:
        payload = raw.encode() if isinstance(raw, str) else raw
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        payload = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=payload, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (e.g. 413) and close before reading the whole body;
            # its answer is still waiting in our receive buffer.
            pass
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
        rheaders = resp.headers
    finally:
        conn.close()
    text = data.decode("utf-8", errors="replace")
    ctype = rheaders.get("Content-Type", "")
    parsed = text
    if "json" in ctype or (text[:1] in ("{", "[") and "text/plain" not in ctype):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    return status, rheaders, parsed


class Server:
    """One `callwire serve` process.

    datadir: reuse this data folder (restart tests); else a fresh temporary one.
    env: extra environment variables. args: the full argument list after the binary,
    replacing the default `serve --listen 127.0.0.1:PORT --data DIR` (tests of --config and
    of environment variables pass their own). port: the port the server will listen on
    when args/env choose it.
    """

    def __init__(self, datadir=None, env=None, args=None, port=None, extra_args=None):
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._owns_datadir = datadir is None
        self.datadir = datadir or tempfile.mkdtemp(prefix="callwire-data-")
        self._logdir = tempfile.mkdtemp(prefix="callwire-log-")
        self.stderr_path = os.path.join(self._logdir, "stderr.log")
        self.env = dict(os.environ)
        # The server must not pick up settings from the environment of whoever runs the tests.
        for k in ("CALLWIRE_MASTER_KEY", "CALLWIRE_LISTEN", "CALLWIRE_DATA", "CALLWIRE_KEY",
                  "CALLWIRE_SERVER", "CALLWIRE_CONFIG", "CALLWIRE_MEDIA_PORTS",
                  "CALLWIRE_MEDIA_WORKERS", "CALLWIRE_PUBLIC_IP", "CALLWIRE_WEB"):
            self.env.pop(k, None)
        if env:
            self.env.update(env)
        if args is None:
            args = ["serve", "--listen", f"{self.host}:{self.port}", "--data", self.datadir]
        self.args = [callwire_bin()] + list(args) + list(extra_args or [])
        self.proc = None
        self._stderr = None
        self.returncode = None

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    # lifecycle -------------------------------------------------------------

    def launch(self):
        """Starts the process without waiting for it to be ready."""
        binary = self.args[0]
        if not os.path.exists(binary):
            raise AssertionError(f"server binary not found: {binary} (build it first, or "
                                 f"set CALLWIRE_BIN)")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     cwd=self._logdir)
        return self

    def expect_start_failure(self, timeout=START_DEADLINE):
        """Launches the server and asserts that it exits with a non-zero code and says why
        on stderr. Returns the log."""
        self.launch()
        proc = self.proc
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"server kept running although it should have refused to "
                                 f"start; args={self.args}\n--- stderr ---\n{self.log()}")
        self.proc = None
        self._close_stderr()
        if code == 0:
            raise AssertionError(f"server exited with 0 although it could not start; "
                                 f"args={self.args}\n--- stderr ---\n{self.log()}")
        log = self.log()
        if not log.strip():
            raise AssertionError(f"server exited with {code} without a word on stderr")
        return log

    def start(self):
        """Launches the server and waits until GET /healthz answers 200."""
        self.launch()
        deadline = time.monotonic() + START_DEADLINE
        while True:
            code = self.proc.poll()
            if code is not None:
                self._close_stderr()
                raise AssertionError(
                    f"server exited with code {code} during startup; args={self.args}\n"
                    f"--- stderr ---\n{self.log()}")
            try:
                status, _, _ = self.request("GET", "/healthz", timeout=1.0)
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(
                    f"server did not answer GET /healthz with 200 within {START_DEADLINE} s; "
                    f"args={self.args}\n--- stderr ---\n{self.log()}")
            time.sleep(POLL)

    def stop(self):
        """SIGTERM; the server must exit with code 0 within STOP_DEADLINE seconds."""
        if self.proc is None:
            return
        proc = self.proc
        self.proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._close_stderr()
            raise AssertionError(
                f"server did not exit within {STOP_DEADLINE} s of SIGTERM\n"
                f"--- stderr ---\n{self.log()}")
        self._close_stderr()
        self.returncode = code
        if code != 0:
            raise AssertionError(
                f"server exited with code {code} after SIGTERM (want 0)\n"
                f"--- stderr ---\n{self.log()}")

    def kill(self):
        """Hard stop, for cleanup after a failure."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
        self._close_stderr()

    def cleanup(self):
        self.kill()
        if self._owns_datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self._logdir, ignore_errors=True)

    def _close_stderr(self):
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # introspection ---------------------------------------------------------

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def master_key(self):
        key = self.env.get("CALLWIRE_MASTER_KEY")
        if key:
            return key
        return read_master_key(self.datadir)

    # HTTP ------------------------------------------------------------------

    def request(self, method, path, body=None, token=None, raw=None, headers=None,
                timeout=10.0):
        return http_request(self.host, self.port, method, path, body=body, token=token,
                            raw=raw, headers=headers, timeout=timeout)


def read_master_key(datadir):
    with open(os.path.join(datadir, "master.key"), encoding="utf-8") as f:
        return f.readline().strip()


def q(segment):
    """Percent-encodes one path segment (for ids that are deliberately invalid)."""
    return urllib.parse.quote(segment, safe="")


class ServerTestCase(unittest.TestCase):
    """One server shared by every test of the class. Helpers create apps, users, groups and
    tokens through the REST API and assert the status of each step."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.server = None
            raise
        cls.master = cls.server.master_key

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            try:
                cls.server.stop()
            finally:
                cls.server.cleanup()
                cls.server = None

    # shorthands -------------------------------------------------------------

    def req(self, method, path, body=None, token=None, raw=None, headers=None):
        return self.server.request(method, path, body=body, token=token, raw=raw,
                                   headers=headers)

    def assertError(self, resp, status, code, field=None):
        """resp is (status, headers, data): checks the error envelope."""
        st, _, data = resp
        self.assertEqual(st, status, f"want {status} {code}, got {st}: {data!r}")
        self.assertIsInstance(data, dict, f"error body is not a JSON object: {data!r}")
        self.assertIn("error", data, data)
        err = data["error"]
        self.assertEqual(err.get("code"), code, data)
        self.assertIsInstance(err.get("message"), str, data)
        self.assertTrue(err["message"], data)
        if field is not None:
            self.assertIn(field, err["message"],
                          f"error message should name {field!r}: {err['message']!r}")

    def assertStatus(self, resp, status):
        st, _, data = resp
        self.assertEqual(st, status, f"want {status}, got {st}: {data!r}")
        return data

    def create_app(self, name="test app"):
        return self.assertStatus(self.req("POST", "/v1/apps", {"name": name},
                                          token=self.master), 201)

    def create_user(self, app, uid, name=None, **extra):
        body = {"uid": uid, "name": name or f"User {uid}"}
        body.update(extra)
        return self.assertStatus(
            self.req("POST", f"/v1/apps/{app['appId']}/users", body,
                     token=app["restApiKey"]), 201)

    def create_group(self, app, guid, members=None, name=None):
        body = {"guid": guid, "name": name or f"Group {guid}"}
        if members is not None:
            body["members"] = members
        return self.assertStatus(
            self.req("POST", f"/v1/apps/{app['appId']}/groups", body,
                     token=app["restApiKey"]), 201)

    def mint_token(self, app, uid, ttl=None):
        body = {} if ttl is None else {"ttl": ttl}
        return self.assertStatus(
            self.req("POST", f"/v1/apps/{app['appId']}/users/{uid}/auth_tokens", body,
                     token=app["restApiKey"]), 201)["authToken"]

    def list_all(self, path, token, limit=100):
        """Walks every page of a list endpoint; returns the items in order."""
        items = []
        cursor = None
        for _ in range(10000):
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}"
            if cursor is not None:
                url += "&cursor=" + urllib.parse.quote(cursor, safe="")
            data = self.assertStatus(self.req("GET", url, token=token), 200)
            items.extend(data["data"])
            cursor = data["next"]
            if cursor is None:
                return items
        raise AssertionError("pagination never ended")

    def users_of(self, app):
        return self.list_all(f"/v1/apps/{app['appId']}/users", app["restApiKey"])

    def groups_of(self, app):
        return self.list_all(f"/v1/apps/{app['appId']}/groups", app["restApiKey"])

    def get_app(self, app):
        return self.assertStatus(self.req("GET", f"/v1/apps/{app['appId']}",
                                          token=self.master), 200)

    def assertStillServing(self):
        st, _, data = self.req("GET", "/healthz")
        self.assertEqual(st, 200, data)
