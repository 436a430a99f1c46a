"""Apps: creation with secrets, listing, reading without secrets, settings, and routing."""

import re
import time
import unittest

from harness import ServerTestCase, q

DEFAULT_SETTINGS = {
    "authKeyLogin": True,
    "ringTimeout": 45,
    "autoBusy": True,
    "reconnectGrace": 30,
    "idleTimeout": 300,
    "maxParticipants": 50,
    "callRateLimit": 30,
}


class HealthTest(ServerTestCase):
    def test_healthz_answers_ok_without_a_credential(self):
        st, headers, data = self.req("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertIn("json", headers.get("Content-Type", ""))
        self.assertEqual(data["status"], "ok")

    def test_unknown_route_is_404_not_found(self):
        for path in ("/v1/nothing", "/v1", "/v2/apps", "/healthzz", "/v1/apps/x/unknown",
                     "/v1/apps/x/users/u/extra", "/v1/apps/x/groups/g/members/u/extra"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path, token=self.master), 404, "ERR_NOT_FOUND")

    def test_wrong_method_on_a_known_route_is_405_with_allow_header(self):
        app = self.create_app()
        a = app["appId"]
        self.create_user(app, "u1")
        self.create_group(app, "g1", ["u1"])
        cases = [
            ("DELETE", "/v1/apps", {"GET", "POST"}),
            ("PUT", f"/v1/apps/{a}", {"GET", "PATCH"}),
            ("DELETE", f"/v1/apps/{a}", {"GET", "PATCH"}),
            ("PUT", f"/v1/apps/{a}/users", {"GET", "POST"}),
            ("POST", f"/v1/apps/{a}/users/u1", {"GET", "PATCH", "DELETE"}),
            ("GET", f"/v1/apps/{a}/users/u1/auth_tokens", {"POST", "DELETE"}),
            ("PATCH", f"/v1/apps/{a}/groups", {"GET", "POST"}),
            ("PATCH", f"/v1/apps/{a}/groups/g1", {"GET", "DELETE"}),
            ("GET", f"/v1/apps/{a}/groups/g1/members", {"POST"}),
            ("GET", f"/v1/apps/{a}/groups/g1/members/u1", {"DELETE"}),
            ("GET", f"/v1/apps/{a}/login", {"POST"}),
            ("POST", f"/v1/apps/{a}/me", {"GET"}),
            ("GET", f"/v1/apps/{a}/logout", {"POST"}),
            ("POST", "/healthz", {"GET"}),
            ("POST", "/metrics", {"GET"}),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                resp = self.req(method, path, token=self.master)
                self.assertError(resp, 405, "ERR_BAD_REQUEST")
                allow = resp[1].get("Allow")
                self.assertIsNotNone(allow, "405 without an Allow header")
                got = {m.strip().upper() for m in allow.split(",") if m.strip()}
                got.discard("HEAD")
                got.discard("OPTIONS")
                self.assertEqual(got, allowed, f"Allow: {allow}")
        # Nothing was deleted by the DELETEs above.
        self.assertEqual(self.get_app(app)["appId"], a)
        self.assertEqual([u["uid"] for u in self.users_of(app)], ["u1"])


class AppsTest(ServerTestCase):
    def test_create_app_returns_id_name_secrets_settings_and_creation_time(self):
        before = int(time.time() * 1000)
        app = self.create_app("My App")
        after = int(time.time() * 1000)
        self.assertEqual(app["name"], "My App")
        self.assertRegex(app["appId"], r"^[A-Za-z0-9_-]{1,64}$")
        self.assertTrue(app["authKey"].startswith("ak_"), app["authKey"])
        self.assertTrue(app["restApiKey"].startswith("rk_"), app["restApiKey"])
        self.assertGreater(len(app["authKey"]), 16)
        self.assertGreater(len(app["restApiKey"]), 16)
        self.assertEqual(app["settings"], DEFAULT_SETTINGS)
        self.assertIsInstance(app["createdAt"], int)
        self.assertGreaterEqual(app["createdAt"], before - 1000)
        self.assertLessEqual(app["createdAt"], after + 1000)

    def test_master_key_has_its_prefix(self):
        self.assertTrue(self.master.startswith("mk_"), self.master)

    def test_each_app_gets_its_own_id_and_secrets(self):
        a = self.create_app("one")
        b = self.create_app("one")
        self.assertNotEqual(a["appId"], b["appId"])
        self.assertNotEqual(a["authKey"], b["authKey"])
        self.assertNotEqual(a["restApiKey"], b["restApiKey"])
        self.assertNotEqual(a["authKey"], a["restApiKey"])

    def test_create_app_accepts_a_200_character_name_and_ignores_unknown_fields(self):
        st, _, app = self.req("POST", "/v1/apps", {"name": "n" * 200, "colour": "red"},
                              token=self.master)
        self.assertEqual(st, 201, app)
        self.assertEqual(app["name"], "n" * 200)
        self.assertNotIn("colour", app)

    def test_create_app_needs_the_master_key(self):
        app = self.create_app()
        self.create_user(app, "u")
        tok = self.mint_token(app, "u")
        before = self.list_all("/v1/apps", self.master)
        self.assertError(self.req("POST", "/v1/apps", {"name": "x"}), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", "/v1/apps", {"name": "x"}, token="mk_wrong"),
                         401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", "/v1/apps", {"name": "x"}, token=app["authKey"]),
                         401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("POST", "/v1/apps", {"name": "x"}, token=app["restApiKey"]),
                         403, "ERR_FORBIDDEN")
        self.assertError(self.req("POST", "/v1/apps", {"name": "x"}, token=tok),
                         403, "ERR_FORBIDDEN")
        self.assertEqual(self.list_all("/v1/apps", self.master), before)

    def test_authorization_header_must_be_a_bearer_credential(self):
        for value in (self.master, f"Basic {self.master}", "Bearer", "Bearer ", "bearer",
                      f"Bearer  {self.master}x", f"Token {self.master}"):
            with self.subTest(header=value):
                self.assertError(self.req("GET", "/v1/apps", headers={"Authorization": value}),
                                 401, "ERR_UNAUTHORIZED")

    def test_create_app_rejects_a_bad_name_and_creates_nothing(self):
        before = self.list_all("/v1/apps", self.master)
        for body in ({}, {"name": ""}, {"name": "n" * 201}, {"name": 5}, {"name": None},
                     {"name": ["a"]}, {"name": True}):
            with self.subTest(body=body):
                self.assertError(self.req("POST", "/v1/apps", body, token=self.master),
                                 400, "ERR_BAD_REQUEST", field="name")
        self.assertEqual(self.list_all("/v1/apps", self.master), before)

    def test_list_apps_pages_through_every_app_exactly_once(self):
        created = {self.create_app(f"list {i}")["appId"] for i in range(5)}
        st, _, page = self.req("GET", "/v1/apps?limit=2", token=self.master)
        self.assertEqual(st, 200, page)
        self.assertEqual(len(page["data"]), 2)
        self.assertIsInstance(page["next"], str)
        apps = self.list_all("/v1/apps", self.master, limit=2)
        ids = [a["appId"] for a in apps]
        self.assertEqual(len(ids), len(set(ids)), "an app was listed twice")
        self.assertTrue(created <= set(ids))
        for a in apps:
            self.assertNotIn("authKey", a)
            self.assertNotIn("restApiKey", a)
            self.assertEqual(set(a), {"appId", "name", "settings", "createdAt"}, a)
        # A page large enough for everything has no next cursor.
        st, _, page = self.req("GET", "/v1/apps?limit=100", token=self.master)
        self.assertEqual(st, 200)
        if len(ids) <= 100:
            self.assertIsNone(page["next"])

    def test_list_apps_needs_the_master_key(self):
        app = self.create_app()
        self.assertError(self.req("GET", "/v1/apps"), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("GET", "/v1/apps", token=app["restApiKey"]),
                         403, "ERR_FORBIDDEN")

    def test_list_apps_rejects_a_bad_limit_or_cursor(self):
        for qs in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "limit=1.5"):
            with self.subTest(qs=qs):
                self.assertError(self.req("GET", f"/v1/apps?{qs}", token=self.master),
                                 400, "ERR_BAD_REQUEST", field="limit")
        self.assertError(self.req("GET", "/v1/apps?cursor=%21%21garbage%21%21",
                                  token=self.master), 400, "ERR_BAD_REQUEST", field="cursor")

    def test_get_app_with_master_or_its_rest_key_never_shows_secrets(self):
        app = self.create_app("readable")
        for token in (self.master, app["restApiKey"]):
            st, _, got = self.req("GET", f"/v1/apps/{app['appId']}", token=token)
            self.assertEqual(st, 200, got)
            self.assertEqual(got, {"appId": app["appId"], "name": "readable",
                                   "settings": DEFAULT_SETTINGS,
                                   "createdAt": app["createdAt"]})

    def test_get_app_with_another_apps_rest_key_is_404_like_an_unknown_app(self):
        a = self.create_app()
        b = self.create_app()
        self.assertError(self.req("GET", f"/v1/apps/{a['appId']}", token=b["restApiKey"]),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", "/v1/apps/doesnotexist", token=self.master),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", "/v1/apps/doesnotexist", token=b["restApiKey"]),
                         404, "ERR_NOT_FOUND")

    def test_get_app_without_or_with_bad_credential_is_401(self):
        app = self.create_app()
        self.assertError(self.req("GET", f"/v1/apps/{app['appId']}"), 401, "ERR_UNAUTHORIZED")
        self.assertError(self.req("GET", f"/v1/apps/{app['appId']}", token="rk_nope"),
                         401, "ERR_UNAUTHORIZED")
        # The auth key is for login only, never a bearer credential.
        self.assertError(self.req("GET", f"/v1/apps/{app['appId']}", token=app["authKey"]),
                         401, "ERR_UNAUTHORIZED")

    def test_get_app_with_an_auth_token_is_forbidden(self):
        app = self.create_app()
        self.create_user(app, "u")
        tok = self.mint_token(app, "u")
        self.assertError(self.req("GET", f"/v1/apps/{app['appId']}", token=tok),
                         403, "ERR_FORBIDDEN")

    def test_app_id_in_the_path_must_be_well_formed(self):
        for bad in ("bad.id", "a" * 65, "a@b", "a b", "ä"):
            with self.subTest(appId=bad):
                self.assertError(self.req("GET", f"/v1/apps/{q(bad)}", token=self.master),
                                 400, "ERR_BAD_REQUEST", field="appId")
                self.assertError(self.req("GET", f"/v1/apps/{q(bad)}/users",
                                          token=self.master),
                                 400, "ERR_BAD_REQUEST", field="appId")
        self.assertError(self.req("GET", f"/v1/apps/{'a' * 64}", token=self.master),
                         404, "ERR_NOT_FOUND")


class SettingsTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("settings")
        self.path = f"/v1/apps/{self.app['appId']}"

    def patch(self, settings, token=None):
        return self.req("PATCH", self.path, {"settings": settings},
                        token=token or self.master)

    def test_patch_changes_only_the_given_settings(self):
        st, _, got = self.patch({"ringTimeout": 60})
        self.assertEqual(st, 200, got)
        want = dict(DEFAULT_SETTINGS, ringTimeout=60)
        self.assertEqual(got["settings"], want)
        self.assertEqual(got["appId"], self.app["appId"])
        self.assertNotIn("authKey", got)
        self.assertNotIn("restApiKey", got)
        st, _, got = self.patch({"autoBusy": False, "idleTimeout": 0})
        self.assertEqual(st, 200, got)
        want.update(autoBusy=False, idleTimeout=0)
        self.assertEqual(got["settings"], want)
        self.assertEqual(self.get_app(self.app)["settings"], want)

    def test_the_apps_rest_key_may_change_settings(self):
        st, _, got = self.patch({"maxParticipants": 10}, token=self.app["restApiKey"])
        self.assertEqual(st, 200, got)
        self.assertEqual(got["settings"]["maxParticipants"], 10)

    def test_another_apps_rest_key_gets_404_and_changes_nothing(self):
        other = self.create_app()
        self.assertError(self.patch({"ringTimeout": 99}, token=other["restApiKey"]),
                         404, "ERR_NOT_FOUND")
        self.assertEqual(self.get_app(self.app)["settings"], DEFAULT_SETTINGS)

    def test_an_auth_token_may_not_change_settings(self):
        self.create_user(self.app, "u")
        tok = self.mint_token(self.app, "u")
        self.assertError(self.patch({"ringTimeout": 99}, token=tok), 403, "ERR_FORBIDDEN")
        self.assertError(self.req("PATCH", self.path, {"settings": {"ringTimeout": 99}}),
                         401, "ERR_UNAUTHORIZED")
        self.assertEqual(self.get_app(self.app)["settings"], DEFAULT_SETTINGS)

    def test_patch_on_an_unknown_app_is_404(self):
        self.assertError(self.req("PATCH", "/v1/apps/nosuchapp", {"settings": {}},
                                  token=self.master), 404, "ERR_NOT_FOUND")

    def test_boundary_values_are_accepted(self):
        for key, value in (("ringTimeout", 5), ("ringTimeout", 300), ("reconnectGrace", 0),
                           ("reconnectGrace", 3600), ("idleTimeout", 0),
                           ("idleTimeout", 86400), ("maxParticipants", 2), ("callRateLimit", 0),
                           ("callRateLimit", 100000),
                           ("maxParticipants", 500), ("authKeyLogin", False),
                           ("authKeyLogin", True), ("autoBusy", False), ("autoBusy", True)):
            with self.subTest(key=key, value=value):
                st, _, got = self.patch({key: value})
                self.assertEqual(st, 200, got)
                self.assertEqual(got["settings"][key], value)
                self.assertIs(type(got["settings"][key]), type(value))

    def test_a_wrong_type_or_out_of_range_setting_is_rejected_by_name_and_nothing_changes(self):
        self.assertEqual(self.patch({"ringTimeout": 50})[0], 200)
        want = dict(DEFAULT_SETTINGS, ringTimeout=50)
        bad = [
            ("ringTimeout", 4), ("ringTimeout", 301), ("ringTimeout", "45"),
            ("ringTimeout", 45.5), ("ringTimeout", True), ("ringTimeout", None),
            ("ringTimeout", -1), ("ringTimeout", 1e20), ("ringTimeout", 4294967341),
            ("authKeyLogin", "yes"), ("authKeyLogin", 1), ("authKeyLogin", None),
            ("autoBusy", "false"), ("autoBusy", 0),
            ("reconnectGrace", -1), ("reconnectGrace", 3601), ("reconnectGrace", "30"),
            ("idleTimeout", -1), ("idleTimeout", 86401), ("idleTimeout", []),
            ("maxParticipants", 1), ("maxParticipants", 501), ("maxParticipants", {}),
            ("callRateLimit", -1), ("callRateLimit", 100001), ("callRateLimit", "30"),
        ]
        for key, value in bad:
            with self.subTest(key=key, value=value):
                self.assertError(self.patch({key: value}), 400, "ERR_BAD_REQUEST", field=key)
                # A valid setting beside the bad one is not applied either.
                self.assertError(self.patch({"autoBusy": False, key: value}) if key != "autoBusy"
                                 else self.patch({"ringTimeout": 77, key: value}),
                                 400, "ERR_BAD_REQUEST", field=key)
                self.assertEqual(self.get_app(self.app)["settings"], want)
        self.assertStillServing()

    def test_settings_must_be_present_and_an_object(self):
        for body in ({}, {"settings": None}, {"settings": []}, {"settings": "x"},
                     {"settings": 1}, {"name": "renamed"}):
            with self.subTest(body=body):
                self.assertError(self.req("PATCH", self.path, body, token=self.master),
                                 400, "ERR_BAD_REQUEST", field="settings")
        got = self.get_app(self.app)
        self.assertEqual(got["settings"], DEFAULT_SETTINGS)
        self.assertEqual(got["name"], "settings")

    def test_an_empty_settings_object_changes_nothing(self):
        st, _, got = self.patch({})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["settings"], DEFAULT_SETTINGS)


if __name__ == "__main__":
    unittest.main()
