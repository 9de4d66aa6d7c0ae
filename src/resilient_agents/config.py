"""Which model the agents talk to: OpenAI, any OpenAI-compatible server, Anthropic, or the offline demo model.

Read from the environment (the CLI sets the same variables from its flags):

==================================  ==========================================================================
``OPENAI_API_KEY``                  Use OpenAI (or, with ``OPENAI_BASE_URL``, any OpenAI-compatible server:
                                    Ollama, vLLM, a LiteLLM proxy).
``OPENAI_BASE_URL``                 Base URL of an OpenAI-compatible server.
``ANTHROPIC_API_KEY``               Use Anthropic through its OpenAI-compatible Chat Completions endpoint.
``RESILIENT_AGENTS_MODEL``          Model name (default: ``gpt-4.1-mini``, ``claude-sonnet-4-5`` or ``offline-demo``).
``RESILIENT_AGENTS_API``            ``responses`` or ``chat``: the wire API. Default ``responses`` for OpenAI
                                    itself, ``chat`` for a custom base URL and for Anthropic.
``RESILIENT_AGENTS_MODEL_TIMEOUT``  Seconds before one model request times out (default 120).
``RESILIENT_AGENTS_OFFLINE_MODEL_URL``  Set by ``resilient-agents up`` when no key is configured: the
                                    offline demo model's base URL. It wins over the keys above.
==================================  ==========================================================================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Literal

from agents import RunConfig
from agents.models.interface import ModelProvider
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from resilient_agents.errors import ConfigurationError

WireApi = Literal["responses", "chat"]
Backend = Literal["openai", "anthropic", "offline"]

OFFLINE_MODEL_NAME = "offline-demo"
OFFLINE_URL_ENV = "RESILIENT_AGENTS_OFFLINE_MODEL_URL"
ANTHROPIC_BASE_URL = "https://api.anthropic.com/v1/"
_DEFAULT_MODEL: dict[Backend, str] = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-sonnet-4-5",
    "offline": OFFLINE_MODEL_NAME,
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model backend of a service. Build it with :meth:`from_env`."""

    backend: Backend
    """Where requests go: ``openai`` (or compatible), ``anthropic``, or the ``offline`` demo model."""
    model: str
    """Model name used by agents that do not name their own."""
    api: WireApi
    """Wire API: the Responses API or Chat Completions."""
    base_url: str | None = None
    """Base URL of the server; ``None`` for OpenAI's own."""
    api_key: str = dataclasses.field(default="", repr=False)
    """Secret; never printed, logged or journaled."""
    timeout: float = 120.0
    """Seconds before one model request times out (then Restate retries the step)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelConfig:
        """Read the configuration from environment variables (see the module docstring).

        Raises:
            ConfigurationError: When no model is configured, or a value is invalid.
        """
        env = os.environ if env is None else env
        backend, base_url, key = _backend(env)
        api = _wire_api(env.get("RESILIENT_AGENTS_API"), backend, base_url)
        timeout_text = env.get("RESILIENT_AGENTS_MODEL_TIMEOUT", "120")
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise ConfigurationError(
                f"RESILIENT_AGENTS_MODEL_TIMEOUT={timeout_text!r} is not a number of seconds"
            ) from None
        model = env.get("RESILIENT_AGENTS_MODEL") or _DEFAULT_MODEL[backend]
        return cls(backend=backend, model=model, api=api, base_url=base_url, api_key=key, timeout=timeout)

    @property
    def is_offline(self) -> bool:
        """Whether this is the offline demo model (no LLM)."""
        return self.backend == "offline"

    def describe(self) -> str:
        """A one-line, secret-free description for logs and the CLI."""
        where = self.base_url or "api.openai.com"
        if self.is_offline:
            return f"OFFLINE DEMO MODEL at {where} (rule-based, not an LLM; set OPENAI_API_KEY for a real model)"
        return f"{self.backend} model {self.model!r} via the {self.api} API at {where}"

    def client(self) -> AsyncOpenAI:
        """Return an OpenAI client for this backend.

        The client does not retry by itself (``max_retries=0``): Restate retries each journaled model call,
        so retries are durable and visible in the journal.
        """
        return AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def model_provider(self) -> ModelProvider:
        """Return an Agents SDK model provider for this backend."""
        return OpenAIProvider(openai_client=self.client(), use_responses=self.api == "responses")

    def run_config(self) -> RunConfig:
        """Return an Agents SDK run configuration for this backend.

        :attr:`model` becomes ``RunConfig.model``, so it applies to every agent of the run (and the SDK picks
        model settings for that name). Tracing is off for the offline model.
        """
        return RunConfig(model=self.model, model_provider=self.model_provider(), tracing_disabled=self.is_offline)


def _wire_api(value: str | None, backend: Backend, base_url: str | None) -> WireApi:
    if value is None or value == "":
        # OpenAI itself and our offline server speak both; many compatible servers speak only Chat Completions.
        return "responses" if backend == "offline" or (backend == "openai" and base_url is None) else "chat"
    if value == "responses":
        return "responses"
    if value == "chat":
        return "chat"
    raise ConfigurationError(f"RESILIENT_AGENTS_API={value!r} is not valid; use 'responses' or 'chat'")


def _backend(env: Mapping[str, str]) -> tuple[Backend, str | None, str]:
    offline_url = env.get(OFFLINE_URL_ENV)
    if offline_url:
        return "offline", offline_url, "offline-demo-no-key"
    if env.get("OPENAI_API_KEY"):
        return "openai", env.get("OPENAI_BASE_URL") or None, env["OPENAI_API_KEY"]
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic", ANTHROPIC_BASE_URL, env["ANTHROPIC_API_KEY"]
    raise ConfigurationError(
        "no model is configured: set OPENAI_API_KEY (with OPENAI_BASE_URL for an OpenAI-compatible server) or "
        "ANTHROPIC_API_KEY, or start the stack with `resilient-agents up`, which runs the offline demo model "
        "when no key is set"
    )
