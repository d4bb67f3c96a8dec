"""DescribeLogDirs (key 35): each log dir with its free space and the partitions it holds.

As Kafka's ReplicaManager.describeLogDirs answers: every configured dir (absolute path), its
total and usable bytes (v4+) from the file system, and per topic found in the dir the requested
partitions (all with a null topic list) with their size. This node leads every partition it
holds and the high watermark is the log end, so the offset lag is 0.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import trio

from ferrokafka.cluster import errors
from ferrokafka.protocol.error_codes import KAFKA_STORAGE_ERROR
from ferrokafka.protocol.messages.describe_log_dirs import (
    DescribeLogDirsRequest,
    DescribeLogDirsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

_Result = DescribeLogDirsResponse.DescribeLogDirsResult
_Topic = DescribeLogDirsResponse.DescribeLogDirsTopic
_Partition = DescribeLogDirsResponse.DescribeLogDirsPartition


class DescribeLogDirsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeLogDirsRequest
    ) -> DescribeLogDirsResponse:
        wanted = (
            None
            if request.topics is None
            else {(t.topic, p) for t in request.topics for p in t.partitions}
        )
        # Sizes take each log's lock and statvfs may touch a slow disk: off the event loop.
        results = await trio.to_thread.run_sync(self._describe, wanted)
        return DescribeLogDirsResponse(error_code=errors.NONE, results=results)

    def _describe(self, wanted: set[tuple[str, int]] | None) -> list[_Result]:
        logs = self.node.logs
        by_dir: dict[Path, dict[str, list[_Partition]]] = defaultdict(dict)
        for tp, log in logs.all_logs().items():
            log_dir = logs.log_dir_of(tp.topic, tp.partition)
            if log_dir is None:
                continue
            partitions = by_dir[log_dir].setdefault(tp.topic, [])
            if wanted is None or (tp.topic, tp.partition) in wanted:
                partitions.append(
                    _Partition(
                        partition_index=tp.partition,
                        partition_size=log.size_in_bytes,
                        offset_lag=0,
                        is_future_key=False,
                    )
                )
        results = []
        for log_dir in logs.log_dirs:
            path = str(Path(log_dir).absolute())
            try:
                stat = os.statvfs(path)
            except OSError:
                results.append(_Result(error_code=KAFKA_STORAGE_ERROR, log_dir=path))
                continue
            topics = by_dir.get(log_dir, {})
            results.append(
                _Result(
                    error_code=errors.NONE,
                    log_dir=path,
                    topics=[
                        _Topic(name=name, partitions=sorted(parts, key=lambda p: p.partition_index))
                        for name, parts in sorted(topics.items())
                    ],
                    total_bytes=stat.f_blocks * stat.f_frsize,
                    usable_bytes=stat.f_bavail * stat.f_frsize,
                )
            )
        return results
