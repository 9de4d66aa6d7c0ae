"""A stand-in for an email provider: records each sent email in ``$AIRLINE_OUTBOX`` (one JSON line each)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def send_email(to: str, subject: str) -> str:
    """Send an email (append it to the outbox file when ``AIRLINE_OUTBOX`` is set); return its message id."""
    message_id = "msg-" + hashlib.sha256(f"{to}|{subject}".encode()).hexdigest()[:10]
    outbox = os.environ.get("AIRLINE_OUTBOX")
    if outbox:
        with Path(outbox).open("a", encoding="utf-8") as file:
            file.write(json.dumps({"to": to, "subject": subject, "id": message_id}) + "\n")
    return message_id
