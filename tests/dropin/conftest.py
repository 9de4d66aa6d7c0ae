"""Run the programs in ``programs/`` as their users would: ``python plain/x.py`` and
``python -m resilient_agents.run durable/x.py``, against one engine per test module and a model server per run."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.engine import EngineConfig, RestateServer, query
from resilient_agents.models import ModelServer

from .examples_model import ExamplesModel

PROGRAMS_DIR = Path(__file__).parent / "programs"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private bytecode cache for the programs' processes: importing the Agents SDK uncompiled takes seconds."""
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestateServer]:
    """One restate-server for all durable runs of a test module (given to them as RESTATE_ADMIN_URL/INGRESS_URL)."""
    config = EngineConfig(base_dir=tmp_path_factory.mktemp("engine"), ingress_port=0, admin_port=0, node_port=0)
    with RestateServer(config) as server:
        yield server


@dataclasses.dataclass
class Outcome:
    """What one run of a program did."""

    stdout: str
    stderr: str
    returncode: int
    requests: list[dict[str, Any]]
    """The model request bodies, in arrival order."""
    effects: collections.Counter[str]
    """How often each tool's side effect happened (marker files)."""


class Programs:
    """Starts the programs with the environment they need; one instance per test."""

    def __init__(self, tmp_path: Path, pycache: Path, engine: RestateServer | None) -> None:
        self.tmp_path = tmp_path
        self.pycache = pycache
        self.engine = engine
        self.markers = tmp_path / "markers"
        self.data_dir = tmp_path / "run-state"

    def env(self, server: ModelServer) -> dict[str, str]:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "test-key-not-secret",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "MARKER_DIR": str(self.markers),
            "PYTHONPYCACHEPREFIX": str(self.pycache),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.engine is not None:
            env["RESTATE_ADMIN_URL"] = self.engine.admin_url
            env["RESTATE_INGRESS_URL"] = self.engine.ingress_url
        return env

    def command(self, copy: str, name: str) -> list[str]:
        script = PROGRAMS_DIR / copy / f"{name}.py"
        if copy == "plain":
            return [sys.executable, str(script)]
        return [sys.executable, "-m", "resilient_agents.run", "--data-dir", str(self.data_dir), str(script)]

    def start(self, copy: str, name: str, server: ModelServer) -> subprocess.Popen[str]:
        self.markers.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            self.command(copy, name),
            env=self.env(server),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, copy: str, name: str, server: ModelServer | None = None) -> Outcome:
        """Run a program to its end on ``server`` (a fresh model server when None)."""
        own = server is None
        server = server or ModelServer(ExamplesModel()).start()
        try:
            process = self.start(copy, name, server)
            stdout, stderr = process.communicate(timeout=150)
            return Outcome(stdout, stderr, process.returncode, bodies(server), self.effects())
        finally:
            if own:
                server.stop()

    def effects(self) -> collections.Counter[str]:
        if not self.markers.exists():
            return collections.Counter()
        return collections.Counter(path.name.rsplit("-", 1)[0] for path in self.markers.iterdir())


def bodies(server: ModelServer) -> list[dict[str, Any]]:
    return [request.body for request in server.requests]


_ID = re.compile(r"\b(resp|msg|fc|call)_\d{4}\b")


def normalized(bodies: list[dict[str, Any]]) -> list[str]:
    """Request bodies as sorted JSON texts with the server's counter ids blanked (concurrent requests take ids in
    arrival order, which differs from run to run), for comparing runs whose requests overlap in time."""
    return sorted(_ID.sub("<id>", json.dumps(body, sort_keys=True, ensure_ascii=False)) for body in bodies)


def finished_steps(engine: RestateServer, invocation_id: str) -> int:
    """How many steps of an invocation have their result journaled (``Notification: Run`` entries; the
    ``Command: Run`` entry with the step's name is written when the step starts)."""
    rows = query(
        engine.admin_url,
        f"SELECT count(*) AS n FROM sys_journal WHERE id = '{invocation_id}' AND entry_type = 'Notification: Run'",
    )
    return int(rows[0]["n"]) if rows else 0


@pytest.fixture
def programs(tmp_path: Path, pycache: Path, engine: RestateServer) -> Programs:
    return Programs(tmp_path, pycache, engine)
