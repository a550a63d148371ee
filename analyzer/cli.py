"""Command line: `vdpa-lint check|rules` (SPEC §4). The only place that does I/O
on outputs and turns problems into exit statuses: 0 clean, 1 findings at or
above --fail-on, 2 the run could not be done."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.formats import FORMATS, GATE_FORMATS
from analyzer.output import OutputError, write_output
from analyzer.workflow.options import EXCLUDE_HELP, VersionAction, add_check_options, add_commands

if TYPE_CHECKING:
    from collections.abc import Iterable

    from analyzer.cache import FactsCache
    from analyzer.findings import Finding, Result
    from analyzer.formats.html import ReportContext
    from analyzer.rulebook import Rule
    from analyzer.suppress import BaselineEntry

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2
EXIT_CLOSED_PIPE = 128 + 13  # what the shell reports for git or grep ended by SIGPIPE
FAIL_ON = ("error", "warning", "note", "never")
GATE_DESCRIPTION = (
    "Judge each patch of a series by the findings it introduces and fixes. Exit status: 0 no "
    "patch introduces a finding at or above --fail-on; 1 one does; 2 the run could not be done: "
    "bad arguments, or a patch that does not apply (the verdicts of the patches before it are "
    "printed first, then where it fails). Messages without a diff (a cover letter, a reply) are "
    "skipped and said so."
)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from analyzer.workflow.about import EXIT_STATUSES

        kwargs.setdefault("epilog", EXIT_STATUSES)  # every --help lists the exit statuses
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str, prog: str | None = None) -> None:  # type: ignore[override]
        # One clear line, as for every other unusable input, naming the subcommand's help.
        sys.stderr.write(f"vdpa-lint: error: {message} (see '{prog or self.prog} --help')\n")
        raise SystemExit(EXIT_UNUSABLE)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:  # the subcommand that was given is the one whose help tells what it takes
            command = getattr(ns, "command", None)
            self.error(
                f"unrecognized arguments: {' '.join(extras)}", f"{self.prog} {command}" if command else None
            )
        return ns


def _selection_options(p: argparse.ArgumentParser) -> None:
    """What check, report and gate share: which rules, which accepted findings, which cache."""
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="IDS",
        help="only these rules (ids or names, comma-separated)",
    )
    p.add_argument("--ignore", action="append", default=[], metavar="IDS", help="skip these rules")
    p.add_argument(
        "--source-url",
        metavar="TEMPLATE",
        help="HTML: link each path:line to this URL ({path} {line} {rev} {version})",
    )
    p.add_argument("--baseline", metavar="FILE", help="accept the findings listed in FILE")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the facts cache")
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="facts cache (default: $VDPA_LINT_CACHE_DIR, $XDG_CACHE_HOME/vdpa-lint/facts)",
    )


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes (1 or more), got {text!r}")
    return int(text)


def _jobs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="analyse the tables on N processes (default: every CPU this process may use)",
    )


def _setup(args: argparse.Namespace) -> tuple[dict[str, Rule], set[str], list[BaselineEntry]]:
    """The rules, the enabled ids and the accepted findings the options ask for."""
    from analyzer.rulebook import load_rules, resolve_rule_ids
    from analyzer.suppress import load_baseline

    if getattr(args, "source_url", None):
        _html_context(args, None)
    rules = load_rules()
    enabled = resolve_rule_ids(rules, args.select) if args.select else set(rules)
    if args.select and not enabled:  # `--select ""` would silently disable every rule
        raise _Unusable("--select needs at least one rule id or name (see 'vdpa-lint rules')")
    enabled -= resolve_rule_ids(rules, args.ignore)
    if getattr(args, "output", None):
        out_dir = Path(args.output).parent
        if not out_dir.is_dir():
            why = "is not a directory" if out_dir.exists() else "does not exist"
            raise _Unusable(f"{args.output}: {out_dir} {why}")
    baseline = load_baseline(Path(args.baseline)) if args.baseline else []
    return rules, enabled, baseline


def _html_context(
    args: argparse.Namespace, root: str | None, rev: str | None = None, result: Result | None = None
) -> ReportContext:
    """Which kernel the tree is, where --source-url links go, the text of the ops' files for
    the report's excerpts; root None: only check the template."""
    from analyzer.formats.html import context_for
    from analyzer.formats.links import TemplateError, template_fields
    from analyzer.treeinfo import TreeInfo, read_lines, tree_info

    try:
        if root is None:
            template_fields(args.source_url)
            return context_for(TreeInfo(""), None)
        files = {p for d in result.drivers for _, p, _ in d.op_locations} if result else set()
        lines = read_lines(root, files) if result and not args.source_url else None
        return context_for(tree_info(root, rev), args.source_url, rev is not None, lines)
    except TemplateError as err:
        raise _Unusable(str(err)) from None


