"""What the simulator hands out: the ntuple branches of whole samples (:func:`simulate`),
ROOT files with the Allen validator's tree (:func:`generate`) and per-event records with hits
for event displays (:func:`event_record`); :func:`add_args` and :func:`run` are
``hepnb generate ghost``."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hepnb import io
from hepnb.chapters.ghost.schema import EXTRA_BRANCHES, FEATURES, INT_BRANCHES, SCIFI_ALPHA, TREE
from hepnb.chapters.ghost.sim.detector import SimConfig
from hepnb.chapters.ghost.sim.generation import (
    generate_particles,
    propagate,
    propagate_with_true_xy,
)
from hepnb.chapters.ghost.sim.patrec import reconstruct

__all__ = ["add_args", "event_record", "generate", "run", "simulate"]

log = logging.getLogger(__name__)


def _ordered(d: dict[str, np.ndarray], track: str) -> dict[str, np.ndarray]:
    names = (*FEATURES[track], "ghost", *EXTRA_BRANCHES)
    out = {}
    for n in names:
        v = d[n]
        out[n] = v.astype(np.int32) if n in INT_BRANCHES else v.astype(np.float32)
    return out


def simulate(
    n_events: int,
    *,
    seed: int = 0,
    config: SimConfig | None = None,
    tracks: Sequence[str] = ("forward", "matching"),
    chunk_events: int = 100,
    event_offset: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Simulate and reconstruct ``n_events`` events, in chunks of ``chunk_events`` (memory).

    Returns ``{track type: {branch: (C,) array}}`` in the output tree's branch order.
    """
    cfg = config or SimConfig()
    _check_tracks(tracks)
    if n_events < 1:
        raise ValueError(f"n_events={n_events}: expected a positive number of events")
    chunks = []
    seqs = np.random.SeedSequence(seed).spawn((n_events + chunk_events - 1) // chunk_events)
    for c, ss in enumerate(seqs):
        rng = np.random.default_rng(ss)
        e0 = event_offset + c * chunk_events
        ne = min(chunk_events, n_events - c * chunk_events)
        parts = generate_particles(rng, ne, cfg, e0)
        parts, velo, scifi = propagate(parts, cfg, rng, ne, e0)
        chunks.append(reconstruct(parts, velo, scifi, cfg, tracks))
    return {
        t: _ordered({k: np.concatenate([ch[t][k] for ch in chunks]) for k in chunks[0][t]}, t)
        for t in tracks
    }


def _check_tracks(tracks: Sequence[str]) -> None:
    bad = [t for t in tracks if t not in FEATURES]
    if bad or not tracks:
        raise ValueError(f"track={list(tracks)!r}: expected 'forward' and/or 'matching'")


def generate(
    out_dir: str | os.PathLike,
    *,
    n_tracks: int | None = 20_000,
    n_events: int | None = None,
    seed: int = 0,
    config: SimConfig | None = None,
    tracks: Sequence[str] = ("forward", "matching"),
    chunk_events: int = 100,
) -> dict[str, Path]:
    """Write ``ghost_<track>.root`` files (tree :data:`TREE`) into ``out_dir``.

    Args:
        out_dir: folder for the files.
        n_tracks: simulate whole chunks of events until every track type has at least this
            many candidates, then keep the first ``n_tracks`` (ignored when ``n_events`` given).
        n_events: simulate exactly this many events instead.
        seed: random seed; the output depends on it (and ``chunk_events``) only.
        config: detector and algorithm settings.
        tracks: which track types to write.

    Returns:
        ``{track type: path}``.
    """
    cfg = config or SimConfig()
    _check_tracks(tracks)
    if n_events is None:
        if n_tracks is None or n_tracks < 1:
            raise ValueError(f"n_tracks={n_tracks}: expected a positive number of tracks")
        parts, done = [], 0
        ss = np.random.SeedSequence(seed)
        bar = tqdm(total=n_tracks, desc="ghost simulation", unit="candidate")
        while True:
            sub = int(ss.spawn(1)[0].generate_state(1)[0])
            parts.append(
                simulate(
                    chunk_events,
                    seed=sub,
                    config=cfg,
                    tracks=tracks,
                    chunk_events=chunk_events,
                    event_offset=done,
                )
            )
            done += chunk_events
            fewest = min(sum(len(p[t]["ghost"]) for p in parts) for t in tracks)
            bar.update(min(fewest, n_tracks) - bar.n)
            if fewest >= n_tracks:
                break
        bar.close()
        data = {
            t: {k: np.concatenate([p[t][k] for p in parts])[:n_tracks] for k in parts[0][t]}
            for t in tracks
        }
    else:
        data = simulate(n_events, seed=seed, config=cfg, tracks=tracks, chunk_events=chunk_events)
    out = {}
    for t in tracks:
        path = Path(out_dir) / f"ghost_{t}.root"
        io.write_root(path, {TREE: data[t]})
        g = data[t]["ghost"]
        log.info("%s: %d %s candidates, ghost fraction %.3f", path, len(g), t, g.mean())
        out[t] = path
    return out


def event_record(
    n_events: int = 20,
    *,
    seed: int = 0,
    config: SimConfig | None = None,
    track: str = "matching",
    chunk_events: int = 100,
) -> list[dict]:
    """Hits and reconstructed candidates of ``n_events`` events, one dict per event (for event
    displays).

    The events are those of :func:`simulate` with the same ``seed``, ``config`` and
    ``chunk_events``: the candidates (and their order) are the ``track`` candidates that
    ``simulate`` writes for these events.

    Each dict holds

    * ``event``: the event number;
    * ``velo``: ``{x, y, z, pid, noise}`` arrays of the VELO hits (mm; pid of the particle);
    * ``scifi``: ``{x, y, z, m, layer, pid, noise}`` arrays of the SciFi clusters: ``m`` the
      measured coordinate, ``x``/``y`` the true position of a particle's hit (NaN for
      noise, whose x is ``m / cos α``, i.e. y taken as 0, and y unknown); ``noise`` = pid 0;
    * ``candidates``: ``{velo_hits (C, 26), scifi_hits (C, 12)}`` hit indices into the
      event's ``velo``/``scifi`` arrays (−1: none), the fitted ``x0 tx y0 ty`` (straight
      line before the scatterer, at z = 0), ``ghost``, ``ghost_origin``, ``p``, ``true_p``,
      ``chi2``, ``ndof``, ``n_velo``, ``n_scifi``.

    Raises:
        ValueError: ``track`` is not ``"forward"`` or ``"matching"``, or ``n_events < 1``.
    """
    if track not in FEATURES:
        raise ValueError(f"track={track!r}: expected 'forward' or 'matching'")
    if n_events < 1:
        raise ValueError(f"n_events={n_events}: expected a positive number of events")
    cfg = config or SimConfig()
    keys = (
        "ghost",
        "ghost_origin",
        "p",
        "true_p",
        "chi2",
        "ndof",
        "n_velo",
        "n_scifi",
        "x0",
        "tx",
        "y0",
        "ty",
    )
    out = []
    seqs = np.random.SeedSequence(seed).spawn((n_events + chunk_events - 1) // chunk_events)
    for c, ss in enumerate(seqs):
        rng = np.random.default_rng(ss)
        e0 = c * chunk_events
        ne = min(chunk_events, n_events - c * chunk_events)
        parts = generate_particles(rng, ne, cfg, e0)
        parts, velo, scifi, (xt, yt) = propagate_with_true_xy(parts, cfg, rng, ne, e0)
        cand = reconstruct(parts, velo, scifi, cfg, (track,), keep_hits=True)[track]
        ca = np.cos(SCIFI_ALPHA[scifi.layer])
        sx = np.where(np.isnan(xt), scifi.m / ca, xt)
        for ev in range(e0, e0 + ne):
            iv, js = np.flatnonzero(velo.event == ev), np.flatnonzero(scifi.event == ev)
            local_v = np.full(len(velo.event) + 1, -1, np.int64)  # index −1 stays −1
            local_v[iv] = np.arange(len(iv))
            local_s = np.full(len(scifi.event) + 1, -1, np.int64)
            local_s[js] = np.arange(len(js))
            k = np.flatnonzero(cand["event"] == ev)
            out.append(
                {
                    "event": ev,
                    "velo": {
                        "x": velo.x[iv],
                        "y": velo.y[iv],
                        "z": velo.z[iv],
                        "pid": velo.pid[iv],
                        "noise": velo.pid[iv] <= 0,
                    },
                    "scifi": {
                        "x": sx[js],
                        "y": yt[js],
                        "z": scifi.z[js],
                        "m": scifi.m[js],
                        "layer": scifi.layer[js],
                        "pid": scifi.pid[js],
                        "noise": scifi.pid[js] <= 0,
                    },
                    "candidates": {
                        "velo_hits": local_v[cand["velo_hits"][k]],
                        "scifi_hits": local_s[cand["scifi_hits"][k]],
                        **{n: cand[n][k] for n in keys},
                    },
                }
            )
    return out


def add_args(parser: argparse.ArgumentParser) -> None:
    """``hepnb generate ghost`` options (``--out`` is a folder)."""
    parser.add_argument(
        "--n-tracks", type=int, default=50_000, help="candidates per track type (--out: folder)"
    )
    parser.add_argument(
        "--track",
        choices=[*FEATURES, "both"],
        default="both",
        help="which pattern recognition's candidates to write",
    )


def run(args: argparse.Namespace) -> Path:
    """``hepnb generate ghost``: write ``ghost_<track>.root`` into ``args.out``; returns the file
    (one track type) or the folder (both)."""
    tracks = tuple(FEATURES) if args.track == "both" else (args.track,)
    paths = generate(args.out, n_tracks=args.n_tracks, seed=args.seed, tracks=tracks)
    return paths[tracks[0]] if len(tracks) == 1 else Path(args.out)
