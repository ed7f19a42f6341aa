"""A trained checkpoint beside the split of its task it is measured on: what `spen calibrate`
and `spen bench-inference` read. The checkpoint is loaded as :meth:`spen.Tagger.load` loads it
(so a file that is none gets the same one-line error), the split from the task's preprocessed
folder, checked to share the checkpoint's vocabularies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spen.data.arrow import Split
from spen.data.features import run_features_dir
from spen.data.prepared import load_prepared
from spen.run_config import RunConfig
from spen.tagger import Tagger
from spen.training.checkpoint import weights_sha256


@dataclass(frozen=True)
class Measured:
    """A `tagger` restored from `checkpoint` with its run configuration `config`, and the rows
    of the split it is measured on (`split_name`: train, dev or test)."""

    checkpoint: Path
    tagger: Tagger
    config: RunConfig
    split: Split
    split_name: str

    @property
    def run(self) -> str:
        """The run the checkpoint is of, `TASK/MODEL-SETTING/seedK`."""
        c = self.config
        return f"{c.task}/{c.model}-{c.setting}/seed{c.seed}"

    def identity(self) -> dict[str, object]:
        """The run's task, model, input setting and seed, the digest of its weights (as its
        train.json names them) and the split, as JSON fields."""
        c = self.config
        return {
            "run": self.run,
            "weights_sha256": weights_sha256(self.tagger.learner.model.state_dict()),
            "task": c.task,
            "model": c.model,
            "setting": c.setting,
            "seed": c.seed,
            "split": self.split_name,
            "sentences": len(self.split),
            "tokens": sum(len(t) for t in self.split.tags),
        }


def load_measured(
    checkpoint: str | os.PathLike[str],
    split: str = "test",
    data: Path | None = None,
    device: str = "cpu",
    features: Path | None = None,
) -> Measured:
    """The checkpoint (a `spen train` best.pt) on `device`, with split `split` of its task's
    preprocessed folder `data` (default `data/TASK`) cut as its run cut it; `features`: the
    encoder features of a setting that reads them (default: the setting's folder).

    Raises:
        FileNotFoundError: no such checkpoint, or no preprocessed task folder.
        ValueError: a file that is no spen checkpoint, an unknown split, or a task folder whose
            vocabularies are not the checkpoint's.
    """
    tagger = Tagger.load(checkpoint, device)
    config = tagger.config
    assert config is not None  # Tagger.load keeps the checkpoint's configuration
    default = run_features_dir(config.task, config.setting, config.features)
    task = load_prepared(
        data or Path("data") / config.task, None if default is None else (features or default)
    )
    if task.vocabs != tagger.vocabs:
        raise ValueError(f"{checkpoint}: trained on other vocabularies than {task.directory}")
    rows = task.split(split, config.limit(split))
    return Measured(Path(checkpoint), tagger, config, rows, split)
