"""With ``up --cluster``, the CLI reads node-1's URLs from ``up.json``; while node-1 is down it uses a live node."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilient_agents.cli._apps import STATE_FILE, read_up_state


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def _node(name: str, port: int) -> dict[str, object]:
    return {"node": name, "ingress_url": f"http://127.0.0.1:{port}", "admin_url": f"http://127.0.0.1:{port + 1}"}


def _write(data_dir: Path, nodes: list[dict[str, object]], *, cluster: bool = True) -> None:
    state: dict[str, object] = {"ingress_url": nodes[0]["ingress_url"], "admin_url": nodes[0]["admin_url"]}
    if cluster:
        state["cluster"] = nodes
    (data_dir / STATE_FILE).write_text(json.dumps(state))


def test_a_dead_first_node_is_passed_over_for_a_live_one(tmp_path: Path, listening: socket.socket) -> None:
    live_port = int(listening.getsockname()[1])
    nodes = [_node("node-1", _closed_port()), _node("node-2", live_port), _node("node-3", _closed_port())]
    _write(tmp_path, nodes)
    state = read_up_state(tmp_path)
    assert state["ingress_url"] == f"http://127.0.0.1:{live_port}"
    assert state["admin_url"] == f"http://127.0.0.1:{live_port + 1}"
    assert state["cluster"] == nodes


def test_a_live_first_node_and_a_single_node_are_read_as_written(tmp_path: Path, listening: socket.socket) -> None:
    first = _node("node-1", int(listening.getsockname()[1]))
    _write(tmp_path, [first, _node("node-2", _closed_port())])
    assert read_up_state(tmp_path)["ingress_url"] == first["ingress_url"]

    dead = _node("node-1", _closed_port())  # Without a cluster there is nothing else to try.
    _write(tmp_path, [dead], cluster=False)
    assert read_up_state(tmp_path)["ingress_url"] == dead["ingress_url"]

    _write(tmp_path, [dead, _node("node-2", _closed_port())])  # Nobody answers: node-1 stays, errors name it.
    assert read_up_state(tmp_path)["ingress_url"] == dead["ingress_url"]
