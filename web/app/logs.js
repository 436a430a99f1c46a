// The call log: newest first, filtered by type, status and direction, loaded page by
// page (the server's keyset cursor) as the list scrolls; and one call's details.

import { CallView } from "./call.js";
import { avatar, fmtDuration, fmtWhen, h, icon, replace } from "./dom.js";

const PAGE = 20;
const STATUS_TEXT = { initiated: "Ringing", ongoing: "Ongoing", ended: "Ended",
	rejected: "Declined", cancelled: "Cancelled", busy: "Busy", unanswered: "Unanswered" };
const STATE_TEXT = { ringing: "Ringing", ongoing: "In the call", left: "Left",
	rejected: "Declined", busy: "Busy", unanswered: "Did not answer", cancelled: "Cancelled" };

const filters = { type: "", status: "", direction: "" }; // kept while the page lives

function select(id, label, key, options, onChange) {
	const el = h("select", { id, "aria-label": label },
		options.map(([value, text]) => h("option", { value, selected: filters[key] === value }, text)));
	el.addEventListener("change", () => {
		filters[key] = el.value;
		onChange();
	});
	return el;
}

/* The other side of a call, from `me`'s point of view. */
function counterpart(call, me) {
	if (call.category === "meet")
		return { name: `Meeting ${call.receiver.uid || call.receiver.guid || call.sessionId}`, meet: true };
	if (call.receiverType === "group")
		return { name: call.receiver.name || call.receiver.guid, group: true };
	return call.initiator.uid === me ? call.receiver : call.initiator;
}

function missed(call, me) {
	return call.initiator.uid !== me && ["unanswered", "cancelled"].includes(call.status);
}

export function logsScreen(app) {
	const me = app.client.user.uid;
	const list = h("ul", { class: "list logs", id: "call-logs", "aria-label": "Calls",
		"aria-busy": "true" });
	const more = h("button", { type: "button", class: "button load-more", hidden: true }, "Load more");
	const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
	const note = h("p", { class: "muted center", role: "status" });
	let request = null;
	let loading = false;
	let generation = 0;

	const load = async () => {
		if (loading || !request || !request.hasMore)
			return;
		loading = true;
		list.setAttribute("aria-busy", "true");
		const gen = generation;
		try {
			const calls = await request.fetchNext();
			if (gen !== generation)
				return;
			for (const call of calls)
				list.append(row(call));
			note.textContent = list.children.length ? "" : "No calls yet.";
			more.hidden = !request.hasMore;
		} catch (err) {
			if (gen === generation)
				note.textContent = `Could not load the calls: ${err.message}`;
		} finally {
			if (gen === generation) {
				loading = false;
				list.setAttribute("aria-busy", "false");
				// Still room on screen: the next page without waiting for a scroll.
				if (request.hasMore && sentinel.getBoundingClientRect().top < window.innerHeight + 200)
					load();
			}
		}
	};

	const reset = () => {
		generation += 1;
		loading = false;
		list.replaceChildren();
		note.textContent = "Loading…";
		request = app.client.callLogRequest({ limit: PAGE, type: filters.type || undefined,
			status: filters.status || undefined, direction: filters.direction || undefined });
		load();
	};

	const row = (call) => {
		const other = counterpart(call, me);
		const outgoing = call.initiator.uid === me;
		const miss = missed(call, me);
		const status = miss ? "Missed" : STATUS_TEXT[call.status] || call.status;
		const dur = call.duration > 0 ? fmtDuration(call.duration) : "";
		const label = `${outgoing ? "Outgoing" : "Incoming"} ${call.type} call ` +
			`${outgoing ? "to" : "from"} ${other.name || other.uid}, ${status}` +
			`${dur ? `, ${dur}` : ""}, ${fmtWhen(call.initiatedAt)}`;
		return h("li", { dataset: { sessionId: call.sessionId, status: call.status, type: call.type,
			direction: outgoing ? "outgoing" : "incoming" } },
		h("a", { class: `row-item log-row${miss ? " missed" : ""}`, href: `#/logs/${encodeURIComponent(call.sessionId)}`,
			"aria-label": label },
		other.group || other.meet ? h("span", { class: "avatar avatar-md group-avatar", "aria-hidden": "true" },
			icon(other.meet ? "link" : "group")) : avatar(other),
		h("div", { class: "grow" },
			h("div", { class: "title" }, other.name || other.uid),
			h("div", { class: "muted small meta" },
				icon(outgoing ? "outgoing" : "incoming", "icon tiny"),
				icon(call.type === "video" ? "video" : "phone", "icon tiny"),
				h("span", { class: "log-status" }, status),
				dur && h("span", { class: "log-duration" }, dur))),
		h("time", { class: "muted small", datetime: new Date(call.initiatedAt).toISOString() },
			fmtWhen(call.initiatedAt))));
	};

	const observer = new IntersectionObserver((entries) => {
		if (entries.some((e) => e.isIntersecting))
			load();
	}, { rootMargin: "200px" });
	observer.observe(sentinel);
	more.addEventListener("click", load);
	app.cleanup = () => {
		generation += 1;
		observer.disconnect();
	};
	queueMicrotask(reset);

	return h("section", { class: "screen logs-screen" },
		h("div", { class: "screen-head" }, h("h1", {}, "Calls"),
			h("div", { class: "filters", role: "group", "aria-label": "Filters" },
				select("filter-type", "Call type", "type",
					[["", "All types"], ["audio", "Audio"], ["video", "Video"]], reset),
				select("filter-status", "Status", "status",
					[["", "Any status"], ["ended", "Ended"], ["ongoing", "Ongoing"],
						["rejected", "Declined"], ["cancelled", "Cancelled"], ["busy", "Busy"],
						["unanswered", "Unanswered"]], reset),
				select("filter-direction", "Direction", "direction",
					[["", "In and out"], ["incoming", "Incoming"], ["outgoing", "Outgoing"]], reset))),
		h("div", { class: "card" }, list, note, more, sentinel));
}

