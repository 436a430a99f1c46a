// A tiny static HTTP server on 127.0.0.1 (a secure context for getUserMedia): web/ at
// the root, the test pages of tests/e2e/pages under /test/.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(HERE, "..", "..", "..", "web");
const PAGES = path.resolve(HERE, "..", "pages");

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
	".ico": "image/x-icon" };

function resolve(urlPath) {
	let root = WEB;
	let rel = urlPath;
	if (rel.startsWith("/test/")) {
		root = PAGES;
		rel = rel.slice("/test".length);
	}
	const file = path.resolve(root, "." + path.posix.normalize(rel));
	return file.startsWith(root + path.sep) ? file : null;
}

/** Resolves {url, close()} once the server listens on a free port. */
export function startStaticServer() {
	const server = http.createServer((req, res) => {
		const urlPath = decodeURIComponent(new URL(req.url, "http://x").pathname);
		const file = resolve(urlPath);
		fs.readFile(file || "", (err, data) => {
			if (err || !file) {
				res.writeHead(404, { "Content-Type": "text/plain" });
				res.end("not found\n");
				return;
			}
			res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream",
				"Cache-Control": "no-store" });
			res.end(data);
		});
	});
	return new Promise((ok, fail) => {
		server.on("error", fail);
		server.listen(0, "127.0.0.1", () => ok({
			url: `http://127.0.0.1:${server.address().port}`,
			close: () => new Promise((done) => {
				server.closeAllConnections();
				server.close(() => done());
			}),
		}));
	});
}
