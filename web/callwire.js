/**
 * callwire.js: the JavaScript client of a callwire server, a dependency-free ES module.
 *
 * The same concepts and names as the C library (include/callwire/callwire.h): log in,
 * listeners registered under ids, initiate / accept / reject / cancel / end a call, the
 * active call, the call log in keyset pages, and media sessions (join, leave, mute,
 * pause video). docs/web.md is the guide; docs/protocol.md the wire protocol.
 *
 *     import { CallwireClient } from "/callwire.js";
 *     const client = new CallwireClient({ appId });
 *     await client.loginWithAuthKey("alice", authKey);
 *     client.addCallListener("main", {
 *       incomingCallReceived: (call) => showIncoming(call),
 *       outgoingCallAccepted: (call) => startMedia(call),
 *       callEnded: (call) => hangUp(call),
 *     });
 *     const call = await client.initiateCall("bob", "user", "video");
 *
 * Errors are CallwireError objects whose `code` is the contract's ERR_… code (or
 * ERR_TIMEOUT, ERR_CLOSED, ERR_NETWORK, ERR_NOT_LOGGED_IN on this side).
 */

import { CallwireError, CallwireSession, RealtimeConnection } from "./js/session.js";

export { CallwireError, CallwireSession, RealtimeConnection };

const REQUEST_TIMEOUT_MS = 15000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
// A connection that has carried nothing for this long is asked for something; one that
// does not answer within PROBE_TIMEOUT_MS is given up and replaced.
const PROBE_AFTER_MS = 20000;
const PROBE_TIMEOUT_MS = 8000;
const STORAGE_KEY = "callwire.login";

/** The call listener's callbacks (all optional), as in the C library. */
export const CALL_LISTENER_EVENTS = [
	"incomingCallReceived", // someone rings this user
	"outgoingCallAccepted", // the callee answered this user's call
	"outgoingCallRejected", // this user's call ended unanswered: rejected, busy or unanswered
	"outgoingCallCancelled", // this user's ringing call was cancelled (here or elsewhere)
	"incomingCallCancelled", // a call ringing this user stopped: cancelled or unanswered
	"callEnded", // an ongoing call this user was in is over
	"acceptedElsewhere", // another device of this user answered
	"rejectedElsewhere", // another device of this user declined
	"participantJoined", // (call, uid) in a group call
	"participantLeft", // (call, uid) in a group call
];

/** The connection listener's callbacks. */
export const CONNECTION_LISTENER_EVENTS = ["connected", "disconnected", "reconnecting",
	"reconnected"];

/* Listeners under string ids; adding an existing id replaces it and keeps its place. */
class ListenerSet {
	constructor() {
		this._map = new Map();
	}

	add(id, listener) {
		if (typeof id !== "string" || !id)
			throw new CallwireError("ERR_BAD_REQUEST", "a listener needs a non-empty string id");
		this._map.set(id, listener || {});
	}

	remove(id) {
		if (!this._map.delete(id))
			throw new CallwireError("ERR_NOT_FOUND", `no listener with id ${id}`);
	}

	fire(name, ...args) {
		for (const listener of [...this._map.values()]) {
			const fn = listener[name];
			if (typeof fn !== "function")
				continue;
			// One listener's exception must not keep the others from the event.
			try {
				fn(...args);
			} catch (err) {
				setTimeout(() => { throw err; });
			}
		}
	}
}

/*
 * The realtime link of a logged-in client: one RealtimeConnection at a time, replaced
 * after a drop (with resumeFrom, so no event is missed or repeated). Media sessions
 * use it as their connection: requests wait for a connection while it reconnects.
 */
class RealtimeLink {
	constructor(client) {
		this._client = client;
		this._conn = null;
		this._handlers = { event: new Set(), close: new Set() };
		this._waiters = [];
		this._timer = null;
		this._probeTimer = null;
		this._attempt = 0;
		this._stopped = false;
		this._lastTraffic = 0;
		this.lastSeq = null;
		this.device = null;
		this.state = "disconnected";
	}

