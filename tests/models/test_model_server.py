"""The server over real HTTP with the real openai client: wire shapes, request log, errors, lifecycle."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from resilient_agents.errors import ModelServerError
from resilient_agents.models import (
    DEMO_MODEL_NAME,
    ModelServer,
    ParsedRequest,
    Reply,
    ScriptedModel,
    ToolCall,
)

SECRET_KEY = "sk-test-secret-never-recorded"

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_responses_text_reply_parses_into_typed_response(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(Reply.say("Hello from the script."))

    response = client.responses.create(model="gpt-test", input="hi", instructions="Be brief.")

    assert response.id == "resp_0001"
    assert response.model == "gpt-test"
    assert response.status == "completed"
    assert response.output_text == "Hello from the script."
    message = response.output[0]
    assert isinstance(message, ResponseOutputMessage)
    assert message.id == "msg_0001"
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_tool_call_parses_into_function_call_items(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(
        Reply.calls(ToolCall("get_weather", {"city": "Detroit"}), ToolCall("get_weather", '{"city": "Oslo"}'))
    )

    response = client.responses.create(model="m", input="weather?", tools=[WEATHER_TOOL])  # type: ignore[list-item]

    calls = [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]
    assert [(c.id, c.call_id, c.name, c.status) for c in calls] == [
        ("fc_0001", "call_0001", "get_weather", "completed"),
        ("fc_0002", "call_0002", "get_weather", "completed"),
    ]
    assert [json.loads(c.arguments) for c in calls] == [{"city": "Detroit"}, {"city": "Oslo"}]
    assert not any(isinstance(item, ResponseOutputMessage) for item in response.output)


def test_chat_completions_text_and_tool_calls(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(Reply.say("plain answer"), Reply.call("get_weather", city="Detroit"))
    messages: list[dict[str, str]] = [{"role": "user", "content": "hi"}]

    text = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    tools = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]

    assert text.id == "chatcmpl-0001"
    assert text.choices[0].message.content == "plain answer"
    assert text.choices[0].finish_reason == "stop"
    assert text.usage is not None and text.usage.total_tokens > 0
    choice = tools.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = (choice.message.tool_calls or [])[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_0001",
        "get_weather",
        {"city": "Detroit"},
    )


def test_scripted_queue_is_consumed_in_order_and_callables_see_the_request(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    def echo(request: ParsedRequest) -> Reply:
        return Reply.say(f"you said {request.last_user_text}")

    scripted.push(Reply.say("first"), echo)
    scripted.push(Reply.say("third"))

    outputs = [client.responses.create(model="m", input=word).output_text for word in ("a", "b", "c")]

    assert outputs == ["first", "you said b", "third"]
    assert scripted.pending == 0
    assert [r.last_user_text for r in scripted.received] == ["a", "b", "c"]


def test_empty_script_answers_500_saying_it_ran_out(server: ModelServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="m", input="anyone?")

    assert caught.value.status_code == 500
    assert "script ran out" in caught.value.message
    assert "ScriptedModel.push" in caught.value.message


def test_request_log_records_bodies_without_credentials(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Reply.say("one"), Reply.say("two"))
    headers = {"x-api-key": "anthropic-secret", "x-trace": "kept"}
    with openai.OpenAI(base_url=server.base_url, api_key=SECRET_KEY, max_retries=0, default_headers=headers) as oai:
        oai.responses.create(model="m", input="first")
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "second"}])

    log = server.requests
    assert [(r.index, r.api, r.path) for r in log] == [
        (0, "responses", "/v1/responses"),
        (1, "chat", "/v1/chat/completions"),
    ]
    assert log[0].body["input"] == "first"
    assert log[1].body["messages"] == [{"role": "user", "content": "second"}]
    for record in log:
        assert "authorization" not in record.headers
        assert "x-api-key" not in record.headers
        assert record.headers["x-trace"] == "kept"
        assert SECRET_KEY not in json.dumps(record.headers)


def test_requests_is_a_snapshot(server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Reply.say("x"), Reply.say("y"))
    client.responses.create(model="m", input="1")
    snapshot = server.requests
    client.responses.create(model="m", input="2")

    assert len(snapshot) == 1
    assert len(server.requests) == 2


def test_bad_json_gets_400_and_the_server_keeps_answering(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Reply.say("still alive"))
    with httpx.Client(base_url=server.base_url) as http:
        bad = http.post("/responses", content=b'{"model": "m", "input": ', headers={"content-type": "application/json"})
        not_object = http.post("/chat/completions", json=["a", "list"])
        wrong_shape = http.post("/chat/completions", json={"model": "m", "messages": "not a list"})
        good = http.post("/responses", json={"model": "m", "input": "hi"})

    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]["message"]
    assert not_object.status_code == 400
    assert wrong_shape.status_code == 400
    assert "'messages' must be a list" in wrong_shape.json()["error"]["message"]
    assert good.status_code == 200
    assert good.json()["output"][0]["content"][0]["text"] == "still alive"


def test_unknown_path_and_method_get_json_errors(server: ModelServer) -> None:
    with httpx.Client(base_url=server.root_url) as http:
        missing_post = http.post("/v1/embeddings", json={"input": "x"})
        missing_get = http.get("/v2/whatever")
        wrong_method = http.delete("/v1/responses")

    assert missing_post.status_code == 404
    assert missing_post.json()["error"]["code"] == "not_found"
    assert missing_get.status_code == 404
    assert wrong_method.status_code == 405
    assert server.requests == []


def test_health_and_models_endpoints(server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Reply.say("x"))
    client.responses.create(model="my-model", input="hi")

    health = httpx.get(f"{server.root_url}/health")
    models = [model.id for model in client.models.list()]

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert models == [DEMO_MODEL_NAME, "my-model"]
    assert client.models.retrieve("my-model").id == "my-model"


def test_responder_exception_becomes_500_not_a_dead_server(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    def boom(request: ParsedRequest) -> Reply:
        raise RuntimeError("kaput")

    scripted.push(boom, Reply.say("recovered"))

    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="m", input="hi")

    assert "RuntimeError: kaput" in caught.value.message
    assert client.responses.create(model="m", input="again").output_text == "recovered"


def test_concurrent_requests_get_unique_ids(server: ModelServer, scripted: ScriptedModel) -> None:
    count = 8
    scripted.push(*[Reply.say(f"r{i}") for i in range(count)])
    ids: list[str] = []
    lock = threading.Lock()

    def call(oai: openai.OpenAI) -> None:
        response = oai.responses.create(model="m", input="hi")
        with lock:
            ids.append(response.id)

    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as shared:
        threads = [threading.Thread(target=call, args=(shared,)) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    assert sorted(ids) == [f"resp_{i:04d}" for i in range(1, count + 1)]
    assert sorted(r.index for r in server.requests) == list(range(count))


def test_lifecycle_errors_and_properties() -> None:
    srv = ModelServer(ScriptedModel())
    with pytest.raises(ModelServerError, match="not running"):
        _ = srv.port
    srv.start()
    try:
        assert srv.running
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        with pytest.raises(ModelServerError, match="already running"):
            srv.start()
    finally:
        srv.stop()
    srv.stop()
    assert not srv.running


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::1"])
def test_only_loopback_hosts_are_accepted(host: str) -> None:
    with pytest.raises(ModelServerError, match="loopback"):
        ModelServer(ScriptedModel(), host=host)


def test_bad_responder_and_port_are_rejected() -> None:
    with pytest.raises(ModelServerError, match="respond"):
        ModelServer(object())  # type: ignore[arg-type]
    with pytest.raises(ModelServerError, match="port"):
        ModelServer(ScriptedModel(), port=70000)


def test_port_in_use_raises_model_server_error() -> None:
    with ModelServer(ScriptedModel()) as first:
        with pytest.raises(ModelServerError, match="Cannot listen"):
            ModelServer(ScriptedModel(), port=first.port).start()


def test_anthropic_messages_text_tool_use_and_errors(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Reply.call("get_weather", city="Detroit"), Reply.say("It is sunny."))
    tools = [{"name": "get_weather", "description": "Get weather", "input_schema": WEATHER_TOOL["parameters"]}]
    question = {"role": "user", "content": "weather in Detroit?"}
    first_body: dict[str, Any] = {
        "model": "claude-test",
        "max_tokens": 100,
        "system": "Be nice.",
        "tools": tools,
        "messages": [question],
    }
    with httpx.Client(base_url=server.root_url, headers={"x-api-key": "secret"}) as http:
        first = http.post("/v1/messages", json=first_body).json()
        tool_use = first["content"][0]
        second_messages = [
            question,
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "22C"}]},
        ]
        second = http.post("/v1/messages", json={**first_body, "messages": second_messages}).json()
        ran_out = http.post("/v1/messages", json=first_body)
        streaming = http.post("/v1/messages", json={**first_body, "stream": True})

    assert first["type"] == "message" and first["stop_reason"] == "tool_use"
    assert tool_use == {"type": "tool_use", "id": "toolu_0001", "name": "get_weather", "input": {"city": "Detroit"}}
    assert second["content"] == [{"type": "text", "text": "It is sunny."}]
    assert second["stop_reason"] == "end_turn"
    assert second["usage"]["input_tokens"] > 0
    parsed = scripted.received[1]
    assert parsed.instructions == "Be nice."
    assert [m.role for m in parsed.messages] == ["user", "assistant", "tool"]
    assert parsed.messages[-1].tool_name == "get_weather"
    assert ran_out.status_code == 500
    assert ran_out.json()["type"] == "error"
    assert ran_out.json()["error"]["type"] == "api_error"
    assert streaming.status_code == 400
    assert streaming.json()["error"]["type"] == "invalid_request_error"
    assert all("x-api-key" not in r.headers for r in server.requests)
