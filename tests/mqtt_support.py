"""A broker shared by the whole session, for the tests that can share one (as aiomqtt's suite
does): each such test subscribes only under its own ``topic_prefix`` and connects with client
ids of its own, so no message, subscription or session of one test reaches another.

A test takes the function-scoped ``broker`` (tests/conftest.py) instead when it stops, kills or
restarts the broker, needs another configuration (a dynamic security file, a queue limit), or
starts services: the ingester and the gateway subscribe to the fixed ``emissions/#`` and
``hj212/#`` with persistent sessions under fixed client ids, which would outlive the test.

Loaded as a plugin by tests/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devstack.servers import Mosquitto
from tests.conftest import Publisher


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto("mosquitto", tmp_path_factory.mktemp("session-mosquitto")).start()
    yield server
    assert server.proc is not None
    assert server.proc.poll() is None, "a test stopped the shared broker: give it `broker`"
    server.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A topic level of this test's own, to put before every topic it subscribes to."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def session_publisher(session_broker: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(session_broker.port)
    yield p
    p.close()
