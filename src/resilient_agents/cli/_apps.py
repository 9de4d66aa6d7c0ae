"""Which app the CLI means: a ``module:attribute`` spec, or a short name from the project's pyproject.toml.

Private module. It imports nothing heavy (no app, no Agents SDK, no Restate SDK), so ``chat``, ``status``,
``sessions`` and ``approvals`` start fast. A project names its apps in ``pyproject.toml``::

    [tool.resilient-agents]
    default-app = "shop"

    [tool.resilient-agents.apps.shop]
    app = "shop.agent:app"                     # module:attribute (or module: attribute "app")
    examples = ["Do you have red shoes?"]      # messages `up` suggests
    chat = "ShopSession/message"               # optional: the handler `chat` talks to
    demo-rules = "shop.demo:DEMO_RULES"        # optional: offline demo model rules
    demo-templates = "shop.demo:DEMO_TEMPLATES"  # optional: offline demo model answer templates
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

from resilient_agents.errors import ConfigurationError

STATE_FILE = "up.json"
"""The file ``up`` writes into its data directory: URLs, pids, the app and its services."""
DATA_DIR = ".restate"
"""The default data directory of ``up``, inside the project root."""
TOOL_TABLE = "resilient-agents"
"""The ``[tool.<name>]`` table of pyproject.toml that configures the CLI."""


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """An app ``up`` can serve, with what the project's configuration says about it."""

    name: str
    """The short name (``weather``), or the spec itself for an app that is not configured."""
    spec: str
    """The Restate app as ``module:attribute`` (or ``path/to/file.py:attribute``)."""
    examples: tuple[str, ...] = ()
    """Messages to try, shown by ``up``."""
    chat: str | None = None
    """``Service/handler`` that ``chat`` talks to; None: found from the app's services."""
    demo_rules: str | None = None
    """``module:attribute`` of a sequence of extra offline-demo-model rules (imported by ``up`` only)."""
    demo_templates: str | None = None
    """``module:attribute`` of a dict of offline-demo-model answer templates per tool (imported by ``up`` only)."""
    configured: bool = False
    """Whether the app comes from ``[tool.resilient-agents.apps.<name>]``."""


@dataclasses.dataclass(frozen=True)
class Project:
    """The project the CLI runs in: its root directory and the apps its pyproject.toml names."""

    root: Path
    """Where ``.restate`` data lives: the directory of the nearest pyproject.toml, else the cwd."""
    pyproject: Path | None = None
    """The pyproject.toml read, if any."""
    apps: dict[str, AppConfig] = dataclasses.field(default_factory=dict)
    """The configured apps by short name."""
    default_app: str | None = None
    """``default-app`` of the configuration, if set."""

    @property
    def data_dir(self) -> Path:
        """The default data directory of ``up`` (``<root>/.restate``)."""
        return self.root / DATA_DIR

    def resolve(self, name_or_spec: str | None) -> AppConfig:
        """The app for a configured short name or a ``module:attribute`` / ``module`` spec.

        Args:
            name_or_spec: A name from ``[tool.resilient-agents.apps]``, a spec, or None for the default app
                (``default-app``, else the only configured app).

        Raises:
            ConfigurationError: No app was given and none is configured as the default, or the name is neither
                configured nor an importable module.
        """
        if name_or_spec is None:
            default = self.default_app or (next(iter(self.apps)) if len(self.apps) == 1 else None)
            if default is None:
                raise ConfigurationError(f"which app? give one: {self._choices()}")
            name_or_spec = default
        if name_or_spec in self.apps:
            return self.apps[name_or_spec]
        if ":" in name_or_spec or "." in name_or_spec or "/" in name_or_spec:
            return AppConfig(name=name_or_spec, spec=_normalize_spec(name_or_spec))
        if _module_exists(name_or_spec, self.root):
            return AppConfig(name=name_or_spec, spec=f"{name_or_spec}:app")
        raise ConfigurationError(f"unknown app {name_or_spec!r}: {self._choices()}")

    def _choices(self) -> str:
        where = f" in {self.pyproject}" if self.pyproject else ""
        names = ", ".join(sorted(self.apps))
        named = f"one of {names} (configured{where}), or " if names else ""
        return (
            f"use {named}a 'module:attribute' spec of a Restate app (or 'module' for its attribute 'app'); "
            f"name apps in [tool.{TOOL_TABLE}.apps.<name>] of pyproject.toml"
        )


def load_project(start: Path | None = None) -> Project:
    """Read the nearest pyproject.toml from ``start`` (default: the cwd) upwards.

    Raises:
        ConfigurationError: The pyproject.toml cannot be parsed, or its ``[tool.resilient-agents]`` table is
            malformed (the message names the key).
    """
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        path = directory / "pyproject.toml"
        if path.is_file():
            return _read_project(path)
    return Project(root=here)


