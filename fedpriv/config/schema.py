"""Typed schema of a trial's top-level config blocks, registered in Hydra's ConfigStore as ``fedpriv_schema``.

``conf/config.yaml`` lists ``fedpriv_schema`` first in its defaults, so Hydra rejects an unknown key or a value of
the wrong type in these blocks while composing. The config groups (``dataset``, ``model``, ``fl``, ``defense``,
``attack``, ``logger``) are typed ``Any`` here: each is checked against the signature of its ``_target_`` by
:mod:`fedpriv.config.validate`, so adding a component needs no schema edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from fedpriv.config.constraints import OneOf, Range

DEVICES = ("auto", "cpu", "cuda")
OBJECTIVES = ("ma_minus_aa", "advantage", "psnr", "ssim", "lpips", "mse", "ma", "aa")
BATCHING = ("by_class", "shuffled")


@dataclass
class TargetsConfig:
    """Which private test images the target client holds and is attacked on."""

    # Images per class; ignored when `fraction` is set (seed 000 attacked 30% of each class: fraction=0.3).
    per_class: Annotated[Optional[int], Range(1)] = 1
    fraction: Annotated[Optional[float], Range(0, 1, low_open=True)] = None
    # Restrict to these classes (names, or indices written as strings); null = every class.
    classes: Optional[list[str]] = None
    # by_class: every shared batch holds images of one class; shuffled: batches mix classes.
    batching: Annotated[str, OneOf(BATCHING)] = "by_class"
    # Score only the last `sensitive` images of every batch (concealing samples' threat model); null = all.
    sensitive: Annotated[Optional[int], Range(1)] = None


@dataclass
class TrainingConfig:
    """How a classifier (victim, MA model or evaluator) is trained."""

    epochs: Annotated[int, Range(1)] = 5
    batch_size: Annotated[int, Range(1)] = 64
    optimizer: Annotated[str, OneOf(("adam", "sgd"))] = "adam"
    lr: Annotated[float, Range(0, None, low_open=True)] = 1e-3
    momentum: Annotated[float, Range(0, 1)] = 0.9
    weight_decay: Annotated[float, Range(0)] = 0.0


@dataclass
class VictimConfig:
    """The model the target client trains and shares updates of."""

    # 0: an untrained victim (the attacker's best case); N: the defended classifier after N epochs.
    train_epochs: Annotated[int, Range(0)] = 0
    # Optional weights for the victim (a state_dict file), loaded with weights_only=True.
    checkpoint: Optional[str] = None
    # Mode the client computes its update in: eval (Inverting Gradients' setting) keeps BatchNorm on its running
    # statistics; train uses batch statistics (and moves the victim's running statistics, never the MA model's).
    mode: Annotated[str, OneOf(("train", "eval"))] = "eval"


@dataclass
class EvaluatorConfig:
    """An independent classifier, trained on clean data, that judges reconstructions (attack accuracy)."""

    model: Any = MISSING
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(epochs=10))
    # Fixed by default so that the judge is the same across the trials and seeds of a study.
    seed: int = 12345


@dataclass
class LpipsConfig:
    enabled: bool = True
    # state_dict of torchvision's AlexNet `.features` (ImageNet weights); null: torchvision's cache/download.
    backbone: Optional[str] = None
    download: bool = True

    @staticmethod
    def config_problems(*, enabled: bool = True, backbone: Optional[str] = None, **_) -> list[str]:
        """A backbone given explicitly must load: a typo would otherwise leave a whole sweep's LPIPS empty."""
        from fedpriv.metrics.perceptual import backbone_problems

        return backbone_problems(backbone) if enabled else []


@dataclass
class MetricsConfig:
    lpips: LpipsConfig = field(default_factory=LpipsConfig)


@dataclass
class RecordConfig:
    grid: bool = True
    grid_images: Annotated[int, Range(1)] = 10
    results_file: str = "results.csv"


@dataclass
class PathsConfig:
    cache_dir: str = "~/.cache/fedpriv"
    data_dir: str = "~/.cache/fedpriv/data"


@dataclass
class BaselineConfig:
    """The DP-SGD run that ``objective=advantage`` scores a trial against (fedpriv.sweeping.advantage)."""

    # A DP-SGD trial's results.csv, or a sweep folder holding the finished trials of one DP-SGD setting.
    results: Optional[str] = None


@dataclass
class TrialConfig:
    seed: int = 0
    device: Annotated[str, OneOf(DEVICES)] = "auto"
    # Scalar returned to Hydra sweepers (mean over classes); ma_minus_aa rewards utility and penalises leakage;
    # advantage is seed 000's score over the DP-SGD run named by baseline.results.
    objective: Annotated[str, OneOf(OBJECTIVES)] = "ma_minus_aa"
    progress: bool = True
    # Third-party INFO lines (Lightning's hardware lines, Opacus' BatchNorm replacements) and warnings.
    verbose: bool = False
    estimate: bool = True
    dataset: Any = MISSING
    model: Any = MISSING
    fl: Any = MISSING
    defense: Any = MISSING
    attack: Any = MISSING
    logger: Any = MISSING
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    victim: VictimConfig = field(default_factory=VictimConfig)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)


def register_configs() -> None:
    ConfigStore.instance().store(name="fedpriv_schema", node=TrialConfig)


register_configs()
