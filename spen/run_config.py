"""One training run's configuration, typed: what `spen.config.Params.run_config` resolves from
params/models.yaml, and what a checkpoint carries (as the plain dict `RunConfig.to_dict`
gives).

Every default a run's setting takes when no level of params/models.yaml sets it lies here, in
the field defaults (and, for the two that follow another setting, in `RunConfig.__post_init__`).
The keys every run needs and that the `training`, `settings` and model levels always give
(`kind`, `hidden`, the batch sizes, the epoch budget, ...) have no default: a configuration
without one is refused, naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


class RunConfigError(ValueError):
    """A run configuration holds a key no run has, or lacks one every run needs (`missing`:
    that key, dotted)."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimizer: `adam` or `sgd`, its learning rate, and (SGD) its momentum."""

    name: str
    lr: float
    momentum: float = 0.0


@dataclass(frozen=True)
class CharCNNConfig:
    """Sizes of the character CNN word encoder (the `plus` and `xfmr` input settings)."""

    char_dim: int = 30
    filters: int = 50
    width: int = 3


@dataclass(frozen=True)
class FeatureSpec:
    """What an input setting's `features` ask for (params/models.yaml): the frozen encoder,
    the layers averaged, how a word's WordPieces are pooled, the vector size."""

    encoder: str
    layers: tuple[int, ...]
    pooling: str
    dim: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def from_config(cls, spec: Mapping[str, Any]) -> FeatureSpec:
        """The spec of a setting's `features` entry."""
        return _build(cls, spec, "features")


@dataclass(frozen=True)
class GlobalEnergyConfig:
    """A SPEN's global energy term: a tag language model of `kind`, weighted by `weight`,
    loaded from `pretrained` (`{task}` and `{setting}` filled in) when given, trained with the
    energy when `trainable`."""

    kind: str
    weight: float
    hidden: int = 200
    pretrained: str | None = None
    trainable: bool = False


@dataclass(frozen=True)
class InputSetting:
    """How words are read: embeddings frozen or fine-tuned, an optional character CNN, optional
    encoder features (the input-setting keys of a run, or of a tag LM's pretraining)."""

    finetune_embeddings: bool = False
    char_cnn: CharCNNConfig | None = None
    features: FeatureSpec | None = None

    @property
    def uses_chars(self) -> bool:
        """Whether words are read through their characters too (a character CNN)."""
        return self.char_cnn is not None

    @classmethod
    def of(cls, level: Mapping[str, Any]) -> InputSetting:
        """The input setting of a `settings` entry of params/models.yaml (its other keys, such
        as an epoch budget, are no concern of the input)."""
        names = {f.name for f in fields(cls)}
        return _build(cls, {k: v for k, v in level.items() if k in names}, "settings")


#: the nested tables of a run configuration, by key
_NESTED: dict[str, type] = {
    "optimizer": OptimizerConfig,
    "energy_optimizer": OptimizerConfig,
    "inference_optimizer": OptimizerConfig,
    "retune_optimizer": OptimizerConfig,
    "char_cnn": CharCNNConfig,
    "features": FeatureSpec,
    "global_energy": GlobalEnergyConfig,
}

