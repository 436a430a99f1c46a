// The browser client end to end: people log in through the log-in screen of web/ (served
// by `callwire serve`), ring each other with the call buttons, answer on the incoming
// screen, see each other's video, hang up and read their call logs. Each user is a
// browser context of Debian's Chromium with a fake camera and microphone. Every screen
// a test passes through is saved as a screenshot (see lib/ui.mjs for where).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { callwireBin } from "./lib/server.mjs";
import { ClientWorld } from "./lib/ui.mjs";
import { waitFor } from "./lib/wait.mjs";

const TEST_TIMEOUT_MS = 120000;
const DURATION = /^\d+:\d\d$/;

let world;

before(async () => {
	world = await ClientWorld.start();
});

after(async () => {
	if (world)
		await world.close();
});

/** Runs one scenario in a fresh app. */
function scenario(name, fn, settings) {
	test(name, { timeout: TEST_TIMEOUT_MS }, async () => {
		const scene = await world.scene(name, settings);
		await scene.run(() => fn(scene));
	});
}

scenario("alice video-calls bob, he answers, they see each other, mute and camera work, " +
	"alice hangs up and both call logs show the call ended with its duration", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob", { phone: true });
	await alice.shot("contacts");

	await alice.call("Bob", "video");
	await alice.page.getByText("Ringing…").waitFor();
	await alice.shot("outgoing ringing");
	const dialog = await bob.waitIncoming("Alice", "video");
	assert.equal(await dialog.getAttribute("data-session-id"), await alice.sessionId());
	await bob.shot("incoming");

	await bob.accept("Alice");
	await alice.waitOngoing();
	await Promise.all([alice.waitVideoFrom("bob"), bob.waitVideoFrom("alice")]);
	await alice.shot("ongoing");
	await bob.shot("ongoing");
	await alice.page.locator(".conn-badge", { hasText: "Connected" }).waitFor();
	await alice.page.locator(".call-timer").filter({ hasText: DURATION }).waitFor();

	// The controls: bob sees alice muted, then her camera off (her avatar), then both back.
	await alice.button("Mute microphone").click();
	await bob.waitTileMuted("alice", true);
	assert.equal(await alice.button("Unmute microphone").getAttribute("aria-pressed"), "true");
	await alice.button("Turn camera off").click();
	await bob.waitTileVideo("alice", false);
	await bob.shot("alice muted with her camera off");
	await alice.shot("muted with the camera off");
	await alice.button("Unmute microphone").click();
	await alice.button("Turn camera on").click();
	await bob.waitTileMuted("alice", false);
	await bob.waitVideoFrom("alice");

	const sessionId = await alice.sessionId();
	await alice.button("Hang up").click();
	await Promise.all([alice.waitContacts(), bob.waitContacts()]);
	await bob.waitToast("Call ended");
	await alice.shot("back to contacts");
	await bob.shot("back to contacts");

	for (const u of [alice, bob]) {
		const row = await u.waitLogRow(sessionId, "ended");
		assert.match(row.duration, DURATION, `${u.label}: the log shows a duration`);
		assert.equal(row.type, "video");
		assert.equal(row.direction, u === alice ? "outgoing" : "incoming");
		await u.shot("call log");
	}
	// The details of the call: both participants with their time in the call.
	await bob.page.locator(`#call-logs li[data-session-id="${sessionId}"] a`).click();
	const table = bob.page.locator("table.participants");
	await table.waitFor();
	await table.locator('tr[data-uid="alice"]').waitFor();
	await table.locator('tr[data-uid="bob"]').getByText("(you)").waitFor();
	await bob.page.locator(".facts .log-status", { hasText: "Ended" }).waitFor();
	await bob.shot("call details");
});

scenario("bob declines: alice hears it and the call is logged rejected", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	await alice.call("Bob", "audio");
	await bob.waitIncoming("Alice", "audio");
	const sessionId = await alice.sessionId();
	await bob.shot("incoming audio call");
	// By keyboard: the dialog has focused Accept; Decline comes just before it.
	assert.equal(await bob.page.evaluate(() => document.activeElement.getAttribute("aria-label")),
		"Accept audio call from Alice");
	await bob.page.keyboard.press("Shift+Tab");
	await bob.page.keyboard.press("Enter");
	await bob.waitNoIncoming();
	await alice.waitToast("Bob declined the call");
	await alice.waitContacts();
	await alice.shot("declined");
	await alice.waitLogRow(sessionId, "rejected");
	await bob.waitLogRow(sessionId, "rejected");
	await alice.shot("call log");
});

scenario("alice cancels while it rings: bob's incoming screen goes away", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	await alice.call("Bob", "video");
	await bob.waitIncoming("Alice");
	const sessionId = await alice.sessionId();
	await alice.page.getByText("Ringing…").waitFor();
	await alice.button("Cancel call").click();
	await alice.waitContacts();
	await bob.waitNoIncoming();
	await bob.waitToast("The caller hung up");
	await bob.shot("caller hung up");
	await alice.waitLogRow(sessionId, "cancelled");
	const row = await bob.waitLogRow(sessionId, "cancelled");
	assert.match(row.text, /Missed/, "a cancelled incoming call is a missed call for bob");
	await bob.shot("call log missed");
});

