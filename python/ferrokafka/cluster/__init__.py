"""Controller, metadata log and image, replication (later issues)."""
