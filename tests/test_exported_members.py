"""The public API, checked once: every public module's ``__all__`` names exactly its public members, and no
exported name equals an exported name of the Agents SDK (``agents.__all__``), so ``from agents import *`` next to
``from resilient_agents.x import *`` never shadows anything.

``resilient_agents.openai_agents.sdk`` is the deliberate exception: it mirrors ``agents`` name for name.
"""

from __future__ import annotations

import importlib
import types

import pytest

PUBLIC_MODULES = [
    "resilient_agents",
    "resilient_agents.access",
    "resilient_agents.approvals",
    "resilient_agents.config",
    "resilient_agents.engine",
    "resilient_agents.engine.identity",
    "resilient_agents.errors",
    "resilient_agents.loop",
    "resilient_agents.models",
    "resilient_agents.openai_agents",
    "resilient_agents.run",
    "resilient_agents.streams",
    "resilient_agents.testing",
    "resilient_agents.traceview",
    "resilient_agents.usage",
]
MIRRORS_AGENTS = "resilient_agents.openai_agents.sdk"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_public_members(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    public = {
        member
        for member in dir(module)
        if not member.startswith("_")
        and not isinstance(getattr(module, member), type(importlib))
        and _ours(getattr(module, member))
        and not _imported_helper(module, getattr(module, member))
    }
    public -= {"annotations", "TYPE_CHECKING"}
    assert public - exported == set(), f"public but not in __all__: {sorted(public - exported)}"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member!r}"


def _ours(value: object) -> bool:
    """Whether ``value`` is defined by us (constants count); imported helpers such as ``typing.Any`` are not."""
    return str(getattr(value, "__module__", "resilient_agents")).split(".")[0] == "resilient_agents"


def _imported_helper(module: types.ModuleType, value: object) -> bool:
    """A name a plain module (not a package) imports from another of our modules to use, not to export."""
    defined_in = getattr(value, "__module__", None)
    return not hasattr(module, "__path__") and defined_in is not None and defined_in != module.__name__


def test_no_exported_name_shadows_the_agents_sdk() -> None:
    import agents

    theirs = {name for name in agents.__all__ if not name.startswith("__")}
    clashes = {
        name: sorted(set(importlib.import_module(name).__all__) & theirs)
        for name in PUBLIC_MODULES
        if set(importlib.import_module(name).__all__) & theirs
    }
    assert clashes == {}


def test_the_drop_in_module_mirrors_every_agents_name() -> None:
    import agents

    sdk = importlib.import_module(MIRRORS_AGENTS)
    assert set(agents.__all__) <= set(sdk.__all__)


def test_import_has_no_side_effects() -> None:
    import resilient_agents

    assert resilient_agents.__version__
