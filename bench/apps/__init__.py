"""Restate apps that the benchmarks serve in a child process (``python -m resilient_agents.engine.serve``)."""
