"""Reader of ldmx-sw event files (and of the files the simulator writes), in chunks.

ldmx-sw stores each collection as a branch ``<collection>_<pass>`` of tree ``LDMX_Events``
holding a ``std::vector`` of objects, split into one sub-branch per data member: uproot shows
``EcalRecHits_sim/EcalRecHits_sim.energy_``. uproot itself writes the same members as flat
jagged branches ``EcalRecHits_sim.energy_`` (or ``EcalRecHits_sim_energy_``) beside a counter.
:data:`COLLECTIONS` is the one mapping from the chapter's field names to the members; a branch
is found under any of these spellings, so real files and simulated ones read through the same
code. The pass name is a parameter (``sim`` by default); a missing pass lists those found.

Every chunk is checked: ECal IDs must decode (with the masks of ldmx-sw's ``EcalID``) to a
layer, module and cell of the geometry and carry the ECal subdetector bits; an ID outside it
is an error naming the file, the entry and the value.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from hepnb.chapters.ecal import schema
from hepnb.io import SchemaError, open_tree

__all__ = [
    "COLLECTIONS",
    "Collection",
    "beam_electrons",
    "branch_map",
    "passes",
    "read_chunks",
    "read_events",
    "resolve_sources",
]


@dataclass(frozen=True)
class Collection:
    """One ldmx-sw collection: its name and the data members the chapter reads.

    Attributes:
        name: collection name without the pass (``EcalRecHits``).
        members: chapter field → C++ data member (``energy`` → ``energy_``).
        required: a file without it is an error (else the field is simply absent).
    """

    name: str
    members: Mapping[str, str]
    required: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The collection's name and its aliases, in order of preference."""
        return (self.name, *self.aliases)


_SIM_HIT = {
    "x": "x_",
    "y": "y_",
    "z": "z_",
    "px": "px_",
    "py": "py_",
    "pz": "pz_",
    "energy": "energy_",
    "edep": "edep_",
    "pdg": "pdgID_",
    "track": "trackID_",
}

#: The one mapping: chapter name → collection and members (units: MeV, mm, ns, MeV/c).
COLLECTIONS: dict[str, Collection] = {
    # ldmx::EcalHit (a ldmx::CalorimeterHit): reconstructed cell energies
    "ecal": Collection(
        "EcalRecHits",
        {
            "id": "id_",
            "energy": "energy_",
            "x": "xpos_",
            "y": "ypos_",
            "z": "zpos_",
            "time": "time_",
            "noise": "isNoise_",
        },
        required=True,
    ),
    # ldmx::SimTrackerHit at the trigger-scintillator scoring planes: exact truth positions
    "ts": Collection("TrigScintScoringPlaneHits", _SIM_HIT),
    # ldmx::TrigScintHit: reconstructed bars of the trigger pad (pad 3, just upstream of the
    # target) where a file has them; every reconstructed bar counts as fired
    "ts_rec": Collection(
        "trigScintRecHitsPad3",
        {"bar": "barID_", "noise": "isNoise_"},
        aliases=("TrigScintRecHits",),
    ),
    # ldmx::SimTrackerHit at the ECal front face: truth for acceptance and separation studies
    "truth": Collection("EcalScoringPlaneHits", _SIM_HIT),
}


