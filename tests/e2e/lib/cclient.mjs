// The C client (libcallwire, as the `callwire` binary's client commands) as a participant:
// `callwire login` into a session file of its own, then `callwire join SESSION` with a tone
// or a WAV file played, what it hears recorded to a WAV file, and its JSON lines (stdout)
// read by the test. Also the WAV reading and the signal measures (RMS, dominant frequency)
// the tests apply to its recording.

import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { promisify } from "node:util";

import { callwireBin } from "./server.mjs";
import { waitFor } from "./wait.mjs";

const run = promisify(execFile);

const LOGIN_DEADLINE_MS = 15000;
const STOP_DEADLINE_MS = 10000;

export class CClient {
	/**
	 * Creates `uid` in `world`'s app (REST, with the app's key), then logs it in with
	 * `callwire login --auth-key` into a session file of a fresh temporary folder.
	 */
	static async login(world, name) {
		world.users += 1;
		const uid = `${name}${world.users}`;
		await world.server.createUser(world.app, uid);
		const c = new CClient(name, uid);
		const args = ["login", "--server", world.server.baseUrl, "--app", world.app.appId,
			"--uid", uid, "--auth-key", world.app.authKey, "--session", c.sessionFile];
		try {
			const { stdout } = await run(callwireBin(), args, { timeout: LOGIN_DEADLINE_MS,
				env: cleanEnv() });
			c.loginOutput = stdout;
		} catch (err) {
			c.cleanup();
			throw new Error(`callwire ${args.join(" ")} failed (${err.code ?? err.signal}):\n` +
				`${err.stdout || ""}${err.stderr || ""}`);
		}
		return c;
	}

