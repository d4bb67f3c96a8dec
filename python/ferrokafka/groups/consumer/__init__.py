"""Consumer groups of the KIP-848 protocol (``group.protocol=consumer``): the server-side
assignors, the group and member state machine (sans-io), and the record codecs the
coordinator persists them with."""
