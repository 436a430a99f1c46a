// Small DOM helpers of the browser client: elements without innerHTML (names and ids
// from the server are text, never markup), icons, avatars, formatting, toasts.

const SVG = "http://www.w3.org/2000/svg";

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "Call"}, "text", child…):
 * attributes starting with "on" are listeners; `false`/null attributes are left out;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
	const el = document.createElement(tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

function setAttrs(el, attrs) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith("on") && typeof v === "function")
			el.addEventListener(k.slice(2), v);
		else if (k === "dataset")
			Object.assign(el.dataset, v);
		else if (v === true)
			el.setAttribute(k, "");
		else
			el.setAttribute(k, String(v));
	}
}

function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false)
			continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

const ICONS = {
	phone: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
	video: "M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11z",
	videoOff: "M21 6.5l-4 4V7a1 1 0 0 0-1-1H9.8L21 17.2zM3.3 2 2 3.3 4.7 6H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12c.2 0 .4-.1.5-.2l3.2 3.2 1.3-1.3z",
	mic: "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5.3-3a5.3 5.3 0 0 1-10.6 0H5c0 3.4 2.7 6.2 6 6.7V21h2v-3.3c3.3-.5 6-3.3 6-6.7z",
	micOff: "M19 11h-1.7c0 .7-.2 1.4-.4 2l1.2 1.2c.6-1 .9-2 .9-3.2zm-4 .2V5a3 3 0 0 0-5.9-.7zM4.3 3 3 4.3l6 6V11a3 3 0 0 0 4.5 2.6l1.6 1.6A5.3 5.3 0 0 1 6.7 11H5c0 3.4 2.7 6.2 6 6.7V21h2v-3.3c.9-.1 1.8-.5 2.5-.9l4.2 4.2L21 19.7z",
	hangup: "M12 9c-1.6 0-3.1.25-4.5.72v3.1c0 .39-.23.74-.56.9a10.9 10.9 0 0 0-2.66 1.85.99.99 0 0 1-1.41 0L.29 13.08a.96.96 0 0 1 0-1.36C3.34 8.78 7.46 7 12 7s8.66 1.78 11.71 4.72c.37.37.37.98 0 1.36l-2.48 2.49a.99.99 0 0 1-1.41 0 11.2 11.2 0 0 0-2.67-1.85.99.99 0 0 1-.56-.9v-3.1C15.15 9.25 13.6 9 12 9z",
	incoming: "M20 5.4 18.6 4 7 15.6V9H5v10h10v-2H8.4z",
	outgoing: "M9 5v2h6.6L4 18.6 5.4 20 17 8.4V15h2V5z",
	link: "M3.9 12a3.1 3.1 0 0 1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7A3.1 3.1 0 0 1 3.9 12zM8 13h8v-2H8zm9-6h-4v1.9h4a3.1 3.1 0 1 1 0 6.2h-4V17h4a5 5 0 0 0 0-10z",
	group: "M16 11a3 3 0 1 0-3-3 3 3 0 0 0 3 3zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3zm0 2c-2.3 0-7 1.2-7 3.5V19h14v-2.5C15 14.2 10.3 13 8 13zm8 0c-.3 0-.6 0-1 .1a4.2 4.2 0 0 1 2 3.4V19h6v-2.5c0-2.3-4.7-3.5-7-3.5z",
	back: "M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z",
	logout: "M10 17l1.4-1.4-2.6-2.6H20v-2H8.8l2.6-2.6L10 7l-5 5zM4 5h8V3H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h8v-2H4z",
};

/** An inline SVG icon, hidden from assistive technology (the button carries the label). */
export function icon(name, cls = "icon") {
	const svg = document.createElementNS(SVG, "svg");
	svg.setAttribute("viewBox", "0 0 24 24");
	svg.setAttribute("class", cls);
	svg.setAttribute("aria-hidden", "true");
	svg.setAttribute("focusable", "false");
	const path = document.createElementNS(SVG, "path");
	path.setAttribute("d", ICONS[name] || "");
	svg.append(path);
	return svg;
}

const HUES = [200, 160, 280, 20, 330, 100, 240, 40];

/** A round avatar: the user's picture, or initials on a colour derived from the uid. */
export function avatar(user, size = "md") {
	const name = (user && (user.name || user.uid)) || "?";
	const uid = (user && user.uid) || name;
	let hash = 0;
	for (const ch of uid)
		hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
	const el = h("span", { class: `avatar avatar-${size} hue-${hash % HUES.length}`,
		"aria-hidden": "true" });
	if (user && user.avatar && /^https?:\/\//.test(user.avatar)) {
		const img = h("img", { src: user.avatar, alt: "" });
		img.addEventListener("error", () => img.replaceWith(initials(name)));
		el.append(img);
	} else {
		el.append(initials(name));
	}
	return el;
}

function initials(name) {
	const parts = String(name).trim().split(/\s+/).filter(Boolean);
	const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
	return letters.toUpperCase();
}

/** 65 → "1:05", 3725 → "1:02:05". */
export function fmtDuration(seconds) {
	const s = Math.max(0, Math.floor(Number(seconds) || 0));
	const hh = Math.floor(s / 3600);
	const mm = Math.floor((s % 3600) / 60);
	const ss = String(s % 60).padStart(2, "0");
	return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** A call time: "14:03" today, "Yesterday 14:03", else "Mon 3 Nov 14:03". */
export function fmtWhen(ms) {
	if (!ms)
		return "";
	const d = new Date(ms);
	const now = new Date();
	const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
	const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
	const diff = Math.round((day(now) - day(d)) / 86400000);
	if (diff === 0)
		return time;
	if (diff === 1)
		return `Yesterday ${time}`;
	return `${d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })} ${time}`;
}

/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(text, kind = "info", ms = 6000) {
	const root = document.getElementById("toasts");
	const el = h("div", { class: `toast toast-${kind}` }, text);
	root.append(el);
	setTimeout(() => el.remove(), ms);
	return el;
}
