// The browser client: log in, contacts, call logs, ringing and calls. The call listener
// lives here, at the top, so an incoming call shows over whatever screen is open.
//
// Routes (the hash): #/login?app=…&authKey=…, #/contacts, #/logs, #/logs/<sessionId>,
// #/meet/<sessionId>. A call (outgoing, ongoing, meeting) is a layer over the screens.

import { CallwireClient } from "../callwire.js";
import { CallView, joinMeetingScreen } from "./call.js";
import { contactsScreen } from "./contacts.js";
import { h, icon, avatar, replace, toast } from "./dom.js";
import { IncomingDialog } from "./incoming.js";
import { loginScreen } from "./login.js";
import { logDetailScreen, logsScreen } from "./logs.js";

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const app = {
	client: new CallwireClient(),
	/** The CallView on screen (a call or a meeting), or null. */
	call: null,
	incoming: null,
	/** The route to open after logging in (a meeting link opened while logged out). */
	afterLogin: null,
	/** Cleans up the current screen (observers, timers) before the next one. */
	cleanup: null,
	navigate(hash) {
		if (location.hash === hash)
			route();
		else
			location.hash = hash;
	},
	/** A user's display name (from the directory), or the uid. */
	async nameOf(uid) {
		try {
			const u = await this.client.getUser(uid);
			return (u && u.name) || uid;
		} catch (err) {
			return uid;
		}
	},
	route: () => route(),
};

function parseHash() {
	const raw = location.hash.replace(/^#\/?/, "");
	const [pathPart, queryPart = ""] = raw.split("?");
	const path = pathPart.split("/").filter(Boolean).map((s) => {
		try {
			return decodeURIComponent(s);
		} catch (err) {
			return s;
		}
	});
	return { path, query: new URLSearchParams(queryPart) };
}

/* Cleans up the screen on display, then builds the next one with `build()` (which may
 * set app.cleanup) and shows it. */
function show(build, title) {
	if (app.cleanup) {
		try {
			app.cleanup();
		} catch (err) { /* a screen that failed to clean up must not block the next */ }
		app.cleanup = null;
	}
	const main = document.getElementById("screen");
	replace(main, build());
	document.title = title ? `${title} · callwire` : "callwire";
	renderTopbar();
}

async function route() {
	const { path, query } = parseHash();
	const client = app.client;
	if (!client.user) {
		if (path[0] !== "login" && location.hash && location.hash !== "#/")
			app.afterLogin = location.hash;
		show(() => loginScreen(app, { appId: query.get("app"), authKey: query.get("authKey"),
			onLoggedIn: loggedIn }), "Log in");
		return;
	}
	switch (path[0]) {
	case "logs":
		if (path[1])
			show(() => logDetailScreen(app, path[1]), "Call details");
		else
			show(() => logsScreen(app), "Calls");
		break;
	case "meet":
		if (!SESSION_ID.test(path[1] || "")) {
			toast("That meeting link is not valid", "error");
			app.navigate("#/contacts");
			break;
		}
		if (app.call && app.call.sessionId === path[1])
			break;
		show(() => joinMeetingScreen(app, path[1]), `Meeting ${path[1]}`);
		break;
	case "contacts":
		show(() => contactsScreen(app), "Contacts");
		break;
	default:
		app.navigate("#/contacts");
		break;
	}
}

const CONNECTION_TEXT = { connected: "Online", connecting: "Connecting…",
	reconnecting: "Reconnecting…", disconnected: "Offline" };

function renderTopbar() {
	const bar = document.getElementById("topbar");
	const user = app.client.user;
	bar.hidden = !user;
	if (!user)
		return;
	const { path } = parseHash();
	const link = (hash, label, active) => h("a", { href: hash, class: "nav-link",
		"aria-current": active ? "page" : false }, label);
	const state = app.client.getConnectionState();
	replace(bar,
		h("a", { href: "#/contacts", class: "brand", "aria-label": "callwire home" },
			h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }), h("span", {}, "callwire")),
		h("nav", { "aria-label": "Main" },
			link("#/contacts", "Contacts", path[0] === "contacts" || !path[0]),
			link("#/logs", "Calls", path[0] === "logs")),
		h("div", { class: "me" },
			h("span", { class: `conn conn-${state}`, id: "conn-state", role: "status",
				title: "Connection to the server" }, CONNECTION_TEXT[state] || state),
			avatar(user, "sm"),
			h("span", { class: "me-name" }, user.name || user.uid),
			h("button", { class: "icon-button", type: "button", "aria-label": "Log out",
				title: "Log out", onclick: logout }, icon("logout"))));
}

