"""``python -m examples.airline``: the same as ``resilient-agents up --app airline``."""

from __future__ import annotations

import sys

from resilient_agents.cli import main

if __name__ == "__main__":
    sys.exit(main(["up", "--app", "airline", *sys.argv[1:]]))
