"""Fixtures of the clustered tier's tests (issue 17): a 3-node NATS cluster on loopback (MQTT
3.1.1 and JetStream on every node), anonymous or with the users and permissions generated from
the test's registry, and ingesters pulling from its stream. Loaded as a plugin by
tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.natscluster import NatsCluster
from mqtt.natsaccess import nats_authorization
from tests.broker_auth_support import AuthSetup
from tests.conftest import ServiceProcs, start_ready


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    c = NatsCluster(tmp_path / "nats").start()
    yield c
    c.stop()


@pytest.fixture
def secured_cluster(tmp_path: Path, auth_setup: AuthSetup) -> Iterator[NatsCluster]:
    """Anonymous access off: the users and permissions generated from the test's registry."""
    c = NatsCluster(tmp_path / "nats", auth=nats_authorization(auth_setup.auth, cost=4)).start()
    yield c
    c.stop()


def start_cluster_ingester(services: ServiceProcs, cluster: NatsCluster, name: str,
                           **env: str) -> None:
    start_ready(services, "ingest", name, timeout_s=40, EMS_INGEST_SOURCE="jetstream",
                EMS_INGEST_NATS_URLS=",".join(cluster.urls), EMS_INGEST_CLIENT_ID=name, **env)
