// Runs the HTTP Task component in Node through jco's sync instantiation build, as a workflow
// engine does: the core modules are compiled once per process, and every call gets a fresh
// instance (`instantiate()` with preview2-shim's imports), like a fresh wasmtime Store.
//
//     const host = await TaskHost.load("do_dedicated_inference_task.wasm");
//     const reply = host.call("test-request", { definition, parameters, secrets });
//     // { ok: <the WIT value as JSON> } or { trap: "<what the host reported>" }
//
// Values come back as the WIT values written as JSON, as docs/conformance.md defines them and
// hosts/python/adapter.py writes them: records keyed by the WIT's kebab-case field names (jco
// gives camelCase), enums by case name, options as null or the value (jco: undefined), u64 as
// numbers (jco: BigInt), results as {"ok": …} / {"err": …} (jco returns ok directly and throws
// a ComponentError carrying the err in `payload`).
//
// The imports are preview2-shim's, with three host choices made explicit:
// - the guest sees no environment variables and no arguments (the shim would otherwise hand
//   it the adapter's whole process.env, tokens included); wasmtime's default is the same;
// - the guest's stdout goes to the adapter's stderr, so it can never corrupt a protocol that
//   speaks on stdout;
// - wasi:cli/exit traps instead of ending the adapter's process.
// The shim's Node wasi:http is used as patched by hosts/node/patches/ (see
// docs/upstream/preview2-shim-node-http.md); `shimPatches()` says which are applied.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { installedVersions, transpileCached } from "./transpile.mjs";

const require = createRequire(import.meta.url);

// PREVIEW2_SHIM_DEBUG=1 makes the shim log every I/O call with its payload to stderr: the
// outgoing request's headers, the API token included. The shim reads it when first imported
// (in TaskHost.load, below), so it is dropped here, before.
delete process.env.PREVIEW2_SHIM_DEBUG;

const INTERFACE = "workflow:http-task/task@0.2.0";
export const CALLS = ["describe", "render", "test-request", "execute"];
const METHODS = {
    describe: "describe",
    render: "render",
    "test-request": "testRequest",
    execute: "execute",
};
// Calls whose WIT result type is `result<…>` (jco returns ok, throws ComponentError for err).
const RESULT_CALLS = new Set(["render", "execute"]);
const PAGE = 65536;

/** The numbers of hosts/node/patches applied to the installed shim (by the markers they
 * leave in its files; tools/bootstrap-node.sh applies them). */
export function shimPatches() {
    const shimDir = join(require.resolve("@bytecodealliance/preview2-shim/instantiation"), "../../..");
    const text = ["dist/io/worker-thread.bundle.js", "dist/nodejs/http.js"]
        .map((file) => readFileSync(join(shimDir, file), "utf8"))
        .join("\n");
    return [...new Set(text.match(/(?<=http-task-node-host patch )\d{4}/g) ?? [])].sort();
}

export function hostName() {
    const { jco, shim } = installedVersions();
    const patches = shimPatches();
    const patched = patches.length ? ` with patches ${patches.join(", ")}` : " unpatched";
    return `jco ${jco} + preview2-shim ${shim}${patched}, Node ${process.versions.node}`;
}

export class TaskHost {
    #instantiate;
    #files;
    #modules = new Map(); // memory cap in pages (0: none) -> { name -> WebAssembly.Module }
    #imports;
    /** Milliseconds the last call spent instantiating. */
    lastInstantiateMs = 0;

    constructor(instantiate, files, imports) {
        this.#instantiate = instantiate;
        this.#files = files;
        this.#imports = imports;
    }

    /**
     * Transpiles (or finds in the cache) and loads `wasmPath`; compiles its core modules.
     * @returns {Promise<TaskHost>} with `timings`: transpile, import and compile milliseconds.
     */
    static async load(wasmPath) {
        const t0 = performance.now();
        const build = await transpileCached(wasmPath);
        const t1 = performance.now();
        const { WASIShim } = await import("@bytecodealliance/preview2-shim/instantiation");
        const { instantiate } = await import(pathToFileURL(build.module).href);
        const t2 = performance.now();
        const files = new Map();
        for (const name of ["task.core.wasm", "task.core2.wasm", "task.core3.wasm"]) {
            files.set(name, readFileSync(join(build.dir, name)));
        }
        const host = new TaskHost(instantiate, files, importObject(WASIShim));
        host.#coreModules(0);
        const t3 = performance.now();
        host.timings = {
            transpileMs: t1 - t0,
            transpileCached: build.cached,
            importMs: t2 - t1,
            compileMs: t3 - t2,
            build: build.dir,
        };
        return host;
    }

    /** A fresh instance's `task` interface; traps on failure like any call. */
    instance(memoryLimitBytes) {
        const pages = memoryLimitBytes == null ? 0 : Math.max(0, Math.floor(memoryLimitBytes / PAGE));
        const modules = this.#coreModules(memoryLimitBytes == null ? 0 : pages + 1);
        const started = performance.now();
        const exports = withoutJspiProbeCost(() => this.#instantiate((name) => modules[name], this.#imports));
        this.lastInstantiateMs = performance.now() - started;
        return exports[INTERFACE] ?? exports.task;
    }

    /**
     * Runs one call on a fresh instance.
     * @returns {{ok: any} | {trap: string}}
     */
    call(call, input, { memoryLimitBytes } = {}) {
        const method = METHODS[call];
        if (!method) throw new TypeError(`unknown call ${JSON.stringify(call)}`);
        let value;
        try {
            const task = this.instance(memoryLimitBytes);
            if (call === "describe") {
                value = task.describe();
            } else if (RESULT_CALLS.has(call)) {
                try {
                    value = { ok: task[method](input) };
                } catch (error) {
                    if (!isComponentError(error)) throw error;
                    value = { err: error.payload };
                }
            } else {
                value = task[method](input);
            }
        } catch (error) {
            return { trap: describeFailure(error) };
        }
        return { ok: witJson(value) };
    }

    // Core modules by name, compiled once per memory cap. `key` is 0 for no cap, else the
    // cap in pages + 1.
    #coreModules(key) {
        let modules = this.#modules.get(key);
        if (!modules) {
            modules = {};
            for (const [name, bytes] of this.#files) {
                const source = key === 0 ? bytes : capMemories(bytes, key - 1);
                modules[name] = new WebAssembly.Module(source);
            }
            this.#modules.set(key, modules);
        }
        return modules;
    }
}

