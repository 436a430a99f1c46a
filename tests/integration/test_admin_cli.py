"""The `callwire admin` command, run as an operator would, against a live server."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ServerTestCase, callwire_bin, free_port

CLEAN_ENV = ("CALLWIRE_MASTER_KEY", "CALLWIRE_LISTEN", "CALLWIRE_DATA", "CALLWIRE_KEY",
             "CALLWIRE_SERVER", "CALLWIRE_CONFIG")


class AdminCliTest(ServerTestCase):
    def setUp(self):
        self.cwd = tempfile.mkdtemp(prefix="callwire-cli-")

    def tearDown(self):
        shutil.rmtree(self.cwd, ignore_errors=True)

    def cli(self, *args, server=True, key=True, data=None, json_out=False, env=None, cwd=None):
        """Runs `callwire admin [--server URL] [--key KEY] [--data DIR] [--json] ARGS…`.
        Returns (exit code, stdout, stderr)."""
        cmd = [callwire_bin(), "admin"]
        if server:
            cmd += ["--server", self.server.base_url if server is True else server]
        if key:
            cmd += ["--key", self.master if key is True else key]
        if data:
            cmd += ["--data", data]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        e = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
        e.update(env or {})
        p = subprocess.run(cmd, env=e, cwd=cwd or self.cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ok_json(self, *args, **kw):
        rc, out, err = self.cli(*args, json_out=True, **kw)
        self.assertEqual(rc, 0, f"callwire admin {args}: rc={rc}\nstdout={out}\nstderr={err}")
        try:
            return json.loads(out)
        except ValueError:
            self.fail(f"--json output is not one JSON document: {out!r}")

    def fails(self, *args, rc=1, **kw):
        got, out, err = self.cli(*args, **kw)
        self.assertEqual(got, rc, f"callwire admin {args}: want exit {rc}, got {got}\n"
                                  f"stdout={out}\nstderr={err}")
        self.assertTrue(err.strip(), "no message on stderr")
        self.assertNotIn("Traceback", err)
        return err

    # apps --------------------------------------------------------------------------

    def test_create_app_prints_the_new_app_with_its_secrets(self):
        app = self.ok_json("create-app", "CLI App")
        self.assertEqual(app["name"], "CLI App")
        self.assertTrue(app["authKey"].startswith("ak_"))
        self.assertTrue(app["restApiKey"].startswith("rk_"))
        self.assertEqual(self.get_app(app)["name"], "CLI App")
        # The REST key printed is a working credential.
        self.assertEqual(self.req("GET", f"/v1/apps/{app['appId']}",
                                  token=app["restApiKey"])[0], 200)

    def test_create_app_without_json_shows_the_id_and_both_keys_once(self):
        rc, out, err = self.cli("create-app", "Human")
        self.assertEqual(rc, 0, err)
        apps = [a for a in self.list_all("/v1/apps", self.master) if a["name"] == "Human"]
        self.assertEqual(len(apps), 1)
        self.assertIn(apps[0]["appId"], out)
        # The secrets are shown only at creation; the operator must see them here.
        keys = [w for w in out.replace('"', " ").replace(",", " ").split()
                if w.startswith("ak_") or w.startswith("rk_")]
        self.assertTrue(any(k.startswith("ak_") for k in keys), out)
        self.assertTrue(any(k.startswith("rk_") for k in keys), out)
        with self.assertRaises(ValueError):
            json.loads(out)

    def test_list_apps_merges_every_page(self):
        created = {self.create_app(f"many {i}")["appId"] for i in range(35)}
        data = self.ok_json("list-apps")
        self.assertIn("data", data)
        self.assertIsNone(data.get("next"))
        ids = [a["appId"] for a in data["data"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(created <= set(ids))
        self.assertEqual(sorted(ids), sorted(a["appId"] for a in
                                             self.list_all("/v1/apps", self.master)))
        rc, out, err = self.cli("list-apps")
        self.assertEqual(rc, 0, err)
        for a in created:
            self.assertIn(a, out)

    def test_get_app_prints_it_without_secrets(self):
        app = self.create_app("getme")
        got = self.ok_json("get-app", app["appId"])
        self.assertEqual(got, self.get_app(app))
        self.assertNotIn("authKey", got)
        rc, out, err = self.cli("get-app", app["appId"])
        self.assertEqual(rc, 0, err)
        self.assertIn(app["appId"], out)
        self.assertNotIn(app["restApiKey"], out)

    def test_set_settings_parses_json_literals(self):
        app = self.create_app("settings")
        got = self.ok_json("set-settings", app["appId"], "ringTimeout=60", "autoBusy=false",
                           "authKeyLogin=true")
        self.assertEqual(got["settings"]["ringTimeout"], 60)
        self.assertIs(got["settings"]["autoBusy"], False)
        s = self.get_app(app)["settings"]
        self.assertEqual((s["ringTimeout"], s["autoBusy"], s["authKeyLogin"]),
                         (60, False, True))
        rc, out, err = self.cli("set-settings", app["appId"], "idleTimeout=0")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.get_app(app)["settings"]["idleTimeout"], 0)

    def test_set_settings_with_a_bad_value_fails_and_changes_nothing(self):
        app = self.create_app("settings")
        before = self.get_app(app)["settings"]
        err = self.fails("set-settings", app["appId"], "autoBusy=false", "ringTimeout=1")
        self.assertIn("ringTimeout", err)
        self.fails("set-settings", app["appId"], "ringTimeout=abc", rc=2)
        self.fails("set-settings", app["appId"], rc=2)
        self.assertEqual(self.get_app(app)["settings"], before)

    def test_set_settings_without_key_value_form_is_a_usage_error(self):
        app = self.create_app("settings")
        before = self.get_app(app)["settings"]
        self.fails("set-settings", app["appId"], "ringTimeout", rc=2)
        self.assertEqual(self.get_app(app)["settings"], before)

    # users ---------------------------------------------------------------------------

    def test_user_commands_create_get_list_and_delete(self):
        app = self.create_app("cli users")
        a = app["appId"]
        user = self.ok_json("create-user", a, "ann", "Ann Lee")
        self.assertEqual((user["uid"], user["name"]), ("ann", "Ann Lee"))
        self.assertEqual(self.ok_json("get-user", a, "ann"), user)
        rc, out, err = self.cli("get-user", a, "ann")
        self.assertEqual(rc, 0, err)
        self.assertIn("ann", out)
        self.fails("create-user", a, "ann", "Again")
        rc, out, err = self.cli("delete-user", a, "ann")
        self.assertEqual(rc, 0, err)
        self.fails("get-user", a, "ann")
        self.fails("delete-user", a, "ann")

    def test_list_users_merges_every_page_in_uid_order(self):
        app = self.create_app("cli list")
        uids = [f"u{i:02d}" for i in range(45)]
        for uid in uids:
            self.create_user(app, uid)
        data = self.ok_json("list-users", app["appId"])
        self.assertEqual([u["uid"] for u in data["data"]], uids)
        self.assertIsNone(data.get("next"))
        rc, out, err = self.cli("list-users", app["appId"])
        self.assertEqual(rc, 0, err)
        for uid in uids:
            self.assertIn(uid, out)

    def test_an_apps_rest_key_is_enough_for_its_users(self):
        app = self.create_app("rest key cli")
        user = self.ok_json("create-user", app["appId"], "rita", "Rita", key=app["restApiKey"])
        self.assertEqual(user["uid"], "rita")
        other = self.create_app("other")
        self.fails("get-user", app["appId"], "rita", key=other["restApiKey"])
        self.fails("list-apps", key=app["restApiKey"])

    # groups --------------------------------------------------------------------------

    def test_group_commands_create_add_members_get_and_list(self):
        app = self.create_app("cli groups")
        a = app["appId"]
        for uid in ("ann", "ben", "cy"):
            self.create_user(app, uid)
        g = self.ok_json("create-group", a, "team", "The Team", "cy", "ann")
        self.assertEqual(g["members"], ["ann", "cy"])
        self.assertEqual(g["name"], "The Team")
        g = self.ok_json("add-members", a, "team", "ben")
        self.assertEqual(g["members"], ["ann", "ben", "cy"])
        self.assertEqual(self.ok_json("get-group", a, "team"), g)
        self.create_group(app, "empty")
        data = self.ok_json("list-groups", a)
        self.assertEqual([x["guid"] for x in data["data"]], ["empty", "team"])
        self.fails("add-members", a, "team", "ghost")
        self.fails("create-group", a, "bad", "Bad", "ghost")
        self.fails("get-group", a, "bad")
        self.assertEqual(self.ok_json("get-group", a, "team")["members"], ["ann", "ben", "cy"])
        rc, out, err = self.cli("get-group", a, "team")
        self.assertEqual(rc, 0, err)
        self.assertIn("team", out)

    # tokens --------------------------------------------------------------------------

    def test_create_token_with_and_without_ttl_and_revoke_them(self):
        app = self.create_app("cli tokens")
        a = app["appId"]
        self.create_user(app, "tia")
        t1 = self.ok_json("create-token", a, "tia")
        self.assertTrue(t1["authToken"].startswith("at_"))
        self.assertIsNone(t1["expiresAt"])
        t2 = self.ok_json("create-token", a, "tia", "--ttl", "600")
        self.assertIsInstance(t2["expiresAt"], int)
        me = f"/v1/apps/{a}/me"
        for t in (t1, t2):
            self.assertEqual(self.req("GET", me, token=t["authToken"])[2]["uid"], "tia")
        rc, out, err = self.cli("create-token", a, "tia")
        self.assertEqual(rc, 0, err)
        plain = [w for w in out.split() if w.startswith("at_")]
        self.assertTrue(plain, f"the token is not shown: {out!r}")
        self.assertEqual(self.ok_json("revoke-tokens", a, "tia"), {"revoked": 3})
        for t in (t1, t2):
            self.assertEqual(self.req("GET", me, token=t["authToken"])[0], 401)
        self.fails("create-token", a, "ghost")
        self.fails("create-token", a, "tia", "--ttl", "0")

    def test_a_non_numeric_ttl_is_a_usage_error(self):
        app = self.create_app("ttl")
        self.create_user(app, "u")
        self.fails("create-token", app["appId"], "u", "--ttl", "soon", rc=2)
        self.fails("create-token", app["appId"], "u", "--ttl", rc=2)
        self.assertEqual(self.req("DELETE", f"/v1/apps/{app['appId']}/users/u/auth_tokens",
                                  token=self.master)[2], {"revoked": 0})

    # where the key and server come from --------------------------------------------------

    def test_key_is_read_from_master_key_in_the_data_folder(self):
        data = self.ok_json("list-apps", key=False, data=self.server.datadir)
        self.assertIn("data", data)

    def test_key_from_callwire_data_env(self):
        data = self.ok_json("list-apps", key=False, env={"CALLWIRE_DATA": self.server.datadir})
        self.assertIn("data", data)

    def test_key_from_the_default_data_folder_in_the_working_directory(self):
        os.mkdir(os.path.join(self.cwd, "data"))
        shutil.copy(os.path.join(self.server.datadir, "master.key"),
                    os.path.join(self.cwd, "data", "master.key"))
        data = self.ok_json("list-apps", key=False)
        self.assertIn("data", data)

    def test_key_from_callwire_key_and_callwire_master_key_env(self):
        self.assertIn("data", self.ok_json("list-apps", key=False,
                                           env={"CALLWIRE_KEY": self.master}))
        self.assertIn("data", self.ok_json("list-apps", key=False,
                                           env={"CALLWIRE_MASTER_KEY": self.master}))

    def test_key_sources_in_order_of_precedence(self):
        wrong = "mk_definitely_not_the_key_000000"
        bad_data = os.path.join(self.cwd, "bad")
        os.mkdir(bad_data)
        with open(os.path.join(bad_data, "master.key"), "w") as f:
            f.write(wrong + "\n")
        # --key beats CALLWIRE_KEY
        self.ok_json("list-apps", env={"CALLWIRE_KEY": wrong})
        # CALLWIRE_KEY beats CALLWIRE_MASTER_KEY
        self.ok_json("list-apps", key=False,
                     env={"CALLWIRE_KEY": self.master, "CALLWIRE_MASTER_KEY": wrong})
        # CALLWIRE_MASTER_KEY beats the data folder
        self.ok_json("list-apps", key=False,
                     env={"CALLWIRE_MASTER_KEY": self.master, "CALLWIRE_DATA": bad_data})
        # --data beats CALLWIRE_DATA
        self.ok_json("list-apps", key=False, data=self.server.datadir,
                     env={"CALLWIRE_DATA": bad_data})
        # and a wrong key is an HTTP error
        self.fails("list-apps", key=wrong)

    def test_server_from_callwire_server_env(self):
        data = self.ok_json("list-apps", server=False,
                            env={"CALLWIRE_SERVER": self.server.base_url})
        self.assertIn("data", data)

    def test_no_key_anywhere_fails_clearly(self):
        rc, out, err = self.cli("list-apps", key=False)  # ./data does not exist in cwd
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.strip())

    def test_an_unreachable_server_fails_with_a_message(self):
        err = self.fails("list-apps", server=f"http://127.0.0.1:{free_port()}")
        self.assertNotIn(self.master, err)

    # usage -----------------------------------------------------------------------------

    def test_bad_usage_exits_2(self):
        app = self.create_app("usage")
        for args in ((), ("no-such-command",), ("create-app",), ("get-app",),
                     ("create-user", app["appId"]), ("create-user", app["appId"], "uid"),
                     ("get-user", app["appId"]), ("delete-user", app["appId"]),
                     ("create-group", app["appId"], "g"), ("add-members", app["appId"], "g"),
                     ("create-token", app["appId"]), ("revoke-tokens", app["appId"]),
                     ("--bogus-flag", "list-apps")):
            with self.subTest(args=args):
                self.fails(*args, rc=2)
        self.assertEqual(self.users_of(app), [])

    def test_help_prints_the_usage_and_succeeds(self):
        rc, out, err = self.cli("--help", server=False, key=False)
        self.assertEqual(rc, 0, err)
        text = out + err
        for cmd in ("create-app", "list-apps", "set-settings", "create-token", "revoke-tokens"):
            self.assertIn(cmd, text)

    def test_an_http_error_prints_the_servers_message(self):
        app = self.create_app("errors")
        err = self.fails("get-user", app["appId"], "nobody-here")
        self.assertTrue(err.strip())
        err = self.fails("create-user", app["appId"], "bad uid", "Name")
        self.assertIn("uid", err)
        self.assertEqual(self.users_of(app), [])
        self.fails("get-app", "nosuchapp")


if __name__ == "__main__":
    unittest.main()
