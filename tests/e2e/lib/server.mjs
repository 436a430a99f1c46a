// Starts the real `callwire serve` on loopback with its media plane, and the REST calls the
// end-to-end tests need (apps, users, auth tokens, call tokens), as tests/integration does.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freeTcpPort, freeUdpPort, waitFor } from "./wait.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..", "..", "..");

const START_DEADLINE_MS = 10000;
const STOP_DEADLINE_MS = 10000;

/** The binary under test: $CALLWIRE_BIN, else build/callwire of the repository. */
export function callwireBin() {
	const bin = process.env.CALLWIRE_BIN;
	if (!bin)
		return path.join(REPO, "build", "callwire");
	return path.isAbsolute(bin) || fs.existsSync(bin) ? path.resolve(bin) : path.join(REPO, bin);
}

/** One `callwire serve` process with a fresh data folder and one media worker. */
export class CallwireServer {
	/** extraArgs: more `callwire serve` arguments (e.g. ["--web", dir]). */
	constructor({ extraArgs = [] } = {}) {
		this.extraArgs = extraArgs;
		this.host = "127.0.0.1";
		this.port = 0;
		this.mediaPort = 0;
		this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "callwire-e2e-"));
		this.masterKey = randomBytes(24).toString("hex");
		this.proc = null;
		this.log = "";
	}

	get baseUrl() {
		return `http://${this.host}:${this.port}`;
	}

	get wsUrl() {
		return `ws://${this.host}:${this.port}/v1/ws`;
	}

	async start() {
		const bin = callwireBin();
		if (!fs.existsSync(bin))
			throw new Error(`server binary not found: ${bin} (build it, or set CALLWIRE_BIN)`);
		this.port = await freeTcpPort();
		this.mediaPort = await freeUdpPort();
		const env = { ...process.env, CALLWIRE_MASTER_KEY: this.masterKey };
		// Settings from whoever runs the tests must not leak into the server.
		for (const k of ["CALLWIRE_LISTEN", "CALLWIRE_DATA", "CALLWIRE_CONFIG", "CALLWIRE_KEY",
			"CALLWIRE_SERVER", "CALLWIRE_MEDIA_PORTS", "CALLWIRE_MEDIA_WORKERS",
			"CALLWIRE_PUBLIC_IP", "CALLWIRE_LOG_LEVEL"])
			delete env[k];
		this.args = ["serve", "--listen", `${this.host}:${this.port}`, "--data", this.dataDir,
			"--media-workers", "1", "--media-ports", `${this.mediaPort}-${this.mediaPort}`,
			"--public-ip", "127.0.0.1", ...this.extraArgs];
		this.proc = spawn(bin, this.args, { env, cwd: this.dataDir, stdio: ["ignore", "pipe", "pipe"] });
		const keep = (chunk) => { this.log += chunk.toString(); };
		this.proc.stdout.on("data", keep);
		this.proc.stderr.on("data", keep);
		this.exited = once(this.proc, "exit");
		try {
			await waitFor(async () => {
				if (this.proc.exitCode !== null)
					throw new Error(`server exited with ${this.proc.exitCode} during startup`);
				try {
					return (await fetch(`${this.baseUrl}/healthz`)).status === 200;
				} catch (err) {
					return false;
				}
			}, { timeout: START_DEADLINE_MS, what: "GET /healthz to answer 200" });
		} catch (err) {
			this.kill();
			err.message += `\nargs: ${this.args.join(" ")}\n--- server log ---\n${this.log}`;
			throw err;
		}
		return this;
	}

	/** SIGTERM; the server must exit with 0. */
	async stop() {
		if (!this.proc)
			return;
		const proc = this.proc;
		this.proc = null;
		if (proc.exitCode === null && proc.signalCode === null) {
			proc.kill("SIGTERM");
			const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_DEADLINE_MS);
			await this.exited;
			clearTimeout(timer);
		}
		fs.rmSync(this.dataDir, { recursive: true, force: true });
		if (proc.exitCode !== 0)
			throw new Error(`server exited with ${proc.exitCode ?? proc.signalCode} after SIGTERM` +
				`\n--- server log ---\n${this.log}`);
	}

	kill() {
		if (this.proc && this.proc.exitCode === null)
			this.proc.kill("SIGKILL");
		this.proc = null;
	}

	/** One REST request; resolves {status, body}. */
	async request(method, urlPath, { body, token } = {}) {
		const headers = {};
		if (body !== undefined)
			headers["Content-Type"] = "application/json";
		if (token)
			headers.Authorization = `Bearer ${token}`;
		const res = await fetch(this.baseUrl + urlPath, { method, headers,
			body: body === undefined ? undefined : JSON.stringify(body) });
		const text = await res.text();
		let parsed = text;
		try {
			parsed = text ? JSON.parse(text) : null;
		} catch (err) { /* not JSON: keep the text */ }
		return { status: res.status, body: parsed };
	}

	/** Like request(), but fails unless the status is `want`; resolves the body. */
	async expect(want, method, urlPath, options) {
		const { status, body } = await this.request(method, urlPath, options);
		if (status !== want)
			throw new Error(`${method} ${urlPath}: want ${want}, got ${status}: ${JSON.stringify(body)}`);
		return body;
	}

	createApp(name = "e2e") {
		return this.expect(201, "POST", "/v1/apps", { body: { name }, token: this.masterKey });
	}

	createUser(app, uid) {
		return this.expect(201, "POST", `/v1/apps/${app.appId}/users`,
			{ body: { uid, name: `User ${uid}` }, token: app.restApiKey });
	}

	async authToken(app, uid) {
		const b = await this.expect(201, "POST", `/v1/apps/${app.appId}/users/${uid}/auth_tokens`,
			{ body: {}, token: app.restApiKey });
		return b.authToken;
	}

	async callToken(app, authToken, sessionId) {
		const b = await this.expect(201, "POST",
			`/v1/apps/${app.appId}/sessions/${encodeURIComponent(sessionId)}/token`,
			{ token: authToken });
		return b.callToken;
	}

	/** A user with an auth token and a call token for `sessionId`: what a page needs to join. */
	async participant(app, uid, sessionId) {
		await this.createUser(app, uid);
		const authToken = await this.authToken(app, uid);
		return { uid, appId: app.appId, wsUrl: this.wsUrl, authToken,
			callToken: await this.callToken(app, authToken, sessionId), sessionId };
	}
}
