"""Tests of resilient_agents.engine: finding/installing restate-server, running it, serving and registering apps."""
