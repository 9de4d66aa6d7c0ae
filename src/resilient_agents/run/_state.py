"""What a durable script run keeps between runs, in ``<data dir>/run.json``. Private module.

The file holds the ports (the engine's, when we run it, and the script's service port: an invocation is pinned
to the deployment it started on, so a re-run must serve at the same URL) and, per script and arguments, the
generation of the current run and whether it finished. A run that did not finish is re-attached by the next
run of the same command; a finished one makes the next run a new generation (a new idempotency key).
"""

from __future__ import annotations

import hashlib
import json
import typing
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "run.json"


class EngineRecord(BaseModel):
    """The engine a data dir's runs use when no engine is configured."""

    model_config = ConfigDict(extra="forbid")

    ingress_port: int
    admin_port: int
    node_port: int
    pid: int | None = None
    """The engine process of the latest run; still alive after that run was killed."""


class RunRecord(BaseModel):
    """The latest run of one script with one set of arguments."""

    model_config = ConfigDict(extra="forbid")

    generation: int = 1
    """Counts the runs of this command; part of the idempotency key."""
    done: bool = False
    """Whether the invocation finished (successfully or not); the next run starts a new generation."""
    invocation_id: str | None = None
    """The engine's id of the invocation, once known."""


class RunFile(BaseModel):
    """The whole ``run.json`` (versioned: written by one release, read by the next)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: typing.Literal[1] = 1
    engine: EngineRecord | None = None
    service_port: int | None = None
    runs: dict[str, RunRecord] = Field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> RunFile:
        path = data_dir / STATE_FILE
        if not path.exists():
            return cls()
        return cls.model_validate_json(path.read_text())

    def save(self, data_dir: Path) -> None:
        """Write the file whole and rename it, so a kill -9 never leaves half a file."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / STATE_FILE
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.model_dump_json(indent=2))
        partial.replace(path)


def command_id(script: Path, args: typing.Sequence[str], function: str, data_dir: Path) -> str:
    """A stable id of one command: the script's path, its arguments, the function run and the data dir."""
    text = json.dumps([str(script), list(args), function, str(data_dir)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
