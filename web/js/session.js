/**
 * callwire media sessions in the browser: a dependency-free ES module.
 *
 * A participant of a callwire media session has two RTCPeerConnections with the server
 * (docs/protocol.md, "Media sessions"): on the *publish* connection the browser offers its
 * own tracks (sendonly) and the server answers; on the *subscribe* connection the server
 * offers everybody else's tracks and the browser answers. All signaling rides the
 * realtime WebSocket (`/v1/ws`, subprotocol `callwire.v1`).
 *
 *     import { CallwireSession } from "/js/session.js";
 *     const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
 *     const s = await CallwireSession.join({ wsUrl, appId, authToken, callToken,
 *                                            localStream: stream, settings: { title: "Daily" } });
 *     s.on("track", ({ participantId, track, stream }) => attach(participantId, stream));
 *     s.on("participantleft", ({ participant, reason }) => detach(participant.participantId));
 *     s.on("ended", ({ reason }) => showEnded(reason));
 *     await s.mute("audio", true);
 *     await s.leave();
 *
 * Events (`s.on(name, fn)` returns a function that removes the listener; listeners attached
 * right after `await CallwireSession.join(…)` miss none):
 *   participantjoined {participant}            somebody joined
 *   participantleft   {participant, reason}    "left", "disconnected" or "removed"
 *   track             {participantId, participant, kind, track, stream, trackId}
 *                     a remote track arrived; its participant is its stream's id
 *   trackremoved      {participantId, kind, track, trackId}
 *   trackpublished, trackunpublished {participant, track}   (the server's announcements)
 *   muted, unmuted    {participant, kind, self}   audio muted or video paused, and back
 *   dominantspeaker   {participant, self}
 *   timeoutwarning    {endsAt}                  alone: the session ends at endsAt (Unix ms)
 *   ended             {reason}                  "idle_timeout", "call_ended", or the reason
 *                                               the server removed this participant
 *   connectionclosed  {code, reason}            the WebSocket closed (media may go on)
 *   error             {error}                   a renegotiation failed
 *   event             {message}                 every session event for this participant
 *
 * A session may share the application's realtime connection (`connection`, a
 * RealtimeConnection) or open its own from `wsUrl`, `appId` and `authToken`; it closes
 * only a connection it opened. Reconnecting a dropped WebSocket is the application's
 * job (RealtimeConnection.open with `resumeFrom`); the media connections keep running.
 */

export const SUBPROTOCOL = "callwire.v1";

const DEFAULT_TIMEOUT_MS = 15000;
// The publish offer bundles everything on one transport. The subscribe connection only
// answers, and so follows the server's BUNDLE group; it keeps the default bundle policy
// because Chromium refuses, under max-bundle, an offer without m-sections (the
// subscribe offer of a participant who is alone may have none).
const PUBLISH_CONFIG = { bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };
const SUBSCRIBE_CONFIG = { rtcpMuxPolicy: "require" };

/** A failed request or connection: `code` is the contract's ERR_… code. */
export class CallwireError extends Error {
	constructor(code, message, details) {
		super(message || code);
		this.name = "CallwireError";
		this.code = code;
		this.details = details || null;
	}
}

/* A minimal listener registry shared by both classes. */
class Emitter {
	constructor() {
		this._listeners = new Map();
	}

	/** Calls fn(detail) on each `name` event; returns a function that removes it. */
	on(name, fn) {
		if (!this._listeners.has(name))
			this._listeners.set(name, new Set());
		this._listeners.get(name).add(fn);
		return () => this.off(name, fn);
	}

	off(name, fn) {
		const set = this._listeners.get(name);
		if (set)
			set.delete(fn);
	}

	_emit(name, detail) {
		const set = this._listeners.get(name);
		if (!set)
			return;
		for (const fn of [...set]) {
			// One listener's exception must not keep the others from the event.
			try {
				fn(detail);
			} catch (err) {
				setTimeout(() => { throw err; });
			}
		}
	}
}

/**
 * One authenticated realtime WebSocket: requests with ids and their responses, and the
 * user's events (`on("event", fn)`), in order. `lastSeq` is the seq of the latest event,
 * for `resumeFrom` after a drop.
 */
