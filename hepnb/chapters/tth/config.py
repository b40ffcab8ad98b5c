"""The ttH chapter's configuration: every notebook parameter, one default, one YAML file.

The same YAML file drives the conversion (``hepnb convert tth --config cfg.yaml``) and the
notebooks (``hepnb run tth --config cfg.yaml``): its keys are flat, grouped here as the blocks
of the original NN trainer's configuration — model, data and weights, preparation, features,
training, evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from hepnb.chapters.tth import schema
from hepnb.runs import Config, ConfigError

__all__ = ["MODELS", "NEURAL_MODELS", "TthConfig"]

#: The model catalogue (``book/tth/catalogue.md``): the neural networks, then the
#: gradient-boosted trees every network is compared with.
NEURAL_MODELS = ("mlp", "resmlp", "deepsets", "transformer", "gnn")
MODELS = (*NEURAL_MODELS, "bdt")


def _default_features() -> list[str]:
    return [*schema.JET_BRANCHES, "nJets", "nBTags_DL1r_70", "HT_jets", "met_met", "met_phi"]


def _default_makers() -> list[str]:
    return [
        "lep_pt",
        "lep_eta",
        "dRbb_avg",
        "Mbb_MindR",
        "Mbb_Higgs",
        "dRbb_avg_Sort4",
        "Mbb_MindR_Sort4",
        "Mbb_Higgs_Sort4",
        "aplanarity",
        "centrality",
    ]


@dataclass(kw_only=True)
class TthConfig(Config):
    """Parameters of the ttH notebooks (see :class:`hepnb.runs.Config` for the shared ones).

    Attributes:
        models: catalogue entries trained and compared (:data:`MODELS`).
        inject: the model whose score is written back as a friend tree: a name of
            ``models``, or ``"best"`` (highest validation AUC; never chosen on test).
        data_path: real ntuples, ``{"signal": file/glob, "background": file/glob}``, each
            with a ``nominal_Loose`` tree. Empty: simulate.
        n_events: simulated events per process (after the preselection).
        weights: weight branches multiplied into the event weight (× ``luminosity``).
        luminosity: integrated luminosity, fb⁻¹, scaling the event weights to expected
            events.
        fractions: train / validation / test fractions (events of each process split alike).
        balance: ``"weight"`` gives signal and background the same total training weight
            (each event keeps its relative physics weight); ``"none"`` trains on the physics
            weights as they are.
        normalisation: ``"standard"`` (mean 0, variance 1) or ``"minmax"`` ([0, 1]) scaling,
            fitted on the training events (per jet feature over all real jets).
        n_jets: jets kept per event (pT-ordered; padded with a mask, the rest truncated).
        features: ntuple branches read: jagged ``jet_*`` branches become per-jet inputs,
            scalars event inputs.
        feature_makers: derived event features, by name (:data:`.features.MAKERS`).
        chunk_events: entries read per chunk by the conversion (memory stays bounded).
        hidden: width of every network's hidden layers.
        epochs, batch_size, lr: training length (more epochs resume), events per batch and
            the Adam learning rate.
        patience: early stopping after this many epochs without a better validation AUC.
        scheduler: learning-rate schedule: ``"plateau"`` (halve when the validation AUC
            stalls), ``"cosine"`` or ``"none"``.
        regions: analysis regions ``<N>j<M>b`` (≥ N jets, ≥ M b-tagged at 70 %), tightest
            first; the first is the signal region of the significance scan.
        bkg_uncertainty: relative background uncertainty δB/B of the significance
            S/√(B + δB²) (default: the measured tt+bb cross section's, 36 %).
        asimov_bins: score bins of the binned Asimov significance.
    """

    CHAPTER: ClassVar[str] = "tth"
    VERSION: ClassVar[str] = "1"

    models: list[str] = field(default_factory=lambda: list(MODELS))
    inject: str = "best"
    data_path: str | dict[str, str] = ""
    out_dir: str = "runs/tth"
    n_events: int = 10_000
    weights: list[str] = field(default_factory=lambda: list(schema.WEIGHT_BRANCHES))
    luminosity: float = schema.LUMINOSITY
    fractions: list[float] = field(default_factory=lambda: [0.6, 0.2, 0.2])
    balance: Literal["weight", "none"] = "weight"
    normalisation: Literal["standard", "minmax"] = "standard"
    n_jets: int = 10
    features: list[str] = field(default_factory=_default_features)
    feature_makers: list[str] = field(default_factory=_default_makers)
    chunk_events: int = 50_000
    hidden: int = 64
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    patience: int = 6
    scheduler: Literal["plateau", "cosine", "none"] = "plateau"
    regions: list[str] = field(default_factory=lambda: ["6j4b", "5j3b", "4j2b"])
    bkg_uncertainty: float = schema.TTBB_REL_UNCERTAINTY
    asimov_bins: int = 10

    def validate(self) -> None:
        """Every key checked on its own and against the others; each message names the key."""
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ConfigError(f"models={self.models!r}: expected a non-empty list of {MODELS}")
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"models={self.models!r}: a model is listed twice")
        if self.inject != "best" and self.inject not in self.models:
            raise ConfigError(f"inject={self.inject!r}: expected 'best' or one of {self.models}")
        if self.inject == "bdt":
            raise ConfigError("inject='bdt': the injected score comes from a network's ONNX file")
        if isinstance(self.data_path, dict) and set(self.data_path) != set(schema.PROCESSES):
            raise ConfigError(
                f"data_path={self.data_path!r}: expected a mapping with exactly the keys "
                f"{list(schema.PROCESSES)} (a file or glob each), or '' to simulate"
            )
        if isinstance(self.data_path, str) and self.data_path:
            raise ConfigError(
                f"data_path={self.data_path!r}: ttH samples come one file per process: expected "
                f"{{'signal': path/glob, 'background': path/glob}}, or '' to simulate"
            )
        for name in ("n_events", "n_jets", "chunk_events", "hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if self.patience < 1:
            raise ConfigError(f"patience={self.patience!r}: expected an integer >= 1")
        if self.asimov_bins < 2:
            raise ConfigError(f"asimov_bins={self.asimov_bins!r}: expected at least 2 bins")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected a positive learning rate")
        if not self.luminosity > 0:
            raise ConfigError(f"luminosity={self.luminosity!r}: expected a positive value, fb⁻¹")
        if not 0 <= self.bkg_uncertainty < 10:
            raise ConfigError(
                f"bkg_uncertainty={self.bkg_uncertainty!r}: expected a relative uncertainty "
                f"δB/B >= 0 (0.36 = 36 %)"
            )
        if (
            len(self.fractions) != 3
            or any(not 0 < f < 1 for f in self.fractions)
            or abs(sum(self.fractions) - 1) > 1e-6
        ):
            raise ConfigError(
                f"fractions={self.fractions!r}: expected three fractions in (0, 1) "
                f"(train, validation, test) summing to 1"
            )
        for name in ("weights", "features"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ConfigError(f"{name}={values!r}: a branch is listed twice")
        if not any(f.startswith("jet_") for f in self.features):
            raise ConfigError(
                f"features={self.features!r}: expected at least one jagged jet branch (jet_*)"
            )
        if len(set(self.feature_makers)) != len(self.feature_makers):
            raise ConfigError(f"feature_makers={self.feature_makers!r}: a maker is listed twice")
        if not self.regions:
            raise ConfigError("regions=[]: expected at least one region, e.g. ['6j4b']")
        for r in self.regions:
            try:
                schema.parse_region(r)
            except ValueError as exc:
                raise ConfigError(f"regions: {exc}") from None
