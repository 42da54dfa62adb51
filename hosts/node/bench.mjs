#!/usr/bin/env node
// The Node host's figures in one run, printed as JSON on stdout:
//
//     node hosts/node/bench.mjs COMPONENT.wasm [URL] [--pairs N] [--quick]
//
// URL is a running stand-in (standin/standin.py); without it one is started on a free port.
//
// - load: transpiling (into a scratch cache, so always a real transpile), importing the
//   build and compiling its core modules, as an engine does once per process; the first
//   instantiation (V8 compiles the wiring code lazily) is reported on its own.
// - instantiate: `instantiate()` per call (a fresh instance, as an engine runs each step).
// - calls: `execute` and `testRequest`, each on a fresh instance, against the stand-in,
//   interleaved with a direct POST of the same request from Node (`http.request`, a new
//   connection each: agent false): execute, direct, testRequest, direct, then a direct POST
//   over a keep-alive agent. The last one is there because preview2-shim's worker sends through
//   a keep-alive agent, so the component's requests reuse connections where the stand-in keeps
//   them (HTTP/1.1): the fair per-call overhead is against that one.
// - Every POST creates an inference with a unique name of one length (so one body size) and
//   must be answered 202; `failures` counts those that were not.
//
// Medians and p99 in milliseconds; ratios are of medians (p50) and of p99s.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { TaskHost, hostName } from "./host.mjs";
import { repoRoot, transpileCached } from "./transpile.mjs";

const TOKEN = "dop_v1_" + randomBytes(30).toString("hex");
const RUN = randomBytes(3).toString("hex");

function parseArgs(argv) {
    const options = { pairs: 300, instantiations: 1000, renders: 300, quick: false, positional: [] };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--pairs") options.pairs = Number(argv[++i]);
        else if (argv[i] === "--quick") options.quick = true;
        else options.positional.push(argv[i]);
    }
    if (options.quick) Object.assign(options, { pairs: 20, instantiations: 50, renders: 20 });
    const [wasm, url] = options.positional;
    if (!wasm || !(options.pairs > 0)) {
        process.stderr.write("usage: node hosts/node/bench.mjs COMPONENT.wasm [URL] [--pairs N] [--quick]\n");
        process.exit(2);
    }
    return { ...options, wasm, url };
}

