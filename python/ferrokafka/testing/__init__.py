"""An in-process ferrokafka broker for tests: no JVM, no Docker.

- :func:`run_broker`: ``with run_broker() as b: ... b.bootstrap_servers`` (a background
  thread; for synchronous tests and blocking clients).
- :func:`open_broker`: ``async with open_broker() as b:`` inside a running trio loop.
- :func:`run_cluster`: ``with run_cluster(3) as c: ... c.bootstrap_servers`` (several brokers
  in one process sharing one controller; no replication yet, so replication factor 1).
- The ``ferrokafka_broker`` pytest fixture: add ``pytest_plugins = ["ferrokafka.testing"]`` to
  a ``conftest.py`` (or ``from ferrokafka.testing import ferrokafka_broker`` there).
"""

from ferrokafka.testing.broker import RunningBroker, open_broker, run_broker, testing_config
from ferrokafka.testing.cluster import RunningCluster, run_cluster

__all__ = [
    "RunningBroker",
    "RunningCluster",
    "open_broker",
    "run_broker",
    "run_cluster",
    "testing_config",
]

try:  # the fixture needs pytest; the context managers do not
    from ferrokafka.testing.pytest_plugin import ferrokafka_broker
except ImportError:
    pass
else:
    __all__ += ["ferrokafka_broker"]
