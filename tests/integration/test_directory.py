"""The directory a client reads with a user's auth token: the app's users, and the groups
that user is a member of. Changing users and groups still needs the app's keys."""

import time
import unittest
import urllib.parse

from harness import ServerTestCase, q


class DirectoryTestCase(ServerTestCase):
    def setUp(self):
        self.app = self.create_app("directory")
        self.a = self.app["appId"]
        self.key = self.app["restApiKey"]
        self.users = f"/v1/apps/{self.a}/users"
        self.groups = f"/v1/apps/{self.a}/groups"

    def page(self, path, token, limit=None, cursor=None):
        params = {}
        if limit is not None:
            params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        return self.assertStatus(self.req("GET", url, token=token), 200)


class UserDirectoryTest(DirectoryTestCase):
    def test_a_user_lists_every_user_of_the_app_page_by_page(self):
        uids = [f"u{i:02d}" for i in range(7)]
        for uid in reversed(uids):
            self.create_user(self.app, uid, metadata={"n": uid})
        tok = self.mint_token(self.app, "u03")
        seen, cursor, pages = [], None, 0
        while True:
            data = self.page(self.users, tok, limit=3, cursor=cursor)
            self.assertLessEqual(len(data["data"]), 3)
            seen.extend(data["data"])
            pages += 1
            cursor = data["next"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
        self.assertEqual(pages, 3)
        self.assertEqual([u["uid"] for u in seen], uids)
        # The same objects the app's backend reads with its REST key.
        self.assertEqual(seen, self.list_all(self.users, self.key))
        self.assertEqual(seen[0]["metadata"], {"n": "u00"})

    def test_paging_with_a_token_neither_repeats_nor_skips_while_users_change(self):
        for uid in ("b", "d", "f", "h"):
            self.create_user(self.app, uid)
        tok = self.mint_token(self.app, "b")
        first = self.page(self.users, tok, limit=2)
        self.assertEqual([u["uid"] for u in first["data"]], ["b", "d"])
        # Before the cursor: not seen on later pages; after it: seen.
        self.create_user(self.app, "a")
        self.create_user(self.app, "e")
        self.assertStatus(self.req("DELETE", f"{self.users}/f", token=self.key), 204)
        rest = self.page(self.users, tok, limit=100, cursor=first["next"])
        self.assertEqual([u["uid"] for u in rest["data"]], ["e", "h"])
        self.assertIsNone(rest["next"])

    def test_limit_and_cursor_are_checked_for_tokens_as_for_keys(self):
        for uid in ("x1", "x2"):
            self.create_user(self.app, uid)
        tok = self.mint_token(self.app, "x1")
        for bad in ("0", "101", "-1", "abc", "1.5"):
            with self.subTest(limit=bad):
                self.assertError(self.req("GET", f"{self.users}?limit={bad}", token=tok),
                                 400, "ERR_BAD_REQUEST", field="limit")
        self.assertError(self.req("GET", f"{self.users}?cursor=not-a-cursor!", token=tok),
                         400, "ERR_BAD_REQUEST", field="cursor")
        one = self.page(self.users, tok, limit=1)
        self.assertEqual([u["uid"] for u in one["data"]], ["x1"])
        self.assertIsNotNone(one["next"])
        hundred = self.page(self.users, tok, limit=100)
        self.assertEqual([u["uid"] for u in hundred["data"]], ["x1", "x2"])
        self.assertIsNone(hundred["next"])
        # Without a limit: the default page (30) holds both.
        self.assertEqual(len(self.page(self.users, tok)["data"]), 2)

    def test_a_user_reads_one_user(self):
        self.create_user(self.app, "me")
        self.create_user(self.app, "bob@example.com", "Bob", avatar="https://x/b.png")
        tok = self.mint_token(self.app, "me")
        bob = self.assertStatus(
            self.req("GET", f"{self.users}/{q('bob@example.com')}", token=tok), 200)
        self.assertEqual(bob["uid"], "bob@example.com")
        self.assertEqual(bob["name"], "Bob")
        self.assertEqual(bob["avatar"], "https://x/b.png")
        self.assertEqual(bob, self.req("GET", f"{self.users}/bob@example.com",
                                       token=self.key)[2])
        self.assertEqual(self.req("GET", f"{self.users}/me", token=tok)[0], 200)

    def test_an_unknown_uid_is_404_and_a_malformed_one_400(self):
        self.create_user(self.app, "me")
        tok = self.mint_token(self.app, "me")
        self.assertError(self.req("GET", f"{self.users}/nobody", token=tok),
                         404, "ERR_NOT_FOUND")
        self.assertError(self.req("GET", f"{self.users}/{q('a b')}", token=tok),
                         400, "ERR_BAD_REQUEST", field="uid")

    def test_a_token_of_one_app_never_sees_another_apps_users(self):
        other = self.create_app("other")
        self.create_user(other, "theirs")
        self.create_user(self.app, "mine")
        tok = self.mint_token(self.app, "mine")
        theirs = f"/v1/apps/{other['appId']}"
        for path in (f"{theirs}/users", f"{theirs}/users/theirs", f"{theirs}/users/mine",
                     f"{theirs}/groups"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path, token=tok), 404, "ERR_NOT_FOUND")
        # Exactly as for an app that does not exist.
        self.assertError(self.req("GET", "/v1/apps/nosuchapp/users", token=tok),
                         404, "ERR_NOT_FOUND")
        self.assertEqual([u["uid"] for u in self.list_all(self.users, tok)], ["mine"])
        self.assertError(self.req("GET", f"{self.users}/theirs", token=tok),
                         404, "ERR_NOT_FOUND")

    def test_a_token_cannot_create_change_or_delete_users(self):
        self.create_user(self.app, "me", "Me")
        self.create_user(self.app, "you", "You")
        tok = self.mint_token(self.app, "me")
        for method, path, body in (
                ("POST", self.users, {"uid": "new", "name": "New"}),
                ("PATCH", f"{self.users}/me", {"name": "Changed"}),
                ("PATCH", f"{self.users}/you", {"name": "Changed"}),
                ("DELETE", f"{self.users}/you", None),
                ("DELETE", f"{self.users}/me", None),
                ("POST", f"{self.users}/you/auth_tokens", {}),
                ("DELETE", f"{self.users}/you/auth_tokens", None)):
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body, token=tok), 403, "ERR_FORBIDDEN")
        users = self.list_all(self.users, self.key)
        self.assertEqual([(u["uid"], u["name"]) for u in users], [("me", "Me"), ("you", "You")])
        self.assertEqual(self.req("GET", f"/v1/apps/{self.a}/me", token=tok)[0], 200)

    def test_a_login_token_reads_the_directory_too(self):
        self.create_user(self.app, "alice")
        self.create_user(self.app, "bob")
        login = self.assertStatus(
            self.req("POST", f"/v1/apps/{self.a}/login",
                     {"uid": "alice", "authKey": self.app["authKey"]}), 200)
        tok = login["authToken"]
        self.assertEqual([u["uid"] for u in self.list_all(self.users, tok)], ["alice", "bob"])

    def test_a_revoked_expired_or_orphaned_token_is_401(self):
        for uid in ("me", "you", "gone"):
            self.create_user(self.app, uid)
        self.create_group(self.app, "g", ["me", "you", "gone"])
        revoked = self.mint_token(self.app, "me")
        logged_out = self.mint_token(self.app, "you")
        orphaned = self.mint_token(self.app, "gone")
        expired = self.mint_token(self.app, "you", ttl=1)
        paths = (self.users, f"{self.users}/me", self.groups, f"{self.groups}/g")
        for tok in (revoked, logged_out, orphaned, expired):
            for path in paths:
                self.assertEqual(self.req("GET", path, token=tok)[0], 200, path)
        self.assertStatus(self.req("DELETE", f"{self.users}/me/auth_tokens", token=self.key),
                          200)
        self.assertStatus(self.req("POST", f"/v1/apps/{self.a}/logout", token=logged_out), 204)
        self.assertStatus(self.req("DELETE", f"{self.users}/gone", token=self.key), 204)
        time.sleep(1.2)
        for name, tok in (("revoked", revoked), ("logged out", logged_out),
                          ("user deleted", orphaned), ("expired", expired)):
            for path in paths:
                with self.subTest(token=name, path=path):
                    self.assertError(self.req("GET", path, token=tok), 401,
                                     "ERR_UNAUTHORIZED")