// jco 1.35's sync build probes for JSPI five times per instantiation with
// `try { xAsync = WebAssembly.promising(f) } catch { xAsync = f }`, and uses those `xAsync`
// only in JSPI builds. Node 20 has no WebAssembly.promising, and V8 words the TypeError ("...
// is not a function") by re-parsing the calling function to print the call: here the
// ~14,000-line generator that wires the instance, ~10 ms per probe. Instantiation took
// 30-60 ms per call that way. While the (synchronous) instantiation runs,
// `WebAssembly.promising` returns its argument, which is what the fallback assigns, without
// the throw (even a ready-made error cost ~0.2 ms per throw); it is removed again before
// anything else can run. Where JSPI exists (WebAssembly.promising defined) nothing changes.
function withoutJspiProbeCost(instantiate) {
    if (typeof WebAssembly.promising === "function") return instantiate();
    WebAssembly.promising = (f) => f;
    try {
        return instantiate();
    } finally {
        delete WebAssembly.promising;
    }
}

function importObject(WASIShim) {
    const base = new WASIShim({ sandbox: { env: {}, args: [] } }).getImportObject();
    const stderr = base["wasi:cli/stderr"];
    return {
        ...base,
        "wasi:cli/stdout": { getStdout: () => stderr.getStderr() },
        "wasi:cli/exit": {
            exit(status) {
                throw new Error(`the component called wasi:cli/exit (${status?.tag ?? status})`);
            },
            exitWithCode(code) {
                throw new Error(`the component called wasi:cli/exit with code ${code}`);
            },
        },
    };
}

function isComponentError(error) {
    return (
        error instanceof Error &&
        error.constructor?.name === "ComponentError" &&
        Object.prototype.hasOwnProperty.call(error, "payload")
    );
}

function describeFailure(error) {
    if (error instanceof Error) return `${error.name}: ${error.message}`;
    try {
        return `thrown: ${JSON.stringify(error)}`;
    } catch {
        return `thrown: ${String(error)}`;
    }
}

/** jco's JS value of a WIT value, as the WIT value's JSON (see the top of this file). */
export function witJson(value) {
    if (value === undefined || value === null) return null;
    if (typeof value === "bigint") {
        const number = Number(value);
        if (!Number.isSafeInteger(number)) throw new RangeError(`u64 ${value} is not exact as a JSON number`);
        return number;
    }
    if (Array.isArray(value)) return value.map(witJson);
    if (value instanceof Uint8Array) return Array.from(value);
    if (typeof value === "object") {
        const out = {};
        for (const [key, item] of Object.entries(value)) {
            out[key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())] = witJson(item);
        }
        return out;
    }
    return value;
}

/**
 * `bytes` (a core module) with every memory it defines capped at `maxPages`: a guest that
 * grows past it sees memory.grow fail, and Rust's allocator then aborts (a trap), as under
 * wasmtime's store limits. A memory whose minimum is above the cap makes compilation fail,
 * which the call reports as a trap too.
 */
export function capMemories(bytes, maxPages) {
    const out = [bytes.subarray(0, 8)];
    let at = 8;
    while (at < bytes.length) {
        const id = bytes[at];
        const [size, sizeLen] = readLeb(bytes, at + 1);
        const start = at + 1 + sizeLen;
        const end = start + size;
        if (id !== 5) {
            out.push(bytes.subarray(at, end));
        } else {
            const [count, countLen] = readLeb(bytes, start);
            const body = [encodeLeb(count)];
            let p = start + countLen;
            for (let i = 0; i < count; i++) {
                const flags = bytes[p++];
                if (flags > 1) throw new Error(`memory limits flags ${flags} not supported`);
                const [min, minLen] = readLeb(bytes, p);
                p += minLen;
                let max = maxPages;
                if (flags === 1) {
                    const [declared, maxLen] = readLeb(bytes, p);
                    p += maxLen;
                    max = Math.min(declared, maxPages);
                }
                body.push(Uint8Array.of(1), encodeLeb(min), encodeLeb(max));
            }
            const content = concat(body);
            out.push(Uint8Array.of(5), encodeLeb(content.length), content);
        }
        at = end;
    }
    return concat(out);
}

function readLeb(bytes, at) {
    let value = 0;
    let shift = 0;
    let len = 0;
    for (;;) {
        const byte = bytes[at + len++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) return [value, len];
    }
}

function encodeLeb(value) {
    const out = [];
    do {
        let byte = value % 128;
        value = Math.floor(value / 128);
        if (value > 0) byte |= 0x80;
        out.push(byte);
    } while (value > 0);
    return Uint8Array.from(out);
}

function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts) {
        out.set(part, at);
        at += part.length;
    }
    return out;
}
