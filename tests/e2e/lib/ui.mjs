// The browser client (web/, served by `callwire serve` itself) driven like a person
// would: each user is a browser context that logs in through the log-in screen and
// clicks labelled buttons. Screenshots of every screen a test passes through go to
// $CW_TEST_OUTPUT/client/<test>/ (default build/test-output/client/).

import fs from "node:fs";
import path from "node:path";

import { launchChromium } from "./browser.mjs";
import { CallwireServer, REPO } from "./server.mjs";
import { waitFor } from "./wait.mjs";

export const OUTPUT = path.join(process.env.CW_TEST_OUTPUT ||
	path.join(REPO, "build", "test-output"), "client");

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1100, height: 760 };
const SAMPLE_MS = 300;

/* A file-name-safe version of a test name. */
function slug(s) {
	return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
}

/** One server and one Chromium for a test file; each test gets a fresh app. */
export class ClientWorld {
	static async start() {
		const w = new ClientWorld();
		try {
			w.server = await new CallwireServer({ extraArgs: ["--web", path.join(REPO, "web")] }).start();
			w.browser = await launchChromium();
		} catch (err) {
			await w.close();
			throw err;
		}
		return w;
	}

	constructor() {
		this.server = null;
		this.browser = null;
		this.users = [];
	}

	/**
	 * A fresh app with alice, bob and carol and the group "team" of all three; `settings`
	 * are the app's (e.g. a short ringTimeout). `name` names the screenshot folder.
	 */
	async scene(name, settings) {
		const app = await this.server.createApp(name);
		if (settings)
			await this.server.expect(200, "PATCH", `/v1/apps/${app.appId}`,
				{ body: { settings }, token: app.restApiKey });
		for (const [uid, display] of [["alice", "Alice"], ["bob", "Bob"], ["carol", "Carol"]])
			await this.server.expect(201, "POST", `/v1/apps/${app.appId}/users`,
				{ body: { uid, name: display }, token: app.restApiKey });
		await this.server.expect(201, "POST", `/v1/apps/${app.appId}/groups`,
			{ body: { guid: "team", name: "Team", members: ["alice", "bob", "carol"] },
				token: app.restApiKey });
		return new Scene(this, app, slug(name));
	}

	async close() {
		if (this.browser)
			await this.browser.close().catch(() => {});
		if (this.server)
			await this.server.stop();
	}
}

/** One test: its app, its users' pages, its screenshots. */
export class Scene {
	constructor(world, app, name) {
		this.world = world;
		this.app = app;
		this.dir = path.join(OUTPUT, name);
		fs.rmSync(this.dir, { recursive: true, force: true });
		fs.mkdirSync(this.dir, { recursive: true });
		this.shots = 0;
		this.users = [];
	}

	get server() {
		return this.world.server;
	}

	/** A URL of the browser client with the login form filled in for this app. */
	get loginUrl() {
		return `${this.server.baseUrl}/#/login?app=${this.app.appId}&authKey=${this.app.authKey}`;
	}

	/** Opens a browser context for `uid` and logs in through the form. */
	async login(uid, { phone = false, label = uid, url } = {}) {
		const user = await this.open(label, { phone, url: url || this.loginUrl });
		await user.logIn(uid);
		return user;
	}

	/** A browser context at `url` (the login link by default), not yet logged in. */
	async open(label, { phone = false, url } = {}) {
		const context = await this.world.browser.newContext({ viewport: phone ? PHONE : DESKTOP,
			deviceScaleFactor: 1, hasTouch: phone, isMobile: phone });
		const page = await context.newPage();
		const user = new UiUser(this, label, context, page);
		this.users.push(user);
		await page.goto(url || this.loginUrl);
		return user;
	}

	/** Saves a screenshot of `user`'s page as NN-label-what.png. */
	async shot(user, what) {
		this.shots += 1;
		const file = path.join(this.dir,
			`${String(this.shots).padStart(2, "0")}-${slug(user.label)}-${slug(what)}.png`);
		await user.page.screenshot({ path: file });
		return file;
	}

	/** Each page's console errors, its screen, and the server log's tail. */
	async diagnostics() {
		const out = [];
		for (const u of this.users) {
			const screen = await u.page.evaluate(() => ({ hash: location.hash,
				text: document.body.innerText.slice(0, 1500) })).catch((err) => err.message);
			out.push(`--- ${u.label} ---`, JSON.stringify(screen), ...u.console.slice(-30));
		}
		const log = this.server.log.split("\n").slice(-50).join("\n");
		return `${out.join("\n")}\n--- server log (tail) ---\n${log}`;
	}

	/**
	 * Runs the scenario, then checks that no page logged an error or threw. A failure
	 * carries every page's state and a last screenshot of each.
	 */
	async run(fn) {
		try {
			await fn();
			for (const u of this.users)
				if (u.errors.length)
					throw new Error(`${u.label}: console errors: ${u.errors.join(" | ")}`);
		} catch (err) {
			for (const u of this.users)
				await this.shot(u, "failure").catch(() => {});
			err.message += `\n${await this.diagnostics()}`;
			throw err;
		} finally {
			await Promise.all(this.users.map((u) => u.context.close().catch(() => {})));
		}
	}
}

