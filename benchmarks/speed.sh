#!/usr/bin/env bash
# vdpa-lint against Coccinelle's VDPA001 semantic patch (../shared/peers/vdpa001.cocci) on the
# same directories, in one run, on this machine: wall time (hyperfine, median of N runs after
# warm-up, warm page cache), the ratio, and peak RSS (/usr/bin/time -v).
#   usage: benchmarks/speed.sh [runs]        needs: hyperfine, coccinelle (Debian packages)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
# Measure what users run: a regular install, with its bytecode compiled at install time
# (an editable install recompiles every module on each run where PYTHONDONTWRITEBYTECODE is set).
if [ -z "${VDPA_LINT:-}" ]; then
    bench_venv=benchmarks/.venv
    [ -x "$bench_venv/bin/python" ] || python3 -m venv "$bench_venv"
    "$bench_venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps . >/dev/null 2>&1
    "$bench_venv/bin/pip" install -q --disable-pip-version-check . >/dev/null 2>&1
fi
vdpa_lint=${VDPA_LINT:-benchmarks/.venv/bin/vdpa-lint}
cocci=${VDPA_LINT_COCCI:-../shared/peers/vdpa001.cocci}
for tool in hyperfine spatch; do
    command -v "$tool" >/dev/null || { echo "benchmarks/speed.sh: needs $tool (apt-get install hyperfine coccinelle)" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-6s %12s %12s %8s %14s %14s\n' tree vdpa-lint spatch ratio "peak RSS lint" "peak RSS spatch"
while read -r ver tree; do
    dir=$tree/drivers/vdpa
    lint_cmd="$vdpa_lint check --fail-on never $dir"
    cocci_cmd="spatch --sp-file $cocci --dir $dir --very-quiet"
    hyperfine -N -w 2 -r "$runs" --export-json "$out/$ver.json" "$lint_cmd" "$cocci_cmd" >/dev/null 2>&1
    rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
    # shellcheck disable=SC2086
    lint_rss=$(rss $lint_cmd)
    # shellcheck disable=SC2086
    cocci_rss=$(rss $cocci_cmd)
    python3 - "$out/$ver.json" "$ver" "$lint_rss" "$cocci_rss" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
lint, cocci = (r["median"] for r in runs)
print(f"{sys.argv[2]:<6} {lint:11.3f}s {cocci:11.3f}s {lint / cocci:7.3f}x "
      f"{int(sys.argv[3]) / 1024:12.1f}MB {int(sys.argv[4]) / 1024:13.1f}MB")
PY
done < <(scripts/fetch-kernel-corpus 6.1 6.12)
