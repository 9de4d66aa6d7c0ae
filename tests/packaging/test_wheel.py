"""The wheel built from this repo, installed into fresh venvs outside the repo, as a user would install it.

* With the ``openai-agents`` extra it serves a user's one-file agent: ``resilient-agents up --app mine:app``
  in the user's directory, then ``resilient-agents chat`` gets the offline demo model's answer.
* Without the extra, the core imports and ``resilient_agents.openai_agents`` fails with the install hint.

Everything installs offline from uv's cache (the tests run in a loopback-only network namespace): the
versions come from uv.lock (``uv export --format pylock.toml``), whose wheels ``scripts/bootstrap``'s
``uv sync`` has put in the cache.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resilient_agents.engine import pick_free_port
from resilient_agents.engine.binary import SERVER_BIN_ENV_VAR, find_restate_server
from resilient_agents.testing import wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]  # Installs a few venvs: generous on a loaded machine.

ROOT = Path(__file__).resolve().parents[2]
HINT = "pip install 'resilient-agents[openai-agents]'"

USER_AGENT = '''\
"""A user's one-file durable agent: `resilient-agents up --app mine:app`."""

import json

from agents import Agent

from resilient_agents.openai_agents import agent_service, durable_app, durable_tool


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, e.g. "Lisbon".
    """
    return json.dumps({"city": city, "temperature_c": 31, "conditions": "bright"})


agent = Agent(name="Mine", instructions="Answer weather questions with the get_weather tool.", tools=[get_weather])
app = durable_app([agent_service(agent, name="Agent")])
'''


def _uv() -> str:
    """The uv that scripts/bootstrap used: its cache holds the locked wheels."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    if found is None:
        pytest.fail("uv is not installed: run scripts/bootstrap (it installs uv and fills its cache)")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no repo on the path, no venv active, no model keys."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL", "RESILIENT_AGENTS_OFFLINE_MODEL_URL"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"UV_OFFLINE": "1", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment with the wheel installed."""

    path: Path

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def script(self, name: str) -> str:
        return str(self.path / "bin" / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the repo offline (hatchling comes from the dev group: no build isolation)."""
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--wheel", "--no-build-isolation", "--python", sys.executable, "-o", str(out)], cwd=ROOT)
    (built,) = out.glob("resilient_agents-*.whl")
    return built


@pytest.fixture(scope="module")
def make_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Callable[[str | None], Venv]:
    """``make_venv(extra)``: a venv outside the repo with the locked dependencies and the wheel (+ ``extra``)."""
    made: dict[str | None, Venv] = {}

    def make(extra: str | None) -> Venv:
        if extra in made:
            return made[extra]
        base = tmp_path_factory.mktemp(f"venv-{extra or 'core'}")
        venv = Venv(base / "venv")
        uv = _uv()
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv.path)], cwd=base)
        # The locked versions as a PEP 751 lock: it names each wheel's URL, which uv's cache is keyed on, so the
        # offline install needs no index pages (a plain `name==version` list would).
        lock = base / "pylock.toml"
        extras = ["--extra", extra] if extra else []
        _run([uv, "export", "--frozen", "--quiet", "--format", "pylock.toml", "--no-dev", "--no-emit-project",
              *extras, "--project", str(ROOT), "-o", str(lock)], cwd=base)  # fmt: skip
        _run([uv, "pip", "install", "--quiet", "--python", venv.python, "-r", str(lock)], cwd=base)
        requirement = f"resilient-agents[{extra}] @ {wheel.as_uri()}" if extra else str(wheel)
        _run([uv, "pip", "install", "--quiet", "--python", venv.python, requirement], cwd=base)
        made[extra] = venv
        return venv

    return make


@dataclass
class Up:
    venv: Venv
    process: subprocess.Popen[str]
    ingress: str
    lines: list[str]

    def output(self) -> str:
        return "\n".join(list(self.lines))


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A user's project: one file, outside the repo."""
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "mine.py").write_text(USER_AGENT)
    assert not directory.resolve().is_relative_to(ROOT)
    return directory


@pytest.fixture
def up(make_venv: Callable[[str | None], Venv], user_dir: Path) -> Iterator[Up]:
    """``resilient-agents up --app mine:app`` from the user's directory, with the venv's console script.

    The data directory is the default one, ``<user_dir>/.restate``, where ``chat`` finds the running ``up``.
    """
    venv = make_venv("openai-agents")
    server = find_restate_server(ROOT)
    assert server is not None, "restate-server is not installed: run scripts/bootstrap"
    used: set[int] = set()
    ports = [str(_port(used)) for _ in range(4)]
    process = subprocess.Popen(
        [venv.script("resilient-agents"), "up", "--app", "mine:app",
         "--ingress-port", ports[0], "--admin-port", ports[1], "--node-port", ports[2], "--service-port", ports[3]],
        cwd=user_dir, env=_clean_env(**{SERVER_BIN_ENV_VAR: str(server)}),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    handle = Up(venv, process, f"http://127.0.0.1:{ports[0]}", [])

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            handle.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("ready:" in line for line in handle.lines) or process.poll() is not None,
                   timeout=240, what="resilient-agents up")  # fmt: skip
        assert process.poll() is None, handle.output()
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def _port(used: set[int]) -> int:
    port = pick_free_port(avoid=used)
    used.add(port)
    return port


def test_the_wheel_serves_a_users_one_file_agent(up: Up, user_dir: Path) -> None:
    assert "OFFLINE DEMO MODEL" in up.output()
    chat = _run([up.venv.script("resilient-agents"), "chat", "--app", "mine:app", "--ingress", up.ingress,
                 "What is the weather in Lisbon?"], cwd=user_dir)  # fmt: skip
    assert "Lisbon" in chat.stdout and "31" in chat.stdout, chat.stdout + chat.stderr

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=60) == 0, up.output()


def test_without_the_extra_the_core_imports_and_the_integration_names_the_extra(
    make_venv: Callable[[str | None], Venv], tmp_path: Path
) -> None:
    venv = make_venv(None)
    # The core: no Agents SDK anywhere, and `import resilient_agents` pulls in neither it nor openai.
    core = _run([venv.python, "-c", (
        "import sys, importlib.util, importlib.metadata as md\n"
        "import resilient_agents\n"
        "assert 'agents' not in sys.modules and 'openai' not in sys.modules, sorted(sys.modules)\n"
        "import resilient_agents.loop, resilient_agents.engine, resilient_agents.models, resilient_agents.approvals\n"
        "import resilient_agents.testing, resilient_agents.run, resilient_agents.streams, resilient_agents.config\n"
        "import resilient_agents.cli, resilient_agents.cli._up\n"
        "assert importlib.util.find_spec('agents') is None\n"
        "assert not [e for e in md.entry_points(group='pytest11') if 'resilient' in e.value]\n"
        "print(resilient_agents.__file__, resilient_agents.__version__)\n"
    )], cwd=tmp_path)  # fmt: skip
    path, version = core.stdout.split()
    assert Path(path).is_relative_to(venv.path), "imported the repo's source instead of the installed wheel"
    assert version != "0.0.0"
    assert "Durable LLM agents" in _run([venv.script("resilient-agents"), "--help"], cwd=tmp_path).stdout

    failed = subprocess.run([venv.python, "-c", "import resilient_agents.openai_agents"],
                            cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert failed.returncode != 0
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:") and HINT in last, failed.stderr
