// Media sessions end to end in Chromium: real browsers with fake cameras and microphones
// join meet sessions of a real `callwire serve` through web/js/session.js, and each
// receiver's getStats() tells whether the media of every other participant arrives.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { openParticipant } from "./lib/browser.mjs";
import { meetId, waitMediaFrom, waitRising, waitStopped, World } from "./lib/world.mjs";

const TEST_TIMEOUT_MS = 60000;

let world;

before(async () => {
	world = await World.start();
});

after(async () => {
	if (world)
		await world.close();
});

/* Every participant receives audio and video from every other one. */
async function assertFullMesh(parts) {
	await Promise.all(parts.map((rx) => waitMediaFrom(rx,
		parts.filter((p) => p !== rx).map((p) => p.participantId))));
}

test("a page authenticates on the realtime WebSocket and has a fake camera and microphone",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const cred = await world.credentials("solo", meetId("smoke"));
		const page = await openParticipant(world.browser, world.web.url, "solo");
		world.pages.push(page);
		const ready = await page.evaluate((o) => window.cw.connect(o), {
			wsUrl: cred.wsUrl, appId: cred.appId, authToken: cred.authToken });
		assert.equal(ready.user.uid, cred.uid);
		const tracks = await page.evaluate(() => window.cw.media());
		assert.deepEqual(tracks.map((t) => `${t.kind}:${t.readyState}`).sort(),
			["audio:live", "video:live"]);
	}));

test("two participants of a meet session receive each other's audio and video",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const sid = meetId("two");
		const alice = await world.join("alice", sid);
		const bob = await world.join("bob", sid);
		assert.equal(alice.joined.category, "meet");
		assert.deepEqual(alice.joined.participants, [], "the first one in sees nobody");
		assert.deepEqual(bob.joined.participants, [alice.participantId]);
		await alice.waitEvent("participantjoined", (e) => e.participantId === bob.participantId);
		await assertFullMesh([alice, bob]);
	}));

test("three participants of a meet session each receive both others' audio and video",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const sid = meetId("three");
		const parts = [];
		for (const name of ["alice", "bob", "carol"])
			parts.push(await world.join(name, sid));
		assert.deepEqual([...parts[2].joined.participants].sort(),
			[parts[0].participantId, parts[1].participantId].sort());
		await assertFullMesh(parts);
	}));

test("muting a track stops its flow at the receiver and unmuting restores it",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const sid = meetId("mute");
		const alice = await world.join("alice", sid);
		const bob = await world.join("bob", sid);
		await waitMediaFrom(bob, [alice.participantId]);
		const from = alice.participantId;
		const packets = (kind) => () => bob.counter(from, kind, "packetsReceived");

		for (const kind of ["audio", "video"]) {
			const other = kind === "audio" ? "video" : "audio";
			await alice.mute(kind, true);
			await bob.waitEvent("muted", (e) => e.participantId === from && e.kind === kind);
			await waitStopped(packets(kind), { what: `bob: packets of alice's muted ${kind}` });
			// Only that track: the other keeps flowing.
			await waitRising(packets(other), { what: `bob: packets of alice's ${other} while ` +
				`her ${kind} is muted` });

			await alice.mute(kind, false);
			await bob.waitEvent("unmuted", (e) => e.participantId === from && e.kind === kind);
			await waitRising(packets(kind), { what: `bob: packets of alice's unmuted ${kind}` });
		}
		await waitMediaFrom(bob, [from]);
	}));

test("leaving tells the others with session.participant_left",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const sid = meetId("leave");
		const alice = await world.join("alice", sid);
		const bob = await world.join("bob", sid);
		const carol = await world.join("carol", sid);
		await Promise.all([alice, bob].map((p) => p.waitEvent("participantjoined",
			(e) => e.participantId === carol.participantId)));

		await carol.leave();
		assert.equal((await carol.state()).state, "closed");
		for (const p of [alice, bob]) {
			const left = await p.waitEvent("participantleft",
				(e) => e.participantId === carol.participantId);
			assert.equal(left.reason, "left");
			assert.equal(left.uid, carol.uid);
		}
		// The two who stayed still have each other.
		await assertFullMesh([alice, bob]);
	}));

test("the idle timeout ends a session where one participant is alone",
	{ timeout: TEST_TIMEOUT_MS }, () => world.run(async () => {
		const sid = meetId("idle");
		const t0 = Date.now();
		const alice = await world.join("alice", sid, { idleTimeout: 2 });
		const joinedAt = Date.now();
		assert.equal(alice.joined.settings.idleTimeout, 2);

		// With less than 60 s of timeout, the warning is due at once.
		const warning = await alice.waitEvent("timeoutwarning", () => true, { timeout: 10000 });
		assert.ok(warning.endsAt >= t0 + 1000 && warning.endsAt <= joinedAt + 3000,
			`endsAt ${warning.endsAt} should be about 2 s after the join (${t0}..${joinedAt})`);
		const ended = await alice.waitEvent("ended", () => true, { timeout: 15000 });
		assert.equal(ended.reason, "idle_timeout");
		assert.ok(ended.at >= warning.at, "the warning comes before the end");
		assert.ok(ended.at >= t0 + 1500, `ended ${ended.at - t0} ms after the join started: ` +
			"too early for a 2 s timeout");
		assert.equal((await alice.state()).state, "closed");

		// The meet's call log entry is over too.
		const call = await world.server.expect(200, "GET",
			`/v1/apps/${world.app.appId}/calls/${sid}`, { token: world.app.restApiKey });
		assert.equal(call.category, "meet");
		assert.equal(call.status, "ended");
	}));