class GroupDirectoryTest(DirectoryTestCase):
    def setUp(self):
        super().setUp()
        for uid in ("me", "ann", "ben", "loner"):
            self.create_user(self.app, uid)

    def guids(self, token, **kw):
        return [g["guid"] for g in self.list_all(self.groups, token, **kw)]

    def test_a_token_lists_only_the_groups_its_user_is_in(self):
        self.create_group(self.app, "g1", ["me", "ann"])
        self.create_group(self.app, "g2", ["ann", "ben"])
        self.create_group(self.app, "g3", ["me"])
        self.create_group(self.app, "g4", [])
        me, ann = self.mint_token(self.app, "me"), self.mint_token(self.app, "ann")
        mine = self.list_all(self.groups, me)
        self.assertEqual([g["guid"] for g in mine], ["g1", "g3"])
        # Each group with all its members, as the REST key reads it.
        everything = {g["guid"]: g for g in self.list_all(self.groups, self.key)}
        self.assertEqual(mine, [everything["g1"], everything["g3"]])
        self.assertEqual(mine[0]["members"], ["ann", "me"])
        self.assertEqual(self.guids(ann), ["g1", "g2"])
        self.assertEqual(sorted(everything), ["g1", "g2", "g3", "g4"])
        # The master key, like the REST key, sees every group.
        self.assertEqual(self.guids(self.master), ["g1", "g2", "g3", "g4"])

    def test_a_user_in_no_group_gets_an_empty_list(self):
        self.create_group(self.app, "g1", ["me"])
        data = self.page(self.groups, self.mint_token(self.app, "loner"))
        self.assertEqual(data, {"data": [], "next": None})

    def test_member_filtered_pages_neither_repeat_nor_skip(self):
        # me is in every third of 30 groups; the pages must hold exactly those.
        want = []
        for i in range(30):
            guid = f"g{i:02d}"
            members = ["ann"]
            if i % 3 == 0:
                members.append("me")
                want.append(guid)
            self.create_group(self.app, guid, members)
        tok = self.mint_token(self.app, "me")
        got, cursor, sizes = [], None, []
        while True:
            data = self.page(self.groups, tok, limit=4, cursor=cursor)
            sizes.append(len(data["data"]))
            got.extend(g["guid"] for g in data["data"])
            cursor = data["next"]
            if cursor is None:
                break
        self.assertEqual(got, want)
        self.assertEqual(sizes, [4, 4, 2])
        # A page that ends on the user's last group says so (no empty page after it).
        last = self.page(self.groups, tok, limit=10)
        self.assertEqual(len(last["data"]), 10)
        self.assertIsNone(last["next"])

    def test_paging_follows_membership_changes_after_the_cursor(self):
        for guid in ("a", "c", "e", "g"):
            self.create_group(self.app, guid, ["me"])
        tok = self.mint_token(self.app, "me")
        first = self.page(self.groups, tok, limit=2)
        self.assertEqual([g["guid"] for g in first["data"]], ["a", "c"])
        self.assertIsNotNone(first["next"])
        # Joined after the cursor: listed; left: gone; joined before it: not on this walk.
        self.create_group(self.app, "f", ["ann", "me"])
        self.create_group(self.app, "b", ["me"])
        self.assertStatus(self.req("DELETE", f"{self.groups}/e/members/me", token=self.key),
                          204)
        rest = self.page(self.groups, tok, limit=100, cursor=first["next"])
        self.assertEqual([g["guid"] for g in rest["data"]], ["f", "g"])
        self.assertIsNone(rest["next"])

    def test_limit_and_cursor_are_checked_on_the_filtered_list(self):
        tok = self.mint_token(self.app, "me")
        for bad in ("0", "101", "x"):
            with self.subTest(limit=bad):
                self.assertError(self.req("GET", f"{self.groups}?limit={bad}", token=tok),
                                 400, "ERR_BAD_REQUEST", field="limit")
        self.assertError(self.req("GET", f"{self.groups}?cursor=%25%25", token=tok),
                         400, "ERR_BAD_REQUEST", field="cursor")

    def test_a_member_reads_the_group_and_anyone_else_gets_404(self):
        self.create_group(self.app, "club", ["me", "ann"])
        me, ben = self.mint_token(self.app, "me"), self.mint_token(self.app, "ben")
        club = self.assertStatus(self.req("GET", f"{self.groups}/club", token=me), 200)
        self.assertEqual(club, self.req("GET", f"{self.groups}/club", token=self.key)[2])
        self.assertEqual(club["members"], ["ann", "me"])
        # Not a member: exactly the answer for a group that does not exist.
        outside = self.req("GET", f"{self.groups}/club", token=ben)
        self.assertError(outside, 404, "ERR_NOT_FOUND")
        missing = self.req("GET", f"{self.groups}/no-such-group", token=ben)
        self.assertError(missing, 404, "ERR_NOT_FOUND")
        self.assertEqual(outside[2], missing[2])
        self.assertError(self.req("GET", f"{self.groups}/{q('bad guid')}", token=ben),
                         400, "ERR_BAD_REQUEST", field="guid")
        # Membership is read at each request.
        self.assertStatus(self.req("POST", f"{self.groups}/club/members", {"uids": ["ben"]},
                                   token=self.key), 200)
        self.assertEqual(self.req("GET", f"{self.groups}/club", token=ben)[0], 200)
        self.assertEqual(self.guids(ben), ["club"])
        self.assertStatus(self.req("DELETE", f"{self.groups}/club/members/me", token=self.key),
                          204)
        self.assertError(self.req("GET", f"{self.groups}/club", token=me), 404, "ERR_NOT_FOUND")
        self.assertEqual(self.guids(me), [])

    def test_a_token_cannot_change_groups(self):
        self.create_group(self.app, "club", ["me"])
        tok = self.mint_token(self.app, "me")
        for method, path, body in (
                ("POST", self.groups, {"guid": "new", "name": "N", "members": ["me"]}),
                ("DELETE", f"{self.groups}/club", None),
                ("POST", f"{self.groups}/club/members", {"uids": ["ann"]}),
                ("DELETE", f"{self.groups}/club/members/me", None)):
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, body, token=tok), 403, "ERR_FORBIDDEN")
        self.assertEqual(self.guids(self.key), ["club"])
        self.assertEqual(self.req("GET", f"{self.groups}/club", token=self.key)[2]["members"],
                         ["me"])

    def test_a_token_of_another_app_gets_404_for_this_apps_groups(self):
        self.create_group(self.app, "club", ["me"])
        other = self.create_app("other")
        self.create_user(other, "me")
        self.create_group(other, "club", ["me"])
        theirs = self.mint_token(other, "me")
        for path in (self.groups, f"{self.groups}/club"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path, token=theirs), 404, "ERR_NOT_FOUND")
        # Their own app's group of the same guid is theirs to read.
        self.assertEqual(
            self.req("GET", f"/v1/apps/{other['appId']}/groups/club", token=theirs)[0], 200)


if __name__ == "__main__":
    unittest.main()
