// Two independent WebRTC stacks in one media session: Chromium (web/js/session.js) and
// aiortc (tests/e2e/aiortc_peer.py) each receive the other's audio and video through
// callwire's SFU.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { AiortcPeer } from "./lib/aiortc.mjs";
import { meetId, waitMediaFrom, waitRising, World } from "./lib/world.mjs";

const TEST_TIMEOUT_MS = 60000;

let world;

before(async () => {
	world = await World.start();
});

after(async () => {
	if (world)
		await world.close();
});

test("aiortc and Chromium in one meet session receive each other's audio and video",
	{ timeout: TEST_TIMEOUT_MS }, async () => {
		let peer = null;
		try {
			await world.run(async () => {
				const sid = meetId("aiortc");
				const alice = await world.join("alice", sid);
				peer = AiortcPeer.start("bob", await world.credentials("bob", sid));
				const joined = await peer.waitLine((l) => l.type === "joined", { what: "joined" });
				assert.deepEqual(joined.participants, [alice.participantId]);
				const bobId = joined.participantId;

				// Chromium decodes aiortc's tone and pattern.
				await waitMediaFrom(alice, [bobId]);
				// aiortc decodes Chromium's fake microphone and camera.
				for (const kind of ["audio", "video"])
					await waitRising(() => peer.counter(alice.participantId, kind, "frames"),
						{ what: `aiortc: ${kind} frames from Chromium` });
				const stats = peer.lastStats.received[alice.participantId];
				assert.ok(stats.video.width > 0 && stats.video.height > 0, JSON.stringify(stats));

				// aiortc leaves; Chromium hears of it.
				assert.equal(await peer.stop(), 0, "the aiortc peer exits cleanly");
				const left = await alice.waitEvent("participantleft",
					(e) => e.participantId === bobId);
				assert.equal(left.reason, "left");
			});
		} catch (err) {
			if (peer)
				err.message += `\n${peer.diagnostics()}`;
			throw err;
		} finally {
			if (peer)
				await peer.stop();
		}
	});
