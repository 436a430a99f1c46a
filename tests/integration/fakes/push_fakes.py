"""Local fakes of APNs, FCM (with Google's OAuth token endpoint) and a webhook receiver.

They speak what the real services speak (HTTP/2 over TLS with ALPN h2, under a test CA),
check every request as strictly as the real service would, record it, and answer with
the real services' errors, or with errors a test scripts. Each runs in background threads
of the test process: start() / stop() (or `with`), then inspect `.requests` and `.errors`.

    pki = TestPKI(tmpdir)                       # tmpdir/ca.pem is the CA to trust
    p8, key_id = pki.apns_key()
    apns = FakeAPNs(pki, "TEAM123456", key_id, p8, "com.example.app").start()
    apns.script(token, [(503, "ServiceUnavailable", {"retry-after": "1"})])
    ...
    apns.wait_requests(2, timeout=10, match=lambda r: r["status"] == 200)
    assert apns.errors == []

Webhook signatures (what callwire sends and a receiver checks):

    Callwire-Signature: t=<unix time in seconds>,v1=<signature>

where <signature> is the lowercase hex HMAC-SHA256, keyed with the app's webhook secret
(its UTF-8 bytes), of the ASCII decimal t, a ".", then the exact raw bytes of the request
body. The body is JSON (Content-Type: application/json). A receiver recomputes the HMAC,
compares in constant time, and refuses a request whose t is more than 300 s from its own
clock, so a captured request cannot be replayed later. A receiver accepts the request
when any v1= entry matches, which leaves room to sign with two secrets during a rotation.
"""

import base64
import collections
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import re
import secrets
import select
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

import h2.config
import h2.errors
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_BODY = 1 << 20  # bytes a fake accepts in one request before refusing the stream
STOP_DEADLINE = 5.0  # seconds stop() waits for the fake's threads


# ---------------------------------------------------------------- keys, JWTs, signatures

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    """JOSE base64url: the URL-safe alphabet without padding, nothing else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError(f"not unpadded base64url: {text[:40]!r}")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(pem):
    """A cryptography key from PEM text (a private key, or a public key) or a key object."""
    if not isinstance(pem, (str, bytes)):
        return pem
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return serialization.load_pem_private_key(data, password=None)
    except ValueError:
        return serialization.load_pem_public_key(data)


def jwt_encode(key, header, claims):
    """A signed compact JWT: ES256 for an EC key (JOSE's raw r||s), RS256 for an RSA key."""
    key = load_key(key)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


def jwt_parts(token):
    """(header, claims, signing input bytes, signature bytes); ValueError when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"{len(parts)} dot-separated parts, not 3")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header or claims are not JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), b64url_decode(parts[2])


def sign_webhook(secret, raw, t=None):
    """The Callwire-Signature header value for body bytes raw at unix time t."""
    t = int(time.time()) if t is None else t
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def check_webhook_signature(secret, header, raw, now=None, tolerance=300):
    """None when header signs raw under secret within tolerance seconds, else what is wrong."""
    if not header:
        return "no Callwire-Signature header"
    fields = [f.partition("=") for f in header.split(",")]
    ts = [v for k, _, v in fields if k.strip() == "t"]
    sigs = [v.strip() for k, _, v in fields if k.strip() == "v1"]
    if len(ts) != 1 or not re.fullmatch(r"\d+", ts[0].strip()) or not sigs:
        return f"Callwire-Signature is not 't=<seconds>,v1=<hex>': {header!r}"
    t = int(ts[0])
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return f"signature time t={t} is {now - t:+.0f} s from now (tolerance {tolerance} s)"
    want = sign_webhook(secret, raw, t).partition(",v1=")[2]
    if not any(hmac.compare_digest(want, s) for s in sigs):
        return "no v1 signature matches HMAC-SHA256(secret, f'{t}.{body}')"
    return None


def apns_token():
    """A device token as APNs hands them out: 32 random bytes in hex."""
    return secrets.token_hex(32)


def fcm_token():
    """A registration token shaped like FCM's: '<instance id>:<APA91b…>'."""
    return f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(105)}"


