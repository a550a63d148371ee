"""Kernel-idiom masking: rewrite C source so tree-sitter-c sees every call.

Every rewrite preserves byte length and newlines, so rows and columns in the
parse tree are those of the original file. Rewrites only replace bytes with
spaces or with a same-length keyword; nothing is inserted or removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from analyzer.bytescan import WORD, indented_line_start, line_starts

# Annotations the compiler (or sparse) sees as attributes; tree-sitter-c reads
# them as stray identifiers and wraps the declaration in ERROR nodes.
_BARE_ATTRIBUTES = [
    "__iomem",
    "__user",
    "__rcu",
    "__force",
    "__must_check",
    "__init",
    "__exit",
    "__always_inline",
    "noinline",
    "__maybe_unused",
    "__cold",
    "__hot",
    "__percpu",
    "__read_mostly",
    "__ro_after_init",
    "__initdata",
    "__initconst",
    "__exitdata",
    "__refdata",
    "__ref",
    "__noreturn",
    "__weak",
    "__pure",
    "__packed",
    "__cacheline_aligned",
    "__cacheline_aligned_in_smp",
    "____cacheline_aligned",
    "__nocast",
    "__safe",
    "__private",
    "__kernel",
    "__nonstring",
    "__visible",
    "__used",
    "__always_unused",
    "__attribute_const__",
    "__randomize_layout",
    "__no_randomize_layout",
    "__latent_entropy",
    "notrace",
    "__malloc",
    "__noclone",
    "__flatten",
    "__bitwise",
    "__must_be_array",
    "__counted_by_ptr",
    "__init_or_module",
    "__meminit",
    "__sched",
    "__lockfunc",
    "__fastpath",
    "__no_kcsan",
    "__noinline",
    "__alignof__",
]
# Attributes that take an argument list, which is blanked with them.
_CALL_ATTRIBUTES = [
    "__acquires",
    "__releases",
    "__must_hold",
    "__printf",
    "__scanf",
    "__aligned",
    "__counted_by",
    "__section",
    "__free",
    "__cond_acquires",
    "__guarded_by",
    "__alloc_size",
    "__diagnose_as",
    "__nonnull",
    "__cleanup",
    "__cond_lock_acquires",
    "__no_context_analysis",
]

_BARE = frozenset(a.encode() for a in _BARE_ATTRIBUTES)
_WITH_ARGS = frozenset(a.encode() for a in _CALL_ATTRIBUTES)
# Every attribute but three starts with "__": a literal prefix the regex engine skips to fast.
_UNDERSCORE_RE = re.compile(rb"__\w+")
_PLAIN_WORDS = (b"noinline", b"notrace", b"offsetof")

# A whole macro argument that is a type: container_of(p, const struct T, m), min_t(unsigned int, a, b),
# DEFINE_FREE(n, struct T *, f). It becomes one identifier of the same length (`struct_T__`).
# Groups: the `(` or `,`, the blanks after it, the type. One pattern per opener, each led by
# its literal (bytescan.py); no match holds another opener, so the two never overlap.
_TYPE_ARG = (
    rb"(\s*)(?=[cvsuel])((?:(?:const|volatile)\s+)*"
    rb"(?:(?:struct|union|enum)\s+\w+|(?:unsigned|signed|long|short)(?:[ \t]+(?:int|long|char|short))*)"
    rb"[ \t*]*?)(?=[ \t]*[,)])"
)
_TYPE_ARG_RES = (re.compile(rb"(\()" + _TYPE_ARG), re.compile(rb"(,)" + _TYPE_ARG))
_CALL_BEFORE_RE = re.compile(rb"\w\s*$")
_TYPE_WORDS_RE = re.compile(rb"\b(?:const|volatile|struct|union|enum)\b|\*")
# An iterator macro opening a statement: list_for_each_entry(pos, head, m) { ... }.
# `while (a, b, c) stmt` has the same shape and keeps the arguments' calls.
_EACH_RE = re.compile(rb"for_?each")
_SPACE = frozenset(b" \t\n\r\f\v")


def _iterator_names(src: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each word holding for_each or foreach that is the first on its line
    (after a blank) and is called: the statements iterator macros open."""
    pos, n = 0, len(src)
    while (m := _EACH_RE.search(src, pos)) is not None:
        start, end = m.start(), m.end()
        while start and src[start - 1] in WORD:
            start -= 1
        while end < n and src[end] in WORD:
            end += 1
        pos = end
        if not indented_line_start(src, start):
            continue
        after = end
        while after < n and src[after] in _SPACE:
            after += 1
        if after < n and src[after] == 0x28:
            yield start, end


def _whole_word(src: bytes, start: int, end: int) -> bool:
    return (start == 0 or src[start - 1] not in WORD) and (end == len(src) or src[end] not in WORD)


def _attribute_words(src: bytes) -> list[tuple[int, bytes]]:
    """(offset, word) of every whole word that may be an attribute or offsetof."""
    found = [
        (m.start(), m.group())
        for m in _UNDERSCORE_RE.finditer(src)
        if m.start() == 0 or src[m.start() - 1] not in WORD
    ]
    for word in _PLAIN_WORDS:
        at = src.find(word)
        while at != -1:
            if _whole_word(src, at, at + len(word)):
                found.append((at, word))
            at = src.find(word, at + 1)
    return sorted(found)


