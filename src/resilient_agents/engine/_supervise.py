"""Keep child processes running: restart with doubling delays, give up after repeated failed starts.

Private module (used by ``resilient-agents up``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from resilient_agents.engine._child import ChildProcess, describe_exit
from resilient_agents.errors import EngineError

__all__ = ["GaveUpError", "RestartPolicy", "Supervisor"]


@dataclass(frozen=True)
class RestartPolicy:
    """When and how often a supervised process is started again."""

    initial_delay: float = 0.0
    """Seconds between an exit (or a failed start) and the next start attempt, at first: none by default, since a
    process that had been running healthily is restarted at once (a warm standby makes that take milliseconds)."""

    min_backoff: float = 0.1
    """The delay after a second exit or failed start in a row, when :attr:`initial_delay` is shorter."""

    max_delay: float = 4.0
    """The delay doubles after every exit or failed start (starting from :attr:`min_backoff`), up to this many
    seconds."""

    reset_after: float = 10.0
    """Seconds a process must stay up before the delay goes back to :attr:`initial_delay`."""

    max_failed_starts: int = 5
    """Failed starts in a row (the process never became healthy in between) after which supervision gives up."""


class GaveUpError(EngineError):
    """A supervised process failed to start :attr:`RestartPolicy.max_failed_starts` times in a row."""

    def __init__(self, name: str, attempts: int, error: EngineError) -> None:
        super().__init__(
            f"{name} failed to start {attempts} times in a row without becoming healthy; giving up. "
            f"Last attempt: {error}"
        )
        self.name = name
        """Which process gave up."""
        self.error = error
        """The last start failure (its message ends with the tail of the process's log)."""


@dataclass
class _Watch:
    name: str
    child: ChildProcess
    how: str
    after_start: Callable[[], None] | None
    delay: float
    failures: int = 0
    up_since: float | None = None
    retry_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Watches child processes and starts them again when they exit; :meth:`poll` does one round.

    A process that exits is restarted after :attr:`RestartPolicy.initial_delay` (at once by default, in the same
    :meth:`poll`), then after :attr:`RestartPolicy.min_backoff` doubling up to :attr:`RestartPolicy.max_delay`
    while it keeps exiting; the delay resets once it has stayed up for
    :attr:`RestartPolicy.reset_after`. :class:`GaveUpError` is raised when it fails to *start* (never becomes
    healthy) :attr:`RestartPolicy.max_failed_starts` times in a row.

    Args:
        say: Receives one line per event (exit, restart, failed start).
        policy: The delays and limits.
        changed: Called after every change of state (a process exited or was restarted).
        clock: Monotonic seconds (for tests of the policy).
    """

    def __init__(
        self,
        say: Callable[[str], None],
        policy: RestartPolicy | None = None,
        *,
        changed: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RestartPolicy()
        """The delays and limits in use."""
        self._say = say
        self._changed = changed
        self._clock = clock
        self._watches: dict[str, _Watch] = {}

    def watch(
        self, name: str, child: ChildProcess, *, how: str = "", after_start: Callable[[], None] | None = None
    ) -> None:
        """Supervise ``child`` under ``name`` from now on.

        Args:
            name: How messages name it, e.g. ``"restate-server"``.
            child: The process; :meth:`ChildProcess.start` must wait until it is healthy.
            how: Words added to the restart message, e.g. ``"on the same data dir and ports"``.
            after_start: Called after every successful (re)start while supervised, e.g. to re-register.
        """
        self._watches[name] = _Watch(name, child, how, after_start, self.policy.initial_delay)

    def restarts(self, name: str) -> int:
        """How often the process ``name`` was restarted after an exit."""
        return self._watches[name].restarts

    def restarting(self, name: str) -> bool:
        """True while the process ``name`` is down and waiting for (or in) a restart."""
        watch = self._watches[name]
        return watch.retry_at is not None or not watch.child.alive

    def start(self, name: str, wait: Callable[[float], bool]) -> bool:
        """Start the process ``name`` for the first time, retrying failed starts with the policy's delays.

        Args:
            name: A watched process.
            wait: Sleeps for the given seconds; returns True to stop trying (e.g. Ctrl-C was pressed).

        Returns:
            True once it runs, False when ``wait`` asked to stop first.

        Raises:
            GaveUpError: It failed to start too many times in a row.
        """
        watch = self._watches[name]
        while not self._attempt(watch, first=True):
            assert watch.retry_at is not None
            if wait(max(0.0, watch.retry_at - self._clock())):
                return False
        return True

    def poll(self) -> None:
        """Check every watched process once: report exits, (re)start those whose delay has passed.

        Raises:
            GaveUpError: A process failed to start too many times in a row.
        """
        for watch in self._watches.values():
            now = self._clock()
            if watch.child.alive:
                if watch.up_since is not None and now - watch.up_since >= self.policy.reset_after:
                    watch.delay = self.policy.initial_delay
                continue
            if watch.retry_at is None:
                how = f" {watch.how}" if watch.how else ""
                self._say(
                    f"! {watch.name} exited unexpectedly ({describe_exit(watch.child.returncode)}); "
                    f"restarting it{how} {_when(watch.delay)} ..."
                )
                self._schedule(watch)
                self._notify()
                now = self._clock()
            assert watch.retry_at is not None
            if now >= watch.retry_at and self._attempt(watch, first=False):
                watch.restarts += 1
                self._notify()

    def _schedule(self, watch: _Watch) -> None:
        watch.up_since = None
        watch.retry_at = self._clock() + watch.delay
        watch.delay = min(max(watch.delay * 2, self.policy.min_backoff), self.policy.max_delay)

    def _attempt(self, watch: _Watch, *, first: bool) -> bool:
        started = self._clock()
        try:
            watch.child.start()
        except EngineError as error:
            watch.failures += 1
            if watch.failures >= self.policy.max_failed_starts:
                raise GaveUpError(watch.name, watch.failures, error) from error
            delay = watch.delay
            self._schedule(watch)
            self._say(
                f"! {watch.name} failed to start ({watch.failures} of {self.policy.max_failed_starts} in a row): "
                f"{_headline(error, watch.child)}; retrying {_when(delay)} (log: {watch.child.log_path})"
            )
            return False
        watch.failures = 0
        watch.retry_at = None
        watch.up_since = self._clock()
        if not first:
            self._say(f"  {watch.name} restarted in {watch.up_since - started:.1f}s (pid {watch.child.pid})")
        if watch.after_start is not None:
            watch.after_start()
        return True

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed()


def _when(delay: float) -> str:
    return f"in {delay:g}s" if delay > 0 else "now"


def _headline(error: EngineError, child: ChildProcess) -> str:
    """The first clause of a start error and the last line the child wrote, e.g. the exception it died of."""
    text = str(error).strip()
    headline = text.splitlines()[0].split("; ")[0] if text else type(error).__name__
    last = child.log_tail(1).strip()
    return f"{headline} ({last})" if last else headline
