"""Preprocessor conditionals on kernel config symbols, decided by a known configuration.

Without a configuration every `#if` is analysed on both sides (extract.py). When kbuild
says what the configuration is (`-D CONFIG_X`, or the generated autoconf.h), the groups a
known condition rules out are blanked, so the analysis sees the code that is built.
Conditions that name anything else stay as they are (both sides analysed, as before).

Like every rewrite before parsing, this keeps byte offsets and newlines: removed lines
become spaces; a directive that stays but changes role is rewritten in place
(`#elif X` → `#if   X` when the groups before it are gone, `#elif K` → `#else` padded when
K is known true after an undecided `#if`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

_DIRECTIVE_RE = re.compile(rb"^([ \t]*#[ \t]*)(if|ifdef|ifndef|elif|else|endif)\b(.*)$", re.S)
_COMMENT_RE = re.compile(r"/\*.*?\*/|//.*$", re.S)
_TOKEN_RE = re.compile(r"\s*(?:(\d+)[uUlL]*|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[!()<>+\-]))")


class KernelConfig(NamedTuple):
    """Config symbols and their values (`1` for y, as autoconf.h writes them). complete:
    the whole configuration is known (autoconf.h), so a symbol not in it is not set."""

    values: Mapping[str, str]
    complete: bool = False

    def value(self, name: str) -> int | None:
        if name in self.values:
            v = self.values[name].strip()
            try:
                return int(v, 0)
            except ValueError:
                return None  # a string or an expression: known to be set, not a number
        if self.complete and name.startswith("CONFIG_"):
            return 0
        return None

    def defined(self, name: str) -> int | None:
        if name in self.values:
            return 1
        if self.complete and name.startswith("CONFIG_"):
            return 0
        return None


_COMPARE: dict[str | None, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class _Eval:
    """#if expressions, three-valued: an int, or None when not decided by the config."""

    def __init__(self, text: str, config: KernelConfig) -> None:
        self.tokens = [m.group(1) or m.group(2) or m.group(3) for m in _TOKEN_RE.finditer(text)]
        self.rest = _TOKEN_RE.sub("", text).strip()
        self.pos = 0
        self.config = config

    def run(self) -> int | None:
        if self.rest:  # something this evaluator does not read: leave the condition alone
            return None
        try:
            value = self._or()
        except (IndexError, ValueError):
            return None
        return value if self.pos == len(self.tokens) else None

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        tok = self.tokens[self.pos]
        if expected is not None and tok != expected:
            raise ValueError(tok)
        self.pos += 1
        return tok

    def _or(self) -> int | None:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = 1 if left or right else (0 if left == 0 and right == 0 else None)
        return left

    def _and(self) -> int | None:
        left = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            left = 0 if left == 0 or right == 0 else (1 if left and right else None)
        return left

    def _cmp(self) -> int | None:
        left = self._sum()
        while self._peek() in _COMPARE:
            op = self._take()
            right = self._sum()
            left = None if left is None or right is None else int(_COMPARE[op](left, right))
        return left

    def _sum(self) -> int | None:
        left = self._unary()
        while self._peek() in ("+", "-"):
            op = self._take()
            right = self._unary()
            left = None if left is None or right is None else left + right if op == "+" else left - right
        return left

    def _unary(self) -> int | None:
        tok = self._take()
        if tok == "!":
            v = self._unary()
            return None if v is None else int(not v)
        if tok == "-":
            v = self._unary()
            return None if v is None else -v
        if tok == "(":
            v = self._or()
            self._take(")")
            return v
        if tok.isdigit():
            return int(tok)
        if tok == "defined":
            paren = self._peek() == "("
            if paren:
                self._take()
            name = self._take()
            if paren:
                self._take(")")
            return self.config.defined(name)
        if tok in ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE") and self._peek() == "(":
            self._take()
            name = self._take()
            self._take(")")
            return self._kconfig(tok, name)
        if tok[0].isalpha() or tok[0] == "_":
            if self._peek() == "(":
                raise ValueError(tok)  # a function-like macro we do not know
            return self.config.value(tok) if tok.startswith("CONFIG_") else None
        raise ValueError(tok)

    def _kconfig(self, macro: str, name: str) -> int | None:
        builtin = self.config.defined(name)
        module = self.config.defined(name + "_MODULE")
        if macro == "IS_BUILTIN":
            return builtin
        if macro == "IS_MODULE":
            return module
        if builtin == 1 or module == 1:
            return 1 if macro == "IS_ENABLED" or builtin == 1 else None
        return 0 if builtin == 0 and module == 0 else None


def evaluate(condition: str, config: KernelConfig) -> int | None:
    return _Eval(_COMMENT_RE.sub(" ", condition), config).run()


class _Frame(NamedTuple):
    active: bool  # the enclosing groups are all kept
    emitted: bool  # an opening directive of this chain is still in the output
    taken: bool  # a group known to be the one built was seen
    keep: bool  # the current group is kept


def _blank(line: bytes) -> bytes:
    body = line.rstrip(b"\r\n")
    return b" " * len(body) + line[len(body) :]


def _rewrite(line: bytes, prefix: bytes, word: bytes) -> bytes:
    """The directive line with its keyword replaced by word, padded to the same length."""
    body = line.rstrip(b"\r\n")
    new = prefix + word
    if word == b"else":  # the condition goes too
        return new + b" " * (len(body) - len(new)) + line[len(body) :]
    old = len(prefix) + len(b"elif")
    return new + b" " * (old - len(new)) + line[old:]


def resolve_config(src: bytes, config: KernelConfig) -> bytes:
    """src with the conditionals the configuration decides resolved (same length)."""
    lines = src.splitlines(keepends=True)
    out: list[bytes] = []
    stack: list[_Frame] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        span = [line]
        while span[-1].rstrip(b"\r\n").endswith(b"\\") and n + len(span) < len(lines):
            span.append(lines[n + len(span)])
        m = _DIRECTIVE_RE.match(line)
        active = all(f.active and f.keep for f in stack)
        if not m:
            out.append(line if active else _blank(line))
            n += 1
            continue
        n += len(span)
        prefix, kind = m.group(1), m.group(2)
        cond_text = b" ".join(s.rstrip(b"\r\n").rstrip(b"\\") for s in [m.group(3), *span[1:]])
        cond_str = cond_text.decode("utf-8", "replace")
        keep_lines, first = False, None  # default: the directive goes
        if kind in (b"if", b"ifdef", b"ifndef"):
            if not active:
                stack.append(_Frame(False, False, False, False))
            else:
                if kind == b"if":
                    c = evaluate(cond_str, config)
                else:
                    d = config.defined(cond_str.strip().split()[0]) if cond_str.strip() else None
                    c = d if kind == b"ifdef" or d is None else int(not d)
                if c is None:
                    stack.append(_Frame(True, True, False, True))
                    keep_lines = True
                else:
                    stack.append(_Frame(True, False, bool(c), bool(c)))
        elif kind == b"elif" and stack:
            f = stack[-1]
            if f.active:
                c = None if f.taken else evaluate(cond_str, config)
                if f.taken or c == 0:
                    stack[-1] = f._replace(keep=False)
                elif c is not None:
                    stack[-1] = f._replace(taken=True, keep=True)
                    if f.emitted:
                        first = _rewrite(line, prefix, b"else")
                else:
                    stack[-1] = f._replace(keep=True, emitted=True)
                    if f.emitted:
                        keep_lines = True
                    else:
                        first = _rewrite(line, prefix, b"if")
                        keep_lines = True
        elif kind == b"else" and stack:
            f = stack[-1]
            if f.active:
                stack[-1] = f._replace(keep=not f.taken)
                keep_lines = f.emitted and not f.taken
        elif kind == b"endif" and stack:
            f = stack.pop()
            keep_lines = f.active and f.emitted
        else:  # an #elif/#else/#endif without its #if: not ours to judge
            keep_lines = active
        if first is not None:
            out.append(first)
            out.extend(s if keep_lines else _blank(s) for s in span[1:])
        else:
            out.extend(s if keep_lines else _blank(s) for s in span)
    return b"".join(out)


_AUTOCONF_RE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+(CONFIG_\w+)[ \t]+(.*?)[ \t]*$", re.M)


def config_from_header(data: bytes) -> dict[str, str]:
    """`#define CONFIG_X value` lines (include/generated/autoconf.h and the like)."""
    return {m.group(1).decode(): m.group(2).decode("utf-8", "replace") for m in _AUTOCONF_RE.finditer(data)}
