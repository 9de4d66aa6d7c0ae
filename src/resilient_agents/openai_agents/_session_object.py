"""``session_object``: a Virtual Object per conversation, with sticky agents and readable history.

Private module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import restate
from agents import Agent, AgentHookContext, RunConfig, RunHooks
from agents.items import ModelResponse
from agents.run_context import RunContextWrapper
from pydantic import BaseModel

from resilient_agents._durable import RawBytes
from resilient_agents._history_window import HistoryLimit
from resilient_agents._progress import install as _install_progress_driver
from resilient_agents._usage_state import history_usage, read_usage, write_turn_usage
from resilient_agents.access import SessionAuthorizer, check_session_access
from resilient_agents.errors import ConfigurationError
from resilient_agents.usage import ModelPrice, UsageTally

from ._runner import DurableRunner, _reachable_agents
from ._service import ServiceSettings, answer_value, parse_message
from ._session import (
    CONTEXT_STATE_KEY,
    RestateSession,
    SessionRecord,
    clear_session_state,
    read_session_record,
)
from ._settings import turn_run_config
from ._usage import count_response


def session_object(
    agent: Agent[Any],
    *,
    name: str = "Session",
    agents: Sequence[Agent[Any]] = (),
    run_config: Callable[[], RunConfig] | None = None,
    settings: ServiceSettings | None = None,
    description: str | None = None,
    context: Callable[[str], BaseModel] | None = None,
    authorize: SessionAuthorizer | None = None,
    prices: Mapping[str, ModelPrice] | None = None,
    history_limit: HistoryLimit | None = None,
) -> restate.VirtualObject:
    """Build a Restate Virtual Object that keeps one conversation per object key.

    Handlers (``<key>`` is the session id, e.g. a customer id):

    * ``message`` (exclusive): a user message as a JSON string in, the answer out:
      ``curl localhost:8080/<name>/<key>/message --json '"Hi"'``. One durable turn with
      :meth:`DurableRunner.run` and a :class:`RestateSession`. The agent that spoke last answers the next
      message. Messages to one key run one at a time, in arrival order.
    * ``history`` (shared): the stored conversation as JSON (see :func:`history_json`); it answers at once,
      also while a turn runs or is suspended. Its ``usage`` field holds the tokens of each turn and the
      session's total (see :mod:`resilient_agents.usage`), kept under the state key ``usage``.
    * ``clear`` (exclusive): forget the conversation and the current agent (the usage stays).

    The conversation is stored incrementally (a small head record plus one chunk of items per turn), so a
    turn writes what it adds, not the whole history.

    Args:
        agent: The agent that answers the first message.
        name: The Restate object name.
        agents: More agents that may answer (those reachable from ``agent`` through handoffs are found
            automatically); a stored current agent is looked up by name among all of them.
        run_config: Builds the SDK run configuration for each turn (model provider, model name, tracing).
            Default: the model the environment configures (:mod:`resilient_agents.config`), else the SDK's.
        settings: Input limits, retry settings and the invocation retry policy.
        description: Shown in the Restate UI.
        context: Builds the run context of a new session from its key (a pydantic model, e.g. the
            customer's booking). It is stored in the object's state, handed to every turn of that session
            (``RunContextWrapper.context`` in tools) and saved with the conversation as the turn
            progresses; ``history`` shows it.
        authorize: Who may use a session: ``authorize(key, headers) -> bool`` (e.g.
            :func:`~resilient_agents.access.hmac_session_authorizer`), called first thing in ``message``,
            ``history`` and ``clear``; a refusal (HTTP 401/403) reads and changes nothing. None lets every
            caller of the ingress in.
        prices: Model prices in US dollars per million tokens, for the cost that ``history`` shows; by default
            the table in ``RESILIENT_AGENTS_PRICES`` (see :func:`resilient_agents.usage.load_prices`).
        history_limit: How much of the stored history each turn sends to the model (default
            :class:`~resilient_agents.openai_agents.HistoryLimit` ``()``: the newest 200 items, at most 200,000
            characters, cut at a turn so tool calls keep their outputs). ``history`` still shows everything.

    Returns:
        The Virtual Object; bind it into a ``restate.app``.

    Raises:
        ConfigurationError: When two different agents share a name.
    """
    _install_progress_driver()
    cfg = settings or ServiceSettings()
    registry = agent_registry(agent, agents)
    obj = restate.VirtualObject(
        name,
        description=description or f"Conversations with {agent.name!r}, one per key: POST a JSON string to message.",
        invocation_retry_policy=cfg.retry_policy,
    )

    @obj.handler(name="message", input_serde=RawBytes(), accept="*/*")
    async def message(ctx: restate.ObjectContext, body: bytes) -> Any:
        check_session_access(authorize, ctx.key(), ctx.request().headers)
        text = parse_message(body, cfg.max_message_chars)
        run_context = await load_context(ctx, context)
        return await run_session_turn(
            RestateSession(ctx, run_context=run_context, history_limit=history_limit),
            text,
            registry,
            agent,
            turn_run_config(run_config),
            cfg,
            run_context=run_context,
        )

    @obj.handler(name="history", kind="shared")
    async def history(ctx: restate.ObjectSharedContext) -> dict[str, Any]:
        check_session_access(authorize, ctx.key(), ctx.request().headers)
        answer = history_json(ctx.key(), await read_session_record(ctx), default_agent=agent.name)
        if context is not None:
            answer["context"] = (await load_context(ctx, context)).model_dump(mode="json")  # type: ignore[union-attr]
        answer["usage"] = await history_usage(ctx, prices)
        return answer

    @obj.handler(name="clear")
    async def clear(ctx: restate.ObjectContext) -> None:
        check_session_access(authorize, ctx.key(), ctx.request().headers)
        await clear_session_state(ctx)
        ctx.clear(CONTEXT_STATE_KEY)

    return obj


async def load_context(
    ctx: restate.ObjectSharedContext | restate.ObjectContext, factory: Callable[[str], BaseModel] | None
) -> BaseModel | None:
    """Return the session's stored run context, or a new one from ``factory`` (``None`` without a factory)."""
    if factory is None:
        return None
    fresh = factory(ctx.key())
    stored: Any = await ctx.get(CONTEXT_STATE_KEY, type_hint=dict)
    return fresh if stored is None else type(fresh).model_validate(stored)


def agent_registry(start: Agent[Any], extra: Iterable[Agent[Any]] = ()) -> dict[str, Agent[Any]]:
    """Map agent names to the agents a session may resume with: ``start``, ``extra``, and their handoffs.

    Raises:
        ConfigurationError: When two different agents share a name (the stored name would be ambiguous).
    """
    registry: dict[str, Agent[Any]] = {}
    for root in (start, *extra):
        for found in _reachable_agents(root):
            if not isinstance(found, Agent):
                continue
            known = registry.setdefault(found.name, found)
            if known is not found:
                raise ConfigurationError(
                    f"two different agents are named {found.name!r}; a session resumes the agent that spoke last "
                    "by name, so give every agent a unique name"
                )
    return registry


async def run_session_turn(
    session: RestateSession,
    text: str,
    registry: dict[str, Agent[Any]],
    start: Agent[Any],
    run_config: RunConfig | None,
    settings: ServiceSettings,
    *,
    run_context: Any = None,
) -> Any:
    """Run one turn of a session: resume the agent that spoke last, answer ``text``, record who answered.

    Raises:
        TerminalAgentError: When the SDK gives up on the turn (e.g. too many turns, a tripped guardrail);
            retrying would replay the same journal into the same failure, so the invocation fails at once.
    """
    record = await session.record()
    agent = registry.get(record.current_agent or "", start)
    usage_before = await read_usage(session.context)
    hooks = _SessionHooks(session, run_config)
    await session.begin_turn()
    try:
        result = await DurableRunner.run(
            agent,
            text,
            context=run_context,
            run_config=run_config,
            session=session,
            hooks=hooks,
            settings=settings.durable,
        )
    except restate.TerminalError:  # DurableRunner turns the SDK's failures into TerminalAgentError.
        write_turn_usage(session.context, usage_before, hooks.usage)
        await session.end_turn(None, completed=False)
        raise
    write_turn_usage(session.context, usage_before, hooks.usage)
    await session.end_turn(result.last_agent.name)
    return answer_value(result.final_output)


def history_json(key: str, record: SessionRecord, *, default_agent: str) -> dict[str, Any]:
    """The answer of the ``history`` handler.

    Args:
        key: The session (object key).
        record: The stored conversation.
        default_agent: The agent that answers when no turn has run yet.

    Returns:
        ``{"schema_version": 1, "session": key, "current_agent": name, "turns": n, "turn_running": bool,
        "items": [...], "pending_items": [...]}``; ``items`` are the SDK's input items, oldest first, and
        ``pending_items`` the output of a model response whose tools are still running.
    """
    return {
        "schema_version": record.schema_version,
        "session": key,
        "current_agent": record.current_agent or default_agent,
        "turns": record.turns,
        "turn_running": record.turn_running,
        "items": record.items,
        "pending_items": record.pending_items,
    }


class _SessionHooks(RunHooks[Any]):
    """Keeps the session's current agent and in-progress model output up to date during a run, and counts
    the turn's model usage (``usage``; written by :func:`run_session_turn` at the end of the turn)."""

    def __init__(self, session: RestateSession, run_config: RunConfig | None = None) -> None:
        self._session = session
        self._run_config = run_config
        self.usage = UsageTally()

    async def on_agent_start(self, context: AgentHookContext[Any], agent: Agent[Any]) -> None:
        await self._session.note_agent(agent.name)

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        count_response(self.usage, agent, self._run_config, response)
        items = response.to_input_items()
        # A plain answer is added by the SDK right away; only output that waits for tools is worth a write.
        if any(item.get("type") != "message" for item in items):
            await self._session.set_pending(items)
