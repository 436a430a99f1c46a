"""The server process: configuration, master key, restart, shutdown, logs and metrics."""

import json
import os
import re
import stat
import tempfile
import time
import unittest

from harness import Server, ServerTestCase, free_port, read_master_key, wait_until


class ProcessTestCase(unittest.TestCase):
    """Each test starts its own servers; they are always cleaned up."""

    def setUp(self):
        self.servers = []
        self.tmp = tempfile.mkdtemp(prefix="callwire-test-")

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **kw):
        s = Server(**kw)
        self.servers.append(s)
        return s.start()

    def call(self, server, method, path, body=None, token=None, status=None):
        st, _, data = server.request(method, path, body=body, token=token)
        if status is not None:
            self.assertEqual(st, status, f"{method} {path}: {data!r}")
        return data


class MasterKeyTest(ProcessTestCase):
    def test_master_key_file_is_created_private_on_first_start_and_reused(self):
        datadir = os.path.join(self.tmp, "data")
        os.mkdir(datadir)
        s = self.start(datadir=datadir)
        path = os.path.join(datadir, "master.key")
        self.assertTrue(os.path.isfile(path), "master.key was not created")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, f"master.key has mode {oct(mode)}, want 0o600")
        key = read_master_key(datadir)
        self.assertTrue(key.startswith("mk_"), key)
        self.assertGreaterEqual(len(key), 20)
        self.call(s, "GET", "/v1/apps", token=key, status=200)
        s.stop()
        s2 = self.start(datadir=datadir)
        self.assertEqual(read_master_key(datadir), key, "master key changed on restart")
        self.call(s2, "GET", "/v1/apps", token=key, status=200)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        s2.stop()

    def test_a_data_folder_that_does_not_exist_yet_is_created(self):
        datadir = os.path.join(self.tmp, "nested", "data")
        s = self.start(datadir=datadir)
        self.assertTrue(os.path.isfile(os.path.join(datadir, "master.key")))
        self.call(s, "POST", "/v1/apps", {"name": "x"}, token=s.master_key, status=201)
        s.stop()

    def test_two_data_folders_have_different_master_keys(self):
        a = self.start()
        b = self.start()
        self.assertNotEqual(a.master_key, b.master_key)
        self.call(a, "GET", "/v1/apps", token=b.master_key, status=401)
        a.stop()
        b.stop()

    def test_callwire_master_key_env_is_honoured(self):
        key = "mk_" + "e" * 40
        s = self.start(env={"CALLWIRE_MASTER_KEY": key})
        app = self.call(s, "POST", "/v1/apps", {"name": "env"}, token=key, status=201)
        self.call(s, "GET", f"/v1/apps/{app['appId']}", token=key, status=200)
        path = os.path.join(s.datadir, "master.key")
        if os.path.exists(path):
            # If the server still writes a file, that file's key is not a second master key
            # unless it is the same one.
            other = read_master_key(s.datadir)
            if other != key:
                self.call(s, "GET", "/v1/apps", token=other, status=401)
        self.call(s, "GET", "/v1/apps", token="mk_" + "f" * 40, status=401)
        s.stop()

    def test_callwire_master_key_env_overrides_an_existing_file(self):
        s = self.start()
        file_key = s.master_key
        s.stop()
        env_key = "mk_override_" + "z" * 30
        s2 = self.start(datadir=s.datadir, env={"CALLWIRE_MASTER_KEY": env_key})
        self.call(s2, "GET", "/v1/apps", token=env_key, status=200)
        self.call(s2, "GET", "/v1/apps", token=file_key, status=401)
        s2.stop()

    def test_an_unreadable_data_folder_fails_the_start_with_a_message(self):
        if os.geteuid() == 0:
            self.skipTest("root can write anywhere")
        datadir = os.path.join(self.tmp, "ro")
        os.mkdir(datadir, 0o500)
        s = Server(datadir=datadir)
        self.servers.append(s)
        s.expect_start_failure()


