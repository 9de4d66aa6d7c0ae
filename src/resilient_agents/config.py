"""Which model the agents talk to: OpenAI, any OpenAI-compatible server, Anthropic, or the offline demo model.

One configuration serves both agent paths: :meth:`ModelConfig.run_config` (and :meth:`~ModelConfig.model_provider`)
for Agents SDK apps, :meth:`ModelConfig.loop_client` for native-loop apps. It is read from the environment
(``resilient-agents up`` sets the same variables from its flags ``--model``, ``--api`` and ``--offline``):

======================================  ======================================================================
``OPENAI_API_KEY``                      Use OpenAI (with ``OPENAI_BASE_URL``: any OpenAI-compatible server,
                                        e.g. a LiteLLM proxy, vLLM, Ollama).
``OPENAI_BASE_URL``                     Base URL of an OpenAI-compatible server; it usually ends in ``/v1``
                                        (``http://localhost:11434/v1``). Without a key it is used all the
                                        same, with the placeholder key ``no-key`` (a local Ollama needs none).
``ANTHROPIC_API_KEY``                   Use Anthropic.
``ANTHROPIC_BASE_URL``                  Root URL of an Anthropic Messages server (default
                                        ``https://api.anthropic.com``, without ``/v1``: the client adds
                                        ``/v1/messages``). Without a key: the placeholder key ``no-key``.
``RESILIENT_AGENTS_MODEL``              Model name (default: ``gpt-4.1-mini``, ``claude-sonnet-4-5`` or
                                        ``offline-demo``).
``RESILIENT_AGENTS_API``                The wire API: ``responses`` (OpenAI Responses), ``chat`` (Chat
                                        Completions) or ``messages`` (Anthropic Messages). Default
                                        ``responses`` for OpenAI itself, ``chat`` for another base URL,
                                        ``messages`` for Anthropic. ``messages`` also picks Anthropic when
                                        both OpenAI and Anthropic settings are present.
``RESILIENT_AGENTS_MODEL_TIMEOUT``      Seconds before one model request times out (default 120).
``RESILIENT_AGENTS_OFFLINE_MODEL_URL``  Set by ``resilient-agents up`` when no model is configured (or with
                                        ``--offline``): the offline demo model's base URL. It wins over the
                                        settings above.
======================================  ======================================================================

Which backend: the offline URL if set; else Anthropic if ``RESILIENT_AGENTS_API=messages`` and an Anthropic
setting is present; else OpenAI if ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set; else Anthropic if
``ANTHROPIC_API_KEY`` or ``ANTHROPIC_BASE_URL`` is set.

**Anthropic on the Agents SDK path.** The Agents SDK has no client for the Messages API, so an SDK app
configured for ``messages`` talks to Anthropic's OpenAI-compatible Chat Completions endpoint
(``<ANTHROPIC_BASE_URL>/v1/chat/completions``) with the same key and model; the native loop uses the
Messages API itself (:class:`~resilient_agents.loop.AnthropicClient`).

Importing this module imports neither the Agents SDK nor ``openai``: each method imports what it builds.
"""

from __future__ import annotations

import dataclasses
import os
import typing as _typing
from collections.abc import Mapping
from typing import Literal

from resilient_agents.errors import ConfigurationError

if _typing.TYPE_CHECKING:
    from agents import RunConfig
    from agents.models.interface import ModelProvider
    from openai import AsyncOpenAI

    from resilient_agents.loop import ModelClient

__all__ = [
    "ANTHROPIC_DEFAULT_URL",
    "NO_KEY",
    "OFFLINE_MODEL_NAME",
    "OFFLINE_URL_ENV",
    "Backend",
    "ConfigurationError",
    "ModelConfig",
    "WireApi",
    "model_configured",
]

WireApi = Literal["responses", "chat", "messages"]
Backend = Literal["openai", "anthropic", "offline"]

OFFLINE_MODEL_NAME = "offline-demo"
"""The model name of the offline demo model."""
OFFLINE_URL_ENV = "RESILIENT_AGENTS_OFFLINE_MODEL_URL"
"""The variable ``resilient-agents up`` sets to the offline demo model's base URL."""
ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
"""Anthropic's own API root, used when ``ANTHROPIC_BASE_URL`` is not set."""
NO_KEY = "no-key"
"""The placeholder key sent when a base URL is configured without a key (the clients need a value)."""