#: Tu & Gimpel (2018)'s objectives: their A_Ψ learns in retuning epochs, apart from the energy
RETUNING_OBJECTIVES = ("margin_rescaled", "perceptron")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """One training run's configuration (the keys of `$defs.run` in
    spen/schemas/models.schema.yaml, plus the run's identity)."""

    # the run: which task, model, input setting, seed and run profile
    task: str
    model: str
    setting: str
    seed: int
    profile: str
    # the model
    kind: str
    hidden: int
    # the input setting
    finetune_embeddings: bool
    char_cnn: CharCNNConfig | None = None
    features: FeatureSpec | None = None
    # training (the `training` level of params/models.yaml sets these)
    batch_size: int
    eval_batch_size: int
    max_epochs: int
    patience: int
    optimizer: OptimizerConfig
    device: str
    grad_clip: float | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    test_limit: int | None = None
    # SPEN (`kind: spen`) training
    objective: str | None = None
    parameterization: str = "separated"
    compound_weight: float = 1.0
    inner_steps: int = 1
    #: None: by the objective (Tu & Gimpel's truncate, `compound` does not); see __post_init__
    zero_truncation: bool | None = None
    test_time_cost: bool = False
    ce: bool = True
    ce_weight: float = 1.0
    joint_epochs: int = 1
    retune_epochs: int = 1
    energy_optimizer: OptimizerConfig = OptimizerConfig("adam", 0.001)
    inference_optimizer: OptimizerConfig = OptimizerConfig("sgd", 0.05, 0.9)
    #: None: the inference optimizer; see __post_init__
    retune_optimizer: OptimizerConfig | None = None
    global_energy: GlobalEnergyConfig | None = None

    def __post_init__(self) -> None:
        """The defaults that follow other settings, for a SPEN run: zero truncation where the
        objective is one of Tu & Gimpel (2018)'s, the retuning optimizer the inference one."""
        if self.kind != "spen":
            return
        if self.zero_truncation is None:
            object.__setattr__(self, "zero_truncation", self.objective != "compound")
        if self.retune_optimizer is None:
            object.__setattr__(self, "retune_optimizer", self.inference_optimizer)

    @property
    def joint_epoch_budget(self) -> int:
        """How many of the `max_epochs` epochs train the tag-producing network with the energy
        (or, without an energy, train it at all): every epoch, except for Tu & Gimpel
        (2018)'s objectives, whose cycles of joint and retuning epochs spend the retuning ones
        on A_Ψ alone."""
        if self.kind != "spen" or self.objective not in RETUNING_OBJECTIVES:
            return self.max_epochs
        cycles, rest = divmod(self.max_epochs, self.joint_epochs + self.retune_epochs)
        return cycles * self.joint_epochs + min(rest, self.joint_epochs)

    @property
    def input_setting(self) -> InputSetting:
        """How this run reads its words."""
        return InputSetting(self.finetune_embeddings, self.char_cnn, self.features)

    @property
    def uses_chars(self) -> bool:
        """Whether this run's model reads words through their characters (a character CNN)."""
        return self.char_cnn is not None

    def limit(self, split: str) -> int | None:
        """How many of the first sentences of `split` (train, dev, test) the run reads (None:
        all)."""
        limits = {"train": self.train_limit, "dev": self.dev_limit, "test": self.test_limit}
        if split not in limits:
            raise ValueError(f"unknown split '{split}'; allowed: {', '.join(limits)}")
        return limits[split]

    def to_dict(self) -> dict[str, Any]:
        """Every setting as a plain JSON-able dict (nested tables as dicts, lists for
        tuples), in field order: what a checkpoint stores, and a stable rerun trigger."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """The configuration of a plain dict (a resolved params merge, or a checkpoint's
        `config`): a key it lacks takes its default; an unknown key, or a missing key that has
        no default, is a RunConfigError naming it."""
        return _build(cls, values, "")


def _build(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    """`cls` of `values`, its nested tables built too; unknown and missing keys refused."""
    if not isinstance(values, Mapping):
        raise RunConfigError(f"'{where or 'config'}': expected a table, got {values!r}")
    specs = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise RunConfigError(
            f"unknown key '{prefix}{unknown[0]}' (allowed keys: {', '.join(sorted(specs))})"
        )
    missing = [
        name
        for name, spec in specs.items()
        if name not in values
        and spec.default is dataclasses.MISSING
        and spec.default_factory is dataclasses.MISSING
    ]
    if missing:
        key = f"{prefix}{missing[0]}"
        raise RunConfigError(f"no value for key '{key}'", missing=key)
    built = dict(values)
    if cls is RunConfig:
        for name, nested in _NESTED.items():
            if built.get(name) is not None:
                built[name] = _build(nested, built[name], name)
    elif cls is InputSetting:
        for name in ("char_cnn", "features"):
            if built.get(name) is not None:
                built[name] = _build(_NESTED[name], built[name], name)
    return cls(**built)


def _plain(value: Any) -> Any:
    """`value` with tuples as lists, in dicts and lists alike."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
