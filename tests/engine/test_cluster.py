"""A multi-node Restate cluster (issue 11, item 5): ``RestateCluster``, ``ClusterTestEnv`` and ``up --cluster 3``.

The failover test runs ``up --cluster 3`` serving the weather and airline agents, drives 200 concurrent
conversations through all three nodes' ingresses, ``kill -9``s a node once a third of the turns are done, and
checks that every turn succeeded and that every airline session's history holds each message exactly once.
A client whose call fails retries on the next node's ingress with the same idempotency key (so a retried
message is attached to, never applied twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.cli import main
from resilient_agents.engine import EngineConfig, query
from resilient_agents.engine.cluster import RestateCluster, cluster_node_config
from resilient_agents.engine.ports import port_is_free
from resilient_agents.errors import EngineError
from resilient_agents.models import DemoModel
from resilient_agents.testing import ClusterTestEnv, wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.engine.cluster_apps:app"
NODES = 3
AIRLINE_SESSIONS = 100
AIRLINE_MESSAGES = ("how much baggage can I bring?", "is there wifi on the plane?", "how many seats are on the plane?")
WEATHER_CONVERSATIONS = 100
WEATHER_CITIES = ("Detroit", "Berlin", "London", "Tokyo", "San Francisco")
WEATHER_CALLS = 2
TOTAL_TURNS = AIRLINE_SESSIONS * len(AIRLINE_MESSAGES) + WEATHER_CONVERSATIONS * WEATHER_CALLS
MAX_ATTEMPTS = 60


# -- configuration (no engine) -------------------------------------------------------------------------------


def test_node_config_shares_the_cluster_settings_and_offsets_the_ports(tmp_path: Path) -> None:
    settings = EngineConfig(base_dir=tmp_path, ingress_port=8080, admin_port=9070, node_port=5122, fail_fast=True)
    ports = [(8080 + i, 9070 + i, 5122 + i) for i in range(3)]
    configs = [
        cluster_node_config(settings, i, ports=ports, cluster_name="c", replication=2, partitions=4) for i in range(3)
    ]
    assert [c.node_name for c in configs] == ["node-1", "node-2", "node-3"]
    assert [(c.ingress_port, c.admin_port, c.node_port) for c in configs] == ports
    envs = [c.environment() for c in configs]
    assert [e["RESTATE_AUTO_PROVISION"] for e in envs] == ["true", "false", "false"]
    for env in envs:
        assert env["RESTATE_BIFROST__DEFAULT_PROVIDER"] == "replicated"
        assert env["RESTATE_DEFAULT_REPLICATION"] == "2"
        assert env["RESTATE_DEFAULT_NUM_PARTITIONS"] == "4"
        assert json.loads(env["RESTATE_METADATA_CLIENT__ADDRESSES"]) == [
            "http://127.0.0.1:5122",
            "http://127.0.0.1:5123",
            "http://127.0.0.1:5124",
        ]
        assert env["RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS"] == "1"  # The shared settings are kept.


def test_free_ports_are_picked_once_for_all_nodes_and_never_shared(tmp_path: Path) -> None:
    cluster = RestateCluster(tmp_path, 3)
    configs = [node.config for node in cluster.nodes]
    ports = [port for c in configs for port in (c.ingress_port, c.admin_port, c.node_port)]
    assert len(set(ports)) == 9 and 0 not in ports
    addresses = json.loads(cluster.nodes[2].config.environment()["RESTATE_METADATA_CLIENT__ADDRESSES"])
    assert addresses == [f"http://127.0.0.1:{node.config.node_port}" for node in cluster.nodes]
    assert [node.config.data_dir for node in cluster.nodes] == [tmp_path / f"node-{i}" for i in (1, 2, 3)]


def test_overlapping_port_ranges_and_too_few_nodes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="overlap"):
        RestateCluster(tmp_path, 3, settings=EngineConfig(tmp_path, ingress_port=8080, admin_port=8082, node_port=5122))
    with pytest.raises(EngineError, match="replication"):
        RestateCluster(tmp_path, 2, replication=3)


def test_up_refuses_a_cluster_of_one_node(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["up", "weather", "--cluster", "1"])
    assert exit_info.value.code == 2
    assert "a cluster needs at least 2 nodes" in capsys.readouterr().err


# -- the testing kit -----------------------------------------------------------------------------------------


@pytest.mark.engine
def test_cluster_env_serves_on_every_node_and_survives_a_killed_node(tmp_path: Path) -> None:
    with ClusterTestEnv(APP, tmp_path, model=DemoModel(), pythonpath=[ROOT], env={"WEATHER_API_DELAY": "0"}) as env:
        cluster = env.cluster
        for index, ingress in enumerate(cluster.ingress_urls):
            answer = httpx.post(f"{ingress}/Airline/kit/message", json=AIRLINE_MESSAGES[index], timeout=60)
            assert answer.status_code == 200, answer.text
        cluster.kill(0)
        assert cluster.live_nodes == [1, 2]
        # The helpers follow the live nodes: node 1's partitions move to the others.
        weather = env.call("Agent/run", "What is the weather in Berlin?", idempotency_key="kit-berlin", timeout=120)
        assert weather.status_code == 200 and "Berlin" in weather.text
        cluster.restart(0)
        history = _read(cluster.ingress_urls, "Airline/kit/history")
        assert [i["content"] for i in history["items"] if i.get("role") == "user"] == list(AIRLINE_MESSAGES)


# -- up --cluster 3 under load -------------------------------------------------------------------------------


@dataclass
class UpCluster:
    process: subprocess.Popen[str]
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(list(self.lines))

    def state(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.data_dir / "up.json").read_text()))
        except (OSError, ValueError):
            return {}

    def nodes(self) -> list[dict[str, object]]:
        nodes = self.state().get("cluster")
        return list(nodes) if isinstance(nodes, list) else []


def _base_ports(count: int, nodes: int) -> list[int]:
    """``count`` base ports, each with ``nodes`` free ports from it on, in distinct ranges."""
    bases: list[int] = []
    candidate = 20000 + (os.getpid() * 7) % 20000
    while len(bases) < count:
        if all(port_is_free("127.0.0.1", candidate + i) for i in range(nodes)):
            bases.append(candidate)
            candidate += nodes
        candidate += 1
    return bases


@contextlib.contextmanager
def _up_cluster(tmp_path: Path) -> Iterator[UpCluster]:
    ingress, admin, node, service = _base_ports(4, NODES)
    env = {**os.environ, "WEATHER_API_DELAY": "0.2", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "resilient_agents", "up", APP, "--cluster", str(NODES), "--offline",
         "--data-dir", str(tmp_path / "data"), "--ingress-port", str(ingress), "--admin-port", str(admin),
         "--node-port", str(node), "--service-port", str(service)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    handle = UpCluster(process, tmp_path / "data")

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            handle.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(
            lambda: any(line.startswith("ready:") for line in handle.lines) or process.poll() is not None,
            timeout=180,
            what="up --cluster 3",
        )
        assert process.poll() is None, handle.output()
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


@dataclass
class Load:
    """The clients' shared record: completed turns, retried failures, completion times."""

    ingresses: list[str]
    done: int = 0
    retries: list[str] = field(default_factory=list)
    completions: list[float] = field(default_factory=list)
    kill_at: float | None = None
    third_done: asyncio.Event = field(default_factory=asyncio.Event)

    async def turn(self, client: httpx.AsyncClient, path: str, text: str, key: str, node: int) -> str:
        """One turn: POST to ``node``'s ingress; on failure retry on the next node with the same key."""
        for attempt in range(MAX_ATTEMPTS):
            url = f"{self.ingresses[(node + attempt) % len(self.ingresses)]}/{path}"
            try:
                response = await client.post(url, json=text, headers={"idempotency-key": key})
            except httpx.HTTPError as error:
                failure = f"{key} at {url}: {error!r}"
            else:
                if response.status_code == 200:
                    self.done += 1
                    if self.done >= TOTAL_TURNS // 3:
                        self.third_done.set()
                    self.completions.append(time.monotonic())
                    answer: str = response.json()
                    return answer
                failure = f"{key} at {url}: HTTP {response.status_code} {response.text[:200]}"
            self.retries.append(failure)
            # Not a deadline: only spaces the retries (0.1 s doubling to 2 s) while the cluster fails over.
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        raise AssertionError(f"turn {key} failed {MAX_ATTEMPTS} times; last: {self.retries[-1]}")

    async def airline(self, client: httpx.AsyncClient, session: str, node: int) -> None:
        for index, message in enumerate(AIRLINE_MESSAGES):
            answer = await self.turn(client, f"Airline/{session}/message", message, f"{session}-{index}", node)
            assert answer, f"{session} turn {index}: empty answer"

    async def weather(self, client: httpx.AsyncClient, conversation: int, node: int) -> None:
        for index in range(WEATHER_CALLS):
            city = WEATHER_CITIES[(conversation + index) % len(WEATHER_CITIES)]
            key = f"weather-{conversation}-{index}"
            answer = await self.turn(client, "Agent/run", f"What is the weather in {city}?", key, node)
            assert city in answer, f"{key}: {answer!r}"