def _emit(args: argparse.Namespace, text: str) -> None:
    if args.output:
        write_output(args.output, text)
    else:
        sys.stdout.write(text)


def _exit_status(findings: Iterable[Finding], fail_on: str) -> int:
    from analyzer.findings import SEVERITY_RANK

    if fail_on == "never":
        return EXIT_CLEAN
    threshold = SEVERITY_RANK[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_RANK[f.severity] >= threshold for f in findings) else EXIT_CLEAN


def _cache(args: argparse.Namespace) -> FactsCache | None:
    from analyzer.cache import FactsCache, default_dir, unusable_cache_dir

    if args.no_cache:
        return None
    directory = Path(args.cache_dir) if args.cache_dir else default_dir()
    problem = unusable_cache_dir(directory)
    if problem:
        sys.stderr.write(
            f"vdpa-lint: warning: facts cache {directory}: {problem}; running without the cache\n"
        )
        return None
    return FactsCache(directory)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vdpa-lint",
        description="Check vDPA parent drivers against the Linux 6.7 reset/mapping contract.",
    )
    p.add_argument(
        "--version", action=VersionAction, help="print the versions of vdpa-lint, tree-sitter and the rules"
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="lint a kernel tree, directories or files")
    c.add_argument("paths", nargs="+", metavar="PATH", help="a kernel tree, directories or .c/.h files")
    c.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="gcc-style text (default), JSON, SARIF 2.1.0, HTML, or GitHub Actions annotations",
    )
    c.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically)")
    c.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="lowest severity that makes the exit status 1 (default: error)",
    )
    _selection_options(c)
    _jobs_option(c)
    c.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text output (auto: on a terminal without NO_COLOR)",
    )
    c.add_argument("--write-baseline", metavar="FILE", help="write the current findings as accepted")
    c.add_argument("--reason", metavar="TEXT", help="with --write-baseline: why they are accepted")
    add_check_options(c)
    h = sub.add_parser("report", help="write the HTML compliance report")
    h.add_argument("paths", nargs="+", metavar="PATH", help="a kernel tree, directories or .c/.h files")
    h.add_argument(
        "-o", "--output", metavar="FILE.html", required=True, help="the report to write (atomically)"
    )
    h.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="never",
        help="lowest severity that makes the exit status 1 (default: never)",
    )
    _selection_options(h)
    _jobs_option(h)
    h.add_argument("--exclude", action="append", metavar="GLOB", help=EXCLUDE_HELP)
    h.set_defaults(format="html", color="never", write_baseline=None, reason=None)
    g = sub.add_parser(
        "gate",
        help="judge each patch of a series: what it introduces and fixes",
        description=GATE_DESCRIPTION,
    )
    where = g.add_mutually_exclusive_group(required=True)
    where.add_argument("--repo", metavar="DIR", help="a git repository: judge the commits base..head")
    where.add_argument("--tree", metavar="DIR", help="a tree to apply SERIES to (on a temporary copy)")
    g.add_argument("--base", metavar="REV", help="with --repo: the base revision")
    g.add_argument("--head", metavar="REV", default="HEAD", help="with --repo: the head (default HEAD)")
    g.add_argument(
        "series",
        nargs="*",
        metavar="SERIES",
        help="with --tree: patch files or an mbox ('-' or /dev/stdin: read it from standard input)",
    )
    g.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="SUBDIR",
        help="analyse only this part of the tree (repeatable; default: all of it)",
    )
    g.add_argument("--head-only", action="store_true", help="judge only the final state against the base")
    g.add_argument(
        "-v", "--verbose", action="store_true", help="also say how many table analyses were reused"
    )
    g.add_argument(
        "--format",
        choices=GATE_FORMATS,
        default="text",
        help="text (default), JSON, SARIF, GitHub Actions annotations, or patchwork check records",
    )
    g.add_argument("-o", "--output", metavar="FILE", help="write the output here (atomically)")
    g.add_argument(
        "--target-url",
        metavar="TEMPLATE",
        help="patchwork records' target_url, e.g. https://ci.example.org/{series}/{patch}: {series} the "
        "series' first Message-Id, {patch} the patch's, {number} and {total} its place",
    )
    g.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="lowest severity of an introduced finding that makes the exit status 1",
    )
    _selection_options(g)
    x = sub.add_parser("explain", help="print the summaries and path conditions behind a table's verdict")
    x.add_argument(
        "table", metavar="TABLE[.OP]", help="an ops table, optionally one op (vdpasim_config_ops.reset)"
    )
    x.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="the tree (default: .)")
    r = sub.add_parser("rules", help="list the rules with their text")
    r.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON")
    r.add_argument("ids", nargs="*", metavar="ID", help="show only these rules")
    add_commands(sub, _selection_options)
    return p


