// Debian's Chromium, headless, with a fake camera and microphone, driven by playwright-core.

import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

const ARGS = [
	"--use-fake-device-for-media-stream", // a test pattern and a beep for getUserMedia
	"--use-fake-ui-for-media-stream", // grant the camera and microphone without asking
	"--allow-loopback-in-peer-connection", // ICE with the server on 127.0.0.1
	"--autoplay-policy=no-user-gesture-required", // remote audio plays without a click
	// Several pages run side by side: none of them may be throttled as a background tab.
	"--disable-background-timer-throttling",
	"--disable-renderer-backgrounding",
	"--disable-backgrounding-occluded-windows",
];

function playwright() {
	try {
		return require("playwright-core");
	} catch (err) {
		throw new Error("playwright-core is not installed: run `npm ci --prefix tests/e2e` " +
			"(scripts/install-deps does)");
	}
}

export async function launchChromium() {
	if (!fs.existsSync(CHROMIUM))
		throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/install-deps)`);
	return playwright().chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * One participant: its own browser context and page at the test page. What the page
 * prints to its console is kept in `page.consoleLines`, for failure messages.
 */
export async function openParticipant(browser, webUrl, name) {
	const context = await browser.newContext();
	const page = await context.newPage();
	page.consoleLines = [];
	page.on("console", (m) => page.consoleLines.push(`${name}: ${m.type()}: ${m.text()}`));
	page.on("pageerror", (e) => page.consoleLines.push(`${name}: pageerror: ${e.message}`));
	await page.goto(`${webUrl}/test/participant.html`);
	await page.waitForFunction(() => window.cw !== undefined, null, { timeout: 10000 });
	page.participantName = name;
	page.closeAll = () => context.close();
	return page;
}