class TestPKI:
    """A test CA and a server certificate for 127.0.0.1 and localhost, written to dir
    (ca.pem, server.pem, server.key), and the keys the push services' clients hold."""

    __test__ = False  # not a test case, whatever its name says

    def __init__(self, dir):
        self.dir = dir
        now = datetime.datetime.now(datetime.timezone.utc)
        valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callwire test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(valid[0]).not_valid_after(valid[1])
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                           False, False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(valid[0]).not_valid_after(valid[1])
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_file = os.path.join(dir, "ca.pem")
        self.cert_file = os.path.join(dir, "server.pem")
        self.key_file = os.path.join(dir, "server.key")
        for path, data in ((self.ca_file, ca.public_bytes(serialization.Encoding.PEM)),
                           (self.cert_file, cert.public_bytes(serialization.Encoding.PEM)),
                           (self.key_file, _pkcs8(key).encode())):
            with open(path, "wb") as f:
                f.write(data)

    def server_context(self, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_COMPRESSION  # RFC 9113 9.2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def apns_key(self):
        """(the .p8 text of a new APNs auth key: EC P-256 in PKCS#8 PEM, its key id)."""
        return _pkcs8(ec.generate_private_key(ec.SECP256R1())), "ABCDE12345"

    def service_account(self, token_uri):
        """A new service account, as the JSON Google's console downloads (parsed)."""
        key_id = secrets.token_hex(20)
        email = "push@callwire-test.iam.gserviceaccount.com"
        return {
            "type": "service_account", "project_id": "callwire-test",
            "private_key_id": key_id,
            "private_key": _pkcs8(rsa.generate_private_key(public_exponent=65537,
                                                           key_size=2048)),
            "client_email": email, "client_id": str(secrets.randbelow(10**21)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + urllib.parse.quote(email),
            "universe_domain": "googleapis.com",
        }


def _pkcs8(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_key(key):
    key = load_key(key)
    return key.public_key() if hasattr(key, "public_key") else key


# ---------------------------------------------------------------- the server machinery

class _Request:
    def __init__(self, method, path, headers, body, peer):
        self.method, self.path, self.body, self.peer = method, path, bytes(body), peer
        self.headers = [(k.lower(), v) for k, v in headers]
        names = [k for k, _ in self.headers]
        self.dups = sorted({k for k in names if names.count(k) > 1})

    def header(self, name):
        values = [v for k, v in self.headers if k == name]
        return values[-1] if values else None


class _Response:
    def __init__(self, status, body=b"", headers=(), reason=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.status, self.body, self.reason, self.ctype = status, body, reason, ctype
        self.headers = [(k.lower(), str(v)) for k, v in dict(headers or {}).items()]


class _Refuse(Exception):
    def __init__(self, response, why):
        super().__init__(why)
        self.response, self.why = response, why


_ALL = object()  # the script/hold key that matches every token


class _Fake:
    """A TLS (or plain) server on 127.0.0.1: a thread accepting connections and a thread
    per connection, speaking HTTP/2 or HTTP/1.1 as ALPN settles. Subclasses check a
    request (_check), answer it (_success, _scripted, _gone) and fill its record."""

    name = "fake"
    alpn = ("h2",)

    def __init__(self, pki, tls=True):
        # Bound at once, so .url is known before start() (a service account needs it).
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._ctx = pki.server_context(self.alpn) if tls else None
        self._cond = threading.Condition()
        self._records, self._errors, self._scripts, self._held = [], [], {}, set()
        self._conns, self._threads = set(), []
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self.tokens_gone = set()
        self.connections = 0  # connections accepted so far
        self.clock = time.time  # tests may shift the fake's clock

    # lifecycle

    def start(self):
        t = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._threads.append(t)
        t.start()
        return self

    def stop(self):
        """Closes every connection (GOAWAY on HTTP/2) and joins every thread."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        self._wake_w.send(b"x")
        deadline = time.monotonic() + STOP_DEADLINE
        if self._threads:
            self._threads[0].join(STOP_DEADLINE)  # no connection is added after this
        for c in list(self._conns):
            c.close()
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()
        leaked = [t.name for t in self._threads if t.is_alive()]
        if leaked:
            raise RuntimeError(f"{self.name}: threads still running after stop(): {leaked}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # what a test reads

    @property
    def requests(self):
        """Every request received, in order (a copy of the list; the records are live)."""
        with self._cond:
            return list(self._records)

    @property
    def errors(self):
        """What the fake refused, each naming what was wrong; [] when all was well."""
        with self._cond:
            return list(self._errors)

    def clear(self):
        with self._cond:
            self._records.clear()
            self._errors.clear()

    def wait_requests(self, n, timeout=10.0, match=None):
        """Waits until n recorded requests satisfy match (all when None); returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._records if match is None or match(r)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(_summary(r) for r in self._records) or "(none)"
                    raise AssertionError(
                        f"{self.name}: wanted {n} requests{' matching' if match else ''} "
                        f"within {timeout} s, have {len(got)}; received:\n  {seen}\n"
                        f"errors: {self._errors}")
                self._cond.wait(left)

    # what a test scripts

    def script(self, token, answers):
        """Answers the next requests for token with answers, in order, then as usual."""
        self._script(token, answers)

    def script_all(self, answers):
        """Like script(), for requests to any token (a token's own script goes first)."""
        self._script(_ALL, answers)

    def _script(self, key, answers):
        with self._cond:
            self._scripts.setdefault(key, collections.deque()).extend(answers)

    def hold(self, token=None):
        """Requests for token (every request when None) go unanswered until release()."""
        with self._cond:
            self._held.add(_ALL if token is None else token)

    def release(self):
        with self._cond:
            self._held.clear()
            self._cond.notify_all()
            conns = list(self._conns)
        for c in conns:
            c.poke()

    def unregister(self, token):
        """From now on the service answers token as an app uninstalled from its device."""
        with self._cond:
            self.tokens_gone.add(token)

    # for the connections

    def _accept_loop(self):
        try:
            while True:
                select.select([self._listener, self._wake_r], [], [])
                if self._stopping:
                    return
                try:
                    sock, peer = self._listener.accept()
                except BlockingIOError:
                    continue
                with self._cond:
                    self.connections += 1
                    conn = _Conn(self, sock, peer, self.connections)
                    self._conns.add(conn)
                    self._threads.append(conn.thread)
                conn.thread.start()
        except OSError as e:
            if not self._stopping:
                self._error(f"accept: {e}")

    def _error(self, what):
        with self._cond:
            self._errors.append(what)
            self._cond.notify_all()

    def _receive(self, req):
        """Checks and records req; (record, the refusal or None)."""
        rec = {"method": req.method, "path": req.path, "peer": req.peer,
               "headers": dict(req.headers),
               "token": None, "body": None, "time": self.clock(), "status": None,
               "reason": None}
        refusal = None
        try:
            self._check(req, rec)
        except _Refuse as r:
            refusal = r.response
            self._error(f"{req.method} {req.path}: {r.why}")
        except Exception as e:  # a bug in the fake: fail the test, not the thread
            refusal = _Response(500, {"reason": "InternalServerError"}, reason="FakeBug")
            self._error(f"{req.method} {req.path}: the fake failed checking it: {e!r}")
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()
        return rec, refusal

    def _holds(self, rec):
        with self._cond:
            return not self._stopping and bool(self._held & {_ALL, rec.get("token")})

    def _answer(self, rec, refusal):
        if refusal is not None:
            return refusal
        with self._cond:
            for key in (rec.get("token"), _ALL):
                if self._scripts.get(key):
                    entry = self._scripts[key].popleft()
                    return self._scripted(tuple(entry) if isinstance(entry, (tuple, list))
                                          else (entry,), rec)
            gone = rec.get("token") in self.tokens_gone
        return self._gone(rec) if gone else self._success(rec)

    def _answered(self, rec, resp):
        with self._cond:
            rec["status"], rec["reason"] = resp.status, resp.reason
            self._cond.notify_all()

    def _gone(self, rec):
        return self._success(rec)  # a service without device tokens

    def _serve_blocking(self, req):
        """For HTTP/1.1: the response, once any hold is released; None when stopping."""
        rec, refusal = self._receive(req)
        with self._cond:
            while refusal is None and self._holds(rec):
                self._cond.wait()
            if self._stopping:
                return None, rec
        return self._answer(rec, refusal), rec


def _summary(rec):
    return (f"{rec['method']} {rec['path']} token={rec.get('token')} "
            f"status={rec['status']} reason={rec['reason']}")


class _Conn:
    """One client connection, served by its own thread."""

    def __init__(self, fake, sock, peer, n):
        self.fake, self.sock, self.peer = fake, sock, f"{peer[0]}:{peer[1]}"
        self.ctl = sock.dup()  # shutdown() from another thread unblocks reads
        self.wake_r, self.wake_w = socket.socketpair()
        self.h2 = None
        self.parked = []  # (stream id, record) of held requests
        self.thread = threading.Thread(target=self.run, name=f"{fake.name}-conn{n}", daemon=True)

    def poke(self):
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def close(self):
        self.poke()
        if self.h2 is None:
            try:
                self.ctl.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        fake = self.fake
        try:
            proto = "http/1.1"
            if fake._ctx is not None:
                self.sock.settimeout(10)
                try:
                    self.sock = fake._ctx.wrap_socket(self.sock, server_side=True)
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    return  # the client went away (killed, or only probing the port)
                except ssl.SSLError as e:  # e.g. the client does not trust the test CA
                    if not fake._stopping:
                        fake._error(f"TLS handshake failed: {e}")
                    return
                self.sock.settimeout(None)
                proto = self.sock.selected_alpn_protocol()
            if proto == "h2":
                self.serve_h2()
            elif "http/1.1" in fake.alpn and proto in (None, "http/1.1"):
                self.sock.settimeout(30)
                _Http1Handler(self.sock, self.peer, fake)
            else:
                fake._error(f"connection without ALPN h2 (negotiated {proto!r}); "
                            f"the service speaks only HTTP/2")
        except (OSError, ssl.SSLError):
            pass  # the client went away
        except h2.exceptions.ProtocolError as e:
            fake._error(f"HTTP/2 protocol error: {e!r}")
        finally:
            for s in (self.sock, self.ctl, self.wake_r, self.wake_w):
                s.close()
            with fake._cond:
                fake._conns.discard(self)

    def serve_h2(self):
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        self.h2 = conn
        conn.initiate_connection()
        self.sock.sendall(conn.data_to_send())
        streams = {}
        while True:
            if self.fake._stopping:
                conn.close_connection()
                self.sock.sendall(conn.data_to_send())
                return
            if not self.sock.pending():
                ready, _, _ = select.select([self.sock, self.wake_r], [], [])
                if self.wake_r in ready:
                    self.wake_r.recv(4096)
                    self.parked = [p for p in self.parked if not self.send_if_released(*p)]
                    self.sock.sendall(conn.data_to_send())
                    if self.sock not in ready:
                        continue
            data = self.sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                sid = getattr(ev, "stream_id", None)
                if isinstance(ev, h2.events.RequestReceived):
                    streams[sid] = (list(ev.headers), bytearray())
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                    if sid in streams:
                        streams[sid][1].extend(ev.data)
                        if len(streams[sid][1]) > MAX_BODY:
                            del streams[sid]
                            conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
                            self.fake._error(f"stream {sid}: request body over {MAX_BODY} bytes")
                elif isinstance(ev, h2.events.StreamEnded) and sid in streams:
                    self.dispatch(sid, *streams.pop(sid))
                elif isinstance(ev, h2.events.StreamReset):
                    streams.pop(sid, None)
                    self.parked = [p for p in self.parked if p[0] != sid]
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return
            self.sock.sendall(conn.data_to_send())

    def dispatch(self, sid, headers, body):
        pseudo = {k: v for k, v in headers if k.startswith(":")}
        req = _Request(pseudo.get(":method"), pseudo.get(":path"),
                       [(k, v) for k, v in headers if not k.startswith(":")], body, self.peer)
        rec, refusal = self.fake._receive(req)
        if refusal is None and self.fake._holds(rec):
            self.parked.append((sid, rec))
        else:
            self.send(sid, rec, self.fake._answer(rec, refusal))

    def send_if_released(self, sid, rec):
        if self.fake._holds(rec) or self.fake._stopping:
            return False
        self.send(sid, rec, self.fake._answer(rec, None))
        return True

    def send(self, sid, rec, resp):
        headers = [(":status", str(resp.status))] + resp.headers
        if resp.body:
            headers += [("content-type", resp.ctype), ("content-length", str(len(resp.body)))]
        try:
            self.h2.send_headers(sid, headers, end_stream=not resp.body)
            if resp.body:
                self.h2.send_data(sid, resp.body, end_stream=True)
        except h2.exceptions.StreamClosedError:
            return  # the client gave up on the stream
        self.fake._answered(rec, resp)


class _Http1Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, for the OAuth endpoint and the webhook sink."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def any_method(self):
        fake = self.server
        if self.headers.get("Transfer-Encoding"):
            fake._error(f"{self.command} {self.path}: chunked body; send Content-Length")
            self.send_error(411)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        req = _Request(self.command, self.path, list(self.headers.items()), body,
                       self.client_address)
        resp, rec = fake._serve_blocking(req)
        if resp is None:
            self.close_connection = True
            return
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.body:
            self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        self.wfile.write(resp.body)
        fake._answered(rec, resp)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = any_method


def _json_body(req):
    """(parsed JSON or None, what is wrong with it or None)."""
    try:
        return json.loads(req.body.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as e:
        return None, f"body is not JSON: {e}"


def _bearer(req):
    scheme, _, token = (req.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# ---------------------------------------------------------------- APNs

APNS_PUSH_TYPES = ("alert", "voip", "background")


def _apns_error(status, reason, headers=None):
    body = {"reason": reason}
    if status == 410:
        body["timestamp"] = int(time.time() * 1000)  # when the token stopped being valid
    hdrs = {"apns-id": str(uuid.uuid4()).upper()}
    hdrs.update(headers or {})
    return _Response(status, body, hdrs, reason=reason)


class FakeAPNs(_Fake):
    """api.push.apple.com with token-based (JWT) provider authentication.

    Records: method, path, peer (the client's address: one per connection), token,
    headers, body (parsed JSON), jwt (raw), claims, time, and status and reason once
    answered (None while held, or when the client went before the answer).
    A connection may change its provider token at most once per 20 minutes of iat.
    Scripted answers: (status, reason) or (status, reason, extra headers)."""

    name = "fake-apns"

    def __init__(self, pki, team_id, key_id, public_key, bundle_id):
        super().__init__(pki)
        self.team_id, self.key_id, self.bundle_id = team_id, key_id, bundle_id
        self.public_key = _public_key(public_key)
        self._peer_jwt = {}  # connection: (the provider token it uses, its iat)

    def distinct_jwts(self):
        """The provider tokens used, each once, in the order first seen."""
        return list(dict.fromkeys(r["jwt"] for r in self.requests if r.get("jwt")))

    def _check(self, req, rec):
        def no(status, reason, why):
            raise _Refuse(_apns_error(status, reason), f"{reason}: {why}")

        rec.update(jwt=None, claims=None)
        m = re.fullmatch(r"/3/device/([^/?#]*)", req.path or "")
        rec["token"] = m and m[1]
        rec["body"], bad_json = _json_body(req)
        if req.dups:
            no(400, "DuplicateHeaders", f"repeated headers {req.dups}")
        if req.method != "POST":
            no(405, "MethodNotAllowed", f"method {req.method}, not POST")
        if not m:
            no(404, "BadPath", f"path {req.path!r} is not /3/device/<token>")
        self._check_jwt(req, rec, no)
        topic, kind = req.header("apns-topic"), req.header("apns-push-type")
        if not topic:
            no(400, "MissingTopic", "no apns-topic header")
        if kind not in APNS_PUSH_TYPES:
            no(400, "InvalidPushType", f"apns-push-type {kind!r} not in {APNS_PUSH_TYPES}")
        want = self.bundle_id + ".voip" if kind == "voip" else self.bundle_id
        if topic != want:
            no(400, "BadTopic", f"apns-topic {topic!r} for a {kind} push; want {want!r}")
        prio = req.header("apns-priority") or "10"  # APNs' default
        want = {"voip": ("10",), "background": ("5",)}.get(kind, ("10", "5"))
        if prio not in want:
            no(400, "BadPriority", f"apns-priority {prio!r} for a {kind} push; want {want}")
        exp = req.header("apns-expiration")
        if exp is not None and not re.fullmatch(r"[0-9]+", exp):
            no(400, "BadExpirationDate", f"apns-expiration {exp!r} is not an integer")
        cid = req.header("apns-collapse-id")
        if cid is not None and len(cid.encode()) > 64:
            no(400, "BadCollapseId", f"apns-collapse-id is {len(cid.encode())} bytes, over 64")
        aid = req.header("apns-id")
        if aid is not None and not re.fullmatch(r"(?i)[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}",
                                                aid):
            no(400, "BadMessageId", f"apns-id {aid!r} is not a UUID")
        if not re.fullmatch(r"[0-9a-fA-F]{64,200}", rec["token"]):
            no(400, "BadDeviceToken", f"token {rec['token'][:80]!r} is not 64-200 hex digits")
        limit = 5120 if kind == "voip" else 4096
        if not req.body:
            no(400, "PayloadEmpty", "empty body")
        if len(req.body) > limit:
            no(413, "PayloadTooLarge", f"body is {len(req.body)} bytes; a {kind} push "
                                       f"allows {limit}")
        # Not APNs reasons: the real service may take these and the device drop them.
        if bad_json or not isinstance(rec["body"], dict):
            no(400, "BadPayload", bad_json or "body is not a JSON object")
        aps = rec["body"].get("aps")
        if kind == "alert" and not (isinstance(aps, dict) and aps.get("alert")):
            no(400, "BadPayload", "an alert push without aps.alert")

    def _check_jwt(self, req, rec, no):
        auth = req.header("authorization")
        if not auth:
            no(403, "MissingProviderToken", "no authorization header")
        rec["jwt"] = token = _bearer(req)
        if not token:
            no(403, "InvalidProviderToken", f"authorization is not 'bearer <JWT>': {auth[:30]!r}")
        try:
            header, rec["claims"], signed, sig = jwt_parts(token)
        except ValueError as e:
            no(403, "InvalidProviderToken", f"unreadable JWT: {e}")
        claims = rec["claims"]
        if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
            no(403, "InvalidProviderToken", f"JWT header {header}; want alg ES256, "
                                            f"kid {self.key_id!r}")
        if len(sig) != 64:
            no(403, "InvalidProviderToken", f"ES256 signature of {len(sig)} bytes; JOSE wants "
                                            f"64 (r||s), not DER")
        try:
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            self.public_key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            no(403, "InvalidProviderToken", "JWT signature does not verify with the key")
        if claims.get("iss") != self.team_id:
            no(403, "InvalidProviderToken", f"iss {claims.get('iss')!r}, want {self.team_id!r}")
        iat, now = claims.get("iat"), self.clock()
        if type(iat) is not int:
            no(403, "InvalidProviderToken", f"iat {iat!r} is not an integer (seconds)")
        if iat > now + 60:
            no(403, "InvalidProviderToken", f"iat is {iat - now:.0f} s in the future")
        if now - iat > 3600:
            no(403, "ExpiredProviderToken", f"iat is {now - iat:.0f} s old (over 1 hour)")
        with self._cond:
            last = self._peer_jwt.get(req.peer)
            if last and last[0] != token and iat - last[1] < 1200:
                no(429, "TooManyProviderTokenUpdates", f"a new provider token {iat - last[1]} s "
                   f"after the last one on this connection; APNs allows one per 20 minutes")
            self._peer_jwt[req.peer] = (token, iat)

    def _scripted(self, entry, rec):
        return _apns_error(*entry)

    def _gone(self, rec):
        return _apns_error(410, "Unregistered")

    def _success(self, rec):
        return _Response(200, headers={"apns-id": rec["headers"].get("apns-id")
                                       or str(uuid.uuid4()).upper()})


# ---------------------------------------------------------------- Google OAuth and FCM

class FakeOAuth(_Fake):
    """Google's token endpoint for a service account (JWT bearer grant), at /token.

    Made without a service account, it makes one whose token_uri is this endpoint
    (.service_account). Records: form, jwt, claims, access_token (when issued)."""

    name = "fake-oauth"
    alpn = ("h2", "http/1.1")

    def __init__(self, pki, service_account=None, expires_in=3600):
        super().__init__(pki)
        self.token_uri = self.url + "/token"
        self.service_account = service_account or pki.service_account(self.token_uri)
        self.public_key = _public_key(self.service_account["private_key"])
        self.expires_in = expires_in
        self.issued = []  # {"access_token", "expires_at", "claims"}, in order

    def is_valid(self, access_token):
        with self._cond:
            return any(t["access_token"] == access_token and self.clock() < t["expires_at"]
                       for t in self.issued)

    def expire_all(self):
        """Every access token issued so far stops being valid (FCM answers 401)."""
        with self._cond:
            for t in self.issued:
                t["expires_at"] = 0

    def _check(self, req, rec):
        def no(why, error="invalid_grant", status=400):
            raise _Refuse(_Response(status, {"error": error, "error_description": why},
                                    reason=error), f"{error}: {why}")

        rec.update(form=None, jwt=None, claims=None, access_token=None)
        if req.method != "POST" or req.path != "/token":
            no(f"{req.method} {req.path}; want POST /token", "not_found", 404)
        ctype = (req.header("content-type") or "").split(";")[0].strip()
        if ctype != "application/x-www-form-urlencoded":
            no(f"content-type {ctype!r}", "invalid_request")
        try:
            form = urllib.parse.parse_qs(req.body.decode(), strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            no(f"unreadable form: {e}", "invalid_request")
        rec["form"] = form = {k: v[-1] for k, v in form.items()}
        if form.get("grant_type") != JWT_BEARER:
            no(f"Invalid grant_type: {form.get('grant_type')}", "unsupported_grant_type")
        rec["jwt"] = form.get("assertion")
        try:
            header, rec["claims"], signed, sig = jwt_parts(rec["jwt"] or "")
        except ValueError as e:
            no(f"unreadable assertion: {e}")
        c, sa = rec["claims"], self.service_account
        if header.get("alg") != "RS256" or header.get("kid", sa["private_key_id"]) != \
                sa["private_key_id"]:
            no(f"assertion header {header}; want alg RS256, kid {sa['private_key_id']!r}")
        try:
            self.public_key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            no("Invalid JWT Signature.")
        if c.get("iss") != sa["client_email"]:
            no(f"iss {c.get('iss')!r}, want {sa['client_email']!r}")
        if FCM_SCOPE not in str(c.get("scope", "")).split():
            no(f"scope {c.get('scope')!r} lacks {FCM_SCOPE}", "invalid_scope")
        if c.get("aud") != sa["token_uri"]:
            no(f"aud {c.get('aud')!r}, want {sa['token_uri']!r}")
        iat, exp, now = c.get("iat"), c.get("exp"), self.clock()
        if type(iat) is not int or type(exp) is not int or not 0 < exp - iat <= 3600 \
                or iat > now + 60 or exp <= now:
            no(f"Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
               f"reasonable timeframe (iat {iat!r}, exp {exp!r}, now {now:.0f})")

    def _scripted(self, entry, rec):
        status, error, headers = (tuple(entry) + (None,))[:3]
        return _Response(status, {"error": error, "error_description": "scripted"}, headers,
                         reason=error)

    def _success(self, rec):
        token = "ya29." + secrets.token_urlsafe(48)
        with self._cond:
            self.issued.append({"access_token": token, "claims": rec["claims"],
                                "expires_at": self.clock() + self.expires_in})
            rec["access_token"] = token
        return _Response(200, {"access_token": token, "expires_in": self.expires_in,
                               "token_type": "Bearer"}, {"cache-control": "no-store"})


# errorCode: (HTTP status, google.rpc status, message), as FCM HTTP v1 answers them
FCM_ERRORS = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for the device."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push."),
}
FCM_MESSAGE_KEYS = {"name", "token", "topic", "condition", "data", "notification", "android",
                    "apns", "webpush", "fcm_options"}
FCM_ANDROID_KEYS = {"collapse_key", "priority", "ttl", "restricted_package_name", "data",
                    "notification", "fcm_options", "direct_boot_ok"}
FCM_RESERVED = re.compile(r"(from|notification|message_type|(google|gcm)\..*)$")


def _fcm_error(status, code, message=None, headers=None):
    """An error as Google APIs write it; code is an FcmError errorCode or a status."""
    known = FCM_ERRORS.get(code)
    error = {"code": status, "message": message or (known[2] if known else code),
             "status": known[1] if known else code}
    if known:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                             "errorCode": code}]
    return _Response(status, {"error": error}, headers, reason=code)


class FakeFCM(_Fake):
    """fcm.googleapis.com's HTTP v1 send, authorised by tokens from a FakeOAuth.

    Records: token, body (parsed), access_token, plus the common fields. Scripted
    answers: (status, errorCode) or (status, errorCode, extra headers), e.g.
    (503, "UNAVAILABLE", {"retry-after": "1"}). data_only refuses messages with a
    notification (FCM takes them; callwire must not send them)."""

    name = "fake-fcm"

    def __init__(self, pki, oauth, project_id=None, data_only=True):
        super().__init__(pki)
        self.oauth, self.data_only = oauth, data_only
        self.project_id = project_id or oauth.service_account["project_id"]

    def _check(self, req, rec):
        def no(why, code="INVALID_ARGUMENT", status=400, message=None):
            raise _Refuse(_fcm_error(status, code, message or why), f"{code}: {why}")

        rec["access_token"] = _bearer(req)
        rec["body"], bad_json = _json_body(req)
        msg = rec["body"].get("message") if isinstance(rec["body"], dict) else None
        if isinstance(msg, dict) and isinstance(msg.get("token"), str):
            rec["token"] = msg["token"]
        m = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", req.path or "")
        if req.method != "POST" or not m:
            no(f"{req.method} {req.path}; want POST /v1/projects/<p>/messages:send",
               "NOT_FOUND", 404)
        if not self.oauth.is_valid(rec["access_token"]):
            no(f"authorization {req.header('authorization')!r} is not a live access token",
               "UNAUTHENTICATED", 401, "Request had invalid authentication credentials. "
               "Expected OAuth 2 access token, login cookie or other valid authentication "
               "credential. See https://developers.google.com/identity/sign-in/web/"
               "devconsole-project.")
        if m[1] != self.project_id:
            no(f"project {m[1]!r}, want {self.project_id!r}", "PERMISSION_DENIED", 403,
               f"Permission 'cloudmessaging.messages.create' denied on resource "
               f"'//cloudresourcemanager.googleapis.com/projects/{m[1]}' (or it may not exist).")
        if req.dups:
            no(f"repeated headers {req.dups}")
        ctype = (req.header("content-type") or "").split(";")[0].strip()
        if ctype != "application/json":
            no(f"content-type {ctype!r}, want application/json")
        if bad_json or not isinstance(rec["body"], dict):
            no(bad_json or "body is not a JSON object", message="Invalid JSON payload received.")
        extra = set(rec["body"]) - {"message", "validate_only"}
        if extra or not isinstance(msg, dict):
            no(f"unknown top-level fields {sorted(extra)}" if extra else "no message object")
        if set(msg) - FCM_MESSAGE_KEYS:
            no(f"unknown message fields {sorted(set(msg) - FCM_MESSAGE_KEYS)}")
        targets = [k for k in ("token", "topic", "condition") if k in msg]
        if targets != ["token"]:
            no(f"message targets {targets}; callwire sends to one token")
        if not re.fullmatch(r"[A-Za-z0-9_-]{11,}:[A-Za-z0-9_-]{20,}", str(msg["token"])):
            no(f"token {str(msg['token'])[:80]!r}",
               message="The registration token is not a valid FCM registration token")
        data = msg.get("data", {})
        if not isinstance(data, dict):
            no("message.data is not an object")
        for i, (k, v) in enumerate(data.items()):
            if not isinstance(v, str):
                no(f"message.data[{k!r}] is {type(v).__name__}, not a string",
                   message=f"Invalid value at 'message.data[{i}].value' (TYPE_STRING), {v}")
            if FCM_RESERVED.match(k):
                no(f"message.data key {k!r} is reserved")
        android = msg.get("android", {})
        if not isinstance(android, dict) or set(android) - FCM_ANDROID_KEYS:
            no(f"message.android {android!r} is not an AndroidConfig")
        if str(android.get("priority", "normal")).lower() not in ("high", "normal"):
            no(f"android.priority {android['priority']!r} is not high or normal")
        ttl = android.get("ttl", "0s")
        if not (isinstance(ttl, str) and re.fullmatch(r"[0-9]+(\.[0-9]{1,9})?s", ttl)
                and float(ttl[:-1]) <= 2419200):
            no(f"android.ttl {ttl!r} is not a duration like '30s' of at most 4 weeks")
        if self.data_only and ("notification" in msg or "notification" in android):
            no("a notification message; callwire sends data-only messages")
        size = len(json.dumps(msg, separators=(",", ":")).encode())
        if size > 4096:
            no(f"message is {size} bytes, over 4096", message="Message is too big")

    def _scripted(self, entry, rec):
        status, code, headers = (tuple(entry) + (None,))[:3]
        return _fcm_error(status, code, headers=headers)

    def _gone(self, rec):
        return _fcm_error(404, "UNREGISTERED")

    def _success(self, rec):
        mid = f"0:{int(time.time() * 1e6)}%{secrets.token_hex(8)}"
        return _Response(200, {"name": f"projects/{self.project_id}/messages/{mid}"})


# ---------------------------------------------------------------- webhooks

class WebhookSink(_Fake):
    """An app backend's webhook URL: HTTP/1.1 on 127.0.0.1, over TLS when given a pki.

    Records: headers (lower-case names), raw (body bytes), body (parsed JSON). Refuses
    what is not a JSON POST, and, when given secret, what is not signed with it (401).
    Scripted answers: (status,) or (status, headers)."""

    name = "webhook-sink"
    alpn = ("http/1.1",)

    def __init__(self, pki=None, secret=None):
        super().__init__(pki, tls=pki is not None)
        self.secret = secret

    def script(self, answers):
        """Answers the next requests with answers, in order, then 200."""
        self._script(_ALL, answers)

    def verify(self, secret, records=None, tolerance=300):
        """Asserts that each recorded request (or each of records) carries a valid
        Callwire-Signature for its body under secret, made within tolerance s of now."""
        for rec in self.requests if records is None else records:
            why = check_webhook_signature(secret, rec["headers"].get("callwire-signature"),
                                          rec["raw"], now=self.clock(), tolerance=tolerance)
            if why:
                raise AssertionError(f"{_summary(rec)}: {why}")

    def _check(self, req, rec):
        def no(status, why):
            raise _Refuse(_Response(status, why.encode(), ctype="text/plain"), why)

        rec["raw"] = req.body
        rec["body"], bad_json = _json_body(req)
        if req.method != "POST":
            no(405, f"method {req.method}, not POST")
        ctype = (req.header("content-type") or "").split(";")[0].strip()
        if ctype != "application/json":
            no(415, f"content-type {ctype!r}, want application/json")
        if bad_json:
            no(400, bad_json)
        if self.secret is not None:
            why = check_webhook_signature(self.secret, req.header("callwire-signature"),
                                          req.body, now=self.clock())
            if why:
                no(401, why)

    def _scripted(self, entry, rec):
        status, headers = (tuple(entry) + (None,))[:2]
        return _Response(status, headers=headers)

    def _success(self, rec):
        return _Response(200)