	constructor(name, uid) {
		this.name = name;
		this.uid = uid;
		this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "callwire-cclient-"));
		this.sessionFile = path.join(this.dir, "session.json");
		this.audioOut = path.join(this.dir, "heard.wav");
		this.proc = null;
		this.lines = [];
		this.stdoutText = [];
		this.stderr = "";
		this.args = [];
	}

	/**
	 * Starts `callwire join sessionId` with `tone` (Hz) or `audioIn` (a WAV file) played,
	 * what it hears recorded to this.audioOut, leaving after `duration` s (none: on stop()).
	 */
	join(sessionId, { tone, audioIn, duration, extra = [] } = {}) {
		this.args = ["join", sessionId, "--audio-out", this.audioOut, "--session", this.sessionFile];
		if (tone !== undefined)
			this.args.push("--tone", String(tone));
		if (audioIn !== undefined)
			this.args.push("--audio-in", audioIn);
		if (duration !== undefined)
			this.args.push("--duration", String(duration));
		this.args.push(...extra);
		this.proc = spawn(callwireBin(), this.args, { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
		this.exited = once(this.proc, "exit");
		readline.createInterface({ input: this.proc.stdout }).on("line", (text) => {
			this.stdoutText.push(text);
			try {
				this.lines.push(JSON.parse(text));
			} catch (err) {
				this.lines.push({ event: "text", text });
			}
		});
		this.proc.stderr.on("data", (d) => { this.stderr += d.toString(); });
		return this;
	}

	get running() {
		return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
	}

	/** Waits for the first line that `match` accepts; fails at once if the client exits. */
	waitLine(match, { timeout = 20000, what = "a line" } = {}) {
		return waitFor(() => {
			const hit = this.lines.find(match);
			if (hit)
				return hit;
			if (!this.running)
				throw new Error(`${this.name} (C client) exited with ` +
					`${this.proc.exitCode ?? this.proc.signalCode} while waiting for ${what}`);
			return null;
		}, { timeout, what: `${this.name} (C client): ${what}`, describe: () => this.lines });
	}

	/** Waits for the line {event: name} (matching `match`). */
	waitEvent(name, match = () => true, options = {}) {
		return this.waitLine((l) => l.event === name && match(l), { what: `event ${name}`, ...options });
	}

	/**
	 * SIGTERM (it leaves, prints its stats, exits), SIGKILL when late; resolves the exit
	 * code (null when it had to be killed).
	 */
	async stop() {
		if (!this.proc)
			return null;
		if (this.running) {
			this.proc.kill("SIGTERM");
			const timer = setTimeout(() => this.proc.kill("SIGKILL"), STOP_DEADLINE_MS);
			await this.exited;
			clearTimeout(timer);
		}
		return this.proc.exitCode;
	}

	/** Waits for the client to exit by itself (--duration); resolves its exit code. */
	async waitExit({ timeout = 20000 } = {}) {
		await waitFor(() => !this.running, { timeout, what: `${this.name} (C client) to exit`,
			describe: () => this.lines.slice(-5) });
		return this.proc.exitCode;
	}

	/** Its final {"event":"stats"} line, or null. */
	get stats() {
		return [...this.lines].reverse().find((l) => l.event === "stats") || null;
	}

	/** The recording (readWav), or null when there is none yet. */
	recording() {
		return fs.existsSync(this.audioOut) ? readWav(this.audioOut) : null;
	}

	diagnostics() {
		return `--- ${this.name} (C client) callwire ${this.args.join(" ")} → ` +
			`${this.proc ? this.proc.exitCode ?? this.proc.signalCode ?? "running" : "not started"} ---\n` +
			`${this.stdoutText.join("\n")}\n--- stderr ---\n${this.stderr}`;
	}

	/** Kills a client still running (a failed test) and removes its folder. */
	cleanup() {
		if (this.running)
			this.proc.kill("SIGKILL");
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}

/* The environment of a client command: none of the caller's callwire settings. */
function cleanEnv() {
	const env = { ...process.env };
	for (const k of ["CALLWIRE_SESSION", "CALLWIRE_SERVER", "XDG_CONFIG_HOME"])
		delete env[k];
	return env;
}

// WAV and signal measures ------------------------------------------------------------------

/**
 * A RIFF/WAVE file of 16-bit PCM: {rate, channels, samples} with `samples` the first
 * channel as floats in [-1, 1]. The data runs to the end of the file, whatever the header
 * says (it may not be up to date yet).
 */
export function readWav(file) {
	const b = fs.readFileSync(file);
	if (b.length < 12 || b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE")
		throw new Error(`${file}: not a RIFF/WAVE file (${b.length} bytes)`);
	let fmt = null;
	let off = 12;
	while (off + 8 <= b.length) {
		const id = b.toString("ascii", off, off + 4);
		let size = b.readUInt32LE(off + 4);
		const body = off + 8;
		if (id === "fmt ") {
			fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2),
				rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
		} else if (id === "data") {
			if (!fmt)
				throw new Error(`${file}: data chunk before fmt`);
			if (fmt.format !== 1 || fmt.bits !== 16)
				throw new Error(`${file}: want 16-bit PCM, got format ${fmt.format}, ${fmt.bits} bits`);
			// The recorder brings the header up to date once a second: a file still being
			// written has more data than it says. Its data chunk is the last one.
			size = b.length - body;
			const frames = Math.floor(size / (2 * fmt.channels));
			const samples = new Float32Array(frames);
			for (let i = 0; i < frames; i++)
				samples[i] = b.readInt16LE(body + i * 2 * fmt.channels) / 32768;
			return { rate: fmt.rate, channels: fmt.channels, samples };
		}
		off = body + size + (size & 1);
	}
	throw new Error(`${file}: no data chunk`);
}

/** Root mean square of `samples` (floats in [-1, 1]). */
export function rms(samples) {
	let sum = 0;
	for (const s of samples)
		sum += s * s;
	return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/* Power of `freq` in `samples` (Goertzel), normalised by the length. */
function goertzel(samples, rate, freq) {
	const coeff = 2 * Math.cos(2 * Math.PI * freq / rate);
	let s1 = 0;
	let s2 = 0;
	for (const x of samples) {
		const s0 = x + coeff * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.length * samples.length);
}

/**
 * The dominant frequency of `samples` between `from` and `to` Hz: a Goertzel scan every
 * `step` Hz over a Hann-windowed copy. Resolves {freq, power, ratio} with `ratio` the
 * peak's power over the median power of the scan (how clearly it stands out).
 */
export function dominantFrequency(samples, rate, { from = 100, to = 2000, step = 5 } = {}) {
	const n = samples.length;
	const w = new Float32Array(n);
	for (let i = 0; i < n; i++)
		w[i] = samples[i] * (0.5 - 0.5 * Math.cos(2 * Math.PI * i / (n - 1)));
	const powers = [];
	let best = { freq: 0, power: -1 };
	for (let f = from; f <= to; f += step) {
		const p = goertzel(w, rate, f);
		powers.push(p);
		if (p > best.power)
			best = { freq: f, power: p };
	}
	powers.sort((a, b) => a - b);
	const median = powers[powers.length >> 1];
	return { freq: best.freq, power: best.power, ratio: median > 0 ? best.power / median : Infinity };
}