function startStandin() {
    const child = spawn("python3", [join(repoRoot, "standin/standin.py"), "--port", "0"], {
        stdio: ["ignore", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", (line) => {
            const match = /^READY (\S+)/.exec(line);
            if (match) resolve({ url: match[1], stop: () => child.kill("SIGTERM") });
            else reject(new Error(`stand-in said ${line}`));
        });
        child.once("exit", (code) => reject(new Error(`stand-in exited (${code})`)));
    });
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
    const s = sorted(xs);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs, p) => {
    const s = sorted(xs);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const round = (x, digits = 3) => Number(x.toFixed(digits));
const figures = (xs) => ({ p50: round(median(xs)), p99: round(percentile(xs, 99)), n: xs.length });
const ratio = (a, b) => ({ p50: round(median(a) / median(b), 2), p99: round(percentile(a, 99) / percentile(b, 99), 2) });

/** One POST of `body` with the component's headers, on a new connection or `agent`. */
function directPost(url, headers, body, agent) {
    return new Promise((resolve, reject) => {
        const req = http.request(
            { host: url.hostname, port: url.port, path: "/v2/dedicated-inferences", method: "POST", agent, headers: { ...headers, "content-length": body.length } },
            (res) => {
                res.on("data", () => {});
                res.on("end", () => resolve(res.statusCode));
                res.on("error", reject);
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}

async function admin(base, method, path) {
    const response = await fetch(new URL(path, base), { method });
    return method === "GET" ? response.json() : null;
}

async function main() {
    const options = parseArgs(process.argv.slice(2));
    // The load average is there to judge the figures: on a shared machine they move with it.
    const machine = () => ({ cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg().map((x) => round(x, 2)) });
    const result = { host: hostName(), machine: machine() };

    // Load, as an engine does once per process.
    const scratch = mkdtempSync(join(tmpdir(), "http-task-transpile-"));
    try {
        const started = performance.now();
        await transpileCached(options.wasm, { cacheRoot: scratch });
        result.load = { transpileUncachedMs: round(performance.now() - started, 1) };
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
    const loadStarted = performance.now();
    const host = await TaskHost.load(options.wasm);
    const loaded = performance.now() - loadStarted;
    host.instance();
    Object.assign(result.load, {
        transpileCachedMs: round(host.timings.transpileMs, 1),
        importMs: round(host.timings.importMs, 1),
        compileMs: round(host.timings.compileMs, 1),
        totalMs: round(loaded, 1),
        firstInstantiateMs: round(host.lastInstantiateMs, 2),
    });

    const instantiate = [];
    for (let i = 0; i < options.instantiations; i++) {
        host.instance();
        instantiate.push(host.lastInstantiateMs);
    }
    result.instantiateMs = figures(instantiate);

    const definitionObject = JSON.parse(readFileSync(join(repoRoot, "fixtures/definition.json"), "utf8"));
    const parameters = JSON.parse(readFileSync(join(repoRoot, "fixtures/parameters.json"), "utf8"));
    const renderInput = { definition: JSON.stringify(definitionObject), parameters: JSON.stringify(parameters), secrets: [["token", TOKEN]] };
    const renders = [];
    for (let i = 0; i < options.renders; i++) {
        const started = performance.now();
        const reply = host.call("render", renderInput);
        renders.push(performance.now() - started);
        if (!reply.ok?.ok) throw new Error("render failed");
    }
    result.renderFreshInstanceMs = figures(renders);

    const standin = options.url ? { url: options.url, stop() {} } : await startStandin();
    try {
        const base = new URL(standin.url);
        definitionObject.httpRequest.url = `${standin.url}/v2/dedicated-inferences`;
        const definition = JSON.stringify(definitionObject);
        const input = (name) => ({ definition, parameters: JSON.stringify({ ...parameters, name }), secrets: [["token", TOKEN]] });

        // What the component puts on the wire, to send the same from Node.
        await admin(base, "DELETE", "/__standin/requests");
        const probe = `bench-${RUN}-p-000000`;
        const probed = host.call("execute", input(probe));
        if (!probed.ok?.ok) throw new Error(`the component's request was not accepted: ${JSON.stringify(probed).slice(0, 300)}`);
        const [record] = await admin(base, "GET", "/__standin/requests");
        const headers = Object.fromEntries(Object.entries(record.headers).filter(([k]) => !["host", "content-length"].includes(k)));
        const bodyFor = (name) => Buffer.from(record.body.replace(JSON.stringify(probe), JSON.stringify(name)));
        const keepAlive = new http.Agent({ keepAlive: true });

        const run = async (pairs, tag) => {
            const r = { execute: [], testRequest: [], instantiate: [], direct: [], directKeepAlive: [], failures: 0 };
            for (let i = 0; i < pairs; i++) {
                const name = (kind) => `bench-${RUN}-${tag}${kind}-${String(i).padStart(6, "0")}`;
                let started = performance.now();
                const executed = host.call("execute", input(name("e")));
                r.execute.push(performance.now() - started);
                r.instantiate.push(host.lastInstantiateMs);
                r.failures += !executed.ok?.ok;
                started = performance.now();
                r.failures += (await directPost(base, headers, bodyFor(name("d")), false)) !== 202;
                r.direct.push(performance.now() - started);
                started = performance.now();
                const tested = host.call("test-request", input(name("t")));
                r.testRequest.push(performance.now() - started);
                r.failures += tested.ok?.outcome !== "accepted";
                started = performance.now();
                r.failures += (await directPost(base, headers, bodyFor(name("f")), false)) !== 202;
                r.direct.push(performance.now() - started);
                started = performance.now();
                r.failures += (await directPost(base, headers, bodyFor(name("k")), keepAlive)) !== 202;
                r.directKeepAlive.push(performance.now() - started);
            }
            await admin(base, "DELETE", "/__standin/requests");
            return r;
        };
        await run(Math.max(5, Math.floor(options.pairs / 10)), "w"); // warm-up, not counted
        const r = await run(options.pairs, "m");
        keepAlive.destroy();
        const executeWithoutInstantiate = r.execute.map((x, i) => x - r.instantiate[i]);
        result.calls = {
            executeMs: figures(r.execute),
            testRequestMs: figures(r.testRequest),
            instantiateWithinExecuteMs: figures(r.instantiate),
            directNewConnectionMs: figures(r.direct),
            directKeepAliveMs: figures(r.directKeepAlive),
            failures: r.failures,
        };
        result.ratios = {
            executeVsDirectNewConnection: ratio(r.execute, r.direct),
            testRequestVsDirectNewConnection: ratio(r.testRequest, r.direct),
            executeVsDirectKeepAlive: ratio(r.execute, r.directKeepAlive),
            executeWithoutInstantiateVsDirectKeepAlive: ratio(executeWithoutInstantiate, r.directKeepAlive),
        };
    } finally {
        standin.stop();
    }
    result.machineAtEnd = machine();
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
}

await main();
// The shim's I/O worker thread would keep the process alive.
process.exit(0);
