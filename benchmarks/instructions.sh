#!/usr/bin/env bash
# Instructions executed (callgrind's Ir, PYTHONHASHSEED=0), one process (-j 1): a count this
# virtual machine's speed drift does not move, to compare two versions of vdpa-lint where
# wall-clock ratios are within the noise. Start-up: `check` of the two-file demo tree; then
# each kernel's drivers/vdpa without the facts cache. Not a speed target (speed.sh is): a
# microscope. About a minute a kernel.   usage: benchmarks/instructions.sh   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "benchmarks/instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
if [ -z "${VDPA_LINT_PYTHON:-}" ]; then
    [ -x benchmarks/.venv/bin/python ] || python3 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps . >/dev/null 2>&1
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check . >/dev/null 2>&1
fi
python=${VDPA_LINT_PYTHON:-$PWD/benchmarks/.venv/bin/python}
demo=$PWD/fixtures/demo-kernel
here=$(mktemp -d)  # run from an empty directory: nothing there shadows a module
trap 'rm -rf "$here"' EXIT
count() {
    (cd "$here" && PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$python" -m analyzer check -j 1 --no-cache --fail-on never "$1" 2>&1 >/dev/null) |
        awk '/Collected/ {printf "%.1f M\n", $4 / 1e6}'
}
printf '%-28s %s\n' "start-up (demo-kernel)" "$(count "$demo")"
while read -r ver tree; do
    printf '%-28s %s\n' "$ver drivers/vdpa" "$(count "$tree/drivers/vdpa")"
done < <(scripts/fetch-kernel-corpus 6.1 6.12)