export class RealtimeConnection extends Emitter {
	/**
	 * Opens `wsUrl` (e.g. "wss://example.com/v1/ws"), authenticates and resolves once the
	 * server said `ready`. Rejects with a CallwireError: ERR_UNAUTHORIZED for a bad token
	 * (close 4001), else the close code or a timeout. `WebSocketImpl` defaults to the
	 * global WebSocket.
	 */
	static open({ wsUrl, appId, authToken, resumeFrom = null, timeout = DEFAULT_TIMEOUT_MS,
		WebSocketImpl = globalThis.WebSocket }) {
		return new Promise((resolve, reject) => {
			const conn = new RealtimeConnection();
			const ws = new WebSocketImpl(wsUrl, SUBPROTOCOL);
			let settled = false;
			const timer = setTimeout(() => fail(new CallwireError("ERR_TIMEOUT",
				`no ready from ${wsUrl} within ${timeout} ms`)), timeout);
			const fail = (err) => {
				if (settled)
					return;
				settled = true;
				clearTimeout(timer);
				try {
					ws.close();
				} catch (e) { /* already closing */ }
				reject(err);
			};
			conn._ws = ws;
			ws.onopen = () => ws.send(JSON.stringify({ type: "auth", appId, token: authToken,
				resumeFrom }));
			ws.onerror = () => { /* onclose follows with the code */ };
			ws.onclose = (e) => {
				if (!settled) {
					const code = e.code === 4001 ? "ERR_UNAUTHORIZED" : "ERR_CLOSED";
					fail(new CallwireError(code, `the server closed the connection (${e.code}` +
						`${e.reason ? " " + e.reason : ""}) before ready`));
					return;
				}
				conn._closed(e.code, e.reason);
			};
			ws.onmessage = (e) => {
				let msg;
				try {
					msg = JSON.parse(e.data);
				} catch (err) {
					return;
				}
				if (!settled && msg.type === "ready") {
					settled = true;
					clearTimeout(timer);
					conn.ready = msg;
					conn.user = msg.user;
					conn.lastSeq = msg.seq;
					resolve(conn);
					return;
				}
				conn._receive(msg);
			};
		});
	}

	constructor() {
		super();
		this._ws = null;
		this._nextId = 1;
		this._pending = new Map();
		this.ready = null;
		this.user = null;
		this.lastSeq = null;
		this.closed = false;
	}

	/**
	 * Sends one request; resolves with its `result`, rejects with a CallwireError carrying
	 * the server's error code (or ERR_TIMEOUT, ERR_CLOSED).
	 */
	request(method, params = {}, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
		if (this.closed)
			return Promise.reject(new CallwireError("ERR_CLOSED", "the connection is closed"));
		const id = String(this._nextId++);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this._pending.delete(id);
				reject(new CallwireError("ERR_TIMEOUT",
					`${method}: no response within ${timeout} ms`));
			}, timeout);
			this._pending.set(id, { resolve, reject, timer, method });
			this._ws.send(JSON.stringify({ type: "request", id, method, params }));
		});
	}

	/** Closes the WebSocket; pending requests fail with ERR_CLOSED. */
	close(code = 1000) {
		if (this._ws && !this.closed)
			this._ws.close(code);
		this._closed(code, "closed by the client");
	}

	_receive(msg) {
		if (msg.type === "response") {
			const p = this._pending.get(msg.id);
			if (!p)
				return;
			this._pending.delete(msg.id);
			clearTimeout(p.timer);
			if (msg.error)
				p.reject(new CallwireError(msg.error.code, `${p.method}: ${msg.error.message}`,
					msg.error));
			else
				p.resolve(msg.result);
		} else if (msg.type === "event") {
			if (typeof msg.seq === "number")
				this.lastSeq = msg.seq;
			this._emit("event", msg);
		}
	}

	_closed(code, reason) {
		if (this.closed)
			return;
		this.closed = true;
		for (const p of this._pending.values()) {
			clearTimeout(p.timer);
			p.reject(new CallwireError("ERR_CLOSED", `${p.method}: the connection closed`));
		}
		this._pending.clear();
		this._emit("close", { code, reason });
	}
}

/* The claims of a JWT, unverified: only the server can check it. */
function jwtClaims(token) {
	const part = String(token).split(".")[1];
	if (!part)
		return {};
	try {
		const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
		return JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
	} catch (err) {
		return {};
	}
}

