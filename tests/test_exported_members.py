"""Every public package's ``__all__`` names exactly its public members."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_PACKAGES = [
    "resilient_agents",
    "resilient_agents.openai_agents",
    "resilient_agents.engine",
    "resilient_agents.models",
    "resilient_agents.testing",
    "resilient_agents.approvals",
    "resilient_agents.loop",
]


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_lists_public_members(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    public = {
        member
        for member in dir(module)
        if not member.startswith("_") and not isinstance(getattr(module, member), type(importlib))
    }
    public -= {"annotations"}
    assert public - exported == set(), f"public but not in __all__: {sorted(public - exported)}"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member!r}"


def test_import_has_no_side_effects() -> None:
    import resilient_agents

    assert resilient_agents.__version__
