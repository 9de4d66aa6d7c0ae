"""``python -m resilient_agents.run my_script.py [args...]``: run the script's ``main()`` durably."""

from __future__ import annotations

import sys

from resilient_agents.run._launcher import cli

if __name__ == "__main__":
    sys.exit(cli())
