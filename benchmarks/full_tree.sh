#!/usr/bin/env bash
# vdpa-lint on Debian's whole 6.12 tree (about 60,000 .c/.h files): hyperfine medians with the
# cache directory cold (a fresh one for every run: no facts, no tree cache) and warm (the facts
# and the tree's listings and byte prefilter kept by the run before), page cache warm in both;
# peak RSS of each from /usr/bin/time -v.        usage: benchmarks/full_tree.sh [runs]
# VDPA_LINT=/path/to/vdpa-lint measures another build (e.g. an older checkout's).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
if [ -z "${VDPA_LINT:-}" ]; then
    [ -x benchmarks/.venv/bin/python ] || python3 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps . >/dev/null 2>&1
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check . >/dev/null 2>&1
fi
vdpa_lint=${VDPA_LINT:-benchmarks/.venv/bin/vdpa-lint}
tree=$(scripts/fetch-kernel-corpus --full 6.12 | cut -d' ' -f2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=$(find "$tree" -name '*.[ch]' -type f | wc -l)
hyperfine -N -w 1 -r "$runs" --export-json "$out/cold.json" --prepare "rm -rf $out/cold-cache" \
    "$vdpa_lint check --cache-dir $out/cold-cache --fail-on never $tree" >/dev/null 2>&1
"$vdpa_lint" check --cache-dir "$out/warm-cache" --fail-on never "$tree" >/dev/null
hyperfine -N -w 1 -r "$runs" --export-json "$out/warm.json" \
    "$vdpa_lint check --cache-dir $out/warm-cache --fail-on never $tree" >/dev/null 2>&1
rss() { /usr/bin/time -v "$vdpa_lint" check --cache-dir "$1" --fail-on never "$tree" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}'; }
rss_cold=$(rm -rf "$out/rss-cache"; rss "$out/rss-cache")
rss_warm=$(rss "$out/warm-cache")
python3 - "$out" "$files" "$rss_cold" "$rss_warm" <<'PY'
import json, sys
res = lambda name: json.load(open(f"{sys.argv[1]}/{name}.json"))["results"][0]
cold, warm = res("cold"), res("warm")
print(f"whole 6.12 tree, {sys.argv[2]} .c/.h files: cold cache {cold['median']:.2f}s "
      f"(min {cold['min']:.2f}s), warm {warm['median']:.2f}s (min {warm['min']:.2f}s), "
      f"peak RSS {sys.argv[3]} MB cold, {sys.argv[4]} MB warm (targets: 10s, 0.5s warm, 400 MB)")
PY