class RestartTest(ProcessTestCase):
    def test_restart_keeps_apps_users_groups_tokens_and_settings(self):
        s = self.start()
        key = s.master_key
        app = self.call(s, "POST", "/v1/apps", {"name": "durable"}, token=key, status=201)
        a, rk = app["appId"], app["restApiKey"]
        for uid in ("ann", "ben"):
            self.call(s, "POST", f"/v1/apps/{a}/users",
                      {"uid": uid, "name": uid.title(), "metadata": {"n": uid}}, token=rk,
                      status=201)
        self.call(s, "POST", f"/v1/apps/{a}/groups", {"guid": "g", "name": "G",
                                                      "members": ["ann", "ben"]},
                  token=rk, status=201)
        self.call(s, "PATCH", f"/v1/apps/{a}", {"settings": {"ringTimeout": 77,
                                                             "authKeyLogin": True}},
                  token=rk, status=200)
        minted = self.call(s, "POST", f"/v1/apps/{a}/users/ann/auth_tokens", {"ttl": 3600},
                           token=rk, status=201)["authToken"]
        login = self.call(s, "POST", f"/v1/apps/{a}/login",
                          {"uid": "ben", "authKey": app["authKey"]}, status=200)["authToken"]
        revoked = self.call(s, "POST", f"/v1/apps/{a}/users/ben/auth_tokens", {}, token=rk,
                            status=201)["authToken"]
        self.call(s, "POST", f"/v1/apps/{a}/logout", {}, token=revoked, status=204)
        before_users = self.call(s, "GET", f"/v1/apps/{a}/users", token=rk, status=200)
        before_app = self.call(s, "GET", f"/v1/apps/{a}", token=key, status=200)
        s.stop()

        s2 = self.start(datadir=s.datadir)
        self.assertEqual(s2.master_key, key)
        self.call(s2, "GET", "/v1/apps", token=key, status=200)
        self.assertEqual(self.call(s2, "GET", f"/v1/apps/{a}", token=rk, status=200), before_app)
        self.assertEqual(self.call(s2, "GET", f"/v1/apps/{a}/users", token=rk, status=200),
                         before_users)
        g = self.call(s2, "GET", f"/v1/apps/{a}/groups/g", token=rk, status=200)
        self.assertEqual(g["members"], ["ann", "ben"])
        self.assertEqual(self.call(s2, "GET", f"/v1/apps/{a}/me", token=minted,
                                   status=200)["uid"], "ann")
        self.assertEqual(self.call(s2, "GET", f"/v1/apps/{a}/me", token=login,
                                   status=200)["uid"], "ben")
        self.call(s2, "GET", f"/v1/apps/{a}/me", token=revoked, status=401)
        # The auth key still logs in, and writes still work.
        self.call(s2, "POST", f"/v1/apps/{a}/login", {"uid": "ann", "authKey": app["authKey"]},
                  status=200)
        self.call(s2, "POST", f"/v1/apps/{a}/users", {"uid": "cy", "name": "Cy"}, token=rk,
                  status=201)
        self.call(s2, "POST", f"/v1/apps/{a}/users", {"uid": "ann", "name": "Again"}, token=rk,
                  status=409)
        s2.stop()

        s3 = self.start(datadir=s.datadir)
        self.call(s3, "GET", f"/v1/apps/{a}/users/cy", token=rk, status=200)
        s3.stop()


class ConfigTest(ProcessTestCase):
    def test_config_file_sets_listen_address_and_data_folder(self):
        port = free_port()
        datadir = os.path.join(self.tmp, "cfgdata")
        cfg = os.path.join(self.tmp, "callwire.conf")
        with open(cfg, "w") as f:
            f.write("# callwire test configuration\n")
            f.write(f"listen = 127.0.0.1:{port}\n")
            f.write(f"data = {datadir}\n")
        s = self.start(port=port, datadir=datadir, args=["serve", "--config", cfg])
        self.assertTrue(os.path.isfile(os.path.join(datadir, "master.key")))
        self.call(s, "GET", "/v1/apps", token=read_master_key(datadir), status=200)
        s.stop()

    def test_environment_variables_set_listen_address_and_data_folder(self):
        port = free_port()
        datadir = os.path.join(self.tmp, "envdata")
        s = self.start(port=port, datadir=datadir, args=["serve"],
                       env={"CALLWIRE_LISTEN": f"127.0.0.1:{port}", "CALLWIRE_DATA": datadir})
        self.assertTrue(os.path.isfile(os.path.join(datadir, "master.key")))
        self.call(s, "GET", "/v1/apps", token=read_master_key(datadir), status=200)
        s.stop()

    def test_command_line_flags_override_the_environment(self):
        port = free_port()
        datadir = os.path.join(self.tmp, "flagdata")
        envdata = os.path.join(self.tmp, "ignored-envdata")
        s = self.start(port=port, datadir=datadir,
                       args=["serve", "--listen", f"127.0.0.1:{port}", "--data", datadir],
                       env={"CALLWIRE_LISTEN": f"127.0.0.1:{free_port()}",
                            "CALLWIRE_DATA": envdata})
        self.assertTrue(os.path.isfile(os.path.join(datadir, "master.key")))
        self.assertFalse(os.path.exists(os.path.join(envdata, "master.key")))
        s.stop()

    def test_a_bad_listen_address_fails_the_start(self):
        s = Server(args=["serve", "--listen", "not-an-address", "--data",
                         os.path.join(self.tmp, "d")])
        self.servers.append(s)
        self.assertIn("listen", s.expect_start_failure().lower())

    def test_a_port_already_in_use_fails_the_start(self):
        first = self.start()
        s = Server(port=first.port)
        self.servers.append(s)
        s.expect_start_failure()
        self.assertTrue(first.alive())
        self.call(first, "GET", "/healthz", status=200)
        first.stop()

    def test_a_missing_config_file_fails_the_start(self):
        s = Server(args=["serve", "--config", os.path.join(self.tmp, "nope.conf")])
        self.servers.append(s)
        self.assertIn("nope.conf", s.expect_start_failure())


