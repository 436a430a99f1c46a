// Waiting with deadlines (never fixed sleeps) and free loopback ports.

import dgram from "node:dgram";
import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls `check` (sync or async) every `interval` ms until it returns something truthy,
 * which it resolves; rejects after `timeout` ms naming `what` and the last value seen.
 * An exception from `check` fails at once.
 */
export async function waitFor(check, { timeout = 15000, interval = 100, what = "a condition",
	describe } = {}) {
	const deadline = Date.now() + timeout;
	let last;
	for (;;) {
		last = await check();
		if (last)
			return last;
		if (Date.now() > deadline) {
			const seen = describe ? await describe() : last;
			throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
				(seen === undefined ? "" : `; last seen: ${JSON.stringify(seen)}`));
		}
		await delay(interval);
	}
}

/** A TCP port that nothing listens on right now on 127.0.0.1. */
export function freeTcpPort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/** A UDP port that is free right now on 127.0.0.1 (for the media worker). */
export function freeUdpPort() {
	return new Promise((resolve, reject) => {
		const sock = dgram.createSocket("udp4");
		sock.on("error", reject);
		sock.bind(0, "127.0.0.1", () => {
			const { port } = sock.address();
			sock.close(() => resolve(port));
		});
	});
}