	on(name, fn) {
		this._handlers[name].add(fn);
		return () => this._handlers[name].delete(fn);
	}

	_emit(name, detail) {
		for (const fn of [...this._handlers[name]]) {
			try {
				fn(detail);
			} catch (err) {
				setTimeout(() => { throw err; });
			}
		}
	}

	start() {
		this._stopped = false;
		this._connect(false);
		this._probeTimer = setInterval(() => this._probe(), PROBE_AFTER_MS / 2);
		this._onOnline = () => {
			if (this.state === "reconnecting") {
				clearTimeout(this._timer);
				this._connect(true);
			}
		};
		this._onOffline = () => this._drop();
		globalThis.addEventListener?.("online", this._onOnline);
		globalThis.addEventListener?.("offline", this._onOffline);
	}

	stop() {
		this._stopped = true;
		clearTimeout(this._timer);
		clearInterval(this._probeTimer);
		globalThis.removeEventListener?.("online", this._onOnline);
		globalThis.removeEventListener?.("offline", this._onOffline);
		const conn = this._conn;
		this._conn = null;
		if (conn)
			conn.close();
		this.state = "disconnected";
		for (const w of this._waiters.splice(0))
			w.reject(new CallwireError("ERR_CLOSED", "logged out"));
		this._emit("close", { code: 1000, reason: "logged out" });
	}

	/** A request over the current connection; waits for one while reconnecting. */
	async request(method, params, { timeout = REQUEST_TIMEOUT_MS } = {}) {
		const deadline = Date.now() + timeout;
		for (;;) {
			const conn = this._conn && !this._conn.closed ? this._conn : await this._wait(deadline);
			try {
				return await conn.request(method, params,
					{ timeout: Math.max(1, deadline - Date.now()) });
			} catch (err) {
				// The connection went away under the request: once a new one is up, a
				// retry is safe (every request of the protocol may be repeated).
				if (err.code !== "ERR_CLOSED" || this._stopped || Date.now() >= deadline)
					throw err;
			}
		}
	}

	_wait(deadline) {
		if (this._stopped)
			return Promise.reject(new CallwireError("ERR_CLOSED", "logged out"));
		return new Promise((resolve, reject) => {
			const w = { resolve, reject };
			w.timer = setTimeout(() => {
				this._waiters = this._waiters.filter((x) => x !== w);
				reject(new CallwireError("ERR_TIMEOUT", "no connection to the server"));
			}, Math.max(1, deadline - Date.now()));
			this._waiters.push(w);
		});
	}

	async _connect(again) {
		const c = this._client;
		this.state = again ? "reconnecting" : "connecting";
		let conn;
		try {
			conn = await RealtimeConnection.open({ wsUrl: c.wsUrl, appId: c.appId,
				authToken: c.authToken, resumeFrom: this.lastSeq });
		} catch (err) {
			if (this._stopped)
				return;
			if (err.code === "ERR_UNAUTHORIZED") {
				this._unauthorized();
				return;
			}
			this._retry();
			return;
		}
		if (this._stopped) {
			conn.close();
			return;
		}
		this._conn = conn;
		this._attempt = 0;
		this._lastTraffic = Date.now();
		this.device = conn.ready.device || null;
		const resumed = this.lastSeq !== null && conn.ready.resumed === true;
		if (this.lastSeq === null || !resumed)
			this.lastSeq = conn.ready.seq;
		this.state = "connected";
		conn.on("event", (msg) => {
			this._lastTraffic = Date.now();
			if (typeof msg.seq === "number") {
				if (this.lastSeq !== null && msg.seq <= this.lastSeq)
					return; // already seen
				this.lastSeq = msg.seq;
			}
			this._emit("event", msg);
		});
		conn.on("close", (e) => this._closed(conn, e));
		for (const w of this._waiters.splice(0)) {
			clearTimeout(w.timer);
			w.resolve(conn);
		}
		if (again)
			c._connections.fire("reconnected", resumed);
		else
			c._connections.fire("connected");
	}

