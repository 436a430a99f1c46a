// A call on screen: the outgoing (ringing) view, and the ongoing call or meeting with its
// grid of tiles, controls, timer, dominant speaker and connection state. A media
// connection that fails (or stays disconnected) is rejoined by itself.

import { avatar, fmtDuration, h, icon, replace, toast } from "./dom.js";

const DISCONNECTED_REJOIN_MS = 6000;
const REJOIN_MAX_DELAY_MS = 8000;
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };

/** Camera and microphone; falls back to the microphone alone, then to nothing. */
export async function getMedia(video) {
	const md = navigator.mediaDevices;
	if (!md || !md.getUserMedia) {
		toast("This browser gives no access to a microphone here (HTTPS is needed)", "error");
		return null;
	}
	try {
		return await md.getUserMedia({ audio: true, video: video ? VIDEO : false });
	} catch (err) {
		if (video) {
			try {
				const s = await md.getUserMedia({ audio: true, video: false });
				toast("No camera: you are on the call with your microphone only", "info");
				return s;
			} catch (err2) { /* no microphone either */ }
		}
		toast("No microphone or camera could be opened: others will not hear you", "error");
		return null;
	}
}

function stopStream(stream) {
	if (stream)
		stream.getTracks().forEach((t) => t.stop());
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class CallView {
	/** Rings a user (receiverType "user") or a group; shows the outgoing view. */
	static async outgoing(app, target, receiverType, type) {
		if (app.call) {
			toast("You are already in a call", "error");
			return null;
		}
		const v = new CallView(app, { kind: "call", type, receiverType,
			title: target.name || target.uid || target.guid, target });
		v._outgoingView();
		const media = getMedia(type === "video");
		try {
			const call = await app.client.initiateCall(target.uid || target.guid, receiverType, type);
			v.call = call;
			v.sessionId = call.sessionId;
			v.el.dataset.sessionId = call.sessionId;
			v.stream = await media;
			v._preview();
			if (v.closed)
				return v;
			if (v._cancelWanted)
				return v.cancel();
			if (call.status === "ongoing")
				v.accepted(call);
			else if (call.status !== "initiated")
				v.rejected(call);
			else
				v._status(receiverType === "group" ? "Ringing the group…" : "Ringing…");
		} catch (err) {
			stopStream(await media);
			v.stream = null;
			v.close(err.code === "ERR_CALL_IN_PROGRESS" ? "You are already in another call"
				: err.code === "ERR_NOT_FOUND" ? `${v.title} is not a user of this app`
					: `The call could not be made: ${err.message}`, "error");
		}
		return v;
	}

	/** Back on the outgoing view of a call that still rings (after a reload). */
	static async resumeOutgoing(app, call) {
		if (app.call)
			return null;
		const v = new CallView(app, { kind: "call", type: call.type, receiverType: call.receiverType,
			title: call.receiver.name || call.receiver.uid || call.receiver.guid, target: call.receiver });
		v.call = call;
		v.sessionId = call.sessionId;
		v._outgoingView();
		v._status("Ringing…");
		v.stream = await getMedia(call.type === "video");
		v._preview();
		return v;
	}

	/** An accepted call: joins its media session. */
	static async accepted(app, call) {
		if (app.call && app.call.sessionId !== call.sessionId)
			await app.call.hangUp();
		if (app.call)
			return app.call;
		const me = app.client.user.uid;
		const other = call.initiator.uid === me ? call.receiver : call.initiator;
		const v = new CallView(app, { kind: "call", type: call.type, receiverType: call.receiverType,
			title: call.receiverType === "group" ? call.receiver.name || call.receiver.guid
				: other.name || other.uid || other.guid, target: other });
		v.call = call;
		v.sessionId = call.sessionId;
		v.stream = undefined; // opened by _ongoing, once the call is on screen
		await v._ongoing();
		return v;
	}

	/** Joins the meet session `sessionId` with `stream` (from the join screen). */
	static async meet(app, sessionId, stream, { audioMuted = false, videoOff = false } = {}) {
		if (app.call)
			await app.call.hangUp();
		const v = new CallView(app, { kind: "meet", type: "video", title: `Meeting ${sessionId}` });
		v.sessionId = sessionId;
		v.stream = stream;
		v.muted = { audio: audioMuted, video: videoOff };
		await v._ongoing();
		return v;
	}

	constructor(app, { kind, type, receiverType = "user", title, target = null }) {
		this.app = app;
		this.kind = kind;
		this.type = type;
		this.receiverType = receiverType;
		this.title = title;
		this.target = target;
		this.call = null;
		this.sessionId = null;
		this.session = null;
		this.stream = null;
		this.state = "outgoing";
		this.closed = false;
		this.muted = { audio: false, video: false };
		this.tiles = new Map(); // participantId (or "self") -> tile
		this.ownIds = new Set(); // our participant ids, old ones included
		this.startedAt = null;
		this._offs = [];
		this._timer = null;
		this._disconnectedSince = 0;
		this._rejoining = false;
		this._joinedAt = 0;
		this._cancelWanted = false;
		this.el = null;
		app.call = this;
	}

	// ---- views --------------------------------------------------------------------

	_layer(state, ...content) {
		this.state = state;
		this.statusEl = h("span", { class: "call-status", role: "status" });
		this.timerEl = h("time", { class: "call-timer", "aria-label": "Call duration" });
		this.connEl = h("span", { class: "conn-badge", "aria-live": "polite" });
		const el = h("section", { class: `call-layer ${state}`, role: "region",
			"aria-label": this.kind === "meet" ? this.title : `Call with ${this.title}`,
			dataset: { state, sessionId: this.sessionId || "" } },
		h("header", { class: "call-head" },
			h("div", {}, h("h1", { class: "call-title" }, this.title),
				h("p", { class: "call-sub" }, this.statusEl, this.timerEl)),
			this.connEl),
		...content);
		const root = document.getElementById("layer");
		replace(root, el);
		this.el = el;
		document.body.classList.add("in-call");
		return el;
	}

	_outgoingView() {
		this.previewEl = h("video", { class: "preview", autoplay: true, playsinline: true,
			muted: true, "aria-label": "Your camera" });
		this.previewEl.muted = true;
		const cancel = h("button", { type: "button", class: "round-button decline",
			"aria-label": "Cancel call", onclick: () => this.cancel() }, icon("hangup"));
		this._layer("outgoing",
			h("div", { class: "ringing" },
				h("div", { class: "pulse" }, avatar(this.target, "xl")),
				this.previewEl),
			h("div", { class: "controls", role: "toolbar", "aria-label": "Call controls" },
				h("div", { class: "labelled" }, cancel, h("span", { "aria-hidden": "true" }, "Cancel"))));
		this._status(this.receiverType === "group" ? "Calling the group…" : "Calling…");
		cancel.focus();
	}

	_preview() {
		if (this.previewEl && this.stream && this.stream.getVideoTracks().length) {
			this.previewEl.srcObject = this.stream;
			this.previewEl.classList.add("live");
			this.previewEl.play().catch(() => {});
		}
	}

	async _ongoing() {
		this.grid = h("div", { class: "grid", role: "list", "aria-label": "Participants" });
		this.sound = h("button", { type: "button", class: "button sound-button", hidden: true,
			onclick: () => this._unblockSound() }, "Turn on sound");
		const hasVideo = this.type === "video";
		this.micButton = h("button", { type: "button", class: "round-button", "aria-pressed": "false",
			"aria-label": "Mute microphone", onclick: () => this.toggle("audio") }, icon("mic"));
		this.camButton = hasVideo ? h("button", { type: "button", class: "round-button",
			"aria-pressed": "false", "aria-label": "Turn camera off",
			onclick: () => this.toggle("video") }, icon("video")) : null;
		const hang = h("button", { type: "button", class: "round-button decline",
			"aria-label": this.kind === "meet" ? "Leave meeting" : "Hang up",
			onclick: () => this.hangUp() }, icon("hangup"));
		const copy = this.kind === "meet" ? h("button", { type: "button", class: "round-button",
			"aria-label": "Copy meeting link", onclick: () => this._copyLink() }, icon("link")) : null;
		this._layer("ongoing", this.grid, this.sound,
			h("div", { class: "controls", role: "toolbar", "aria-label": "Call controls" },
				h("div", { class: "labelled" }, this.micButton, h("span", { "aria-hidden": "true" }, "Mute")),
				this.camButton && h("div", { class: "labelled" }, this.camButton,
					h("span", { "aria-hidden": "true" }, "Camera")),
				copy && h("div", { class: "labelled" }, copy, h("span", { "aria-hidden": "true" }, "Link")),
				h("div", { class: "labelled" }, hang, h("span", { "aria-hidden": "true" }, "Hang up"))));
		this._status("Connecting…");
		hang.focus();
		if (this.stream === undefined) {
			const stream = await getMedia(this.type === "video");
			if (this.closed) {
				stopStream(stream);
				return;
			}
			this.stream = stream;
		}
		this._selfTile();
		this._controls();
		this.startedAt = this.call && this.call.joinedAt ? this.call.joinedAt : Date.now();
		this._tick();
		this._timer = setInterval(() => this._tick(), 1000);
		await this._rejoin(true);
	}

	// ---- ringing outcomes (from the top-level call listener) ------------------------

	accepted(call) {
		if (this.closed || this.state !== "outgoing")
			return;
		this.call = call;
		this._ongoing();
	}

	rejected(call) {
		const who = this.title;
		const group = this.receiverType === "group";
		const text = {
			busy: group ? "Everybody is busy" : `${who} is busy on another call`,
			rejected: group ? "Nobody took the call" : `${who} declined the call`,
			unanswered: group ? "Nobody answered" : `${who} did not answer`,
			cancelled: "Call cancelled",
		}[call.status] || `The call ended (${call.status})`;
		this.close(text, "info");
	}

	ended(call) {
		this.close(`Call ended · ${fmtDuration(call.duration)}`, "info");
	}

	async cancel() {
		if (!this.sessionId) {
			this._cancelWanted = true; // the call is being made: cancel it once it exists
			this._status("Cancelling…");
			return;
		}
		try {
			await this.app.client.cancelCall(this.sessionId);
		} catch (err) {
			// Answered meanwhile (ERR_INVALID_STATE): the accepted event takes over.
			if (err.code === "ERR_INVALID_STATE")
				return;
		}
		this.close("Call cancelled", "info");
	}

	/** Hangs up (or cancels while ringing) and closes the view. */
	async hangUp() {
		if (this.closed)
			return;
		if (this.state === "outgoing") {
			await this.cancel();
			return;
		}
		if (this.kind === "call" && this.sessionId) {
			try {
				await this.app.client.endCall(this.sessionId);
			} catch (err) { /* over already: leaving is all that is left */ }
		}
		this.close(this.kind === "meet" ? "You left the meeting" : "Call ended", "info");
	}

	/** Leaves everything behind and goes back to the contacts (message: a toast). */
	close(message, kind = "info") {
		if (this.closed)
			return;
		this.closed = true;
		clearInterval(this._timer);
		const session = this.session;
		this._detach();
		if (session)
			session.leave().catch(() => {});
		stopStream(this.stream);
		this.stream = null;
		for (const t of this.tiles.values())
			t.video.srcObject = null;
		this.tiles.clear();
		if (this.el)
			this.el.remove();
		document.body.classList.remove("in-call");
		if (this.app.call === this)
			this.app.call = null;
		if (message)
			toast(message, kind);
		if (this.app.client.user)
			this.app.navigate("#/contacts");
	}

	// ---- the media session ----------------------------------------------------------

	_join() {
		const client = this.app.client;
		const settings = { startAudioMuted: this.muted.audio, startVideoPaused: this.muted.video };
		const stream = this.stream;
		if (stream) {
			stream.getAudioTracks().forEach((t) => { t.enabled = !this.muted.audio; });
			stream.getVideoTracks().forEach((t) => { t.enabled = !this.muted.video; });
		}
		if (this.kind === "meet")
			return client.joinSession(this.sessionId, { localStream: stream,
				settings: { ...settings, title: this.title,
					audioOnly: !stream || stream.getVideoTracks().length === 0 } });
		return client.joinCallSession(this.call, { localStream: stream, settings });
	}

	/* Joins (first) or rejoins the session with a new participant, then lets the old
	 * one go: the others see this user leave and come back, the call goes on. */
	async _rejoin(first = false) {
		if (this._rejoining || this.closed)
			return;
		this._rejoining = true;
		const old = this.session;
		this._detach();
		if (!first)
			this._status("Reconnecting…");
		for (let attempt = 0; !this.closed; attempt++) {
			try {
				const s = await this._join();
				if (this.closed) {
					s.leave().catch(() => {});
					break;
				}
				this._attach(s);
				break;
			} catch (err) {
				if (["ERR_INVALID_STATE", "ERR_FORBIDDEN", "ERR_NOT_FOUND", "ERR_CONFLICT",
					"ERR_UNAUTHORIZED"].includes(err.code)) {
					this.close(err.code === "ERR_CONFLICT" ? "The meeting is full"
						: err.code === "ERR_INVALID_STATE" ? "The call is over"
							: `Could not join: ${err.message}`, "error");
					break;
				}
				this._status("Reconnecting…");
				await delay(Math.min(REJOIN_MAX_DELAY_MS, 1000 * 2 ** attempt));
			}
		}
		if (old)
			old.leave().catch(() => {});
		this._rejoining = false;
	}

	_attach(session) {
		this.session = session;
		this._joinedAt = Date.now();
		this.ownIds.add(session.participantId);
		this._disconnectedSince = 0;
		const on = (name, fn) => this._offs.push(session.on(name, fn));
		on("participantjoined", ({ participant }) => this._upsert(participant));
		on("participantleft", ({ participant, reason }) => this._left(participant, reason));
		on("track", ({ participantId, stream }) => this._attachStream(participantId, stream));
		on("trackremoved", ({ participantId }) => this._refreshTile(participantId));
		on("trackpublished", ({ participant }) => this._upsert(participant));
		on("trackunpublished", ({ participant }) => this._upsert(participant));
		on("muted", ({ participant, self }) => this._mutedChanged(participant, self));
		on("unmuted", ({ participant, self }) => this._mutedChanged(participant, self));
		on("dominantspeaker", ({ participant, self }) =>
			this._speaker(self ? "self" : participant && participant.participantId));
		on("timeoutwarning", ({ endsAt }) => toast(`You are alone here: the ${this.kind === "meet"
			? "meeting" : "call"} ends at ${new Date(endsAt).toLocaleTimeString()}`, "info", 10000));
		on("ended", ({ reason }) => this._sessionEnded(session, reason));
		// A failed renegotiation leaves the subscribe side unknown: start afresh, but
		// not over and over.
		on("error", () => {
			if (Date.now() - this._joinedAt > REJOIN_MAX_DELAY_MS)
				this._rejoin();
		});
		for (const pc of [session.publish, session.subscribe]) {
			const check = () => this._checkMedia();
			pc.addEventListener("connectionstatechange", check);
			this._offs.push(() => pc.removeEventListener("connectionstatechange", check));
		}
		for (const p of session.participants.values())
			this._upsert(p);
		for (const [id, stream] of session.remoteStreams)
			this._attachStream(id, stream);
		this._checkMedia();
	}

	_detach() {
		this._offs.forEach((off) => off());
		this._offs = [];
		this.session = null;
		for (const [id, t] of this.tiles) {
			if (id === "self")
				continue;
			t.video.srcObject = null;
			t.el.remove();
			this.tiles.delete(id);
		}
		this._layout();
	}

	_sessionEnded(session, reason) {
		if (session !== this.session)
			return;
		if (reason === "disconnected" || reason === "removed") {
			// The server let this participant go (its media went silent): come back.
			this.session = null;
			this._rejoin();
			return;
		}
		this.close(reason === "idle_timeout" ? `The ${this.kind === "meet" ? "meeting" : "call"} ended: nobody else was there`
			: "Call ended", "info");
	}

	/* Connection state: the WebSocket and both peer connections. Failed, or
	 * disconnected for a while, rejoins. */
	_checkMedia() {
		if (this.closed || this.state !== "ongoing")
			return;
		const s = this.session;
		const link = this.app.client.getConnectionState();
		let state = "connected";
		if (!s)
			state = "connecting";
		else {
			const pcs = [s.publish.connectionState, s.subscribe.connectionState];
			if (pcs.includes("failed")) {
				this._rejoin();
				return;
			}
			if (pcs.includes("disconnected")) {
				this._disconnectedSince ||= Date.now();
				if (Date.now() - this._disconnectedSince > DISCONNECTED_REJOIN_MS) {
					this._rejoin();
					return;
				}
				state = "reconnecting";
			} else {
				this._disconnectedSince = 0;
				if (s.publish.connectionState !== "connected")
					state = "connecting";
			}
		}
		if (link !== "connected" && state === "connected")
			state = "reconnecting";
		const text = { connected: "Connected", connecting: "Connecting…",
			reconnecting: "Reconnecting…" }[state];
		if (this.connEl.dataset.state !== state) {
			this.connEl.dataset.state = state;
			this.connEl.textContent = text;
		}
		this._status(state === "connected" ? (this.kind === "meet" ? "In the meeting" : "In call") : text);
	}

	connectionChanged() {
		this._checkMedia();
	}

	_tick() {
		if (this.timerEl && this.startedAt)
			this.timerEl.textContent = fmtDuration((Date.now() - this.startedAt) / 1000);
		this._checkMedia();
	}

	_status(text) {
		if (this.statusEl && this.statusEl.textContent !== text)
			this.statusEl.textContent = text;
	}

	// ---- tiles ----------------------------------------------------------------------

	_tile(id, user, self) {
		const video = h("video", { autoplay: true, playsinline: true });
		video.muted = !!self;
		const name = self ? `${user.name || user.uid} (you)` : user.name || user.uid;
		const nameEl = h("span", { class: "tile-name" }, name);
		const micOff = h("span", { class: "tile-muted", title: "Microphone off" }, icon("micOff"));
		const el = h("figure", { class: `tile${self ? " self" : ""}`, role: "listitem",
			dataset: { participantId: id, uid: user.uid }, "aria-label": name },
		video, h("div", { class: "tile-avatar" }, avatar(user, "lg")),
		h("figcaption", {}, micOff, nameEl));
		const t = { id, el, video, nameEl, micOff, user, self, participant: null, stream: null };
		this.tiles.set(id, t);
		this.grid.append(el);
		this._layout();
		return t;
	}

	_selfTile() {
		const t = this._tile("self", this.app.client.user, true);
		if (this.stream) {
			t.video.srcObject = this.stream;
			t.stream = this.stream;
			t.video.play().catch(() => {});
		}
		this._refreshTile("self");
	}

	_upsert(p) {
		if (!p || this.ownIds.has(p.participantId))
			return;
		let t = this.tiles.get(p.participantId);
		if (!t) {
			t = this._tile(p.participantId, { uid: p.uid, name: p.uid }, false);
			this.app.nameOf(p.uid).then((name) => {
				t.user = { uid: p.uid, name };
				t.nameEl.textContent = name;
				t.el.setAttribute("aria-label", name);
				const a = t.el.querySelector(".tile-avatar");
				replace(a, avatar(t.user, "lg"));
			});
		}
		t.participant = p;
		this._refreshTile(p.participantId);
	}

	_left(p, reason) {
		const t = this.tiles.get(p.participantId);
		if (!t)
			return;
		t.video.srcObject = null;
		t.el.remove();
		this.tiles.delete(p.participantId);
		this._layout();
		if (!this.ownIds.has(p.participantId) && reason === "disconnected")
			toast(`${t.user.name || t.user.uid} lost the connection`, "info");
	}

	_attachStream(id, stream) {
		const t = this.tiles.get(id);
		if (!t || !stream)
			return;
		if (t.video.srcObject !== stream) {
			t.video.srcObject = stream;
			t.stream = stream;
			this._play(t.video);
			stream.addEventListener("addtrack", () => this._refreshTile(id));
			stream.addEventListener("removetrack", () => this._refreshTile(id));
		}
		this._refreshTile(id);
	}

	/* Remote audio plays through the tile's video element; a browser that wants a
	 * gesture first gets a "Turn on sound" button. */
	_play(video) {
		video.play().catch(() => {
			video.muted = true;
			video.play().catch(() => {});
			this.sound.hidden = false;
		});
	}

	_unblockSound() {
		for (const t of this.tiles.values())
			if (!t.self) {
				t.video.muted = false;
				t.video.play().catch(() => {});
			}
		this.sound.hidden = true;
	}

	_refreshTile(id) {
		const t = this.tiles.get(id);
		if (!t)
			return;
		let video;
		let muted;
		if (t.self) {
			video = !!this.stream && this.stream.getVideoTracks().length > 0 && !this.muted.video;
			muted = this.muted.audio || !this.stream || this.stream.getAudioTracks().length === 0;
		} else {
			const p = t.participant || {};
			const live = !!t.stream && t.stream.getVideoTracks().some((x) => x.readyState === "live");
			video = this.type === "video" && live && !p.videoPaused &&
				(p.tracks || []).some((x) => x.kind === "video");
			muted = !!p.muted;
		}
		t.el.classList.toggle("has-video", video);
		t.el.classList.toggle("muted", muted);
		t.micOff.hidden = !muted;
		const who = t.user.name || t.user.uid;
		t.el.setAttribute("aria-label", `${t.self ? `${who} (you)` : who}${muted ? ", muted" : ""}` +
			`${video ? "" : ", camera off"}`);
	}

	_mutedChanged(p, self) {
		if (self)
			return this._refreshTile("self");
		return this._upsert(p);
	}

	_speaker(id) {
		for (const [tid, t] of this.tiles)
			t.el.classList.toggle("speaking", tid === id && this.tiles.size > 1);
	}

	_layout() {
		if (!this.grid)
			return;
		const n = this.tiles.size;
		this.grid.dataset.count = String(Math.min(n, 9));
		if (this.el)
			this.el.classList.toggle("alone", n <= 1);
	}

	// ---- controls -------------------------------------------------------------------

	_controls() {
		const a = this.muted.audio;
		this.micButton.setAttribute("aria-pressed", String(a));
		this.micButton.setAttribute("aria-label", a ? "Unmute microphone" : "Mute microphone");
		replace(this.micButton, icon(a ? "micOff" : "mic"));
		this.micButton.classList.toggle("off", a);
		if (this.camButton) {
			const v = this.muted.video;
			this.camButton.setAttribute("aria-pressed", String(v));
			this.camButton.setAttribute("aria-label", v ? "Turn camera on" : "Turn camera off");
			replace(this.camButton, icon(v ? "videoOff" : "video"));
			this.camButton.classList.toggle("off", v);
			this.camButton.disabled = !this.stream || this.stream.getVideoTracks().length === 0;
		}
		this.micButton.disabled = !this.stream || this.stream.getAudioTracks().length === 0;
	}

	/** Mutes or unmutes the microphone ("audio"), or turns the camera off or on ("video"). */
	async toggle(kind) {
		const want = !this.muted[kind];
		this.muted[kind] = want;
		this._controls();
		this._refreshTile("self");
		try {
			if (this.session)
				await this.session.mute(kind, want);
			else if (this.stream)
				this.stream.getTracks().filter((t) => t.kind === kind).forEach((t) => { t.enabled = !want; });
		} catch (err) {
			this.muted[kind] = !want;
			this._controls();
			this._refreshTile("self");
			toast(`Could not ${kind === "audio" ? "change the microphone" : "change the camera"}: ${err.message}`, "error");
		}
	}

	async _copyLink() {
		const url = `${location.origin}/#/meet/${this.sessionId}`;
		try {
			await navigator.clipboard.writeText(url);
			toast("Meeting link copied", "info");
		} catch (err) {
			toast(`Meeting link: ${url}`, "info", 15000);
		}
	}
}

/** Before a meeting: the link, a camera preview, and Join (a gesture, so sound may play). */
export function joinMeetingScreen(app, sessionId) {
	let stream = null;
	let handedOver = false;
	let gone = false;
	const preview = h("video", { class: "preview-large", autoplay: true, playsinline: true,
		"aria-label": "Your camera" });
	preview.muted = true;
	const camOn = h("input", { type: "checkbox", id: "join-camera", checked: true });
	const micOn = h("input", { type: "checkbox", id: "join-mic", checked: true });
	const join = h("button", { type: "button", class: "button primary wide", disabled: true },
		"Join meeting");
	const link = `${location.origin}/#/meet/${sessionId}`;

	getMedia(true).then((s) => {
		if (gone) {
			stopStream(s);
			return;
		}
		stream = s;
		if (s && s.getVideoTracks().length) {
			preview.srcObject = s;
			preview.play().catch(() => {});
		} else {
			camOn.checked = false;
			camOn.disabled = true;
		}
		micOn.disabled = !s || s.getAudioTracks().length === 0;
		join.disabled = false;
	});
	camOn.addEventListener("change", () => {
		if (stream)
			stream.getVideoTracks().forEach((t) => { t.enabled = camOn.checked; });
	});
	join.addEventListener("click", () => {
		handedOver = true;
		join.disabled = true;
		join.textContent = "Joining…";
		CallView.meet(app, sessionId, stream, { audioMuted: !micOn.checked, videoOff: !camOn.checked });
	});
	app.cleanup = () => {
		gone = true;
		if (!handedOver)
			stopStream(stream);
	};
	return h("section", { class: "screen meet-join" },
		h("div", { class: "card join-card" },
			h("h1", {}, "Join the meeting"),
			h("p", { class: "muted" }, "Meeting ", h("code", {}, sessionId)),
			preview,
			h("div", { class: "row toggles" },
				h("label", { for: "join-camera", class: "toggle" }, camOn, "Camera"),
				h("label", { for: "join-mic", class: "toggle" }, micOn, "Microphone")),
			join,
			h("p", { class: "muted small" }, "Anyone of this app with the link can join: ",
				h("a", { href: link }, link))));
}
