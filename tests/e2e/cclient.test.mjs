// The C client (libcallwire as `callwire join`) in a media session with the other WebRTC
// stacks: Chromium (web/js/session.js) and aiortc (tests/e2e/aiortc_peer.py). It plays a
// tone and records what it hears; the others tell which frequency reaches them, and its
// recording tells what reaches it. With Chromium it also sends its test pattern as video,
// which Chromium must show, and decodes Chromium's fake camera.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { AiortcPeer } from "./lib/aiortc.mjs";
import { CClient, dominantFrequency, rms } from "./lib/cclient.mjs";
import { waitFor } from "./lib/wait.mjs";
import { meetId, waitMediaFrom, World } from "./lib/world.mjs";

const TEST_TIMEOUT_MS = 60000;
// A safety net: the client leaves by itself this long after joining even if nobody stops it.
const CLIENT_DURATION_S = 45;
// The recording's first second from the moment the other side's audio can arrive (the
// first packets, the jitter buffer filling) is left out of its measures; RECORD_S
// seconds after it are measured.
const SKIP_S = 1;
const RECORD_S = 3;
const FREQ_TOLERANCE_HZ = 10;
// Silence, or Opus' comfort noise, stays well below this RMS (about -50 dBFS).
const SILENCE_RMS = 0.003;
const MAX_CONCEALED = 0.03;

let world;

before(async () => {
	world = await World.start();
});

after(async () => {
	if (world)
		await world.close();
});

/* Runs `fn` with the diagnostics of the world and of `peers` (C clients, aiortc) on failure. */
async function scenario(peers, fn) {
	try {
		await world.run(fn);
	} catch (err) {
		for (const p of peers)
			err.message += `\n${p.diagnostics()}`;
		throw err;
	} finally {
		for (const p of peers) {
			if (p instanceof CClient)
				p.cleanup();
			else
				await p.stop();
		}
	}
}

/* How many seconds `client` has recorded so far. */
function recordedSeconds(client) {
	const wav = client.recording();
	return wav ? wav.samples.length / wav.rate : 0;
}

/* Waits until `client`'s recording holds SKIP_S + RECORD_S seconds after `mark` s. */
async function waitRecorded(client, mark) {
	let seconds = 0;
	await waitFor(() => {
		seconds = recordedSeconds(client);
		if (!client.running)
			throw new Error(`${client.name} (C client) exited while recording`);
		return seconds >= mark + SKIP_S + RECORD_S;
	}, { timeout: 20000, interval: 250, what: `${client.name}: ${SKIP_S + RECORD_S} s recorded ` +
		`after ${mark.toFixed(1)} s`, describe: () => ({ seconds }) });
}

/* Stops `client` (SIGTERM), which must leave and exit 0 with a stats line; resolves it. */
async function stopClient(client) {
	const code = await client.stop();
	assert.equal(code, 0, `${client.name} (C client) exits 0 after SIGTERM`);
	const stats = client.stats;
	assert.ok(stats, "the C client prints its stats at the end");
	return stats;
}

/* The measured part of `client`'s recording: {rate, samples}, RECORD_S s from mark + SKIP_S. */
function measured(client, mark) {
	const wav = client.recording();
	assert.ok(wav, `${client.name}: no recording at ${client.audioOut}`);
	assert.equal(wav.rate, 48000);
	assert.equal(wav.channels, 1);
	const from = Math.round((mark + SKIP_S) * wav.rate);
	return { rate: wav.rate, samples: wav.samples.subarray(from, from + RECORD_S * wav.rate) };
}

function near(freq, want) {
	return typeof freq === "number" && Math.abs(freq - want) <= FREQ_TOLERANCE_HZ;
}

