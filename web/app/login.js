// The log-in screen: the server is this page's origin; the app id and the user's uid
// with the app's auth key (development), or an auth token from the app's backend.

import { h } from "./dom.js";

const LAST_APP = "callwire.lastApp";

export function loginScreen(app, { appId, authKey, onLoggedIn }) {
	let remembered = null;
	try {
		remembered = localStorage.getItem(LAST_APP);
	} catch (err) { /* storage disabled */ }
	const error = h("p", { class: "form-error", role: "alert", id: "login-error" });
	const appInput = h("input", { id: "login-app", name: "app", required: true,
		autocomplete: "off", spellcheck: "false", value: appId || remembered || "" });
	const uidInput = h("input", { id: "login-uid", name: "uid", required: true,
		autocomplete: "username", spellcheck: "false", autocapitalize: "none",
		pattern: "[A-Za-z0-9_.@\\-]{1,100}", placeholder: "alice" });
	const secretInput = h("input", { id: "login-secret", name: "secret", type: "password",
		required: true, autocomplete: "off", spellcheck: "false", value: authKey || "" });
	const secretLabel = h("label", { for: "login-secret" }, "Auth key");
	const submit = h("button", { type: "submit", class: "button primary wide" }, "Log in");

	const modeKey = h("input", { type: "radio", name: "mode", id: "mode-key", value: "key",
		checked: true });
	const modeToken = h("input", { type: "radio", name: "mode", id: "mode-token",
		value: "token" });
	const modeChanged = () => {
		const token = modeToken.checked;
		secretLabel.textContent = token ? "Auth token" : "Auth key";
		uidInput.required = !token;
		uidInput.closest(".field").hidden = token;
		secretInput.value = token ? "" : authKey || "";
	};
	modeKey.addEventListener("change", modeChanged);
	modeToken.addEventListener("change", modeChanged);

	const form = h("form", { class: "card login-card", "aria-labelledby": "login-title",
		novalidate: true },
	h("div", { class: "login-brand" }, h("img", { src: "/favicon.svg", alt: "", width: 48, height: 48 }),
		h("h1", { id: "login-title" }, "Log in to callwire")),
	h("p", { class: "muted" }, `Server: ${location.origin}`),
	h("div", { class: "field" }, h("label", { for: "login-app" }, "App ID"), appInput),
	h("fieldset", { class: "segmented" },
		h("legend", {}, "Sign in with"),
		modeKey, h("label", { for: "mode-key" }, "Auth key (development)"),
		modeToken, h("label", { for: "mode-token" }, "Auth token")),
	h("div", { class: "field" }, h("label", { for: "login-uid" }, "User ID"), uidInput),
	h("div", { class: "field" }, secretLabel, secretInput),
	error, submit);

	form.addEventListener("submit", async (e) => {
		e.preventDefault();
		error.textContent = "";
		const token = modeToken.checked;
		const a = appInput.value.trim();
		const uid = uidInput.value.trim();
		const secret = secretInput.value.trim();
		if (!a || (!token && !uid) || !secret) {
			error.textContent = token ? "Enter the app ID and an auth token."
				: "Enter the app ID, a user ID and the auth key.";
			return;
		}
		submit.disabled = true;
		submit.textContent = "Logging in…";
		try {
			if (token)
				await app.client.loginWithToken(secret, a);
			else
				await app.client.loginWithAuthKey(uid, secret, a);
			try {
				localStorage.setItem(LAST_APP, a);
			} catch (err) { /* storage disabled */ }
			onLoggedIn();
		} catch (err) {
			error.textContent = loginError(err);
			submit.disabled = false;
			submit.textContent = "Log in";
		}
	});
	queueMicrotask(() => (appInput.value ? uidInput : appInput).focus());
	return h("section", { class: "screen login" }, form);
}

function loginError(err) {
	switch (err.code) {
	case "ERR_UNAUTHORIZED":
		return "That user ID and key (or token) are not valid for this app.";
	case "ERR_NOT_FOUND":
		return "No such app or user on this server.";
	case "ERR_FORBIDDEN":
		return "This app does not allow logging in with the auth key; use an auth token.";
	case "ERR_BAD_REQUEST":
		return `Check the fields: ${err.message}`;
	case "ERR_NETWORK":
	case "ERR_TIMEOUT":
		return "The server cannot be reached.";
	default:
		return err.message || String(err);
	}
}
