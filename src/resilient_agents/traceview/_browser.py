"""Screenshots of the viewer with headless Chromium (Debian's ``chromium`` package, or Chrome). Private module."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from resilient_agents.errors import ResilientAgentsError

BROWSER_ENV = "RESILIENT_AGENTS_BROWSER"
"""Path of a Chromium-family browser to use instead of looking one up on PATH."""

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BrowserError(ResilientAgentsError):
    """No headless browser, or it failed to take the screenshot."""


def find_browser() -> str | None:
    """The headless browser to use: ``$RESILIENT_AGENTS_BROWSER``, else the first Chromium or Chrome on PATH."""
    configured = os.environ.get(BROWSER_ENV)
    if configured:
        return configured if Path(configured).exists() else shutil.which(configured)
    return next((found for name in _NAMES if (found := shutil.which(name))), None)


def screenshot(url: str, path: Path, width: int = 1400, height: int = 900, timeout: float = 120.0) -> Path:
    """Save a PNG of ``url`` as headless Chromium renders it.

    Args:
        url: The page (a loopback URL: the browser runs with no proxy).
        path: Where to write the PNG.
        width: Window width in pixels.
        height: Window height in pixels.
        timeout: Seconds to wait for the browser.

    Returns:
        ``path``.

    Raises:
        BrowserError: No browser found (install Debian's ``chromium``), or it wrote no PNG.
    """
    browser = find_browser()
    if browser is None:
        raise BrowserError(
            "no headless browser found: install Chromium (Debian: `apt-get install chromium`) "
            f"or set {BROWSER_ENV} to a Chromium or Chrome binary"
        )
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="ra-browser-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # Root (CI, containers) cannot use Chromium's sandbox.
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-proxy-server",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={path}",
            url,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BrowserError(f"{browser} could not take a screenshot of {url}: {error}") from error
    if not path.exists() or not path.read_bytes().startswith(_PNG_MAGIC):
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise BrowserError(f"{browser} wrote no PNG of {url} (exit {result.returncode}):\n{tail}")
    return path
