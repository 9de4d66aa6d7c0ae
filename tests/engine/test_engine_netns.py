"""The loopback-only network namespace (checked in a child process, to leave the test process alone)."""

from __future__ import annotations

import json
import subprocess
import sys

from resilient_agents.engine import in_loopback_namespace

CHILD = """
import json, os, socket
from resilient_agents.engine import enter_loopback_namespace, in_loopback_namespace
os.environ.pop("RESILIENT_AGENTS_NETNS", None)
entered = enter_loopback_namespace()
result = {"entered": entered, "inside": in_loopback_namespace(), "env": os.environ.get("RESILIENT_AGENTS_NETNS")}
with open("/proc/self/net/dev") as devices:
    result["interfaces"] = sorted(line.split(":")[0].strip() for line in devices.read().splitlines()[2:])
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=2):
        result["loopback"] = True
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1).close()
    result["outside"] = "reachable"
except OSError as error:
    result["outside"] = type(error).__name__
print(json.dumps(result))
"""


def test_enter_loopback_namespace_in_a_child() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=30, check=True, env={"PATH": ""}
    )
    result = json.loads(done.stdout)
    if not result["entered"]:
        # The OS does not allow it here; the function must then say so without raising.
        assert result["env"] is None
        return
    assert result["inside"] is True
    assert result["env"] == "1"
    assert result["interfaces"] == ["lo"]
    assert result["loopback"] is True
    assert result["outside"] != "reachable"


def test_the_test_process_is_isolated_or_knows_it_is_not() -> None:
    # The suite's pytest plugin enters the namespace at start where it can; either way the answer is a bool.
    assert isinstance(in_loopback_namespace(), bool)
