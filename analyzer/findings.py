"""The values the engine hands to formatters: findings, driver summaries, run results."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from analyzer.api import VdpaApi
from analyzer.facts import OpsTable
from analyzer.model import DriverEffects, Obligation
from analyzer.source import SourceProblem

SEVERITY_RANK = {"note": 0, "warning": 1, "error": 2}


class Suppression(NamedTuple):
    """An inline `vdpa-lint: ignore VDPA00x -- reason` comment."""

    path: str
    line: int
    rule_ids: tuple[str, ...]
    reason: str
    problem: str = ""  # why the comment does not work, if it does not


class TraceStep(NamedTuple):
    function: str
    path: str
    line: int
    column: int
    note: str


class TableRef(NamedTuple):
    name: str
    path: str
    line: int


class Finding(NamedTuple):
    rule_id: str
    name: str
    severity: str
    path: str
    line: int
    column: int
    message: str
    ops_table: TableRef | None = None
    trace: tuple[TraceStep, ...] = ()
    driver: str | None = None
    confidence: str = "high"

    def fingerprint(self) -> str:
        """Identity that survives code moving: rule, table, the chain of functions, the message
        without its numbers (SARIF partialFingerprints; the gate's notion of 'the same finding')."""
        words = [
            self.rule_id,
            self.ops_table.name if self.ops_table else self.path,
            *(s.function for s in self.trace),
            re.sub(r"\d+", "#", self.message),
        ]
        return hashlib.sha256("\0".join(words).encode()).hexdigest()[:32]

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (
            self.path,
            self.line,
            self.column,
            self.rule_id,
            self.ops_table.name if self.ops_table else "",
        )


class Unfollowed(NamedTuple):
    """A call on an analysed path that the analysis could not follow (SPEC §2 VDPA000)."""

    op: str
    path: str
    line: int
    callee: str
    why: str


class DriverReport(NamedTuple):
    driver: str
    table: OpsTable
    ops: dict[str, str]
    conditional_ops: tuple[tuple[str, str], ...] = ()  # (op, why it may be absent)
    not_applicable: tuple[tuple[str, str], ...] = ()  # (rule id, why)
    obligations: tuple[Obligation, ...] = ()  # the reference model's replays (SPEC §5)
    op_locations: tuple[tuple[str, str, int], ...] = ()  # (op, path, line) of each op's function
    effects: DriverEffects | None = None  # what the model replayed
    verdict: str = "compliant"  # the obligations and the table's findings, together (model.verdict)
    unfollowed: tuple[Unfollowed, ...] = ()  # calls on analysed paths the analysis could not follow


class Result(NamedTuple):
    root: str
    api: VdpaApi
    drivers: tuple[DriverReport, ...]
    findings: tuple[Finding, ...]
    errors: tuple[SourceProblem, ...]
    files_parsed: int = 0
    parse_gaps: tuple[tuple[str, tuple[int, ...]], ...] = ()  # parsed files tree-sitter stumbled on
    source_lines: Mapping[str, tuple[str, ...]] = MappingProxyType({})  # for snippets
    seconds: float = 0.0
    suppressions: tuple[Suppression, ...] = ()  # inline suppression comments in the analysed files
    suppressed: tuple[tuple[Finding, str], ...] = ()  # findings accepted, and by what
    suppression_notes: tuple[tuple[str, int, str], ...] = ()  # unused or malformed suppressions
    apis: tuple[VdpaApi, ...] = ()  # one per kernel tree when several were checked together
