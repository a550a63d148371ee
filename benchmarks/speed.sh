#!/usr/bin/env bash
# vdpa-lint against its peers on the same drivers/vdpa directories, in one run on this machine:
# Coccinelle with ../shared/peers/vdpa001.cocci and semgrep (PyPI, separate venv) with
# benchmarks/vdpa001.semgrep.yml. Wall time is hyperfine's median after warm-up (warm page
# cache); vdpa-lint is timed without its facts cache (--no-cache) and with it warm. The target
# ratio (no cache vs spatch) is also taken in paired rounds (benchmarks/paired.py: both back to
# back, median of the per-round ratios), which a drifting machine does not skew. Peak RSS
# from /usr/bin/time -v.        usage: benchmarks/speed.sh [runs]   (needs hyperfine, coccinelle)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
for tool in hyperfine spatch; do
    command -v "$tool" >/dev/null || { echo "benchmarks/speed.sh: needs $tool (apt-get install hyperfine coccinelle)" >&2; exit 2; }
done
# Measure what users run: a regular install, with its bytecode compiled at install time
# (an editable install recompiles every module on each run where PYTHONDONTWRITEBYTECODE is set).
if [ -z "${VDPA_LINT:-}" ]; then
    [ -x benchmarks/.venv/bin/python ] || python3 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps . >/dev/null 2>&1
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check . >/dev/null 2>&1
fi
vdpa_lint=${VDPA_LINT:-benchmarks/.venv/bin/vdpa-lint}
if [ ! -x benchmarks/.venv-semgrep/bin/semgrep ]; then
    python3 -m venv benchmarks/.venv-semgrep
    benchmarks/.venv-semgrep/bin/pip install -q --disable-pip-version-check semgrep >/dev/null 2>&1
fi
semgrep="benchmarks/.venv-semgrep/bin/semgrep --metrics=off --disable-version-check --quiet --config benchmarks/vdpa001.semgrep.yml"
cocci=${VDPA_LINT_COCCI:-../shared/peers/vdpa001.cocci}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}'; }
printf '%-5s %10s %10s %9s %9s %11s %12s %9s %9s %s\n' tree "no cache" "warm" spatch semgrep "vs spatch" "vs semgrep" "RSS lint" "RSS cocci" "paired vs spatch: median (min-max)"
while read -r ver tree; do
    dir=$tree/drivers/vdpa
    hyperfine -N -w 2 -r "$runs" --export-json "$out/$ver.json" \
        "$vdpa_lint check --no-cache --fail-on never $dir" \
        "$vdpa_lint check --cache-dir $out/cache --fail-on never $dir" \
        "spatch --sp-file $cocci --dir $dir --very-quiet" \
        "$semgrep $dir" >/dev/null 2>&1
    # shellcheck disable=SC2086
    lint_rss=$(rss $vdpa_lint check --no-cache --fail-on never "$dir")
    cocci_rss=$(rss spatch --sp-file "$cocci" --dir "$dir" --very-quiet)
    paired=$(python3 benchmarks/paired.py "$((runs * 2 + 1))" \
        "$vdpa_lint check --no-cache --fail-on never $dir" "spatch --sp-file $cocci --dir $dir --very-quiet")
    python3 - "$out/$ver.json" "$ver" "$lint_rss" "$cocci_rss" "$paired" <<'PY'
import json, sys
cold, warm, cocci, semgrep = (r["median"] for r in json.load(open(sys.argv[1]))["results"])
ratio, low, high = sys.argv[5].split()[:3]
print(f"{sys.argv[2]:<5} {cold:9.3f}s {warm:9.3f}s {cocci:8.3f}s {semgrep:8.3f}s {cold / cocci:10.3f}x "
      f"{cold / semgrep:11.3f}x {sys.argv[3]:>7}MB {sys.argv[4]:>7}MB {ratio}x ({low}-{high})")
PY
done < <(scripts/fetch-kernel-corpus 6.1 6.12)
