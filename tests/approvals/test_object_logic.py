"""The ``Approvals`` object's handlers on an in-memory context: who wins when a decision and a timeout meet.

On the engine the object's exclusive handlers run one at a time per tenant; here they run in the order a test
chooses, which makes the orderings that are races on a real machine deterministic.
"""

from __future__ import annotations

from typing import Any

import pytest
import restate

from resilient_agents.approvals import ApprovalDecision, DecidedApproval, DecideRequest, PendingApproval, ResolveTarget
from resilient_agents.approvals._object import _build, _Expiry
from resilient_agents.approvals._types import Conclusion

NOW_S = 1_800_000_000.0


class _Done:
    """An already completed durable future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from ()
        return self.value


class FakeObjectContext:
    """The few ``restate.ObjectContext`` methods the handlers use, over a dict; records the one-way actions."""

    def __init__(self, state: dict[str, Any], key: str = "default") -> None:
        self.state = state
        self._key = key
        self.resolved: list[tuple[str, Any]] = []
        self.sent: list[tuple[str, str, str | None]] = []

    def key(self) -> str:
        return self._key

    def get(self, name: str, serde: Any) -> _Done:
        raw = self.state.get(name)
        return _Done(None if raw is None else serde.deserialize(raw))

    def set(self, name: str, value: Any, serde: Any) -> None:
        self.state[name] = serde.serialize(value)

    def clear(self, name: str) -> None:
        self.state.pop(name, None)

    def state_keys(self) -> _Done:
        return _Done(list(self.state))

    def time(self) -> _Done:
        return _Done(NOW_S)

    def run_typed(self, name: str, action: Any, options: Any = None) -> _Done:
        # The journaled clock (``durable_time``) reads the fake's time; other steps run their action.
        return _Done(NOW_S if name.startswith("clock") else action())

    def resolve_awakeable(self, name: str, value: Any, serde: Any) -> None:
        self.resolved.append((name, value))

    def generic_send(self, service: str, handler: str, arg: bytes, key: str | None = None, **kwargs: Any) -> None:
        self.sent.append((service, handler, key))


@pytest.fixture
def registry() -> Any:
    obj = _build("Approvals")
    state: dict[str, Any] = {}
    ctx = FakeObjectContext(state)

    class Registry:
        context = ctx

        async def call(self, handler: str, arg: Any = None) -> Any:
            fn = obj.handlers[handler].fn
            return await (fn(ctx) if arg is None else fn(ctx, arg))

    return Registry()


APPROVAL = PendingApproval(
    id="apr-1",
    title="seat 1A",
    resolve=ResolveTarget(kind="awakeable", awakeable_id="sign_1"),
    created_at_ms=1000,
    expires_at_ms=61_000,
)
TIMED_OUT = ApprovalDecision(approved=False, timed_out=True, note="no decision within 1m")


async def test_a_decision_the_object_accepted_first_wins_over_a_timeout_seen_meanwhile(registry: Any) -> None:
    await registry.call("add", APPROVAL)
    record = await registry.call("decide", DecideRequest(id="apr-1", approved=True, by="ana"))
    assert isinstance(record, DecidedApproval) and (record.status, record.by) == ("approved", "ana")
    assert registry.context.resolved == [("sign_1", {"approved": True, "by": "ana", "note": None, "timed_out": False})]
    # The waiter's timer fired before the resolved awakeable reached it: the object still says approved.
    held = await registry.call("conclude", Conclusion(id="apr-1", created_at_ms=1000, decision=TIMED_OUT))
    assert held == ApprovalDecision(approved=True, by="ana")
    assert await registry.call("list") == []


async def test_a_timeout_the_object_heard_first_refuses_the_decision(registry: Any) -> None:
    await registry.call("add", APPROVAL)
    held = await registry.call("conclude", Conclusion(id="apr-1", created_at_ms=1000, decision=TIMED_OUT))
    assert held == TIMED_OUT
    with pytest.raises(restate.TerminalError) as refused:
        await registry.call("decide", DecideRequest(id="apr-1", approved=True, by="ana"))
    assert refused.value.status_code == 409
    assert refused.value.message == "too late: timed_out (approval 'apr-1': no decision within 1m)"
    assert registry.context.resolved == []  # Nothing reached the waiter.


async def test_a_second_decision_is_refused_and_the_first_holds(registry: Any) -> None:
    await registry.call("add", APPROVAL)
    await registry.call("decide", DecideRequest(id="apr-1", approved=False, by="bo", note="no"))
    with pytest.raises(restate.TerminalError) as refused:
        await registry.call("decide", DecideRequest(id="apr-1", approved=True, by="ana"))
    assert (refused.value.status_code, refused.value.message) == (409, "already rejected by bo (approval 'apr-1')")
    assert len(registry.context.resolved) == 1


async def test_an_unknown_id_is_not_found_and_a_reused_id_is_a_new_request(registry: Any) -> None:
    with pytest.raises(restate.TerminalError) as missing:
        await registry.call("decide", DecideRequest(id="apr-1", approved=True))
    assert missing.value.status_code == 404
    await registry.call("add", APPROVAL)
    await registry.call("conclude", Conclusion(id="apr-1", created_at_ms=1000, decision=TIMED_OUT))
    again = APPROVAL.model_copy(update={"created_at_ms": 2000})
    await registry.call("add", again)
    assert await registry.call("list") == [again]
    record = await registry.call("decide", DecideRequest(id="apr-1", approved=True, by="cy"))
    assert (record.status, record.created_at_ms) == ("approved", 2000)
    # The earlier request's waiter concluding late does not overrule the new request's decision.
    stale = await registry.call("conclude", Conclusion(id="apr-1", created_at_ms=1000, decision=TIMED_OUT))
    assert stale == TIMED_OUT


async def test_a_withdrawn_request_and_the_expiry_safety_net(registry: Any) -> None:
    await registry.call("add", APPROVAL)
    assert registry.context.sent == [("Approvals", "expire", "default")]
    withdrawn = await registry.call("conclude", Conclusion(id="apr-1"))
    assert withdrawn == ApprovalDecision(approved=False, note="the requester stopped waiting")
    with pytest.raises(restate.TerminalError, match="too late: withdrawn"):
        await registry.call("decide", DecideRequest(id="apr-1", approved=True))

    other = APPROVAL.model_copy(update={"id": "apr-2"})
    await registry.call("add", other)
    await registry.call("expire", _Expiry(id="apr-2", created_at_ms=1000))
    with pytest.raises(restate.TerminalError, match=r"too late: timed_out \(approval 'apr-2': expired"):
        await registry.call("decide", DecideRequest(id="apr-2", approved=True))


async def test_a_workflow_target_gets_the_decision_by_a_send(registry: Any) -> None:
    target = ResolveTarget(kind="workflow", service="LoanApproval", key="L-1", handler="decide")
    await registry.call("add", APPROVAL.model_copy(update={"id": "L-1", "resolve": target, "expires_at_ms": None}))
    await registry.call("decide", DecideRequest(id="L-1", approved=True))
    assert registry.context.sent == [("LoanApproval", "decide", "L-1")]
