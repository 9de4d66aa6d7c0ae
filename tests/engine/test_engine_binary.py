"""Finding and installing the restate-server binary (npm is faked; nothing is downloaded)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from resilient_agents.engine import (
    RESTATE_VERSION,
    binary_version,
    ensure_restate_server,
    find_restate_cli,
    find_restate_server,
)
from resilient_agents.engine.binary import cache_dir, platform_tag
from resilient_agents.errors import EngineError

from .conftest import REPO_ROOT

NODE_WRAPPER = '#!/usr/bin/env node\n"use strict";\nrequire("child_process");\n'


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No restate binary anywhere: empty PATH, no env override, cwd and cache under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("RESTATE_SERVER_BIN", raising=False)
    monkeypatch.delenv("RESTATE_CLI_BIN", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def test_finds_the_repository_binary_and_it_has_the_pinned_version() -> None:
    found = find_restate_server(REPO_ROOT)
    assert found is not None
    assert found.name == "restate-server"
    assert f"restate-server-{platform_tag()}" in str(found)  # the real binary, not the node wrapper
    assert binary_version(found) == RESTATE_VERSION
    cli = find_restate_cli(REPO_ROOT)
    assert cli is not None
    assert binary_version(cli) == RESTATE_VERSION


def test_ensure_finds_without_installing() -> None:
    def no_progress(line: str) -> None:
        raise AssertionError(f"nothing should be installed, got {line!r}")

    assert ensure_restate_server(REPO_ROOT, progress=no_progress) == find_restate_server(REPO_ROOT)


def test_searches_node_modules_upwards(isolated: Path) -> None:
    assert find_restate_server(isolated) is None
    binary = _executable(
        isolated / "node_modules" / "@restatedev" / f"restate-server-{platform_tag()}" / "bin" / "restate-server",
        "#!/bin/sh\necho restate-server 9.9.9\n",
    )
    nested = isolated / "src" / "pkg"
    nested.mkdir(parents=True)
    assert find_restate_server(nested) == binary
    assert binary_version(binary) == "9.9.9"


def test_resolves_the_npm_wrapper_on_path_to_the_platform_binary(isolated: Path, tmp_path: Path) -> None:
    modules = tmp_path / "global" / "node_modules"
    wrapper = _executable(modules / "@restatedev" / "restate-server" / "lib" / "index.js", NODE_WRAPPER)
    real = _executable(
        modules / "@restatedev" / f"restate-server-{platform_tag()}" / "bin" / "restate-server", "#!/bin/sh\n"
    )
    (tmp_path / "bin" / "restate-server").symlink_to(wrapper)
    assert find_restate_server(isolated) == real


def test_env_override_wins_and_a_wrong_one_is_reported(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = _executable(tmp_path / "custom" / "restate-server", "#!/bin/sh\n")
    monkeypatch.setenv("RESTATE_SERVER_BIN", str(custom))
    assert find_restate_server(isolated) == custom
    monkeypatch.setenv("RESTATE_SERVER_BIN", str(tmp_path / "missing"))
    with pytest.raises(EngineError, match=r"RESTATE_SERVER_BIN=.*missing"):
        find_restate_server(isolated)


def test_ensure_without_npm_says_what_to_install(isolated: Path) -> None:
    with pytest.raises(EngineError, match=r"npm was not found.*Node\.js.*RESTATE_SERVER_BIN"):
        ensure_restate_server(isolated, progress=lambda _: None)


def test_ensure_reports_the_tail_of_a_failing_npm(isolated: Path, tmp_path: Path) -> None:
    _executable(
        tmp_path / "bin" / "npm", "#!/bin/sh\necho 'npm http fetch GET'\necho 'npm error ENOTFOUND' >&2\nexit 7\n"
    )
    lines: list[str] = []
    with pytest.raises(EngineError, match=r"(?s)exit code 7.*npm error ENOTFOUND"):
        ensure_restate_server(isolated, progress=lines.append)
    assert lines[0].startswith(f"Installing restate-server {RESTATE_VERSION} with npm (about 230 MB, one time)")
    assert "npm error ENOTFOUND" in lines


FAKE_NPM = """#!{python}
# A stand-in for npm: records how it was called and "installs" the platform binary.
import os, pathlib, sys
pathlib.Path({record!r}).write_text(os.getcwd() + "\\n" + "\\n".join(sys.argv[1:]))
prefix = sys.argv[sys.argv.index("--prefix") + 1] if "--prefix" in sys.argv else os.getcwd()
binary = pathlib.Path(prefix) / {relative!r}
binary.parent.mkdir(parents=True, exist_ok=True)
binary.write_text("#!/bin/sh\\n")
binary.chmod(0o755)
print("added 2 packages")
"""


def _fake_npm(tmp_path: Path) -> tuple[Path, str]:
    record = tmp_path / "npm-call"
    relative = f"node_modules/@restatedev/restate-server-{platform_tag()}/bin/restate-server"
    script = FAKE_NPM.format(python=sys.executable, record=str(record), relative=relative)
    _executable(tmp_path / "bin" / "npm", script)
    return record, relative


def test_ensure_installs_into_the_user_cache(isolated: Path, tmp_path: Path) -> None:
    record, relative = _fake_npm(tmp_path)
    lines: list[str] = []
    found = ensure_restate_server(isolated, progress=lines.append)
    assert found == cache_dir() / relative
    assert str(cache_dir()).startswith(str(tmp_path / "cache"))
    assert record.read_text().splitlines()[1:] == [
        "install",
        "--prefix",
        str(cache_dir()),
        "--no-audit",
        "--no-fund",
        "--loglevel=http",
        "--ignore-scripts",
        f"@restatedev/restate-server@{RESTATE_VERSION}",
    ]
    assert "added 2 packages" in lines


def test_ensure_runs_npm_ci_where_package_json_pins_the_server(isolated: Path, tmp_path: Path) -> None:
    (isolated / "package.json").write_text(json.dumps({"dependencies": {"@restatedev/restate-server": "1.7.12"}}))
    (isolated / "package-lock.json").write_text("{}")
    record, relative = _fake_npm(tmp_path)
    subdir = isolated / "agents"
    subdir.mkdir()
    found = ensure_restate_server(subdir, progress=lambda _: None)  # package.json is found upwards
    assert found == isolated / relative
    assert record.read_text().splitlines() == [str(isolated), "ci", "--no-audit", "--no-fund", "--loglevel=http"]
    assert os.access(found, os.X_OK)
