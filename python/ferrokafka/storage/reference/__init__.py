"""Pure-Python record batch v2 codec: the oracle for property tests, the baseline for benches.

It mirrors the record half of :mod:`ferrokafka._ferrokafka` name for name, so a test can be
parametrized over ``native`` and ``reference``::

    import ferrokafka._ferrokafka as native
    from ferrokafka.storage import reference

    for impl in (native, reference):
        b = impl.BatchBuilder(compression="lz4")
        b.append(b"v", key=b"k", timestamp=1_700_000_000_000)
        [batch] = impl.decode_batches(b.build())
        assert batch.records()[0].value == b"v"

Errors are the native exception classes (``CorruptRecordError`` with ``.position``, ...), so
``pytest.raises`` works the same on both sides. It favours being obviously right over being
fast.

Layout: :mod:`.codec` has CRC-32C, zigzag varints and the compression codecs; :mod:`.batch`
has records, batches, the builder and the control (transaction marker) batch. Beyond the
native API it exports the varint helpers and ``MalformedError`` (what they raise).

Where Kafka decides and the format does not:

- A key or value length below zero decodes as null (Kafka tests ``size >= 0``); a negative
  header count or header key length, or a header key that is not UTF-8, is corrupt.
- Records of a LogAppendTime batch all carry the batch's max timestamp.
- ``control_record()`` returns None for control batches that are not transaction markers
  (e.g. KRaft's LeaderChange); a marker too short to read is corrupt.
- Every CorruptRecordError carries ``.position``: the byte position of the batch at fault
  (0 for a bare :func:`decompress`).
"""

from ferrokafka.storage.reference.batch import (
    BatchBuilder,
    Record,
    RecordBatch,
    build_control_batch,
    decode_batches,
)
from ferrokafka.storage.reference.codec import (
    MalformedError,
    compress,
    crc32c,
    decode_varint,
    decode_varlong,
    decompress,
    encode_varint,
    encode_varlong,
)

__all__ = [
    "BatchBuilder",
    "MalformedError",
    "Record",
    "RecordBatch",
    "build_control_batch",
    "compress",
    "crc32c",
    "decode_batches",
    "decode_varint",
    "decode_varlong",
    "decompress",
    "encode_varint",
    "encode_varlong",
]
