"""Optional dependencies: a missing one becomes an ImportError that names the extra to install. Private module.

A subpackage that needs an extra checks for it before its own imports, so the error says what to install
instead of failing deep inside a module with ``No module named 'agents'``::

    from resilient_agents import _extras

    if _extras.missing("agents"):
        raise _extras.missing_extra_error(__name__, extra="openai-agents", needs="the OpenAI Agents SDK")

The check only looks the module up (:func:`importlib.util.find_spec`); it imports nothing.
"""

from __future__ import annotations

from importlib.util import find_spec

__all__ = ["DISTRIBUTION", "install_hint", "missing", "missing_extra_error"]

DISTRIBUTION = "resilient-agents"
"""The distribution name that ``pip install`` takes."""


def install_hint(extra: str) -> str:
    """The shell command that installs ``extra``: ``pip install 'resilient-agents[<extra>]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing(*modules: str) -> str | None:
    """The first of the top-level ``modules`` that is not installed, or ``None`` when all are."""
    for name in modules:
        if find_spec(name) is None:
            return name
    return None


def missing_extra_error(module: str, *, extra: str, needs: str) -> ImportError:
    """The error for a subpackage whose optional dependency is not installed.

    Args:
        module: The subpackage that cannot be imported, e.g. ``"resilient_agents.openai_agents"``.
        extra: The extra that brings the dependency, e.g. ``"openai-agents"``.
        needs: What is missing, in words, e.g. ``"the OpenAI Agents SDK"``.

    Returns:
        ``ImportError("resilient_agents.openai_agents needs the OpenAI Agents SDK: pip install
        'resilient-agents[openai-agents]'")``, with ``name`` set to ``module``.
    """
    return ImportError(f"{module} needs {needs}: {install_hint(extra)}", name=module)
