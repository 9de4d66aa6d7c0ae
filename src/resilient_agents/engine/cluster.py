"""Run a multi-node Restate cluster on one machine: N ``restate-server`` processes with a replicated log.

Each node is a :class:`~resilient_agents.engine.server.RestateServer` with its own name, data directory and
ports; they share a cluster name, the list of metadata servers (every node), a replicated log
(``[bifrost] default-provider = "replicated"``) and a replication factor (``default-replication``, 2 by default:
every log record and every partition's state lives on two nodes, and the metadata store is a Raft group over
all nodes). The first node provisions the cluster on a fresh data directory (``auto-provision``); the others
join it. Every node serves the ingress and the admin API, so a client whose node died retries on another.

Typical use (tests, trying failover on a laptop)::

    with RestateCluster(Path(".restate-cluster"), nodes=3) as cluster:
        register_deployment(cluster.admin_url, service.url)
        httpx.post(f"{cluster.ingress_urls[1]}/Agent/run", json="hi")
        cluster.kill(0)        # SIGKILL node 1; the others take over its partitions
        cluster.restart(0)     # it rejoins on the same data dir and ports
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

from resilient_agents.engine.ports import http_url, pick_free_port
from resilient_agents.engine.server import EngineConfig, RestateServer, _connect_host
from resilient_agents.errors import EngineError

__all__ = ["RestateCluster", "cluster_node_config"]

_PORT_FIELDS = ("ingress_port", "admin_port", "node_port")
_READY_PROBE = "SELECT id FROM sys_invocation LIMIT 1"
# Rounds in a row in which every node must answer the probe: right after provisioning, partitions move between
# nodes and a node that answered once can fail the next query ("partition 2 doesn't exist on this node").
_READY_ROUNDS = 3


def cluster_node_config(
    settings: EngineConfig,
    index: int,
    *,
    ports: list[tuple[int, int, int]],
    cluster_name: str,
    replication: int,
    partitions: int,
) -> EngineConfig:
    """The configuration of node ``index`` (0-based) of a cluster, from per-cluster ``settings``.

    The node is named ``node-<index + 1>`` and keeps its data in ``<settings.base_dir>/node-<index + 1>``.

    Args:
        settings: Host, base ports and the engine options every node shares (fail-fast, identity, tracing...).
        index: Which node.
        ports: Every node's ``(ingress, admin, node-to-node)`` ports, in node order (every node needs every
            node's address: they are the metadata servers).
        cluster_name: The cluster's name (the same on every node).
        replication: Copies of every log record and partition (``default-replication``).
        partitions: Partitions of a new cluster (``default-num-partitions``; fixed once provisioned).

    Returns:
        The node's configuration.
    """
    host = _connect_host(settings.host)
    cluster_env = {
        "RESTATE_CLUSTER_NAME": cluster_name,
        "RESTATE_AUTO_PROVISION": "true" if index == 0 else "false",
        "RESTATE_DEFAULT_REPLICATION": str(replication),
        "RESTATE_DEFAULT_NUM_PARTITIONS": str(partitions),
        "RESTATE_BIFROST__DEFAULT_PROVIDER": "replicated",
        "RESTATE_METADATA_CLIENT__ADDRESSES": json.dumps([http_url(host, node) for _, _, node in ports]),
    }
    if settings.lean:
        cluster_env["RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE"] = "32 MB"
    return dataclasses.replace(
        settings,
        node_name=f"node-{index + 1}",
        # The partition count comes from the cluster env above, not from lean's single partition.
        lean=False,
        ingress_port=ports[index][0],
        admin_port=ports[index][1],
        node_port=ports[index][2],
        extra_env={**cluster_env, **settings.extra_env},
    )


class RestateCluster:
    """``nodes`` restate-server processes on one host forming one Restate cluster with a replicated log.

    Node ``i`` (0-based) is named ``node-<i+1>``, keeps its data in ``<base_dir>/node-<i+1>/`` and its log in
    ``<log_dir>/restate-server-node-<i+1>.log``, and listens on the base ports plus ``i`` (8080, 8081, 8082 for
    the ingress with the defaults of ``up``); base ports that are 0 give every node free ports, picked once and
    kept across restarts. Usable as a context manager (starts on enter, stops on exit).

    Args:
        base_dir: Directory for every node's data.
        nodes: How many nodes (at least ``replication``).
        settings: What every node shares: host, base ports, fail-fast, request identity, tracing, extra
            environment (its ``base_dir`` and ``node_name`` are replaced per node). Default: loopback, free
            ports, lean memory.
        replication: Copies of every log record and partition; 2 survives losing any one node.
        partitions: Partitions of a new cluster (spread over the nodes; fixed once provisioned).
        cluster_name: The cluster's name; nodes refuse to join a cluster of another name.
        binary: The restate-server executable; found or installed when None.
        log_dir: Where the nodes' logs go (default: ``base_dir``).
    """

    def __init__(
        self,
        base_dir: Path,
        nodes: int = 3,
        *,
        settings: EngineConfig | None = None,
        replication: int = 2,
        partitions: int = 4,
        cluster_name: str = "resilient-agents",
        binary: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        if nodes < 1:
            raise EngineError(f"RestateCluster(nodes={nodes!r}): a cluster needs at least one node.")
        if not 1 <= replication <= nodes:
            raise EngineError(
                f"RestateCluster(nodes={nodes!r}, replication={replication!r}): the replication factor must be "
                f"between 1 and the number of nodes; use replication={min(2, nodes)} or more nodes."
            )
        if partitions < 1:
            raise EngineError(f"RestateCluster(partitions={partitions!r}): give at least one partition.")
        self.base_dir = Path(base_dir)
        base = settings or EngineConfig(base_dir=self.base_dir, ingress_port=0, admin_port=0, node_port=0)
        base = dataclasses.replace(base, base_dir=self.base_dir, extra_env=dict(base.extra_env))
        _check_port_ranges(base, nodes)
        ports = _node_ports(base, nodes)
        log_dir = Path(log_dir) if log_dir is not None else self.base_dir
        self.replication = replication
        """Copies of every log record and partition."""
        self.nodes: list[RestateServer] = []
        """The nodes, in order (node ``i`` is named ``node-<i+1>``)."""
        for index in range(nodes):
            config = cluster_node_config(
                base,
                index,
                ports=ports,
                cluster_name=cluster_name,
                replication=replication,
                partitions=partitions,
            )
            log_path = log_dir / f"restate-server-{config.node_name}.log"
            self.nodes.append(RestateServer(config, binary, log_path=log_path))
        self.startup_seconds: float | None = None
        """Seconds the last :meth:`start` took until every node answered queries."""

    # -- addresses -----------------------------------------------------------------------------------------

    @property
    def ingress_urls(self) -> list[str]:
        """Every node's ingress base URL, in node order."""
        return [node.ingress_url for node in self.nodes]

    @property
    def admin_urls(self) -> list[str]:
        """Every node's admin API base URL, in node order."""
        return [node.admin_url for node in self.nodes]

    @property
    def live_nodes(self) -> list[int]:
        """Indexes of the nodes whose process runs."""
        return [index for index, node in enumerate(self.nodes) if node.running]

    def live_node(self) -> RestateServer:
        """The first node whose process runs (for admin calls and queries that any node answers).

        Raises:
            EngineError: No node runs.
        """
        for node in self.nodes:
            if node.running:
                return node
        raise EngineError("no node of the Restate cluster is running; start it (RestateCluster.start()).")

    @property
    def ingress_url(self) -> str:
        """The ingress of the first running node (the first node's when none runs)."""
        return self._first_live().ingress_url

    @property
    def admin_url(self) -> str:
        """The admin API of the first running node (the first node's when none runs)."""
        return self._first_live().admin_url

    @property
    def ui_url(self) -> str:
        """The web UI of the first running node."""
        return self.admin_url + "/ui/"

    @property
    def running(self) -> bool:
        """True while at least one node runs."""
        return bool(self.live_nodes)

    def _first_live(self) -> RestateServer:
        return next((node for node in self.nodes if node.running), self.nodes[0])

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> RestateCluster:
        """Start every node that is not running, together, and wait until the cluster serves.

        The nodes start at the same time: with a replicated log no node is healthy alone. Waiting ends when
        every node has answered a query over the introspection tables (which needs a leader for every
        partition) in several rounds in a row. Also restarts a whole cluster on its existing data.

        Args:
            timeout: Seconds to wait for the whole cluster.

        Returns:
            self, for chaining.

        Raises:
            EngineError: A node failed to start (its message ends with the node's log), or the cluster did not
                serve within ``timeout``.
        """
        started = time.monotonic()
        errors = _run_all([functools.partial(node.start, timeout=timeout) for node in self.nodes if not node.running])
        if errors:
            self.stop()
            raise errors[0]
        self.wait_ready(timeout=max(1.0, timeout - (time.monotonic() - started)))
        self.startup_seconds = time.monotonic() - started
        return self

    def wait_ready(self, timeout: float = 60.0, *, interval: float = 0.1) -> float:
        """Wait until every running node answers a query over the introspection tables, several rounds in a row.

        Args:
            timeout: Seconds to wait at most.
            interval: Seconds between rounds.

        Returns:
            The seconds it took.

        Raises:
            EngineError: Not ready within ``timeout`` (the message quotes the last failure).
        """
        started = time.monotonic()
        rounds = 0
        last = "no answer yet"
        with httpx.Client(timeout=httpx.Timeout(5.0, connect=1.0), trust_env=False) as client:
            while rounds < _READY_ROUNDS:
                failure = self._probe(client)
                if failure is None:
                    rounds += 1
                else:
                    rounds, last = 0, failure
                if rounds >= _READY_ROUNDS:
                    break
                if time.monotonic() - started >= timeout:
                    raise EngineError(
                        f"the Restate cluster of {len(self.nodes)} nodes did not serve within {timeout:g} s (last "
                        f"check: {last}); see the nodes' logs ({self.nodes[0].log_path.parent}) or give it more "
                        "time with start(timeout=...)."
                    )
                time.sleep(interval)
        return time.monotonic() - started

    def _probe(self, client: httpx.Client) -> str | None:
        """One round of the readiness probe; the first failure, or None when every running node answered."""
        live = [node for node in self.nodes if node.running]
        if not live:
            return "no node is running"
        for node in live:
            try:
                response = client.post(
                    f"{node.admin_url}/query", json={"query": _READY_PROBE}, headers={"accept": "application/json"}
                )
            except httpx.HTTPError as error:
                return f"{node.config.node_name}: {error!r}"
            if response.status_code != 200:
                return f"{node.config.node_name}: POST /query -> HTTP {response.status_code} {response.text[:300]}"
        return None

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based), as a crash would; the other nodes take over its partitions.

        Args:
            index: Which node.
        """
        self._node(index).kill()

    def restart(self, index: int, timeout: float = 60.0) -> None:
        """Start node ``index`` again on its data dir and ports (after :meth:`kill` or an exit); it rejoins.

        Args:
            index: Which node.
            timeout: Seconds to wait until it answers queries.
        """
        self._node(index).start(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout`` seconds), all at once. Idempotent.

        Args:
            timeout: Seconds each node gets for a graceful shutdown.
        """
        errors = _run_all([functools.partial(node.stop, timeout=timeout) for node in self.nodes])
        if errors:
            raise errors[0]

    def _node(self, index: int) -> RestateServer:
        if not 0 <= index < len(self.nodes):
            raise EngineError(f"the cluster has nodes 0 to {len(self.nodes) - 1} (0-based), not {index!r}.")
        return self.nodes[index]

    def __enter__(self) -> RestateCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RestateCluster(nodes={len(self.nodes)}, running={self.live_nodes}, ingress={self.ingress_urls!r})"


