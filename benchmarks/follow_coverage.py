"""Follow coverage: of the call sites on the paths vdpa-lint analyses, how many it followed
into a body, modelled by the knowledge base, or could not follow (and which those are).

    usage: python benchmarks/follow_coverage.py TREE...

A call with no body that is passed what may reach an IOTLB counts as an unknown only where it
can reach the upper layer's maps (the VDPA000 notes); the table lists both.
"""

from __future__ import annotations

import sys
from collections import Counter

from analyzer.checks import binding_state
from analyzer.driver import DriverContext
from analyzer.engine import Analysis, _conditional_ops
from analyzer.rulebook import load_rules
from analyzer.semantics.program import TreeProgram
from analyzer.semantics.summaries import Site

OPS = (
    ("reset", None),
    ("compat_reset", 0),
    ("compat_reset", 1),
    ("set_group_asid", None),
    ("set_map", None),
    ("dma_map", None),
    ("reset_map", None),
)


def coverage(tree: str) -> tuple[Counter[str], dict[tuple[str, int, str], str], list[str]]:
    rules = load_rules()
    analysis = Analysis([tree], rules, set(rules))
    index = analysis.index
    tables, _ = index.ops_tables()
    sites: dict[tuple[str, int, str], str] = {}
    notes: list[str] = []

    def observe(site: Site, category: str) -> None:
        sites.setdefault((site.path, site.line, site.callee.split(" (")[0]), category)

    program = TreeProgram(index, analysis.kb)
    for summaries in (program.full, program.summaries):
        summaries.observe = observe
    contexts = [DriverContext(t, index, program, index.api, _conditional_ops(t, index)) for t in tables]
    program.keep_writes(frozenset().union(*(binding_state(c) for c in contexts)))
    program.summaries.observe = observe
    for ctx in contexts:
        for op, flags in OPS:
            if ctx.table.entry(op) is None:
                continue
            ctx.effects(op, flags)
            for u in ctx.unfollowed(op, flags):
                notes.append(f"{ctx.table.name} .{op}: {u.site.path}:{u.site.line}: {u.why}")
    return Counter(sites.values()), sites, sorted(set(notes))


def main(trees: list[str]) -> None:
    for tree in trees:
        counts, sites, notes = coverage(tree)
        total = sum(counts.values())
        print(f"{tree}: {total} call sites on analysed paths")
        for category, n in counts.most_common():
            print(f"  {n:5d}  {100 * n / total:5.1f}%  {category}")
        unknown = sorted(k for k, c in sites.items() if c.startswith("unknown"))
        for path, line, callee in unknown:
            print(f"         unknown: {path}:{line}: {callee}")
        print(f"  unknowns that can reach the upper layer's maps (VDPA000 notes): {len(notes)}")
        for n in notes:
            print(f"         {n}")


if __name__ == "__main__":
    main(sys.argv[1:])
