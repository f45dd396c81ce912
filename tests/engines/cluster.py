"""The loopback LocalCluster the engine tests use (processes, 2 workers, 127.0.0.1, no dashboard)."""

from __future__ import annotations

import logging
from typing import Any


def local_cluster() -> Any:
    import distributed

    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
