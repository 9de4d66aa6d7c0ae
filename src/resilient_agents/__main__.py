"""``python -m resilient_agents``: the ``resilient-agents`` command."""

from __future__ import annotations

import sys

from resilient_agents.cli import main

if __name__ == "__main__":
    sys.exit(main())
