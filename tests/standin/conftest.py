"""Tests of the stand-in itself (standin/standin.py): its CLI, its documented behaviour, and
every answer against DigitalOcean's API description (fixtures/openapi/dedicated-inferences.json).
They need neither the component nor the network: `.venv/bin/python -m pytest tests/standin -q`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin_client import Api, running, unlimited  # noqa: E402


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A stand-in for the module, with the default settings except the rate limits."""
    with running(*unlimited()) as client:
        yield client