_OFFLINE_KEY = "offline-demo-no-key"
_DEFAULT_MODEL: dict[Backend, str] = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-sonnet-4-5",
    "offline": OFFLINE_MODEL_NAME,
}
_SETTINGS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def model_configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``env`` (default: the process environment) names a real model backend.

    True when any of ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_BASE_URL``
    is set (non-empty); ``resilient-agents up`` runs the offline demo model otherwise.
    """
    env = os.environ if env is None else env
    return any(env.get(name) for name in _SETTINGS)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model backend of a service. Build it with :meth:`from_env`.

    Example:
        >>> config = ModelConfig.from_env({"OPENAI_BASE_URL": "http://localhost:11434/v1"})
        >>> config.api, config.has_key
        ('chat', False)
    """

    backend: Backend
    """Where requests go: ``openai`` (or compatible), ``anthropic``, or the ``offline`` demo model."""
    model: str
    """Model name used by every agent (``RunConfig.model`` on the SDK path; every request of the loop)."""
    api: WireApi
    """Wire API: ``responses``, ``chat`` or ``messages`` (Anthropic Messages)."""
    base_url: str | None = None
    """As configured: the OpenAI-compatible base URL for ``openai`` (``None`` for OpenAI's own) and
    ``offline``; the server's root URL (without ``/v1``) for ``anthropic``."""
    api_key: str = dataclasses.field(default="", repr=False)
    """Secret; never printed, logged or journaled. :data:`NO_KEY` when none was configured."""
    timeout: float = 120.0
    """Seconds before one model request times out (then Restate retries the step)."""
    has_key: bool = True
    """Whether a real key was configured; ``False`` means the placeholder :data:`NO_KEY` is sent."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelConfig:
        """Read the configuration from environment variables (see the module docstring).

        Args:
            env: The variables; the process environment when ``None``. An empty value counts as unset.

        Raises:
            ConfigurationError: When no model is configured, or a value is invalid.
        """
        env = os.environ if env is None else env
        requested = _requested_api(env.get("RESILIENT_AGENTS_API"))
        backend, base_url, key = _backend(env, requested)
        api = _wire_api(requested, backend, base_url)
        model = env.get("RESILIENT_AGENTS_MODEL") or _DEFAULT_MODEL[backend]
        return cls(
            backend=backend,
            model=model,
            api=api,
            base_url=base_url,
            api_key=key or NO_KEY,
            timeout=_timeout(env.get("RESILIENT_AGENTS_MODEL_TIMEOUT")),
            has_key=bool(key) or backend == "offline",
        )

    @property
    def is_offline(self) -> bool:
        """Whether this is the offline demo model (no LLM)."""
        return self.backend == "offline"

    @property
    def openai_base_url(self) -> str | None:
        """The base URL an OpenAI client uses: for Anthropic, its OpenAI-compatible endpoint ``<root>/v1/``."""
        if self.backend == "anthropic":
            return _anthropic_root(self.base_url or ANTHROPIC_DEFAULT_URL) + "/v1/"
        return self.base_url

    @property
    def server(self) -> str:
        """The model server's URL, for messages: the base URL, or OpenAI's own."""
        if self.backend == "anthropic":
            return self.base_url or ANTHROPIC_DEFAULT_URL
        return self.base_url or "https://api.openai.com/v1"

    def describe(self) -> str:
        """A one-line, secret-free description for logs and the CLI."""
        if self.is_offline:
            return (
                f"OFFLINE DEMO MODEL at {self.server} (rule-based, not an LLM; set OPENAI_API_KEY, "
                "OPENAI_BASE_URL, ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL for a real model)"
            )
        text = f"{self.backend} model {self.model!r} via the {self.api} API at {self.server}"
        if self.api == "messages":
            text += " (Agents SDK apps: its OpenAI-compatible Chat Completions endpoint)"
        if not self.has_key:
            text += f" without an API key (placeholder {NO_KEY!r} sent)"
        return text

    def client(self) -> AsyncOpenAI:
        """Return an OpenAI client for this backend (for Anthropic: its OpenAI-compatible endpoint).

        The client does not retry by itself (``max_retries=0``): Restate retries each journaled model call,
        so retries are durable and visible in the journal.
        """
        from openai import AsyncOpenAI

        return AsyncOpenAI(api_key=self.api_key, base_url=self.openai_base_url, max_retries=0, timeout=self.timeout)

    def model_provider(self) -> ModelProvider:
        """Return an Agents SDK model provider for this backend.

        ``responses`` uses the Responses API; ``chat`` and ``messages`` use Chat Completions (for Anthropic,
        its OpenAI-compatible endpoint: the Agents SDK has no Messages client).
        """
        from agents.models.openai_provider import OpenAIProvider

        return OpenAIProvider(openai_client=self.client(), use_responses=self.api == "responses")

    def run_config(self) -> RunConfig:
        """Return an Agents SDK run configuration for this backend.

        :attr:`model` becomes ``RunConfig.model``, so it applies to every agent of the run (and the SDK picks
        model settings for that name). Tracing is off for the offline model and without a key (the SDK's
        trace exporter would send the placeholder key to OpenAI).
        """
        from agents import RunConfig

        return RunConfig(
            model=self.model,
            model_provider=self.model_provider(),
            tracing_disabled=self.is_offline or not self.has_key,
        )

    def loop_client(self) -> ModelClient:
        """Return the native loop's model client for this backend, sending :attr:`model` for every agent.

        ``responses``: :class:`~resilient_agents.loop.OpenAIResponsesClient`; ``chat``:
        :class:`~resilient_agents.loop.OpenAIChatClient`; ``messages``:
        :class:`~resilient_agents.loop.AnthropicClient` (Anthropic's own Messages API). Each gets the base URL,
        key and timeout; none retries by itself (Restate retries the journaled step).
        """
        from resilient_agents.loop._anthropic_client import AnthropicClient
        from resilient_agents.loop._configured import ConfiguredModelClient
        from resilient_agents.loop._openai_clients import OpenAIChatClient, OpenAIResponsesClient

        wire: ModelClient
        if self.api == "messages":
            root = _anthropic_root(self.base_url or ANTHROPIC_DEFAULT_URL)
            wire = AnthropicClient(self.api_key, base_url=root, timeout=self.timeout)
        elif self.api == "responses":
            wire = OpenAIResponsesClient(base_url=self.openai_base_url, api_key=self.api_key, timeout=self.timeout)
        else:
            wire = OpenAIChatClient(base_url=self.openai_base_url, api_key=self.api_key, timeout=self.timeout)
        return ConfiguredModelClient(wire, self.model)


def _anthropic_root(url: str) -> str:
    """The root of an Anthropic Messages server: a trailing ``/`` or ``/v1`` is dropped (the client adds it)."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _requested_api(value: str | None) -> WireApi | None:
    if value is None or value == "":
        return None
    if value in ("responses", "chat", "messages"):
        return value  # type: ignore[return-value]  # Narrowed by the membership test above.
    raise ConfigurationError(
        f"RESILIENT_AGENTS_API={value!r} is not valid; use 'responses', 'chat' or 'messages' (Anthropic)"
    )


def _wire_api(requested: WireApi | None, backend: Backend, base_url: str | None) -> WireApi:
    if requested is None:
        # OpenAI itself and our offline server speak every API; many compatible servers speak only Chat Completions.
        if backend == "anthropic":
            return "messages"
        return "responses" if backend == "offline" or base_url is None else "chat"
    if requested == "messages" and backend == "openai":
        raise ConfigurationError(
            "RESILIENT_AGENTS_API='messages' is Anthropic's Messages API, but only OpenAI settings are present: "
            "set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for an Anthropic-compatible server), or use 'chat' "
            "or 'responses'"
        )
    if requested == "responses" and backend == "anthropic":
        raise ConfigurationError(
            "Anthropic has no Responses API: set RESILIENT_AGENTS_API to 'messages' (its Messages API, the "
            "default) or 'chat' (its OpenAI-compatible Chat Completions endpoint)"
        )
    return requested


def _backend(env: Mapping[str, str], requested: WireApi | None) -> tuple[Backend, str | None, str]:
    """The backend, its base URL as configured, and its key (empty when none is set)."""
    offline_url = env.get(OFFLINE_URL_ENV)
    if offline_url:
        return "offline", offline_url, _OFFLINE_KEY
    has_anthropic = bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_BASE_URL"))
    has_openai = bool(env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"))
    if has_openai and not (has_anthropic and requested == "messages"):
        return "openai", env.get("OPENAI_BASE_URL") or None, env.get("OPENAI_API_KEY", "")
    if has_anthropic:
        base_url = env.get("ANTHROPIC_BASE_URL") or ANTHROPIC_DEFAULT_URL
        return "anthropic", base_url.rstrip("/"), env.get("ANTHROPIC_API_KEY", "")
    raise ConfigurationError(
        "no model is configured: set OPENAI_API_KEY (OpenAI), OPENAI_BASE_URL (an OpenAI-compatible server such "
        "as Ollama, vLLM or a LiteLLM proxy; a key is optional), ANTHROPIC_API_KEY (Anthropic) or "
        "ANTHROPIC_BASE_URL, or start the stack with `resilient-agents up`, which runs the offline demo model "
        "when none is set"
    )


def _timeout(text: str | None) -> float:
    value = text or "120"
    try:
        timeout = float(value)
    except ValueError:
        raise ConfigurationError(f"RESILIENT_AGENTS_MODEL_TIMEOUT={value!r} is not a number of seconds") from None
    if not timeout > 0:
        raise ConfigurationError(f"RESILIENT_AGENTS_MODEL_TIMEOUT={value!r} must be a positive number of seconds")
    return timeout