scenario("nobody answers within the ring timeout: unanswered on both sides", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	await alice.call("Bob", "audio");
	await bob.waitIncoming("Alice", "audio");
	const sessionId = await alice.sessionId();
	await alice.shot("ringing");
	await alice.waitToast("Bob did not answer");
	await bob.waitNoIncoming();
	await alice.waitContacts();
	await alice.shot("unanswered");
	await alice.waitLogRow(sessionId, "unanswered");
	await bob.waitLogRow(sessionId, "unanswered");
	await bob.shot("call log");
}, { ringTimeout: 5 });

scenario("carol calls bob while he is in a call with alice: busy", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	const carol = await s.login("carol");
	await alice.call("Bob", "video");
	await bob.waitIncoming("Alice");
	await bob.accept("Alice");
	await alice.waitOngoing();

	await carol.button("Audio call Bob").click();
	await carol.waitToast("Bob is busy on another call");
	await carol.waitContacts();
	await carol.shot("busy");
	const rows = await carol.openLogs();
	assert.equal(rows[0].status, "busy", "carol's newest call is the busy one");
	await carol.shot("call log");
	// Bob's call goes on, and nothing rang on his screen.
	assert.equal(await bob.incoming().count(), 0);
	await bob.waitVideoFrom("alice");
	await bob.button("Hang up").click();
	await Promise.all([alice.waitContacts(), bob.waitContacts()]);
});

scenario("a group video call with three people: everybody sees the two others", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	const carol = await s.login("carol", { phone: true });
	await alice.page.locator("#groups-list li[data-guid=team]").waitFor();
	await alice.call("Team", "video");
	await alice.shot("ringing the group");
	await bob.waitIncoming("Alice");
	await carol.waitIncoming("Alice");
	await carol.page.getByText("Incoming video call in Team").waitFor();
	await bob.accept("Alice");
	await alice.waitOngoing();
	await carol.accept("Alice");
	await Promise.all([
		alice.waitVideoFrom("bob"), alice.waitVideoFrom("carol"),
		bob.waitVideoFrom("alice"), bob.waitVideoFrom("carol"),
		carol.waitVideoFrom("alice"), carol.waitVideoFrom("bob"),
	]);
	for (const u of [alice, bob, carol])
		await u.shot("group call");
	assert.equal(await alice.page.locator(".call-layer .tile").count(), 3);

	// Carol leaves: the others go on without her tile; then everybody hangs up.
	await carol.button("Hang up").click();
	await carol.waitContacts();
	await alice.page.locator('.tile[data-uid="carol"]').waitFor({ state: "detached" });
	await bob.button("Hang up").click();
	await alice.button("Hang up").click();
	await Promise.all([alice.waitContacts(), bob.waitContacts()]);
	const sessionRow = (await alice.openLogs())[0];
	assert.equal(sessionRow.status, "ended");
	await alice.shot("call log");
});

scenario("a meeting joined by link, by a user who logs in on the way", async (s) => {
	const alice = await s.login("alice");
	await alice.button("New meeting").click();
	await alice.page.waitForFunction(() => location.hash.startsWith("#/meet/"));
	const link = await alice.page.evaluate(() => location.href);
	const sessionId = decodeURIComponent(new URL(link).hash.split("/")[2]);
	await alice.button("Join meeting").waitFor();
	await alice.page.waitForFunction(() => !document.querySelector(".join-card button.primary").disabled);
	await alice.shot("join screen");
	await alice.button("Join meeting").click();
	await alice.waitOngoing();
	await alice.page.getByText("In the meeting", { exact: true }).waitFor();
	await alice.shot("alone in the meeting");

	// Bob opens the link without being logged in: log-in first, then the meeting.
	const bob = await s.open("bob", { url: link });
	await bob.page.getByLabel("App ID").fill(s.app.appId);
	await bob.page.getByLabel("User ID").fill("bob");
	await bob.page.getByRole("textbox", { name: "Auth key", exact: true }).fill(s.app.authKey);
	await bob.shot("login from a link");
	await bob.button("Log in").click();
	await bob.button("Join meeting").waitFor();
	await bob.page.waitForFunction(() => !document.querySelector(".join-card button.primary").disabled);
	await bob.button("Join meeting").click();
	await bob.waitOngoing();
	await Promise.all([alice.waitVideoFrom("bob"), bob.waitVideoFrom("alice")]);
	await alice.shot("meeting");
	await bob.shot("meeting");

	await bob.button("Leave meeting").click();
	await bob.waitContacts();
	await alice.page.locator('.tile[data-uid="bob"]').waitFor({ state: "detached" });
	await alice.button("Leave meeting").click();
	await alice.waitContacts();
	const row = await alice.waitLogRow(sessionId, "ended");
	assert.match(row.text, /Meeting/);
	await alice.shot("call log");
});