/** One person at one browser context. */
export class UiUser {
	constructor(scene, label, context, page) {
		this.scene = scene;
		this.label = label;
		this.context = context;
		this.page = page;
		this.console = [];
		this.errors = [];
		this.allowed = [];
		page.on("console", (m) => {
			const line = `${m.type()}: ${m.text()}`;
			this.console.push(line);
			if (m.type() === "error" && !this.allowed.some((re) => re.test(m.text())))
				this.errors.push(m.text());
		});
		page.on("pageerror", (e) => {
			this.console.push(`pageerror: ${e.message}`);
			this.errors.push(e.message);
		});
	}

	/** Console errors matching `re` are expected from now on (e.g. while offline). */
	allowConsole(re) {
		this.allowed.push(re);
	}

	shot(what) {
		return this.scene.shot(this, what);
	}

	button(name) {
		return this.page.getByRole("button", { name, exact: true });
	}

	async logIn(uid) {
		const p = this.page;
		await p.getByLabel("User ID").fill(uid);
		await this.shot("login");
		await this.button("Log in").click();
		await this.waitContacts();
		await p.locator("#contacts-list li[data-uid]").first().waitFor();
	}

	async waitContacts() {
		await this.page.waitForFunction(() => location.hash === "#/contacts" &&
			!document.querySelector(".call-layer"), null, { timeout: 20000 });
		await this.page.locator("#contacts-list").waitFor();
	}

	/** Clicks the audio or video call button of a contact (by name) or group. */
	async call(name, type = "video") {
		await this.button(`${type === "video" ? "Video" : "Audio"} call ${name}`).click();
		await this.page.locator(".call-layer.outgoing").waitFor();
	}

	incoming() {
		return this.page.getByRole("alertdialog");
	}

	async waitIncoming(from, type = "video") {
		const d = this.incoming();
		await d.waitFor({ timeout: 15000 });
		await d.getByText(`Incoming ${type} call`).waitFor();
		await d.getByRole("heading", { name: from }).waitFor();
		return d;
	}

	async waitNoIncoming() {
		await this.incoming().waitFor({ state: "detached", timeout: 15000 });
	}

	async accept(from, type = "video") {
		await this.button(`Accept ${type} call from ${from}`).click();
		await this.waitOngoing();
	}

	async waitOngoing() {
		await this.page.locator(".call-layer.ongoing").waitFor({ timeout: 20000 });
	}

	/** Waits for a toast containing `text` (a string or RegExp). */
	async waitToast(text) {
		await this.page.locator("#toasts .toast", { hasText: text }).first().waitFor({ timeout: 20000 });
	}

	/** The frames a tile of `uid` has shown so far, or null without a video element. */
	frames(uid) {
		return this.page.evaluate((u) => {
			const v = document.querySelector(`.call-layer .tile[data-uid="${u}"]:not(.self) video`);
			return v ? v.getVideoPlaybackQuality().totalVideoFrames : null;
		}, uid);
	}

	/** Waits until the tile of `uid` shows moving video (its frame count rises). */
	async waitVideoFrom(uid, { timeout = 30000 } = {}) {
		let prev = null;
		let last = null;
		await waitFor(async () => {
			last = await this.frames(uid);
			const hasVideo = await this.page.locator(`.tile.has-video[data-uid="${uid}"]:not(.self)`).count();
			const ok = prev !== null && last > prev && prev > 0 && hasVideo > 0;
			prev = last;
			return ok;
		}, { timeout, interval: SAMPLE_MS, what: `${this.label}: video from ${uid} moving`,
			describe: () => last });
	}

	/** Waits until the tile of `uid` shows the avatar (no video) or video again. */
	async waitTileVideo(uid, on) {
		await this.page.locator(`.tile[data-uid="${uid}"]:not(.self)${on ? ".has-video" : ":not(.has-video)"}`)
			.waitFor({ timeout: 15000 });
	}

	async waitTileMuted(uid, muted) {
		await this.page.locator(`.tile[data-uid="${uid}"]:not(.self)${muted ? ".muted" : ":not(.muted)"}`)
			.waitFor({ timeout: 15000 });
	}

	/** Opens the call log; resolves the rows' {sessionId, status, duration, text}. */
	async openLogs() {
		await this.page.getByRole("link", { name: "Calls", exact: true }).click();
		const list = this.page.locator("#call-logs");
		await list.waitFor();
		await this.page.waitForFunction(() =>
			document.querySelector("#call-logs").getAttribute("aria-busy") === "false");
		return this.logRows();
	}

	logRows() {
		return this.page.evaluate(() => [...document.querySelectorAll("#call-logs li")].map((li) => ({
			sessionId: li.dataset.sessionId, status: li.dataset.status, type: li.dataset.type,
			direction: li.dataset.direction,
			duration: (li.querySelector(".log-duration") || {}).textContent || null,
			text: li.innerText })));
	}

	/** Waits for the log row of `sessionId` with `status`; resolves the row. */
	async waitLogRow(sessionId, status) {
		return waitFor(async () => {
			const rows = await this.openLogsFresh();
			return rows.find((r) => r.sessionId === sessionId && r.status === status);
		}, { timeout: 15000, interval: 500, what: `${this.label}: log row ${sessionId} ${status}`,
		describe: () => this.logRows() });
	}

	/* Reloads the call log screen (a fresh first page). */
	async openLogsFresh() {
		await this.page.evaluate(() => { location.hash = "#/contacts"; });
		return this.openLogs();
	}

	/** The session id of the call on screen (from the call layer). */
	sessionId() {
		return this.page.evaluate(() => {
			const el = document.querySelector(".call-layer");
			return el ? el.dataset.sessionId || null : null;
		});
	}
}
