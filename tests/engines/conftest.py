"""A loopback Dask cluster for the engine tests: 2 worker processes on 127.0.0.1, no dashboard,
closed (processes ended) when the module's tests are done."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")

from tests.engines.cluster import local_cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster(request):
    import distributed

    c = local_cluster()
    client = distributed.Client(c, set_as_default=False)

    def close():
        client.close()
        c.close()

    request.addfinalizer(close)
    return client
