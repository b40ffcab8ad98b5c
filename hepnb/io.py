"""Reading and writing ROOT (uproot) and HDF5 files, with schema checks and chunked iteration.

Every reader here accepts the experiments' real ntuples unchanged; each chapter's simulator
(``hepnb.chapters.<name>.sim``) writes through :func:`write_root`, so its files look the same
to the readers.
All writes are atomic: data go to a temporary file in the target directory which is renamed
over the target only once it is complete, so an interrupted run never leaves a half file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

__all__ = [
    "SchemaError",
    "atomic_path",
    "atomic_write_json",
    "iterate",
    "load_arrays",
    "open_tree",
    "read_tree",
    "save_arrays",
    "write_root",
]


class SchemaError(ValueError):
    """A file, tree or branch is missing or malformed.

    The message always names the file and, where relevant, the tree and the branch.
    """


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.

    Args:
        path: final destination.
        suffix: suffix for the temporary file (defaults to the destination's suffix, so that
            libraries which dispatch on the extension behave).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=(path.suffix if suffix is None else suffix) + ".part",
        dir=path.parent,
    )
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the final file normal permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_root(
    path: str | os.PathLike,
    trees: Mapping[str, Mapping[str, Any]],
    *,
    jagged_groups: Mapping[str, str] | None = None,
) -> Path:
    """Write one or more TTrees to a new ROOT file, atomically.

    Flat branches are 1D numpy arrays. Jagged branches (awkward arrays of lists) that share a
    prefix are grouped so they share one counter branch, as ROOT's own counted arrays do: with
    ``jagged_groups={"hit_": "nhit"}`` the branches ``hit_tot``, ``hit_L``... are written under
    their own names with the counter ``nhit``. uproot cannot write ``std::vector`` branches;
    counted arrays read back into the same awkward arrays, so readers need not care.

    Args:
        path: destination ``.root`` file. A tree name may contain ``/`` to place it in a
            directory (``"kalman_validator/kalman_ip_tree"``).
        trees: ``{tree_name: {branch_name: array}}``.
        jagged_groups: prefix → counter-branch name for jagged branches.

    Returns:
        The path written.
    """
    jagged_groups = dict(jagged_groups or {})
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        for tree_name, branches in trees.items():
            flat: dict[str, Any] = {}
            groups: dict[str, dict[str, Any]] = {}
            for name, arr in branches.items():
                prefix = next((p for p in jagged_groups if name.startswith(p)), None)
                if isinstance(arr, ak.Array) and arr.ndim > 1:
                    if prefix is None:
                        raise ValueError(
                            f"jagged branch {name!r} of tree {tree_name!r} has no jagged group; "
                            f"pass jagged_groups={{prefix: counter}}"
                        )
                    groups.setdefault(prefix, {})[name[len(prefix) :]] = arr
                else:
                    flat[name] = np.asarray(arr)
            for prefix, fields in groups.items():
                # uproot names grouped fields "<key>_<field>" and the counter "n<key>"; the key is
                # the prefix without its trailing underscore.
                key = prefix.rstrip("_")
                flat[key] = ak.zip(fields)
            n = {len(v) for v in flat.values()}
            if len(n) > 1:
                raise ValueError(f"branches of tree {tree_name!r} differ in length: {sorted(n)}")
            f.mktree(
                tree_name,
                {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in flat.items()},
                counter_name=lambda key: jagged_groups.get(key + "_", "n" + key),
            )
            f[tree_name].extend(flat)
    return Path(path)


def open_tree(
    path: str | os.PathLike,
    tree: str,
    branches: Sequence[str] | None = None,
    **options: Any,
) -> uproot.TTree:
    """Open ``tree`` in ``path`` and check that ``branches`` exist in it; ``options`` go to
    ``uproot.open`` (e.g. ``array_cache=None`` for a reader that keeps nothing). Close the file
    with ``tree.file.close()`` when a loop opens many.

    Raises:
        FileNotFoundError: the file does not exist.
        SchemaError: the file is not a readable ROOT file (e.g. truncated), the tree is missing
            or is not a TTree, or a branch is missing. The message names file, tree and branch.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such ROOT file")
    try:
        f = uproot.open(path, **options)
    except Exception as exc:  # uproot raises many types for corrupt input
        raise SchemaError(
            f"{path}: not a readable ROOT file ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        keys = f.keys(cycle=False)
        if tree not in keys:
            trees = sorted(k for k, c in f.classnames(cycle=False).items() if c == "TTree")
            raise SchemaError(f"{path}: no tree {tree!r}; trees in the file: {trees}")
        t = f[tree]
    except SchemaError:
        raise
    except Exception as exc:
        raise SchemaError(
            f"{path}: cannot read tree {tree!r}; the file may be truncated "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(t, uproot.TTree):
        raise SchemaError(f"{path}: {tree!r} is a {type(t).__name__}, not a TTree")
    if branches is not None:
        missing = [b for b in branches if b not in t]
        if missing:
            raise SchemaError(
                f"{path}: tree {tree!r} lacks branch(es) {missing}; "
                f"it has {sorted(t.keys(recursive=False))}"
            )
    return t


def _check_numeric(path: Path, tree: str, arrays: ak.Array, finite: Sequence[str]) -> None:
    for name in finite:
        flat = ak.to_numpy(ak.flatten(arrays[name], axis=None))
        # fast path: a finite sum proves every value finite (an overflowing sum falls through)
        if flat.dtype.kind != "f" or np.isfinite(flat.sum()):
            continue
        if not np.isfinite(flat).all():
            bad = int((~np.isfinite(flat)).sum())
            raise SchemaError(
                f"{path}: tree {tree!r} branch {name!r} holds {bad} NaN/inf value(s); "
                "clean the ntuple or drop the branch"
            )


def read_tree(
    path: str | os.PathLike,
    tree: str,
    branches: Sequence[str],
    *,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    finite: Sequence[str] | bool = True,
    allow_empty: bool = False,
) -> ak.Array:
    """Read ``branches`` of ``tree`` into one awkward record array, with schema checks.

    Args:
        path: ROOT file.
        tree: tree name (``dir/tree`` for trees in a directory).
        branches: branch names to read; each must exist.
        entry_start, entry_stop: entry range (as in uproot).
        finite: branch names that must hold only finite values (``True``: all, ``False``: none).
        allow_empty: accept a tree with no entries (otherwise :class:`SchemaError`).

    Returns:
        Array of records, one per entry, with the branch names as fields.
    """
    t = open_tree(path, tree, branches)
    if t.num_entries == 0 and not allow_empty:
        raise SchemaError(f"{path}: tree {tree!r} is empty (0 entries)")
    try:
        arrays = t.arrays(list(branches), entry_start=entry_start, entry_stop=entry_stop)
    except Exception as exc:
        raise SchemaError(
            f"{path}: tree {tree!r}: failed to read branches {list(branches)}; the file may be "
            f"truncated or a branch malformed ({type(exc).__name__}: {exc})"
        ) from exc
    names = list(branches) if finite is True else list(finite or [])
    _check_numeric(Path(path), tree, arrays, names)
    return arrays


def iterate(
    path: str | os.PathLike,
    tree: str,
    branches: Sequence[str],
    *,
    step_size: int | str = 100_000,
    finite: Sequence[str] | bool = True,
) -> Iterator[ak.Array]:
    """Iterate over ``tree`` in chunks of ``step_size`` entries (or e.g. ``"100 MB"``).

    The same checks as :func:`read_tree` are applied to every chunk, so memory stays bounded by
    the chunk size whatever the file size.
    """
    t = open_tree(path, tree, branches)
    names = list(branches) if finite is True else list(finite or [])
    try:
        for chunk in t.iterate(list(branches), step_size=step_size):
            _check_numeric(Path(path), tree, chunk, names)
            yield chunk
    except SchemaError:
        raise
    except Exception as exc:
        raise SchemaError(
            f"{path}: tree {tree!r}: failed while reading chunks; the file may be truncated "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming it when it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def save_arrays(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Save named numpy arrays to one ``.npz`` file, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=True, **arrays)  # numpy's default, spelled out for mypy
    return Path(path)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load all arrays of an ``.npz`` written by :func:`save_arrays`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such array file")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
