"""Checkpoints: written atomically, self-contained enough to decode and tag from alone."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spen.data.vocab import Vocabularies
from spen.io import atomic_open
from spen.models.build import build_model
from spen.run_config import RunConfig
from spen.training.build import build_learner
from spen.training.learners import Learner


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write `state` with torch.save to a temporary name, then rename it onto `path`. Saved
    through a file object, so the archive's inner name never carries the temporary name: the
    same state gives the same bytes."""
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint onto the CPU; a missing or unreadable file gets a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint; train the model first (spen train)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"{path}: not a readable spen checkpoint ({err})") from err


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """A digest of a model's weights: names, shapes, dtypes and values, in order."""
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def learner_state(learner: Learner) -> dict[str, Any]:
    """Model and optimizer states of `learner`."""
    return {
        "model": learner.model.state_dict(),
        "optimizers": {k: opt.state_dict() for k, opt in learner.optimizers.items()},
    }


def rng_state() -> dict[str, Any]:
    """The state of every random generator training touches."""
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_config(checkpoint: dict[str, Any]) -> RunConfig:
    """The run configuration a checkpoint (or resume state) was saved with; a key the saved
    dict lacks (a setting newer than the checkpoint) takes its default."""
    return RunConfig.from_dict(checkpoint["config"])


def restore_learner(
    checkpoint: dict[str, Any], device: torch.device
) -> tuple[Learner, Vocabularies]:
    """Rebuild the trained learner and its vocabularies from a checkpoint."""
    config = checkpoint_config(checkpoint)
    vocabs = Vocabularies.from_dict(checkpoint["vocab"])
    placeholder = torch.zeros(checkpoint["embedding_shape"])
    model = build_model(config, vocabs, placeholder)
    model.load_state_dict(checkpoint["model"])
    model.to(device).eval()
    return build_learner(config, model), vocabs
