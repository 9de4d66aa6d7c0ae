"""The bank's model client, built in the serving process from the environment (``ModelConfig.from_env``)."""

from __future__ import annotations

from resilient_agents.config import ModelConfig
from resilient_agents.loop import ModelClient


def make_client() -> ModelClient:
    """The model client of the bank's agents: backend, wire API and model name from the environment.

    ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` give an OpenAI Responses or Chat Completions client,
    ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL`` an Anthropic Messages client, ``resilient-agents up`` without
    either the offline demo model; the configured model name applies to every agent.

    Raises:
        ConfigurationError: When no model is configured.
    """
    return ModelConfig.from_env().loop_client()
