"""``ClusterTestEnv``: :class:`AgentTestEnv` on a multi-node Restate cluster, for failover tests.

Private module; import from :mod:`resilient_agents.testing`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, register_deployment
from resilient_agents.engine.cluster import RestateCluster
from resilient_agents.errors import EngineError
from resilient_agents.models import Responder

from ._env import AgentTestEnv


class ClusterTestEnv(AgentTestEnv):
    """An :class:`AgentTestEnv` whose engine is a local Restate cluster of ``nodes`` nodes (replicated log).

    Everything :class:`AgentTestEnv` does works the same: :meth:`call`, :meth:`query` and the other helpers use
    the first node that runs (:attr:`engine`), so they keep working while a test has a node killed. The app is
    registered once, for the whole cluster. :attr:`cluster` has every node's URLs and kills and restarts nodes::

        with ClusterTestEnv("my_app:app", tmp_path, nodes=3) as env:
            env.call("Agent/run", "hi")
            env.cluster.kill(0)                      # SIGKILL node 1
            httpx.post(f"{env.cluster.ingress_urls[1]}/Agent/run", json="hi")
            env.cluster.restart(0)

    Args:
        app: The Restate app to serve, as ``"module:attribute"``.
        base_dir: A fresh directory for the nodes' data and the logs.
        nodes: How many nodes (3 survives losing any one).
        replication: Copies of every log record and partition.
        partitions: Partitions, spread over the nodes.
        model: The responder of the model server; a fresh ``ScriptedModel`` by default.
        always_replay: Every node runs with inactivity timeout 0 (every suspension replays the journal).
        env: Extra environment for the service process.
        pythonpath: Directories prepended to the service process's ``PYTHONPATH``.
        check_step_names: See :class:`AgentTestEnv`.
        unchecked_services: See :class:`AgentTestEnv`.
        tracing_endpoint: Where every node exports its OpenTelemetry spans (see :class:`AgentTestEnv`).
    """

    def __init__(
        self,
        app: str,
        base_dir: Path,
        *,
        nodes: int = 3,
        replication: int = 2,
        partitions: int = 4,
        model: Responder | None = None,
        always_replay: bool = False,
        env: Mapping[str, str] | None = None,
        pythonpath: list[Path] | None = None,
        check_step_names: bool = True,
        unchecked_services: Collection[str] = (),
        tracing_endpoint: str | None = None,
    ) -> None:
        base_dir = Path(base_dir)
        self.cluster = RestateCluster(
            base_dir / "restate",
            nodes,
            settings=EngineConfig(
                base_dir=base_dir / "restate",
                ingress_port=0,
                admin_port=0,
                node_port=0,
                always_replay=always_replay,
                tracing_endpoint=tracing_endpoint,
            ),
            replication=replication,
            partitions=partitions,
        )
        """The nodes: their URLs, :meth:`RestateCluster.kill` and :meth:`RestateCluster.restart`."""
        super().__init__(
            app,
            base_dir,
            model=model,
            always_replay=always_replay,
            env=env,
            pythonpath=pythonpath,
            check_step_names=check_step_names,
            unchecked_services=unchecked_services,
        )

    @property
    def engine(self) -> RestateServer:
        """The first node that runs (the first node when none runs): where helpers send calls and queries."""
        return self.cluster.live_node() if self.cluster.running else self.cluster.nodes[0]

    @engine.setter
    def engine(self, value: RestateServer) -> None:
        # AgentTestEnv.__init__ builds a single engine; a cluster env never starts it.
        del value

    def start(self) -> ClusterTestEnv:
        """Start the model server, every node of the cluster and the app, and register the app once."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.model_server.start()
        self.cluster.start()
        self.service = ServiceProcess(self._app, env=self._service_env(), log_path=self.base_dir / "service.log")
        self.service.start()
        register_deployment(self.cluster.admin_url, self.service.url, force=True)
        return self

    def stop(self) -> None:
        """Stop the service, every node and the model server (after the step-name check of
        :meth:`AgentTestEnv.stop`)."""
        try:
            try:
                if self.check_step_names and self.cluster.running:
                    # After a node restart partitions may still be moving; the check's query needs them settled.
                    self.cluster.wait_ready(timeout=60)
            finally:
                super().stop()
        finally:
            self.cluster.stop()

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run SQL on a live node; while partitions move between nodes (after a node died or rejoined) a node can
        answer "partition N doesn't exist on this node", which Restate calls benign: the query is asked again until
        the partitions have settled (at most a minute), then any error is raised."""
        deadline = time.monotonic() + 60.0
        while True:
            try:
                return super().query(sql)
            except EngineError as error:
                if "doesn't exist on this node" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def __enter__(self) -> ClusterTestEnv:
        return self.start()