class ShutdownTest(ProcessTestCase):
    def test_sigterm_with_an_open_idle_connection_still_exits_cleanly(self):
        import socket
        s = self.start()
        conn = socket.create_connection((s.host, s.port), timeout=5)
        try:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.recv(4096)
            s.stop()  # asserts exit code 0 within the deadline
        finally:
            conn.close()

    def test_sigint_also_stops_the_server(self):
        import signal
        s = self.start()
        proc = s.proc
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=10), 0, s.log())
        s.proc = None


class ObservabilityTest(ProcessTestCase):
    def test_every_request_logs_one_http_request_line_with_its_status(self):
        s = self.start()
        key = s.master_key

        def statuses():
            out = []
            for ln in s.log().splitlines():
                if "event=http.request" in ln:
                    m = re.search(r"\bstatus=(\d{3})\b", ln)
                    self.assertIsNotNone(m, f"no status= in {ln!r}")
                    out.append(int(m.group(1)))
            return out

        # Startup polls of /healthz are logged as 200s; every other status comes from here.
        sent = [("GET", "/healthz", None, None, 200),
                ("GET", "/v1/apps", None, None, 401),
                ("GET", "/v1/nothing", None, None, 404),
                ("GET", "/v1/nothing/else", None, None, 404),
                ("POST", "/v1/apps", {"name": ""}, key, 400),
                ("POST", "/v1/apps", {"name": "logged"}, key, 201),
                ("GET", "/v1/apps", None, "mk_wrong", 401),
                ("DELETE", "/v1/apps", None, key, 405)]
        for method, path, body, token, want in sent:
            st, _, _ = s.request(method, path, body=body, token=token)
            self.assertEqual(st, want, (method, path))
        want = {}
        for x in sent:
            if x[4] != 200:
                want[x[4]] = want.get(x[4], 0) + 1

        def non_200():
            got = {}
            for st in statuses():
                if st != 200:
                    got[st] = got.get(st, 0) + 1
            return got

        wait_until(lambda: sum(non_200().values()) >= sum(want.values()), 5.0,
                   "the request log lines")
        self.assertEqual(non_200(), want, s.log())
        self.assertGreaterEqual(statuses().count(200), 2)
        for ln in s.log().splitlines():
            if "event=http.request" in ln:
                self.assertRegex(ln, r"\bmethod=", ln)
        # Exactly one more line per further request.
        n = len(statuses())
        for _ in range(5):
            s.request("GET", "/v1/apps", token=key)
        wait_until(lambda: len(statuses()) >= n + 5, 5.0, "five more log lines")
        s.request("GET", "/v1/nothing")
        wait_until(lambda: non_200().get(404, 0) == 3, 5.0, "the last 404 line")
        self.assertEqual(len(statuses()), n + 6, s.log())
        s.stop()

    def test_no_secret_ever_appears_in_the_log(self):
        s = self.start()
        key = s.master_key
        secrets = [key]
        app = self.call(s, "POST", "/v1/apps", {"name": "secretive"}, token=key, status=201)
        a, rk, ak = app["appId"], app["restApiKey"], app["authKey"]
        secrets += [rk, ak]
        self.call(s, "POST", f"/v1/apps/{a}/users", {"uid": "sue", "name": "Sue"}, token=rk,
                  status=201)
        for body in ({}, {"ttl": 60}):
            secrets.append(self.call(s, "POST", f"/v1/apps/{a}/users/sue/auth_tokens", body,
                                     token=rk, status=201)["authToken"])
        login = self.call(s, "POST", f"/v1/apps/{a}/login", {"uid": "sue", "authKey": ak},
                          status=200)["authToken"]
        secrets.append(login)
        self.call(s, "GET", f"/v1/apps/{a}/me", token=login, status=200)
        self.call(s, "POST", f"/v1/apps/{a}/logout", {}, token=login, status=204)
        self.call(s, "GET", f"/v1/apps/{a}/me", token=login, status=401)
        # Failed attempts carry secrets too: wrong kinds, wrong keys, a key in a query string.
        wrong = "ak_wrong_secret_value_123456"
        secrets.append(wrong)
        self.call(s, "POST", f"/v1/apps/{a}/login", {"uid": "sue", "authKey": wrong}, status=401)
        self.call(s, "GET", f"/v1/apps/{a}/me", token=rk, status=403)
        self.call(s, "GET", "/v1/apps", token=secrets[3], status=403)
        bogus = "rk_bogus_credential_abcdef"
        secrets.append(bogus)
        self.call(s, "GET", f"/v1/apps/{a}", token=bogus, status=401)
        self.call(s, "GET", f"/v1/apps/{a}/users/sue/auth_tokens", token=rk, status=405)
        self.call(s, "DELETE", f"/v1/apps/{a}/users/sue/auth_tokens", token=rk, status=200)
        # A secret pasted into a body field that is echoed in an error must not be logged.
        self.call(s, "POST", f"/v1/apps/{a}/users", {"uid": key + "!", "name": "x"}, token=rk,
                  status=400)
        s.stop()
        log = s.log()
        self.assertIn("event=http.request", log)
        for secret in secrets:
            self.assertNotIn(secret, log, f"a secret ({secret[:3]}…) appears in the log")
            # Nor a long piece of it.
            self.assertNotIn(secret[3:19], log, f"part of a secret ({secret[:3]}…) is logged")

    def test_metrics_are_prometheus_text_with_request_counts_and_open_connections(self):
        s = self.start()
        key = s.master_key
        app = self.call(s, "POST", "/v1/apps", {"name": "metered"}, token=key, status=201)
        self.call(s, "GET", f"/v1/apps/{app['appId']}", token=key, status=200)
        self.call(s, "GET", "/v1/nothing", status=404)
        st, headers, text = s.request("GET", "/metrics")
        self.assertEqual(st, 200, text)
        self.assertIn("text/plain", headers.get("Content-Type", ""))
        self.assertIsInstance(text, str)
        self.assertIn("callwire_http_requests_total{", text)
        self.assertIn("callwire_http_open_connections", text)
        self.assertTrue(text.endswith("\n"), "the exposition format ends every line, the "
                        f"last one too, with a line feed: {text[-60:]!r}")
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                            r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*,?\})?'
                            r' [-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|NaN|[-+]Inf)( -?\d+)?$')
        for ln in text.splitlines():
            if not ln or ln.startswith("#"):
                continue
            self.assertRegex(ln, sample, "not a Prometheus sample line")
        reqs = [ln for ln in text.splitlines() if ln.startswith("callwire_http_requests_total{")]
        for ln in reqs:
            for label in ("route=", "method=", "status="):
                self.assertIn(label, ln)
        # Routes are templates, not raw paths: one app's id never becomes a label value.
        self.assertNotIn(app["appId"], text)
        self.assertNotIn("/v1/nothing", text)
        self.assertIn('route="unmatched"', text)
        self.assertTrue(any('status="201"' in ln and 'method="POST"' in ln for ln in reqs), reqs)

        def healthz_count():
            _, _, t = s.request("GET", "/metrics")
            total = 0
            for ln in t.splitlines():
                if (ln.startswith("callwire_http_requests_total{") and "healthz" in ln
                        and 'method="GET"' in ln and 'status="200"' in ln):
                    total += float(ln.rsplit(" ", 1)[1])
            return total

        c0 = healthz_count()
        for _ in range(3):
            self.call(s, "GET", "/healthz", status=200)
        wait_until(lambda: healthz_count() >= c0 + 3, 5.0, "the healthz counter to grow by 3")
        s.stop()

    def test_open_connections_gauge_counts_idle_keepalive_connections(self):
        import socket
        s = self.start()

        def gauge():
            _, _, t = s.request("GET", "/metrics")
            for ln in t.splitlines():
                if ln.startswith("callwire_http_open_connections"):
                    return float(ln.rsplit(" ", 1)[1])
            self.fail("no callwire_http_open_connections sample")

        # Only the connection asking for /metrics is open (the startup polls have closed).
        wait_until(lambda: gauge() == 1, 5.0, "the gauge to count only this connection")
        base = 1
        socks = []
        try:
            for _ in range(3):
                c = socket.create_connection((s.host, s.port), timeout=5)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                c.recv(4096)
                socks.append(c)
            wait_until(lambda: gauge() >= base + 3, 5.0, "the gauge to count 3 more")
        finally:
            for c in socks:
                c.close()
        wait_until(lambda: gauge() <= base, 5.0, "the gauge to drop back")
        s.stop()