/** One participant in one media session. Create with CallwireSession.join(). */
export class CallwireSession extends Emitter {
	/**
	 * Joins the session of `callToken` (from POST /v1/apps/{appId}/sessions/{id}/token)
	 * and publishes the tracks of `localStream` (video left out when settings.audioOnly).
	 * Options: `connection` (a RealtimeConnection) or `wsUrl`, `appId`, `authToken`;
	 * `sessionId` (default: the token's `session` claim); `settings` (docs/protocol.md:
	 * audioOnly, startAudioMuted, startVideoPaused, title, idleTimeout);
	 * `rtcConfiguration` (extra RTCPeerConnection settings). Resolves once the server
	 * accepted the join and answered the publish offer; rejects with a CallwireError
	 * (nothing is left open then).
	 */
	static async join(opts) {
		const { callToken, localStream = null, settings = {}, rtcConfiguration = {} } = opts;
		const sessionId = opts.sessionId || jwtClaims(callToken).session;
		if (!sessionId)
			throw new CallwireError("ERR_BAD_REQUEST", "no sessionId, and none in the call token");
		const owns = !opts.connection;
		const conn = opts.connection || await RealtimeConnection.open(opts);
		const s = new CallwireSession(conn, owns, sessionId, rtcConfiguration);

		// Events for us may overtake the join's response: keep this session's events
		// until we know our participantId.
		const early = [];
		const offEarly = conn.on("event", (msg) => {
			if (msg.sessionId === sessionId && String(msg.name).startsWith("session."))
				early.push(msg);
		});
		let result;
		try {
			const tracks = localStream ? localStream.getTracks() : [];
			for (const track of tracks) {
				if (track.kind === "video" && settings.audioOnly)
					continue;
				s.publish.addTransceiver(track, { direction: "sendonly", streams: [localStream] });
			}
			// An offer needs at least one m-section; a participant without a microphone
			// offers an audio section with nothing on it.
			if (s.publish.getTransceivers().length === 0)
				s.publish.addTransceiver("audio", { direction: "sendonly" });
			await s.publish.setLocalDescription(await s.publish.createOffer());
			result = await conn.request("session.join", {
				sessionId, callToken, offer: s.publish.localDescription.sdp, settings,
			});
			s._joined(result, localStream);
			await s.publish.setRemoteDescription({ type: "answer", sdp: result.answer });
		} catch (err) {
			offEarly();
			if (result)
				conn.request("session.leave", { sessionId, participantId: result.participantId })
					.catch(() => {});
			s._close();
			if (err instanceof CallwireError)
				throw err;
			throw new CallwireError("ERR_CLIENT", String((err && err.message) || err));
		}
		// Start on the subscribe offer and the events after the caller's `await` resumed,
		// so that listeners it attaches at once see every event; until then, keep
		// gathering, so that the order stays the server's.
		setTimeout(() => {
			offEarly();
			if (s.state === "closed")
				return;
			s._offConn.push(conn.on("event", (msg) => s._event(msg)));
			s._offConn.push(conn.on("close", (e) => s._emit("connectionclosed", e)));
			if (result.subscribe)
				s._queueOffer(result.subscribe.version, result.subscribe.sdp);
			for (const msg of early)
				s._event(msg);
		}, 0);
		return s;
	}

	constructor(conn, ownsConnection, sessionId, rtcConfiguration) {
		super();
		this.connection = conn;
		this._ownsConnection = ownsConnection;
		this.sessionId = sessionId;
		this.participantId = null;
		this.category = null;
		this.settings = {};
		/** The others, by participantId (participant objects of docs/protocol.md). */
		this.participants = new Map();
		/** The remote MediaStream of each participant, by participantId. */
		this.remoteStreams = new Map();
		this.dominantSpeaker = null;
		this.localStream = null;
		this.state = "joining";
		/** The publish and subscribe RTCPeerConnections, for inspection. */
		this.publish = new RTCPeerConnection({ ...PUBLISH_CONFIG, ...rtcConfiguration });
		this.subscribe = new RTCPeerConnection({ ...SUBSCRIBE_CONFIG, ...rtcConfiguration });
		this._remote = new Map(); // subscribe transceiver -> {participantId, kind, trackId}
		this._offerChain = Promise.resolve();
		this._publishChain = Promise.resolve();
		this._offerVersion = 0;
		this._offConn = [];
		this.subscribe.ontrack = (e) => this._track(e);
	}

	/** Mutes (`kind` "audio") or pauses ("video") our own track, or undoes it. The track
	 * is disabled here at once and the server stops forwarding it. */
	async mute(kind, muted = true) {
		if (kind !== "audio" && kind !== "video")
			throw new CallwireError("ERR_BAD_REQUEST", `kind must be "audio" or "video", not ${kind}`);
		const tracks = this.publish.getSenders().map((x) => x.track)
			.filter((t) => t && t.kind === kind);
		const before = tracks.map((t) => t.enabled);
		tracks.forEach((t) => { t.enabled = !muted; });
		try {
			await this._request("session.mute", { kind, muted: !!muted });
		} catch (err) {
			tracks.forEach((t, i) => { t.enabled = before[i]; });
			throw err;
		}
	}

