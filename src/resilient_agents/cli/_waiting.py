"""Invocations that are waiting to retry, told in words: what failed, which attempt, when the next try is.

Private module, used by ``resilient-agents status``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

WAITING_SQL = (
    "SELECT id, target, status, retry_count, next_retry_at, last_failure, last_failure_related_command_name "
    "FROM sys_invocation WHERE status IN ('backing-off', 'running', 'suspended') AND retry_count > 0 "
    "ORDER BY created_at"
)


def describe_waiting(row: dict[str, Any], now: _dt.datetime | None = None) -> str:
    """One line for an invocation that is retrying, e.g. a model call during a provider outage.

    Example: ``inv_1ab Agent/run: waiting for the model (llm: WeatherAgent #1): attempt 4, next try in 3.2 s,
    last error: ModelUnavailableError('model request from api.openai.com failed with HTTP 503: ...')``.
    """
    step = str(row.get("last_failure_related_command_name") or "")
    what = "waiting for the model" if step.startswith("llm:") else "retrying"
    where = f" ({step})" if step else ""
    attempt = int(row.get("retry_count") or 0) + 1
    when = _next_try(row.get("next_retry_at"), now or _dt.datetime.now(_dt.UTC))
    error = str(row.get("last_failure") or "unknown").strip().splitlines()[0][:300]
    return f"{row.get('id')} {row.get('target')}: {what}{where}: attempt {attempt}, {when}, last error: {error}"


def _next_try(value: Any, now: _dt.datetime) -> str:
    if not value:
        return "running now"
    try:
        at = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return f"next try at {value}"
    if at.tzinfo is None:
        at = at.replace(tzinfo=_dt.UTC)
    seconds = (at - now).total_seconds()
    return f"next try in {seconds:.1f} s" if seconds > 0 else "next try now"
