"""``ServiceProcess(workers=N)``: several processes serve one deployment; a killed worker is replaced (real engine)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, register_deployment
from resilient_agents.engine.process import engine_env_for_workers
from resilient_agents.engine.serve import _GC_YOUNG_THRESHOLD
from resilient_agents.testing import wait_until

from .conftest import REPO_ROOT

pytestmark = pytest.mark.engine
APP = "tests.engine.workers_app:app"
BURST = 64


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[RestateServer]:
    # Not fail-fast: the invocation interrupted by the kill must be retried.
    config = EngineConfig(
        base_dir=tmp_path / "restate", ingress_port=0, admin_port=0, node_port=0, extra_env=engine_env_for_workers(2)
    )
    server = RestateServer(config).start()
    yield server
    server.stop()


def _held_by(gate: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in gate.iterdir() if p.name.startswith("held-")]


def _service(tmp_path: Path, gate: Path, *, standby: bool) -> ServiceProcess:
    return ServiceProcess(
        APP,
        workers=2,
        standby=standby,
        cwd=REPO_ROOT,
        env={"GATE_DIR": str(gate)},
        log_path=tmp_path / "service.log",
    )


def _burst(ingress_url: str) -> list[int]:
    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=BURST)) as client,
        concurrent.futures.ThreadPoolExecutor(BURST) as pool,
    ):
        responses = list(pool.map(lambda _: client.post(f"{ingress_url}/Workers/whoami"), range(BURST)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    return [int(r.json()) for r in responses]


@pytest.mark.parametrize("standby", [False, True], ids=["cold", "standby"])
def test_two_workers_share_the_load_and_a_killed_one_is_replaced(
    tmp_path: Path, engine: RestateServer, standby: bool
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    service = _service(tmp_path, gate, standby=standby).start()
    try:
        register_deployment(engine.admin_url, service.url, force=True)
        workers = service.worker_pids
        assert len(set(workers)) == 2

        # A burst of concurrent invocations is served by both workers.
        served = set(_burst(engine.ingress_url))
        assert served == set(workers), (served, workers)

        # serve froze what the app's import allocated and collects the youngest generation less often.
        frozen, threshold = httpx.post(f"{engine.ingress_url}/Workers/collector", timeout=30).json()
        assert frozen > 10_000 and threshold == _GC_YOUNG_THRESHOLD

        # kill -9 of the worker running a step: the invocation is retried and completes, the worker is replaced.
        invocation = httpx.post(f"{engine.ingress_url}/Workers/held/send", timeout=10).json()["invocationId"]
        [victim] = wait_until(lambda: _held_by(gate), timeout=60, what="the held step to start")
        spare = service.spare_pid
        service.kill_worker(workers.index(victim))
        assert not service.alive and service.returncode == -signal.SIGKILL
        survivor = next(pid for pid in workers if pid != victim)
        assert service.worker_pids == [survivor]

        service.start()  # What the supervisor of `up` calls: only the dead worker is replaced.
        replacement = next(pid for pid in service.worker_pids if pid != survivor)
        assert service.alive and sorted(service.worker_pids) == sorted([survivor, replacement])
        assert replacement != victim
        if standby:
            assert replacement == spare  # The warm spare took the dead worker's place ...
            assert service.spare_pid not in (None, spare)  # ... and a new spare is on its way.

        # The engine retried the step on a live worker; release it and the invocation completes there.
        wait_until(lambda: len(_held_by(gate)) >= 2, timeout=60, what="the retry of the held step")
        (gate / "release").touch()
        result = httpx.get(f"{engine.ingress_url}/restate/invocation/{invocation}/attach", timeout=60)
        assert result.status_code == 200, result.text
        assert result.json() in (survivor, replacement)
        assert _held_by(gate).count(victim) == 1  # The victim never ran it again.
    finally:
        service.stop()
    assert not service.alive and service.worker_pids == []


def test_stop_ends_every_worker(tmp_path: Path) -> None:
    service = _service(tmp_path, tmp_path, standby=True).start()
    pids = [*service.worker_pids, service.spare_pid]
    assert len(set(pids)) == 3 and None not in pids
    service.stop()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
