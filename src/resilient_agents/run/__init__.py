"""Run a whole ``async def main()`` as one durable Restate invocation: one line, and a crash resumes it.

Either end a script with::

    import resilient_agents

    if __name__ == "__main__":
        resilient_agents.run_durably(main)      # instead of asyncio.run(main())

or leave it as it is and run it with ``python -m resilient_agents.run my_script.py [args...]``. With
``from resilient_agents.openai_agents.sdk import ...`` in place of ``from agents import ...``, every model call
and every tool result of ``main`` is journaled. The invocation id is printed (on stderr); ``kill -9`` the
process, run the same command again, and it re-attaches to the same invocation, which continues from its
journal. Without ``RESTATE_ADMIN_URL`` and ``RESTATE_INGRESS_URL`` a local ``restate-server`` runs for the
script, with its data in ``.restate-run/<script name>/`` next to the script.
"""

from __future__ import annotations

from ._launcher import DurableRunError, run_durably

__all__ = ["DurableRunError", "run_durably"]
