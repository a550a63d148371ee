#!/usr/bin/env bash
# vdpa-lint on Debian's whole 6.12 tree (about 60,000 .c/.h files): hyperfine medians with the
# facts cache cold (a fresh cache directory for every run) and warm, page cache warm in both;
# peak RSS from /usr/bin/time -v.        usage: benchmarks/full_tree.sh [runs]
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
rss_cold=$(rm -rf "$out/rss-cache"; /usr/bin/time -v "$vdpa_lint" check --cache-dir "$out/rss-cache" --fail-on never "$tree" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}')
python3 - "$out" "$files" "$rss_cold" <<'PY'
import json, sys
med = lambda name: json.load(open(f"{sys.argv[1]}/{name}.json"))["results"][0]["median"]
print(f"whole 6.12 tree, {sys.argv[2]} .c/.h files: cold facts cache {med('cold'):.2f}s, "
      f"warm {med('warm'):.2f}s, peak RSS {sys.argv[3]} MB (targets: 10s, 5s, 400 MB)")
PY
