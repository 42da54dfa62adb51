"""The editor's local engine: serves the editor page and runs its "Test request" through the
component in wasmtime, resolving the definition's `credentials` on this side, as a workflow
engine does. Run it as `scripts/editor [--port N] [--real]`.

What it does, in order: builds the component (scripts/build, the artifact every tool runs),
transpiles it with jco for the page (hosts/node/transpile.mjs --browser, only when the .wasm
changed), starts the local stand-in of the API (standin/launcher.py), then serves on 127.0.0.1:

- `/`                 the page (hosts/browser/static/)
- `/task/`            the component transpiled by jco (target/node/<hash>-jco…-browser/)
- `/node_modules/@bytecodealliance/preview2-shim/`   the WASI shim jco's output imports
                      (hosts/node/node_modules, pinned with jco in hosts/node/package.json)
- `/vendor/`          CodeMirror 6 (hosts/browser/node_modules, pinned in hosts/browser/)
- `GET /api/config`   the target (stand-in or real API) and where credentials come from
- `POST /api/test-request`   `{"definition": text, "parameters": text, "confirmBilled": bool}`
                      → `{"result": <test-result>, "credential": {...}}`; the result's fields
                      are camelCase, as jco gives the same record to JavaScript. A result
                      `needs-confirmation` (`ifExists: adopt` on a real host) is answered as
                      any other; the page asks the person and sends again with the definition's
                      `confirmAdopt` set to the instance's id.

The first line of standard output is the page's URL; the second names the stand-in. It serves
until Ctrl-C (SIGINT) or SIGTERM, then stops everything it started.

Credentials: the definition's `credentials` names a credential; the engine resolves it to the
API token the component receives as its `token` secret, from, in this order:

1. the JSON file named by `$HTTP_TASK_CREDENTIALS`, mapping names to tokens
   (`{"digitalocean-prod": "dop_v1_…"}`), or to objects of secrets
   (`{"digitalocean-prod": {"token": "dop_v1_…", "hugging_face_token": "hf_…"}}`, each
   secret a `${secret:NAME}` of the definition) with, optionally, the hosts the credential
   may be sent to (`"allowedHosts": ["api.digitalocean.com", "loopback"]`, the default);
   read at every test request;
2. `$DIGITALOCEAN_TOKEN`, for any name the file does not have;
3. when neither is set, without `--real` and only for a loopback URL (the stand-in): a demo
   token the stand-in accepts.

A name none of these resolves is refused before anything is sent, and so is a URL whose host
the credential is not allowed for: the definition comes from whoever edits it, and must not be
able to point the team's token at a server of its own. Tokens never reach the page,
a URL or the log: the component masks every secret in what it returns, and the only secret in
an answer is the one the API returns once (`revealedSecrets`). Before a request to a host other
than loopback the page asks for confirmation and the engine refuses without it (409), since an
accepted request creates a real, billed resource.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import mimetypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "hosts" / "python"))
sys.path.insert(0, str(REPO / "standin"))

from artifact import BuildError, build_artifact  # noqa: E402
from host import ComponentTrap, TaskHost  # noqa: E402
from launcher import StandInError, running_standin  # noqa: E402

TRANSPILE = REPO / "hosts/node/transpile.mjs"
REAL_API = "https://api.digitalocean.com"
CREDENTIALS_ENV = "HTTP_TASK_CREDENTIALS"
TOKEN_ENV = "DIGITALOCEAN_TOKEN"
# Where a credential may be sent when its entry does not say: the API, and loopback (the
# stand-in). "loopback" stands for localhost, 127.0.0.0/8 and ::1.
DEFAULT_ALLOWED_HOSTS = ("api.digitalocean.com", "loopback")
ALLOWED_HOSTS_KEY = "allowedHosts"
# The stand-in accepts any `dop_v1_` token of 8 or more further characters.
DEMO_TOKEN = "dop_v1_editordemo" + "0" * 54
MASK = "••••••••"
MAX_BODY = 8 * 1024 * 1024



def static_routes(task: Path) -> list[tuple[str, Path]]:
    """URL prefix → folder, longest prefix first; `task` is the component's browser build."""
    return [
        ("/node_modules/@bytecodealliance/preview2-shim/", REPO / "hosts/node/node_modules/@bytecodealliance/preview2-shim"),
        ("/vendor/", HERE / "node_modules"),
        ("/task/", task),
        ("/", HERE / "static"),
    ]
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
IMPORT_MAP = re.compile(rb'<script type="importmap">(.*?)</script>', re.S)


class ToolError(Exception):
    """The editor cannot start (exit status 2)."""