class DemoTest(ProcessTestCase):
    """`serve --demo` on a new data folder: the demo app, its users and group, and a banner
    that starts with the browser client's URL."""

    def web(self):
        path = os.path.join(self.tmp, "web")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "index.html"), "w") as f:
            f.write("<!doctype html><title>demo</title>\n")
        return path

    def demo(self, server):
        with open(os.path.join(server.datadir, "demo.json"), encoding="utf-8") as f:
            return json.load(f)

    def banner(self, server):
        log = server.log()
        start = log.index("callwire demo app")
        return log[start:log.index("Authorization: Bearer <token>", start)]

    def test_the_demo_has_alice_bob_carol_and_the_group_team(self):
        s = self.start(extra_args=["--demo", "--web", self.web()])
        demo = self.demo(s)
        base = f"/v1/apps/{demo['appId']}"
        users = self.call(s, "GET", f"{base}/users", token=demo["restApiKey"], status=200)
        self.assertEqual([u["uid"] for u in users["data"]], ["alice", "bob", "carol"])
        groups = self.call(s, "GET", f"{base}/groups", token=demo["restApiKey"], status=200)
        self.assertEqual(len(groups["data"]), 1)
        team = groups["data"][0]
        self.assertEqual((team["guid"], team["name"]), ("team", "Team"))
        self.assertEqual(team["members"], ["alice", "bob", "carol"])
        # What the browser client does: log in with the auth key, read the directory.
        login = self.call(s, "POST", f"{base}/login",
                          {"uid": "bob", "authKey": demo["authKey"]}, status=200)
        mine = self.call(s, "GET", f"{base}/groups", token=login["authToken"], status=200)
        self.assertEqual([g["guid"] for g in mine["data"]], ["team"])
        s.stop()
        # A restart keeps the demo as it is, and says the same.
        again = self.start(datadir=s.datadir, extra_args=["--demo", "--web", self.web()],
                           port=s.port)
        self.assertEqual(self.demo(again), demo)
        groups = self.call(again, "GET", f"{base}/groups", token=demo["restApiKey"],
                           status=200)
        self.assertEqual([g["guid"] for g in groups["data"]], ["team"])
        self.assertEqual(self.banner(again), self.banner(s))

    def test_the_banner_starts_with_the_browser_url(self):
        s = self.start(extra_args=["--demo", "--web", self.web()])
        demo = self.demo(s)
        banner = self.banner(s)
        url = (f"http://127.0.0.1:{s.port}/#/login?app={demo['appId']}"
               f"&authKey={demo['authKey']}")
        lines = [ln.strip() for ln in banner.splitlines() if ln.strip()]
        self.assertEqual(lines[0], "callwire demo app")
        self.assertEqual(lines[1], f"open {url}")
        self.assertIn("two browser windows", lines[2])
        self.assertIn("alice", lines[2])
        self.assertIn("bob", lines[2])
        # The command-line and curl instructions follow.
        cli = banner.index("callwire login --server")
        self.assertGreater(cli, banner.index(url))
        self.assertIn(f"callwire login --server http://127.0.0.1:{s.port} --app "
                      f"{demo['appId']} --uid bob --auth-key {demo['authKey']}", banner)
        self.assertIn(f"curl -s -X POST http://127.0.0.1:{s.port}/v1/apps/{demo['appId']}"
                      "/login", banner)
        # The URL's page is there.
        st, _, _ = s.request("GET", "/")
        self.assertEqual(st, 200)

    def test_a_wildcard_listen_address_is_shown_as_loopback(self):
        port = free_port()
        datadir = os.path.join(self.tmp, "data")
        s = self.start(args=["serve", "--listen", f"0.0.0.0:{port}", "--data", datadir,
                             "--demo", "--web", self.web()], port=port, datadir=datadir)
        banner = self.banner(s)
        self.assertIn(f"open http://127.0.0.1:{port}/#/login?app=", banner)
        self.assertNotIn("0.0.0.0", banner)

    def test_without_a_web_folder_the_banner_has_no_browser_url(self):
        s = self.start(extra_args=["--demo", "--web", "none"])
        banner = self.banner(s)
        self.assertNotIn("#/login", banner)
        self.assertIn("callwire login --server", banner)


class HealthzTest(ServerTestCase):
    def test_healthz_reports_ok_as_json(self):
        st, _, data = self.req("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertIsInstance(data, dict)
        self.assertEqual(data.get("status"), "ok")


if __name__ == "__main__":
    unittest.main()