def _blank(data: bytearray, start: int, end: int) -> None:
    for i in range(start, end):
        if data[i] not in (0x0A, 0x0D):
            data[i] = 0x20


def _matching_paren(data: bytes | bytearray, open_at: int) -> int:
    """Index just past the parenthesis closing the one at open_at (or len(data))."""
    depth = 0
    for i in range(open_at, len(data)):
        c = data[i]
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(data)


_DEFINE_LINE_RE = re.compile(rb"#[ \t]*define\b(?:[^\n]*\\\r?\n)*[^\n]*")  # first on its line
_BLOCK_COMMENT_RE = re.compile(rb"/\*.*?\*/", re.S)


def _blank_macro_comments(src: bytes, data: bytearray) -> None:
    """A comment inside a continued #define ends tree-sitter's macro value there: blank it."""
    for m in line_starts(_DEFINE_LINE_RE, src):
        if b"/*" in m.group():
            for c in _BLOCK_COMMENT_RE.finditer(src, m.start(), m.end()):
                _blank(data, c.start(), c.end())


def mask_kernel_idioms(src: bytes) -> bytes:
    """Return src with kernel idioms rewritten into plain C of the same length."""
    data = bytearray(src)
    _blank_macro_comments(src, data)
    for start, word in _attribute_words(src):
        end = start + len(word)
        if word in _BARE:
            _blank(data, start, end)
        elif word in _WITH_ARGS:
            paren = end
            while paren < len(src) and src[paren] in b" \t":
                paren += 1
            if paren < len(src) and src[paren] == 0x28:
                _blank(data, start, _matching_paren(src, paren))
        elif word == b"offsetof":
            # offsetof(T, a.b) names a member path, which tree-sitter's offsetof rule does not
            # take; as a plain macro call the path is an ordinary field expression.
            data[start:end] = b"OFFSETOF"
    for m in sorted((m for p in _TYPE_ARG_RES for m in p.finditer(src)), key=lambda m: m.start()):
        # `(unsigned long)x` is a cast, not an argument: only a `(` that opens a call counts.
        if m.group(1) == b"(" and not _CALL_BEFORE_RE.search(src, max(0, m.start() - 64), m.start()):
            continue
        start, end = m.start(3), m.end(3)
        if b"\n" in src[start:end]:
            # Split over lines: keep only the type's name, which is an identifier too.
            data[start:end] = _TYPE_WORDS_RE.sub(lambda w: b" " * len(w.group()), src[start:end])
        else:
            data[start:end] = re.sub(rb"[ \t*]", b"_", src[start:end])
    for name_start, name_end in _iterator_names(src):
        data[name_start:name_end] = b"while" + b" " * (name_end - name_start - 5)
    return bytes(data)


_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b", re.MULTILINE)


def conditional_variants(src: bytes) -> tuple[bytes, ...] | None:
    """Views of a file with preprocessor conditionals resolved, one per group of the longest
    #if chain: view k keeps group k of every chain (its last group where it has fewer).
    The first view keeps every chain's first group, the last (there are always two or
    more) every #else side, and a middle view an #elif. Together they show every side of
    every conditional to a parser that cannot follow a conditional splitting a statement.
    Returns None when the file has no conditional.
    """
    lines = src.splitlines(keepends=True)
    groups_of: dict[int, int] = {}
    open_at: list[int] = []
    for n, line in enumerate(lines):
        m = _DIRECTIVE_RE.match(line)
        if not m:
            continue
        kind = m.group(1)
        if kind in (b"if", b"ifdef", b"ifndef"):
            open_at.append(n)
            groups_of[n] = 1
        elif kind in (b"elif", b"else") and open_at:
            groups_of[open_at[-1]] += 1
        elif kind == b"endif" and open_at:
            open_at.pop()
    if not groups_of:
        return None
    count = max(2, *groups_of.values())
    views = [bytearray() for _ in range(count)]
    stack: list[list[int]] = []  # per open conditional: [current group, groups in chain]
    continuing = False
    for n, line in enumerate(lines):
        m = _DIRECTIVE_RE.match(line)
        body = line.rstrip(b"\r\n")
        blank_line = b" " * len(body) + line[len(body) :]
        if continuing or m:
            # A directive, and the tail of one continued with a backslash, are not code.
            if m and not continuing:
                kind = m.group(1)
                if kind in (b"if", b"ifdef", b"ifndef"):
                    stack.append([0, groups_of.get(n, 1)])
                elif kind in (b"elif", b"else") and stack:
                    stack[-1][0] += 1
                elif kind == b"endif" and stack:
                    stack.pop()
            continuing = body.endswith(b"\\")
            for view in views:
                view += blank_line
            continue
        for k, view in enumerate(views):
            keep = all(g == min(k, total - 1) for g, total in stack)
            view += line if keep else blank_line
    return tuple(bytes(v) for v in views)
