"""Groups: create with members, read, list, delete, add and remove members."""

import unittest

from harness import ServerTestCase, q


class GroupsTest(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("groups")
        self.key = self.app["restApiKey"]
        self.base = f"/v1/apps/{self.app['appId']}/groups"
        for uid in ("ann", "ben", "cy", "dee"):
            self.create_user(self.app, uid)

    def get(self, guid):
        return self.req("GET", f"{self.base}/{guid}", token=self.key)

    def test_create_group_returns_members_ascending(self):
        st, _, g = self.req("POST", self.base,
                            {"guid": "team", "name": "Team", "members": ["cy", "ann", "ben"]},
                            token=self.key)
        self.assertEqual(st, 201, g)
        self.assertEqual(set(g), {"guid", "name", "members", "createdAt"})
        self.assertEqual(g["guid"], "team")
        self.assertEqual(g["name"], "Team")
        self.assertEqual(g["members"], ["ann", "ben", "cy"])
        self.assertIsInstance(g["createdAt"], int)
        self.assertEqual(self.get("team")[2], g)

    def test_create_group_without_members_is_empty(self):
        g = self.create_group(self.app, "empty")
        self.assertEqual(g["members"], [])
        g = self.create_group(self.app, "empty2", [])
        self.assertEqual(g["members"], [])

    def test_a_member_listed_twice_appears_once(self):
        st, _, g = self.req("POST", self.base,
                            {"guid": "twice", "name": "T", "members": ["ben", "ann", "ben"]},
                            token=self.key)
        if st == 201:
            self.assertEqual(g["members"], ["ann", "ben"])
        else:
            self.assertError((st, None, g), 400, "ERR_BAD_REQUEST", field="members")

    def test_an_unknown_member_is_404_naming_it_and_nothing_is_created(self):
        self.assertError(self.req("POST", self.base,
                                  {"guid": "bad", "name": "B", "members": ["ann", "zed"]},
                                  token=self.key), 404, "ERR_NOT_FOUND", field="zed")
        self.assertError(self.get("bad"), 404, "ERR_NOT_FOUND")
        self.assertEqual(self.groups_of(self.app), [])
        # The guid is still free.
        self.create_group(self.app, "bad", ["ann"])

    def test_members_must_exist_in_this_app(self):
        other = self.create_app()
        self.create_user(other, "outsider")
        self.assertError(self.req("POST", self.base,
                                  {"guid": "x", "name": "X", "members": ["outsider"]},
                                  token=self.key), 404, "ERR_NOT_FOUND", field="outsider")
        self.assertEqual(self.groups_of(self.app), [])

    def test_an_existing_guid_is_409_and_the_group_is_unchanged(self):
        orig = self.create_group(self.app, "dup", ["ann"], name="First")
        self.assertError(self.req("POST", self.base,
                                  {"guid": "dup", "name": "Second", "members": ["ben"]},
                                  token=self.key), 409, "ERR_CONFLICT")
        self.assertEqual(self.get("dup")[2], orig)

    def test_guid_and_uid_namespaces_are_separate_and_guids_case_sensitive(self):
        self.create_group(self.app, "ann", ["ann"])
        self.create_group(self.app, "Team")
        self.create_group(self.app, "team")
        self.assertEqual(self.get("Team")[2]["guid"], "Team")
        self.assertEqual(self.get("team")[2]["guid"], "team")

    def test_bad_group_bodies_are_rejected_by_field_and_create_nothing(self):
        cases = [
            ({"name": "n"}, "guid"),
            ({"guid": "", "name": "n"}, "guid"),
            ({"guid": "g" * 101, "name": "n"}, "guid"),
            ({"guid": "a b", "name": "n"}, "guid"),
            ({"guid": "a/b", "name": "n"}, "guid"),
            ({"guid": 7, "name": "n"}, "guid"),
            ({"guid": "g"}, "name"),
            ({"guid": "g", "name": ""}, "name"),
            ({"guid": "g", "name": "n" * 201}, "name"),
            ({"guid": "g", "name": 1}, "name"),
            ({"guid": "g", "name": "n", "members": "ann"}, "members"),
            ({"guid": "g", "name": "n", "members": {"ann": 1}}, "members"),
            ({"guid": "g", "name": "n", "members": [1]}, "members"),
            ({"guid": "g", "name": "n", "members": ["ann", None]}, "members"),
            ({"guid": "g", "name": "n", "members": ["a b"]}, "members"),
            ({"guid": "g", "name": "n", "members": [""]}, "members"),
            ({"guid": "g", "name": "n", "members": ["x" * 101]}, "members"),
            ({"guid": "g", "name": "n", "members": [["ann"]]}, "members"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertError(self.req("POST", self.base, body, token=self.key),
                                 400, "ERR_BAD_REQUEST", field=field)
        self.assertEqual(self.groups_of(self.app), [])
        self.assertStillServing()

    def test_a_group_name_of_200_characters_and_a_guid_of_100_are_accepted(self):
        g = self.create_group(self.app, "g" * 100, name="n" * 200)
        self.assertEqual(self.get("g" * 100)[2], g)

    def test_list_groups_pages_ascending_by_guid(self):
        guids = [f"g{i:02d}" for i in range(33)]
        for guid in reversed(guids):
            self.create_group(self.app, guid, ["ann"])
        st, _, page = self.req("GET", self.base, token=self.key)
        self.assertEqual(st, 200, page)
        self.assertEqual([g["guid"] for g in page["data"]], guids[:30])
        self.assertIsNotNone(page["next"])
        self.assertEqual(page["data"][0]["members"], ["ann"])
        for limit in (1, 4, 33, 100):
            with self.subTest(limit=limit):
                self.assertEqual([g["guid"] for g in self.list_all(self.base, self.key, limit)],
                                 guids)

    def test_list_groups_rejects_a_bad_limit_or_cursor(self):
        for value in ("0", "101", "x", "-1"):
            with self.subTest(limit=value):
                self.assertError(self.req("GET", f"{self.base}?limit={value}", token=self.key),
                                 400, "ERR_BAD_REQUEST", field="limit")
        self.assertError(self.req("GET", f"{self.base}?cursor=%21bogus", token=self.key),
                         400, "ERR_BAD_REQUEST", field="cursor")

    def test_an_empty_app_lists_no_groups(self):
        st, _, page = self.req("GET", self.base, token=self.key)
        self.assertEqual(st, 200, page)
        self.assertEqual(page, {"data": [], "next": None})

    def test_get_unknown_group_is_404_and_bad_guid_in_path_is_400(self):
        self.assertError(self.get("nope"), 404, "ERR_NOT_FOUND")
        self.assertError(self.get(q("a b")), 400, "ERR_BAD_REQUEST", field="guid")
        self.assertError(self.get("g" * 101), 400, "ERR_BAD_REQUEST", field="guid")

    def test_delete_group_then_it_is_gone_and_its_members_remain_users(self):
        self.create_group(self.app, "gone", ["ann", "ben"])
        st, _, data = self.req("DELETE", f"{self.base}/gone", token=self.key)
        self.assertEqual(st, 204, data)
        self.assertEqual(data, "")
        self.assertError(self.get("gone"), 404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/gone", token=self.key),
                         404, "ERR_NOT_FOUND")
        self.assertEqual(len(self.users_of(self.app)), 4)
        # The guid can be used again, without the old members.
        self.assertEqual(self.create_group(self.app, "gone")["members"], [])

    def test_add_members_returns_the_group_and_accepts_existing_members(self):
        self.create_group(self.app, "club", ["ben"])
        st, _, g = self.req("POST", f"{self.base}/club/members", {"uids": ["dee", "ann", "ben"]},
                            token=self.key)
        self.assertEqual(st, 200, g)
        self.assertEqual(g["members"], ["ann", "ben", "dee"])
        self.assertEqual(g["guid"], "club")
        self.assertEqual(self.get("club")[2]["members"], ["ann", "ben", "dee"])
        st, _, g = self.req("POST", f"{self.base}/club/members", {"uids": ["ann"]},
                            token=self.key)
        self.assertEqual(st, 200, g)
        self.assertEqual(g["members"], ["ann", "ben", "dee"])

    def test_add_members_with_an_unknown_uid_adds_nobody(self):
        self.create_group(self.app, "club", ["ben"])
        self.assertError(self.req("POST", f"{self.base}/club/members", {"uids": ["ann", "zed"]},
                                  token=self.key), 404, "ERR_NOT_FOUND", field="zed")
        self.assertEqual(self.get("club")[2]["members"], ["ben"])

    def test_add_members_to_an_unknown_group_is_404(self):
        self.assertError(self.req("POST", f"{self.base}/nogroup/members", {"uids": ["ann"]},
                                  token=self.key), 404, "ERR_NOT_FOUND")
        self.assertError(self.get("nogroup"), 404, "ERR_NOT_FOUND")

    def test_add_members_rejects_a_bad_uids_field(self):
        self.create_group(self.app, "club", ["ben"])
        for body in ({}, {"uids": "ann"}, {"uids": [1]}, {"uids": ["a b"]}, {"uids": None},
                     {"members": ["ann"]}):
            with self.subTest(body=body):
                self.assertError(self.req("POST", f"{self.base}/club/members", body,
                                          token=self.key), 400, "ERR_BAD_REQUEST", field="uids")
        self.assertEqual(self.get("club")[2]["members"], ["ben"])

    def test_remove_member_then_not_a_member_is_404(self):
        self.create_group(self.app, "club", ["ann", "ben"])
        st, _, data = self.req("DELETE", f"{self.base}/club/members/ann", token=self.key)
        self.assertEqual(st, 204, data)
        self.assertEqual(self.get("club")[2]["members"], ["ben"])
        self.assertError(self.req("DELETE", f"{self.base}/club/members/ann", token=self.key),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/club/members/cy", token=self.key),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/club/members/nobody", token=self.key),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/nogroup/members/ben", token=self.key),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("DELETE", f"{self.base}/club/members/{q('a b')}",
                                  token=self.key), 400, "ERR_BAD_REQUEST", field="uid")
        self.assertEqual(self.get("club")[2]["members"], ["ben"])
        # The removed member is still a user.
        self.assertEqual(self.req("GET", f"/v1/apps/{self.app['appId']}/users/ann",
                                  token=self.key)[0], 200)

    def test_group_routes_need_this_apps_rest_key_or_the_master_key(self):
        # A member may read their groups with an auth token (test_directory.py); every
        # change needs a key.
        self.create_group(self.app, "club", ["ann"])
        other = self.create_app()
        tok = self.mint_token(self.app, "ann")
        writes = [("POST", self.base, {"guid": "new", "name": "n"}),
                  ("DELETE", f"{self.base}/club", None),
                  ("POST", f"{self.base}/club/members", {"uids": ["ben"]}),
                  ("DELETE", f"{self.base}/club/members/ann", None)]
        routes = [("GET", self.base, None), ("GET", f"{self.base}/club", None)] + writes
        for method, path, body in routes:
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body), 401, "ERR_UNAUTHORIZED")
                self.assertError(self.req(method, path, body, token="rk_bogus"),
                                 401, "ERR_UNAUTHORIZED")
                self.assertError(self.req(method, path, body, token=other["restApiKey"]),
                                 404, "ERR_NOT_FOUND")
        for method, path, body in writes:
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body, token=tok), 403, "ERR_FORBIDDEN")
        self.assertEqual([g["guid"] for g in self.groups_of(self.app)], ["club"])
        self.assertEqual(self.get("club")[2]["members"], ["ann"])
        # The master key is a superuser.
        self.assertEqual(self.req("GET", f"{self.base}/club", token=self.master)[0], 200)
        self.assertEqual(self.req("POST", f"{self.base}/club/members", {"uids": ["ben"]},
                                  token=self.master)[0], 200)
        self.assertEqual(self.req("DELETE", f"{self.base}/club", token=self.master)[0], 204)


if __name__ == "__main__":
    unittest.main()
