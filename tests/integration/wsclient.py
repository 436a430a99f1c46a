"""A realtime client for the integration tests: one real WebSocket to /v1/ws.

A background thread reads every message the server sends into an inbox and records the
close frame (code and reason). Tests wait on the inbox with deadlines, never with fixed
sleeps: `request` waits for its response, `next_event` for the next event (of one name,
leaving events of other names for later), `wait_closed` for the close. Only
`expect_no_event` waits out a short bounded window, to check that nothing else arrives.

Needs the `websocket` module (Debian's python3-websocket, websocket-client 1.2.3).
"""

import itertools
import types
import json
import socket
import struct
import threading
import time

import websocket

SUBPROTOCOL = "callwire.v1"
DEFAULT_TIMEOUT = 5.0


class WsError(AssertionError):
    """Something the test expected from the server did not happen."""


class Client:
    """One WebSocket connection of one device.

    Messages are kept in arrival order. `events` is the list of every event received, in
    order (consumed or not), for checks on seq; `messages` likewise holds everything.
    """

    _ids = itertools.count(1)

    def __init__(self, port, host="127.0.0.1", subprotocols=(SUBPROTOCOL,),
                 timeout=DEFAULT_TIMEOUT, name=None):
        self.url = f"ws://{host}:{port}/v1/ws"
        self.name = name or self.url
        self.timeout = timeout
        self.messages = []  # everything received, parsed JSON (or raw text if not JSON)
        self.events = []  # every event received, in order
        self.ready = None
        self.close_code = None  # from the server's close frame; None if none came
        self.close_reason = None
        self.closed = False  # the reader has stopped (close frame, EOF or error)
        self._pending = []  # messages not yet consumed by a wait
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self.ws = websocket.create_connection(self.url, subprotocols=list(subprotocols),
                                              timeout=timeout)
        # The reader blocks; close()/drop() shut the socket down to wake it.
        self.ws.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"ws-reader {self.name}")
        self._reader.start()

    def __repr__(self):
        return f"<Client {self.name}>"

    # reading ----------------------------------------------------------------

    def _read_loop(self):
        try:
            while True:
                opcode, frame = self.ws.recv_data_frame(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = frame.data or b""
                    with self._cond:
                        if len(data) >= 2:
                            self.close_code = struct.unpack("!H", data[:2])[0]
                            self.close_reason = data[2:].decode("utf-8", "replace")
                        else:
                            self.close_code = 1005  # no status in the close frame
                            self.close_reason = ""
                    return
                if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    continue
                raw = frame.data if isinstance(frame.data, bytes) else frame.data
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                try:
                    msg = json.loads(text)
                except ValueError:
                    msg = text
                with self._cond:
                    self.messages.append(msg)
                    if isinstance(msg, dict) and msg.get("type") == "event":
                        self.events.append(msg)
                    self._pending.append(msg)
                    self._cond.notify_all()
        except Exception:  # EOF, reset, shutdown by close()/drop()
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()
            try:
                self.ws.sock and self.ws.sock.close()
            except Exception:
                pass

    def _take(self, match, timeout, what):
        """Removes and returns the first pending message for which match(msg) is true,
        waiting up to timeout seconds. Fails if the connection closes first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, msg in enumerate(self._pending):
                    if match(msg):
                        del self._pending[i]
                        return msg
                if self.closed:
                    raise WsError(f"{self.name}: connection closed (code {self.close_code} "
                                  f"{self.close_reason!r}) while waiting for {what}; "
                                  f"pending: {self._brief(self._pending)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WsError(f"{self.name}: no {what} within {timeout} s; pending: "
                                  f"{self._brief(self._pending)}")
                self._cond.wait(left)

    @staticmethod
    def _brief(msgs):
        out = []
        for m in msgs:
            if isinstance(m, dict) and m.get("type") == "event":
                call = m.get("call") or {}
                out.append(f"event#{m.get('seq')} {m.get('name')} {call.get('sessionId')} "
                           f"{call.get('status')}")
            else:
                out.append(repr(m)[:200])
        return out

    # sending ----------------------------------------------------------------

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_text(self, text):
        with self._send_lock:
            self.ws.send(text)

    def auth(self, app_id, token, resume_from=None, timeout=None):
        """Sends the auth message and returns the ready message. Fails if the server
        closes the connection instead."""
        self.send_json({"type": "auth", "appId": app_id, "token": token,
                        "resumeFrom": resume_from})
        self.ready = self._take(lambda m: isinstance(m, dict) and m.get("type") == "ready",
                                timeout or self.timeout, "ready")
        return self.ready

    @property
    def device(self):
        return self.ready and self.ready.get("device")

    def send_request(self, method, params=None, req_id=None):
        """Sends a request without waiting; returns its id."""
        req_id = req_id or f"r{next(self._ids)}"
        self.send_json({"type": "request", "id": req_id, "method": method,
                        "params": {} if params is None else params})
        return req_id

    def response(self, req_id, timeout=None):
        """Waits for the response with this id."""
        return self._take(lambda m: isinstance(m, dict) and m.get("type") == "response"
                          and m.get("id") == req_id, timeout or self.timeout,
                          f"the response to request {req_id}")

    def request(self, method, params=None, timeout=None):
        """Sends a request and returns its response: {"type","id","result"} or
        {"type","id","error"}."""
        return self.response(self.send_request(method, params), timeout)

    def result(self, method, params=None, timeout=None):
        """request() that must succeed; returns the result."""
        resp = self.request(method, params, timeout)
        if "error" in resp:
            raise WsError(f"{self.name}: {method} {params!r} failed: {resp['error']!r}")
        return resp["result"]

    # events -----------------------------------------------------------------

    def next_event(self, name=None, timeout=DEFAULT_TIMEOUT, session_id=None):
        """The next event not yet consumed (of that name, and about that call, if given).
        Events of other names stay pending for later calls."""
        def match(m):
            return (isinstance(m, dict) and m.get("type") == "event"
                    and (name is None or m.get("name") == name)
                    and (session_id is None
                         or (m.get("call") or {}).get("sessionId") == session_id))
        what = f"event {name or '(any)'}" + (f" of call {session_id}" if session_id else "")
        return self._take(match, timeout, what)

    def pending_events(self):
        with self._cond:
            return [m for m in self._pending
                    if isinstance(m, dict) and m.get("type") == "event"]

    def expect_no_event(self, within=0.5):
        """Fails if an event is pending now or arrives within `within` seconds."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                evs = [m for m in self._pending
                       if isinstance(m, dict) and m.get("type") == "event"]
                if evs:
                    raise WsError(f"{self.name}: unexpected event(s): {self._brief(evs)}")
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return
                self._cond.wait(left)

    def drain_events(self):
        """Consumes and returns every pending event."""
        with self._cond:
            evs = [m for m in self._pending
                   if isinstance(m, dict) and m.get("type") == "event"]
            self._pending = [m for m in self._pending if m not in evs]
            return evs

    @property
    def last_seq(self):
        """The highest seq received on this connection (the ready seq if none)."""
        with self._cond:
            seqs = [e["seq"] for e in self.events if isinstance(e.get("seq"), int)]
        if seqs:
            return max(seqs)
        return self.ready.get("seq") if self.ready else None

    # closing ----------------------------------------------------------------

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """Waits for the connection to end; returns the server's close code (None when
        the connection ended without a close frame)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WsError(f"{self.name}: still open after {timeout} s")
                self._cond.wait(left)
            return self.close_code

    def close(self, timeout=2.0):
        """A clean close: sends a close frame, waits (bounded) for the server's, then
        shuts the socket down."""
        if not self.closed:
            try:
                with self._send_lock:
                    self.ws.send_close()
            except Exception:
                pass
            try:
                self.wait_closed(timeout)
            except WsError:
                pass
        self._shutdown()
        self._reader.join(timeout)

    def drop(self):
        """Ends the connection without a close frame, as a lost network would."""
        self._shutdown()
        self._reader.join(2.0)

    def _shutdown(self):
        sock = self.ws.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._cond:
            self._cond.notify_all()


class ClientPool:
    """Clients opened by one test; close_all() in tearDown/addCleanup."""

    def __init__(self, port):
        self.port = port
        self.clients = []

    def open(self, name=None, **kw):
        c = Client(self.port, name=name, **kw)
        self.clients.append(c)
        return c

    def close_all(self):
        for c in self.clients:
            try:
                c.close(timeout=1.0)
            except Exception:
                pass
        self.clients = []


# ---------------------------------------------------------------------------------------
# A base for the call and realtime tests: a fresh app per test, users, devices, and one
# way to run a call action over REST or over a WebSocket request.

import collections  # noqa: E402
import re  # noqa: E402
import urllib.parse  # noqa: E402

from harness import Server, ServerTestCase  # noqa: E402

VIAS = ("rest", "ws")
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CALL_KEYS = {"sessionId", "category", "type", "receiverType", "initiator", "receiver",
             "status", "initiatedAt", "joinedAt", "endedAt", "duration", "participants",
             "metadata"}
PARTICIPANT_KEYS = {"uid", "state", "joinedAt", "leftAt", "duration"}
FINAL = {"ended", "rejected", "cancelled", "busy", "unanswered"}
ERROR_STATUS = {"ERR_BAD_REQUEST": 400, "ERR_UNAUTHORIZED": 401, "ERR_FORBIDDEN": 403,
                "ERR_NOT_FOUND": 404, "ERR_CONFLICT": 409, "ERR_CALL_IN_PROGRESS": 409,
                "ERR_INVALID_STATE": 409, "ERR_PAYLOAD_TOO_LARGE": 413,
                "ERR_RATE_LIMITED": 429, "ERR_INTERNAL": 500}

# The answer to one call action, whichever way it went: http is the HTTP status (REST)
# or the status the error code stands for (WS: 200 for a result); body is the result
# (or the REST body); error is the error object or None.
Outcome = collections.namedtuple("Outcome", "via http body error")


def now_ms():
    return int(time.time() * 1000)


class CallTestCase(ServerTestCase):
    """One server per class (ServerTestCase); a fresh app per test, with the settings of
    APP_SETTINGS. callRateLimit is turned off so that tests may start many calls."""

    APP_SETTINGS = {}

    def setUp(self):
        self.new_app()
        self.pool = ClientPool(self.server.port)
        self.addCleanup(self.pool.close_all)

    def new_app(self, name=None, settings=None):
        self.app = self.create_app(name or type(self).__name__)
        self.a = self.app["appId"]
        self.key = self.app["restApiKey"]
        self.patch_settings(dict({"callRateLimit": 0}, **self.APP_SETTINGS, **(settings or {})))
        return self.app

    def patch_settings(self, settings, app=None):
        app_id = (app or self.app)["appId"]
        return self.assertStatus(self.req("PATCH", f"/v1/apps/{app_id}",
                                          {"settings": settings}, token=self.master), 200)

    def p(self, suffix=""):
        """A path of the current app."""
        return f"/v1/apps/{self.a}{suffix}"

    # users and devices ---------------------------------------------------------------

    def users(self, *uids):
        for uid in uids:
            self.create_user(self.app, uid, uid.capitalize())
        return uids

    def token(self, uid):
        """A new auth token: a new device of uid."""
        return self.mint_token(self.app, uid)

    def connect(self, uid, token=None, resume_from=None, name=None, check_ready=True):
        """A connected, authenticated device of uid (a new token unless given)."""
        token = token or self.token(uid)
        c = self.pool.open(name=name or uid)
        c.uid = uid
        c.token = token
        ready = c.auth(self.a, token, resume_from=resume_from)
        if check_ready:
            self.assertEqual(ready.get("type"), "ready", ready)
            self.assertEqual(ready["user"]["uid"], uid, ready)
            self.assertIsInstance(ready.get("seq"), int, ready)
            self.assertIsInstance(ready.get("device"), str, ready)
            self.assertTrue(ready["device"], ready)
        return c

    def rest_device(self, uid):
        """A device that only talks REST: an object with .uid and .token."""
        d = types.SimpleNamespace(uid=uid, token=self.token(uid), device=None)
        return d

    # call actions ---------------------------------------------------------------------

    def do(self, via, who, method, params=None):
        """Runs one call method (the WebSocket method names) as `who` (a Client, or
        anything with .token for REST) over REST or over who's WebSocket."""
        params = dict(params or {})
        if via == "ws":
            resp = who.request(method, params)
            if "error" in resp:
                err = resp["error"]
                return Outcome("ws", ERROR_STATUS.get(err.get("code"), 0), resp, err)
            return Outcome("ws", 200, resp.get("result"), None)
        token = who.token if hasattr(who, "token") else who
        sid = params.pop("sessionId", None)
        if method == "call.initiate":
            r = self.req("POST", self.p("/calls"), params, token=token)
        elif method in ("call.accept", "call.reject", "call.cancel", "call.end"):
            action = method.split(".")[1]
            r = self.req("POST", self.p(f"/calls/{urllib.parse.quote(sid, safe='')}/{action}"),
                         params if params else None, token=token)
        elif method == "call.get":
            r = self.req("GET", self.p(f"/calls/{urllib.parse.quote(sid, safe='')}"),
                         token=token)
        elif method == "call.active":
            r = self.req("GET", self.p("/calls/active"), token=token)
        elif method == "calls.list":
            q = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v)
                                        for k, v in params.items()})
            r = self.req("GET", self.p("/calls" + (f"?{q}" if q else "")), token=token)
        else:
            raise ValueError(method)
        st, _, data = r
        err = data.get("error") if st >= 400 and isinstance(data, dict) else None
        if st >= 400 and err is None:
            err = {"code": None, "message": None, "raw": data}
        return Outcome("rest", st, data, err)

    def assertOk(self, out, status=200):
        """The action succeeded; returns the result. status is checked for REST."""
        self.assertIsNone(out.error, f"{out.via}: want success, got {out.http}: {out.body!r}")
        if out.via == "rest":
            self.assertEqual(out.http, status, f"want {status}, got {out.http}: {out.body!r}")
        return out.body

    def assertFails(self, out, status, code, field=None):
        """The action failed with this code (and HTTP status for REST); returns the error
        object."""
        self.assertIsNotNone(out.error, f"{out.via}: want {status} {code}, got success: "
                                        f"{out.body!r}")
        self.assertEqual(out.error.get("code"), code, f"{out.via}: {out.body!r}")
        if out.via == "rest":
            self.assertEqual(out.http, status, f"want {status} {code}, got {out.http}: "
                                               f"{out.body!r}")
        self.assertIsInstance(out.error.get("message"), str, out.body)
        self.assertTrue(out.error["message"], out.body)
        if field is not None:
            self.assertIn(field, out.error["message"], out.body)
        return out.error

    def initiate(self, via, who, receiver, receiver_type="user", type_="audio", **extra):
        """Starts a call that must be accepted by the server (201); returns the call."""
        body = {"receiver": receiver, "receiverType": receiver_type, "type": type_}
        body.update(extra)
        return self.assertOk(self.do(via, who, "call.initiate", body), 201)

    def act(self, via, who, method, sid, **params):
        params["sessionId"] = sid
        return self.do(via, who, method, params)

    def get_call(self, sid, token=None):
        return self.assertStatus(self.req("GET", self.p(f"/calls/{sid}"),
                                          token=token or self.key), 200)

    # assertions on calls and events -----------------------------------------------------

    def part(self, call, uid):
        for p in call["participants"]:
            if p["uid"] == uid:
                return p
        self.fail(f"{uid} is not among the participants of {call!r}")

    def assertCallShape(self, call):
        self.assertIsInstance(call, dict, call)
        missing = CALL_KEYS - set(call)
        self.assertFalse(missing, f"call lacks {sorted(missing)}: {call!r}")
        self.assertRegex(call["sessionId"], SESSION_ID_RE)
        self.assertIn(call["category"], ("call", "meet"))
        self.assertIn(call["type"], ("audio", "video"))
        self.assertIn(call["receiverType"], ("user", "group"))
        self.assertIn(call["status"], FINAL | {"initiated", "ongoing"})
        self.assertIsInstance(call["initiatedAt"], int)
        self.assertIsInstance(call["duration"], (int, float))
        self.assertIsInstance(call["metadata"], dict)
        if call["status"] in ("initiated", "ongoing"):
            self.assertIsNone(call["endedAt"], call)
        else:
            self.assertIsInstance(call["endedAt"], int, call)
            self.assertGreaterEqual(call["endedAt"], call["initiatedAt"], call)
        for p in call["participants"]:
            missing = PARTICIPANT_KEYS - set(p)
            self.assertFalse(missing, f"participant lacks {sorted(missing)}: {p!r}")
            self.assertIn(p["state"], ("ringing", "ongoing", "left", "rejected", "busy",
                                       "unanswered", "cancelled"))
            self.assertIsInstance(p["duration"], (int, float))
        return call

    def assertCall(self, call, sid=None, status=None, states=None):
        """Checks the call's shape, session id, status and participant states
        ({uid: state})."""
        self.assertCallShape(call)
        if sid is not None:
            self.assertEqual(call["sessionId"], sid, call)
        if status is not None:
            self.assertEqual(call["status"], status, call)
        for uid, state in (states or {}).items():
            self.assertEqual(self.part(call, uid)["state"], state, f"{uid} in {call!r}")
        return call

    def event(self, client, name, sid, status=None, timeout=5.0):
        """Waits for client's next event `name` about call sid; checks it; returns it."""
        ev = client.next_event(name, timeout=timeout, session_id=sid)
        self.assertEqual(ev.get("type"), "event", ev)
        self.assertIsInstance(ev.get("seq"), int, ev)
        self.assertCall(ev["call"], sid=sid, status=status)
        return ev

    def events(self, clients, name, sid, status=None, timeout=5.0):
        return [self.event(c, name, sid, status, timeout) for c in clients]

    def quiet(self, *clients, within=0.3):
        """No client receives another event within `within` seconds (one shared window)."""
        deadline = time.monotonic() + within
        for c in clients:
            c.expect_no_event(max(0.0, deadline - time.monotonic()))

    def assertSeqsConsecutive(self, client, start=None):
        """The events this connection received have seq start, start+1, … (start defaults
        to ready.seq + 1)."""
        seqs = [e["seq"] for e in client.events]
        if start is None:
            start = client.ready["seq"] + 1
        self.assertEqual(seqs, list(range(start, start + len(seqs))),
                         f"{client.name}: seqs not consecutive from {start}")

    # server restarts ------------------------------------------------------------------

    def restart_server(self, hard=False, down_until=None):
        """Stops the class's server (SIGTERM, or SIGKILL when hard), optionally waits
        until the wall clock passes down_until (Unix ms), and starts a new server on the
        same data folder and port. Open clients see their connections end."""
        cls = type(self)
        old = cls.server
        if hard:
            old.proc.kill()
            old.proc.wait()
            old.proc = None
            old._close_stderr()
        else:
            old.stop()
        if down_until is not None:
            while now_ms() < down_until:
                time.sleep(min(0.1, max(0.0, (down_until - now_ms()) / 1000)))
        new = Server(datadir=old.datadir, port=old.port)
        # The new server takes the data folder over; the old one's log stays readable.
        new._owns_datadir = old._owns_datadir
        old._owns_datadir = False
        self.addCleanup(old.cleanup)
        cls.server = new
        try:
            new.start()
        except BaseException:
            new._owns_datadir = False
            cls.server = old
            old._owns_datadir = True
            raise
        self.pool.port = new.port
        return new
