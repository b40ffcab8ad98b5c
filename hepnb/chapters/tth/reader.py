"""Reading ttH(bb) ntuples: the sources checked before anything is read, then chunked reads.

The ntuples are ROOT files with one tree :data:`~.schema.TREE` per file, one file (or several)
per process. ROOT's TTree writes the per-jet and per-lepton branches as ``std::vector<float>``
/ ``std::vector<int>``; uproot (the simulator) writes counted arrays (``float[]``). Both read as
the same jagged awkward arrays, so a branch is described by what its uproot *interpretation*
reads — jagged or scalar, and the numeric dtype — never by its name or its C++ spelling.

:func:`check_sources` validates every file before a single basket is read: the file opens, the
tree exists, every requested branch exists (a misspelt name gets near matches), each process
has entries, and every branch reads as the same kind and dtype in all files of both processes
(signal and background must share one schema). :func:`iterate` then reads the branches in
chunks, file after file, each chunk tagged with its file index and entry range, so memory stays
bounded whatever the sample size. This module never imports the simulator.
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, TypedDict

import awkward as ak
import numpy as np
import uproot

from hepnb.chapters.tth import schema
from hepnb.io import SchemaError, open_tree

__all__ = [
    "BranchType",
    "Chunk",
    "SourceInfo",
    "branch_types",
    "check_sources",
    "expand_sources",
    "iterate",
    "near",
]

Kind = Literal["jagged", "scalar"]


@dataclass(frozen=True)
class BranchType:
    """What a branch reads as, independent of how the file spells it.

    Attributes:
        kind: ``"jagged"`` (a list per entry: ``std::vector<T>`` or a counted ``T[]``) or
            ``"scalar"`` (one number per entry).
        dtype: the numpy dtype of the values, native byte order (``float32``, ``int32``...).
        typename: uproot's C++ type name as the file spells it (``std::vector<float>``,
            ``float[]``, ``uint64_t``), for messages.
    """

    kind: Kind
    dtype: np.dtype
    typename: str

    def same(self, other: BranchType) -> bool:
        """Whether two branches read as the same arrays (the spelling may differ)."""
        return self.kind == other.kind and self.dtype == other.dtype

    def __str__(self) -> str:
        return f"{self.typename} ({self.kind} {self.dtype})"


class SourceInfo(TypedDict):
    """What :func:`check_sources` found.

    Keys:
        files: process → its files, in order.
        entries: process → entries per file.
        types: branch → its :class:`BranchType` (the same in every file).
    """

    files: dict[str, list[Path]]
    entries: dict[str, list[int]]
    types: dict[str, BranchType]


class Chunk(NamedTuple):
    """A chunk of consecutive entries of one file.

    Attributes:
        arrays: ``(n,)`` awkward record array, one field per branch, as stored (MeV).
        file_index: index of the file in the list given to :func:`iterate`.
        entry_start: entry of the chunk's first event within its file.
        global_start: the same entry counted over all files (the files concatenated in order).
    """

    arrays: ak.Array
    file_index: int
    entry_start: int
    global_start: int


def near(name: str, candidates: Sequence[str] | set[str], n: int = 3) -> str:
    """``"; did you mean 'x'?"`` with the close matches of ``name``, or ``""``."""
    matches = difflib.get_close_matches(name, sorted(candidates), n=n, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"


def _branch_type(path: Path, tree: str, branch: uproot.TBranch) -> BranchType:
    """The :class:`BranchType` of ``branch`` from its interpretation."""
    interp = branch.interpretation
    typename = str(branch.typename)
    if isinstance(interp, uproot.interpretation.jagged.AsJagged) and isinstance(
        interp.content, uproot.interpretation.numerical.AsDtype
    ):
        return BranchType("jagged", interp.content.from_dtype.newbyteorder("="), typename)
    if isinstance(interp, uproot.interpretation.numerical.AsDtype) and not interp.inner_shape:
        return BranchType("scalar", interp.from_dtype.newbyteorder("="), typename)
    raise SchemaError(
        f"{path}: tree {tree!r} branch {branch.name!r} has type {typename} ({interp}); "
        f"expected one number per entry or a flat list of numbers per entry "
        f"(std::vector<float/int/double> or a counted array)"
    )


def branch_types(
    path: str | os.PathLike, branches: Sequence[str], tree: str = schema.TREE
) -> dict[str, BranchType]:
    """Kind and dtype of ``branches`` in one file.

    Returns:
        ``{branch: BranchType}``.

    Raises:
        FileNotFoundError, SchemaError: as :func:`check_sources`.
    """
    path = Path(path)
    t = open_tree(path, tree)
    try:
        _check_branches(path, tree, t, branches)
        return {b: _branch_type(path, tree, t[b]) for b in branches}
    finally:
        t.file.close()


def _check_branches(path: Path, tree: str, t: uproot.TTree, branches: Sequence[str]) -> None:
    have = set(t.keys(recursive=False))
    for b in branches:
        if b not in have:
            raise SchemaError(
                f"{path}: tree {tree!r} has no branch {b!r}{near(b, have)} "
                f"(the tree has {len(have)} branches)"
            )


def expand_sources(data_path: Mapping[str, str | os.PathLike]) -> dict[str, list[Path]]:
    """``{process: file or glob}`` (a config's ``data_path``) → ``{process: sorted files}``.

    Raises:
        FileNotFoundError: a pattern matching no file, naming the process and the pattern.
    """
    out: dict[str, list[Path]] = {}
    for process, pattern in data_path.items():
        files = sorted(glob.glob(os.fspath(pattern)))
        if not files:
            raise FileNotFoundError(f"data_path[{process!r}] = {str(pattern)!r}: no such file")
        out[process] = [Path(f) for f in files]
    return out


def check_sources(
    sources: Mapping[str, Sequence[str | os.PathLike]],
    branches: Sequence[str],
    *,
    tree: str = schema.TREE,
) -> SourceInfo:
    """Validate every file of every process before anything is read.

    Args:
        sources: process → its ROOT files, in order (e.g. ``{"signal": [...],
            "background": [...]}``).
        branches: the branches that will be read.
        tree: the tree of every file.

    Returns:
        The files, entries per file and branch types (:class:`SourceInfo`).

    Raises:
        FileNotFoundError: a file does not exist.
        SchemaError: a file is not readable ROOT or lacks the tree (the message lists the trees
            found); a branch is missing (named, with near matches); a branch is neither a
            number nor a list of numbers per entry; a process has no files or no entries in
            total (naming its files); a branch reads differently in two files (e.g.
            ``std::vector<double>`` in one and ``std::vector<float>`` in the other; both files
            named). ``std::vector<float>`` and a counted ``float[]`` are the same.
    """
    info: SourceInfo = {"files": {}, "entries": {}, "types": {}}
    first: dict[str, tuple[Path, BranchType]] = {}
    for process, files in sources.items():
        paths = [Path(f) for f in files]
        if not paths:
            raise SchemaError(f"process {process!r}: no input files")
        entries = []
        for path in paths:
            t = open_tree(path, tree)
            try:
                _check_branches(path, tree, t, branches)
                entries.append(int(t.num_entries))
                for b in branches:
                    bt = _branch_type(path, tree, t[b])
                    ref = first.setdefault(b, (path, bt))
                    if not ref[1].same(bt):
                        raise SchemaError(
                            f"branch {b!r} of tree {tree!r} reads differently in {ref[0]} "
                            f"({ref[1]}) and in {path} ({bt}): every file of signal and "
                            f"background must share one schema"
                        )
            finally:
                t.file.close()
        if sum(entries) == 0:
            raise SchemaError(
                f"process {process!r}: tree {tree!r} has 0 entries in all its files "
                f"{[str(p) for p in paths]}"
            )
        info["files"][process] = paths
        info["entries"][process] = entries
    info["types"] = {b: first[b][1] for b in branches if b in first}
    return info


def iterate(
    files: Sequence[str | os.PathLike],
    branches: Sequence[str],
    step_size: int = 50_000,
    *,
    tree: str = schema.TREE,
) -> Iterator[Chunk]:
    """Read ``branches`` in chunks of at most ``step_size`` entries, file after file.

    Entries come in order: the files in the order given, each from entry 0. A chunk never
    spans two files; an empty file yields nothing. Nothing is cached, so memory is bounded by
    the chunk size. Call :func:`check_sources` first for the schema checks.

    Args:
        files: the ROOT files of one process.
        branches: branches to read.
        step_size: entries per chunk (≥ 1).
        tree: the tree of every file.

    Yields:
        :class:`Chunk` objects (arrays, file index, entry in the file, entry over all files).

    Raises:
        ValueError: ``step_size`` < 1.
        SchemaError: a file cannot be read (named, with the entry range that failed).
    """
    if step_size < 1:
        raise ValueError(f"step_size={step_size!r}: expected an integer >= 1")
    offset = 0
    for index, f in enumerate(files):
        path = Path(f)
        t = open_tree(path, tree, branches, array_cache=None)
        n = int(t.num_entries)
        start = 0
        try:
            for arrays, report in t.iterate(list(branches), step_size=step_size, report=True):
                start = int(report.tree_entry_start)
                if len(arrays):
                    yield Chunk(arrays, index, start, offset + start)
        except SchemaError:
            raise
        except Exception as exc:  # uproot raises many types for corrupt input
            raise SchemaError(
                f"{path}: tree {tree!r}: failed to read branches {list(branches)} from entry "
                f"{start} on; the file may be truncated ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            t.file.close()
        offset += n
