#!/usr/bin/python3
"""An independent WebRTC participant of a callwire media session, for the end-to-end tests.

aiortc (Debian's python3-aiortc) speaks docs/protocol.md's media-session protocol over the
realtime WebSocket (Debian's python3-websocket): it publishes a 440 Hz tone and a moving
test pattern on its publish connection, answers the server's offers on its subscribe
connection, and counts what it receives from each participant (the stream id of a track's
a=msid). It reports as JSON lines on stdout:

  {"type":"ready","uid":…}                        authenticated on the WebSocket
  {"type":"joined","participantId":…,"participants":[…],"settings":{…}}
  {"type":"track","participantId":…,"kind":…}    a remote track arrived
  {"type":"event","name":"session.…",…}           a session event for us
  {"type":"stats","received":{participantId:{"audio":{"frames","samples","packets",
                                                       "freq","rms"},
                                             "video":{"frames","packets","width","height"}}},
   "sent":{"audio":{"packets"},"video":{"packets"}},"connections":{…}}   every --report s
      (audio's "freq" is the dominant frequency in Hz and "rms" the level, 0..1, of the
      last second received from that participant)
  {"type":"ended","reason":…} / {"type":"left"}   then it exits 0
  {"type":"error","message":…}                    then it exits 1

Commands on stdin, one a line: `mute audio|video`, `unmute audio|video`, `leave`. End of
input also leaves.

  aiortc_peer.py --ws ws://127.0.0.1:8080/v1/ws --app APP --token AUTH_TOKEN \\
                 --call-token CALL_TOKEN [--session ID] [--settings JSON]

Only Debian's interpreter (/usr/bin/python3) sees Debian's aiortc.
"""

import argparse
import asyncio
import base64
import fractions
import itertools
import json
import sys
import threading
import time

import aioice.ice
import av
import numpy
import websocket
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc import sdp as aiortc_sdp
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

SUBPROTOCOL = "callwire.v1"
REQUEST_TIMEOUT = 15.0
TAIL_SECONDS = 1.0  # the received audio that "freq" and "rms" measure


def fix_extension_ids():
    """aiortc 1.4 numbers audio's ssrc-audio-level and video's abs-send-time both 2. On one
    BUNDLE transport an id must name one extension (RFC 8843 section 9.1): Chromium refuses
    such an offer, and aiortc itself misparses the packets. Video's takes 3."""
    for ext in HEADER_EXTENSIONS["video"]:
        if ext.uri.endswith("/abs-send-time"):
            ext.id = 3


def mono(frame):
    """The first channel of an audio frame as floats in [-1, 1]."""
    pcm = frame.to_ndarray()
    if frame.format.is_planar:
        pcm = pcm[0]
    else:
        pcm = pcm.reshape(-1, len(frame.layout.channels))[:, 0]
    if pcm.dtype.kind == "f":
        return pcm.astype(numpy.float64)
    return pcm.astype(numpy.float64) / float(numpy.iinfo(pcm.dtype).max + 1)


