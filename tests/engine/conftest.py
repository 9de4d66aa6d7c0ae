"""Fixtures for the engine tests: one shared restate-server (fail fast, free ports) per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from resilient_agents.engine import EngineConfig, RestateServer

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def restate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestateServer]:
    """A running restate-server on free ports with a fresh data dir, stopped after the module."""
    config = EngineConfig(
        base_dir=tmp_path_factory.mktemp("engine"), ingress_port=0, admin_port=0, node_port=0, fail_fast=True
    )
    server = RestateServer(config).start()
    yield server
    server.stop()
