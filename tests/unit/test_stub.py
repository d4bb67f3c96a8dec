"""The typed stub `_ferrokafka.pyi` must describe the native module exactly (mypy.stubtest)."""

import subprocess
import sys
from pathlib import Path

ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


def test_stub_matches_native_module() -> None:
    cmd = [sys.executable, "-m", "mypy.stubtest", "ferrokafka._ferrokafka"]
    if ALLOWLIST.exists():
        cmd += ["--allowlist", str(ALLOWLIST)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
