"""Serving Restate apps: load_app, serve_app in-process, ServiceProcess + registration + calls on the real engine."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from resilient_agents.engine import (
    RestateServer,
    ServiceProcess,
    list_deployments,
    list_services,
    load_app,
    query,
    register_deployment,
    serve_app,
)
from resilient_agents.engine.serve import main as serve_main
from resilient_agents.errors import EngineError
from resilient_agents.testing import wait_until

from .conftest import REPO_ROOT

APP_SPEC = "tests.engine.greeter_app:app"
APP_FILE = Path(__file__).with_name("greeter_app.py")


def test_load_app_accepts_modules_files_and_services() -> None:
    from tests.engine import greeter_app

    assert load_app(APP_SPEC) is greeter_app.app
    assert load_app("tests.engine.greeter_app") is greeter_app.app  # attribute defaults to app
    assert callable(load_app(f"{APP_FILE}:app"))
    assert callable(load_app(f"{APP_FILE}:greeter"))  # a restate.Service is wrapped with restate.app


def test_load_app_errors_say_what_is_wrong() -> None:
    with pytest.raises(EngineError, match="cannot import module 'no_such_module_xyz'"):
        load_app("no_such_module_xyz:app")
    with pytest.raises(EngineError, match="has no attribute 'nope'"):
        load_app("tests.engine.greeter_app:nope")
    with pytest.raises(EngineError, match="does not exist"):
        load_app("missing/file.py:app")
    with pytest.raises(EngineError, match="not an ASGI app"):
        load_app("tests.engine.greeter_app:__doc__")


def test_serve_main_rejects_a_bad_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(["--app", "no_such_module_xyz:app", "--port", "0"]) == 2
    assert "no_such_module_xyz" in capsys.readouterr().err


async def test_serve_app_in_process_until_triggered() -> None:
    stop = asyncio.Event()
    urls: list[str] = []
    task = asyncio.ensure_future(
        serve_app(load_app(APP_SPEC), "127.0.0.1", 0, ready=urls.append, shutdown_trigger=stop.wait)
    )
    for _ in range(100):
        if urls:
            break
        await asyncio.sleep(0.01)
    assert urls
    assert urls[0].startswith("http://127.0.0.1:")
    async with httpx.AsyncClient() as client:
        # HTTP/1.1 discovery works too (Restate itself uses h2c, see the ServiceProcess test).
        response = await client.get(
            f"{urls[0]}/discover", headers={"accept": "application/vnd.restate.endpointmanifest.v2+json"}
        )
    assert response.status_code == 200
    assert "Greeter" in response.text
    stop.set()
    await asyncio.wait_for(task, timeout=10)


def _state(service: ServiceProcess) -> str:
    return "alive" if service.alive else "dead"


def test_service_process_registered_called_killed_restarted(restate_server: RestateServer, tmp_path: Path) -> None:
    service = ServiceProcess(APP_SPEC, cwd=REPO_ROOT, log_path=tmp_path / "service.log")
    with service:
        assert service.alive
        assert service.url.startswith("http://127.0.0.1:")
        assert register_deployment(restate_server.admin_url, service.url) == ["Greeter"]
        assert list_services(restate_server.admin_url) == ["Greeter"]
        [deployment] = list_deployments(restate_server.admin_url)
        assert deployment["uri"] == service.url + "/"
        # hypercorn's cleartext HTTP/2 gives Restate's bidirectional streaming protocol.
        assert deployment["http_version"] == "HTTP/2.0"
        assert deployment["protocol_type"] == "BidiStream"
        ingress = restate_server.ingress_url
        response = httpx.post(f"{ingress}/Greeter/greet", json="world", timeout=10)
        assert response.status_code == 200
        assert response.json() == "Hello, world!"

        # A real crash: SIGKILL of the process that serves.
        first_pid = service.pid
        service.kill()
        assert _state(service) == "dead"
        assert service.returncode == -signal.SIGKILL
        service.kill()  # idempotent
        service.restart()
        assert _state(service) == "alive"
        assert service.pid != first_pid
        response = httpx.post(f"{ingress}/Greeter/greet", json="again", timeout=10)
        assert response.json() == "Hello, again!"

        rows = query(restate_server.admin_url, "select id, target, status from sys_invocation order by created_at")
        assert [row["target"] for row in rows] == ["Greeter/greet", "Greeter/greet"]
        assert {row["status"] for row in rows} == {"completed"}
        assert all(row["id"].startswith("inv_") for row in rows)
    assert _state(service) == "dead"
    assert service.returncode == 0  # graceful stop
    assert "resilient-agents serve: ready on" in (tmp_path / "service.log").read_text()


def test_service_process_stops_on_a_single_sigterm(tmp_path: Path) -> None:
    service = ServiceProcess(APP_SPEC, cwd=REPO_ROOT, log_path=tmp_path / "service.log").start()
    try:
        # A request first: the Restate SDK app takes SIGTERM over on its first request.
        assert httpx.get(f"{service.url}/health", timeout=5).status_code == 200
        assert service.pid is not None
        os.kill(service.pid, signal.SIGTERM)
        wait_until(lambda: not service.alive, timeout=60, what="the service to stop on one SIGTERM")
        assert service.returncode == 0
    finally:
        service.kill()


def test_service_process_failure_shows_the_log_tail(tmp_path: Path) -> None:
    service = ServiceProcess("tests.engine.greeter_app:missing", cwd=REPO_ROOT, log_path=tmp_path / "bad.log")
    with pytest.raises(EngineError, match=r"(?s)exited with code 2.*has no attribute 'missing'"):
        service.start(timeout=120)  # A safety net only: the child exits at once.
    assert not service.alive


def test_register_an_unreachable_deployment_quotes_restate(restate_server: RestateServer) -> None:
    with pytest.raises(
        EngineError, match=r"(?s)could not register the deployment 'http://127.0.0.1:1'.*Connection refused"
    ):
        register_deployment(restate_server.admin_url, "http://127.0.0.1:1")
