"""Events: charged particles from pp collisions, their decays and interactions, and the hits
they leave in the VELO and the SciFi.

Events (defaults: about two visible pp collisions per crossing): primaries (75% π, 15% K,
10% p) from a luminous region σ_z = 45 mm with a Tsallis pT spectrum (T = 150 MeV, n = 7) and
η uniform in [1.5, 5.5]; π and K decay in flight (π → μν, K → μν or ππ⁰, two-body
kinematics) between the VELO and the last SciFi layer; secondaries (K_S⁰/Λ daughters) born
between the VELO and the magnet, which leave SciFi hits but no VELO track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hepnb.chapters.ghost.schema import SCIFI_ALPHA, SCIFI_Z, VELO_Z
from hepnb.chapters.ghost.sim.detector import SciFiHits, SimConfig, Trajectory, VeloHits, highland

__all__ = [
    "KAON",
    "PION",
    "PROTON",
    "SPECIES",
    "STABLE",
    "Particles",
    "decays_and_interactions",
    "generate_particles",
    "propagate",
    "propagate_with_true_xy",
]


@dataclass
class Particles:
    """Charged particles at their production point; all arrays ``(N,)``.

    ``pid`` is unique and ≥ 1 (0 marks noise hits); ``qop`` = charge/p (1/MeV); ``species``
    indexes :data:`SPECIES` (π, K, p may decay or interact; "stable" never does); ``parent``
    is the pid of the particle that decayed or interacted into this one (0: none).
    """

    event: np.ndarray
    pid: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    z0: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    qop: np.ndarray
    species: np.ndarray | None = None
    parent: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.species is None:
            self.species = np.full(len(self.pid), STABLE, np.int64)
        if self.parent is None:
            self.parent = np.zeros(len(self.pid), np.int64)

    def take(self, idx: np.ndarray) -> Particles:
        """The particles at ``idx``."""
        return Particles(*(getattr(self, f)[idx] for f in _PARTICLE_FIELDS))

    @staticmethod
    def concat(parts: Sequence[Particles]) -> Particles:
        """All particles of ``parts`` in one set."""
        return Particles(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _PARTICLE_FIELDS)
        )

    def __len__(self) -> int:
        return len(self.pid)

    @property
    def p(self) -> np.ndarray:
        """Momentum (MeV)."""
        return 1.0 / np.abs(self.qop)

    @classmethod
    def from_kinematics(
        cls, event, p, eta, phi, charge, x0=0.0, y0=0.0, z0=0.0, pid=None, species=None
    ):
        """Build from momentum (MeV), η, φ (rad) and charge (±1); arrays broadcast.

        ``species`` defaults to "stable" (no decay, no interaction).
        """
        event, p, eta, phi, charge, x0, y0, z0 = np.broadcast_arrays(
            *(np.asarray(a, dtype=float) for a in (event, p, eta, phi, charge, x0, y0, z0))
        )
        tan_theta = 1.0 / np.sinh(eta)
        pid = np.arange(1, len(p) + 1) if pid is None else np.asarray(pid)
        sp = None if species is None else np.broadcast_to(species, p.shape).astype(np.int64)
        return cls(
            event.astype(np.int64),
            pid.astype(np.int64),
            x0.copy(),
            y0.copy(),
            z0.copy(),
            tan_theta * np.cos(phi),
            tan_theta * np.sin(phi),
            charge / p,
            sp,
        )


#: Particle species: name, mass (MeV), cτ (mm; inf = stable), abundance among primaries.
SPECIES: tuple[tuple[str, float, float, float], ...] = (
    ("pion", 139.57, 7804.5, 0.75),
    ("kaon", 493.68, 3711.0, 0.15),
    ("proton", 938.27, math.inf, 0.10),
    ("stable", 0.511, math.inf, 0.0),
)
PION, KAON, PROTON, STABLE = range(4)
_PARTICLE_FIELDS = ("event", "pid", "x0", "y0", "z0", "tx", "ty", "qop", "species", "parent")


def _tsallis_pt(rng: np.random.Generator, n: int, t: float, nn: float) -> np.ndarray:
    """pT (MeV) from dN/dpT ∝ pT (1 + pT/(n T))^−n by inverse-CDF sampling."""
    grid = np.linspace(0.0, 40_000.0, 40_001)
    pdf = grid * (1.0 + grid / (nn * t)) ** (-nn)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def generate_particles(
    rng: np.random.Generator, n_events: int, cfg: SimConfig, event_offset: int = 0
) -> Particles:
    """Primaries (π, K, p) from the luminous region and secondaries (K_S⁰, Λ daughters,
    "stable") born between the VELO and the magnet."""
    n_prim = rng.poisson(cfg.n_primary, n_events)
    n_sec = rng.poisson(cfg.n_secondary, n_events)
    ev_p = np.repeat(np.arange(n_events), n_prim)
    ev_s = np.repeat(np.arange(n_events), n_sec)
    pv_z = rng.normal(0.0, cfg.pv_sigma_z, n_events)
    pv_xy = rng.normal(0.0, 0.02, (2, n_events))

    def kin(n):
        pt = np.maximum(_tsallis_pt(rng, n, cfg.tsallis_t, cfg.tsallis_n), 50.0)
        eta = rng.uniform(*cfg.eta_range, n)
        return pt * np.cosh(eta), eta, rng.uniform(-np.pi, np.pi, n), rng.choice([-1.0, 1.0], n)

    p, eta, phi, q = kin(len(ev_p))
    abundance = np.array([sp[3] for sp in SPECIES])
    species = rng.choice(len(SPECIES), len(ev_p), p=abundance / abundance.sum())
    prim = Particles.from_kinematics(
        ev_p, p, eta, phi, q, pv_xy[0][ev_p], pv_xy[1][ev_p], pv_z[ev_p], species=species
    )
    # secondaries: born at z_s on a parent direction, opening angle ~ 30 mrad
    p, eta, phi, q = kin(len(ev_s))
    parent = Particles.from_kinematics(ev_s, p, eta, phi, q)
    zs = rng.uniform(*cfg.secondary_z, len(ev_s))
    sec = Particles(
        ev_s,
        ev_s * 0,
        parent.tx * zs,
        parent.ty * zs,
        zs,
        parent.tx + rng.normal(0, 0.03, len(ev_s)),
        parent.ty + rng.normal(0, 0.03, len(ev_s)),
        parent.qop * 0.5,
    )
    out = Particles.concat([prim, sec])
    out = out.take(np.argsort(out.event, kind="stable"))
    out.event += event_offset
    out.pid = np.arange(1, len(out) + 1, dtype=np.int64)
    return out


def _trajectory(parts: Particles, cfg: SimConfig, rng: np.random.Generator) -> Trajectory:
    """Multiple scattering at ``z_scatter`` (if born before it) and the magnet kick."""
    before = parts.z0 < cfg.z_scatter
    zs = np.where(before, cfg.z_scatter, parts.z0)
    xs = parts.x0 + parts.tx * (zs - parts.z0)
    ys = parts.y0 + parts.ty * (zs - parts.z0)
    th = highland(parts.p, cfg.x_over_x0) * before
    tx1 = parts.tx + th * rng.standard_normal(len(parts))
    ty1 = parts.ty + th * rng.standard_normal(len(parts))
    dtx = parts.qop * cfg.pt_kick
    zk = cfg.z_kick(dtx, ty1)
    kicked = parts.z0 < zk
    zk = np.where(kicked, zk, zs)
    xk, yk = xs + tx1 * (zk - zs), ys + ty1 * (zk - zs)
    tx2 = np.where(kicked, tx1 + dtx, tx1)
    ty2 = np.where(kicked, cfg.ty_after(ty1, dtx), ty1)
    return Trajectory(
        parts.z0, parts.x0, parts.y0, parts.tx, parts.ty, zs, xs, ys, tx1, ty1, zk, xk, yk, tx2, ty2
    )


def _two_body(rng, n, m_parent, m_d, m_other):
    """Rest-frame momentum and energy of a two-body decay daughter; random cos θ*."""
    p_star = math.sqrt(
        (m_parent**2 - (m_d + m_other) ** 2) * (m_parent**2 - (m_d - m_other) ** 2)
    ) / (2 * m_parent)
    e_star = math.sqrt(p_star**2 + m_d**2)
    return np.full(n, p_star), np.full(n, e_star), rng.uniform(-1, 1, n)


def decays_and_interactions(
    parts: Particles, traj: Trajectory, cfg: SimConfig, rng: np.random.Generator
) -> tuple[np.ndarray, Particles]:
    """Where each particle ends, and the charged particles it turns into.

    Pions and kaons decay in flight (π → μν; K → μν 64%, K → ππ⁰ otherwise, two-body
    kinematics) between the VELO exit (800 mm) and the last SciFi layer; hadrons (π, K, p)
    interact in the material at ``z_scatter`` with probability ``p_interaction`` and give
    1 + Poisson(1) charged daughters sharing 30–90% of the momentum, with an exponential
    transverse momentum of mean 350 MeV. Daughters are "stable".

    Returns:
        ``(z_end (N,), daughters)``; z_end is inf for particles that survive.
    """
    n = len(parts)
    p = parts.p
    mass = np.array([sp[1] for sp in SPECIES])[parts.species]
    ctau = np.array([sp[2] for sp in SPECIES])[parts.species]
    with np.errstate(invalid="ignore"):
        z_dec = parts.z0 + rng.exponential(1.0, n) * p / mass * ctau
    z_dec = np.where((z_dec > 800.0) & (z_dec < SCIFI_Z[-1]) & cfg.decays_in_flight, z_dec, np.inf)
    hadron = parts.species != STABLE
    z_int = np.where(
        hadron & (parts.z0 < cfg.z_scatter) & (rng.random(n) < cfg.p_interaction),
        cfg.z_scatter,
        np.inf,
    )
    z_end = np.minimum(z_dec, z_int)
    # decays in flight: one charged daughter
    dec = np.flatnonzero(np.isfinite(z_dec) & (z_dec < z_int))
    assert parts.species is not None  # set by Particles.__post_init__
    sp = parts.species[dec]
    kaon_to_pi = (sp == KAON) & (rng.random(len(dec)) >= 0.64)
    m_par = mass[dec]
    p_star, e_star, cos_star = np.zeros(len(dec)), np.zeros(len(dec)), np.zeros(len(dec))
    for sel, (mp, md, mo) in (
        (sp == PION, (SPECIES[PION][1], 105.66, 0.0)),
        ((sp == KAON) & ~kaon_to_pi, (SPECIES[KAON][1], 105.66, 0.0)),
        (kaon_to_pi, (SPECIES[KAON][1], 139.57, 134.98)),
    ):
        p_star[sel], e_star[sel], cos_star[sel] = _two_body(rng, int(sel.sum()), mp, md, mo)
    gamma = np.sqrt(p[dec] ** 2 + m_par**2) / m_par
    beta = p[dec] / np.sqrt(p[dec] ** 2 + m_par**2)
    p_long = gamma * (p_star * cos_star + beta * e_star)
    p_tran = p_star * np.sqrt(1 - cos_star**2)
    d_p = np.hypot(p_long, p_tran)
    d_angle = np.arctan2(p_tran, p_long)
    d_parent, d_z, d_q = dec, z_dec[dec], np.sign(parts.qop[dec])
    # hadronic interactions: 1 + Poisson(1) charged daughters
    hit = np.flatnonzero(np.isfinite(z_int) & (z_int <= z_dec))
    n_d = 1 + rng.poisson(1.0, len(hit))
    ip = np.repeat(hit, n_d)
    frac = rng.uniform(0.3, 0.9, len(hit))
    share = rng.exponential(1.0, len(ip))
    share = (
        share
        / np.bincount(np.repeat(np.arange(len(hit)), n_d), share)[
            np.repeat(np.arange(len(hit)), n_d)
        ]
    )
    i_p = np.maximum(np.repeat(frac, n_d) * share * p[ip], 50.0)
    i_angle = rng.exponential(350.0, len(ip)) / i_p
    d_parent = np.concatenate([d_parent, ip])
    d_z = np.concatenate([d_z, z_int[ip]])
    d_q = np.concatenate([d_q, rng.choice([-1.0, 1.0], len(ip))])
    d_p = np.concatenate([d_p, i_p])
    d_angle = np.concatenate([d_angle, i_angle])
    # daughters start at the parent's position and direction at its end point
    sub = Particles.take(parts, d_parent)
    tr = Trajectory(*(getattr(traj, f)[d_parent] for f in Trajectory.__dataclass_fields__))
    x, y, tx, ty = tr.at(d_z)
    psi = rng.uniform(-np.pi, np.pi, len(d_z))
    daughters = Particles(
        sub.event,
        np.zeros(len(d_z), np.int64),
        x,
        y,
        d_z,
        tx + np.tan(d_angle) * np.cos(psi),
        ty + np.tan(d_angle) * np.sin(psi),
        d_q / d_p,
        np.full(len(d_z), STABLE),
        sub.pid,
    )
    return z_end, daughters


def propagate(
    parts: Particles,
    cfg: SimConfig,
    rng: np.random.Generator,
    n_events: int | None = None,
    event_offset: int = 0,
) -> tuple[Particles, VeloHits, SciFiHits]:
    """Hits of ``parts`` (and of the daughters of their decays and interactions) in the VELO
    and SciFi, plus SciFi noise for ``n_events`` events from ``event_offset`` (default: the
    events of ``parts``).

    Returns:
        ``(all particles, VELO hits, SciFi hits)``; daughters get new pids after the last.
    """
    return propagate_with_true_xy(parts, cfg, rng, n_events, event_offset)[:3]


def propagate_with_true_xy(
    parts: Particles,
    cfg: SimConfig,
    rng: np.random.Generator,
    n_events: int | None,
    event_offset: int,
) -> tuple[Particles, VeloHits, SciFiHits, tuple[np.ndarray, np.ndarray]]:
    """:func:`propagate`, plus the true (x, y) of every SciFi hit (NaN for noise)."""
    traj = _trajectory(parts, cfg, rng)
    z_end, daughters = decays_and_interactions(parts, traj, cfg, rng)
    if len(daughters):
        daughters.pid = int(parts.pid.max()) + 1 + np.arange(len(daughters))
        d_traj = _trajectory(daughters, cfg, rng)
        traj = Trajectory(
            *(
                np.concatenate([getattr(traj, f), getattr(d_traj, f)])
                for f in Trajectory.__dataclass_fields__
            )
        )
        parts = Particles.concat([parts, daughters])
        z_end = np.concatenate([z_end, np.full(len(daughters), np.inf)])
    # VELO: stations downstream of the origin and upstream of the end point
    x, y, _, _ = traj.at(np.broadcast_to(VELO_Z, (len(parts), len(VELO_Z))))
    ok = (
        (parts.z0[:, None] < VELO_Z)
        & (z_end[:, None] > VELO_Z)
        & (np.hypot(x, y) > cfg.velo_rmin)
        & (np.abs(x) < cfg.velo_half)
        & (np.abs(y) < cfg.velo_half)
        & (rng.random(x.shape) < cfg.velo_eff)
    )
    i, s = np.nonzero(ok)
    velo = VeloHits(
        parts.event[i],
        parts.pid[i],
        s,
        VELO_Z[s],
        x[i, s] + rng.normal(0, cfg.velo_sigma, len(i)),
        y[i, s] + rng.normal(0, cfg.velo_sigma, len(i)),
    )
    # SciFi layers
    x, y, _, _ = traj.at(np.broadcast_to(SCIFI_Z, (len(parts), len(SCIFI_Z))))
    ok = (
        (parts.z0[:, None] < SCIFI_Z)
        & (z_end[:, None] > SCIFI_Z)
        & (np.abs(x) < cfg.scifi_half_x)
        & (np.abs(y) < cfg.scifi_half_y)
        & ~((np.abs(x) < cfg.beam_hole) & (np.abs(y) < cfg.beam_hole))
        & (rng.random(x.shape) < cfg.scifi_eff)
    )
    i, lay = np.nonzero(ok)
    x_true, y_true = x[i, lay], y[i, lay]
    m = x[i, lay] * np.cos(SCIFI_ALPHA[lay]) - y[i, lay] * np.sin(SCIFI_ALPHA[lay])
    m = m + rng.normal(0, cfg.scifi_sigma, len(i))
    # noise: Poisson per event and layer, uniform in the measured coordinate
    if n_events is None:
        event_offset = int(parts.event.min()) if len(parts) else 0
        n_events = int(parts.event.max()) - event_offset + 1 if len(parts) else 0
    n_noise = rng.poisson(cfg.noise_per_layer, (n_events, len(SCIFI_Z)))
    ev_n, lay_n = np.nonzero(n_noise >= 0)
    ev_n, lay_n = np.repeat(ev_n, n_noise.ravel()), np.repeat(lay_n, n_noise.ravel())
    m_n = rng.uniform(-cfg.scifi_half_x, cfg.scifi_half_x, len(ev_n))
    scifi = SciFiHits(
        np.concatenate([parts.event[i], ev_n + event_offset]),
        np.concatenate([parts.pid[i], np.zeros(len(ev_n), np.int64)]),
        np.concatenate([lay, lay_n]),
        SCIFI_Z[np.concatenate([lay, lay_n])],
        np.concatenate([m, m_n]),
    )
    nan = np.full(len(ev_n), np.nan)
    return parts, velo, scifi, (np.r_[x_true, nan], np.r_[y_true, nan])
