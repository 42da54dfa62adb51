#!/usr/bin/env node
// Transpiles a component with jco into the *sync instantiation* build that hosts/node uses,
// cached under the repository's target/node/ by the component's SHA-256, so that repeated
// runs reuse it:
//
//     node hosts/node/transpile.mjs COMPONENT.wasm              # prints the build's directory
//     node hosts/node/transpile.mjs --browser COMPONENT.wasm    # the editor page's build
//
// The build is `jco transpile COMPONENT.wasm --name task --instantiation sync`: an ES module
// exporting `instantiate(getCoreModule, imports)`, which instantiates the component
// synchronously from compiled core modules and an import object keyed by WIT interface name
// (host.mjs passes preview2-shim's). Unlike the plain `jco transpile` output, which
// instantiates once when imported, it can make a fresh instance per call, as an engine runs
// each step. No JSPI: JSPI does not run in Node 20.
//
// The cache key is the component's SHA-256 together with the jco version and the options,
// so a new component or a jco upgrade makes a new directory; a build is written to a
// temporary directory and renamed into place, so a crashed run never leaves half a build.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
const require = createRequire(import.meta.url);

/** The versions of the pinned packages, as installed (hosts/node/package-lock.json). */
export function installedVersions() {
    const version = (name) => {
        const manifest = join(here, "node_modules", name, "package.json");
        return JSON.parse(readFileSync(manifest, "utf8")).version;
    };
    return {
        jco: version("@bytecodealliance/jco"),
        shim: version("@bytecodealliance/preview2-shim"),
    };
}

// What a build depends on besides the component's bytes. Changing an option here must
// change the key, or a stale build would be reused. `browser` is the plain sync build the
// editor page imports (it instantiates once, when imported: the page calls only describe and
// render, which do no I/O).
const NAME = "task";
export const BUILDS = {
    sync: { name: NAME, instantiation: "sync", quiet: true },
    browser: { name: NAME, quiet: true },
};

/**
 * The sync build of `wasmPath`, transpiled now or found in the cache.
 * @returns {Promise<{dir: string, module: string, hash: string, cached: boolean, ms: number}>}
 */
export async function transpileCached(
    wasmPath,
    { cacheRoot = join(repoRoot, "target", "node"), build = "sync" } = {},
) {
    const started = performance.now();
    const OPTIONS = BUILDS[build];
    const bytes = readFileSync(wasmPath);
    const hash = createHash("sha256").update(bytes).digest("hex");
    const { jco } = installedVersions();
    const key = `${hash.slice(0, 16)}-jco${jco}-${build}`;
    const dir = join(cacheRoot, key);
    const module = join(dir, `${NAME}.js`);
    const stamp = join(dir, "build.json");
    if (existsSync(stamp)) {
        return { dir, module, hash, cached: true, ms: performance.now() - started };
    }
    const { transpile } = await import("@bytecodealliance/jco");
    const { files } = await transpile(bytes, { ...OPTIONS });
    mkdirSync(cacheRoot, { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    for (const [name, content] of Object.entries(files)) {
        const path = join(tmp, name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
    }
    // The generated module is ESM; target/ has no package.json saying so.
    writeFileSync(join(tmp, "package.json"), '{ "type": "module" }\n');
    writeFileSync(
        join(tmp, "build.json"),
        JSON.stringify({ component: resolve(wasmPath), sha256: hash, jco, options: OPTIONS }, null, 2) + "\n",
    );
    rmSync(dir, { recursive: true, force: true });
    try {
        renameSync(tmp, dir);
    } catch (error) {
        // Another process finished the same build first: use theirs.
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(stamp)) throw error;
    }
    return { dir, module, hash, cached: false, ms: performance.now() - started };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const args = process.argv.slice(2);
    const browser = args[0] === "--browser";
    const paths = browser ? args.slice(1) : args;
    if (paths.length !== 1 || paths[0].startsWith("-")) {
        process.stderr.write("usage: node hosts/node/transpile.mjs [--browser] COMPONENT.wasm\n");
        process.exit(2);
    }
    try {
        const build = await transpileCached(paths[0], { build: browser ? "browser" : "sync" });
        process.stderr.write(
            `transpile: ${build.cached ? "cached" : "transpiled"} in ${build.ms.toFixed(1)} ms\n`,
        );
        process.stdout.write(build.dir + "\n");
    } catch (error) {
        process.stderr.write(`transpile: ${error?.message ?? error}\n`);
        process.exit(1);
    }
}
