"""``agent_service`` / ``session_object`` without ``run_config`` use the configured model (``up``'s offline model
included); a client that cannot be built fails the turn terminally instead of retrying forever."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from resilient_agents.config import OFFLINE_URL_ENV
from resilient_agents.errors import TerminalAgentError
from resilient_agents.models import ModelServer, Reply, ScriptedModel
from resilient_agents.openai_agents._context import leaving_error
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.engine
def test_without_run_config_the_service_uses_the_configured_model(tmp_path: Path) -> None:
    # up's offline model (its URL variable) wins over OPENAI_BASE_URL, which the test kit points at its own
    # scripted server: only the configuration our default builds sends the request to `offline`.
    script = ScriptedModel()
    offline = ModelServer(script).start()
    try:
        with AgentTestEnv(
            "tests.apps.default_model_app:app",
            tmp_path,
            pythonpath=[str(ROOT)],
            env={OFFLINE_URL_ENV: offline.base_url},
        ) as env:
            script.push(Reply.say("hello from the configured model"))
            response = env.call("Plain/run", "hi")
            assert response.status_code == 200, response.text
            assert response.json() == "hello from the configured model"
            assert len(offline.requests) == 1
            assert env.llm_requests() == 0
    finally:
        offline.stop()


def test_a_model_client_that_cannot_be_built_is_terminal() -> None:
    mapped = leaving_error(openai.OpenAIError("Missing credentials."), nested=False)
    assert isinstance(mapped, TerminalAgentError)
    assert "cannot be built" in str(mapped) and "OPENAI_BASE_URL" in str(mapped)
    api_error = openai.APIConnectionError(request=None)  # type: ignore[arg-type]
    assert leaving_error(api_error, nested=False) is api_error  # Request failures are the model step's business.
