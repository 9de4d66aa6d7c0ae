"""``resilient-agents chat --stream``: print a turn's text as the model streams it. Private module."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from resilient_agents.streams import follow_stream


def print_stream(
    service_url: str, invocation_id: str, *, ingress_url: str, timeout: float, out: TextIO | None = None
) -> int:
    """Print the model's text of one turn as it arrives; return the exit code.

    Each model call's text goes on its own line. When the service was restarted in the middle of a model
    call, that call streams again from its start: a note says so and its text follows once more. An app
    that does not stream prints its answer when the turn ends.
    """
    out = out or sys.stdout
    shown: set[str] = set()
    line_open = False
    for event in follow_stream(service_url, invocation_id, ingress_url=ingress_url, timeout=timeout):
        kind = event["type"]
        if kind == "llm_start":
            if line_open:
                out.write("\n")
            if event["step"] in shown:
                out.write(f"[{event['step']} started over after a restart]\n")
            shown.add(event["step"])
            line_open = False
        elif kind == "text_delta" and event["delta"]:
            out.write(event["delta"])
            line_open = True
        elif kind == "done" and (event.get("source") == "attach" or not shown):
            # The side channel did not carry the answer (an app without streaming, or a turn that ended in
            # a process that is gone): print the answer the ingress gave.
            if line_open:
                out.write("\n")
            out.write(_as_text(event.get("output")))
            line_open = True
        elif kind == "failed":
            if line_open:
                out.write("\n")
            out.flush()
            status = f"HTTP {event['status']}: " if event.get("status") else ""
            print(f"error: {status}{event.get('message')}", file=sys.stderr)
            return 1
        out.flush()
    if line_open:
        out.write("\n")
    out.flush()
    return 0


def _as_text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