	_closed(conn, e) {
		if (conn !== this._conn || this._stopped)
			return;
		this._conn = null;
		if (e.code === 4001) {
			this._unauthorized();
			return;
		}
		this._client._connections.fire("disconnected",
			new CallwireError("ERR_CONNECTION_LOST", `the connection closed (${e.code})`));
		this._retry();
	}

	_unauthorized() {
		this.state = "disconnected";
		const err = new CallwireError("ERR_UNAUTHORIZED", "the auth token was revoked or expired");
		for (const w of this._waiters.splice(0)) {
			clearTimeout(w.timer);
			w.reject(err);
		}
		this._client._connections.fire("disconnected", err);
		this._client._forget();
	}

	_retry() {
		if (this._stopped)
			return;
		this.state = "reconnecting";
		this._attempt += 1;
		const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (this._attempt - 1));
		const delay = Math.round(base / 2 + Math.random() * base / 2);
		this._client._connections.fire("reconnecting", this._attempt, delay);
		this._timer = setTimeout(() => this._connect(true), delay);
	}

	/* The network went away (the browser says so): drop the socket now rather than
	 * wait for TCP to notice. */
	_drop() {
		const conn = this._conn;
		if (!conn)
			return;
		this._conn = null;
		conn.close(4000);
		this._client._connections.fire("disconnected",
			new CallwireError("ERR_CONNECTION_LOST", "the network is offline"));
		this._retry();
	}

	async _probe() {
		const conn = this._conn;
		if (!conn || Date.now() - this._lastTraffic < PROBE_AFTER_MS)
			return;
		try {
			await conn.request("call.active", {}, { timeout: PROBE_TIMEOUT_MS });
			this._lastTraffic = Date.now();
		} catch (err) {
			if (err.code === "ERR_TIMEOUT" && conn === this._conn)
				this._drop();
		}
	}
}

/** Pages through the logged-in user's call log, newest first (cw_call_log_request). */
export class CallLogRequest {
	constructor(client, { limit, type, status, direction, uid, guid, category } = {}) {
		this._client = client;
		this._params = { limit, type, status, direction, uid, guid, category };
		this._next = null;
		this._done = false;
		this._busy = false;
	}

	/** False once a fetch returned the last page. */
	get hasMore() {
		return !this._done;
	}

	/** The next page of calls (an array); [] after the last page. */
	async fetchNext() {
		if (this._busy)
			throw new CallwireError("ERR_BUSY", "a fetch of this request is running");
		if (this._done)
			return [];
		this._busy = true;
		try {
			const q = new URLSearchParams();
			for (const [k, v] of Object.entries(this._params))
				if (v !== undefined && v !== null && v !== "")
					q.set(k, String(v));
			if (this._next)
				q.set("cursor", this._next);
			const page = await this._client._rest("GET", `/calls?${q}`);
			this._next = page.next;
			this._done = !page.next;
			return page.data;
		} finally {
			this._busy = false;
		}
	}
}

/**
 * One logged-in user on this device. `server` defaults to the page's origin; `storage`
 * (default sessionStorage: one login per tab) keeps the login across reloads, or null.
 */
export class CallwireClient {
	constructor({ appId, server = globalThis.location?.origin, storage = globalThis.sessionStorage ?? null } = {}) {
		if (!server)
			throw new CallwireError("ERR_BAD_REQUEST", "no server URL");
		this.server = server.replace(/\/+$/, "");
		this.wsUrl = this.server.replace(/^http/, "ws") + "/v1/ws";
		this.appId = appId || null;
		this.authToken = null;
		this.user = null;
		this._storage = storage;
		this._calls = new ListenerSet();
		this._connections = new ListenerSet();
		this._link = null;
		this._own = new Set(); // sessions this device answered
		this._users = new Map(); // uid -> user, for names
		this.activeCall = null;
	}

