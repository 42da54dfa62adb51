#!/usr/bin/env node
// Runs the same calls through two conformance adapters, each against its own local stand-in,
// and prints where their answers differ. By default: the Node adapter (hosts/node/adapter.mjs)
// against the reference, the Python one (hosts/python/adapter.py).
//
//     node hosts/node/compare.mjs COMPONENT.wasm [--only CASE,...] [--json FILE] [--strict]
//
// Every case is sent to both adapters at once (each has its own stand-in, so names stay unique
// per stand-in and the two see the same sequence of requests). Answers are compared after
// replacing what is random per call or per run: `elapsed-ms`, UUIDs (ids, request ids), issued
// `dit_` tokens, dates and times, `ratelimit-reset`, the stand-in's port. The table shows each
// side's outcome (test-request) or Ok/failure kind (execute) and wall time, and `same` or the
// differing paths. Exit status: 1 when a case differs in anything but its sentences for people
// (`summary`, `message`), 0 otherwise; with --strict, 1 for any difference. The sentences may
// differ where the hosts' HTTP layers word a transport error differently (see README.md).
//
// The API token passed is a made-up `dop_v1_` + 60 hex characters; nothing prints it.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { repoRoot } from "./transpile.mjs";

const TOKEN = "dop_v1_" + randomBytes(30).toString("hex");

