"""The vDPA API a tree offers, read from its own include/linux/vdpa.h (SPEC §2).

Distribution kernels carry backports, so the ops a rule talks about are looked
up in the header's struct vdpa_config_ops, never inferred from a version.
"""

from __future__ import annotations

from typing import NamedTuple

from analyzer.facts import FileFacts

# The 6.7 contract ops, and the flag .compat_reset takes (Linux commit a26f2e4e68ee).
CONTRACT_OPS = ("compat_reset", "reset_map", "get_vq_desc_group", "set_group_asid")
CLEAN_MAP_FLAG = "VDPA_RESET_F_CLEAN_MAP"
# Used when the scanned files have no vdpa.h: the contract as of Linux 6.7.
_LATEST_OPS = frozenset(
    {
        "reset",
        "compat_reset",
        "reset_map",
        "get_vq_desc_group",
        "set_group_asid",
        "set_map",
        "dma_map",
        "dma_unmap",
        "get_vq_group",
        "suspend",
        "resume",
        "bind_mm",
        "unbind_mm",
    }
)


class VdpaApi(NamedTuple):
    header: str | None
    ops: frozenset[str]
    constants: dict[str, int]

    @property
    def assumed(self) -> bool:
        return self.header is None

    def has(self, op: str) -> bool:
        return op in self.ops

    @property
    def clean_map(self) -> int:
        return self.constants.get(CLEAN_MAP_FLAG, 1)

    def describe(self) -> str:
        present = [op for op in CONTRACT_OPS if self.has(op)]
        absent = [op for op in CONTRACT_OPS if not self.has(op)]
        where = self.header or "no vdpa.h found; assuming the Linux 6.7 API"
        text = f"{where}: has {', '.join('.' + o for o in present) or 'none of the 6.7 ops'}"
        if absent:
            text += f"; lacks {', '.join('.' + o for o in absent)}"
        return text


def api_from_header(facts: FileFacts | None) -> VdpaApi:
    if facts is None or not facts.config_ops_fields:
        return VdpaApi(None, _LATEST_OPS, {CLEAN_MAP_FLAG: 1})
    return VdpaApi(facts.path, frozenset(facts.config_ops_fields), dict(facts.defines))