	// ---- login --------------------------------------------------------------------

	/** Restores the login kept in storage, if any, for this server; resolves the user or null. */
	async restoreLogin() {
		let saved = null;
		try {
			saved = JSON.parse(this._storage?.getItem(STORAGE_KEY) || "null");
		} catch (err) { /* a damaged entry is no login */ }
		if (!saved || saved.server !== this.server || !saved.authToken || !saved.appId)
			return null;
		if (this.appId && this.appId !== saved.appId)
			return null;
		this.appId = saved.appId;
		try {
			return await this.loginWithToken(saved.authToken);
		} catch (err) {
			if (err.code === "ERR_UNAUTHORIZED" || err.code === "ERR_NOT_FOUND")
				this._storage?.removeItem(STORAGE_KEY);
			throw err;
		}
	}

	/** Logs in with the app's auth key (development). Resolves the user. */
	async loginWithAuthKey(uid, authKey, appId = this.appId) {
		this._needLoggedOut(appId);
		this.appId = appId;
		const r = await this._fetch("POST", `/v1/apps/${enc(appId)}/login`, { uid, authKey });
		this._loggedIn(r.authToken, r.user);
		return r.user;
	}

	/** Logs in with an auth token the app's backend obtained (production). */
	async loginWithToken(authToken, appId = this.appId) {
		this._needLoggedOut(appId);
		this.appId = appId;
		const user = await this._fetch("GET", `/v1/apps/${enc(appId)}/me`, undefined, authToken);
		this._loggedIn(authToken, user);
		return user;
	}

	getLoggedInUser() {
		return this.user;
	}

	/** "disconnected", "connecting", "connected" or "reconnecting". */
	getConnectionState() {
		return this._link ? this._link.state : "disconnected";
	}

	/** Revokes the token, closes the connection, forgets the login (even offline). */
	async logout() {
		if (!this.authToken)
			return;
		try {
			await this._rest("POST", "/logout");
		} finally {
			this._forget();
		}
	}

	// ---- listeners ----------------------------------------------------------------

	addCallListener(id, listener) {
		this._calls.add(id, listener);
	}

	removeCallListener(id) {
		this._calls.remove(id);
	}

	addConnectionListener(id, listener) {
		this._connections.add(id, listener);
	}

	removeConnectionListener(id) {
		this._connections.remove(id);
	}

	// ---- ringing ------------------------------------------------------------------

	/** Rings `receiver` (a uid, or a guid with receiverType "group"). `type`: "audio" or
	 * "video"; options: timeout (5–300 s), metadata (an object). Resolves the call; a
	 * busy callee gives a call already `busy`. ERR_CALL_IN_PROGRESS carries the call the
	 * user is in as `err.details.call`. */
	async initiateCall(receiver, receiverType = "user", type = "video", { timeout, metadata } = {}) {
		const body = { receiver, receiverType, type };
		if (timeout !== undefined)
			body.timeout = timeout;
		if (metadata !== undefined)
			body.metadata = metadata;
		return this._track(await this._rest("POST", "/calls", body));
	}

	async acceptCall(sessionId) {
		this._own.add(sessionId);
		try {
			return this._track(await this._rest("POST", `/calls/${enc(sessionId)}/accept`));
		} catch (err) {
			this._own.delete(sessionId);
			throw err;
		}
	}

	/** `status`: "rejected" (declined) or "busy". */
	async rejectCall(sessionId, status = "rejected") {
		this._own.add(sessionId);
		try {
			return this._track(await this._rest("POST", `/calls/${enc(sessionId)}/reject`, { status }));
		} catch (err) {
			this._own.delete(sessionId);
			throw err;
		}
	}

	async cancelCall(sessionId) {
		return this._track(await this._rest("POST", `/calls/${enc(sessionId)}/cancel`));
	}

