// The incoming call: a dialog over whatever screen is open, with the caller, the call
// type, accept and decline. It goes away when the caller cancels, nobody answers in
// time, or another device of the user answers. Calls that ring at once queue up.

import { CallView } from "./call.js";
import { avatar, h, icon, toast } from "./dom.js";

export class IncomingDialog {
	constructor(app) {
		this.app = app;
		this.queue = []; // calls ringing this user, the shown one first
		this.el = null;
		this.ringer = null;
	}

	/** A call rings this user. */
	ring(call) {
		if (call.status !== "initiated" || this.queue.some((c) => c.sessionId === call.sessionId))
			return;
		this.queue.push(call);
		if (this.queue.length === 1)
			this._render();
	}

	/** The call stopped ringing here (message: why, for a toast; null for none). */
	stop(call, message) {
		const i = this.queue.findIndex((c) => c.sessionId === call.sessionId);
		if (i < 0)
			return;
		this.queue.splice(i, 1);
		if (message)
			toast(`${message}: ${callerName(call)}`, "info");
		if (i === 0)
			this._render();
	}

	_render() {
		this._close();
		const call = this.queue[0];
		if (!call)
			return;
		const caller = call.initiator;
		const name = callerName(call);
		const kind = call.type === "video" ? "video" : "audio";
		const where = call.receiverType === "group" ? ` in ${call.receiver.name || call.receiver.guid}` : "";
		const accept = h("button", { type: "button", class: "round-button accept",
			"aria-label": `Accept ${kind} call from ${name}`, onclick: () => this._accept(call) },
		icon(kind === "video" ? "video" : "phone"));
		const decline = h("button", { type: "button", class: "round-button decline",
			"aria-label": `Decline call from ${name}`, onclick: () => this._decline(call) },
		icon("hangup"));
		this.el = h("div", { class: "incoming", role: "alertdialog", "aria-modal": "false",
			"aria-labelledby": "incoming-title", "aria-describedby": "incoming-kind",
			dataset: { sessionId: call.sessionId } },
		h("div", { class: "incoming-caller" }, avatar(caller, "lg"),
			h("div", {},
				h("h2", { id: "incoming-title" }, name),
				h("p", { id: "incoming-kind", class: "muted" },
					`Incoming ${kind} call${where}`))),
		h("div", { class: "incoming-actions" },
			h("div", { class: "labelled" }, decline, h("span", { "aria-hidden": "true" }, "Decline")),
			h("div", { class: "labelled" }, accept, h("span", { "aria-hidden": "true" }, "Accept"))));
		document.getElementById("dialogs").append(this.el);
		accept.focus();
		this._startRinging();
	}

	_close() {
		this._stopRinging();
		if (this.el)
			this.el.remove();
		this.el = null;
	}

	_busy(on) {
		if (this.el)
			this.el.querySelectorAll("button").forEach((b) => { b.disabled = on; });
	}

	async _accept(call) {
		this._busy(true);
		const app = this.app;
		try {
			// Answering a second call hangs up the first, as a phone does.
			if (app.call)
				await app.call.hangUp();
			const accepted = await app.client.acceptCall(call.sessionId);
			this.queue = this.queue.filter((c) => c.sessionId !== call.sessionId);
			this._render();
			CallView.accepted(app, accepted);
		} catch (err) {
			this.queue = this.queue.filter((c) => c.sessionId !== call.sessionId);
			this._render();
			toast(err.code === "ERR_INVALID_STATE" ? "That call is no longer ringing"
				: `Could not accept the call: ${err.message}`, "error");
		}
	}

	async _decline(call) {
		this._busy(true);
		try {
			await this.app.client.rejectCall(call.sessionId, "rejected");
		} catch (err) {
			if (err.code !== "ERR_INVALID_STATE")
				toast(`Could not decline the call: ${err.message}`, "error");
		}
		this.queue = this.queue.filter((c) => c.sessionId !== call.sessionId);
		this._render();
	}

	/* A soft two-tone ring, only once the page has had a user gesture (browsers refuse
	 * sound before one). */
	_startRinging() {
		if (this.ringer || !navigator.userActivation || !navigator.userActivation.hasBeenActive)
			return;
		try {
			const ctx = new AudioContext();
			const gain = ctx.createGain();
			gain.gain.value = 0;
			gain.connect(ctx.destination);
			for (const f of [440, 480]) {
				const o = ctx.createOscillator();
				o.frequency.value = f;
				o.connect(gain);
				o.start();
			}
			const pulse = () => {
				const t = ctx.currentTime;
				gain.gain.setValueAtTime(0.08, t);
				gain.gain.setValueAtTime(0, t + 1.2);
			};
			pulse();
			this.ringer = { ctx, timer: setInterval(pulse, 3000) };
		} catch (err) {
			this.ringer = null;
		}
	}

	_stopRinging() {
		if (!this.ringer)
			return;
		clearInterval(this.ringer.timer);
		this.ringer.ctx.close().catch(() => {});
		this.ringer = null;
	}
}

function callerName(call) {
	return (call.initiator && (call.initiator.name || call.initiator.uid)) || "Someone";
}
