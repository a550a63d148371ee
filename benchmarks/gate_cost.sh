#!/usr/bin/env bash
# What gating a 10-patch series over drivers/vdpa costs, against one `check` of the same tree:
# a repository made from Debian's 6.12 sources, ten commits each touching one file of a
# different driver; hyperfine times both (median of N runs).   usage: benchmarks/gate_cost.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
vdpa_lint=${VDPA_LINT:-}
if [ -z "$vdpa_lint" ]; then
    [ -x benchmarks/.venv/bin/python ] || python3 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps . >/dev/null 2>&1
    benchmarks/.venv/bin/pip install -q --disable-pip-version-check . >/dev/null 2>&1
    vdpa_lint=benchmarks/.venv/bin/vdpa-lint
fi
tree=$(scripts/fetch-kernel-corpus 6.12 | cut -d' ' -f2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$tree" "$work/repo"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
git -C "$work/repo" init -q && git -C "$work/repo" add -A && git -C "$work/repo" commit -q -m base
for f in vdpa_sim/vdpa_sim.c mlx5/net/mlx5_vnet.c mlx5/core/mr.c ifcvf/ifcvf_main.c alibaba/eni_vdpa.c \
         virtio_pci/vp_vdpa.c octeon_ep/octep_vdpa_main.c pds/vdpa_dev.c solidrun/snet_main.c \
         vdpa_user/vduse_dev.c; do
    echo "/* touched by the benchmark series */" >> "$work/repo/drivers/vdpa/$f"
    git -C "$work/repo" commit -q -am "touch $f"
done
# Both without the facts cache, then both with one cache warmed by a first check.
hyperfine -N -w 1 -r "$runs" --export-json "$work/h.json" \
    "$vdpa_lint check --no-cache --fail-on never $work/repo/drivers/vdpa" \
    "$vdpa_lint gate --no-cache --fail-on never --repo $work/repo --base HEAD~10 --path drivers/vdpa" \
    "$vdpa_lint check --cache-dir $work/cache --fail-on never $work/repo/drivers/vdpa" \
    "$vdpa_lint gate --cache-dir $work/cache --fail-on never --repo $work/repo --base HEAD~10 --path drivers/vdpa" \
    >/dev/null 2>&1
python3 - "$work/h.json" <<'PY'
import json, sys
check, gate, check_warm, gate_warm = (r["median"] for r in json.load(open(sys.argv[1]))["results"])
print(f"no cache:   check drivers/vdpa {check:.3f}s, gate of 10 patches {gate:.3f}s: {gate / check:.2f}x")
print(f"warm cache: check drivers/vdpa {check_warm:.3f}s, gate of 10 patches {gate_warm:.3f}s: "
      f"{gate_warm / check_warm:.2f}x   (target <= 3x)")
PY
