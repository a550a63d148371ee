"""Literal-led scans find what the anchored patterns they replace find (bytescan.py)."""

from __future__ import annotations

import re

import pytest

from analyzer import cmask
from analyzer.bytescan import line_starts, word_starts
from analyzer.extract import _DEFINE_RE, defines_of

SHAPES = [
    b"#define A 1\n",
    b"  #  define B 0x10 /* note */\n\t# define C (2u)\n",
    b"x = 1; #define D 3\n",  # not first on its line
    b"\r#define E 4\n",  # a lone CR does not start a line
    b"#define F(x) \\\n  ((x) + 1)\n#define G 7\n",
    b"/* #define H 8 */\n",
    b"#define I 9",  # no newline at the end
    b"",
]


@pytest.mark.parametrize("src", SHAPES)
def test_line_starts_is_a_multiline_caret_with_blanks(src: bytes) -> None:
    anchored = re.compile(rb"^[ \t]*" + _DEFINE_RE.pattern, re.M)
    want = [m.groups() for m in anchored.finditer(src)]
    assert [m.groups() for m in line_starts(_DEFINE_RE, src)] == want


def test_defines_of_reads_first_on_line_defines_only() -> None:
    src = b"".join(SHAPES)
    assert dict(defines_of(src)) == {"A": 1, "B": 16, "C": 2, "G": 7, "I": 9}


def test_word_starts_is_a_leading_word_boundary() -> None:
    src = b"xstruct a = {\nstruct b = {; _struct c = {\n struct d = {"
    pattern = re.compile(rb"struct[ \t]+(\w+)[ \t]*=[ \t]*\{")
    bounded = re.compile(rb"\b" + pattern.pattern)
    assert [m.group(1) for m in word_starts(pattern, src)] == [m.group(1) for m in bounded.finditer(src)]
    assert [m.group(1) for m in word_starts(pattern, src)] == [b"b", b"d"]


ITERATORS = [
    (b"\tlist_for_each_entry(p, h, m) {\n", [b"list_for_each_entry"]),
    (b"  hash_foreach (x) y();\n", [b"hash_foreach"]),
    (b"list_for_each(p, h)\n", []),  # column 0: a definition, not a statement
    (b"\tx = list_for_each(p);\n", []),  # not first on its line
    (b"\tfor_each_vq\n\t\t(v) f(v);\n", [b"for_each_vq"]),  # the call's `(` on the next line
    (b"\tmy_for_each_x;\n", []),  # not called
    (b"\tfor_each_a_for_each(i) {}\n\tforeach(j) {}\n", [b"for_each_a_for_each", b"foreach"]),
]


@pytest.mark.parametrize(("src", "names"), ITERATORS)
def test_iterator_heads(src: bytes, names: list[bytes]) -> None:
    anchored = re.compile(rb"^([ \t]+)(\w*for_?each\w*)(?=\s*\()", re.M)
    assert [m.group(2) for m in anchored.finditer(src)] == names
    assert [src[s:e] for s, e in cmask._iterator_names(src)] == names
    masked = cmask.mask_kernel_idioms(src)
    assert len(masked) == len(src)
    for name in names:
        assert name not in masked


def test_type_arguments_after_either_opener() -> None:
    src = b"x = container_of(p, const struct vq, w); y = min_t(unsigned int, a, b); z = (long)q;"
    masked = cmask.mask_kernel_idioms(src)
    assert b"const_struct_vq" in masked and b"unsigned_int" in masked
    assert b"(long)q" in masked  # a cast, not an argument


def test_whole_words() -> None:
    from analyzer.bytescan import whole_words

    src = b"ops xops ops_x ops;ops"
    assert list(whole_words(src, b"ops")) == [0, 15, 19]
    assert list(whole_words(b"aaa aa", b"aa")) == [4]


def test_extract_finds_what_it_asks_tree_sitter_for_wherever_it_is() -> None:
    """Only the top-level nodes holding a mark are walked: macros, IOTLB members and
    run-time clears are found in every place they may be."""
    from analyzer.extract import extract

    src = b"""struct vhost_iotlb;
#ifdef CONFIG_X
struct dev {
\tint n;
\tstruct vhost_iotlb *maps[2], *spare;
};
#endif
#define TOP(x) f(x)
static int g(int a)
{
#define INNER(y) h(y)
\treturn INNER(a);
}
static const struct vdpa_config_ops ops = { .reset = g };
static struct vdpa_config_ops live;
static void probe(int cap)
{
\tlive = ops;
\tif (!cap)
\t\tlive.reset = NULL;
}
"""
    facts = extract("d.c", src)
    assert sorted(m.name for m in facts.macros) == ["INNER", "TOP"]
    assert facts.iotlb_fields == ("maps", "spare")
    # A comment between `struct` and the tag: a member the parser sees is one the marks see.
    commented = src.replace(b"\tint n;\n", b"\tint n;\n\tstruct /* bounce */ vhost_iotlb *bounce;\n")
    assert extract("d.c", commented).iotlb_fields == ("bounce", "maps", "spare")
    alone = b"struct x {\n\tstruct /* mine */\n\t\tvhost_iotlb *only;\n};\n"
    assert extract("e.c", alone).iotlb_fields == ("only",)
    assert [(c.table, c.op, c.function) for c in facts.runtime_clears] == [("ops", "reset", "probe")]