class EngineError(Exception):
    """A test request the engine refuses or cannot run; `status` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra


# --- Building ---


def build_component() -> Path:
    """The artifact (scripts/build); build output goes to stderr so that stdout starts with the URL."""
    try:
        return build_artifact()
    except BuildError as error:
        raise ToolError(str(error)) from error


def transpile_component(wasm: Path) -> Path:
    """The page's build of `wasm` (jco's plain sync build, through hosts/node/transpile.mjs,
    which reuses it while the .wasm is unchanged); returns its folder."""
    try:
        done = subprocess.run(["node", str(TRANSPILE), "--browser", str(wasm)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    except OSError as error:
        raise ToolError(f"cannot run node: {error.strerror}") from error
    if done.returncode != 0:
        raise ToolError("jco transpile failed")
    return Path(done.stdout.strip().splitlines()[-1])


# --- Credentials ---


def url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    return is_loopback_host(url_host(url))


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether `host` (lower-cased by urlsplit) is one of `allowed` ("loopback": any loopback)."""
    if host is None:
        return False
    return any(host == entry.lower() or (entry == "loopback" and is_loopback_host(host)) for entry in allowed)


class Resolved(NamedTuple):
    """A credential as the component receives it, and where it may go."""

    secrets: dict[str, str]
    source: str
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS


class Credentials:
    """Resolves a credential name to the component's secrets, on the engine's side only."""

    def __init__(self, environ: Mapping[str, str], *, demo: bool) -> None:
        self.file = Path(environ[CREDENTIALS_ENV]) if environ.get(CREDENTIALS_ENV) else None
        self.token = environ.get(TOKEN_ENV) or None
        self.demo = demo

    def describe(self) -> list[str]:
        """Where names are resolved from, for the page and the log (no values)."""
        sources = []
        if self.file:
            sources.append(f"${CREDENTIALS_ENV} ({self.file})")
        if self.token:
            sources.append(f"${TOKEN_ENV} (any name)")
        if self.demo and self.file is None and not self.token:
            sources.append("a demo token (loopback URLs only)")
        return sources

    def check(self) -> None:
        """Fails early on an unreadable file; warns when others may read it."""
        if self.file is None:
            return
        self._read_file()
        if self.file.stat().st_mode & 0o077:
            print(f"editor: warning: {self.file} is readable by others (chmod 600 it)", file=sys.stderr)

    def _read_file(self) -> dict[str, Any]:
        assert self.file is not None
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except OSError as error:
            raise EngineError(500, "credentials-file", f"cannot read ${CREDENTIALS_ENV} ({self.file}): {error.strerror}") from None
        except ValueError as error:
            # The decoder's message names a position, never the text.
            raise EngineError(500, "credentials-file", f"${CREDENTIALS_ENV} ({self.file}) is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise EngineError(500, "credentials-file", f"${CREDENTIALS_ENV} ({self.file}) must be a JSON object of name → token")
        return data

    def resolve(self, name: str, *, loopback: bool) -> Resolved | None:
        """Credential `name`, or None when nothing resolves it."""
        if self.file is not None:
            entry = self._read_file().get(name)
            if isinstance(entry, str):
                return Resolved({"token": entry}, f"${CREDENTIALS_ENV}")
            if isinstance(entry, dict):
                return self._entry(name, entry)
            if entry is not None:
                raise EngineError(500, "credentials-file", f"credential `{name}` in ${CREDENTIALS_ENV} must be a token string or an object of strings")
        if self.token:
            return Resolved({"token": self.token}, f"${TOKEN_ENV}")
        # The demo token stands in only when no credentials are configured at all: with a
        # file or a token set, an unknown name is an error, as in an engine.
        if self.demo and loopback and self.file is None:
            return Resolved({"token": DEMO_TOKEN}, "demo token (stand-in only)", ("loopback",))
        return None

    @staticmethod
    def _entry(name: str, entry: dict[str, Any]) -> Resolved:
        """An object entry: its secrets, and its `allowedHosts` when it names them."""
        secrets = {k: v for k, v in entry.items() if k != ALLOWED_HOSTS_KEY}
        hosts = entry.get(ALLOWED_HOSTS_KEY, list(DEFAULT_ALLOWED_HOSTS))
        if not all(isinstance(v, str) for v in secrets.values()):
            raise EngineError(500, "credentials-file", f"credential `{name}` in ${CREDENTIALS_ENV}: every secret must be a string")
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
            raise EngineError(500, "credentials-file", f"credential `{name}` in ${CREDENTIALS_ENV}: `{ALLOWED_HOSTS_KEY}` must be a non-empty list of host names (or \"loopback\")")
        return Resolved(secrets, f"${CREDENTIALS_ENV}", tuple(hosts))

    def known_values(self) -> list[str]:
        """Every secret value this engine could send, for masking error texts."""
        values = [DEMO_TOKEN] + ([self.token] if self.token else [])
        if self.file is not None:
            try:
                entries = list(self._read_file().values())
            except EngineError:
                entries = []
            for entry in entries:
                if isinstance(entry, str):
                    values.append(entry)
                elif isinstance(entry, dict):
                    values += [v for k, v in entry.items() if k != ALLOWED_HOSTS_KEY and isinstance(v, str)]
        return [v for v in values if v]


def mask(text: str, secrets: list[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def camel(value: Any) -> Any:
    """host.py's snake_case record keys as jco's camelCase; tuples as arrays."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [camel(v) for v in value]
    return value


# --- The engine ---


class Engine:
    def __init__(self, *, wasm: Path, real: bool, standin_url: str, credentials: Credentials) -> None:
        self.host = TaskHost(wasm)
        self.real = real
        self.standin_url = standin_url
        self.credentials = credentials

    def config(self) -> dict[str, Any]:
        return {
            "mode": "real" if self.real else "standin",
            "target": REAL_API if self.real else self.standin_url,
            "standin": self.standin_url,
            "realApi": REAL_API,
            "credentialSources": self.credentials.describe(),
        }

    def test_request(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise EngineError(400, "bad-request", "expected a JSON object")
        definition, parameters = payload.get("definition"), payload.get("parameters")
        if not isinstance(definition, str) or not isinstance(parameters, str):
            raise EngineError(400, "bad-request", "`definition` and `parameters` must be JSON texts")
        confirmed = payload.get("confirmBilled") is True

        name = credential_name(definition)
        # Where it would go: rendering sends nothing. A definition that does not render is
        # reported by test-request itself (outcome invalid, nothing sent).
        preview = self.host.render({"definition": definition, "parameters": parameters, "secrets": {}})
        url = preview["ok"]["request"]["url"] if "ok" in preview else None
        loopback = url is not None and is_loopback(url)
        secrets: dict[str, str] = {}
        source = None
        if url is not None and name is not None:
            resolved = self.credentials.resolve(name, loopback=loopback)
            if resolved is None:
                raise EngineError(
                    422,
                    "unknown-credential",
                    f"The engine knows no credential named `{name}`: nothing was sent. "
                    f"It looks names up in {' and '.join(self.credentials.describe()) or 'nothing (set $DIGITALOCEAN_TOKEN or $HTTP_TASK_CREDENTIALS)'}.",
                    credential=name,
                )
            secrets, source, allowed = resolved
            host = url_host(url)
            if not host_allowed(host, allowed):
                raise EngineError(
                    403,
                    "host-not-allowed",
                    f"Credential `{name}` may be sent only to {', '.join(allowed)}, and the URL names {host or 'no host'}: nothing was sent.",
                    credential=name,
                    host=host,
                )
        if url is not None and not loopback and not confirmed:
            raise EngineError(
                409,
                "confirmation-required",
                f"{urlsplit(url).hostname} is not a local stand-in: an accepted request creates a real, billed resource. Confirm to send.",
                host=urlsplit(url).hostname,
            )
        result = self.host.test_request({"definition": definition, "parameters": parameters, "secrets": secrets})
        return {"result": camel(result), "credential": {"name": name, "source": source}}


def credential_name(definition: str) -> str | None:
    try:
        parsed = json.loads(definition)
    except (ValueError, RecursionError):
        return None
    name = parsed.get("credentials") if isinstance(parsed, dict) else None
    return name if isinstance(name, str) and name else None


# --- HTTP ---


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], engine: Engine, routes: list[tuple[str, Path]]) -> None:
        super().__init__(address, Handler)
        self.engine = engine
        self.routes = routes
        port = self.server_address[1]
        #: The page's own origins: requests naming any other Host or Origin are refused.
        self.origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "http-task-editor"
    timeout = 120  # drops idle keep-alive connections

    def setup(self) -> None:
        super().setup()
        # Without it a small answer waits for the client's delayed ACK: ~48 ms per call here.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # The log has the request line and status only: never bodies, so never a secret.
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"editor: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path == "/api/config":
            self._send_json(200, self.server.engine.config())
        elif path.startswith("/api/"):
            self._send_json(404, {"error": "not-found", "message": f"no {path}"})
        else:
            self._send_static(path)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path != "/api/test-request":
            self._drain()
            self._send_json(404, {"error": "not-found", "message": f"no POST {path}"})
            return
        # Only the page itself may ask: another site's page cannot send this request without
        # a CORS preflight (JSON content type), which is never answered, nor with our Origin.
        origin = self.headers.get("Origin")
        if (origin is not None and origin not in self.server.origins) or self.headers.get_content_type() != "application/json":
            self._drain()
            self._send_json(403, {"error": "forbidden", "message": "only the editor page may send test requests"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send_json(411, {"error": "length-required", "message": "Content-Length is required"})
            return
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send_json(413, {"error": "too-large", "message": f"at most {MAX_BODY} bytes"})
            return
        engine = self.server.engine
        started = time.perf_counter()
        try:
            payload = json.loads(self.rfile.read(length))
            answer = engine.test_request(payload)
        except ValueError:
            self._send_json(400, {"error": "bad-request", "message": "the body is not JSON"})
            return
        except EngineError as error:
            message = mask(str(error), engine.credentials.known_values())
            self._send_json(error.status, {"error": error.code, "message": message, **error.extra})
            return
        except ComponentTrap as error:
            message = mask(f"the component trapped: {error}", engine.credentials.known_values())
            self._send_json(500, {"error": "component-trap", "message": message})
            return
        self.log_note = f"{answer['result']['outcome']} in {(time.perf_counter() - started) * 1000:.0f} ms"
        self._send_json(200, answer)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        note = getattr(self, "log_note", "")
        self.log_note = ""
        self.log_message('"%s" %s%s', self.requestline, str(code), f" ({note})" if note else "")

    def _host_ok(self) -> bool:
        # A page on another name that resolves to 127.0.0.1 (DNS rebinding) is refused.
        host = self.headers.get("Host", "")
        if f"http://{host}" in self.server.origins:
            return True
        self._drain()
        self._send_json(421, {"error": "misdirected", "message": "use the URL the editor printed"})
        return False

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _send_json(self, status: int, document: Any) -> None:
        body = json.dumps(document, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] = {}, *, cache: str = "no-store"
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_static(self, path: str) -> None:
        for prefix, root in self.server.routes:
            if path.startswith(prefix):
                relative = unquote(path[len(prefix):])
                break
        else:  # unreachable: "/" matches every path
            relative = ""
            root = HERE / "static"
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        root = root.resolve()
        target = (root / relative).resolve()
        if "\0" in relative or not target.is_relative_to(root) or not target.is_file():
            self._send_json(404, {"error": "not-found", "message": f"no {path}"})
            return
        stat = target.stat()
        # Revalidated on every load (no-cache), so that a rebuilt component is never stale,
        # but answered 304 when unchanged.
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", "", {"ETag": etag}, cache="no-cache")
            return
        body = target.read_bytes()
        content_type = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        headers = {"ETag": etag}
        if target.suffix == ".html":
            headers["Content-Security-Policy"] = content_security_policy(body)
        self._send(200, body, content_type, headers, cache="no-cache")


def content_security_policy(page: bytes) -> str:
    """The page may load and fetch only from this server: no CDN, no other host. Its one
    inline script, the import map, is allowed by its hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'" for m in IMPORT_MAP.finditer(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes} 'wasm-unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


# --- Entry point ---


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/editor",
        description="The HTTP Task editor page with its local engine. " + (__doc__ or "").split("\n\n")[0],
        epilog=f"Credentials: ${CREDENTIALS_ENV} (JSON file: name → token), ${TOKEN_ENV}.",
    )
    parser.add_argument("--port", type=int, default=0, help="the page's port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--real",
        action="store_true",
        help=f"target {REAL_API} with ${TOKEN_ENV}: an accepted request creates a real, billed resource",
    )
    return parser.parse_args()


def main() -> int:
    # SIGTERM ends the editor as Ctrl-C does: everything started is stopped. SIGINT is set
    # again because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args()
    environ = dict(os.environ)
    credentials = Credentials(environ, demo=not args.real)
    try:
        if args.real and not credentials.token and not credentials.file:
            raise ToolError(f"--real needs the API token in ${TOKEN_ENV} (or a ${CREDENTIALS_ENV} file)")
        try:
            credentials.check()
        except EngineError as error:
            raise ToolError(str(error)) from None
        wasm = build_component()
        task = transpile_component(wasm)
        with ExitStack() as stack:
            try:
                standin = stack.enter_context(running_standin())
            except StandInError as error:
                raise ToolError(str(error)) from error
            engine = Engine(wasm=wasm, real=args.real, standin_url=standin.url, credentials=credentials)
            try:
                server = Server(("127.0.0.1", args.port), engine, static_routes(task))
            except OSError as error:
                raise ToolError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from error
            stack.callback(server.server_close)
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            print(url, flush=True)
            print(f"stand-in: {standin.url}", flush=True)
            print(f"target: {engine.config()['target']}" + ("  (REAL API: accepted requests are billed)" if args.real else ""), flush=True)
            print(f"credentials: {', '.join(credentials.describe()) or 'none'}", flush=True)
            print("Ctrl-C stops the editor, its engine and the stand-in.", flush=True)
            server.serve_forever()
    except ToolError as error:
        print(f"editor: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
