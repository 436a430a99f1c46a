"""The client commands of `callwire` (login, listen, call, accept, reject, cancel, end, get,
active, logs, logout), run as two users at two terminals would run them, against a live
server.

Long-running commands (`listen`, `call --wait`) are started in the background; their stdout
is read line by line with a deadline (select on the pipe), never with fixed sleeps. Every
process a test starts is killed at its end."""

import json
import os
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import sound
from harness import ServerTestCase, callwire_bin, free_port, wait_until

CLEAN_ENV = ("CALLWIRE_MASTER_KEY", "CALLWIRE_LISTEN", "CALLWIRE_DATA", "CALLWIRE_KEY",
             "CALLWIRE_SERVER", "CALLWIRE_CONFIG", "CALLWIRE_SESSION", "XDG_CONFIG_HOME")

EVENT_DEADLINE = 15.0  # seconds to wait for one line of a background command
EXIT_DEADLINE = 20.0  # seconds for a background command to exit once it should

# The exit codes docs/cli.md documents.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LOGIN = 0, 1, 2, 3
EXIT_REJECTED, EXIT_BUSY, EXIT_UNANSWERED, EXIT_CANCELLED = 10, 11, 12, 13


class Background:
    """One command running in the background: its stdout is read as JSON lines."""

    def __init__(self, args, env, cwd, stderr_path):
        self.args = args
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        self._buf = b""
        self._eof = False
        self.lines = []  # every line read, parsed
        self._unread = []  # lines read but not yet matched by expect()

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _read_line(self, deadline):
        while b"\n" not in self._buf:
            if self._eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                self._eof = True
                continue
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        text = line.decode("utf-8", "replace")
        try:
            obj = json.loads(text)
        except ValueError:
            raise AssertionError(f"{self.args[1]}: stdout line is not JSON: {text!r}")
        self.lines.append(obj)
        return obj

    def expect(self, what, pred=lambda o: True, timeout=EVENT_DEADLINE):
        """The first line not matched yet for which pred holds (waiting for it)."""
        for i, obj in enumerate(self._unread):
            if pred(obj):
                return self._unread.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            obj = self._read_line(deadline)
            if obj is None:
                raise AssertionError(
                    f"{' '.join(self.args[1:2])}: no line with {what} within {timeout} s "
                    f"(exit={self.proc.poll()})\nlines: {self.lines}\nstderr: {self.stderr()}")
            if pred(obj):
                return obj
            self._unread.append(obj)

    def event(self, name, sid=None, timeout=EVENT_DEADLINE):
        """The next `listen` line of this event (about this session id)."""
        def match(o):
            if o.get("event") != name:
                return False
            return sid is None or (o.get("call") or {}).get("sessionId") == sid
        return self.expect(f"event {name} {sid or ''}", match, timeout)

    def wait(self, timeout=EXIT_DEADLINE):
        """Waits for the exit; returns the code after reading what is left on stdout."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.args[1:]} still running after {timeout} s\n"
                                 f"lines: {self.lines}\nstderr: {self.stderr()}")
        while True:
            obj = self._read_line(time.monotonic() + 5)
            if obj is None:
                return code
            self._unread.append(obj)

    def remaining(self):
        """Lines read by wait() (or earlier) that no expect() matched."""
        out, self._unread = self._unread, []
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()


class ClientCliTest(ServerTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="callwire-client-")
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.bg = []
        self.env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
        self.env["HOME"] = self.home
        self.app = self.create_app("cli client")
        for uid, name in (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")):
            self.create_user(self.app, uid, name)

    def tearDown(self):
        for b in self.bg:
            b.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # running the command --------------------------------------------------------------

    def session(self, uid):
        return os.path.join(self.tmp, f"{uid}.json")

    def argv(self, uid, args):
        args = [str(a) for a in args]
        if uid is not None:
            # Before the arguments, which may hold a "--".
            args[1:1] = ["--session", self.session(uid)]
        return [callwire_bin()] + args

    def run_cli(self, uid, *args, env=None, timeout=30):
        """Runs `callwire ARGS… --session <uid's file>` (no --session when uid is None).
        Returns (exit code, stdout, stderr)."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(self.argv(uid, args), env=e, cwd=self.tmp, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ok(self, uid, *args, **kw):
        rc, out, err = self.run_cli(uid, *args, **kw)
        self.assertEqual(rc, 0, f"callwire {args} as {uid}: rc={rc}\nstdout={out}\nstderr={err}")
        return out

    def ok_json(self, uid, *args):
        out = self.ok(uid, *args)
        try:
            return json.loads(out)
        except ValueError:
            self.fail(f"callwire {args}: stdout is not one JSON document: {out!r}")

    def fails(self, uid, *args, rc=EXIT_ERROR, **kw):
        got, out, err = self.run_cli(uid, *args, **kw)
        self.assertEqual(got, rc, f"callwire {args}: want exit {rc}, got {got}\n"
                                  f"stdout={out}\nstderr={err}")
        self.assertTrue(err.strip(), "no message on stderr")
        return err

    def act(self, uid, cmd, sid, *flags):
        """`callwire CMD [FLAGS] -- SID`: a session id may start with '-' (even '--')."""
        return self.ok_json(uid, cmd, *flags, "--", sid)

    def start(self, uid, *args):
        n = len(self.bg)
        b = Background(self.argv(uid, args), self.env, self.tmp,
                       os.path.join(self.tmp, f"bg{n}.stderr"))
        self.bg.append(b)
        return b

    def login(self, uid):
        return self.ok(None, "login", "--server", self.server.base_url, "--app",
                       self.app["appId"], "--uid", uid, "--auth-key", self.app["authKey"],
                       "--session", self.session(uid))

    def listen(self, uid):
        """`callwire listen` as uid, once its connection is up."""
        b = self.start(uid, "listen")
        b.event("connected")
        return b

    def call_wait(self, caller, *args):
        """`callwire call ARGS --wait` as caller; returns (process, the initiated call)."""
        b = self.start(caller, "call", *args, "--wait")
        call = b.expect("the initiated call", lambda o: "sessionId" in o)
        return b, call

    def rest_call(self, uid, path="", body=None, method="POST"):
        token = self.mint_token(self.app, uid)
        url = f"/v1/apps/{self.app['appId']}/calls{path}"
        return self.assertStatus(self.req(method, url, body, token=token),
                                 201 if method == "POST" and not path else 200)

    def server_call(self, sid):
        return self.assertStatus(self.req("GET", f"/v1/apps/{self.app['appId']}/calls/{sid}",
                                          token=self.app["restApiKey"]), 200)

    def assertExit(self, b, want):
        got = b.wait()
        self.assertEqual(got, want, f"{b.args[1:]}: want exit {want}, got {got}\n"
                                    f"lines: {b.lines}\nstderr: {b.stderr()}")

    # login --------------------------------------------------------------------------------

    def test_login_with_the_auth_key_keeps_a_private_session_file(self):
        out = self.login("alice")
        self.assertIn("alice", out)
        self.assertEqual(stat.S_IMODE(os.stat(self.session("alice")).st_mode), 0o600)
        with open(self.session("alice")) as f:
            s = json.load(f)
        self.assertEqual((s["server"], s["appId"], s["user"]["uid"]),
                         (self.server.base_url, self.app["appId"], "alice"))
        self.assertEqual(self.ok("alice", "active").strip(), "null")

    def test_login_with_a_token(self):
        token = self.mint_token(self.app, "bob")
        out = self.ok(None, "login", "--server", self.server.base_url, "--app",
                      self.app["appId"], "--token", token, "--session", self.session("bob"))
        self.assertIn("bob", out)
        self.assertEqual(self.ok("bob", "active").strip(), "null")

    def test_the_default_session_file_is_under_the_config_folder(self):
        base = ["login", "--server", self.server.base_url, "--app", self.app["appId"],
                "--uid", "alice", "--auth-key", self.app["authKey"]]
        self.ok(None, *base)
        path = os.path.join(self.home, ".config", "callwire", "session.json")
        self.assertTrue(os.path.exists(path))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        self.assertEqual(self.ok(None, "active").strip(), "null")
        # $XDG_CONFIG_HOME, then $CALLWIRE_SESSION, take precedence.
        xdg = os.path.join(self.tmp, "xdg")
        self.ok(None, *base, env={"XDG_CONFIG_HOME": xdg})
        self.assertTrue(os.path.exists(os.path.join(xdg, "callwire", "session.json")))
        mine = os.path.join(self.tmp, "mine.json")
        self.ok(None, *base, env={"XDG_CONFIG_HOME": xdg, "CALLWIRE_SESSION": mine})
        self.assertTrue(os.path.exists(mine))
        self.assertEqual(self.ok(None, "active", env={"CALLWIRE_SESSION": mine}).strip(), "null")

    def test_wrong_credentials_are_refused_with_exit_3(self):
        err = self.fails(None, "login", "--server", self.server.base_url, "--app",
                         self.app["appId"], "--uid", "alice", "--auth-key", "ak_wrong",
                         "--session", self.session("alice"), rc=EXIT_LOGIN)
        self.assertIn("CW_ERR_UNAUTHORIZED", err)
        self.assertFalse(os.path.exists(self.session("alice")))

    def test_an_unreachable_server_fails_with_exit_1(self):
        err = self.fails(None, "login", "--server", f"http://127.0.0.1:{free_port()}",
                         "--app", self.app["appId"], "--uid", "alice", "--auth-key",
                         self.app["authKey"], "--session", self.session("alice"))
        self.assertIn("CW_ERR_", err)

    def test_logout_revokes_the_token_and_removes_the_session(self):
        self.login("alice")
        with open(self.session("alice")) as f:
            token = json.load(f)["authToken"]
        self.ok("alice", "logout")
        self.assertFalse(os.path.exists(self.session("alice")))
        st, _, _ = self.req("GET", f"/v1/apps/{self.app['appId']}/me", token=token)
        self.assertEqual(st, 401)
        err = self.fails("alice", "active", rc=EXIT_LOGIN)
        self.assertIn("callwire login", err)

    def test_a_command_without_a_session_tells_to_log_in(self):
        for args in (("active",), ("listen",), ("call", "bob"), ("logs",), ("get", "s1")):
            with self.subTest(args=args):
                err = self.fails("nobody", *args, rc=EXIT_LOGIN)
                self.assertIn("callwire login", err)
        err = self.fails(None, "active", rc=EXIT_LOGIN)  # the default file does not exist
        self.assertIn("callwire login", err)

    # ringing, two terminals ----------------------------------------------------------------

    def test_call_wait_exits_0_when_answered_and_listen_sees_every_step(self):
        self.login("alice")
        self.login("bob")
        bob = self.listen("bob")
        alice, call = self.call_wait("alice", "bob", "--video", "--metadata", '{"topic":"x"}')
        sid = call["sessionId"]
        self.assertEqual((call["status"], call["type"], call["receiver"]["uid"]),
                         ("initiated", "video", "bob"))
        ev = bob.event("incoming_call_received", sid)
        self.assertEqual(ev["call"]["initiator"]["uid"], "alice")
        self.assertEqual(ev["call"]["metadata"], {"topic": "x"})

        accepted = self.act("bob", "accept", sid)
        self.assertEqual((accepted["sessionId"], accepted["status"]), (sid, "ongoing"))
        self.assertExit(alice, EXIT_OK)
        final = alice.remaining()
        self.assertEqual([(c["sessionId"], c["status"]) for c in final], [(sid, "ongoing")])
        # The accept came from another client of bob's: his listen hears of it.
        bob.event("accepted_elsewhere", sid)

        self.assertEqual(self.ok_json("bob", "active")["sessionId"], sid)
        ended = self.act("alice", "end", sid)
        self.assertEqual(ended["status"], "ended")
        bob.event("call_ended", sid)
        self.assertEqual(self.act("bob", "get", sid)["status"], "ended")
        self.assertIsNone(self.ok_json("bob", "active"))

    def test_call_wait_exits_10_when_rejected(self):
        self.login("alice")
        self.login("bob")
        bob = self.listen("bob")
        alice, call = self.call_wait("alice", "bob")
        sid = call["sessionId"]
        bob.event("incoming_call_received", sid)
        self.assertEqual(self.act("bob", "reject", sid)["status"], "rejected")
        self.assertExit(alice, EXIT_REJECTED)
        self.assertEqual([c["status"] for c in alice.remaining()], ["rejected"])
        self.assertIn("rejected", alice.stderr())
        bob.event("rejected_elsewhere", sid)

    def test_call_wait_exits_11_when_rejected_as_busy(self):
        self.login("alice")
        self.login("bob")
        alice, call = self.call_wait("alice", "bob")
        self.assertEqual(self.act("bob", "reject", call["sessionId"], "--busy")["status"],
                         "busy")
        self.assertExit(alice, EXIT_BUSY)
        self.assertIn("busy", alice.stderr())

    def test_call_wait_exits_11_at_once_when_the_callee_is_in_a_call(self):
        for uid in ("alice", "bob", "carol"):
            self.login(uid)
        # carol stays connected, so her call with bob does not end behind the test's back.
        carol_listen = self.listen("carol")
        first = self.ok_json("carol", "call", "bob")
        self.act("bob", "accept", first["sessionId"])
        carol_listen.event("outgoing_call_accepted", first["sessionId"])
        alice, call = self.call_wait("alice", "bob")
        self.assertEqual(call["status"], "busy")
        self.assertExit(alice, EXIT_BUSY)
        self.act("carol", "end", first["sessionId"])

    def test_call_wait_exits_12_when_nobody_answers(self):
        self.login("alice")
        self.login("bob")
        bob = self.listen("bob")
        alice, call = self.call_wait("alice", "bob", "--timeout", "5")
        sid = call["sessionId"]
        bob.event("incoming_call_received", sid)
        self.assertExit(alice, EXIT_UNANSWERED)
        self.assertEqual([c["status"] for c in alice.remaining()], ["unanswered"])
        ev = bob.event("incoming_call_cancelled", sid)
        self.assertEqual(ev["call"]["status"], "unanswered")

    def test_call_wait_exits_13_when_cancelled_from_another_terminal(self):
        self.login("alice")
        self.login("bob")
        bob = self.listen("bob")
        alice, call = self.call_wait("alice", "bob")
        sid = call["sessionId"]
        bob.event("incoming_call_received", sid)
        self.assertEqual(self.act("alice", "cancel", sid)["status"], "cancelled")
        self.assertExit(alice, EXIT_CANCELLED)
        ev = bob.event("incoming_call_cancelled", sid)
        self.assertEqual(ev["call"]["status"], "cancelled")

    def test_interrupting_call_wait_cancels_the_call(self):
        self.login("alice")
        self.login("bob")
        bob = self.listen("bob")
        alice, call = self.call_wait("alice", "bob")
        sid = call["sessionId"]
        bob.event("incoming_call_received", sid)
        alice.proc.send_signal(signal.SIGINT)
        self.assertExit(alice, EXIT_CANCELLED)
        self.assertEqual(self.server_call(sid)["status"], "cancelled")
        bob.event("incoming_call_cancelled", sid)

    def test_call_without_wait_returns_at_once_and_active_shows_it(self):
        self.login("alice")
        self.login("carol")
        call = self.ok_json("alice", "call", "bob")
        sid = call["sessionId"]
        self.assertEqual(call["status"], "initiated")
        self.assertEqual(self.ok_json("alice", "active")["sessionId"], sid)
        self.assertIsNone(self.ok_json("carol", "active"))
        self.assertEqual(self.act("alice", "get", sid)["status"], "initiated")
        err = self.fails("alice", "call", "carol")
        self.assertIn("CW_ERR_CALL_IN_PROGRESS", err)
        self.assertIn(sid, err)
        self.assertEqual(self.act("alice", "cancel", sid)["status"], "cancelled")
        self.assertIsNone(self.ok_json("alice", "active"))
        self.assertEqual(self.server_call(sid)["status"], "cancelled")

    def test_a_call_left_ringing_without_wait_is_cancelled_after_the_reconnect_grace(self):
        # As documented: the command's connection closes when it exits, and the server
        # treats a caller that stays away for reconnectGrace as having cancelled.
        self.assertStatus(self.req("PATCH", f"/v1/apps/{self.app['appId']}",
                                   {"settings": {"reconnectGrace": 1}},
                                   token=self.app["restApiKey"]), 200)
        self.login("alice")
        sid = self.ok_json("alice", "call", "bob")["sessionId"]
        wait_until(lambda: self.server_call(sid)["status"] == "cancelled", 10,
                   "the abandoned call to be cancelled")

    def test_group_call_answered_by_one_member_then_ended_for_all(self):
        for uid in ("alice", "bob", "carol"):
            self.login(uid)
        self.create_group(self.app, "team", ["alice", "bob", "carol"])
        bob, carol = self.listen("bob"), self.listen("carol")
        alice, call = self.call_wait("alice", "--group", "team")
        sid = call["sessionId"]
        self.assertEqual((call["receiverType"], call["receiver"]["guid"]), ("group", "team"))
        bob.event("incoming_call_received", sid)
        carol.event("incoming_call_received", sid)
        self.act("bob", "accept", sid)
        self.assertExit(alice, EXIT_OK)
        # Members may join until the call ends; the others hear who joined and who left.
        self.assertEqual(self.act("carol", "accept", sid)["status"], "ongoing")
        self.assertEqual(bob.event("participant_joined", sid)["uid"], "carol")
        left = self.act("carol", "end", sid)
        self.assertEqual(left["status"], "ongoing")
        self.assertEqual(bob.event("participant_left", sid)["uid"], "carol")
        ended = self.act("alice", "end", sid, "--all")
        self.assertEqual(ended["status"], "ended")
        bob.event("call_ended", sid)

    # listen -------------------------------------------------------------------------------

    def test_listen_exits_0_on_sigint_and_sigterm(self):
        self.login("bob")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                b = self.listen("bob")
                b.proc.send_signal(sig)
                self.assertExit(b, EXIT_OK)

    def test_listen_exits_3_when_the_token_is_revoked(self):
        self.login("bob")
        b = self.listen("bob")
        self.assertStatus(self.req("DELETE",
                                   f"/v1/apps/{self.app['appId']}/users/bob/auth_tokens",
                                   token=self.app["restApiKey"]), 200)
        ev = b.event("disconnected")
        self.assertEqual(ev["error"], "CW_ERR_UNAUTHORIZED")
        self.assertExit(b, EXIT_LOGIN)
        self.assertIn("callwire login", b.stderr())

    # logs ---------------------------------------------------------------------------------

    def make_history(self):
        """Three calls, oldest first: alice->bob rejected (audio), alice->bob cancelled
        (video), carol->alice ended (audio). Returns their session ids in that order."""
        a = self.rest_call("alice", body={"receiver": "bob", "receiverType": "user",
                                          "type": "audio"})["sessionId"]
        self.rest_call("bob", f"/{a}/reject", {})
        b = self.rest_call("alice", body={"receiver": "bob", "receiverType": "user",
                                          "type": "video"})["sessionId"]
        self.rest_call("alice", f"/{b}/cancel", {})
        c = self.rest_call("carol", body={"receiver": "alice", "receiverType": "user",
                                          "type": "audio"})["sessionId"]
        self.rest_call("alice", f"/{c}/accept", {})
        self.rest_call("carol", f"/{c}/end", {})
        return [a, b, c]

    def test_logs_table_is_aligned_and_relative_to_the_user(self):
        self.login("alice")
        a, b, c = self.make_history()
        out = self.ok("alice", "logs")
        lines = out.rstrip("\n").split("\n")
        self.assertEqual(len(lines), 4, out)
        header = lines[0].split()
        self.assertEqual(header, ["TIME", "DIRECTION", "TYPE", "WITH", "STATUS", "DURATION",
                                  "SESSION"])
        # Aligned: each column starts at the same offset on every line.
        col = lines[0].index("STATUS")
        self.assertEqual([ln[col:].split()[0] for ln in lines[1:]],
                         ["ended", "cancelled", "rejected"])
        rows = [ln.split() for ln in lines[1:]]
        # TIME is two words (date and time).
        self.assertEqual([r[2:5] for r in rows], [["incoming", "audio", "carol"],
                                                  ["outgoing", "video", "bob"],
                                                  ["outgoing", "audio", "bob"]])
        self.assertEqual([r[-1] for r in rows], [c, b, a])
        self.assertEqual(rows[1][-2], "-")  # never answered: no duration

    def test_logs_json_filters_and_paging(self):
        self.login("alice")
        a, b, c = self.make_history()

        def sids(*args):
            data = self.ok_json("alice", "logs", "--json", *args)
            self.assertIsInstance(data, list)
            return [x["sessionId"] for x in data]

        self.assertEqual(sids(), [c, b, a])
        self.assertEqual(sids("--status", "rejected"), [a])
        self.assertEqual(sids("--direction", "incoming"), [c])
        self.assertEqual(sids("--direction", "outgoing", "--type", "video"), [b])
        self.assertEqual(sids("--uid", "carol"), [c])
        self.assertEqual(sids("--category", "call"), [c, b, a])
        self.assertEqual(sids("--uid", "nobody-like-this"), [])
        # One page, or every page with --all.
        self.assertEqual(sids("--limit", "2"), [c, b])
        self.assertEqual(sids("--limit", "1", "--all"), [c, b, a])
        self.assertEqual(sids("--limit", "2", "--all", "--type", "audio"), [c, a])
        full = self.ok_json("alice", "logs", "--json")
        self.assertEqual(full[0], self.server_call(c))
        rc, out, err = self.run_cli("alice", "logs", "--limit", "2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.strip().split("\n")), 3, out)
        self.assertIn("--all", err)
        self.assertEqual(self.ok("alice", "logs", "--uid", "nobody-like-this").strip(),
                         "no calls")

    # errors and usage -----------------------------------------------------------------------

    def test_an_unknown_session_is_not_found(self):
        self.login("alice")
        for args in (("get", "no-such-call"), ("accept", "no-such-call"),
                     ("cancel", "no-such-call"), ("end", "no-such-call")):
            with self.subTest(args=args):
                err = self.fails("alice", *args, rc=EXIT_ERROR)
                self.assertIn("CW_ERR_NOT_FOUND", err)
                self.assertTrue(err.startswith("callwire: CW_ERR_NOT_FOUND: "), err)

    def test_a_refused_transition_names_the_error(self):
        self.login("alice")
        self.login("bob")
        sid = self.ok_json("alice", "call", "bob")["sessionId"]
        err = self.fails("alice", "accept", "--", sid)  # the caller cannot answer
        self.assertIn("CW_ERR_", err)
        self.act("bob", "reject", sid)
        err = self.fails("alice", "cancel", "--", sid)
        self.assertIn("CW_ERR_INVALID_STATE", err)

    def test_arguments_that_start_with_a_dash(self):
        self.login("alice")
        # A single dash: an argument (session ids and uids may start with '-').
        err = self.fails("alice", "get", "-no-such-call")
        self.assertIn("CW_ERR_NOT_FOUND", err)
        # Two dashes: an option, unless after "--".
        err = self.fails("alice", "get", "--no-such-call", rc=EXIT_USAGE)
        self.assertIn("'--'", err)
        err = self.fails("alice", "get", "--", "--no-such-call")
        self.assertIn("CW_ERR_NOT_FOUND", err)
        # --name=value works like --name value.
        err = self.fails("alice", "call", "--group=no-such-group", "--timeout=30")
        self.assertIn("CW_ERR_NOT_FOUND", err)
        self.fails("alice", "call", "bob", "--wait=yes", rc=EXIT_USAGE)

    def test_bad_usage_exits_2(self):
        self.login("alice")
        for args in (("call",), ("call", "bob", "carol"), ("call", "bob", "--group", "g"),
                     ("call", "bob", "--timeout", "soon"),
                     ("call", "bob", "--metadata", "[1]"), ("call", "bob", "--metadata", "{"),
                     ("call", "bob", "--bogus"), ("accept",), ("accept", "a", "b"),
                     ("reject", "s", "--all"), ("end", "s", "--busy"), ("get",),
                     ("active", "extra"), ("listen", "extra"), ("logs", "--status", "nope"),
                     ("logs", "--type", "hologram"), ("logs", "--direction", "up"),
                     ("logs", "--limit", "0"), ("logs", "--limit", "101"), ("logs", "extra"),
                     ("logs", "--limit")):
            with self.subTest(args=args):
                self.fails("alice", *args, rc=EXIT_USAGE)
        for args in (("login",), ("login", "--server", self.server.base_url),
                     ("login", "--server", self.server.base_url, "--app", "x", "--uid", "u"),
                     ("login", "--server", self.server.base_url, "--app", "x", "--token", "t",
                      "--uid", "u", "--auth-key", "k")):
            with self.subTest(args=args):
                self.fails(None, *args, rc=EXIT_USAGE)
        self.assertIsNone(self.ok_json("alice", "active"))  # nothing was rung

    def test_help_lists_the_commands_and_every_exit_code(self):
        out = self.ok(None, "help")
        for word in ("login", "logout", "listen", "call", "accept", "reject", "cancel", "end",
                     "active", "logs", "--session"):
            self.assertIn(word, out)
        for code in ("10", "11", "12", "13"):
            self.assertIn(code, out)
        for cmd in ("login", "listen", "call", "accept", "logs"):
            with self.subTest(cmd=cmd):
                out = self.ok(None, cmd, "--help")
                self.assertIn(f"usage: callwire {cmd}", out)
                self.assertIn("exit codes", out)

    # ---- the softphone: call with audio, answer ----

    read_wav = staticmethod(sound.read_wav)
    dominant = staticmethod(sound.dominant)
    rms = staticmethod(sound.rms)

    def softphone_pair(self, caller_args, callee_args):
        """bob calls alice with media options, alice answers with hers; both record what
        they hear. Returns (bob's lines, alice's lines, bob's recording, alice's)."""
        self.login("alice")
        self.login("bob")
        heard_a = os.path.join(self.tmp, "alice-heard.wav")
        heard_b = os.path.join(self.tmp, "bob-heard.wav")
        a = self.start("alice", "answer", "--audio-out", heard_a, *callee_args)
        b = self.start("bob", "call", "alice", "--audio-out", heard_b, *caller_args)
        call = b.expect("the call", lambda o: "sessionId" in o)
        for p in (a, b):
            joined = p.expect("joined", lambda o: o.get("event") == "joined")
            self.assertEqual(joined["sessionId"], call["sessionId"])
        for p in (a, b):
            self.assertEqual(p.wait(timeout=30), EXIT_OK, f"{p.args}: {p.stderr()}")
            # The call comes first, whenever the join finished.
            self.assertNotIn("event", p.lines[0], p.lines)
            self.assertEqual(p.lines[1]["event"], "joined", p.lines)
        return b.lines, a.lines, self.read_wav(heard_b), self.read_wav(heard_a)

    def stats(self, lines):
        found = [o for o in lines if o.get("event") == "stats"]
        self.assertEqual(len(found), 1, lines)
        return found[0]

    def test_softphones_hear_each_others_tone(self):
        b, a, heard_b, heard_a = self.softphone_pair(
            ["--tone", "880", "--duration", "4"], ["--tone", "440", "--duration", "4"])
        # Past the first second (ICE, DTLS, the jitter buffer filling), each hears the
        # other's tone.
        self.assertEqual(self.dominant(heard_b[48000:72000]), 440)
        self.assertEqual(self.dominant(heard_a[48000:72000]), 880)
        for lines in (a, b):
            st = self.stats(lines)
            self.assertGreater(st["framesDecoded"], 100, st)
            self.assertLess(st["framesConcealed"] * 50, st["framesDecoded"], st)
            self.assertGreater(st["audioPacketsSent"], 100, st)

    def test_softphone_plays_a_wav_file_into_the_call(self):
        hello = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "hello.wav")
        b, a, heard_b, heard_a = self.softphone_pair(
            ["--audio-in", hello, "--loop", "--duration", "4"], ["--duration", "4"])
        # alice hears bob's greeting; bob hears silence (alice sends none).
        self.assertGreater(self.rms(heard_a[48000:]), 300)
        self.assertLess(self.rms(heard_b[48000:]), 50)
        self.assertGreater(self.stats(a)["framesDecoded"], 100)

    def test_answer_takes_a_call_that_already_rings(self):
        # bob rings first; alice's `answer` starts afterwards, so no call.incoming ever
        # reaches its connection: it must find the ringing call itself.
        self.login("alice")
        self.login("bob")
        b = self.start("bob", "call", "alice", "--tone", "880", "--duration", "2")
        call = b.expect("the call", lambda o: "sessionId" in o)
        a = self.start("alice", "answer", "--duration", "2")
        taken = a.expect("the call", lambda o: "sessionId" in o)
        self.assertEqual(taken["sessionId"], call["sessionId"])
        for p in (a, b):
            p.expect("joined", lambda o: o.get("event") == "joined")
            self.assertEqual(p.wait(timeout=30), EXIT_OK, p.stderr())

    def read_y4m(self, path):
        """A YUV4MPEG2 file of 4:2:0 pictures: (width, height, [Y planes as bytes])."""
        with open(path, "rb") as f:
            data = f.read()
        header, _, rest = data.partition(b"\n")
        fields = {t[:1]: t[1:] for t in header.split()[1:]}
        w, h = int(fields[b"W"]), int(fields[b"H"])
        size = w * h * 3 // 2
        pictures = []
        while rest.startswith(b"FRAME\n") and len(rest) >= 6 + size:
            pictures.append(rest[6:6 + w * h])
            rest = rest[6 + size:]
        self.assertEqual(rest, b"", "the file ends with a whole picture")
        return w, h, pictures

    def test_softphones_send_each_other_the_test_pattern(self):
        heard_a = os.path.join(self.tmp, "alice-saw.y4m")
        heard_b = os.path.join(self.tmp, "bob-saw.y4m")
        b, a, _, _ = self.softphone_pair(
            ["--tone", "880", "--duration", "4", "--video-pattern", "320x240",
             "--video-out", heard_b],
            ["--tone", "440", "--duration", "4", "--video-pattern", "160x120",
             "--video-out", heard_a])
        call = next(o for o in b if "sessionId" in o and "type" in o)
        self.assertEqual(call["type"], "video")
        for lines, path, size in ((a, heard_a, (320, 240)), (b, heard_b, (160, 120))):
            video = [o for o in lines if o.get("event") == "video"]
            self.assertEqual([(o["width"], o["height"]) for o in video], [size], lines)
            w, h, pictures = self.read_y4m(path)
            self.assertEqual((w, h), size)
            st = self.stats(lines)
            self.assertEqual(st["videoFramesRecorded"], len(pictures))
            self.assertGreater(len(pictures), 60, st)
            self.assertGreater(st["videoFramesSent"], 60, st)
            self.assertGreaterEqual(st["videoKeyframesSent"], 1, st)
            # The last picture shows the eight bars, from white to black, as the pattern
            # draws them (BT.601 luma, within the codec's error).
            last = pictures[-1]
            row = h // 3
            luma = [last[row * w + (2 * i + 1) * w // 16] for i in range(8)]
            for got, want in zip(luma, (235, 210, 170, 145, 106, 81, 41, 16)):
                self.assertLess(abs(got - want), 24, luma)

    def test_a_video_recording_that_cannot_be_written_fails_the_command(self):
        self.login("alice")
        self.login("bob")
        b = self.start("bob", "join", "room-full", "--video-pattern", "160x120",
                       "--duration", "4")
        b.expect("joined", lambda o: o.get("event") == "joined")
        a = self.start("alice", "join", "room-full", "--video-out", "/dev/full",
                       "--duration", "2")
        a.expect("bob's video", lambda o: o.get("event") == "video")
        self.assertEqual(a.wait(timeout=30), EXIT_ERROR, a.stderr())
        self.assertIn("/dev/full", a.stderr())
        self.assertEqual(b.wait(timeout=30), EXIT_OK, b.stderr())

    def test_softphone_refuses_a_file_that_is_not_wav(self):
        self.login("bob")
        bogus = os.path.join(self.tmp, "bogus.wav")
        with open(bogus, "wb") as f:
            f.write(b"RIFF\x04\x00\x00\x00JUNK")
        rc, out, err = self.run_cli("bob", "call", "alice", "--audio-in", bogus)
        self.assertEqual(rc, EXIT_ERROR, err)
        self.assertIn("bogus.wav", err)
        self.assertEqual(self.ok_json("bob", "active"), None)


if __name__ == "__main__":
    unittest.main()