scenario("bob is logged in twice: one accepts, the other stops ringing", async (s) => {
	const alice = await s.login("alice");
	const bobPhone = await s.login("bob", { phone: true, label: "bob-phone" });
	const bobLaptop = await s.login("bob", { label: "bob-laptop" });
	await alice.call("Bob", "video");
	await Promise.all([bobPhone.waitIncoming("Alice"), bobLaptop.waitIncoming("Alice")]);
	await bobPhone.shot("ringing");
	await bobLaptop.shot("ringing");
	await bobLaptop.accept("Alice");
	await bobPhone.waitNoIncoming();
	await bobPhone.waitToast("Answered on another device");
	await bobPhone.shot("answered elsewhere");
	assert.equal(await bobPhone.page.locator(".call-layer").count(), 0);
	await alice.waitOngoing();
	await Promise.all([alice.waitVideoFrom("bob"), bobLaptop.waitVideoFrom("alice")]);
	await bobLaptop.button("Hang up").click();
	await Promise.all([alice.waitContacts(), bobLaptop.waitContacts()]);
});

scenario("bob's network drops during a call: his screen says so, reconnects by itself, " +
	"and alice's hang-up still reaches him", async (s) => {
	const alice = await s.login("alice");
	const bob = await s.login("bob");
	await alice.call("Bob", "video");
	await bob.waitIncoming("Alice");
	await bob.accept("Alice");
	await alice.waitOngoing();
	await bob.waitVideoFrom("alice");

	// The browser failing to reach the server while offline is expected here.
	bob.allowConsole(/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/);
	await bob.context.setOffline(true);
	await bob.page.locator(".conn-badge", { hasText: "Reconnecting…" }).waitFor();
	await bob.shot("offline");
	await bob.context.setOffline(false);
	await bob.page.locator(".conn-badge", { hasText: "Connected" }).waitFor({ timeout: 20000 });
	await bob.waitVideoFrom("alice");
	await bob.shot("back online");

	await alice.button("Hang up").click();
	await Promise.all([alice.waitContacts(), bob.waitContacts()]);
	await bob.waitToast("Call ended");
});

/** The loudness (RMS, 0..1) of what the page receives from `uid`'s tile over `ms`. */
function heardLevel(user, uid, ms = 1000) {
	return user.page.evaluate(async ({ u, ms }) => {
		const v = document.querySelector(`.call-layer .tile[data-uid="${u}"]:not(.self) video`);
		const track = v && v.srcObject && v.srcObject.getAudioTracks()[0];
		if (!track)
			return -1;
		const ctx = new AudioContext();
		await ctx.resume();
		const source = ctx.createMediaStreamSource(new MediaStream([track]));
		const analyser = ctx.createAnalyser();
		analyser.fftSize = 2048;
		source.connect(analyser);
		const buf = new Float32Array(analyser.fftSize);
		let sum = 0, n = 0;
		const end = performance.now() + ms;
		while (performance.now() < end) {
			analyser.getFloatTimeDomainData(buf);
			for (const x of buf) sum += x * x;
			n += buf.length;
			await new Promise((r) => setTimeout(r, 40));
		}
		await ctx.close();
		return Math.sqrt(sum / n);
	}, { u: uid, ms });
}

scenario("bob rings alice from the command line with a WAV file; alice accepts in the " +
	"browser and hears him", async (s) => {
	const alice = await s.login("alice");
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cw-softphone-"));
	const session = path.join(tmp, "session.json");
	const hello = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..",
		"examples", "hello.wav");
	await promisify(execFile)(callwireBin(), ["login", "--server", s.server.baseUrl, "--app",
		s.app.appId, "--uid", "bob", "--auth-key", s.app.authKey, "--session", session],
		{ timeout: 15000 });
	const bob = spawn(callwireBin(), ["call", "alice", "--audio-in", hello, "--loop",
		"--duration", "30", "--session", session], { stdio: ["ignore", "pipe", "pipe"] });
	let out = "";
	bob.stdout.on("data", (d) => { out += d; });
	bob.stderr.on("data", (d) => { out += d; });
	try {
		await alice.waitIncoming("Bob", "audio");
		await alice.accept("Bob", "audio");
		await waitFor(() => out.includes("\"event\":\"joined\""),
			{ timeout: 20000, what: "the command line joined", describe: () => out });
		let level = -1;
		await waitFor(async () => (level = await heardLevel(alice, "bob")) > 0.01,
			{ timeout: 20000, what: "alice hears bob's greeting", describe: () => level });
		await alice.shot("hearing bob from the command line");
		await alice.button("Hang up").click();
		await alice.waitContacts();
		await waitFor(() => bob.exitCode !== null, { timeout: 15000,
			what: "the command line hung up", describe: () => out });
		assert.equal(bob.exitCode, 0, out);
		assert.match(out, /"event":"stats"/);
	} finally {
		if (bob.exitCode === null)
			bob.kill("SIGKILL");
		fs.rmSync(tmp, { recursive: true, force: true });
	}
});
