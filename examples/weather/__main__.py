"""``python -m examples.weather``: the same as ``resilient-agents up --app weather``."""

from __future__ import annotations

import sys

from resilient_agents.cli import main

if __name__ == "__main__":
    sys.exit(main(["up", "--app", "weather", *sys.argv[1:]]))
