"""The real kernels no one here wrote: exact verdicts on Debian's linux-source 6.1 and 6.12."""

from __future__ import annotations

import pytest
from conftest import check_json
from kernel_corpus import kernel_tree, line_of

pytestmark = pytest.mark.kernel

TABLES_612 = {
    "eni_vdpa_ops",
    "ifc_vdpa_ops",
    "mlx5_vdpa_ops",
    "octep_vdpa_ops",
    "pds_vdpa_ops",
    "snet_config_ops",
    "vdpasim_config_ops",
    "vdpasim_batch_config_ops",
    "vduse_vdpa_config_ops",
    "vp_vdpa_ops",
}


@pytest.fixture(scope="module")
def linux_61() -> tuple:
    tree = kernel_tree("6.1")
    return tree, check_json(tree)


@pytest.fixture(scope="module")
def linux_612() -> tuple:
    tree = kernel_tree("6.12")
    return tree, check_json(tree)


def test_61_reset_clears_maps_in_vdpa_sim_and_mlx5(linux_61) -> None:
    tree, data = linux_61
    serious = [f for f in data["findings"] if f["severity"] in ("error", "warning")]
    sim = tree / "drivers/vdpa/vdpa_sim/vdpa_sim.c"
    sim_line = line_of(sim, "vhost_iotlb_reset(", after="static void vdpasim_do_reset(")
    mr = tree / "drivers/vdpa/mlx5/core/mr.c"
    mr_line = line_of(mr, "vhost_iotlb_del_range(mvdev->cvq.iotlb, 0, ULLONG_MAX)")
    got = sorted((f["rule_id"], f["ops_table"]["name"], f["path"], f["line"]) for f in serious)
    assert got == [
        ("VDPA001", "mlx5_vdpa_ops", "drivers/vdpa/mlx5/core/mr.c", mr_line),
        ("VDPA001", "vdpasim_batch_config_ops", "drivers/vdpa/vdpa_sim/vdpa_sim.c", sim_line),
        ("VDPA001", "vdpasim_config_ops", "drivers/vdpa/vdpa_sim/vdpa_sim.c", sim_line),
    ]
    for f in serious:
        trace = f["trace"]
        if f["ops_table"]["name"].startswith("vdpasim"):
            assert [s["function"] for s in trace] == [
                "vdpasim_reset",
                "vdpasim_do_reset",
                "vhost_iotlb_reset",
            ]
        else:
            assert trace[0]["function"] == "mlx5_vdpa_reset"
            assert trace[0]["path"] == "drivers/vdpa/mlx5/net/mlx5_vnet.c"
            assert trace[-1]["function"] == "vhost_iotlb_del_range"
            assert any(s["path"] == "drivers/vdpa/mlx5/core/mr.c" for s in trace[1:])
        assert "has no .compat_reset/.reset_map" in f["message"]


def test_61_compat_rules_do_not_apply_and_say_so(linux_61) -> None:
    _, data = linux_61
    assert data["api"]["header"] == "include/linux/vdpa.h"
    assert "compat_reset" not in data["api"]["ops"] and "reset_map" not in data["api"]["ops"]
    assert not [f for f in data["findings"] if f["rule_id"] in ("VDPA002", "VDPA005")]
    for d in data["drivers"]:
        assert d["not_applicable"]["VDPA002"] == "include/linux/vdpa.h has no .compat_reset"
        assert d["not_applicable"]["VDPA005"] == "include/linux/vdpa.h has no .reset_map"
    assert {d["driver"] for d in data["drivers"]} >= {"vdpa_sim", "mlx5", "vdpa_user", "ifcvf"}


def test_612_every_table_complies(linux_612) -> None:
    tree, data = linux_612
    assert {d["ops_table"] for d in data["drivers"]} == TABLES_612
    assert [f for f in data["findings"] if f["severity"] in ("error", "warning")] == []
    notes = [(f["rule_id"], f["ops_table"]["name"], f["path"], f["line"]) for f in data["findings"]]
    vduse = tree / "drivers/vdpa/vdpa_user/vduse_dev.c"
    assert notes == [
        (
            "VDPA005",
            "vduse_vdpa_config_ops",
            "drivers/vdpa/vdpa_user/vduse_dev.c",
            line_of(vduse, "static const struct vdpa_config_ops vduse_vdpa_config_ops = {"),
        )
    ]


def test_612_mlx5_conditional_ops_and_compat_reset(linux_612) -> None:
    _, data = linux_612
    mlx5 = next(d for d in data["drivers"] if d["ops_table"] == "mlx5_vdpa_ops")
    assert set(mlx5["conditional_ops"]) == {"get_vq_desc_group", "resume"}
    assert mlx5["ops"]["compat_reset"] == "mlx5_vdpa_compat_reset"
    assert mlx5["ops"]["reset_map"] == "mlx5_vdpa_reset_map"
    assert "VDPA008" not in mlx5["not_applicable"]  # its group2asid binding was found, and reset clears it


def test_sarif_of_real_kernels_is_valid() -> None:
    import json
    from pathlib import Path

    import jsonschema
    from conftest import run_cli

    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    for version in ("6.1", "6.12"):
        proc = run_cli("check", "--format", "sarif", "--fail-on", "never", str(kernel_tree(version)))
        log = json.loads(proc.stdout)
        jsonschema.Draft4Validator(schema).validate(log)
        assert len(log["runs"][0]["results"]) == (3 if version == "6.1" else 1)


def test_612_subset_checks_agree(linux_612) -> None:
    """Checking drivers/vdpa alone (the tree root is found above it) gives the same verdicts."""
    tree, data = linux_612
    sub = check_json(tree / "drivers" / "vdpa")
    key = lambda d: sorted((f["rule_id"], f["path"], f["line"]) for f in d["findings"])  # noqa: E731
    assert key(sub) == key(data)
