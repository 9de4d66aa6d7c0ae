"""Example apps of resilient-agents. Run one with ``resilient-agents up --app <name>``."""
