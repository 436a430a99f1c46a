// tests/e2e/aiortc_peer.py as a participant: a child process whose JSON lines (stdout)
// the test reads, and whose stdin takes commands (mute, unmute, leave).

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { waitFor } from "./wait.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.resolve(HERE, "..", "aiortc_peer.py");
// Debian's interpreter: Debian's python3-aiortc is not in a pyenv or venv python.
export const PYTHON = process.env.AIORTC_PYTHON || "/usr/bin/python3";

const STOP_DEADLINE_MS = 10000;

export class AiortcPeer {
	/** Starts the peer for `cred` (World.credentials) with session.join `settings`. */
	static start(name, cred, settings = {}) {
		if (!fs.existsSync(PYTHON))
			throw new Error(`${PYTHON} not found (install Debian's python3-aiortc)`);
		return new AiortcPeer(name, cred, settings);
	}

	constructor(name, cred, settings) {
		this.name = name;
		this.uid = cred.uid;
		this.lines = [];
		this.stderr = "";
		this.lastStats = null;
		this.proc = spawn(PYTHON, [SCRIPT, "--ws", cred.wsUrl, "--app", cred.appId,
			"--token", cred.authToken, "--call-token", cred.callToken,
			"--settings", JSON.stringify(settings)], { stdio: ["pipe", "pipe", "pipe"] });
		this.exited = once(this.proc, "exit");
		readline.createInterface({ input: this.proc.stdout }).on("line", (text) => {
			let line;
			try {
				line = JSON.parse(text);
			} catch (err) {
				line = { type: "text", text };
			}
			if (line.type === "stats")
				this.lastStats = line;
			else
				this.lines.push(line);
		});
		this.proc.stderr.on("data", (d) => { this.stderr += d.toString(); });
	}

	/** Waits for the first line (other than stats) that `match` accepts. */
	waitLine(match, { timeout = 20000, what = "a line" } = {}) {
		return waitFor(() => {
			const hit = this.lines.find(match);
			if (hit)
				return hit;
			const err = this.lines.find((l) => l.type === "error");
			if (err)
				throw new Error(`${this.name} (aiortc) failed: ${err.message}\n${this.stderr}`);
			if (this.proc.exitCode !== null)
				throw new Error(`${this.name} (aiortc) exited with ${this.proc.exitCode} ` +
					`while waiting for ${what}\n${this.stderr}`);
			return null;
		}, { timeout, what: `${this.name} (aiortc): ${what}`, describe: () => this.lines });
	}

	/** A counter of what the peer receives from `fromId`'s `kind` track (frames, packets…). */
	counter(fromId, kind, field) {
		const c = this.lastStats && ((this.lastStats.received[fromId] || {})[kind] || {})[field];
		return typeof c === "number" ? c : null;
	}

	command(line) {
		this.proc.stdin.write(line + "\n");
	}

	/** Leaves (end of its input) and waits for the process to exit; kills it when late. */
	async stop() {
		if (this.proc.exitCode !== null || this.proc.signalCode !== null)
			return this.proc.exitCode;
		this.proc.stdin.end();
		const timer = setTimeout(() => this.proc.kill("SIGKILL"), STOP_DEADLINE_MS);
		await this.exited;
		clearTimeout(timer);
		return this.proc.exitCode;
	}

	diagnostics() {
		return `--- ${this.name} (aiortc) lines ---\n` +
			this.lines.map((l) => JSON.stringify(l)).join("\n") +
			`\nlast stats: ${JSON.stringify(this.lastStats)}\n--- stderr ---\n${this.stderr}`;
	}
}
