"""The artifact every host runs (scripts/build): its size under the ceiling, and its imports
exactly what the README and wit/world.wit say a host must provide."""

import re

from kit.paths import WASM

#: A ceiling, not a target: bytes are not worth hand-written copies of well-kept libraries.
CEILING = 512 * 1024


def test_the_artifact_stays_under_its_ceiling():
    size = WASM.stat().st_size
    assert size <= CEILING, f"the component is {size} bytes ({size / 1024:.1f} KiB)"


def test_component_imports_only_what_the_world_allows():
    data = WASM.read_bytes()
    imports = set(re.findall(rb"wasi:[a-z-]+/[a-z-]+@[0-9.]+", data))
    interfaces = {i.split(b"@")[0].decode() for i in imports}
    assert "wasi:http/outgoing-handler" in interfaces
    allowed = ("wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:cli/", "wasi:http/types", "wasi:http/outgoing-handler")
    assert all(i.startswith(allowed) for i in interfaces), interfaces
    assert not any(i.startswith(("wasi:filesystem", "wasi:sockets")) for i in interfaces)
