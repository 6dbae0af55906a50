"""Byte- and line-level mutations of input files, as Hypothesis strategies.

A :class:`Mutation` turns the bytes of a file into other bytes and says which
lines of the original it touched (``touched``: a set of 0-based line indices,
or ``ALL``) and whether it is *benign*: a benign mutation keeps the meaning of
the file (reordered rows, CRLF line ends, a BOM, a consistent other
delimiter), so a successful load must equal the unmutated data.  For any
other mutation, values of untouched lines must be unchanged.
"""

from __future__ import annotations

import collections
import gzip
import random
from dataclasses import dataclass, field

from hypothesis import strategies as st

ALL = frozenset({-1})

#: outcomes per format: "loaded", "clean error", "failure" (filled by the tests)
COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

SPECIAL_VALUES = [
    "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "99999999999999999999",
    "1e308", "-1", "3", "2.5", "NA", "", " ", ".", "x", "0x1", "\u00e9", "1,5", "-0",
]  # fmt: skip


@dataclass
class Mutation:
    kind: str
    params: dict = field(default_factory=dict)
    benign: bool = False

    def __repr__(self) -> str:  # shown by Hypothesis on failure
        return f"Mutation({self.kind}, {self.params})"


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset)


def apply(m: Mutation, data: bytes, *, data_start: int = 1) -> tuple[bytes, frozenset]:
    """The mutated bytes and the original line indices the mutation touched."""
    p = m.params
    lines = _lines(data)
    n = len(lines)
    if m.kind == "empty":
        return b"", ALL
    if m.kind == "truncate":
        off = p["at"] % (len(data) + 1)
        first = _line_of(data, off)
        return data[:off], frozenset(range(first, n)) | (ALL if first < data_start else set())
    if m.kind == "bitflip":
        out = bytearray(data)
        touched = set()
        for off, bit in p["flips"]:
            off %= max(len(data), 1)
            out[off] ^= 1 << bit
            touched.add(_line_of(data, off))
        if any(t < data_start for t in touched):
            return bytes(out), ALL
        # a flipped newline merges or splits lines: the neighbours are touched too
        touched |= {t + 1 for t in touched} | {t - 1 for t in touched}
        return bytes(out), frozenset(touched)
    if m.kind in ("drop_line", "dup_line", "swap_lines", "shuffle_data"):
        i = p.get("i", 0) % max(n, 1)
        if m.kind == "drop_line":
            out = lines[:i] + lines[i + 1 :]
            return b"".join(out), ALL if i < data_start else frozenset()
        if m.kind == "dup_line":
            out = lines[: i + 1] + [lines[i]] + lines[i + 1 :]
            return b"".join(out), ALL if i < data_start else frozenset({i})
        if m.kind == "swap_lines":
            j = p["j"] % max(n, 1)
            out = list(lines)
            out[i], out[j] = out[j], out[i]
            if min(i, j) < data_start:
                return b"".join(out), ALL
            return b"".join(out), frozenset()
        body = lines[data_start:]
        if body and not body[-1].endswith(b"\n"):
            body[-1] += b"\n"
        random.Random(p["seed"]).shuffle(body)
        return b"".join(lines[:data_start] + body), frozenset()
    if m.kind in ("drop_column", "extra_column"):
        sep = p["sep"]
        out = []
        one = p.get("line")
        target = None if one is None else one % max(n, 1)
        for k, ln in enumerate(lines):
            if target is not None and k != target:
                out.append(ln)
                continue
            end = ln[len(ln.rstrip(b"\r\n")) :]
            cells = ln.rstrip(b"\r\n").split(sep)
            if m.kind == "drop_column":
                j = p["j"] % max(len(cells), 1)
                cells = cells[:j] + cells[j + 1 :]
            else:
                j = p["j"] % (len(cells) + 1)
                cells = cells[:j] + [b"X%d" % k if k == 0 else b"1"] + cells[j:]
            out.append(sep.join(cells) + end)
        if target is None:
            return b"".join(out), ALL
        return b"".join(out), ALL if target < data_start else frozenset({target})
    if m.kind == "value":
        sep = p["sep"]
        i = p["i"] % max(n, 1)
        ln = lines[i]
        end = ln[len(ln.rstrip(b"\r\n")) :]
        cells = ln.rstrip(b"\r\n").split(sep)
        j = p["j"] % max(len(cells), 1)
        cells[j] = p["value"].encode("utf-8")
        out = list(lines)
        out[i] = sep.join(cells) + end
        return b"".join(out), ALL if i < data_start else frozenset({i})
    if m.kind == "delimiter":
        return data.replace(p["old"], p["new"]), ALL
    if m.kind == "crlf":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), frozenset()
    if m.kind == "bom":
        return b"\xef\xbb\xbf" + data, frozenset()
    if m.kind == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16"), ALL
    if m.kind == "latin1":
        i = p["i"] % max(n, 1)
        out = list(lines)
        out[i] = out[i].rstrip(b"\r\n") + b"\xe9\xff" + out[i][len(out[i].rstrip(b"\r\n")) :]
        return b"".join(out), ALL if i < data_start else frozenset({i})
    if m.kind == "gzip":  # the same content, gzip-compressed (a benign change of container)
        return gzip.compress(data, mtime=0), frozenset()
    if m.kind == "blank_lines":
        return data + b"\n\n", frozenset()
    raise ValueError(m.kind)


@st.composite
def mutations(draw, *, seps=(b",",), line_ops=True, text=True, benign_shuffle=True):
    """A strategy of :class:`Mutation` for a file with delimiter(s) ``seps``."""
    kinds = ["truncate", "bitflip", "empty"]
    if text:
        kinds += ["drop_column", "extra_column", "value", "delimiter", "crlf", "bom"]
        kinds += ["utf16", "latin1", "blank_lines", "gzip"]
    if line_ops:
        kinds += ["drop_line", "dup_line", "swap_lines"]
        if benign_shuffle:
            kinds += ["shuffle_data"]
    kind = draw(st.sampled_from(kinds))
    big = st.integers(0, 2**31 - 1)
    if kind == "truncate":
        return Mutation(kind, {"at": draw(big)})
    if kind == "bitflip":
        flips = draw(st.lists(st.tuples(big, st.integers(0, 7)), min_size=1, max_size=3))
        return Mutation(kind, {"flips": flips})
    if kind in ("drop_line", "dup_line"):
        return Mutation(kind, {"i": draw(big)})
    if kind == "swap_lines":
        return Mutation(kind, {"i": draw(big), "j": draw(big)})
    if kind == "shuffle_data":
        return Mutation(kind, {"seed": draw(big)}, benign=True)
    if kind in ("drop_column", "extra_column"):
        line = draw(st.one_of(st.none(), big))
        return Mutation(kind, {"sep": draw(st.sampled_from(seps)), "j": draw(big), "line": line})
    if kind == "value":
        value = draw(st.sampled_from(SPECIAL_VALUES))
        sep = draw(st.sampled_from(seps))
        return Mutation(kind, {"sep": sep, "i": draw(big), "j": draw(big), "value": value})
    if kind == "delimiter":
        old = draw(st.sampled_from(seps))
        new = draw(st.sampled_from([b",", b";", b"\t", b" ", b"|"]))
        # one consistent delimiter for another is benign for the auto-detecting readers
        return Mutation(kind, {"old": old, "new": new})
    if kind == "latin1":
        return Mutation(kind, {"i": draw(big)})
    return Mutation(kind, {}, benign=kind in ("crlf", "bom", "gzip", "blank_lines"))
