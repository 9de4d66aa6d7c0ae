"""``resilient-agents up --cluster N``: the engine as a local Restate cluster. Private module.

The nodes run on the loopback address with a replicated log (every log record and partition on two nodes, the
metadata store a Raft group over all nodes), so any one node can die without losing a message. Node ``i``
(0-based) listens on the base ports of ``up`` plus ``i`` (``--ingress-port 8080``: 8080, 8081, 8082), keeps its
data in ``<data-dir>/node-<i+1>/`` and its log in ``<data-dir>/logs/restate-server-node-<i+1>.log``. The app
is registered once (registration is cluster-wide). ``up`` supervises every node like the single engine: a node
that exits is started again on its data dir and ports and rejoins the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from resilient_agents.engine._child import rotate_log
from resilient_agents.engine.cluster import RestateCluster
from resilient_agents.engine.server import EngineConfig, RestateServer

if TYPE_CHECKING:
    from ._up import Stack

ENGINE = "restate-server"
REPLICATION = 2
"""Copies of every log record and partition (capped at the number of nodes)."""


def node_watch_name(node: RestateServer) -> str:
    """How supervision messages name a node, e.g. ``restate-server node-2``."""
    return f"{ENGINE} {node.config.node_name}"


def start_cluster(stack: Stack, settings: EngineConfig, binary: Path) -> RestateServer:
    """Start ``stack.options.cluster`` nodes from the single engine's ``settings``, supervise each node.

    Args:
        stack: The stack of ``up``; its ``cluster`` is set.
        settings: The single engine's configuration: base ports, data dir, identity, tracing.
        binary: The restate-server executable.

    Returns:
        The first node (the stack's ``engine``, whose URLs ``status`` and ``chat`` use by default).
    """
    nodes = stack.options.cluster
    cluster = RestateCluster(
        settings.base_dir,
        nodes,
        settings=settings,
        replication=min(REPLICATION, nodes),
        binary=binary,
        log_dir=stack.logs,
    )
    for node in cluster.nodes:
        rotate_log(node.log_path)
    stack.cluster = cluster
    stack._step(f"Restate cluster of {nodes} nodes (replication {cluster.replication})", lambda: cluster.start())
    for node in cluster.nodes:
        stack.supervisor.watch(
            node_watch_name(node),
            node,
            how="on its data dir and ports (it rejoins the cluster)",
            after_start=stack._ensure_registered,
        )
    stack.engine = cluster.nodes[0]
    return cluster.nodes[0]


def engine_restarting(stack: Stack) -> bool:
    """True while the engine (with ``--cluster``: any node) is down or restarting."""
    if stack.cluster is None:
        return stack.supervisor.restarting(ENGINE)
    return any(stack.supervisor.restarting(node_watch_name(node)) for node in stack.cluster.nodes)


def engine_restarts(stack: Stack) -> int:
    """How often the engine (with ``--cluster``: any node) was restarted after an exit."""
    if stack.cluster is None:
        return stack.supervisor.restarts(ENGINE)
    return sum(stack.supervisor.restarts(node_watch_name(node)) for node in stack.cluster.nodes)


def cluster_state(stack: Stack) -> dict[str, Any]:
    """The ``cluster`` entry of ``up.json``: every node's name, URLs, pid and state (empty without a cluster)."""
    if stack.cluster is None:
        return {}
    return {
        "cluster": [
            {
                "node": node.config.node_name,
                "ingress_url": node.ingress_url,
                "admin_url": node.admin_url,
                "pid": node.pid,
                "state": "restarting" if stack.supervisor.restarting(node_watch_name(node)) else "running",
                "restarts": stack.supervisor.restarts(node_watch_name(node)),
            }
            for node in stack.cluster.nodes
        ]
    }


def cluster_lines(stack: Stack) -> list[str]:
    """The lines ``up`` prints about the cluster's nodes (none without a cluster)."""
    cluster = stack.cluster
    if cluster is None:
        return []
    lines = [
        f"  Restate cluster: {len(cluster.nodes)} nodes, replicated log (replication {cluster.replication}); "
        "any node's ingress serves every call:"
    ]
    for node in cluster.nodes:
        lines.append(
            f"    {node.config.node_name}: ingress {node.ingress_url}   admin {node.admin_url}   pid {node.pid}"
        )
    lines.append(
        "  kill -9 a node: the others take over its partitions, clients retry on another node's ingress with the "
        "same idempotency-key, and up starts the node again."
    )
    return lines
