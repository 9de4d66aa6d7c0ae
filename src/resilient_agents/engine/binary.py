"""Find, and if needed install, the ``restate-server`` and ``restate`` binaries.

Restate publishes static binaries on npm: ``@restatedev/restate-server`` is a small Node wrapper that depends on
a platform package (``@restatedev/restate-server-linux-x64`` and so on) holding the real binary in
``bin/restate-server``. We always run the real binary directly, never the Node wrapper, so that signals and
``kill -9`` reach the server itself.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from resilient_agents.errors import EngineError

__all__ = [
    "CLI_BIN_ENV_VAR",
    "RESTATE_VERSION",
    "SERVER_BIN_ENV_VAR",
    "binary_version",
    "cache_dir",
    "ensure_restate_server",
    "find_restate_cli",
    "find_restate_server",
    "platform_tag",
]

RESTATE_VERSION = "1.7.12"
"""The restate-server (and CLI) version this package is tested with and installs."""

SERVER_BIN_ENV_VAR = "RESTATE_SERVER_BIN"
"""Environment variable naming the restate-server binary to use (wins over every other place)."""

CLI_BIN_ENV_VAR = "RESTATE_CLI_BIN"
"""Environment variable naming the ``restate`` CLI binary to use (wins over every other place)."""

_SERVER_PACKAGE = "restate-server"
_CLI_PACKAGE = "restate"
_NPM_SCOPE = "@restatedev"
_APPROX_DOWNLOAD = "about 230 MB"
_WRAPPER_MAX_BYTES = 1_000_000
_NPM_TAIL_LINES = 40
_VERSION_RE = re.compile(r"\b\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?\b")


def platform_tag() -> str:
    """Return the npm platform suffix of this machine, as Node names it (``linux-x64``, ``darwin-arm64``...).

    Returns:
        ``<os>-<arch>`` with Node's names: os from ``process.platform``, arch from ``process.arch``.
    """
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {
        "x86_64": "x64",
        "amd64": "x64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i386": "ia32",
        "i686": "ia32",
    }.get(machine, machine)
    return f"{system}-{arch}"


def cache_dir() -> Path:
    """Return the per-user directory in which :func:`ensure_restate_server` installs restate-server.

    Returns:
        ``$XDG_CACHE_HOME/resilient-agents/restate-<version>`` (``~/.cache`` when XDG_CACHE_HOME is unset).
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "resilient-agents" / f"restate-{RESTATE_VERSION}"


def find_restate_server(project_dir: Path | None = None) -> Path | None:
    """Find the real ``restate-server`` binary without installing anything.

    Looks, in order, at: the ``RESTATE_SERVER_BIN`` environment variable; ``restate-server`` on ``PATH`` (an npm
    Node wrapper is resolved to the platform binary next to it); ``node_modules`` folders from ``project_dir``
    (then the working directory) upwards; the per-user cache install of :func:`ensure_restate_server`.

    Args:
        project_dir: Where to start looking for ``node_modules``; the working directory when None.

    Returns:
        The path of the executable, or None when it is nowhere to be found.

    Raises:
        EngineError: ``RESTATE_SERVER_BIN`` is set but does not name an executable file.
    """
    return _find_binary(_SERVER_PACKAGE, "restate-server", SERVER_BIN_ENV_VAR, project_dir)


def find_restate_cli(project_dir: Path | None = None) -> Path | None:
    """Find the real ``restate`` CLI binary, like :func:`find_restate_server` (env var ``RESTATE_CLI_BIN``).

    Args:
        project_dir: Where to start looking for ``node_modules``; the working directory when None.

    Returns:
        The path of the executable, or None when it is nowhere to be found.

    Raises:
        EngineError: ``RESTATE_CLI_BIN`` is set but does not name an executable file.
    """
    return _find_binary(_CLI_PACKAGE, "restate", CLI_BIN_ENV_VAR, project_dir)


@functools.lru_cache(maxsize=16)
def binary_version(binary: Path) -> str | None:
    """Ask a restate binary for its version (runs ``<binary> --version`` once per path, about 10 ms).

    Args:
        binary: The restate-server or restate executable.

    Returns:
        The first ``X.Y.Z`` version in its answer (``restate-server 1.7.12``, ``restate-cli 1.7.12 (...)``), or None
        when the binary could not tell.
    """
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(done.stdout)
    return match.group(0) if done.returncode == 0 and match else None


