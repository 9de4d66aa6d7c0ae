"""Who may use a session, and who may decide approvals: checks that run in the handler, before any state is touched.

The Restate ingress accepts any request that reaches it: anyone who can post to ``/BankSession/bob/message``
talks as bob. Put the ingress behind a gateway that authenticates people, and let the gateway (or your app
server) pass a per-session credential that the session object checks:

* **Sessions.** ``loop_session_object(..., authorize=...)`` and ``session_object(..., authorize=...)`` take a
  :data:`SessionAuthorizer`: a function of the session key and the request headers that says whether the
  caller may use that session. :func:`hmac_session_authorizer` is the ready-made one: the caller sends
  ``x-session-token: <HMAC-SHA256(secret, session key)>`` (:func:`session_token` computes it), the secret
  lives in the service's environment (``RESILIENT_AGENTS_SESSION_SECRET`` by default) and in whatever issues
  tokens (your gateway or app server), nowhere else.
* **Approvals.** ``approvals_object(approver_token=...)`` (or ``RESILIENT_AGENTS_APPROVER_TOKEN`` in the
  service's environment) makes ``list`` and ``decide`` require ``x-approver-token: <token>``.

A refused request fails with HTTP 401 (no credential sent) or 403 (a wrong one) as a terminal error: it is
not retried, and nothing was read or written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import restate

__all__ = [
    "APPROVER_TOKEN_ENV",
    "APPROVER_TOKEN_HEADER",
    "SESSION_SECRET_ENV",
    "SESSION_TOKEN_HEADER",
    "SessionAuthorizer",
    "check_approver",
    "check_session_access",
    "header_value",
    "hmac_session_authorizer",
    "session_token",
]

SessionAuthorizer = Callable[[str, Mapping[str, str]], bool]
"""``authorize(session_key, headers) -> bool``: may the caller use this session? May also raise a
``restate.TerminalError`` (e.g. ``status_code=401``) to refuse with its own message. It runs inside the
handler on every attempt and replay, so it must be deterministic and fast: no network calls, no clock."""

SESSION_TOKEN_HEADER = "x-session-token"
"""The request header :func:`hmac_session_authorizer` reads by default."""

SESSION_SECRET_ENV = "RESILIENT_AGENTS_SESSION_SECRET"
"""The environment variable :func:`hmac_session_authorizer` reads the secret from by default."""

APPROVER_TOKEN_HEADER = "x-approver-token"
"""The request header carrying the approver credential to the approvals object's ``list`` and ``decide``."""

APPROVER_TOKEN_ENV = "RESILIENT_AGENTS_APPROVER_TOKEN"
"""The approver credential: read by the approvals object (service side) and sent by
``resilient-agents approvals`` (client side)."""


def _refusal(message: str, status_code: int) -> restate.TerminalError:
    # The Restate SDK is imported only when a request is refused, so the CLI can import this module without it.
    import restate

    return restate.TerminalError(message, status_code=status_code)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Return the value of header ``name`` (case-insensitive), or None when it is absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def session_token(secret: str | bytes, session_key: str) -> str:
    """The token that :func:`hmac_session_authorizer` accepts for ``session_key``: hex HMAC-SHA256.

    Issue it where people are authenticated (your gateway or app server), for the session key of that person.

    Args:
        secret: The shared secret (the service's ``RESILIENT_AGENTS_SESSION_SECRET``).
        session_key: The session's object key, e.g. the customer id.

    Returns:
        64 hex characters.
    """
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, session_key.encode(), hashlib.sha256).hexdigest()


def hmac_session_authorizer(
    secret: str | bytes | None = None,
    *,
    secret_env: str = SESSION_SECRET_ENV,
    header: str = SESSION_TOKEN_HEADER,
) -> SessionAuthorizer:
    """An authorizer that accepts a request whose ``header`` holds ``session_token(secret, session_key)``.

    So a token opens exactly one session: bob's token does not open alice's.

    Args:
        secret: The secret; None reads ``secret_env`` from the serving process's environment at each check.
            With neither, every request is refused (fail closed) with a message that names the variable.
        secret_env: The environment variable holding the secret when ``secret`` is None.
        header: The request header carrying the token.

    Returns:
        The authorizer, for ``authorize=``.
    """

    def authorize(session_key: str, headers: Mapping[str, str]) -> bool:
        key = secret if secret is not None else os.environ.get(secret_env)
        if not key:
            raise _refusal(f"session access is not configured: set {secret_env} in the service's environment", 403)
        sent = header_value(headers, header)
        if sent is None:
            raise _refusal(
                f"session {session_key!r} needs a {header} header (the session token your gateway issues)", 401
            )
        return hmac.compare_digest(sent.strip().lower(), session_token(key, session_key))

    return authorize


def check_session_access(authorize: SessionAuthorizer | None, session_key: str, headers: Mapping[str, str]) -> None:
    """Refuse the request unless ``authorize`` allows the caller to use ``session_key``; call it first thing.

    Args:
        authorize: The check; None allows everyone.
        session_key: The session's object key.
        headers: The invocation's request headers (``ctx.request().headers``).

    Raises:
        restate.TerminalError: 403 when refused (or whatever the authorizer raised, e.g. 401).
    """
    if authorize is None:
        return
    if not authorize(session_key, headers):
        raise _refusal(f"not allowed to use session {session_key!r}", 403)


def check_approver(token: str | None, headers: Mapping[str, str], *, what: str) -> None:
    """Refuse the request unless it carries the approver credential ``token`` (None: no check).

    Args:
        token: The configured credential; None or empty leaves the handler open.
        headers: The invocation's request headers.
        what: What is refused, for the message (e.g. ``"Approvals/default/list"``).

    Raises:
        restate.TerminalError: 401 without the header, 403 with a wrong one.
    """
    if not token:
        return
    sent = header_value(headers, APPROVER_TOKEN_HEADER)
    if sent is None:
        raise _refusal(
            f"{what} needs the approver credential: send it as {APPROVER_TOKEN_HEADER} "
            f"(`resilient-agents approvals` sends ${APPROVER_TOKEN_ENV})",
            401,
        )
    if not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise _refusal(f"{what}: wrong approver credential", 403)
