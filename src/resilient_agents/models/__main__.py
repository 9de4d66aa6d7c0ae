"""Run the offline model server: ``python -m resilient_agents.models --mode demo --port 0``."""

from __future__ import annotations

import sys

from resilient_agents.models._cli import main

if __name__ == "__main__":
    sys.exit(main())
