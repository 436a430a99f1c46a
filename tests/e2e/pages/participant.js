// The test page's side of an end-to-end test: the Node test calls window.cw.* through
// Playwright and reads back plain JSON (events, stats, state).

import { CallwireSession, RealtimeConnection } from "/js/session.js";

const EVENTS = ["participantjoined", "participantleft", "track", "trackremoved",
	"trackpublished", "trackunpublished", "muted", "unmuted", "dominantspeaker",
	"timeoutwarning", "ended", "connectionclosed", "error"];

const log = []; // every session event of this page, in order, as JSON
let stream = null;
let session = null;
let audioContext = null; // for dominantFrequency(), made on first use

/* An event's detail as JSON: participants and tracks by id. */
function summarize(detail) {
	const out = {};
	for (const [k, v] of Object.entries(detail || {})) {
		if (k === "participant") {
			if (v) {
				out.participantId = v.participantId;
				out.uid = v.uid;
			}
		} else if (k === "track" && v && typeof v.kind === "string" && "readyState" in v)
			out.trackKind = v.kind;
		else if (k === "track")
			out.track = v;
		else if (k === "stream")
			out.streamId = v ? v.id : null;
		else if (k === "error")
			out.error = `${v && v.code ? v.code + ": " : ""}${v && v.message || v}`;
		else
			out[k] = v;
	}
	return out;
}

async function media({ video = true } = {}) {
	stream = await navigator.mediaDevices.getUserMedia({ audio: true,
		video: video ? { width: 320, height: 240, frameRate: 15 } : false });
	return stream.getTracks().map((t) => ({ kind: t.kind, readyState: t.readyState }));
}

window.cw = {
	log,

	/** The fake camera and microphone: [{kind, readyState}]. */
	media,

	/** Authenticates on the realtime WebSocket, then closes it: {user, seq}. */
	async connect(opts) {
		const conn = await RealtimeConnection.open(opts);
		conn.close();
		return { user: conn.user, seq: conn.ready.seq };
	},

	/** Joins with the fake devices; resolves what join returned, or {error:{code,message}}. */
	async join(opts) {
		try {
			if (!stream)
				await media({ video: !(opts.settings && opts.settings.audioOnly) });
			session = await CallwireSession.join({ ...opts, localStream: stream });
		} catch (err) {
			return { error: { code: err.code || "ERR_CLIENT", message: err.message } };
		}
		for (const name of EVENTS)
			session.on(name, (d) => log.push({ name, at: Date.now(), ...summarize(d) }));
		// Play what arrives, as a client would: Chromium decodes remote audio only for a sink.
		session.on("track", ({ participantId, track }) => {
			const el = document.createElement(track.kind === "video" ? "video" : "audio");
			el.autoplay = true;
			el.muted = track.kind === "video";
			el.playsInline = true;
			el.dataset.participant = participantId;
			el.srcObject = new MediaStream([track]);
			document.body.append(el);
			const drop = () => el.remove();
			track.addEventListener("ended", drop);
		});
		document.getElementById("status").textContent = `joined as ${session.participantId}`;
		return { participantId: session.participantId, category: session.category,
			settings: session.settings, participants: [...session.participants.keys()] };
	},

	stats: () => session.stats(),

	/**
	 * The dominant frequency of what arrives on `participantId`'s audio track: a WebAudio
	 * AnalyserNode (fed through a MediaStreamAudioSourceNode) read every 50 ms for `ms`
	 * ms, its spectra averaged as power. Resolves {freq, peakDb, medianDb, sampleRate,
	 * reads} (peakDb - medianDb tells how clearly the peak stands out), or {error}.
	 */
	async dominantFrequency(participantId, { ms = 1000, fftSize = 8192, minHz = 50 } = {}) {
		const remote = session && session.remoteStreams.get(participantId);
		const track = remote && remote.getAudioTracks()[0];
		if (!track)
			return { error: `no audio track from ${participantId}` };
		if (!audioContext)
			audioContext = new AudioContext();
		await audioContext.resume();
		// The track also plays in the <audio> element of the "track" handler: without a
		// media element as sink, some Chromium versions never pull a remote WebRTC track
		// into a WebAudio graph.
		const source = audioContext.createMediaStreamSource(new MediaStream([track]));
		const analyser = audioContext.createAnalyser();
		analyser.fftSize = fftSize;
		analyser.smoothingTimeConstant = 0;
		const sink = audioContext.createGain();
		sink.gain.value = 0; // pulled by the destination, heard by nobody
		source.connect(analyser).connect(sink).connect(audioContext.destination);
		const bins = new Float32Array(analyser.frequencyBinCount);
		const power = new Float64Array(bins.length);
		let reads = 0;
		try {
			const end = performance.now() + ms;
			while (performance.now() < end) {
				await new Promise((ok) => setTimeout(ok, 50));
				analyser.getFloatFrequencyData(bins);
				for (let i = 0; i < bins.length; i++)
					if (Number.isFinite(bins[i]))
						power[i] += 10 ** (bins[i] / 10);
				reads += 1;
			}
		} finally {
			source.disconnect();
			analyser.disconnect();
			sink.disconnect();
		}
		const hz = audioContext.sampleRate / fftSize;
		const db = Array.from(power, (p) => (p > 0 ? 10 * Math.log10(p / reads) : -Infinity));
		let peak = Math.ceil(minHz / hz);
		for (let i = peak; i < db.length; i++)
			if (db[i] > db[peak])
				peak = i;
		const sorted = db.slice(Math.ceil(minHz / hz)).sort((a, b) => a - b);
		const finite = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
		return { freq: Math.round(peak * hz * 10) / 10, peakDb: finite(db[peak]),
			medianDb: finite(sorted[sorted.length >> 1]), sampleRate: audioContext.sampleRate,
			reads };
	},
	/**
	 * What `participantId`'s video element shows now: its size and the luma (0..255,
	 * BT.601 weights of the canvas's RGB) at the centres of eight equal columns, one third
	 * down: where libcallwire's test pattern has its colour bars. {error} when there is
	 * no picture yet.
	 */
	videoColumns(participantId) {
		const el = document.querySelector(`video[data-participant="${participantId}"]`);
		if (!el || !el.videoWidth)
			return { error: `no picture from ${participantId}` };
		const canvas = document.createElement("canvas");
		canvas.width = el.videoWidth;
		canvas.height = el.videoHeight;
		const ctx = canvas.getContext("2d", { willReadFrequently: true });
		ctx.drawImage(el, 0, 0);
		const y = Math.floor(canvas.height / 3);
		const luma = [];
		for (let i = 0; i < 8; i++) {
			const [r, g, b] = ctx.getImageData(Math.floor((2 * i + 1) * canvas.width / 16), y, 1, 1).data;
			luma.push(Math.round(0.299 * r + 0.587 * g + 0.114 * b));
		}
		return { width: el.videoWidth, height: el.videoHeight, luma };
	},

	mute: (kind, muted) => session.mute(kind, muted),
	leave: () => session.leave(),

	/** What the session knows now. */
	state() {
		if (!session)
			return { state: "none" };
		return {
			state: session.state,
			participantId: session.participantId,
			participants: [...session.participants.values()].map((p) => ({
				participantId: p.participantId, uid: p.uid, muted: p.muted, videoPaused: p.videoPaused })),
			remote: [...session.remoteStreams].map(([id, s]) => ({ participantId: id,
				tracks: s.getTracks().map((t) => ({ kind: t.kind, readyState: t.readyState })) })),
			connections: { publish: session.publish.connectionState,
				subscribe: session.subscribe.connectionState },
		};
	},
};

document.getElementById("status").textContent = "ready";