def find_project_root(start: Path | None = None) -> Path:
    """The project root (directory of the nearest pyproject.toml, else ``start`` or the cwd); never raises."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return here


def _read_project(path: Path) -> Project:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read {str(path)!r}: {error}; fix the file") from error
    table: Any = document.get("tool", {}).get(TOOL_TABLE, {})
    where = f"[tool.{TOOL_TABLE}] of {path}"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table")
    apps_table: Any = table.get("apps", {})
    if not isinstance(apps_table, dict):
        raise ConfigurationError(f"{where}: 'apps' must be a table of [tool.{TOOL_TABLE}.apps.<name>] tables")
    apps = {str(name): _read_app(str(name), entry, path) for name, entry in apps_table.items()}
    default = table.get("default-app")
    if default is not None and (not isinstance(default, str) or default not in apps):
        raise ConfigurationError(
            f"{where}: default-app = {default!r} names no app; use one of {', '.join(sorted(apps)) or '(none)'}"
        )
    return Project(root=path.parent, pyproject=path, apps=apps, default_app=default)


_APP_KEYS = {"app", "examples", "chat", "demo-rules", "demo-templates"}


def _read_app(name: str, entry: Any, path: Path) -> AppConfig:
    where = f"[tool.{TOOL_TABLE}.apps.{name}] of {path}"
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where} must be a table with at least app = 'module:attribute'")
    unknown = sorted(set(entry) - _APP_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_APP_KEYS))}")
    spec = entry.get("app")
    if not isinstance(spec, str) or not spec:
        raise ConfigurationError(f"{where}: set app = 'module:attribute' (the Restate app object)")
    examples = entry.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise ConfigurationError(f"{where}: examples must be a list of strings")
    values = {key: entry.get(key) for key in ("chat", "demo-rules", "demo-templates")}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{where}: {key} must be a string")
    return AppConfig(
        name=name,
        spec=_normalize_spec(spec),
        examples=tuple(examples),
        chat=values["chat"],
        demo_rules=values["demo-rules"],
        demo_templates=values["demo-templates"],
        configured=True,
    )


def _normalize_spec(spec: str) -> str:
    """``module`` means ``module:app`` (a file path keeps its own default)."""
    return spec if ":" in spec or spec.endswith(".py") else f"{spec}:app"


def _module_exists(name: str, root: Path) -> bool:
    """Whether the top-level module ``name`` is importable from ``root`` or sys.path, without importing it."""
    if not name.isidentifier():
        return False
    if (root / f"{name}.py").is_file() or (root / name / "__init__.py").is_file():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def read_up_state(data_dir: Path) -> dict[str, Any]:
    """What ``up`` wrote into ``data_dir`` (empty when there is no readable state file).

    With ``--cluster``, ``ingress_url`` and ``admin_url`` are node-1's; when node-1 does not accept connections
    (killed, and ``up`` is restarting it), they are those of the first node that does, so the CLI keeps working
    while a node is down.
    """
    try:
        state: Any = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict):
        return {}
    found: dict[str, Any] = state
    nodes = found.get("cluster")
    if isinstance(nodes, list) and nodes and not _accepts_connections(found.get("ingress_url")):
        live = next((n for n in nodes if isinstance(n, dict) and _accepts_connections(n.get("ingress_url"))), None)
        if live is not None:
            found = {**found, "ingress_url": live.get("ingress_url"), "admin_url": live.get("admin_url")}
    return found


def _accepts_connections(url: object) -> bool:
    """Whether something listens at the host and port of ``url`` (a TCP connect, nothing sent)."""
    from resilient_agents.engine.ports import port_accepts  # Only with a cluster: the CLI starts without the engine.

    if not isinstance(url, str):
        return False
    parsed = urllib.parse.urlsplit(url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return False
    return port_accepts(parsed.hostname or "127.0.0.1", port)


def load_demo_rules(app: AppConfig) -> list[Any]:
    """Import the app's extra demo-model rules (``demo-rules``), or return none. Used by ``up`` only.

    Raises:
        ConfigurationError: When the rules cannot be imported.
    """
    return list(_load(app, app.demo_rules) or [])


def load_demo_templates(app: AppConfig) -> dict[str, str]:
    """Import the app's demo-model answer templates (``demo-templates``), or return none. Used by ``up`` only.

    Raises:
        ConfigurationError: When the templates cannot be imported.
    """
    return dict(_load(app, app.demo_templates) or {})


def _load(app: AppConfig, spec: str | None) -> Any:
    if spec is None:
        return None
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute or "app")
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(
            f"cannot load {spec!r} for the demo model of app {app.name!r}: {error}; fix demo-rules / "
            f"demo-templates in [tool.{TOOL_TABLE}.apps.{app.name}] of pyproject.toml"
        ) from error


def running_up_state(data_dir: Path) -> dict[str, Any]:
    """The state file of a running ``up`` (empty when there is none, or the ``up`` that wrote it is gone)."""
    state = read_up_state(data_dir)
    try:
        pid = int(state["pid"])
    except (KeyError, TypeError, ValueError):
        return {}
    try:
        os.kill(pid, 0)  # Signal 0 only checks that the process exists.
    except ProcessLookupError:
        return {}  # Left behind by an `up` that was killed.
    except PermissionError:
        pass  # It exists, run by another user.
    return state