test("the C client and Chromium in one meet session hear each other",
	{ timeout: TEST_TIMEOUT_MS }, async (t) => {
		const cc = await CClient.login(world, "cee");
		await scenario([cc], async () => {
			// The C client first: it hears of Chromium joining after it.
			const sid = meetId("cclient-chromium");
			cc.join(sid, { tone: 440, duration: CLIENT_DURATION_S });
			const joined = await cc.waitEvent("joined");
			assert.equal(joined.sessionId, sid);
			const cId = joined.participantId;
			const alice = await world.join("alice", sid);
			const mark = recordedSeconds(cc); // alice's audio can arrive from here on
			assert.deepEqual(alice.joined.participants, [cId]);
			const aliceJoined = await cc.waitEvent("participant_joined",
				(l) => l.participantId === alice.participantId);
			assert.equal(aliceJoined.uid, alice.uid);

			// (a) Chromium decodes the C client's audio, and it is the 440 Hz tone.
			await waitMediaFrom(alice, [cId], { kinds: ["audio"] });
			let spectrum = null;
			await waitFor(async () => {
				spectrum = await alice.page.evaluate((id) => window.cw.dominantFrequency(id), cId);
				if (spectrum.error)
					throw new Error(`alice: ${spectrum.error}`);
				return near(spectrum.freq, 440) && spectrum.peakDb - spectrum.medianDb > 20;
			}, { timeout: 15000, interval: 0, what: "alice: 440 Hz dominant in the C client's audio",
				describe: () => spectrum });
			t.diagnostic(`Chromium hears the C client at ${spectrum.freq} Hz ` +
				`(peak ${spectrum.peakDb} dB, median ${spectrum.medianDb} dB, ${spectrum.reads} reads ` +
				`at ${spectrum.sampleRate} Hz)`);

			// (b) The C client hears Chromium's fake microphone (its beeps): not silence.
			await waitRecorded(cc, mark);
			const stats = await stopClient(cc);
			await alice.waitEvent("participantleft", (e) => e.participantId === cId);
			const { rate, samples } = measured(cc, mark);
			const level = rms(samples);
			t.diagnostic(`the C client's recording: ${(samples.length / rate).toFixed(1)} s ` +
				`from ${(mark + SKIP_S).toFixed(1)} s, RMS ${level.toFixed(4)}, dominant ` +
				`${dominantFrequency(samples, rate).freq} Hz`);
			assert.ok(level > SILENCE_RMS, `the C client's recording is silent: RMS ${level} ` +
				`<= ${SILENCE_RMS}`);

			// (c) Its stats: packets arrived, and few frames were concealed.
			t.diagnostic(`the C client's stats: ${JSON.stringify(stats)}`);
			assert.ok(stats.audioPacketsReceived > 0, JSON.stringify(stats));
			assert.ok(stats.framesDecoded > 0, JSON.stringify(stats));
			assert.ok(stats.framesConcealed <= MAX_CONCEALED * stats.framesDecoded,
				`${stats.framesConcealed} of ${stats.framesDecoded} frames concealed: ` +
				`more than ${MAX_CONCEALED * 100} %`);
		});
	});

test("the C client and Chromium in one meet session see each other",
	{ timeout: TEST_TIMEOUT_MS }, async (t) => {
		const cc = await CClient.login(world, "cee");
		await scenario([cc], async () => {
			const sid = meetId("cclient-video");
			const videoOut = `${cc.dir}/seen.y4m`;
			cc.join(sid, { tone: 440, duration: CLIENT_DURATION_S,
				extra: ["--video-pattern", "320x240", "--video-out", videoOut] });
			const cId = (await cc.waitEvent("joined")).participantId;
			const alice = await world.join("alice", sid);

			// (a) Chromium decodes the C client's VP8, and it shows the test pattern's bars
			// (limited-range BT.601 as the browser renders it: white 255 … black 0).
			await waitMediaFrom(alice, [cId], { kinds: ["audio", "video"] });
			const want = [255, 226, 179, 150, 105, 76, 29, 0];
			let shown = null;
			await waitFor(async () => {
				shown = await alice.page.evaluate((id) => window.cw.videoColumns(id), cId);
				return !shown.error && shown.luma.every((v, i) => Math.abs(v - want[i]) <= 30);
			}, { timeout: 15000, interval: 250, what: "alice: the C client's colour bars",
				describe: () => shown });
			assert.equal(shown.width, 320);
			assert.equal(shown.height, 240);
			t.diagnostic(`Chromium shows the C client's bars: ${JSON.stringify(shown)}`);

			// (b) The C client decodes Chromium's fake camera (320x240, as the page asks).
			const seen = await cc.waitEvent("video", (l) => l.participantId === alice.participantId);
			assert.deepEqual([seen.width, seen.height], [320, 240]);
			await waitFor(async () => {
				const st = await alice.stats();
				return ((st.participants[cId] || {}).video || {}).framesDecoded > 60;
			}, { timeout: 15000, interval: 250, what: "alice: 60 pictures of the C client" });
			const stats = await stopClient(cc);
			t.diagnostic(`the C client's stats: ${JSON.stringify(stats)}`);
			assert.ok(stats.videoFramesDecoded > 10, JSON.stringify(stats));
			assert.ok(stats.videoFramesRecorded > 10, JSON.stringify(stats));
			assert.ok(stats.videoFramesSent > 60, JSON.stringify(stats));
		});
	});

