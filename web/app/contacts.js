// The contacts screen: the app's users with audio and video call buttons, the user's
// groups (group calls), and meetings by link.

import { CallView } from "./call.js";
import { avatar, h, icon, replace, toast } from "./dom.js";

const MAX_PAGES = 20; // 2,000 users: a directory past that wants a search box on the server

export function contactsScreen(app) {
	const people = h("ul", { class: "list", id: "contacts-list", "aria-label": "Contacts" },
		h("li", { class: "empty" }, "Loading contacts…"));
	const groups = h("ul", { class: "list", id: "groups-list", "aria-label": "Groups" });
	const groupsSection = h("section", { class: "card", "aria-labelledby": "groups-title",
		hidden: true }, h("h2", { id: "groups-title" }, "Groups"), groups);
	const filter = h("input", { type: "search", class: "search", placeholder: "Search contacts",
		"aria-label": "Search contacts", autocomplete: "off" });
	const meetInput = h("input", { id: "meet-id", placeholder: "meeting-id",
		"aria-label": "Meeting ID", pattern: "[A-Za-z0-9_\\-]{1,64}", autocomplete: "off" });

	filter.addEventListener("input", () => {
		const q = filter.value.trim().toLowerCase();
		for (const li of people.querySelectorAll("li[data-uid]"))
			li.hidden = q !== "" && !li.dataset.search.includes(q);
	});

	const call = (receiver, receiverType, type) => CallView.outgoing(app, receiver, receiverType, type);

	load(app, people, groups, groupsSection, call);

	const newMeeting = () => {
		const id = `meet-${randomId()}`;
		app.navigate(`#/meet/${id}`);
	};
	const joinMeeting = (e) => {
		e.preventDefault();
		const id = meetInput.value.trim();
		if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
			toast("A meeting ID is 1 to 64 letters, digits, _ or -", "error");
			meetInput.focus();
			return;
		}
		app.navigate(`#/meet/${id}`);
	};

	return h("section", { class: "screen contacts" },
		h("div", { class: "screen-head" }, h("h1", {}, "Contacts"), filter),
		h("section", { class: "card", "aria-labelledby": "people-title" },
			h("h2", { id: "people-title", class: "visually-hidden" }, "People"), people),
		groupsSection,
		h("section", { class: "card meet-card", "aria-labelledby": "meet-title" },
			h("h2", { id: "meet-title" }, "Meetings"),
			h("p", { class: "muted" }, "Start a meeting and share its link, or join one by its ID."),
			h("div", { class: "row" },
				h("button", { type: "button", class: "button primary", onclick: newMeeting },
					icon("link"), "New meeting"),
				h("form", { class: "row join-form", onsubmit: joinMeeting }, meetInput,
					h("button", { type: "submit", class: "button" }, "Join")))));
}

async function load(app, people, groups, groupsSection, call) {
	const me = app.client.user.uid;
	let users = [];
	try {
		let cursor = null;
		for (let i = 0; i < MAX_PAGES; i++) {
			const page = await app.client.fetchUsers({ limit: 100, cursor });
			users = users.concat(page.data);
			if (!page.next)
				break;
			cursor = page.next;
		}
	} catch (err) {
		replace(people, h("li", { class: "empty error" }, `Could not load the contacts: ${err.message}`));
		return;
	}
	users = users.filter((u) => u.uid !== me);
	users.sort((a, b) => (a.name || a.uid).localeCompare(b.name || b.uid));
	replace(people, users.length ? users.map((u) => contactRow(u, call))
		: h("li", { class: "empty" }, "Nobody else is in this app yet."));

	try {
		const page = await app.client.fetchGroups({ limit: 100 });
		if (page.data.length) {
			replace(groups, page.data.map((g) => groupRow(g, call)));
			groupsSection.hidden = false;
		}
	} catch (err) {
		// Groups are optional: without them the screen still works.
	}
}

function callButtons(label, onAudio, onVideo) {
	return h("div", { class: "call-buttons" },
		h("button", { type: "button", class: "icon-button call-audio",
			"aria-label": `Audio call ${label}`, title: `Audio call ${label}`, onclick: onAudio },
		icon("phone")),
		h("button", { type: "button", class: "icon-button call-video",
			"aria-label": `Video call ${label}`, title: `Video call ${label}`, onclick: onVideo },
		icon("video")));
}

function contactRow(user, call) {
	const name = user.name || user.uid;
	return h("li", { class: "row-item", dataset: { uid: user.uid,
		search: `${name} ${user.uid}`.toLowerCase() } },
	avatar(user),
	h("div", { class: "grow" }, h("div", { class: "title" }, name),
		h("div", { class: "muted small" }, `@${user.uid}`)),
	callButtons(name, () => call(user, "user", "audio"), () => call(user, "user", "video")));
}

function groupRow(group, call) {
	const n = (group.members || []).length;
	return h("li", { class: "row-item", dataset: { guid: group.guid } },
		h("span", { class: "avatar avatar-md group-avatar", "aria-hidden": "true" }, icon("group")),
		h("div", { class: "grow" }, h("div", { class: "title" }, group.name || group.guid),
			h("div", { class: "muted small" }, `${n} member${n === 1 ? "" : "s"}`)),
		callButtons(group.name || group.guid, () => call(group, "group", "audio"),
			() => call(group, "group", "video")));
}

function randomId() {
	const bytes = crypto.getRandomValues(new Uint8Array(6));
	return Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("").slice(0, 10);
}
