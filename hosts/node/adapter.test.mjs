// The Node adapter's handling of the protocol itself (docs/conformance.md): the ready line,
// replies in order with their ids, `error` for every kind of bad request line without
// stopping or echoing the line, exit status 0 at the end of input. The answers' values are
// compared with the other hosts' by the conformance kit (tests/conformance, one case in every
// host).
//
//     node --test hosts/node/                # after cargo build --release --target wasm32-wasip2
//
// COMPONENT_WASM names another component than the release build.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { test } from "node:test";

import { repoRoot } from "./transpile.mjs";

const wasm =
    process.env.COMPONENT_WASM ?? join(repoRoot, "target/wasm32-wasip2/release/do_dedicated_inference_task.wasm");
const TOKEN = "dop_v1_" + "0123456789abcdef".repeat(4).slice(0, 60);
const definition = readFileSync(join(repoRoot, "fixtures/definition.json"), "utf8");
const parameters = readFileSync(join(repoRoot, "fixtures/parameters.json"), "utf8");
const input = { definition, parameters, secrets: [["token", TOKEN]] };

function run(lines) {
    const child = spawnSync(process.execPath, [join(repoRoot, "hosts/node/adapter.mjs"), wasm], {
        input: lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l)) + "\n").join(""),
        encoding: "utf8",
    });
    const out = child.stdout.trim().split("\n").map((l) => JSON.parse(l));
    return { status: child.status, ready: out[0], replies: out.slice(1), stdout: child.stdout, stderr: child.stderr };
}

test("ready line, then one reply per request in order, exit 0", () => {
    const { status, ready, replies } = run([
        { id: 1, call: "describe" },
        "",
        { id: "two", call: "render", input },
        { call: "render", input: { ...input, definition: "{" } },
    ]);
    assert.equal(status, 0);
    assert.equal(ready.ready, true);
    assert.match(ready.host, /^jco \S+ \+ preview2-shim \S+/);
    assert.equal(ready["memory-limit"], true);
    assert.deepEqual(replies.map((r) => r.id), [1, "two", null]);
    assert.equal(replies[0].ok.method, "POST");
    assert.equal(typeof replies[0].ok["body-fields"][0]["type-name"], "string");
    // 0.2.0: render's Ok is the record `rendered` ({request, warnings}).
    assert.ok(replies[1].ok.ok.request.headers.some((h) => h.name.toLowerCase() === "content-length"));
    assert.deepEqual(replies[1].ok.ok.warnings, []);
    assert.equal(replies[2].ok.err[0].severity, "error");
});

test("render's warnings and test-request's exchanges, with the WIT's kebab-case names", async () => {
    // A 202 as the API gives it, for whatever was sent (the create's answer, no lookup).
    const spec = { name: JSON.parse(parameters).name };
    const server = createServer((request, response) => {
        request.resume();
        request.on("end", () => {
            const body = JSON.stringify({
                dedicated_inference: { id: "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d", status: "provisioning", spec },
                token: { id: "t-1", name: "support-llm-token", value: "dit_nodetest0123456789abcdef" },
            });
            response.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
            response.end(body);
        });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const definitionObject = JSON.parse(definition);
    definitionObject.httpRequest.url = `http://127.0.0.1:${server.address().port}/v2/dedicated-inferences`;
    const warned = { ...definitionObject, readTimeoutSecond: 3 };
    const lines = [
        { id: 1, call: "render", input: { ...input, definition: JSON.stringify(warned) } },
        { id: 2, call: "test-request", input: { ...input, definition: JSON.stringify(definitionObject) } },
    ];
    try {
        const child = spawn(process.execPath, [join(repoRoot, "hosts/node/adapter.mjs"), wasm], { stdio: ["pipe", "pipe", "inherit"] });
        let stdout = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stdin.end(lines.map((l) => JSON.stringify(l) + "\n").join(""));
        await new Promise((resolve) => child.on("close", resolve));
        const [, rendered, tested] = stdout.trim().split("\n").map((l) => JSON.parse(l));
        const [warning] = rendered.ok.ok.warnings.filter((w) => w.path === "readTimeoutSecond");
        assert.equal(warning.severity, "warning");
        assert.match(warning.message, /readTimeoutSeconds/);
        const result = tested.ok;
        assert.equal(result.outcome, "accepted", result.summary);
        for (const key of ["revealed-secrets", "elapsed-ms", "exchanges"]) assert.ok(key in result, key);
        assert.equal(result.exchanges.length, 1, "a plain create is one exchange");
        assert.deepEqual(result.exchanges[0], { request: result.request, response: result.response, error: null });
        assert.ok(!stdout.includes(TOKEN), "a secret was printed");
    } finally {
        server.close();
    }
});

test("every bad request line is answered with error, and the adapter goes on", () => {
    const bad = [
        `not JSON at all ${TOKEN}`,
        `{"id": 3, "call": "render", "input": {"definition": "${TOKEN}"`,
        "[1, 2]",
        "null",
        { id: 5 },
        { id: 6, call: "nope" },
        { id: 7, call: "render" },
        { id: 8, call: "render", input: { ...input, definition: 1 } },
        { id: 9, call: "execute", input: { ...input, secrets: [["token"]] } },
        { id: 10, call: "execute", input: { ...input, secrets: { token: TOKEN } } },
        { id: 11, call: "render", input, options: { "memory-limit-bytes": -1 } },
        { id: 12, call: "render", input, options: [] },
    ];
    const { status, replies, stdout, stderr } = run([...bad, { id: 99, call: "describe" }]);
    assert.equal(status, 0);
    assert.equal(replies.length, bad.length + 1);
    for (const reply of replies.slice(0, -1)) assert.equal(typeof reply.error, "string", JSON.stringify(reply));
    assert.deepEqual(replies.slice(4, 12).map((r) => r.id), [5, 6, 7, 8, 9, 10, 11, 12]);
    assert.equal(replies[5].error, "unknown call 'nope'");
    assert.equal(replies.at(-1).id, 99);
    assert.ok(replies.at(-1).ok);
    assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), "a secret was printed");
});

test("secrets given as input never appear in a reply", () => {
    const { replies, stdout } = run([{ id: 1, call: "render", input }]);
    assert.ok(replies[0].ok.ok);
    assert.ok(!stdout.includes(TOKEN));
});

test("memory-limit-bytes below the component's initial memory traps that call only", () => {
    const { replies } = run([
        { id: 1, call: "render", input, options: { "memory-limit-bytes": 1 << 20 } },
        { id: 2, call: "render", input, options: { "memory-limit-bytes": 64 << 20 } },
        { id: 3, call: "render", input },
    ]);
    assert.match(replies[0].trap, /memory/);
    assert.ok(replies[1].ok.ok);
    assert.ok(replies[2].ok.ok);
});

test("no component: exit status 2 with usage; unreadable component: 1", () => {
    const none = spawnSync(process.execPath, [join(repoRoot, "hosts/node/adapter.mjs")], { encoding: "utf8" });
    assert.equal(none.status, 2);
    const missing = spawnSync(process.execPath, [join(repoRoot, "hosts/node/adapter.mjs"), "/nonexistent.wasm"], {
        encoding: "utf8",
    });
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, "");
});
