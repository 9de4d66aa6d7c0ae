"""Testing durable agents on the real Restate engine.

:class:`AgentTestEnv` boots a real ``restate-server`` on free ports in a temporary directory, serves your
Restate app in a separate process that a test can ``kill -9`` and restart, registers it, and runs a
scripted OpenAI-compatible model server whose request log your test can count. Use it from pytest with the
fixtures in :mod:`resilient_agents.testing.pytest_plugin` (add
``pytest_plugins = ["resilient_agents.testing.pytest_plugin"]`` to your ``conftest.py``).
:class:`ClusterTestEnv` does the same on a multi-node Restate cluster whose nodes a test can kill.
"""

from __future__ import annotations

from resilient_agents.engine.netns import enter_loopback_namespace, in_loopback_namespace
from resilient_agents.models import Fault, ModelServer, Reply, ScriptedModel, ToolCall

from ._cluster import ClusterTestEnv
from ._env import AgentTestEnv, JournalEntry, wait_until

__all__ = [
    "AgentTestEnv",
    "ClusterTestEnv",
    "Fault",
    "JournalEntry",
    "ModelServer",
    "Reply",
    "ScriptedModel",
    "ToolCall",
    "enter_loopback_namespace",
    "in_loopback_namespace",
    "wait_until",
]
