#!/usr/bin/env bash
# Fetch Apache Kafka's jars from Maven Central and write their classpath, for the interop tests
# (tests/interop/) that run a real Kafka broker and Kafka's DumpLogSegments.
#
# Usage: tests/kafka/fetch.sh            resolve (once) and print the classpath file's path
#        tests/kafka/fetch.sh --force    resolve again even if the cache looks complete
#
# Environment:
#   FERROKAFKA_KAFKA_VERSION   Kafka version (default: <kafka.version> in tests/kafka/pom.xml)
#   FERROKAFKA_CACHE           ferrokafka's cache root (default: ~/.cache/ferrokafka)
#   FERROKAFKA_KAFKA_HOME      cache directory holding classpath.txt
#                              (default: $FERROKAFKA_CACHE/kafka-<version>)
#   FERROKAFKA_FETCH_TIMEOUT_S bound on each Maven run (default: 900)
#
# The jars themselves stay in Maven's local repository (~/.m2); the cache directory holds the
# classpath and a stamp of the pom it came from. A warm run checks that stamp and that every jar
# on the classpath exists, and never starts Maven: it takes milliseconds. kafka_support/jars.py
# computes the same paths, so keep the two in step.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
force=0

die() {
    echo "fetch.sh: error: $*" >&2
    exit 1
}

for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

[[ -f "$pom" ]] || die "missing $pom"
pom_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n 1)"
[[ -n "$pom_version" ]] || die "no <kafka.version> property in $pom"
version="${FERROKAFKA_KAFKA_VERSION:-$pom_version}"
cache_root="${FERROKAFKA_CACHE:-$HOME/.cache/ferrokafka}"
home="${FERROKAFKA_KAFKA_HOME:-$cache_root/kafka-$version}"
classpath_file="$home/classpath.txt"
stamp_file="$home/stamp.txt"
timeout_s="${FERROKAFKA_FETCH_TIMEOUT_S:-900}"

# What the cached classpath was resolved from: a change to the pom or the version invalidates it.
stamp="version=$version pom-sha256=$(sha256sum "$pom" | cut -d' ' -f1)"

# Succeeds when classpath file $1 lists only existing jars and holds the broker and the tools.
classpath_complete() {
    local file="$1" jar missing=0
    [[ -s "$file" ]] || return 1
    while IFS= read -r -d ':' jar; do
        [[ -f "$jar" ]] || { missing=1; break; }
    done < <(tr -d '\n' < "$file"; printf ':')
    ((missing == 0)) || return 1
    grep -q "kafka_2.13-$version.jar" "$file" && grep -q "kafka-tools-$version.jar" "$file"
}

# Kafka Connect and MirrorMaker 2 (tests/ecosystem/): a Maven project of its own with its own
# version (tests/kafka/connect/pom.xml), cached where kafka_support.jars.connect_classpath()
# looks: <cache>/kafka-connect-<version>/classpath.txt. Warm: no Maven run.
fetch_connect() {
    local connect_pom="$here/connect/pom.xml" connect_version connect_home connect_file part jar
    connect_version="$(sed -n 's:.*<connect.version>\(.*\)</connect.version>.*:\1:p' "$connect_pom" | head -n 1)"
    [[ -n "$connect_version" ]] || die "no <connect.version> property in $connect_pom"
    connect_home="$(dirname "$home")/kafka-connect-$connect_version"
    connect_file="$connect_home/classpath.txt"
    if ((force == 0)) && [[ -s "$connect_file" ]]; then
        local missing=0
        while IFS= read -r -d ':' jar; do
            [[ -f "$jar" ]] || { missing=1; break; }
        done < <(tr -d '\n' < "$connect_file"; printf ':')
        ((missing == 0)) && return 0
    fi
    mkdir -p "$connect_home"
    part="$connect_home/classpath.part"
    echo "fetch.sh: resolving Kafka Connect $connect_version from Maven Central" >&2
    local attempt
    for attempt in 1 2; do
        if timeout --kill-after=30 "$timeout_s" mvn -B -q -Dstyle.color=never -f "$connect_pom" \
            -Dmdep.outputFile="$part" -Dmdep.includeScope=runtime dependency:build-classpath \
            >"$connect_home/maven.log" 2>&1 && grep -q "connect-mirror-$connect_version.jar" "$part"; then
            mv -f "$part" "$connect_file"
            return 0
        fi
        echo "fetch.sh: Kafka Connect attempt $attempt failed (log: $connect_home/maven.log)" >&2
    done
    die "Maven could not resolve Kafka Connect $connect_version (log: $connect_home/maven.log)"
}

if ((force == 0)) && [[ -f "$stamp_file" ]] && [[ "$(cat "$stamp_file")" == "$stamp" ]] \
    && classpath_complete "$classpath_file"; then
    fetch_connect
    echo "$classpath_file"
    exit 0
fi

command -v java >/dev/null || die "java not found on PATH (Kafka $version needs Java 17 or newer)"
command -v mvn >/dev/null || die "mvn not found on PATH (Maven resolves Kafka from Maven Central)"
command -v timeout >/dev/null || die "timeout (coreutils) not found on PATH"

mkdir -p "$home"
tmp="$(mktemp "$home/classpath.XXXXXX")"
log="$home/maven.log"
trap 'rm -f "$tmp"' EXIT

# Maven already retries single downloads; one more whole run covers a dropped connection.
resolve() {
    timeout --kill-after=30 "$timeout_s" \
        mvn -B -q -Dstyle.color=never -f "$pom" -Dkafka.version="$version" -Dmdep.outputFile="$tmp" \
        -Dmdep.includeScope=runtime dependency:build-classpath >"$log" 2>&1
}

echo "fetch.sh: resolving Apache Kafka $version from Maven Central (log: $log)" >&2
if ! resolve; then
    echo "fetch.sh: first attempt failed, retrying once" >&2
    if ! resolve; then
        # Maven's first errors name what is missing; the rest is advice on reading them.
        sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m 3 '^\[ERROR\] .' >&2 || tail -n 40 "$log" >&2
        die "Maven could not resolve Apache Kafka $version (full log: $log). Is Maven Central reachable, and does version $version exist for kafka_2.13 and kafka-tools?"
    fi
fi

classpath_complete "$tmp" \
    || die "Maven finished but the classpath in $tmp is incomplete (log: $log)"
mv -f "$tmp" "$classpath_file"
echo "$stamp" >"$stamp_file"
fetch_connect
echo "fetch.sh: Apache Kafka $version ready: $(tr ':' '\n' <"$classpath_file" | wc -l) jars" >&2
echo "$classpath_file"