def spectrum_peak(samples, rate, low=50.0, high=4000.0):
    """The dominant frequency (Hz) of `samples` between low and high: the peak of a
    Hann-windowed FFT, refined by a parabola through the peak bin and its neighbours."""
    if len(samples) < 256:
        return None
    power = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples)))) ** 2
    hz = rate / len(samples)
    lo, hi = int(low / hz), min(int(high / hz), len(power) - 2)
    k = lo + int(numpy.argmax(power[lo:hi + 1]))
    a, b, c = numpy.log(power[k - 1:k + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0.0
    return round(float((k + shift) * hz), 1)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# media ----------------------------------------------------------------------------------

class ToneTrack(MediaStreamTrack):
    """A 440 Hz sine at 48 kHz, mono, in 20 ms frames, paced in real time."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self):
        super().__init__()
        self._start = None
        self._pts = 0

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._pts += self.SAMPLES
            await asyncio.sleep(max(0, self._start + self._pts / self.RATE - time.time()))
        t = (self._pts + numpy.arange(self.SAMPLES)) / self.RATE
        pcm = (numpy.sin(2 * numpy.pi * 440 * t) * 8000).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


class PatternTrack(MediaStreamTrack):
    """A 320x240 test pattern with a moving bar, 15 frames a second."""

    kind = "video"
    CLOCK = 90000
    FPS = 15

    def __init__(self):
        super().__init__()
        self._start = None
        self._n = 0
        self._base = numpy.zeros((240, 320, 3), numpy.uint8)
        for i, colour in enumerate([(200, 200, 200), (200, 200, 0), (0, 200, 200),
                                    (0, 200, 0), (200, 0, 200), (200, 0, 0), (0, 0, 200)]):
            self._base[:, i * 320 // 7:(i + 1) * 320 // 7] = colour

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._n += 1
            await asyncio.sleep(max(0, self._start + self._n / self.FPS - time.time()))
        img = self._base.copy()
        y = (self._n * 4) % 240
        img[y:y + 16, :] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self._n * self.CLOCK // self.FPS
        frame.time_base = fractions.Fraction(1, self.CLOCK)
        return frame


# signaling ------------------------------------------------------------------------------

class SignalingError(Exception):
    def __init__(self, error):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class Realtime:
    """The realtime WebSocket: a reader thread hands every message to the asyncio loop."""

    def __init__(self, loop, url):
        self.loop = loop
        self.url = url
        self.ws = None
        self.ids = itertools.count(1)
        self.pending = {}
        self.events = asyncio.Queue()
        self.send_lock = threading.Lock()

    async def open(self, app_id, token):
        def connect():
            ws = websocket.create_connection(self.url, subprotocols=[SUBPROTOCOL], timeout=10)
            ws.send(json.dumps({"type": "auth", "appId": app_id, "token": token,
                                "resumeFrom": None}))
            ready = json.loads(ws.recv())
            ws.settimeout(None)
            return ws, ready
        self.ws, ready = await self.loop.run_in_executor(None, connect)
        if ready.get("type") != "ready":
            raise RuntimeError(f"no ready after auth: {ready}")
        threading.Thread(target=self._read, daemon=True).start()
        return ready

    def _read(self):
        try:
            while True:
                text = self.ws.recv()
                if not text:
                    break
                self.loop.call_soon_threadsafe(self._dispatch, json.loads(text))
        except Exception:  # closed, reset
            pass
        self.loop.call_soon_threadsafe(self._dispatch, None)

    def _dispatch(self, msg):
        if msg is None:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the WebSocket closed"))
            self.pending.clear()
            self.events.put_nowait(None)
        elif msg.get("type") == "response":
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                if "error" in msg:
                    fut.set_exception(SignalingError(msg["error"]))
                else:
                    fut.set_result(msg.get("result"))
        elif msg.get("type") == "event":
            self.events.put_nowait(msg)

    async def request(self, method, params):
        rid = str(next(self.ids))
        fut = self.loop.create_future()
        self.pending[rid] = fut
        with self.send_lock:
            self.ws.send(json.dumps({"type": "request", "id": rid, "method": method,
                                     "params": params}))
        try:
            return await asyncio.wait_for(fut, REQUEST_TIMEOUT)
        finally:
            self.pending.pop(rid, None)

    def close(self):
        # Send the close frame but do not wait for the answer (the reader thread would
        # take it): shutting the socket down also wakes that thread.
        try:
            self.ws.send_close()
        except Exception:
            pass
        self.ws.shutdown()


# the participant ------------------------------------------------------------------------

def msid_owners(sdp):
    """mid -> the stream id of each m-section's a=msid: the publishing participant."""
    owners = {}
    for media in aiortc_sdp.SessionDescription.parse(sdp).media:
        if media.msid and media.rtp.muxId is not None:
            owners[media.rtp.muxId] = media.msid.split()[0]
    return owners


def jwt_session(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))).get("session")