/** An adapter process speaking the protocol of docs/conformance.md. */
class Adapter {
    constructor(name, command, args) {
        this.name = name;
        this.process = spawn(command, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
        this.pending = [];
        this.lines = createInterface({ input: this.process.stdout });
        this.ready = new Promise((resolve, reject) => {
            this.pending.push({ resolve, reject });
            this.process.once("exit", (code) => {
                for (const { reject: fail } of this.pending) fail(new Error(`${name} adapter exited (${code})`));
                this.pending = [];
            });
        });
        this.lines.on("line", (line) => this.pending.shift()?.resolve(JSON.parse(line)));
    }

    call(request) {
        return new Promise((resolve, reject) => {
            this.pending.push({ resolve, reject });
            this.process.stdin.write(JSON.stringify(request) + "\n");
        });
    }

    close() {
        this.process.stdin.end();
    }
}

/** A stand-in (standin/standin.py) on a free loopback port. */
function startStandin() {
    const child = spawn("python3", [join(repoRoot, "standin/standin.py"), "--port", "0"], {
        stdio: ["ignore", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.once("line", (line) => {
            const match = /^READY (\S+)/.exec(line);
            if (match) resolve({ url: match[1], stop: () => child.kill("SIGTERM") });
            else reject(new Error(`stand-in said ${line}`));
        });
        child.once("exit", (code) => reject(new Error(`stand-in exited (${code})`)));
    });
}

/** A loopback listener whose accept queue is full: connects hang until they time out. */
function unacceptedPort() {
    const script = `
import socket, sys, time
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(0)
fillers = []
for _ in range(4):
    f = socket.socket(); f.setblocking(False); f.connect_ex(server.getsockname()); fillers.append(f)
time.sleep(0.1)
print(server.getsockname()[1], flush=True)
sys.stdin.read()
`;
    const child = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
    return new Promise((resolve) => {
        createInterface({ input: child.stdout }).once("line", (line) =>
            resolve({ url: `http://127.0.0.1:${line.trim()}`, stop: () => child.stdin.end() }),
        );
    });
}

/** An https server on loopback with a self-signed certificate (made with openssl), or null
 * when openssl is not there. */
function selfSignedServer() {
    const dir = mkdtempSync(join(tmpdir(), "compare-tls-"));
    const made = spawnSync("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    if (made.status !== 0) return Promise.resolve(null);
    const script = `
const https = require("node:https"), fs = require("node:fs");
const options = { key: fs.readFileSync(process.argv[1] + "/key.pem"), cert: fs.readFileSync(process.argv[1] + "/cert.pem") };
https.createServer(options, (req, res) => { req.resume(); res.end("{}"); })
    .listen(0, "127.0.0.1", function () { console.log(this.address().port); });
process.stdin.resume(); process.stdin.on("end", () => process.exit(0));`;
    const child = spawn(process.execPath, ["-e", script, dir], { stdio: ["pipe", "pipe", "inherit"] });
    return new Promise((resolve) => {
        createInterface({ input: child.stdout }).once("line", (line) =>
            resolve({
                url: `https://127.0.0.1:${line.trim()}`,
                stop: () => {
                    child.stdin.end();
                    rmSync(dir, { recursive: true, force: true });
                },
            }),
        );
    });
}

/** A loopback port nothing listens on. */
function closedPort() {
    return new Promise((resolve) => {
        const server = createServer();
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

const definition = JSON.parse(readFileSync(join(repoRoot, "fixtures/definition.json"), "utf8"));
const parameters = JSON.parse(readFileSync(join(repoRoot, "fixtures/parameters.json"), "utf8"));

/**
 * The cases: name, call, and how to build the definition/parameters from the fixture.
 * `fault` is the X-Standin-Fault header; `url` overrides the stand-in's URL.
 */
function cases(refusedUrl, unacceptedUrl, selfSignedUrl) {
    const both = (name, options) => [
        { name: `${name} / test-request`, call: "test-request", ...options },
        { name: `${name} / execute`, call: "execute", ...options },
    ];
    return [
        { name: "describe", call: "describe" },
        { name: "render ok", call: "render" },
        { name: "render err", call: "render", params: { region: "mars1", name: "" } },
        { name: "render bad JSON", call: "render", rawDefinition: "{" },
        ...both("invalid (nothing sent)", { params: { model: { slug: "x", scale: 0, gpu: "gpu-h100x1-80gb" } } }),
        ...both("accepted", {}),
        ...both("429 rate-limit", { fault: "rate-limit" }),
        ...both("500", { fault: "server-error" }),
        ...both("first byte late, read 1 s, connect 5 s", { fault: "slow-first-byte=3000", read: 1, connect: 5 }),
        ...both("first byte late, read 1 s, connect 30 s", { fault: "slow-first-byte=3000", read: 1, connect: 30 }),
        ...both("first byte late 3 s, read 2 s, connect 1 s", { fault: "slow-first-byte=3000", read: 2, connect: 1 }),
        ...both("first byte late, read 5 s (in time)", { fault: "slow-first-byte=1000", read: 5, connect: 5 }),
        ...both("body stall 3 s, read 1 s", { fault: "slow-body=3000", read: 1, connect: 5 }),
        ...both("body stall 1 s, read 5 s (in time)", { fault: "slow-body=1000", read: 5, connect: 5 }),
        ...both("reset", { fault: "reset" }),
        ...both("reset-mid-body", { fault: "reset-mid-body" }),
        ...both("truncated", { fault: "truncated" }),
        ...both("connection refused", { url: refusedUrl }),
        ...both("connect timeout 1 s (full accept queue)", { url: unacceptedUrl, connect: 1 }),
        ...both("https to a plain-HTTP server (TLS handshake fails)", { https: true }),
        // RFC 6761: .invalid never resolves.
        ...both("DNS: a name that does not resolve", { url: "https://does-not-exist.invalid" }),
        ...(selfSignedUrl ? both("https, self-signed certificate", { url: selfSignedUrl }) : []),
        ...both("8 MiB body", { fault: "large=8388608" }),
        ...both("8 MiB body, memory-limit 16 MiB", { fault: "large=8388608", memory: 16 << 20 }),
        ...both("8 MiB body, memory-limit 4 MiB", { fault: "large=8388608", memory: 4 << 20 }),
        { name: "render, memory-limit 1 MiB (below the initial memory)", call: "render", memory: 1 << 20 },
        // The wait is computed from a date with one-second resolution: it moves with the clock.
        ...both("429 Retry-After as a date", { fault: "rate-limit-date", clockDependent: true }),
        ...both("502 HTML", { fault: "html-error" }),
        ...both("not JSON", { fault: "not-json" }),
        ...both("invalid UTF-8", { fault: "invalid-utf8" }),
        // The shim's worker lives as long as the process: the faults must not have broken it.
        ...both("accepted again, after the faults", {}),
    ];
}

let serial = 0;
function request(testCase, baseUrl) {
    const call = { id: ++serial, call: testCase.call };
    if (testCase.memory) call.options = { "memory-limit-bytes": testCase.memory };
    if (testCase.call === "describe") return call;
    const d = structuredClone(definition);
    const base = testCase.https ? baseUrl.replace(/^http:/, "https:") : baseUrl;
    d.httpRequest.url = `${testCase.url ?? base}/v2/dedicated-inferences`;
    if (testCase.fault) d.httpRequest.headers["X-Standin-Fault"] = testCase.fault;
    if (testCase.read) d.readTimeoutSeconds = testCase.read;
    if (testCase.connect) d.connectionTimeoutSeconds = testCase.connect;
    // Names are unique per stand-in: the same name for both adapters, a new one per case.
    const p = { ...structuredClone(parameters), name: `support-llm-${serial}`, ...(testCase.params ?? {}) };
    call.input = {
        definition: testCase.rawDefinition ?? JSON.stringify(d),
        parameters: JSON.stringify(p),
        secrets: [["token", TOKEN]],
    };
    return call;
}

const RANDOM = [
    [/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>"],
    [/\b[0-9a-f]{8}(\.(private\.)?inference\.do-ai\.run)/g, "<id8>$1"],
    [/dit_[0-9a-f]{40}/g, "<dit-token>"],
    [/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "<time>"],
    [/(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g, "<date>"],
    [/(ratelimit-reset\W+(value\W+)?)\d+/g, "$1<reset>"],
    [/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>"],
];

/** The reply with what is random per call replaced, as a JSON value. */
function normalize(reply, testCase = {}) {
    const copy = structuredClone(reply);
    if (testCase.clockDependent) {
        if (copy.ok?.err && "retry-after-ms" in copy.ok.err) copy.ok.err["retry-after-ms"] = "<ms>";
        const text = JSON.stringify(copy).replace(/retry after [\d.]+ s/g, "retry after <s>");
        return normalize(JSON.parse(text));
    }
    delete copy.id;
    // What a host reports for a trap is its own: only that it trapped must agree.
    if (copy.trap !== undefined) copy.trap = "<trap>";
    if (copy.ok && typeof copy.ok === "object" && "elapsed-ms" in copy.ok) copy.ok["elapsed-ms"] = 0;
    let text = JSON.stringify(copy);
    for (const [pattern, replacement] of RANDOM) text = text.replace(pattern, replacement);
    const value = JSON.parse(text);
    // Step outputs are JSON inside a string: compare them as values.
    if (value.ok?.ok && typeof value.ok.ok === "string") value.ok.ok = parseOr(value.ok.ok);
    if (value.ok?.err?.response) value.ok.err.response = parseOr(value.ok.err.response);
    return value;
}

function parseOr(text) {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

function differences(a, b, path = "", out = []) {
    if (out.length >= 6) return out;
    if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || a === null || b === null) {
        if (a !== b) out.push(path || "(reply)");
        return out;
    }
    if (typeof a !== "object") {
        if (a !== b) out.push(path || "(value)");
        return out;
    }
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) differences(a[key], b[key], Array.isArray(a) ? `${path}[${key}]` : path ? `${path}.${key}` : key, out);
    return out;
}

/** One word for a reply: outcome, ok/failure kind, or trap. */
function brief(reply) {
    if (reply.trap !== undefined) return `TRAP`;
    if (reply.error !== undefined) return `error`;
    const ok = reply.ok;
    if (ok?.outcome) return ok.outcome;
    if (ok && "ok" in ok) return typeof ok.ok === "string" ? "Ok" : "ok";
    if (ok && "err" in ok) return Array.isArray(ok.err) ? "err" : `err ${ok.err.kind}`;
    return "ok";
}

/** What the editor or engine would read: the summary or message, shortened. */
function message(reply) {
    const text = reply.trap ?? reply.error ?? reply.ok?.summary ?? reply.ok?.err?.message ?? "";
    return String(text);
}

async function main(argv) {
    const wasm = argv.find((a) => !a.startsWith("--"));
    if (!wasm) {
        process.stderr.write("usage: node hosts/node/compare.mjs COMPONENT.wasm [--only CASE,...] [--json FILE] [--strict]\n");
        return 2;
    }
    const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1].split(",") : null;
    const strict = argv.includes("--strict");
    const jsonOut = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : null;
    const [standinA, standinB] = await Promise.all([startStandin(), startStandin()]);
    const refusedUrl = `http://127.0.0.1:${await closedPort()}`;
    const unaccepted = await unacceptedPort();
    const selfSigned = await selfSignedServer();
    const reference = new Adapter("python", join(repoRoot, ".venv/bin/python"), ["hosts/python/adapter.py", wasm]);
    const node = new Adapter("node", process.execPath, ["hosts/node/adapter.mjs", wasm]);
    const [readyA, readyB] = await Promise.all([reference.ready, node.ready]);
    const rows = [];
    try {
        for (const testCase of cases(refusedUrl, unaccepted.url, selfSigned?.url)) {
            if (only && !only.some((o) => testCase.name.includes(o))) continue;
            const before = serial;
            const requestA = request(testCase, standinA.url);
            serial = before;
            const requestB = request(testCase, standinB.url);
            const timed = async (adapter, req) => {
                const started = performance.now();
                const reply = await adapter.call(req);
                return { reply, ms: performance.now() - started };
            };
            const [a, b] = await Promise.all([timed(reference, requestA), timed(node, requestB)]);
            const diff = differences(normalize(a.reply, testCase), normalize(b.reply, testCase));
            rows.push({ case: testCase.name, reference: a, node: b, diff });
            const mark = diff.length ? `DIFF ${diff.join(", ")}` : "same";
            process.stderr.write(`${testCase.name}: ${brief(a.reply)} / ${brief(b.reply)}: ${mark}\n`);
        }
    } finally {
        reference.close();
        node.close();
        standinA.stop();
        standinB.stop();
        unaccepted.stop();
        selfSigned?.stop();
    }
    const pad = (s, n) => String(s).padEnd(n);
    const width = Math.max(...rows.map((r) => r.case.length));
    console.log(`reference: ${readyA.host}\nnode:      ${readyB.host}\n`);
    console.log(`| ${pad("case", width)} | python | ms | node | ms | answers |`);
    console.log(`|${"-".repeat(width + 2)}|---|--:|---|--:|---|`);
    for (const r of rows) {
        const verdict = r.diff.length ? `differ: ${r.diff.join(", ")}` : "same";
        console.log(
            `| ${pad(r.case, width)} | ${brief(r.reference.reply)} | ${r.reference.ms.toFixed(0)} | ${brief(r.node.reply)} | ${r.node.ms.toFixed(0)} | ${verdict} |`,
        );
    }
    const differing = rows.filter((r) => r.diff.length);
    for (const r of differing) {
        console.log(`\n${r.case}\n  python: ${message(r.reference.reply)}\n  node:   ${message(r.node.reply)}`);
    }
    if (jsonOut) {
        const strip = (x) => ({ ms: Math.round(x.ms), reply: normalize(x.reply) });
        const data = rows.map((r) => ({ case: r.case, diff: r.diff, python: strip(r.reference), node: strip(r.node) }));
        writeFileSync(jsonOut, JSON.stringify({ reference: readyA.host, node: readyB.host, rows: data }, null, 1) + "\n");
    }
    const wording = /(^|\.)(summary|message)$/;
    const material = differing.filter((r) => r.diff.some((path) => !wording.test(path)));
    console.log(`\n${rows.length} cases: ${rows.length - differing.length} the same, ${differing.length - material.length} differ in wording only, ${material.length} differ in substance`);
    return (strict ? differing : material).length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