def _check(args: argparse.Namespace) -> int:
    from analyzer.engine import analyse
    from analyzer.formats import formatter
    from analyzer.progress import Progress
    from analyzer.suppress import apply, baseline_text

    if args.write_baseline and not (args.reason or "").strip():
        raise _Unusable("--write-baseline needs --reason TEXT: say why these findings are accepted")
    rules, enabled, baseline = _setup(args)
    progress = Progress()
    try:
        result = analyse(args.paths, rules, enabled, cache=_cache(args), progress=progress, jobs=args.jobs)
    finally:
        progress.done()
    filtered = apply(result.findings, result.suppressions, baseline)
    result = result._replace(
        findings=filtered.kept, suppressed=filtered.suppressed, suppression_notes=filtered.notes
    )
    if args.write_baseline:
        write_output(args.write_baseline, baseline_text(result.findings, args.reason))
    if not result.drivers and not result.findings:
        raise _Unusable(
            f"no vDPA parent driver (struct vdpa_config_ops table) found under {' '.join(args.paths)}"
        )
    for e in result.errors:
        sys.stderr.write(f"vdpa-lint: warning: {e.path}: {e.message}\n")
    if getattr(args, "exclude", None):
        from analyzer.workflow.config import without_excluded

        result = without_excluded(result, args.exclude)
    color = args.color == "always" or (
        args.color == "auto" and not args.output and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    brief = {"quiet": getattr(args, "quiet", False), "terse": getattr(args, "terse", False)}
    context = _html_context(args, result.root, None, result) if args.format == "html" else None
    _emit(args, formatter(args.format, color, context=context, **brief)(result, rules))
    return EXIT_CLEAN if args.write_baseline else _exit_status(result.findings, args.fail_on)


def _gate(args: argparse.Namespace) -> int:
    from analyzer.formats.gatefmt import FORMATTERS
    from analyzer.gate import gate_repo, gate_tree
    from analyzer.series import read_inputs

    rules, enabled, baseline = _setup(args)
    if args.target_url:
        from analyzer.workflow.patchwork import check_template

        check_template(args.target_url)
    if args.repo:
        if not args.base:
            raise _Unusable("gate --repo needs --base REV")
        if args.series:
            raise _Unusable("gate --repo takes no patch files (use --tree DIR SERIES...)")
        result = gate_repo(
            Path(args.repo),
            args.base,
            args.head,
            rules,
            enabled,
            args.path,
            args.head_only,
            baseline,
            _cache(args),
        )
    else:
        if not args.series:
            raise _Unusable("gate --tree needs patch files or an mbox")
        result = gate_tree(
            Path(args.tree),
            read_inputs(args.series, sys.stdin.buffer),
            rules,
            enabled,
            args.path,
            args.head_only,
            baseline,
            _cache(args),
        )
    if args.format == "patchwork":
        from analyzer.workflow.patchwork import records

        _emit(args, records(args, result, rules))
    elif args.format == "html":
        from analyzer.formats.gatehtml import format_gate_html

        root, rev = (args.repo, result.base) if args.repo else (args.tree, None)
        _emit(args, format_gate_html(result, rules, _html_context(args, root, rev)))
    else:
        _emit(args, FORMATTERS[args.format](result, rules))
    if args.verbose:
        sys.stderr.write(
            f"vdpa-lint: {result.tables_analysed} table analyses, {result.tables_reused} reused\n"
        )
    if result.not_applied:  # the verdicts so far are out; the series could not be judged whole
        n = result.not_applied
        raise _Unusable(f"patch {n.number}/{n.total} ({n.source}) does not apply: {n.message}")
    return _exit_status((f for p in result.patches for f in p.introduced), args.fail_on)


def _explain(args: argparse.Namespace) -> int:
    from analyzer.explain import explain
    from analyzer.rulebook import load_rules

    sys.stdout.write(explain(args.paths, args.table, load_rules()))
    return EXIT_CLEAN


def _rules(args: argparse.Namespace) -> int:
    import json

    from analyzer.rulebook import load_rules, resolve_rule_ids

    rules = load_rules()
    chosen = resolve_rule_ids(rules, args.ids) if args.ids else set(rules)
    shown = [rules[i] for i in sorted(chosen)]
    if args.format == "json":
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "severity": r.severity,
                        "confidence": r.confidence,
                        "scope": r.scope,
                        "summary": r.summary,
                        "rationale": r.rationale,
                        "fix": r.fix,
                        "commits": list(r.commits),
                        "references": list(r.references),
                        "aliases": list(r.aliases),
                    }
                    for r in shown
                ],
                indent=2,
            )
            + "\n"
        )
        return EXIT_CLEAN
    for r in shown:
        scope = " (gate only)" if r.scope == "gate" else ""
        sys.stdout.write(f"{r.id} {r.name} [{r.severity}]{scope}\n  {r.summary}\n")
        if args.ids:
            import textwrap  # its patterns cost start-up; only `rules ID` prints prose

            for title, body in (("Why", r.rationale), ("Fix", r.fix)):
                wrapped = textwrap.fill(
                    " ".join(body.split()), 96, initial_indent="    ", subsequent_indent="    "
                )
                sys.stdout.write(f"  {title}:\n{wrapped}\n")
    return EXIT_CLEAN


