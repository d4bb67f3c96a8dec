"""A log dir on a small ext4 filesystem of its own (a loop device over an image file) that can
be made to fail: :meth:`Ext4Disk.shut_down` is the kernel's EXT4_IOC_SHUTDOWN (what fstests
use to simulate a dead disk), after which every read, write and fsync on it fails with EIO.
Shut down without a journal flush and mounted again (:meth:`Ext4Disk.remount`, fstests'
"godown" and cycle mount), it holds what a power loss leaves: what was fsynced (and what the
kernel had written back), not what was still only in the page cache.

Device-mapper's "error" target is not available here (no dm driver in this kernel), and FUSE
is not needed: the shutdown ioctl gives real kernel EIO on the paths the broker uses (write,
fsync, pread, sendfile, open). Needs root and a free loop device; :meth:`available` says
whether this machine has them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess
from pathlib import Path

IMAGE_BYTES = 64 * 1024 * 1024
# linux/ext4.h: EXT4_IOC_SHUTDOWN = _IOR('X', 125, __u32); the flag: no journal flush.
EXT4_IOC_SHUTDOWN = 0x8004587D
EXT4_GOING_FLAGS_NOLOGFLUSH = 2
COMMAND_TIMEOUT_S = 30.0


def _run(*command: str) -> str:
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    return done.stdout.strip()


class Ext4Disk:
    """``mount()`` makes and mounts it at ``path``; ``close()`` (idempotent) unmounts, lazily
    if a process still holds files on it; the loop device goes with the mount (autoclear)."""

    def __init__(self, path: Path, image: Path, size_bytes: int = IMAGE_BYTES) -> None:
        self.path = path
        self.image = image
        self.size_bytes = size_bytes
        self.mounted = False
        self.shared = False

    @staticmethod
    def available() -> str | None:
        """None when this machine can make one, else why not."""
        if os.geteuid() != 0:
            return "needs root (losetup, mount)"
        for tool in ("losetup", "mkfs.ext4", "mount"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        if not Path("/dev/loop-control").exists():
            return "no loop devices (/dev/loop-control)"
        return None

    def mount(self) -> None:
        """Make the filesystem (the first time) and mount it."""
        if not self.image.exists():
            with open(self.image, "wb") as f:
                f.truncate(self.size_bytes)
            _run("mkfs.ext4", "-q", "-F", str(self.image))
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.shared:
            # The mount point a shared mount of its own: the mount namespaces of processes
            # started with `ip netns exec` (slaves of this one) then see the disk unmounted
            # and mounted again too; else they keep the shut-down filesystem, and mounting its
            # image again would give back that same (failed) filesystem.
            _run("mount", "--bind", str(self.path), str(self.path))
            self.shared = True
            _run("mount", "--make-shared", str(self.path))
        # -o loop: mount sets up the loop device with autoclear, freed by the unmount.
        _run("mount", "-o", "loop", str(self.image), str(self.path))
        self.mounted = True

    def remount(self) -> None:
        """Unmount and mount again (the journal is replayed): after :meth:`shut_down`, what
        the disk held when it stopped. Nothing may hold files on it (the process is dead)."""
        self._unmount()
        self.mount()

    def shut_down(self) -> None:
        """From now on every operation on the filesystem fails with EIO."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def _unmount(self) -> None:
        if self.mounted:
            try:
                _run("umount", str(self.path))
            except subprocess.CalledProcessError:
                _run("umount", "-l", str(self.path))
            self.mounted = False

    def close(self) -> None:
        """Unmount the disk and its shared mount point, delete the image; never raises for
        what is already gone."""
        try:
            self._unmount()
        finally:
            if self.shared:
                self.shared = False
                subprocess.run(
                    ["umount", "-l", str(self.path)], capture_output=True, timeout=COMMAND_TIMEOUT_S
                )
            self.image.unlink(missing_ok=True)
