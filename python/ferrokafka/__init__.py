"""ferrokafka: a Kafka-compatible log broker with a Rust hot path and a trio control plane.

The storage engine's Python face is :mod:`ferrokafka.storage`.
"""

from ferrokafka._ferrokafka import __version__

__all__ = ["__version__"]
