"""Each fault kind as the real openai client sees it."""

from __future__ import annotations

import json
import socket

import openai
import pytest

from resilient_agents.models import Fault, ModelServer, Reply, ScriptedModel


def test_rate_limit_is_429_with_retry_after(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(Fault.rate_limit(retry_after=2))

    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="m", input="hi")

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    assert "Rate limit" in caught.value.message


def test_client_retries_after_rate_limit_and_succeeds(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Fault.rate_limit(retry_after=0.01), Reply.say("after retry"))

    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=1) as oai:
        response = oai.responses.create(model="m", input="hi")

    assert response.output_text == "after retry"
    assert len(server.requests) == 2


def test_server_error_uses_the_given_status(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(Fault.server_error(), Fault.server_error(503))

    with pytest.raises(openai.InternalServerError) as first:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.InternalServerError) as second:
        client.responses.create(model="m", input="hi")

    assert first.value.status_code == 500
    assert second.value.status_code == 503


def test_server_error_rejects_non_5xx_status() -> None:
    with pytest.raises(ValueError, match="500-599"):
        Fault.server_error(404)


def test_malformed_body_cannot_be_parsed(server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Fault.malformed(), Reply.say("fine again"))

    with pytest.raises(json.JSONDecodeError):
        client.responses.create(model="m", input="hi")

    assert client.responses.create(model="m", input="hi").output_text == "fine again"


def test_hang_exceeds_client_timeout_and_stop_does_not_wait_for_it() -> None:
    # An hour-long hang: if stop() waited for the hung handler, the test would hit its per-test timeout.
    model = ScriptedModel(Fault.hang(3600))
    srv = ModelServer(model).start()
    port = srv.port
    try:
        with openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0, timeout=0.3) as oai:
            with pytest.raises(openai.APITimeoutError):
                oai.responses.create(model="m", input="hi")
    finally:
        srv.stop()

    assert not srv.running
    with pytest.raises(OSError):  # The port is closed although the hung request never got its answer.
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_short_hang_then_500(server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Fault.hang(0.05))

    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="m", input="hi")

    assert caught.value.message.endswith("The offline model hung for 0.05 seconds on purpose.")


def test_fail_next_jumps_the_queue(server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Reply.say("queued"))
    scripted.fail_next(Fault.server_error(502), times=2)

    statuses: list[int] = []
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as caught:
            client.responses.create(model="m", input="hi")
        statuses.append(caught.value.status_code)

    assert statuses == [502, 502]
    assert client.responses.create(model="m", input="hi").output_text == "queued"


def test_fault_constructors_validate_and_describe() -> None:
    limit = Fault.rate_limit(1.5)

    assert (limit.kind, limit.status, limit.retry_after) == ("rate_limit", 429, 1.5)
    assert (Fault.hang(2).kind, Fault.hang(2).delay) == ("hang", 2)
    assert Fault.malformed().status == 200
    with pytest.raises(ValueError):
        Fault.hang(-1)
