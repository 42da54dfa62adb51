"""A hostile HTTP server on a raw socket: it reads each request whole, records it, then answers
with a scripted attack chosen by the request's path (`/attack/<name>`): any bytes, at any pace,
cut, reset or never finished. It is what an API, a proxy or an attacker in between could send,
not what an HTTP library would let a server write.

    with HostileServer(ATTACKS) as server:
        server.url_for("status-999")   # http://127.0.0.1:<port>/attack/status-999
        server.requests(call_id)       # what it received for that call
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def token(self) -> str:
        """The credential of the Authorization header (what went on the wire)."""
        return self.headers.get("authorization", "").partition(" ")[2]

    @property
    def access_token(self) -> str:
        try:
            return json.loads(self.body)["access_tokens"]["hugging_face_token"]
        except (ValueError, KeyError, TypeError):
            return ""


@dataclass
class Wire:
    """What an attack does to the connection."""

    sock: socket.socket
    #: Records a token the attack made up, for the call the request belongs to.
    record: Callable[[str], None]
    #: Secrets the attack made up (tokens "returned once"), in order: the oracle checks them.
    issued: list[str] = field(default_factory=list)

    def issue(self, token: str) -> str:
        """A token the attack is about to send as the one the API returns once: recorded at
        once, under the server's lock, before a byte of the answer goes out, so that the
        check never runs without it (even if the client hangs up mid-answer)."""
        self.record(token)
        self.issued.append(token)
        return token

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def drip(self, data: bytes, every_s: float, chunk: int = 1) -> None:
        for i in range(0, len(data), chunk):
            self.send(data[i : i + chunk])
            time.sleep(every_s)

    def reset(self) -> None:
        """Ends the connection with a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Attack = Callable[[Wire, Request], None]


def head(status: str, headers: Iterable[tuple[str, str]] = (), body: bytes | None = None) -> bytes:
    """A status line and headers (with a Content-Length when `body` is given) and the body."""
    lines = [f"HTTP/1.1 {status}", *(f"{n}: {v}" for n, v in headers)]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class HostileServer:
    def __init__(self, attacks: dict[str, Attack]) -> None:
        self.attacks = attacks
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._requests: dict[str, list[Request]] = {}
        self._issued: dict[str, list[str]] = {}
        self._stopped = False

    def url_for(self, attack: str) -> str:
        return f"http://127.0.0.1:{self.port}/attack/{quote(attack, safe='')}"

    def requests(self, call_id: str) -> list[Request]:
        with self._lock:
            return list(self._requests.get(call_id, []))

    def issued(self, call_id: str) -> list[str]:
        with self._lock:
            return list(self._issued.get(call_id, []))

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._serve, name="hostile", daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stopped = True
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        try:
            request = read_request(sock)
            if request is None:
                return
            call_id = request.headers.get("x-call-id", "")

            def record(token: str) -> None:
                with self._lock:
                    self._issued.setdefault(call_id, []).append(token)

            wire = Wire(sock, record)
            with self._lock:
                self._requests.setdefault(call_id, []).append(request)
            attack = self.attacks.get(unquote(request.path.removeprefix("/attack/")))
            if attack is None:
                wire.send(head("404 Not Found", body=b"no such attack"))
            else:
                attack(wire, request)
        except OSError:
            pass  # the client gave up (a timeout fired): what an attack wants
        finally:
            try:
                sock.close()
            except OSError:
                pass


def read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path.split("?")[0], headers, body)