async def _drive(ingresses: list[str], kill: int) -> Load:
    """200 concurrent conversations over all ingresses; ``kill`` runs once a third of the turns are done."""
    load = Load(ingresses)  # Built inside the loop: it holds an asyncio.Event.
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    timeout = httpx.Timeout(300.0, connect=5.0)  # A turn waits for its result across the failover.
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        conversations = [load.airline(client, f"s{i}", i % NODES) for i in range(AIRLINE_SESSIONS)]
        conversations += [load.weather(client, i, i % NODES) for i in range(WEATHER_CONVERSATIONS)]
        tasks = [asyncio.ensure_future(c) for c in conversations]

        async def killer() -> None:
            await load.third_done.wait()
            load.kill_at = time.monotonic()
            os.kill(kill, signal.SIGKILL)

        await asyncio.gather(killer(), *tasks)
    return load


def _longest_gap(times: list[float], after: float) -> float:
    ordered = sorted(t for t in times if t >= after)
    marks = [after, *ordered]
    return max((b - a for a, b in itertools.pairwise(marks)), default=0.0)


def _retrying(what: str, attempt: Callable[[int], tuple[Any] | str]) -> Any:
    """Call ``attempt(n)`` until it returns ``(value,)`` rather than a failure text; n counts the failures so far.

    A partition moving between nodes (while a restarted node rejoins) fails a call or a query for a moment.
    """
    failures: list[str] = []

    def once() -> tuple[Any] | None:
        result = attempt(len(failures))
        if isinstance(result, str):
            failures.append(result)
            return None
        return result

    try:
        return wait_until(once, timeout=120, interval=0.2, what=what)[0]
    except TimeoutError as error:
        raise AssertionError(f"{error}; last failures: {failures[-3:]}") from None


