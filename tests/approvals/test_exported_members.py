"""``resilient_agents.approvals.__all__`` names exactly its public members."""

from __future__ import annotations

import types

import resilient_agents.approvals as approvals


def test_all_lists_public_members() -> None:
    exported = set(approvals.__all__)
    assert len(exported) == len(approvals.__all__), "duplicates in __all__"
    public = {
        name
        for name in dir(approvals)
        if not name.startswith("_") and not isinstance(getattr(approvals, name), types.ModuleType)
    } - {"annotations"}
    assert public == exported


def test_approvals_object_is_one_object_with_its_handlers() -> None:
    obj = approvals.approvals_object()
    assert obj is approvals.approvals_object()
    assert obj.name == approvals.APPROVALS_OBJECT == "Approvals"
    assert set(obj.handlers) == {"add", "remove", "expire", "list"}
    assert obj.handlers["list"].kind == "shared"