function updateConnection() {
	const el = document.getElementById("conn-state");
	const state = app.client.getConnectionState();
	if (el) {
		el.className = `conn conn-${state}`;
		el.textContent = CONNECTION_TEXT[state] || state;
	}
	if (app.call)
		app.call.connectionChanged();
}

async function logout() {
	if (app.call)
		await app.call.hangUp();
	try {
		await app.client.logout();
	} catch (err) {
		// Logged out here anyway; the token may stay valid until it expires.
	}
	location.hash = "#/login";
	route();
}

/* The top-level listeners: every call event reaches the incoming dialog or the call. */
function listen() {
	const client = app.client;
	const forCall = (fn) => (call, ...rest) => {
		if (app.call && app.call.sessionId === call.sessionId)
			fn(app.call, call, ...rest);
	};
	client.addCallListener("app", {
		incomingCallReceived: (call) => app.incoming.ring(call),
		incomingCallCancelled: (call) => app.incoming.stop(call,
			call.status === "cancelled" ? "The caller hung up" : "Missed call"),
		acceptedElsewhere: (call) => {
			app.incoming.stop(call, "Answered on another device");
			if (app.call && app.call.sessionId === call.sessionId)
				app.call.close("Answered on another device");
		},
		rejectedElsewhere: (call) => app.incoming.stop(call, "Declined on another device"),
		outgoingCallAccepted: forCall((v, call) => v.accepted(call)),
		outgoingCallRejected: forCall((v, call) => v.rejected(call)),
		outgoingCallCancelled: forCall((v) => v.close("Call cancelled")),
		callEnded: (call) => {
			app.incoming.stop(call, null);
			if (app.call && app.call.sessionId === call.sessionId)
				app.call.ended(call);
		},
		// Group members come and go on screen through the media session's own events.
	});
	client.addConnectionListener("app", {
		connected: updateConnection,
		disconnected: (err) => {
			updateConnection();
			if (err && err.code === "ERR_UNAUTHORIZED") {
				toast("You were logged out: the login is no longer valid", "error");
				if (app.call)
					app.call.close(null);
				location.hash = "#/login";
				route();
			}
		},
		reconnecting: updateConnection,
		reconnected: (resumed) => {
			updateConnection();
			if (!resumed)
				resync();
		},
	});
}

/* After a reload or a long disconnection: pick up the user's call as it stands. */
async function resync() {
	let call;
	try {
		call = await app.client.getActiveCall();
	} catch (err) {
		return;
	}
	const me = app.client.user && app.client.user.uid;
	if (!call || app.call)
		return;
	const mine = (call.participants || []).find((p) => p.uid === me);
	if (call.status === "initiated" && call.initiator.uid !== me && mine && mine.state === "ringing")
		app.incoming.ring(call);
	else if (call.status === "initiated" && call.initiator.uid === me)
		CallView.resumeOutgoing(app, call);
	else if (call.status === "ongoing" && mine && mine.state === "ongoing")
		CallView.accepted(app, call);
}

async function loggedIn() {
	renderTopbar();
	const target = app.afterLogin;
	app.afterLogin = null;
	location.hash = target || "#/contacts";
	route();
	resync();
}

async function start() {
	app.incoming = new IncomingDialog(app);
	listen();
	window.addEventListener("hashchange", route);
	const { path, query } = parseHash();
	// A login link names its app; a kept login of another app is not restored for it.
	if (path[0] === "login" && query.get("app"))
		app.client.appId = query.get("app");
	try {
		if (await app.client.restoreLogin()) {
			if (path[0] === "login")
				location.hash = "#/contacts";
			resync();
		}
	} catch (err) {
		if (err.code === "ERR_NETWORK" || err.code === "ERR_TIMEOUT")
			toast("The server cannot be reached", "error");
	}
	route();
}

start();