def _leaf(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def passes(keys: Sequence[str], collection: Collection) -> list[str]:
    """The pass names under which ``collection`` appears among branch ``keys``."""
    found = set()
    for key in keys:
        leaf = _leaf(key)
        if not leaf.startswith(f"{collection.name}_"):
            continue
        rest = leaf[len(collection.name) + 1 :]
        if "." in rest:  # split (ROOT) or dotted (uproot) member: <pass>.<member>
            found.add(rest.split(".", 1)[0])
        else:  # flat <pass>_<member>, or the top branch <pass> itself
            member = next((m for m in collection.members.values() if rest.endswith(f"_{m}")), None)
            found.add(rest[: -len(member) - 1] if member else rest)
    return sorted(p for p in found if p)


def branch_map(
    source: str | os.PathLike | uproot.TTree, pass_name: str = schema.DEFAULT_PASS
) -> dict[str, dict[str, str]]:
    """Chapter field → branch key, per collection found in a file (or an open tree).

    Raises:
        SchemaError: a required collection, or a member of a present one, is missing; the
            message names the file and the pass and lists the passes found.
    """
    tree = source if isinstance(source, uproot.TTree) else open_tree(source, schema.TREE)
    path = tree.file.file_path
    keys = tree.keys(recursive=True, full_paths=True)
    leaves = {_leaf(k): k for k in keys}
    out: dict[str, dict[str, str]] = {}
    for name, coll in COLLECTIONS.items():
        found: dict[str, str] = {}
        for cname in coll.names:
            prefix = f"{cname}_{pass_name}"
            for field, member in coll.members.items():
                for spelling in (f"{prefix}.{member}", f"{prefix}_{member}"):
                    if spelling in leaves:
                        found[field] = leaves[spelling]
                        break
            if found:
                break
        prefix = f"{coll.name}_{pass_name}"
        if not found:
            if coll.required:
                seen = passes(keys, coll)
                raise SchemaError(
                    f"{path}: tree {schema.TREE!r} has no collection {prefix!r} (pass "
                    f"{pass_name!r}); passes of {coll.name} in the file: {seen or 'none'}"
                    + ("; set pass_name" if seen else "")
                )
            continue
        missing = sorted(set(coll.members) - set(found))
        if missing and coll.required:
            raise SchemaError(
                f"{path}: collection {prefix!r} lacks member(s) "
                f"{[coll.members[m] for m in missing]}"
            )
        if not missing:
            out[name] = found
    if "ts" not in out and "ts_rec" not in out:
        raise SchemaError(
            f"{path}: no trigger-scintillator collection for pass {pass_name!r}: expected "
            f"TrigScintScoringPlaneHits_{pass_name} or TrigScintRecHits_{pass_name}"
        )
    return out


def beam_electrons(hits: ak.Array, min_energy: float = 0.1 * schema.BEAM_ENERGY) -> ak.Array:
    """The beam electrons among jagged (events × hits) scoring-plane hits: electrons (pdgID 11)
    above ``min_energy`` (MeV), one hit per track (the most upstream one where a track crosses
    several planes, as the scintillator's two scoring planes make it)."""
    hits = hits[(hits.pdg == 11) & (hits.energy > min_energy)]
    hits = hits[ak.argsort(hits.track * 1e6 + hits.z, axis=1)]
    first = ak.concatenate(
        [ak.ones_like(hits.track[:, :1], dtype=bool), hits.track[:, 1:] != hits.track[:, :-1]],
        axis=1,
    )
    return hits[first]


def _check_ids(path: str | os.PathLike, ids: ak.Array, start: int) -> None:
    """Raise naming the entry and value of the first ID outside the ECal geometry."""
    flat = ak.to_numpy(ak.flatten(ids)).astype(np.int64)
    if not len(flat):
        return
    subdet, layer, module, cell = schema.unpack_id(flat)
    bad = (
        (subdet != schema.SUBDETECTOR_ECAL)
        | (layer >= schema.N_LAYERS)
        | (module >= schema.N_MODULES)
        | (cell >= schema.N_CELLS)
    )
    if bad.any():
        i = int(np.argmax(bad))
        entry = start + int(np.searchsorted(np.cumsum(ak.to_numpy(ak.num(ids))), i, side="right"))
        raise SchemaError(
            f"{path}: entry {entry}: EcalRecHits id_ {int(flat[i])} (0x{int(flat[i]):08x}) is "
            f"outside the ECal geometry: subdetector {int(subdet[i])} (expected "
            f"{schema.SUBDETECTOR_ECAL}), layer {int(layer[i])} (0–{schema.N_LAYERS - 1}), "
            f"module {int(module[i])} (0–{schema.N_MODULES - 1}), cell {int(cell[i])} "
            f"(0–{schema.N_CELLS - 1})"
        )


def read_chunks(
    path: str | os.PathLike,
    pass_name: str = schema.DEFAULT_PASS,
    *,
    entry_start: int = 0,
    entry_stop: int | None = None,
    step_size: int = 500,
    collections: Sequence[str] | None = None,
) -> Iterator[ak.Array]:
    """Events of ``path`` in chunks of ``step_size`` entries.

    Yields:
        Arrays of events with jagged record fields ``ecal`` (``id energy x y z time noise
        layer module cell``), ``ts`` (truth scoring-plane hits) and/or ``ts_rec`` (bars), and
        ``truth`` (ECal scoring-plane hits) when the file has it; ``collections`` limits them
        (``ecal`` is always read). The file is opened once, without uproot's array cache, and
        closed at the end, so memory stays flat however many blocks a stream reads.
    """
    if step_size < 1:
        raise ValueError(f"step_size={step_size}: expected >= 1")
    tree = open_tree(path, schema.TREE, array_cache=None)
    try:
        names = branch_map(tree, pass_name)
        if collections is not None:
            names = {k: v for k, v in names.items() if k in collections or k == "ecal"}
        stop = tree.num_entries if entry_stop is None else min(entry_stop, tree.num_entries)
        for start in range(entry_start, stop, step_size):
            yield _read(tree, names, path, pass_name, start, min(start + step_size, stop))
    finally:
        tree.file.close()


def _read(
    tree: uproot.TTree,
    names: Mapping[str, Mapping[str, str]],
    path: str | os.PathLike,
    pass_name: str,
    start: int,
    end: int,
) -> ak.Array:
    fields = {}
    for coll, members in names.items():
        try:
            arrays = {
                f: tree[key].array(entry_start=start, entry_stop=end, library="ak")
                for f, key in members.items()
            }
        except Exception as exc:
            raise SchemaError(
                f"{path}: entries {start}–{end}: cannot read {COLLECTIONS[coll].name}_"
                f"{pass_name}; the file may be truncated ({type(exc).__name__}: {exc})"
            ) from exc
        if coll == "ecal":
            _check_ids(path, arrays["id"], start)
            ids = ak.values_astype(arrays["id"], np.int64)
            counts = ak.num(ids)
            _, layer, module, cell = schema.unpack_id(ak.to_numpy(ak.flatten(ids)))
            for f, v in (("layer", layer), ("module", module), ("cell", cell)):
                arrays[f] = ak.unflatten(np.asarray(v, np.int64), counts)
            arrays["id"] = ids
        fields[coll] = ak.zip(arrays)
    return ak.Array(fields)


def read_events(
    path: str | os.PathLike,
    pass_name: str = schema.DEFAULT_PASS,
    *,
    entry_start: int = 0,
    entry_stop: int | None = None,
) -> ak.Array:
    """All events of ``path`` (or of an entry range) at once: for small files and displays."""
    chunks = list(
        read_chunks(
            path, pass_name, entry_start=entry_start, entry_stop=entry_stop, step_size=10_000
        )
    )
    if not chunks:
        raise SchemaError(f"{path}: no events in entries {entry_start}–{entry_stop}")
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


def resolve_sources(
    data_path: str | Mapping[int, str], multiplicities: Sequence[int]
) -> dict[int, list[Path]]:
    """Files of each electron multiplicity.

    Args:
        data_path: a pattern holding ``{n}`` (``"/data/ecal_{n}e.root"``; globs allowed), or a
            mapping multiplicity → file or glob.
        multiplicities: the counts to find.

    Raises:
        FileNotFoundError: naming the multiplicity and the pattern that matched nothing.
    """
    out = {}
    for n in multiplicities:
        if isinstance(data_path, Mapping):
            if n not in data_path:
                raise ValueError(
                    f"data_path: no entry for {n} electron(s); it maps {sorted(data_path)}"
                )
            text = os.fspath(data_path[n])
        else:
            if "{n}" not in data_path:
                raise ValueError(
                    f"data_path={data_path!r}: expected a pattern holding {{n}} or a mapping"
                )
            text = data_path.replace("{n}", str(n))
        files = sorted(Path(p) for p in glob.glob(text)) if glob.has_magic(text) else [Path(text)]
        files = [f for f in files if f.is_file()]
        if not files:
            raise FileNotFoundError(f"data_path for {n} electron(s): {text!r} matches no file")
        out[n] = files
    return out
