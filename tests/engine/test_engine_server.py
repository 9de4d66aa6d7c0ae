"""Running the real restate-server: configuration, start, health, errors, stop."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from resilient_agents.engine import EngineConfig, RestateServer, list_services, query
from resilient_agents.errors import EngineError


def test_config_environment_is_loopback_lean_and_telemetry_free(tmp_path: Path) -> None:
    config = EngineConfig(base_dir=tmp_path, ingress_port=18080, admin_port=19070, node_port=15122)
    env = config.environment()
    assert env["RESTATE_NODE_NAME"] == "resilient-agents"
    assert env["RESTATE_BASE_DIR"] == str(tmp_path)
    assert env["RESTATE_DISABLE_TELEMETRY"] == "true"
    assert env["RESTATE_BIND_ADDRESS"] == "127.0.0.1:15122"
    assert env["RESTATE_INGRESS__BIND_ADDRESS"] == "127.0.0.1:18080"
    assert env["RESTATE_ADMIN__BIND_ADDRESS"] == "127.0.0.1:19070"
    assert env["RESTATE_DEFAULT_NUM_PARTITIONS"] == "1"
    assert env["RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE"] == "32 MB"
    assert "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT" not in env
    assert "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS" not in env

    strict = EngineConfig(
        base_dir=tmp_path, lean=False, always_replay=True, fail_fast=True, extra_env={"RESTATE_LOG_FILTER": "debug"}
    ).environment()
    assert "RESTATE_DEFAULT_NUM_PARTITIONS" not in strict
    assert strict["RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT"] == "0s"
    assert strict["RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS"] == "1"
    assert strict["RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS"] == "kill"
    assert strict["RESTATE_LOG_FILTER"] == "debug"


def test_config_free_ports_and_validation(tmp_path: Path) -> None:
    config = EngineConfig(base_dir=tmp_path, ingress_port=0, admin_port=0, node_port=0)
    with pytest.raises(EngineError, match="with_free_ports"):
        config.environment()
    resolved = config.with_free_ports()
    ports = {resolved.ingress_port, resolved.admin_port, resolved.node_port}
    assert len(ports) == 3
    assert 0 not in ports
    assert config.ingress_port == 0
    with pytest.raises(EngineError, match="ports must differ"):
        EngineConfig(base_dir=tmp_path, ingress_port=9000, admin_port=9000)
    with pytest.raises(EngineError, match=r"EngineConfig\.admin_port=70000 is not a TCP port"):
        EngineConfig(base_dir=tmp_path, admin_port=70000)


def test_long_data_dirs_fall_back_to_tcp_only(tmp_path: Path) -> None:
    assert EngineConfig(base_dir=tmp_path).effective_listen_mode() == "all"
    deep = tmp_path / ("d" * 120)
    assert EngineConfig(base_dir=deep).effective_listen_mode() == "tcp"
    assert EngineConfig(base_dir=deep, listen_mode="all").effective_listen_mode() == "all"


def test_server_is_healthy_on_loopback(restate_server: RestateServer) -> None:
    assert restate_server.running
    assert restate_server.pid is not None
    assert restate_server.startup_seconds is not None
    config = restate_server.config
    assert 0 not in (config.ingress_port, config.admin_port, config.node_port)
    assert restate_server.admin_url == f"http://127.0.0.1:{config.admin_port}"
    assert restate_server.ingress_url == f"http://127.0.0.1:{config.ingress_port}"
    assert httpx.get(f"{restate_server.admin_url}/health").status_code == 200
    assert httpx.get(f"{restate_server.ingress_url}/restate/health").status_code == 200
    ui = httpx.get(restate_server.ui_url)
    assert ui.status_code == 200
    assert "html" in ui.headers["content-type"]
    # Data under <base_dir>/<node_name>, log next to it.
    assert (config.base_dir / "resilient-agents").is_dir()
    assert config.log_path.is_file()
    # Every TCP listener is bound to loopback only.
    node = httpx.get(f"http://127.0.0.1:{config.node_port}/health").json()
    tcp = [entry["address"] for entry in node["bound_addresses"] if entry["kind"] == "tcp"]
    assert len(tcp) == 3
    assert all(address.startswith("127.0.0.1:") for address in tcp)


def test_admin_helpers_on_an_empty_server(restate_server: RestateServer) -> None:
    assert list_services(restate_server.admin_url) == []
    assert query(restate_server.admin_url, "select id from sys_invocation") == []
    with pytest.raises(EngineError, match="No field named nope"):
        query(restate_server.admin_url, "select nope from sys_invocation")


def test_port_in_use_is_reported_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server = RestateServer(EngineConfig(base_dir=tmp_path, ingress_port=0, admin_port=port, node_port=0))
        with pytest.raises(EngineError, match=rf"port {port} \(admin\) .* already in use .* EngineConfig\(admin_port="):
            server.start()
    assert not server.running


def test_failed_start_shows_the_log_tail(tmp_path: Path) -> None:
    config = EngineConfig(
        base_dir=tmp_path,
        ingress_port=0,
        admin_port=0,
        node_port=0,
        extra_env={"RESTATE_DEFAULT_NUM_PARTITIONS": "not-a-number"},
    )
    server = RestateServer(config)
    with pytest.raises(EngineError, match=r"(?s)exited before it became healthy.*configuration loading error"):
        server.start(timeout=120)  # A safety net only: the server exits at once.
    assert not server.running
    server.stop()  # idempotent after a failed start


def _state(server: RestateServer) -> str:
    return "running" if server.running else "stopped"


def test_stop_kill_restart_on_the_same_data(tmp_path: Path) -> None:
    server = RestateServer(EngineConfig(base_dir=tmp_path, ingress_port=0, admin_port=0, node_port=0))
    with server:
        first_pid = server.pid
        admin_url = server.admin_url
        server.kill()
        assert _state(server) == "stopped"
        assert server.returncode == -9
        server.kill()  # idempotent
        server.start()
        assert _state(server) == "running"
        assert server.pid != first_pid
        assert server.admin_url == admin_url  # picked ports are kept
    assert not server.running
    assert server.returncode == 0
    server.stop()  # idempotent
    assert "starting" in server.config.log_path.read_text()