def _read(ingresses: list[str], path: str) -> Any:
    """POST a read-only handler, on the next node's ingress after a failure."""

    def attempt(failures: int) -> tuple[Any] | str:
        url = f"{ingresses[failures % len(ingresses)]}/{path}"
        try:
            response = httpx.post(url, timeout=60, trust_env=False)
        except httpx.HTTPError as error:
            return f"{url}: {error!r}"
        if response.status_code != 200:
            return f"{url}: HTTP {response.status_code} {response.text[:200]}"
        return (response.json(),)

    return _retrying(path, attempt)


def _query(admins: list[str], sql: str) -> list[dict[str, Any]]:
    """Run SQL, on the next node's admin API after a failure."""

    def attempt(failures: int) -> tuple[Any] | str:
        try:
            return (query(admins[failures % len(admins)], sql),)
        except EngineError as error:
            return str(error)[:300]

    rows: list[dict[str, Any]] = _retrying(f"SQL {sql!r}", attempt)
    return rows


@pytest.mark.engine
def test_up_cluster_loses_no_message_when_a_node_is_killed_under_load(tmp_path: Path) -> None:
    with _up_cluster(tmp_path) as up:
        output = up.output()
        nodes = up.nodes()
        assert len(nodes) == NODES, output
        for node in nodes:
            assert f"{node['node']}: ingress {node['ingress_url']}" in output  # Every node's ingress is printed.
        ingresses = [str(node["ingress_url"]) for node in nodes]
        victim = nodes[0]  # node-1 provisioned the cluster and was its first metadata member.
        started = time.monotonic()
        load = asyncio.run(_drive(ingresses, int(str(victim["pid"]))))
        elapsed = time.monotonic() - started
        assert load.done == TOTAL_TURNS
        assert load.kill_at is not None

        # up saw the node die and started it again; it rejoined the cluster.
        wait_until(
            lambda: (n := up.nodes()) and int(str(n[0]["restarts"])) >= 1 and n[0]["state"] == "running",
            timeout=120,
            what="up restarting node-1",
        )
        assert "restate-server node-1 exited unexpectedly (signal 9, SIGKILL)" in up.output()

        # Every airline message is in its session's history exactly once, in order.
        for i in range(AIRLINE_SESSIONS):
            history = _read(ingresses, f"Airline/s{i}/history")
            users = [item["content"] for item in history["items"] if item.get("role") == "user"]
            assert users == list(AIRLINE_MESSAGES), f"session s{i}: {users}"

        # One invocation per idempotency key: no retried call ran twice.
        rows = _query(
            [str(node["admin_url"]) for node in nodes],
            "SELECT target_service_name AS service, count(*) AS n, count(DISTINCT idempotency_key) AS keys "
            "FROM sys_invocation WHERE target_handler_name IN ('message', 'run') GROUP BY target_service_name",
        )
        counts = {str(r["service"]): (int(r["n"]), int(r["keys"])) for r in rows}
        assert counts == {
            "Airline": (AIRLINE_SESSIONS * len(AIRLINE_MESSAGES),) * 2,
            "Agent": (WEATHER_CONVERSATIONS * WEATHER_CALLS,) * 2,
        }

        stall = _longest_gap(load.completions, load.kill_at)
        print(
            f"\ncluster failover: {TOTAL_TURNS} turns in {elapsed:.1f}s ({TOTAL_TURNS / elapsed:.1f} turns/s), "
            f"{len(load.retries)} retried calls, longest pause without a finished turn after the kill: {stall:.2f}s"
        )
        rate = [sum(1 for t in load.completions if k <= t - load.kill_at < k + 1) for k in range(-3, 15)]
        print(f"  turns finished per second from 3 s before to 15 s after the kill: {rate}")
        for failure in load.retries[:3]:
            print(f"  retried: {failure}")
