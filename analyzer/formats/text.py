"""gcc-style text: `path:line:col: severity: message [ID name]`, then the trace as notes."""

from __future__ import annotations

from collections import Counter

from analyzer.findings import Result
from analyzer.rulebook import Rule

_COLORS = {"error": "\033[1;31m", "warning": "\033[1;35m", "note": "\033[1;36m"}
_BOLD, _RESET = "\033[1m", "\033[0m"


class TextFormatter:
    def __init__(self, color: bool = False, quiet: bool = False, terse: bool = False) -> None:
        self.color = color
        self.quiet = quiet  # findings only: no summary, no accepted count, no not-applicable notes
        self.terse = terse  # one line per finding: no trace notes

    def _sev(self, severity: str) -> str:
        return f"{_COLORS[severity]}{severity}:{_RESET}" if self.color else f"{severity}:"

    def _loc(self, path: str, line: int, column: int) -> str:
        text = f"{path}:{line}:{column}:"
        return f"{_BOLD}{text}{_RESET}" if self.color else text

    def format(self, result: Result, rules: dict[str, Rule]) -> str:
        lines: list[str] = []
        for f in result.findings:
            lines.append(
                f"{self._loc(f.path, f.line, f.column)} {self._sev(f.severity)} {f.message} "
                f"[{f.rule_id} {f.name}]"
            )
            for step in () if self.terse else f.trace:
                # From column 0, as gcc writes its notes: Emacs' compilation-mode and Vim's
                # errorformat would take leading blanks as part of the file name.
                lines.append(
                    f"{self._loc(step.path, step.line, step.column)} {self._sev('note')} {step.note}"
                )
        for path, line, text in result.suppression_notes:
            where = f"{path}:{line}:" if line else f"{path}:"
            lines.append(f"{where} {self._sev('note')} {text}")
        if self.quiet:
            return "".join(line + "\n" for line in lines)
        if result.suppressed:
            n = len(result.suppressed)
            lines.append(
                f"{self._sev('note')} {n} finding{'s' if n != 1 else ''} accepted (baseline or inline)"
            )
        not_applicable: dict[str, set[str]] = {}
        for d in result.drivers:
            for rule_id, why in d.not_applicable:
                if "API" in why or "vdpa.h" in why:
                    not_applicable.setdefault(why, set()).add(rule_id)
        for why, ids in sorted(not_applicable.items()):
            lines.append(f"{self._sev('note')} {', '.join(sorted(ids))} not applicable: {why}")
        counts = Counter(f.severity for f in result.findings)
        tables = len(result.drivers)
        drivers = len({d.driver for d in result.drivers})
        summary = ", ".join(
            f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "note")
        )
        lines.append(
            f"{summary} in {drivers} driver{'s' if drivers != 1 else ''} "
            f"({tables} ops table{'s' if tables != 1 else ''}); "
            + "; ".join(f"API: {api.describe()}" for api in (result.apis or (result.api,)))
        )
        return "\n".join(lines) + "\n"
