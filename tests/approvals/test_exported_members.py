"""``resilient_agents.approvals.__all__`` names exactly its public members; the object, its name and namespace."""

from __future__ import annotations

import types

import pytest

import resilient_agents.approvals as approvals
from resilient_agents.approvals import _object
from resilient_agents.errors import ConfigurationError


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
    assert obj.name == approvals.APPROVALS_OBJECT == approvals.approvals_object_name() == "Approvals"
    assert set(obj.handlers) == {"add", "decide", "conclude", "expire", "list"}
    assert obj.handlers["list"].kind == "shared"
    assert {name for name, handler in obj.handlers.items() if handler.kind == "exclusive"} == {
        "add",
        "decide",
        "conclude",
        "expire",
    }


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if no approvals object had been built in this process yet."""
    monkeypatch.setattr(_object, "_OBJECT", None)
    monkeypatch.setattr(_object, "_ACTIVE_NAME", None)


@pytest.mark.usefixtures("fresh_process")
def test_a_namespace_names_the_object_and_what_await_approval_uses() -> None:
    assert approvals.approvals_object_name() == "Approvals"
    obj = approvals.approvals_object(namespace="acme.shop-1")
    assert obj.name == "acme.shop-1.Approvals"
    assert approvals.approvals_object_name() == "acme.shop-1.Approvals"
    assert approvals.approvals_object(namespace="acme.shop-1") is obj
    assert approvals.approvals_object() is obj  # No preference (durable_app without a namespace): the same one.
    with pytest.raises(ConfigurationError, match=r"already serves its approvals object as 'acme\.shop-1\.Approvals'"):
        approvals.approvals_object(namespace="other")


@pytest.mark.usefixtures("fresh_process")
def test_a_namespace_after_the_default_object_is_refused() -> None:
    assert approvals.approvals_object().name == "Approvals"
    with pytest.raises(ConfigurationError, match=r"cannot also build 'acme\.Approvals'"):
        approvals.approvals_object(namespace="acme")


@pytest.mark.usefixtures("fresh_process")
@pytest.mark.parametrize("namespace", ["a/b", "a:b", "1acme", "a b", "_"])
def test_a_namespace_restate_would_reject_is_refused_at_once(namespace: str) -> None:
    with pytest.raises(ConfigurationError, match="which Restate rejects: use letters, digits"):
        approvals.approvals_object(namespace=namespace)
    assert approvals.approvals_object_name() == "Approvals"  # Nothing was set.


@pytest.mark.parametrize(("namespace", "name"), [(None, "Approvals"), ("", "Approvals"), ("_a", "_a.Approvals")])
def test_registry_names(namespace: str | None, name: str) -> None:
    assert _object.registry_name(namespace) == name
