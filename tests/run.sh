#!/usr/bin/env bash
# Install everything the test suite needs and run all of it: Rust unit tests, the Python
# suite (unit, storage, interop with Apache Kafka), the stub check, and one untimed pass over
# the benchmarks so they cannot rot. Used by developers and by .ci/run, on a fresh machine.
#
# Caches (safe to delete): $FERROKAFKA_CACHE (default ~/.cache/ferrokafka) holds the cargo
# target dir and the Kafka jars' classpath; pip and Maven keep their usual caches.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${FERROKAFKA_CACHE:-$HOME/.cache/ferrokafka}
venv=${FERROKAFKA_VENV:-$cache/venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
mkdir -p "$cache"

step() { printf '\n=== %s\n' "$*"; }

step "toolchains"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
command -v java >/dev/null || { echo "java not found: install a JDK 17+ first" >&2; exit 1; }
command -v mvn >/dev/null || { echo "mvn not found: install Maven first" >&2; exit 1; }
cargo --version; java -version 2>&1 | head -1; python3 --version

step "Debian packages (kcat, a client the tests drive; prometheus, which scrapes the broker)"
if ! command -v kcat >/dev/null || ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null && apt-get install -y -q kcat prometheus >/dev/null
  else
    echo "kcat or prometheus not found: install them with 'sudo apt-get install kcat prometheus'" >&2; exit 1
  fi
fi
kcat -V 2>&1 | head -1

step "python environment ($venv)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "maturin>=1.8,<2"

step "build the wheel (release) and install it with the test extras"
# A real wheel, not an editable install: the tests then exercise what `pip install .` ships
# (the native module, the stub, and the CLI from cli/).
rm -rf "$cache/wheels"
"$venv/bin/maturin" build --release -q -o "$cache/wheels" -i "$venv/bin/python"
wheel=$(ls "$cache"/wheels/ferrokafka-*.whl)
"$venv/bin/python" -m pip install -q "${wheel}[test]"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$wheel"

step "Quix Streams in its own venv (it pins an older confluent-kafka than the test extra)"
FERROKAFKA_CACHE="$cache" PYTHONPATH=tests "$venv/bin/python" -m ecosystem.pyfw_support

step "Apache Kafka jars from Maven Central"
bash tests/kafka/fetch.sh

step "cargo test (Rust unit tests)"
cargo test -q

step "layers (import-linter contracts in pyproject.toml)"
# The source tree, not the wheel: the contract is about the code as written.
PYTHONPATH=python "$venv/bin/lint-imports"

step "pytest"
# The slowest tests, listed before the summary: what to make opt-in when the suite nears
# its 40-minute budget.
"$venv/bin/python" -m pytest tests --durations=60 --junitxml="$cache/last-junit.xml" "$@"

step "benchmarks (one untimed pass)"
"$venv/bin/python" -m pytest bench -q --benchmark-disable -p no:cacheprovider