def ensure_restate_server(project_dir: Path | None = None, *, progress: Callable[[str], None] = print) -> Path:
    """Find the real ``restate-server`` binary, installing it with npm first when it is missing.

    When the nearest ``package.json`` (from ``project_dir`` upwards) pins ``@restatedev/restate-server``, runs
    ``npm ci`` there (``npm install`` without a lock file); otherwise installs version :data:`RESTATE_VERSION`
    into the per-user cache (:func:`cache_dir`). npm's output is streamed to ``progress`` line by line.

    Args:
        project_dir: The project directory; the working directory when None.
        progress: Receives a message before the install and then every line npm prints.

    Returns:
        The path of the executable.

    Raises:
        EngineError: npm is missing, npm failed (the message ends with npm's last lines), or the install did not
            produce a binary for this platform.
    """
    found = find_restate_server(project_dir)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise EngineError(
            f"restate-server {RESTATE_VERSION} is not installed and npm was not found to install it: install "
            f"Node.js (it includes npm) from https://nodejs.org and try again, or point {SERVER_BIN_ENV_VAR} at a "
            "restate-server binary (https://docs.restate.dev/installation)."
        )
    start = (project_dir or Path.cwd()).resolve()
    package_json = _nearest_package_json_pinning_server(start)
    if package_json is not None:
        where = package_json.parent
        has_lock = (where / "package-lock.json").is_file() or (where / "npm-shrinkwrap.json").is_file()
        command = [npm, "ci" if has_lock else "install", "--no-audit", "--no-fund", "--loglevel=http"]
    else:
        where = cache_dir()
        where.mkdir(parents=True, exist_ok=True)
        command = [
            npm,
            "install",
            "--prefix",
            str(where),
            "--no-audit",
            "--no-fund",
            "--loglevel=http",
            "--ignore-scripts",  # the binary needs none; it skips e.g. the wrapper's install-analytics script
            f"{_NPM_SCOPE}/{_SERVER_PACKAGE}@{RESTATE_VERSION}",
        ]
    progress(f"Installing restate-server {RESTATE_VERSION} with npm ({_APPROX_DOWNLOAD}, one time) in {where} …")
    _run_npm(command, where, progress)
    found = find_restate_server(where)
    if found is None:
        raise EngineError(
            f"npm finished in {str(where)!r} but no restate-server binary for {platform_tag()!r} appeared under "
            f"node_modules/{_NPM_SCOPE}/{_SERVER_PACKAGE}-{platform_tag()}/bin: Restate may not publish this "
            f"platform; install restate-server another way and set {SERVER_BIN_ENV_VAR}."
        )
    progress(f"restate-server {RESTATE_VERSION} is installed: {found}")
    return found


def _run_npm(command: list[str], cwd: Path, progress: Callable[[str], None]) -> None:
    tail: collections.deque[str] = collections.deque(maxlen=_NPM_TAIL_LINES)
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            env={**os.environ, "SCARF_ANALYTICS": "false"},  # opt out of the wrapper's install-time analytics
        )
    except OSError as error:
        raise EngineError(f"could not run {command[0]!r}: {error}; check your Node.js/npm install") from error
    assert process.stdout is not None
    with process:
        for line in process.stdout:
            line = line.rstrip()
            tail.append(line)
            progress(line)
        returncode = process.wait()
    if returncode != 0:
        output = "\n".join(tail) or "(npm printed nothing)"
        raise EngineError(
            f"{'npm ' + command[1]!r} failed in {str(cwd)!r} with exit code {returncode}; fix the problem below "
            f"(network? proxy? disk space?) and retry, or set {SERVER_BIN_ENV_VAR}. npm said:\n{output}"
        )


def _nearest_package_json_pinning_server(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "package.json"
        if not candidate.is_file():
            continue
        try:
            manifest = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict):
            return None
        name = f"{_NPM_SCOPE}/{_SERVER_PACKAGE}"
        for section in ("dependencies", "devDependencies", "optionalDependencies"):
            deps = manifest.get(section)
            if isinstance(deps, dict) and name in deps:
                return candidate
        return None
    return None


def _find_binary(package: str, binary: str, env_var: str, project_dir: Path | None) -> Path | None:
    explicit = os.environ.get(env_var)
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_executable(path):
            raise EngineError(
                f"{env_var}={explicit!r} does not name an executable file: fix the path or unset {env_var} to let "
                "resilient-agents find or install the binary."
            )
        return _real_binary(path, package, binary) or path
    on_path = shutil.which(binary)
    if on_path is not None:
        real = _real_binary(Path(on_path), package, binary)
        if real is not None:
            return real
    starts = [Path.cwd()] if project_dir is None else [project_dir, Path.cwd()]
    seen: set[Path] = set()
    for start in starts:
        for directory in (start.absolute(), *start.absolute().parents):
            if directory in seen:
                continue
            seen.add(directory)
            for candidate in _platform_binaries(directory / "node_modules", package, binary):
                if _is_executable(candidate):
                    return candidate
    for candidate in _platform_binaries(cache_dir() / "node_modules", package, binary):
        if _is_executable(candidate):
            return candidate
    return None


def _platform_binaries(node_modules: Path, package: str, binary: str) -> Iterator[Path]:
    platform_package = f"{package}-{platform_tag()}"
    # Hoisted next to the wrapper package (npm's default), or nested inside it.
    yield node_modules / _NPM_SCOPE / platform_package / "bin" / binary
    yield node_modules / _NPM_SCOPE / package / "node_modules" / _NPM_SCOPE / platform_package / "bin" / binary


def _real_binary(path: Path, package: str, binary: str) -> Path | None:
    """Return ``path`` if it is a native binary, the platform binary behind it if it is the npm wrapper."""
    if not _is_executable(path):
        return None
    if not _is_node_wrapper(path):
        return path
    # node_modules/.bin/<binary> -> node_modules/@restatedev/<package>/lib/index.js
    script = path.resolve()
    for parent in script.parents:
        if parent.name == "node_modules":
            for candidate in _platform_binaries(parent, package, binary):
                if _is_executable(candidate):
                    return candidate
            break
    return None


def _is_node_wrapper(path: Path) -> bool:
    resolved = path.resolve()
    if resolved.suffix in (".js", ".cjs", ".mjs"):
        return True
    try:
        if resolved.stat().st_size > _WRAPPER_MAX_BYTES:
            return False
        with resolved.open("rb") as handle:
            head = handle.read(128)
    except OSError:
        return False
    first_line = head.split(b"\n", 1)[0]
    return first_line.startswith(b"#!") and b"node" in first_line


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