class Participant:
    def __init__(self, rt, session_id):
        self.rt = rt
        self.session_id = session_id
        self.participant_id = None
        config = RTCConfiguration(iceServers=[])  # none: aiortc's default is a public STUN server
        self.publish = RTCPeerConnection(config)
        self.subscribe = RTCPeerConnection(config)
        self.owners = {}  # mid -> participantId
        self.received = {}  # participantId -> kind -> counters
        self.tails = {}  # participantId -> (rate, [arrays]): the last second of its audio
        self.offers = asyncio.Lock()
        self.version = 0
        self.ended = asyncio.Event()
        self.tasks = []
        self.subscribe.on("track", self._on_track)

    def _counters(self, owner, kind):
        return self.received.setdefault(owner, {}).setdefault(kind, {"frames": 0, "packets": 0})

    def _on_track(self, track):
        mid = next((t.mid for t in self.subscribe.getTransceivers()
                    if t.receiver.track is track), None)
        owner = self.owners.get(mid)
        emit({"type": "track", "participantId": owner, "kind": track.kind, "mid": mid})
        self.tasks.append(asyncio.ensure_future(self._consume(track, owner)))

    async def _consume(self, track, owner):
        c = self._counters(owner, track.kind)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            c["frames"] += 1
            if track.kind == "audio":
                c["samples"] = c.get("samples", 0) + frame.samples
                self._keep_tail(owner, frame)
            else:
                c["width"], c["height"] = frame.width, frame.height

    def _keep_tail(self, owner, frame):
        rate = frame.sample_rate
        prev_rate, chunks = self.tails.get(owner, (rate, []))
        if prev_rate != rate:
            chunks = []
        chunks.append(mono(frame))
        while sum(len(x) for x in chunks) - len(chunks[0]) >= rate * TAIL_SECONDS:
            chunks.pop(0)
        self.tails[owner] = (rate, chunks)

    def _measure_tails(self):
        for owner, (rate, chunks) in self.tails.items():
            samples = numpy.concatenate(chunks)[-int(rate * TAIL_SECONDS):]
            c = self._counters(owner, "audio")
            c["freq"] = spectrum_peak(samples, rate)
            c["rms"] = round(float(numpy.sqrt(numpy.mean(samples ** 2))), 5)

    async def join(self, call_token, settings):
        self.publish.addTransceiver(ToneTrack(), direction="sendonly")
        self.publish.addTransceiver(PatternTrack(), direction="sendonly")
        await self.publish.setLocalDescription(await self.publish.createOffer())
        params = {"sessionId": self.session_id, "callToken": call_token,
                  "offer": self.publish.localDescription.sdp, "settings": settings}
        result = await self.rt.request("session.join", params)
        self.participant_id = result["participantId"]
        emit({"type": "joined", "participantId": self.participant_id,
              "participants": [p["participantId"] for p in result.get("participants", [])],
              "settings": result.get("settings"), "category": result.get("category")})
        await self.publish.setRemoteDescription(
            RTCSessionDescription(sdp=result["answer"], type="answer"))
        if result.get("subscribe"):
            await self.answer(result["subscribe"]["version"], result["subscribe"]["sdp"])

    async def answer(self, version, sdp):
        async with self.offers:
            if version <= self.version:
                return
            self.version = version
            self.owners.update(msid_owners(sdp))
            await self.subscribe.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await self.subscribe.setLocalDescription(await self.subscribe.createAnswer())
            try:
                await self.request("session.answer", {"version": version,
                                                      "sdp": self.subscribe.localDescription.sdp})
            except SignalingError as err:
                if err.code != "ERR_INVALID_STATE":  # else a newer offer is on its way
                    raise

    def request(self, method, params):
        return self.rt.request(method, {"sessionId": self.session_id,
                                        "participantId": self.participant_id, **params})

    async def events(self):
        while True:
            msg = await self.rt.events.get()
            if msg is None:
                emit({"type": "ended", "reason": "websocket closed"})
                self.ended.set()
                return
            if msg.get("sessionId") != self.session_id or msg.get("to") != self.participant_id:
                continue
            name = msg.get("name")
            p = msg.get("participant") or {}
            emit({"type": "event", "name": name, "participantId": p.get("participantId"),
                  "uid": p.get("uid"), **{k: msg[k] for k in ("reason", "kind", "endsAt",
                                                               "version") if k in msg}})
            if name == "session.offer":
                await self.answer(msg["version"], msg["sdp"])
            elif name == "session.ended" or (name == "session.participant_left" and
                                             p.get("participantId") == self.participant_id):
                emit({"type": "ended", "reason": msg.get("reason")})
                self.ended.set()
                return

    async def stats(self):
        for t in self.subscribe.getTransceivers():
            owner = self.owners.get(t.mid)
            if owner is None or t.receiver.track is None:
                continue
            packets = 0
            for s in (await t.receiver.getStats()).values():
                if s.type == "inbound-rtp":
                    packets += s.packetsReceived
            self._counters(owner, t.receiver.track.kind)["packets"] = packets
        self._measure_tails()
        sent = {}
        for sender in self.publish.getSenders():
            if sender.track is None:
                continue
            for s in (await sender.getStats()).values():
                if s.type == "outbound-rtp":
                    sent[sender.track.kind] = {"packets": s.packetsSent}
        return {"type": "stats", "received": self.received, "sent": sent,
                "connections": {"publish": self.publish.connectionState,
                                "subscribe": self.subscribe.connectionState}}

    async def report(self, interval):
        while True:
            emit(await self.stats())
            await asyncio.sleep(interval)

    async def commands(self, loop):
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "leave":
                return
            if line[0] in ("mute", "unmute") and len(line) == 2:
                await self.request("session.mute", {"kind": line[1], "muted": line[0] == "mute"})
                emit({"type": "muted" if line[0] == "mute" else "unmuted", "kind": line[1]})

    async def close(self):
        for task in self.tasks:
            task.cancel()
        await self.publish.close()
        await self.subscribe.close()


