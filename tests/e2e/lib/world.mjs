// The world of an end-to-end test: one callwire server, the static web server, one
// Chromium, one app; participants are pages (or other peers) that join media sessions.
// Media checks read each receiver's getStats() (web/js/session.js's stats()) and poll
// with deadlines.

import { launchChromium, openParticipant } from "./browser.mjs";
import { CallwireServer } from "./server.mjs";
import { startStaticServer } from "./static.mjs";
import { waitFor } from "./wait.mjs";

/** Per-participant, per-kind counter of getStats() that shows media arriving. */
export const FLOW = { audio: "totalSamplesReceived", video: "framesDecoded" };
const SAMPLE_MS = 250;

let sessionCounter = 0;

/** A fresh meet session id for one test. */
export function meetId(prefix) {
	sessionCounter += 1;
	return `${prefix}-${process.pid}-${sessionCounter}`;
}

export class World {
	static async start({ browser = true } = {}) {
		const w = new World();
		try {
			w.server = await new CallwireServer().start();
			w.app = await w.server.createApp("e2e");
			w.web = await startStaticServer();
			if (browser)
				w.browser = await launchChromium();
		} catch (err) {
			await w.close();
			throw err;
		}
		return w;
	}

	constructor() {
		this.server = null;
		this.web = null;
		this.browser = null;
		this.app = null;
		this.pages = [];
		this.users = 0;
	}

	/** A new user of the app with an auth token and a call token for `sessionId`. */
	credentials(uid, sessionId) {
		this.users += 1;
		return this.server.participant(this.app, `${uid}${this.users}`, sessionId);
	}

	/** A Chromium page that joined `sessionId` as a new user; fails when the join does. */
	async join(name, sessionId, settings = {}) {
		const cred = await this.credentials(name, sessionId);
		const page = await openParticipant(this.browser, this.web.url, name);
		this.pages.push(page);
		const result = await page.evaluate((o) => window.cw.join(o), {
			wsUrl: cred.wsUrl, appId: cred.appId, authToken: cred.authToken,
			callToken: cred.callToken, settings });
		if (result.error)
			throw new Error(`${name} could not join ${sessionId}: ${result.error.code}: ` +
				`${result.error.message}`);
		return new PageParticipant(name, cred, page, result);
	}

	/** Each page's session events, state and console, and the server's log. */
	async diagnostics() {
		const out = [];
		for (const p of this.pages) {
			const seen = await p.evaluate(() => window.cw && { log: window.cw.log,
				state: window.cw.state() }).catch((err) => ({ unreadable: err.message }));
			out.push(`--- page ${p.participantName} ---`, JSON.stringify(seen),
				...p.consoleLines.slice(-40));
		}
		const log = this.server ? this.server.log.split("\n").slice(-60).join("\n") : "";
		return `${out.join("\n")}\n--- server log (tail) ---\n${log}`;
	}

	/** Runs one scenario; a failure carries the diagnostics. Pages are closed after. */
	async run(fn) {
		try {
			await fn();
		} catch (err) {
			err.message += `\n${await this.diagnostics()}`;
			throw err;
		} finally {
			const pages = this.pages;
			this.pages = [];
			await Promise.all(pages.map((p) => p.closeAll().catch(() => {})));
		}
	}

	async close() {
		if (this.browser)
			await this.browser.close().catch(() => {});
		if (this.web)
			await this.web.close();
		if (this.server)
			await this.server.stop();
	}
}

/** A participant in a Chromium page. */
export class PageParticipant {
	constructor(name, cred, page, joined) {
		this.name = name;
		this.uid = cred.uid;
		this.page = page;
		this.joined = joined;
		this.participantId = joined.participantId;
	}

	stats() {
		return this.page.evaluate(() => window.cw.stats());
	}

	state() {
		return this.page.evaluate(() => window.cw.state());
	}

	log() {
		return this.page.evaluate(() => window.cw.log);
	}

	mute(kind, muted) {
		return this.page.evaluate(([k, m]) => window.cw.mute(k, m), [kind, muted]);
	}

	leave() {
		return this.page.evaluate(() => window.cw.leave());
	}

	/** The counter `field` of what this page receives from `fromId`'s `kind` track. */
	async counter(fromId, kind, field) {
		const s = await this.stats();
		const c = ((s.participants[fromId] || {})[kind] || {})[field];
		return typeof c === "number" ? c : null;
	}

	/** Waits for the first event `name` (matching `match`) in this page's log. */
	waitEvent(name, match = () => true, { timeout = 15000 } = {}) {
		return waitFor(async () => (await this.log()).find((e) => e.name === name && match(e)),
			{ timeout, what: `${this.name}: event ${name}`, describe: () => this.log() });
	}
}

/**
 * Waits until `receiver` gets media from every participant id in `fromIds`: between two
 * samples, each one's audio samples and video frames decoded (FLOW) rose. `kinds` narrows
 * the check (e.g. ["audio"]). `stats` reads the receiver's stats.
 */
export async function waitMediaFrom(receiver, fromIds, { kinds = ["audio", "video"],
	timeout = 30000 } = {}) {
	let prev = null;
	let last = null;
	await waitFor(async () => {
		const cur = await receiver.stats();
		last = cur;
		const ok = prev !== null && fromIds.every((id) => kinds.every((kind) => {
			const now = ((cur.participants[id] || {})[kind] || {})[FLOW[kind]];
			const before = ((prev.participants[id] || {})[kind] || {})[FLOW[kind]];
			return typeof now === "number" && now > (before || 0) && before > 0;
		}));
		prev = cur;
		return ok;
	}, { timeout, interval: SAMPLE_MS, what: `${receiver.name}: ${kinds.join("+")} rising from ` +
		`${fromIds.join(", ")}`, describe: () => last });
}

/**
 * Waits until a counter (`read()`, a number or null) has not moved for `quietMs`:
 * the flow it counts has stopped.
 */
export async function waitStopped(read, { quietMs = 1500, timeout = 15000, what }) {
	let since = null;
	let value;
	await waitFor(async () => {
		const v = await read();
		if (since === null || v !== value) {
			value = v;
			since = Date.now();
			return false;
		}
		return Date.now() - since >= quietMs;
	}, { timeout, interval: SAMPLE_MS, what: what || "a counter to stop", describe: () => value });
	return value;
}

/** Waits until a counter (`read()`) rose between two samples. */
export async function waitRising(read, { timeout = 15000, what }) {
	let prev = null;
	let value;
	await waitFor(async () => {
		value = await read();
		const ok = prev !== null && typeof value === "number" && value > prev;
		prev = value;
		return ok;
	}, { timeout, interval: SAMPLE_MS, what: what || "a counter to rise", describe: () => value });
	return value;
}
