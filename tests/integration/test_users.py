"""Users: create, read, list with pagination, update, delete, and who may do it."""

import time
import unittest

from harness import ServerTestCase, q


class UsersTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("users")
        self.base = f"/v1/apps/{self.app['appId']}/users"
        self.key = self.app["restApiKey"]

    def test_create_user_returns_the_user_with_defaults(self):
        before = int(time.time() * 1000)
        st, _, user = self.req("POST", self.base, {"uid": "alice", "name": "Alice"},
                               token=self.key)
        self.assertEqual(st, 201, user)
        self.assertEqual(set(user), {"uid", "name", "avatar", "metadata", "createdAt",
                                     "updatedAt"})
        self.assertEqual(user["uid"], "alice")
        self.assertEqual(user["name"], "Alice")
        self.assertIsNone(user["avatar"])
        self.assertEqual(user["metadata"], {})
        self.assertIsInstance(user["createdAt"], int)
        self.assertGreaterEqual(user["createdAt"], before - 1000)
        self.assertLessEqual(user["createdAt"], int(time.time() * 1000) + 1000)
        self.assertGreaterEqual(user["updatedAt"], user["createdAt"])

    def test_create_user_keeps_avatar_and_metadata(self):
        meta = {"team": "blue", "level": 3, "tags": ["a", "b"], "nested": {"x": None},
                "unicode": "héllo ✓"}
        user = self.create_user(self.app, "bob", "Bob", avatar="https://example.com/b.png",
                                metadata=meta)
        self.assertEqual(user["avatar"], "https://example.com/b.png")
        self.assertEqual(user["metadata"], meta)
        st, _, got = self.req("GET", f"{self.base}/bob", token=self.key)
        self.assertEqual(st, 200, got)
        self.assertEqual(got, user)

    def test_unicode_names_round_trip(self):
        user = self.create_user(self.app, "u8", "Zoë 李 🙂")
        self.assertEqual(user["name"], "Zoë 李 🙂")
        self.assertEqual(self.req("GET", f"{self.base}/u8", token=self.key)[2]["name"],
                         "Zoë 李 🙂")

    def test_create_user_with_explicit_null_avatar(self):
        user = self.create_user(self.app, "nul", avatar=None)
        self.assertIsNone(user["avatar"])

    def test_uids_are_case_sensitive(self):
        self.create_user(self.app, "Carol", "upper")
        self.create_user(self.app, "carol", "lower")
        self.assertEqual(self.req("GET", f"{self.base}/Carol", token=self.key)[2]["name"],
                         "upper")
        self.assertEqual(self.req("GET", f"{self.base}/carol", token=self.key)[2]["name"],
                         "lower")
        self.assertError(self.req("GET", f"{self.base}/CAROL", token=self.key),
                         404, "ERR_NOT_FOUND")

    def test_every_allowed_uid_character_and_length_works_in_body_and_path(self):
        for uid in ("a", "A-Z_a.z@0-9", "x" * 100, "user@example.com", "1", "_", "-"):
            with self.subTest(uid=uid):
                self.create_user(self.app, uid)
                st, _, got = self.req("GET", f"{self.base}/{uid}", token=self.key)
                self.assertEqual(st, 200, got)
                self.assertEqual(got["uid"], uid)

    def test_a_uid_of_only_dots_is_refused_because_a_path_could_not_reach_it(self):
        # "/users/.." would be read as the parent path, so such a user could never be read
        # or deleted. The server refuses these ids (a deliberate narrowing of the contract's
        # pattern); ids that merely contain dots are fine.
        for uid in (".", "..", "..."):
            with self.subTest(uid=uid):
                self.assertError(self.req("POST", self.base, {"uid": uid, "name": "Dots"},
                                          token=self.key), 400, "ERR_BAD_REQUEST", field="uid")
                self.assertError(self.req("POST", f"/v1/apps/{self.app['appId']}/groups",
                                          {"guid": uid, "name": "Dots"}, token=self.key),
                                 400, "ERR_BAD_REQUEST", field="guid")
        self.assertEqual(self.users_of(self.app), [])
        for uid in ("a.", ".a", "a..b", "..a"):
            with self.subTest(uid=uid):
                self.create_user(self.app, uid)
                st, _, got = self.req("GET", f"{self.base}/{uid}", token=self.key)
                self.assertEqual(st, 200, got)
                self.assertEqual(got.get("uid"), uid, got)

    def test_a_percent_encoded_uid_in_the_path_finds_the_user(self):
        # Browsers' encodeURIComponent("a@b.c") gives "a%40b.c".
        self.create_user(self.app, "a@b.c")
        st, _, got = self.req("GET", f"{self.base}/a%40b.c", token=self.key)
        self.assertEqual(st, 200, got)
        self.assertEqual(got["uid"], "a@b.c")

    def test_creating_an_existing_uid_is_409_and_keeps_the_original(self):
        orig = self.create_user(self.app, "dup", "Original")
        self.assertError(self.req("POST", self.base, {"uid": "dup", "name": "Second"},
                                  token=self.key), 409, "ERR_CONFLICT")
        self.assertEqual(self.req("GET", f"{self.base}/dup", token=self.key)[2], orig)
        self.assertEqual(len(self.users_of(self.app)), 1)

    def test_the_same_uid_may_exist_in_two_apps(self):
        other = self.create_app()
        a = self.create_user(self.app, "shared", "In A")
        b = self.create_user(other, "shared", "In B")
        self.assertEqual(a["name"], "In A")
        self.assertEqual(b["name"], "In B")
        self.assertEqual(self.req("GET", f"{self.base}/shared", token=self.key)[2]["name"],
                         "In A")

    def test_get_unknown_user_is_404(self):
        self.assertError(self.req("GET", f"{self.base}/ghost", token=self.key),
                         404, "ERR_NOT_FOUND")

    def test_master_key_manages_users_of_any_app(self):
        st, _, user = self.req("POST", self.base, {"uid": "m", "name": "M"}, token=self.master)
        self.assertEqual(st, 201, user)
        self.assertEqual(self.req("GET", f"{self.base}/m", token=self.master)[0], 200)
        self.assertEqual(self.req("PATCH", f"{self.base}/m", {"name": "N"},
                                  token=self.master)[0], 200)
        self.assertEqual(self.req("GET", self.base, token=self.master)[0], 200)
        self.assertEqual(self.req("DELETE", f"{self.base}/m", token=self.master)[0], 204)

    def test_users_of_one_app_are_invisible_to_another_apps_key(self):
        other = self.create_app()
        self.create_user(self.app, "private")
        ok = other["restApiKey"]
        self.assertError(self.req("GET", f"{self.base}/private", token=ok), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", self.base, token=ok), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("POST", self.base, {"uid": "x", "name": "x"}, token=ok),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("PATCH", f"{self.base}/private", {"name": "pwn"}, token=ok),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/private", token=ok),
                         404, "ERR_NOT_FOUND")
        self.assertEqual([u["uid"] for u in self.users_of(self.app)], ["private"])
        self.assertEqual(self.req("GET", f"{self.base}/private", token=self.key)[2]["name"],
                         "User private")
        # An auth token of the other app is not even "the wrong kind" here: it is 404.
        self.create_user(other, "x")
        other_tok = self.mint_token(other, "x")
        self.assertError(self.req("GET", f"{self.base}/private", token=other_tok),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", f"/v1/apps/{self.app['appId']}", token=other_tok),
                         404, "ERR_NOT_FOUND")
        # Same answer as for an app that does not exist at all.
        self.assertError(self.req("GET", "/v1/apps/nosuchapp/users/private", token=ok),
                         404, "ERR_NOT_FOUND")

    def test_user_changes_need_a_rest_key_not_an_auth_token(self):
        # Reading the directory is open to the app's users (test_directory.py); changing it
        # is not.
        self.create_user(self.app, "t")
        tok = self.mint_token(self.app, "t")
        for method, path, body in (("POST", self.base, {"uid": "y", "name": "y"}),
                                   ("PATCH", f"{self.base}/t", {"name": "z"}),
                                   ("DELETE", f"{self.base}/t", None)):
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body, token=tok), 403, "ERR_FORBIDDEN")
        for method, path, body in (("GET", self.base, None),
                                   ("POST", self.base, {"uid": "y", "name": "y"}),
                                   ("GET", f"{self.base}/t", None),
                                   ("PATCH", f"{self.base}/t", {"name": "z"}),
                                   ("DELETE", f"{self.base}/t", None)):
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body), 401, "ERR_UNAUTHORIZED")
                self.assertError(self.req(method, path, body, token="rk_unknown"),
                                 401, "ERR_UNAUTHORIZED")
        self.assertEqual([u["uid"] for u in self.users_of(self.app)], ["t"])
        self.assertEqual(self.req("GET", f"{self.base}/t", token=self.key)[2]["name"], "User t")


class UserListTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.app = None

    def setUp(self):
        if UserListTest.app is None:
            app = self.create_app("list")
            # Created out of order; listed ascending by uid.
            uids = [f"u{i:02d}" for i in range(35)]
            for uid in reversed(uids):
                self.create_user(app, uid)
            UserListTest.app = app
            UserListTest.uids = uids
        self.base = f"/v1/apps/{self.app['appId']}/users"
        self.key = self.app["restApiKey"]

    def test_list_defaults_to_30_users_ascending_by_uid(self):
        st, _, page = self.req("GET", self.base, token=self.key)
        self.assertEqual(st, 200, page)
        self.assertEqual([u["uid"] for u in page["data"]], self.uids[:30])
        self.assertIsInstance(page["next"], str)
        st, _, page2 = self.req("GET", f"{self.base}?cursor={q(page['next'])}", token=self.key)
        self.assertEqual(st, 200, page2)
        self.assertEqual([u["uid"] for u in page2["data"]], self.uids[30:])
        self.assertIsNone(page2["next"])
        for u in page["data"]:
            self.assertEqual(set(u), {"uid", "name", "avatar", "metadata", "createdAt",
                                      "updatedAt"})

    def test_paging_with_a_small_limit_visits_each_user_once_in_order(self):
        for limit in (1, 2, 7, 35, 100):
            with self.subTest(limit=limit):
                users = self.list_all(self.base, self.key, limit=limit)
                self.assertEqual([u["uid"] for u in users], self.uids)

    def test_a_page_that_ends_exactly_at_the_last_user(self):
        st, _, page = self.req("GET", f"{self.base}?limit=5", token=self.key)
        seen = []
        while True:
            self.assertEqual(st, 200, page)
            self.assertLessEqual(len(page["data"]), 5)
            seen += [u["uid"] for u in page["data"]]
            if page["next"] is None:
                break
            st, _, page = self.req("GET", f"{self.base}?limit=5&cursor={q(page['next'])}",
                                   token=self.key)
        self.assertEqual(seen, self.uids)

    def test_a_cursor_survives_users_added_and_removed_meanwhile(self):
        app = self.create_app()
        for uid in ("b", "d", "f"):
            self.create_user(app, uid)
        base = f"/v1/apps/{app['appId']}/users"
        st, _, page = self.req("GET", f"{base}?limit=2", token=app["restApiKey"])
        self.assertEqual([u["uid"] for u in page["data"]], ["b", "d"])
        self.create_user(app, "a")  # before the cursor: not seen
        self.create_user(app, "e")  # after the cursor: seen
        self.assertEqual(self.req("DELETE", f"{base}/d", token=app["restApiKey"])[0], 204)
        st, _, page = self.req("GET", f"{base}?limit=10&cursor={q(page['next'])}",
                               token=app["restApiKey"])
        self.assertEqual(st, 200, page)
        self.assertEqual([u["uid"] for u in page["data"]], ["e", "f"])

    def test_an_empty_app_lists_no_users(self):
        app = self.create_app()
        st, _, page = self.req("GET", f"/v1/apps/{app['appId']}/users", token=app["restApiKey"])
        self.assertEqual(st, 200, page)
        self.assertEqual(page, {"data": [], "next": None})

    def test_limit_must_be_an_integer_from_1_to_100(self):
        for value in ("0", "101", "-5", "abc", "", "1.5", "1e1", "99999999999999999999"):
            with self.subTest(limit=value):
                self.assertError(self.req("GET", f"{self.base}?limit={value}", token=self.key),
                                 400, "ERR_BAD_REQUEST", field="limit")
        self.assertEqual(len(self.req("GET", f"{self.base}?limit=100", token=self.key)[2]
                             ["data"]), 35)

    def test_a_garbage_cursor_is_rejected_by_name(self):
        for value in ("garbage", "%21%21%21", "x" * 500, "%7B%7D", "%FF%FE"):
            with self.subTest(cursor=value):
                self.assertError(self.req("GET", f"{self.base}?cursor={value}", token=self.key),
                                 400, "ERR_BAD_REQUEST", field="cursor")

    def test_a_cursor_from_another_list_does_not_leak_data(self):
        # A cursor is opaque; one from the apps list used on users gives 400 or a valid page.
        st, _, page = self.req("GET", "/v1/apps?limit=1", token=self.master)
        if page["next"] is None:
            self.create_app()
            st, _, page = self.req("GET", "/v1/apps?limit=1", token=self.master)
        st, _, data = self.req("GET", f"{self.base}?cursor={q(page['next'])}", token=self.key)
        self.assertIn(st, (200, 400), data)
        if st == 200:
            for u in data["data"]:
                self.assertIn(u["uid"], self.uids)


class UserUpdateDeleteTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("update")
        self.base = f"/v1/apps/{self.app['appId']}/users"
        self.key = self.app["restApiKey"]
        self.user = self.create_user(self.app, "pat", "Pat", avatar="https://a/p.png",
                                     metadata={"k": "v"})

    def patch(self, body, uid="pat"):
        return self.req("PATCH", f"{self.base}/{uid}", body, token=self.key)

    def get(self, uid="pat"):
        return self.req("GET", f"{self.base}/{uid}", token=self.key)

    def test_patch_changes_only_the_given_fields(self):
        st, _, got = self.patch({"name": "Patricia"})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["name"], "Patricia")
        self.assertEqual(got["avatar"], "https://a/p.png")
        self.assertEqual(got["metadata"], {"k": "v"})
        self.assertEqual(got["createdAt"], self.user["createdAt"])
        self.assertGreaterEqual(got["updatedAt"], self.user["updatedAt"])
        self.assertEqual(self.get()[2], got)

        st, _, got = self.patch({"metadata": {"other": 1}})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["metadata"], {"other": 1})
        self.assertEqual(got["name"], "Patricia")

        st, _, got = self.patch({"avatar": "https://a/q.png"})
        self.assertEqual(got["avatar"], "https://a/q.png")
        self.assertEqual(got["metadata"], {"other": 1})

    def test_patch_avatar_null_clears_it(self):
        st, _, got = self.patch({"avatar": None})
        self.assertEqual(st, 200, got)
        self.assertIsNone(got["avatar"])
        self.assertIsNone(self.get()[2]["avatar"])
        self.assertEqual(self.get()[2]["name"], "Pat")

    def test_patch_updates_updated_at(self):
        # updatedAt moves forward once the clock has moved.
        start = self.user["updatedAt"]
        deadline = time.time() + 2
        while int(time.time() * 1000) <= start + 1 and time.time() < deadline:
            time.sleep(0.005)
        st, _, got = self.patch({"name": "Later"})
        self.assertEqual(st, 200, got)
        self.assertGreater(got["updatedAt"], start)
        self.assertEqual(got["createdAt"], self.user["createdAt"])

    def test_an_empty_patch_changes_nothing(self):
        st, _, got = self.patch({})
        self.assertEqual(st, 200, got)
        for k in ("uid", "name", "avatar", "metadata", "createdAt"):
            self.assertEqual(got[k], self.user[k])

    def test_patch_ignores_uid_and_unknown_fields(self):
        st, _, got = self.patch({"uid": "other", "createdAt": 1, "shoe": 42, "name": "P2"})
        self.assertEqual(st, 200, got)
        self.assertEqual(got["uid"], "pat")
        self.assertEqual(got["name"], "P2")
        self.assertEqual(got["createdAt"], self.user["createdAt"])
        self.assertError(self.get("other"), 404, "ERR_NOT_FOUND")

    def test_patch_rejects_bad_fields_and_changes_nothing(self):
        for body, field in (({"name": ""}, "name"), ({"name": None}, "name"),
                            ({"name": 3}, "name"), ({"name": "n" * 201}, "name"),
                            ({"avatar": 5}, "avatar"), ({"avatar": "a" * 2049}, "avatar"),
                            ({"metadata": []}, "metadata"), ({"metadata": "x"}, "metadata"),
                            ({"metadata": None}, "metadata"),
                            ({"metadata": {"k": "x" * 5000}}, "metadata"),
                            ({"name": "ok", "avatar": 5}, "avatar")):
            with self.subTest(body=body):
                self.assertError(self.patch(body), 400, "ERR_BAD_REQUEST", field=field)
                self.assertEqual(self.get()[2], self.user)

    def test_patch_unknown_user_is_404(self):
        self.assertError(self.patch({"name": "x"}, uid="ghost"), 404, "ERR_NOT_FOUND")
        self.assertError(self.get("ghost"), 404, "ERR_NOT_FOUND")

    def test_delete_removes_the_user_and_a_second_delete_is_404(self):
        st, headers, data = self.req("DELETE", f"{self.base}/pat", token=self.key)
        self.assertEqual(st, 204, data)
        self.assertEqual(data, "")
        self.assertError(self.get(), 404, "ERR_NOT_FOUND")
        self.assertEqual(self.users_of(self.app), [])
        self.assertError(self.req("DELETE", f"{self.base}/pat", token=self.key),
                         404, "ERR_NOT_FOUND")

    def test_a_deleted_uid_can_be_created_again_fresh(self):
        self.assertEqual(self.req("DELETE", f"{self.base}/pat", token=self.key)[0], 204)
        user = self.create_user(self.app, "pat", "New Pat")
        self.assertEqual(user["name"], "New Pat")
        self.assertIsNone(user["avatar"])
        self.assertEqual(user["metadata"], {})

    def test_delete_revokes_the_users_tokens_even_after_the_uid_is_reused(self):
        minted = self.mint_token(self.app, "pat")
        st, _, login = self.req("POST", f"/v1/apps/{self.app['appId']}/login",
                                {"uid": "pat", "authKey": self.app["authKey"]})
        self.assertEqual(st, 200, login)
        me = f"/v1/apps/{self.app['appId']}/me"
        for tok in (minted, login["authToken"]):
            self.assertEqual(self.req("GET", me, token=tok)[0], 200)
        self.assertEqual(self.req("DELETE", f"{self.base}/pat", token=self.key)[0], 204)
        for tok in (minted, login["authToken"]):
            self.assertError(self.req("GET", me, token=tok), 401, "ERR_UNAUTHORIZED")
        self.create_user(self.app, "pat")
        for tok in (minted, login["authToken"]):
            self.assertError(self.req("GET", me, token=tok), 401, "ERR_UNAUTHORIZED")

    def test_delete_removes_the_user_from_groups(self):
        self.create_user(self.app, "sam")
        self.create_group(self.app, "team", ["pat", "sam"])
        self.create_group(self.app, "solo", ["pat"])
        self.assertEqual(self.req("DELETE", f"{self.base}/pat", token=self.key)[0], 204)
        g = f"/v1/apps/{self.app['appId']}/groups"
        self.assertEqual(self.req("GET", f"{g}/team", token=self.key)[2]["members"], ["sam"])
        self.assertEqual(self.req("GET", f"{g}/solo", token=self.key)[2]["members"], [])
        # Re-creating the uid does not bring the membership back.
        self.create_user(self.app, "pat")
        self.assertEqual(self.req("GET", f"{g}/team", token=self.key)[2]["members"], ["sam"])

    def test_delete_leaves_other_users_alone(self):
        self.create_user(self.app, "keep")
        tok = self.mint_token(self.app, "keep")
        self.assertEqual(self.req("DELETE", f"{self.base}/pat", token=self.key)[0], 204)
        self.assertEqual(self.get("keep")[0], 200)
        st, _, me = self.req("GET", f"/v1/apps/{self.app['appId']}/me", token=tok)
        self.assertEqual(st, 200, me)
        self.assertEqual(me["uid"], "keep")


if __name__ == "__main__":
    unittest.main()
