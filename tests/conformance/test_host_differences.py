"""Where the hosts differ, written down and held: each row of tests/kit/differences.py (the
README's table of host differences) is asserted here, in every host."""

from __future__ import annotations

import pytest

from kit.differences import DIFFERENCES
from kit.hostile import HostileServer
from test_adversarial import CASES, CONNECT_S, DEADLINE_S, READ_S

@pytest.fixture(scope="module")
def server():
    with HostileServer({name: CASES[name].attack for name in DIFFERENCES}) as server:
        yield server


@pytest.mark.parametrize("name", list(DIFFERENCES))
def test_a_known_host_difference_holds(harness, server, name):
    why, expected = DIFFERENCES[name]
    if harness.host not in expected:
        pytest.skip(f"{harness.host} is not one of the project's hosts")
    seen = []
    for function in ("test_request", "execute"):
        call = harness.prepare(url=server.url_for(name), connect_timeout=CONNECT_S, read_timeout=READ_S, deadline=DEADLINE_S, if_exists="fail")
        result = harness.call(function, call, posts=None, issued_by=server.issued)
        if function == "test_request":
            seen.append(result["outcome"])
        else:
            seen.append("Ok" if "ok" in result else result["err"]["kind"])
    assert tuple(seen) == expected[harness.host], f"{name} ({why})"