export function logDetailScreen(app, sessionId) {
	const me = app.client.user.uid;
	const body = h("div", { class: "card detail", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
	(async () => {
		let call;
		try {
			call = await app.client.getCall(sessionId);
		} catch (err) {
			replace(body, h("p", { class: "form-error", role: "alert" },
				err.code === "ERR_NOT_FOUND" ? "There is no such call in your log." : `Could not load the call: ${err.message}`));
			body.setAttribute("aria-busy", "false");
			return;
		}
		const names = await Promise.all(call.participants.map((p) => app.nameOf(p.uid)));
		const other = counterpart(call, me);
		const outgoing = call.initiator.uid === me;
		const status = missed(call, me) ? "Missed" : STATUS_TEXT[call.status] || call.status;
		const again = (type) => {
			if (other.meet)
				app.navigate(`#/meet/${encodeURIComponent(call.receiver.uid || call.sessionId)}`);
			else
				CallView.outgoing(app, other.group ? { guid: call.receiver.guid, name: call.receiver.name }
					: other, other.group ? "group" : "user", type);
		};
		const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
		replace(body,
			h("div", { class: "detail-head" },
				other.group || other.meet ? h("span", { class: "avatar avatar-lg group-avatar", "aria-hidden": "true" },
					icon(other.meet ? "link" : "group")) : avatar(other, "lg"),
				h("div", { class: "grow" }, h("h2", {}, other.name || other.uid),
					h("p", { class: "muted" }, `${outgoing ? "Outgoing" : "Incoming"} ${call.type} call`))),
			h("dl", { class: "facts", dataset: { status: call.status } },
				fact("Status", h("span", { class: "log-status" }, status)),
				fact("Started", fmtWhen(call.initiatedAt)),
				fact("Answered", call.joinedAt ? fmtWhen(call.joinedAt) : "—"),
				fact("Ended", call.endedAt ? fmtWhen(call.endedAt) : "—"),
				fact("Duration", h("span", { class: "log-duration" }, fmtDuration(call.duration)))),
			h("h3", {}, "Participants"),
			h("table", { class: "participants" },
				h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "State"),
					h("th", { scope: "col" }, "Joined"), h("th", { scope: "col" }, "Left"),
					h("th", { scope: "col" }, "Time in call"))),
				h("tbody", {}, call.participants.map((p, i) => h("tr", { dataset: { uid: p.uid } },
					h("th", { scope: "row" }, p.uid === me ? `${names[i]} (you)` : names[i]),
					h("td", {}, STATE_TEXT[p.state] || p.state),
					h("td", {}, p.joinedAt ? fmtWhen(p.joinedAt) : "—"),
					h("td", {}, p.leftAt ? fmtWhen(p.leftAt) : "—"),
					h("td", {}, fmtDuration(p.duration)))))),
			h("div", { class: "row actions" },
				other.meet ? h("button", { type: "button", class: "button primary", onclick: () => again("video") },
					icon("link"), "Join again")
					: [h("button", { type: "button", class: "button", onclick: () => again("audio") },
						icon("phone"), "Audio call"),
					h("button", { type: "button", class: "button primary", onclick: () => again("video") },
						icon("video"), "Video call")]));
		body.setAttribute("aria-busy", "false");
	})();
	return h("section", { class: "screen detail-screen" },
		h("div", { class: "screen-head" },
			h("a", { href: "#/logs", class: "icon-button", "aria-label": "Back to calls" }, icon("back")),
			h("h1", {}, "Call details")),
		body);
}
