"""``python -m examples.bank``: the same as ``resilient-agents up --app bank``."""

from __future__ import annotations

import sys

from resilient_agents.cli import main

if __name__ == "__main__":
    sys.exit(main(["up", "--app", "bank", *sys.argv[1:]]))
