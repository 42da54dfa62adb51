#!/usr/bin/env node
// The conformance-kit adapter for the Node host (jco sync build + preview2-shim):
//
//     node hosts/node/adapter.mjs COMPONENT.wasm
//
// Reads one call per line as JSON on stdin, runs it on a fresh instance of the component
// (host.mjs) and answers each with one line on stdout, in order; exits 0 at the end of its
// input. The protocol is in docs/conformance.md; hosts/python/adapter.py is the reference.
//
// Replies: {"id", "ok": <WIT value as JSON>} | {"id", "trap": "<what the host reported>"} |
// {"id", "error": "<why the call could not be made>"}. A line that is not a well-formed
// request is answered with `error` and the adapter goes on. Nothing here prints a request's
// text, and a secret of the request is masked in any trap message.

import { createInterface } from "node:readline";

import { CALLS, TaskHost, hostName } from "./host.mjs";

const MASK = "••••••••";

function bad(message) {
    return { error: message };
}

/** The call's arguments from a parsed request line, or an `error` reply. */
function parseRequest(request) {
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
        return bad("bad request line: not a JSON object");
    }
    const { call } = request;
    if (!CALLS.includes(call)) {
        // Spelled as hosts/python/adapter.py spells it (Python's repr).
        const shown = typeof call === "string" ? `'${call}'` : call == null ? "None" : JSON.stringify(call);
        return bad(`unknown call ${shown}`);
    }
    const options = request.options ?? {};
    if (typeof options !== "object" || Array.isArray(options)) {
        return bad("bad request line: `options` must be an object");
    }
    const limit = options["memory-limit-bytes"] ?? null;
    if (limit !== null && !(Number.isSafeInteger(limit) && limit >= 0)) {
        return bad("bad request line: `options.memory-limit-bytes` must be a non-negative integer");
    }
    if (call === "describe") return { call, limit };
    const input = request.input;
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
        return bad("bad request line: `input` must be an object (the WIT task-input)");
    }
    for (const field of ["definition", "parameters"]) {
        if (typeof input[field] !== "string") {
            return bad(`bad request line: \`input.${field}\` must be a string (JSON text)`);
        }
    }
    const secrets = input.secrets ?? [];
    const wellFormed =
        Array.isArray(secrets) &&
        secrets.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === "string"));
    if (!wellFormed) {
        return bad("bad request line: `input.secrets` must be a list of [name, value] string pairs");
    }
    return {
        call,
        limit,
        input: { definition: input.definition, parameters: input.parameters, secrets: secrets.map((p) => [p[0], p[1]]) },
    };
}

function mask(text, secrets) {
    // Longest first, so that a secret containing another is masked whole.
    const values = secrets.map((p) => p[1]).filter((v) => v.length > 0);
    values.sort((a, b) => b.length - a.length);
    for (const value of values) text = text.split(value).join(MASK);
    return text;
}

function answer(host, line) {
    let request;
    try {
        request = JSON.parse(line);
    } catch {
        // Not the parser's message: V8's quotes the line, and the line may hold secrets.
        return { id: null, error: "bad request line: not JSON" };
    }
    const id = typeof request === "object" && request !== null && "id" in request ? request.id : null;
    const parsed = parseRequest(request);
    if (parsed.error) return { id, ...parsed };
    try {
        const reply = host.call(parsed.call, parsed.input, { memoryLimitBytes: parsed.limit });
        if (reply.trap !== undefined) reply.trap = mask(reply.trap, parsed.input?.secrets ?? []);
        return { id, ...reply };
    } catch (error) {
        const why = mask(String(error?.message ?? error), parsed.input?.secrets ?? []);
        return { id, error: `the adapter failed: ${why}` };
    }
}

async function main(argv) {
    if (argv.length < 1) {
        process.stderr.write("usage: node hosts/node/adapter.mjs COMPONENT.wasm\n");
        return 2;
    }
    let host;
    try {
        host = await TaskHost.load(argv[argv.length - 1]);
    } catch (error) {
        process.stderr.write(`adapter: cannot load the component: ${error?.message ?? error}\n`);
        return 1;
    }
    const write = (object) => process.stdout.write(JSON.stringify(object) + "\n");
    write({ ready: true, host: hostName(), "memory-limit": true });
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (!line.trim()) continue;
        write(answer(host, line));
    }
    return 0;
}

// The shim's I/O worker thread would keep the process alive: exit explicitly. stdout is a
// pipe or a file, both written synchronously by Node on Linux, so nothing is lost.
process.exit(await main(process.argv.slice(2)));
