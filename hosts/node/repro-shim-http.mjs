#!/usr/bin/env node
// Minimal reproduction of two preview2-shim Node wasi:http bugs, without any component:
// the shim's wasi:http API called from JS as jco's bindings call it. Needs only
// @bytecodealliance/preview2-shim (here: hosts/node's, patched or not).
//
//     node hosts/node/repro-shim-http.mjs
//
// A local server (in a child process: the shim blocks the main thread while it waits) answers
//   /late   after 3 s of silence,
//   /stall  with its head and half its body, then 3 s of silence, then the rest,
//   /reset  with its head and half its body, then a TCP RST.
// Each case prints what the guest would see, and what wasi:http says it should see.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

import { http } from "@bytecodealliance/preview2-shim";

const { types, outgoingHandler } = http;
const ms = (n) => BigInt(n) * 1_000_000n;

const SERVER = `
const http = require("node:http");
const body = JSON.stringify({ padding: "x".repeat(1000) });
http.createServer((req, res) => {
    req.resume();
    if (req.url === "/late") return setTimeout(() => res.end("late"), 3000);
    res.writeHead(200, { "content-length": body.length });
    res.write(body.slice(0, 500));
    if (req.url === "/reset") return setTimeout(() => res.socket.resetAndDestroy(), 100);
    setTimeout(() => res.end(body.slice(500)), 3000);
}).listen(0, "127.0.0.1", function () { console.log(this.address().port); });
`;

function send(port, path, { connect, firstByte, betweenBytes }) {
    const request = new types.OutgoingRequest(new types.Fields());
    request.setScheme({ tag: "HTTP" });
    request.setAuthority(`127.0.0.1:${port}`);
    request.setPathWithQuery(path);
    types.OutgoingBody.finish(request.body());
    const options = new types.RequestOptions();
    options.setConnectTimeout(ms(connect));
    options.setFirstByteTimeout(ms(firstByte));
    options.setBetweenBytesTimeout(ms(betweenBytes));
    const started = performance.now();
    const future = outgoingHandler.handle(request, options);
    future.subscribe().block();
    const answer = future.get(); // { tag: "ok", val: { tag: "ok", val: response } | { tag: "err", val: error-code } }
    const at = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
    if (answer.val.tag === "err") return `response future: err ${JSON.stringify(answer.val.val)} after ${at()}`;
    const stream = answer.val.val.consume().stream();
    let bytes = 0;
    for (;;) {
        try {
            bytes += stream.blockingRead(65536n).length;
        } catch (error) {
            if (error.tag === "closed") return `status ${answer.val.val.status()}, ${bytes} body bytes after ${at()}`;
            const code = types.httpErrorCode(error.val);
            const shown = code instanceof Error ? `a JS Error (${code.message}), not an error-code` : JSON.stringify(code);
            return `body read failed after ${bytes} bytes at ${at()}; http-error-code returned ${shown}`;
        }
    }
}

const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise((resolve) => createInterface({ input: server.stdout }).once("line", resolve));
const cases = [
    ["/late", { connect: 5000, firstByte: 1000, betweenBytes: 1000 }, "err connection-read-timeout after 1 s"],
    ["/late", { connect: 1000, firstByte: 2000, betweenBytes: 2000 }, "err connection-read-timeout after 2 s"],
    ["/stall", { connect: 5000, firstByte: 5000, betweenBytes: 1000 }, "body read fails after 500 bytes at 1 s; http-error-code returns connection-read-timeout"],
    ["/reset", { connect: 5000, firstByte: 5000, betweenBytes: 5000 }, "body read fails after 500 bytes; http-error-code returns connection-terminated"],
];
for (const [path, timeouts, expected] of cases) {
    console.log(`${path} ${JSON.stringify(timeouts)}\n  expected: ${expected}\n  actual:   ${send(port, path, timeouts)}`);
}
server.kill();
process.exit(0);
