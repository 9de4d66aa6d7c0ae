"""Fixtures for the offline model server tests: a scripted server, a demo server and real openai clients."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from resilient_agents.models import DemoModel, ModelServer, ScriptedModel

SECRET_KEY = "sk-test-secret-never-recorded"


@pytest.fixture
def scripted() -> ScriptedModel:
    """An empty scripted model; tests push the answers they need."""
    return ScriptedModel()


@pytest.fixture
def server(scripted: ScriptedModel) -> Iterator[ModelServer]:
    """A running server answering from ``scripted``."""
    with ModelServer(scripted) as srv:
        yield srv


@pytest.fixture
def demo_server() -> Iterator[ModelServer]:
    """A running server answering with the offline demo model."""
    with ModelServer(DemoModel()) as srv:
        yield srv


@pytest.fixture
def client(server: ModelServer) -> Iterator[openai.OpenAI]:
    """A real, synchronous openai client for ``server`` that never retries."""
    with openai.OpenAI(base_url=server.base_url, api_key=SECRET_KEY, max_retries=0, timeout=5.0) as oai:
        yield oai
