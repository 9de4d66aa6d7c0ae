"""Bank agent: the native durable loop with identity bound to the session, interrupts, sagas and approvals.

Run it with ``resilient-agents up --app bank`` (or ``python -m examples.bank``), then
``curl localhost:8080/BankSession/alice/message --json '"how much is my balance?"'``. See ``agent.py`` and
README.md beside this file.
"""
