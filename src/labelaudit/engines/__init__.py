"""Where the streamed passes run: `local` (threads in this process, core.stream.ThreadEngine) or
`dask` (a Dask cluster: labelaudit.engines.dask, imported only when asked for). Both drive the same
per-block kernels of core.stream, so the result never depends on the engine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from labelaudit.core.stream import Engine, ThreadEngine
from labelaudit.errors import InputError

ENGINES = ("local", "dask")
CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before an unreachable one is an error


@dataclass(frozen=True)
class EngineSpec:
    """An engine as the command line names it: `name`, and for dask a scheduler address
    (tcp://HOST:PORT, else DASK_SCHEDULER_ADDRESS), a scheduler file, or the number of local worker
    processes (a LocalCluster on 127.0.0.1, no dashboard)."""

    name: str = "local"
    scheduler: str | None = None
    scheduler_file: str | None = None
    workers: int | None = None
    timeout: float = CONNECT_TIMEOUT

    def check(self) -> None:
        if self.name not in ENGINES:
            raise InputError(f"--engine must be one of {', '.join(ENGINES)}, got {self.name!r}")
        given = [
            flag
            for flag, value in (
                ("--scheduler", self.scheduler),
                ("--scheduler-file", self.scheduler_file),
                ("--workers", self.workers),
            )
            if value is not None
        ]
        if self.name != "dask" and given:
            raise InputError(f"{', '.join(given)}: for --engine dask only")
        if len(given) > 1:
            raise InputError(f"{', '.join(given)}: give one of them (where the Dask workers are)")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be >= 1, got {self.workers}")

    def address(self) -> str | None:
        """The scheduler address to connect to (None: a scheduler file, or a local cluster).
        --workers asks for a local cluster, whatever DASK_SCHEDULER_ADDRESS says."""
        explicit = self.scheduler_file is not None or self.workers is not None
        return self.scheduler or (None if explicit else os.environ.get("DASK_SCHEDULER_ADDRESS"))

    def wants_local_cluster(self) -> bool:
        return self.name == "dask" and self.scheduler_file is None and self.address() is None

    def prepare(self) -> None:
        """What can start before the inputs are opened: for a local Dask cluster, the fork server its
        workers are forked from (it imports numpy and Dask meanwhile; engines.dask.start_fork_server)."""
        if self.wants_local_cluster():
            from labelaudit.engines.dask import start_fork_server

            start_fork_server()

    @contextlib.contextmanager
    def open(self, n_jobs: int | None = 1) -> Iterator[Engine]:
        """The engine for one run; a cluster started for it is closed on the way out."""
        self.check()
        if self.name == "local":
            yield ThreadEngine(n_jobs)
            return
        from labelaudit.engines.dask import dask_engine

        with dask_engine(self) as engine:
            yield engine