	/** Leaves the call: a 1:1 call ends; a group call ends when nobody is left. */
	async endCall(sessionId) {
		return this._track(await this._rest("POST", `/calls/${enc(sessionId)}/end`));
	}

	/** Ends a group call for everyone (its initiator only). */
	async endCallForAll(sessionId) {
		return this._track(await this._rest("POST", `/calls/${enc(sessionId)}/end`, { forAll: true }));
	}

	getCall(sessionId) {
		return this._rest("GET", `/calls/${enc(sessionId)}`);
	}

	/** The user's initiated or ongoing call, or null. */
	async getActiveCall() {
		const r = await this._rest("GET", "/calls/active");
		this.activeCall = r.call;
		return r.call;
	}

	/** A request object paging through the call log; filters: limit, type, status,
	 * direction ("incoming" | "outgoing"), uid, guid, category. */
	callLogRequest(filters) {
		return new CallLogRequest(this, filters);
	}

	// ---- the app's users and groups -----------------------------------------------

	/** One page of the app's users: {data, next}. */
	async fetchUsers({ limit = 100, cursor } = {}) {
		const q = new URLSearchParams({ limit: String(limit) });
		if (cursor)
			q.set("cursor", cursor);
		const page = await this._rest("GET", `/users?${q}`);
		for (const u of page.data)
			this._users.set(u.uid, u);
		return page;
	}

	/** One page of the groups this user is a member of: {data, next}. */
	fetchGroups({ limit = 100, cursor } = {}) {
		const q = new URLSearchParams({ limit: String(limit) });
		if (cursor)
			q.set("cursor", cursor);
		return this._rest("GET", `/groups?${q}`);
	}

	/** A user by uid (cached after the first fetch); null when unknown. */
	async getUser(uid) {
		if (this._users.has(uid))
			return this._users.get(uid);
		try {
			const u = await this._rest("GET", `/users/${enc(uid)}`);
			this._users.set(uid, u);
			return u;
		} catch (err) {
			if (err.code === "ERR_NOT_FOUND")
				return null;
			throw err;
		}
	}

	// ---- media sessions -----------------------------------------------------------

	/** A call token for one session: {callToken, expiresAt}. */
	generateCallToken(sessionId) {
		return this._rest("POST", `/sessions/${enc(sessionId)}/token`);
	}

	/**
	 * Joins the media session `sessionId` (a call's sessionId, or any other id for a
	 * `meet` session) over this client's connection and publishes `localStream`.
	 * `settings`: audioOnly, startAudioMuted, startVideoPaused, title, idleTimeout.
	 * Resolves a CallwireSession (leave(), mute(kind, muted), on(event, fn), …).
	 */
	async joinSession(sessionId, { localStream = null, settings = {}, rtcConfiguration } = {}) {
		this._needLoggedIn();
		const { callToken } = await this.generateCallToken(sessionId);
		return CallwireSession.join({ connection: this._link, sessionId, callToken, localStream,
			settings, rtcConfiguration });
	}

	/** Joins the session of an accepted call: audio-only for an audio call. */
	joinCallSession(call, { localStream = null, settings = {}, rtcConfiguration } = {}) {
		return this.joinSession(call.sessionId, { localStream, rtcConfiguration,
			settings: { ...settings, audioOnly: call.type === "audio" || !!settings.audioOnly } });
	}

	// ---- internals ----------------------------------------------------------------

	_needLoggedOut(appId) {
		if (this.authToken)
			throw new CallwireError("ERR_ALREADY_LOGGED_IN", "already logged in: log out first");
		if (!appId)
			throw new CallwireError("ERR_BAD_REQUEST", "no app id");
	}

	_needLoggedIn() {
		if (!this.authToken)
			throw new CallwireError("ERR_NOT_LOGGED_IN", "not logged in");
	}