async def main(args):
    loop = asyncio.get_running_loop()
    fix_extension_ids()
    if args.host_address:
        # aioice leaves loopback out of its host candidates; the server is on loopback.
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.host_address]
    rt = Realtime(loop, args.ws)
    ready = await rt.open(args.app, args.token)
    emit({"type": "ready", "uid": ready["user"]["uid"]})
    me = Participant(rt, args.session or jwt_session(args.call_token))
    try:
        await me.join(args.call_token, json.loads(args.settings))
        events = asyncio.ensure_future(me.events())
        reporter = asyncio.ensure_future(me.report(args.report))
        commands = asyncio.ensure_future(me.commands(loop))
        done, _ = await asyncio.wait([events, commands], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # an exception ends the peer with an error
        if commands in done and not me.ended.is_set():
            await me.request("session.leave", {})
            emit({"type": "left"})
        emit(await me.stats())
        for task in (events, reporter, commands):
            task.cancel()
    finally:
        await me.close()
        rt.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws", required=True, help="ws://HOST:PORT/v1/ws")
    parser.add_argument("--app", required=True, help="the app id")
    parser.add_argument("--token", required=True, help="an auth token of the user")
    parser.add_argument("--call-token", required=True, help="the call token of the session")
    parser.add_argument("--session", help="the session id (default: the call token's)")
    parser.add_argument("--settings", default="{}", help="session.join settings, as JSON")
    parser.add_argument("--report", type=float, default=0.5, help="seconds between stats lines")
    parser.add_argument("--host-address", default="127.0.0.1",
                        help="the only local address for ICE ('' for aioice's own choice)")
    try:
        asyncio.run(main(parser.parse_args()))
    except Exception as err:  # report, then fail: the test reads stdout
        emit({"type": "error", "message": f"{type(err).__name__}: {err}"})
        sys.exit(1)
