"""Finding approvals across tenants and namespaces with the engine's admin SQL. Private module (for the CLI).

Each tenant is its own key of an approvals object (``Approvals`` or ``<namespace>.Approvals``), so a person
who wants to see everything waiting reads the engine's ``state`` table rather than calling every key: one
query over the ``pending:<id>`` entries of every approvals object. Decisions still go through the object's
``decide`` handler over the ingress, which is what refuses late ones.
"""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError

from resilient_agents.engine.admin import query

from ._types import APPROVALS_OBJECT, DECIDED_PREFIX, PENDING_PREFIX, PendingApproval, registry_name


@dataclasses.dataclass(frozen=True)
class ListedApproval:
    """A pending approval and where it is kept."""

    registry: str
    """The approvals object's name (``Approvals`` or ``<namespace>.Approvals``)."""
    tenant: str
    """The object key (tenant) it is listed under."""
    approval: PendingApproval
    """The request."""


@dataclasses.dataclass(frozen=True)
class Location:
    """Where an approval id is known: pending there, or remembered as ended."""

    registry: str
    """The approvals object's name."""
    tenant: str
    """The object key (tenant)."""
    pending: bool
    """Whether it is still pending there (otherwise it ended recently)."""


def list_pending(admin_url: str, *, namespace: str | None = None, tenant: str | None = None) -> list[ListedApproval]:
    """All pending approvals of every approvals object (or of one namespace / tenant), oldest first.

    Args:
        admin_url: The Restate admin API base URL.
        namespace: Only ``<namespace>.Approvals``; ``None``: ``Approvals`` and every ``*.Approvals``.
        tenant: Only this tenant.

    Raises:
        EngineError: The admin API is unreachable or rejected the query.
        ConfigurationError: The namespace is not a valid one.
    """
    rows = query(
        admin_url,
        "SELECT service_name, service_key, value_utf8 FROM state "
        f"WHERE {_where(namespace, tenant)} AND key LIKE {_literal(PENDING_PREFIX + '%')}",
    )
    listed: list[ListedApproval] = []
    for row in rows:
        try:
            approval = PendingApproval.model_validate_json(str(row["value_utf8"]))
        except ValidationError:
            continue  # Not one of ours: another service that happens to end in ".Approvals".
        listed.append(ListedApproval(str(row["service_name"]), str(row["service_key"]), approval))
    return sorted(listed, key=lambda item: (item.approval.created_at_ms, item.approval.id, item.tenant))


def locate(
    admin_url: str, approval_id: str, *, namespace: str | None = None, tenant: str | None = None
) -> list[Location]:
    """Where the approval ``approval_id`` (an exact id) is pending or was recently ended.

    Args:
        admin_url: The Restate admin API base URL.
        approval_id: The id, exactly.
        namespace: Only ``<namespace>.Approvals``.
        tenant: Only this tenant.

    Raises:
        EngineError: The admin API is unreachable or rejected the query.
        ConfigurationError: The namespace is not a valid one.
    """
    keys = ", ".join(_literal(prefix + approval_id) for prefix in (PENDING_PREFIX, DECIDED_PREFIX))
    rows = query(
        admin_url,
        f"SELECT service_name, service_key, key FROM state WHERE {_where(namespace, tenant)} AND key IN ({keys})",
    )
    found: dict[tuple[str, str], bool] = {}
    for row in rows:
        place = (str(row["service_name"]), str(row["service_key"]))
        found[place] = found.get(place, False) or str(row["key"]).startswith(PENDING_PREFIX)
    return [Location(registry, key, pending) for (registry, key), pending in sorted(found.items())]


def _where(namespace: str | None, tenant: str | None) -> str:
    if namespace:
        clause = f"service_name = {_literal(registry_name(namespace))}"
    else:
        clause = (
            f"(service_name = {_literal(APPROVALS_OBJECT)} OR service_name LIKE {_literal('%.' + APPROVALS_OBJECT)})"
        )
    if tenant is not None:
        clause += f" AND service_key = {_literal(tenant)}"
    return clause


def _literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
