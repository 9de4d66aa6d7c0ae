"""Bank agent: the native durable loop with identity bound to the session, interrupts, sagas and approvals.

See ``agent.py`` and README.md beside this file.
"""