	/** Publishes one more local track (re-offers the publish connection). */
	publishTrack(track, stream = this.localStream) {
		return this._republish(() => {
			this.publish.addTransceiver(track, { direction: "sendonly",
				streams: stream ? [stream] : [] });
		});
	}

	/** Stops publishing a local track (re-offers the publish connection). */
	unpublishTrack(track) {
		return this._republish(() => {
			const t = this.publish.getTransceivers().find((x) => x.sender.track === track);
			if (!t)
				throw new CallwireError("ERR_BAD_REQUEST", "that track is not published");
			t.stop();
		});
	}

	/** Leaves the session and closes both peer connections (and the WebSocket when the
	 * session opened it). Safe to call more than once. */
	async leave() {
		if (this.state === "closed")
			return;
		try {
			await this._request("session.leave", {});
		} catch (err) {
			// Leaving must always leave this end clean; the server ends a participant
			// whose media goes silent anyway.
		}
		this._close();
	}

	/** The remote MediaStream of one participant, or undefined. */
	streamOf(participantId) {
		return this.remoteStreams.get(participantId);
	}

	/**
	 * Media statistics from getStats(), summed per participant and kind:
	 *   publish: {audio: {packetsSent, bytesSent},
	 *             video: {packetsSent, bytesSent, framesEncoded, framesSent}}
	 *   participants: {<participantId>: {
	 *             audio: {packetsReceived, bytesReceived, packetsLost, totalSamplesReceived,
	 *                     audioLevel},
	 *             video: {packetsReceived, bytesReceived, packetsLost, framesReceived,
	 *                     framesDecoded, frameWidth, frameHeight}}}
	 *   tracks: [{participantId, kind, trackId, mid, …the same counters}]  (one a track)
	 *   connections: {publish, subscribe}  (their connectionState)
	 */
	async stats() {
		const out = { publish: {}, participants: {}, tracks: [],
			connections: { publish: this.publish.connectionState,
				subscribe: this.subscribe.connectionState } };
		if (this.state === "closed")
			return out;
		for (const sender of this.publish.getSenders()) {
			if (!sender.track)
				continue;
			const o = firstOfType(await sender.getStats(), "outbound-rtp");
			if (o)
				add(out.publish, sender.track.kind, pick(o, ["packetsSent", "bytesSent",
					"framesEncoded", "framesSent"]));
		}
		for (const [transceiver, info] of this._remote) {
			const r = firstOfType(await transceiver.receiver.getStats(), "inbound-rtp");
			const counters = r ? pick(r, ["packetsReceived", "bytesReceived", "packetsLost",
				"totalSamplesReceived", "audioLevel", "framesReceived", "framesDecoded",
				"frameWidth", "frameHeight"]) : {};
			out.tracks.push({ ...info, mid: transceiver.mid, ...counters });
			out.participants[info.participantId] ||= {};
			add(out.participants[info.participantId], info.kind, counters);
		}
		return out;
	}

	// internals --------------------------------------------------------------------

	_joined(result, localStream) {
		this.participantId = result.participantId;
		this.category = result.category || null;
		this.settings = result.settings || {};
		this.localStream = localStream;
		this.state = "joined";
		for (const p of result.participants || [])
			this.participants.set(p.participantId, p);
	}

	_request(method, params, options) {
		return this.connection.request(method, { sessionId: this.sessionId,
			participantId: this.participantId, ...params }, options);
	}

	/* The server offers on the subscribe connection one version at a time; answers go
	 * back in order, and an offer older than one already answered is dropped. */
	_queueOffer(version, sdp) {
		this._offerChain = this._offerChain.then(async () => {
			if (this.state === "closed" || version <= this._offerVersion)
				return;
			this._offerVersion = version;
			await this.subscribe.setRemoteDescription({ type: "offer", sdp });
			await this.subscribe.setLocalDescription(await this.subscribe.createAnswer());
			try {
				await this._request("session.answer", { version,
					sdp: this.subscribe.localDescription.sdp });
			} catch (err) {
				// A newer offer is on its way (docs/protocol.md): it supersedes this one.
				if (err.code !== "ERR_INVALID_STATE")
					throw err;
			}
		}).catch((error) => {
			if (this.state !== "closed")
				this._emit("error", { error });
		});
	}

	_republish(change) {
		const run = this._publishChain.then(async () => {
			if (this.state !== "joined")
				throw new CallwireError("ERR_INVALID_STATE", "the session is not joined");
			change();
			await this.publish.setLocalDescription(await this.publish.createOffer());
			const r = await this._request("session.publish",
				{ offer: this.publish.localDescription.sdp });
			await this.publish.setRemoteDescription({ type: "answer", sdp: r.answer });
		});
		this._publishChain = run.catch(() => {});
		return run;
	}