test("the C client and aiortc in one meet session hear each other's tones",
	{ timeout: TEST_TIMEOUT_MS }, async (t) => {
		const cc = await CClient.login(world, "cee");
		const peers = [cc];
		await scenario(peers, async () => {
			const sid = meetId("cclient-aiortc");
			const peer = AiortcPeer.start("bob", await world.credentials("bob", sid));
			peers.push(peer);
			const bob = await peer.waitLine((l) => l.type === "joined", { what: "joined" });

			cc.join(sid, { tone: 880, duration: CLIENT_DURATION_S });
			// The C client second (its `joined` line does not list who was there first).
			const joined = await cc.waitEvent("joined");
			const cId = joined.participantId;
			await peer.waitLine((l) => l.type === "event" && l.name === "session.participant_joined" &&
				l.participantId === cId, { what: "the C client joining" });

			// aiortc decodes the C client's audio, and it is the 880 Hz tone. "freq" measures
			// aiortc's last second: it is waited for until a second of the tone has arrived.
			let audio = null;
			await waitFor(() => {
				audio = peer.lastStats && (peer.lastStats.received[cId] || {}).audio;
				if (peer.proc.exitCode !== null)
					throw new Error(`aiortc exited with ${peer.proc.exitCode}`);
				return audio && audio.samples >= 2 * 48000 && near(audio.freq, 880);
			}, { timeout: 20000, interval: 250, what: "aiortc: 880 Hz from the C client",
				describe: () => audio });
			t.diagnostic(`aiortc hears the C client: ${JSON.stringify(audio)}`);
			assert.ok(audio.rms > SILENCE_RMS, JSON.stringify(audio));

			// The C client hears aiortc's 440 Hz tone.
			await waitRecorded(cc, 0); // aiortc was there before the C client
			const stats = await stopClient(cc);
			const { rate, samples } = measured(cc, 0);
			const level = rms(samples);
			const peak = dominantFrequency(samples, rate);
			t.diagnostic(`the C client's recording: RMS ${level.toFixed(4)}, dominant ` +
				`${peak.freq} Hz (${peak.ratio.toExponential(1)} times the median power)`);
			t.diagnostic(`the C client's stats: ${JSON.stringify(stats)}`);
			assert.ok(level > SILENCE_RMS, `the C client's recording is silent: RMS ${level}`);
			assert.ok(near(peak.freq, 440), `the C client hears ${peak.freq} Hz, not 440 Hz`);
			assert.ok(peak.ratio > 100, `440 Hz does not stand out: ${JSON.stringify(peak)}`);
			assert.ok(stats.audioPacketsReceived > 0, JSON.stringify(stats));

			// aiortc hears of the C client leaving.
			await peer.waitLine((l) => l.type === "event" && l.name === "session.participant_left" &&
				l.participantId === cId, { what: "the C client leaving" });
			assert.equal(await peer.stop(), 0, "the aiortc peer exits cleanly");
		});
	});