class _Unusable(Exception):
    pass


def _flushed(status: int) -> int:
    sys.stdout.flush()  # here, where a closed pipe can still be told apart from other errors
    return status


def _closed_pipe() -> int:
    """The reader went away (`vdpa-lint rules | head -1`): stop quietly, as git and grep do."""
    with contextlib.suppress(OSError, ValueError):  # the last flush at exit must not hit the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_CLOSED_PIPE


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _closed_pipe()


def _configure(args: argparse.Namespace, argv: list[str]) -> bool:
    """Defaults from the tree's .vdpa-lint.toml; True when --show-config printed them."""
    from analyzer.workflow.config import apply_config, explicit_dests, show_config

    where = getattr(args, "paths", None) or [
        getattr(args, "repo", None) or getattr(args, "tree", None) or "."
    ]
    show = getattr(args, "show_config", False)
    path, settings = apply_config(
        args, lambda: explicit_dests(build_parser(), argv), Path(where[0]), origins=show
    )
    if show:
        sys.stdout.write(show_config(path, settings))
        return True
    return False


def _check_patch(args: argparse.Namespace) -> int:
    from analyzer.workflow.checkpatch import check_patch, default_tree, read_patch, terse_lines

    rules, enabled, baseline = _setup(args)
    patch = read_patch(args.patch)
    tree = Path(args.tree) if args.tree else default_tree()
    findings = check_patch(patch, tree, rules, enabled, baseline, _cache(args), args.patch)
    sys.stdout.write("".join(line + "\n" for line in terse_lines(findings)))
    return _exit_status(findings, args.fail_on)


def _cc(argv: list[str]) -> int:
    from analyzer.rulebook import load_rules
    from analyzer.workflow.cc import report, run_cc

    rules = load_rules()
    cache = _cache(argparse.Namespace(no_cache=False, cache_dir=None))
    findings, fail_on, root = run_cc(argv, rules, set(rules), cache)
    report(argv, findings, root)
    return _exit_status(findings, fail_on)


def main(argv: list[str] | None = None) -> int:
    from analyzer.rulebook import RuleFileError
    from analyzer.semantics.kb import KnowledgeError
    from analyzer.source import InputError
    from analyzer.workflow.config import ConfigError

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["cc"] and argv[1:] not in (["-h"], ["--help"]):
            args = argparse.Namespace(command="cc", cc_argv=argv[1:])
        else:
            args = build_parser().parse_args(argv)
    except SystemExit:
        _flush_stdout()  # --help or --version into a closed pipe
        raise
    try:
        if args.command == "cc":
            return _cc(args.cc_argv)
        if args.command == "rules":
            return _flushed(_rules(args))
        if args.command == "explain":
            return _flushed(_explain(args))
        if _configure(args, argv):
            return _flushed(EXIT_CLEAN)
        if args.command == "check-patch":
            return _flushed(_check_patch(args))
        return _flushed(_gate(args) if args.command == "gate" else _check(args))
    except BrokenPipeError:
        return _closed_pipe()
    except (InputError, RuleFileError, KnowledgeError, _Unusable, OutputError, ConfigError) as err:
        sys.stderr.write(f"vdpa-lint: error: {err}\n")
    except OSError as err:
        sys.stderr.write(f"vdpa-lint: error: {err.filename or ''}: {err.strerror or err}\n")
    except KeyboardInterrupt:
        sys.stderr.write("vdpa-lint: interrupted\n")
        return 130
    return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