	_track(e) {
		const track = e.track;
		const stream = e.streams[0];
		// The stream id is the participant's id (a=msid); fall back on the track id.
		let participantId = stream ? stream.id : null;
		if (!participantId || (!this.participants.has(participantId))) {
			for (const p of this.participants.values())
				if ((p.tracks || []).some((t) => t.trackId === track.id))
					participantId = p.participantId;
		}
		const info = { participantId, kind: track.kind, trackId: track.id };
		this._remote.set(e.transceiver, info);
		let remoteStream = this.remoteStreams.get(participantId);
		if (!remoteStream) {
			remoteStream = stream || new MediaStream();
			this.remoteStreams.set(participantId, remoteStream);
		}
		if (!remoteStream.getTracks().includes(track))
			remoteStream.addTrack(track);
		let gone = false;
		const removed = () => {
			if (gone || this._remote.get(e.transceiver) !== info)
				return;
			gone = true;
			this._remote.delete(e.transceiver);
			const rs = this.remoteStreams.get(participantId);
			if (rs && rs !== stream)
				rs.removeTrack(track);
			if (rs && rs.getTracks().every((t) => t === track || t.readyState === "ended"))
				this.remoteStreams.delete(participantId);
			this._emit("trackremoved", { participantId, kind: track.kind, track, trackId: track.id });
		};
		track.addEventListener("ended", removed);
		if (stream)
			stream.addEventListener("removetrack", (ev) => { if (ev.track === track) removed(); });
		this._emit("track", { participantId, participant: this.participants.get(participantId) || null,
			kind: track.kind, track, stream: remoteStream, trackId: track.id });
	}

	_event(msg) {
		if (this.state === "closed" || msg.sessionId !== this.sessionId || msg.to !== this.participantId)
			return;
		this._emit("event", { message: msg });
		const p = msg.participant;
		const self = !!p && p.participantId === this.participantId;
		if (p && !self && this.participants.has(p.participantId))
			this.participants.set(p.participantId, p);
		switch (msg.name) {
		case "session.offer":
			this._queueOffer(msg.version, msg.sdp);
			break;
		case "session.participant_joined":
			if (!self)
				this.participants.set(p.participantId, p);
			this._emit("participantjoined", { participant: p });
			break;
		case "session.participant_left":
			if (self) {
				this._end(msg.reason);
				break;
			}
			this.participants.delete(p.participantId);
			if (this.dominantSpeaker === p.participantId)
				this.dominantSpeaker = null;
			this._emit("participantleft", { participant: p, reason: msg.reason });
			break;
		case "session.track_published":
			this._emit("trackpublished", { participant: p, track: msg.track });
			break;
		case "session.track_unpublished":
			this._emit("trackunpublished", { participant: p, track: msg.track });
			break;
		case "session.muted":
		case "session.unmuted":
			this._emit(msg.name === "session.muted" ? "muted" : "unmuted",
				{ participant: p, kind: msg.kind, self });
			break;
		case "session.dominant_speaker":
			this.dominantSpeaker = p ? p.participantId : null;
			this._emit("dominantspeaker", { participant: p, self });
			break;
		case "session.timeout_warning":
			this._emit("timeoutwarning", { endsAt: msg.endsAt });
			break;
		case "session.ended":
			this._end(msg.reason);
			break;
		default:
			break;
		}
	}

	_end(reason) {
		this._close();
		this._emit("ended", { reason });
	}

	_close() {
		if (this.state === "closed")
			return;
		this.state = "closed";
		this._offConn.forEach((off) => off());
		this._offConn = [];
		this.publish.close();
		this.subscribe.close();
		this._remote.clear();
		if (this._ownsConnection)
			this.connection.close();
	}
}

function firstOfType(report, type) {
	for (const s of report.values())
		if (s.type === type)
			return s;
	return null;
}

function pick(obj, keys) {
	const out = {};
	for (const k of keys)
		if (typeof obj[k] === "number")
			out[k] = obj[k];
	return out;
}

/* Sums counters into into[kind]; sizes (frameWidth…) and levels keep the latest value. */
function add(into, kind, counters) {
	const o = (into[kind] ||= {});
	for (const [k, v] of Object.entries(counters)) {
		if (k === "frameWidth" || k === "frameHeight" || k === "audioLevel")
			o[k] = v;
		else
			o[k] = (o[k] || 0) + v;
	}
}