	_loggedIn(authToken, user) {
		this.authToken = authToken;
		this.user = user;
		this._users.set(user.uid, user);
		try {
			this._storage?.setItem(STORAGE_KEY, JSON.stringify({ server: this.server,
				appId: this.appId, authToken }));
		} catch (err) { /* storage full or disabled: the login lasts this page */ }
		this._link = new RealtimeLink(this);
		this._link.on("event", (msg) => this._event(msg));
		this._link.start();
	}

	_forget() {
		const link = this._link;
		this._link = null;
		this.authToken = null;
		this.user = null;
		this.activeCall = null;
		this._own.clear();
		this._storage?.removeItem(STORAGE_KEY);
		if (link)
			link.stop();
	}

	/* Keeps activeCall: the user's call while it is initiated or ongoing. */
	_track(call) {
		if (call && (call.status === "initiated" || call.status === "ongoing"))
			this.activeCall = call;
		else if (call && this.activeCall && this.activeCall.sessionId === call.sessionId)
			this.activeCall = null;
		return call;
	}

	_event(msg) {
		const call = msg.call;
		if (!call || !String(msg.name).startsWith("call."))
			return;
		const me = this.user ? this.user.uid : null;
		const initiator = call.initiator && call.initiator.uid === me;
		const mine = this._link && msg.device === this._link.device;
		switch (msg.name) {
		case "call.incoming":
			this._calls.fire("incomingCallReceived", call);
			break;
		case "call.accepted":
			this._track(call);
			this._calls.fire("outgoingCallAccepted", call);
			break;
		case "call.rejected":
			this._track(call);
			this._calls.fire("outgoingCallRejected", call);
			break;
		case "call.unanswered":
			this._track(call);
			this._calls.fire(initiator ? "outgoingCallRejected" : "incomingCallCancelled", call);
			break;
		case "call.cancelled":
			this._track(call);
			this._calls.fire(initiator ? "outgoingCallCancelled" : "incomingCallCancelled", call);
			break;
		case "call.ended":
			this._track(call);
			this._calls.fire("callEnded", call);
			break;
		case "call.accepted_elsewhere":
		case "call.rejected_elsewhere":
			// This device's own answer comes back too: it is not "elsewhere".
			if (mine && this._own.delete(call.sessionId))
				break;
			this._calls.fire(msg.name === "call.accepted_elsewhere" ? "acceptedElsewhere"
				: "rejectedElsewhere", call);
			break;
		case "call.participant_joined":
			this._calls.fire("participantJoined", call, msg.uid);
			break;
		case "call.participant_left":
			this._calls.fire("participantLeft", call, msg.uid);
			break;
		default:
			break;
		}
	}

	/* A REST request of the app on behalf of the logged-in user. */
	_rest(method, appPath, body) {
		this._needLoggedIn();
		return this._fetch(method, `/v1/apps/${enc(this.appId)}${appPath}`, body, this.authToken);
	}

	async _fetch(method, path, body, token) {
		const headers = {};
		if (body !== undefined)
			headers["Content-Type"] = "application/json";
		if (token)
			headers.Authorization = `Bearer ${token}`;
		const ctl = new AbortController();
		const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
		let res;
		let text;
		try {
			res = await fetch(this.server + path, { method, headers, signal: ctl.signal,
				body: body === undefined ? undefined : JSON.stringify(body) });
			text = await res.text();
		} catch (err) {
			throw new CallwireError(err.name === "AbortError" ? "ERR_TIMEOUT" : "ERR_NETWORK",
				`${method} ${path}: ${err.name === "AbortError" ? "no answer in time" : "the server cannot be reached"}`);
		} finally {
			clearTimeout(timer);
		}
		let json = null;
		try {
			json = text ? JSON.parse(text) : null;
		} catch (err) { /* not JSON */ }
		if (!res.ok) {
			const e = (json && json.error) || {};
			throw new CallwireError(e.code || `HTTP_${res.status}`,
				e.message || `${method} ${path}: HTTP ${res.status}`, e);
		}
		return json;
	}
}

function enc(s) {
	return encodeURIComponent(String(s));
}
