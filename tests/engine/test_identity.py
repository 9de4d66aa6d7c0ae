"""Engine security: no secrets in restate-server's environment; request identity between engine and service."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, load_app, register_deployment
from resilient_agents.engine.identity import (
    ENGINE_PRIVATE_KEY_ENV,
    IDENTITY_KEYS_ENV,
    identity_keys_from_env,
    load_or_create_identity,
    public_key_string,
)
from resilient_agents.engine.server import engine_environment
from resilient_agents.errors import ConfigurationError, EngineError

from .conftest import REPO_ROOT

APP_SPEC = "tests.engine.greeter_app:app"
DISCOVER = {"accept": "application/vnd.restate.endpointmanifest.v2+json"}


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def test_engine_environment_keeps_an_allow_list_without_secrets() -> None:
    kept = engine_environment(
        {
            "PATH": "/bin",
            "HOME": "/root",
            "LC_ALL": "C",
            "RESTATE_LOG_FILTER": "info",
            "OPENAI_API_KEY": "sk-1",
            "ANTHROPIC_API_KEY": "sk-2",
            "GITHUB_TOKEN": "ghp",
            "RESTATE_AUTH_TOKEN": "cloud",
            "AWS_SECRET_ACCESS_KEY": "aws",
            "DATABASE_URL": "postgres://u:p@h/db",
            ENGINE_PRIVATE_KEY_ENV: "/keys/engine.pem",
        }
    )
    assert kept == {
        "PATH": "/bin",
        "HOME": "/root",
        "LC_ALL": "C",
        "RESTATE_LOG_FILTER": "info",
        ENGINE_PRIVATE_KEY_ENV: "/keys/engine.pem",
    }


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_the_running_engine_has_no_model_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-leak")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-must-not-leak")
    config = EngineConfig(base_dir=tmp_path / "engine", ingress_port=0, admin_port=0, node_port=0)
    with RestateServer(config) as server:
        assert server.pid is not None
        environ = _environ_of(server.pid)
    assert environ["RESTATE_NODE_NAME"] == "resilient-agents"  # It is the engine's environment we read.
    leaked = {name for name, value in environ.items() if "must-not-leak" in value}
    assert leaked == set()
    assert not {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SOME_SERVICE_TOKEN"} & environ.keys()


def test_key_pair_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_identity(tmp_path / "keys")
    assert stat.S_IMODE(first.private_key_path.stat().st_mode) == 0o600
    assert first.public_key.startswith("publickeyv1_")
    again = load_or_create_identity(tmp_path / "keys")
    assert again == first
    assert first.service_env() == {IDENTITY_KEYS_ENV: first.public_key}
    assert first.engine_env() == {ENGINE_PRIVATE_KEY_ENV: str(first.private_key_path.absolute())}


def test_public_key_string_is_base58_with_restates_prefix() -> None:
    assert public_key_string(bytes(32)) == "publickeyv1_" + "1" * 32  # Leading zero bytes are "1" in base58.
    assert public_key_string(b"\x00" * 31 + b"\x3a") == "publickeyv1_" + "1" * 31 + "21"
    with pytest.raises(ConfigurationError, match="32 bytes"):
        public_key_string(b"short")


def test_a_broken_key_file_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / "request-identity.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="delete it"):
        load_or_create_identity(tmp_path)


def test_identity_keys_from_env() -> None:
    assert identity_keys_from_env({}) == []
    assert identity_keys_from_env({IDENTITY_KEYS_ENV: " a, b c "}) == ["a", "b", "c"]


def test_load_app_wraps_only_when_keys_are_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.engine import greeter_app

    assert load_app(APP_SPEC) is greeter_app.app
    monkeypatch.setenv(IDENTITY_KEYS_ENV, load_or_create_identity(tmp_path).public_key)
    wrapped = load_app(APP_SPEC)
    assert wrapped is not greeter_app.app
    assert wrapped.__wrapped__ is greeter_app.app
    monkeypatch.setenv(IDENTITY_KEYS_ENV, "publickeyv1_nope")
    with pytest.raises(EngineError, match=IDENTITY_KEYS_ENV):
        load_app(APP_SPEC)


def test_only_requests_the_engine_signed_reach_the_service(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path / "engine")
    config = EngineConfig(
        base_dir=tmp_path / "engine",
        ingress_port=0,
        admin_port=0,
        node_port=0,
        fail_fast=True,
        request_identity_key=identity.private_key_path,
    )
    with (
        RestateServer(config) as server,
        ServiceProcess(APP_SPEC, env=identity.service_env(), cwd=REPO_ROOT) as service,
    ):
        assert server.pid is not None
        assert _environ_of(server.pid)[ENGINE_PRIVATE_KEY_ENV] == str(identity.private_key_path.absolute())
        # Straight to the service's port, bypassing the engine: refused.
        assert httpx.get(f"{service.url}/discover", headers=DISCOVER).status_code == 401
        direct = httpx.post(
            f"{service.url}/invoke/Greeter/greet",
            content=b'"mallory"',
            headers={"content-type": "application/vnd.restate.invocation.v5"},
        )
        assert direct.status_code == 401
        assert "signed by its Restate engine" in direct.text
        assert httpx.get(f"{service.url}/health").status_code == 200  # Health stays open, as in the SDK.
        # Through the engine: discovery and invocations are signed, so they work.
        assert register_deployment(server.admin_url, service.url) == ["Greeter"]
        answer = httpx.post(f"{server.ingress_url}/Greeter/greet", json="bob", timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == "Hello, bob!"


def test_an_engine_with_another_key_cannot_register_the_service(tmp_path: Path) -> None:
    trusted = load_or_create_identity(tmp_path / "trusted")
    other = load_or_create_identity(tmp_path / "other")
    config = EngineConfig(
        base_dir=tmp_path / "engine",
        ingress_port=0,
        admin_port=0,
        node_port=0,
        request_identity_key=other.private_key_path,
    )
    with RestateServer(config) as server, ServiceProcess(APP_SPEC, env=trusted.service_env(), cwd=REPO_ROOT) as service:
        with pytest.raises(EngineError, match="401"):
            register_deployment(server.admin_url, service.url)


def test_unset_keys_variable_leaves_the_service_open(tmp_path: Path) -> None:
    env = {IDENTITY_KEYS_ENV: ""}
    with ServiceProcess(APP_SPEC, env=env, cwd=REPO_ROOT) as service:
        assert httpx.get(f"{service.url}/discover", headers=DISCOVER).status_code == 200
    assert os.environ.get(IDENTITY_KEYS_ENV) is None