def _node_ports(base: EngineConfig, nodes: int) -> list[tuple[int, int, int]]:
    """Every node's ``(ingress, admin, node)`` ports: the base ports plus the node's index, free ports for 0.

    Free ports are picked here, once, for all nodes together: every node must know the others' node-to-node
    addresses before any of them starts, and nodes picking on their own could pick the same port.
    """
    taken = {getattr(base, name) + i for name in _PORT_FIELDS if getattr(base, name) for i in range(nodes)}

    def port(name: str, index: int) -> int:
        configured: int = getattr(base, name)
        if configured:
            return configured + index
        picked = pick_free_port(base.host, avoid=taken)
        taken.add(picked)
        return picked

    return [(port("ingress_port", i), port("admin_port", i), port("node_port", i)) for i in range(nodes)]


def _check_port_ranges(base: EngineConfig, nodes: int) -> None:
    """Refuse base ports whose per-node ranges overlap (e.g. ingress 8080 and admin 8081 with 3 nodes)."""
    ranges = {name: getattr(base, name) for name in _PORT_FIELDS if getattr(base, name)}
    seen: dict[int, str] = {}
    for name, port in ranges.items():
        if port + nodes - 1 > 65535:
            raise EngineError(f"{name}={port} plus one port per node ({nodes}) passes 65535: pick a lower port.")
        for offset in range(nodes):
            other = seen.get(port + offset)
            if other is not None:
                raise EngineError(
                    f"the cluster's port ranges overlap: {name}={port} and {other} both need port {port + offset} "
                    f"({nodes} nodes use the base port plus 0 to {nodes - 1}); move one base port further away."
                )
            seen[port + offset] = name


def _run_all(actions: list[Callable[[], object]]) -> list[EngineError]:
    """Run ``actions`` in threads at once; the engine errors they raised, in order."""
    errors: list[EngineError | None] = [None] * len(actions)

    def run(index: int) -> None:
        try:
            actions[index]()
        except EngineError as error:
            errors[index] = error

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [error for error in errors if error is not None]
