"""Pretraining a tag language model for a global energy term (METHOD.md §1, GE(a)-(c)).

The model is trained on the training set's gold tag sequences (and words, for the kinds that
read them) by next-tag cross-entropy, the end symbol included; the epoch with the lowest dev
cross-entropy per predicted symbol is kept. A SPEN run's training loads it from its
``global_energy.pretrained`` path (:func:`load_pretrained_parts`); the run's checkpoints then
carry its weights, so decoding and tagging never read that file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spen.data.batches import make_batches
from spen.data.prepared import PreparedTask
from spen.models.build import tag_language_model
from spen.models.global_energy import TagLanguageModel
from spen.run_config import GlobalEnergyConfig, InputSetting, OptimizerConfig, RunConfig
from spen.training.checkpoint import load_checkpoint, save_checkpoint
from spen.training.learners import make_optimizer, trainable


def pretrain_tag_lm(
    task: PreparedTask,
    kind: str = "tlm_a",
    *,
    setting: InputSetting | None = None,
    hidden: int = 200,
    epochs: int = 30,
    patience: int = 5,
    batch_size: int = 32,
    lr: float = 0.001,
    seed: int = 1,
    device: str | torch.device = "cpu",
    train_limit: int | None = None,
    dev_limit: int | None = None,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[TagLanguageModel, dict[str, Any]]:
    """Train a tag language model of `kind` (tlm_a, tlm_b, tlm_c) on `task`'s gold tags.

    Args:
        task: the preprocessed task (`spen.data.prepared.load_prepared`).
        kind: ``tlm_a`` (tags only), ``tlm_b`` (tags and previous words) or ``tlm_c``
            (``tlm_b`` plus the backward model).
        setting: input setting for the word-reading kinds (`InputSetting.of` a
            `params/models.yaml` setting; default: frozen embeddings alone); ignored by
            ``tlm_a``.
        hidden: LSTM size (ICLR-2018 code: 200).
        epochs, patience: at most `epochs` passes; stop after `patience` epochs without a
            lower dev cross-entropy.
        batch_size, lr, seed, device: Adam on length-bucketed minibatches.
        train_limit, dev_limit: use only the first sentences of each split (smoke runs).
        log: called with each epoch's record.

    Returns:
        ``(model, summary)``: the best-dev model (on the CPU, in eval mode) and a JSON-ready
        summary (``kind``, ``hidden``, ``best_epoch``, ``dev_nll`` per predicted symbol,
        ``dev_perplexity``, ``epochs``, ``history``; no wall-clock figure). For ``tlm_c`` the NLL is
        the sum of the forward and the backward model's, so about twice the others'.
    """
    torch.manual_seed(seed)
    device = torch.device(device)
    embeddings = torch.from_numpy(task.embeddings)
    words = setting or InputSetting()
    model = tag_language_model(kind, hidden, words, task.vocabs, embeddings).to(device)
    chars = task.vocabs.chars if model.uses_chars else None
    train_split = task.split("train", train_limit)
    dev_batches = make_batches(task.split("dev", dev_limit), 256, chars)
    optimizer = make_optimizer(trainable(model), OptimizerConfig("adam", lr))
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        model.train()
        rng = np.random.default_rng([seed, epoch])
        sums, counts = [], []  # on the device, read once per epoch
        for batch in make_batches(train_split, batch_size, chars, rng):
            batch = batch.to(device)
            nll = model.nll(batch)
            symbols = batch.mask.sum() + len(batch)  # the tags and one end symbol each
            loss = nll.sum() / symbols
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            sums.append(nll.detach().sum())
            counts.append(symbols)
        total, count = sum(torch.stack(sums).tolist()), sum(torch.stack(counts).tolist())
        dev_nll = evaluate_tag_lm(model, dev_batches, device)
        record = {"epoch": epoch, "train_nll": total / count, "dev_nll": dev_nll}
        history.append(record)
        if log is not None:
            log(record)
        if not math.isfinite(record["train_nll"]):
            raise RuntimeError(f"tag LM pretraining: loss became {record['train_nll']}")
        if best_state is None or dev_nll < min(r["dev_nll"] for r in history[:-1]):
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        best_epoch = min(history, key=lambda r: r["dev_nll"])["epoch"]
        if epoch - best_epoch >= patience:
            break
    assert best_state is not None
    model = model.cpu()
    model.load_state_dict(best_state)
    model.eval()
    best = min(history, key=lambda r: r["dev_nll"])
    summary = {
        "kind": kind,
        "hidden": hidden,
        "best_epoch": best["epoch"],
        "dev_nll": best["dev_nll"],
        "dev_perplexity": math.exp(best["dev_nll"]),
        "epochs": len(history),
        "history": history,
    }
    return model, summary


@torch.no_grad()
def evaluate_tag_lm(model: TagLanguageModel, batches: list, device: torch.device) -> float:
    """Cross-entropy per predicted symbol (tags and end symbols) over `batches`."""
    model.eval()
    total = count = 0.0
    for batch in batches:
        batch = batch.to(device)
        total += float(model.nll(batch).sum())
        count += float(batch.mask.sum() + len(batch))
    return total / count


def save_tag_lm(
    path: str | os.PathLike[str], model: TagLanguageModel, summary: dict[str, Any]
) -> None:
    """Write the model's architecture, weights and training summary (atomically)."""
    save_checkpoint(path, {"spec": model.spec(), "state": model.state_dict(), "summary": summary})


def load_tag_lm_state(
    path: str | os.PathLike[str], spec: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """The weights saved at `path`, checked to be of the architecture `spec` describes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no pretrained tag language model; run `spen pretrain-tlm` first"
        )
    saved = load_checkpoint(path)
    if saved.get("spec") != spec:
        raise ValueError(f"{path}: tag LM {saved.get('spec')} does not match the run's {spec}")
    return saved["state"]


def tag_lm_path(spec: GlobalEnergyConfig, config: RunConfig) -> Path | None:
    """Where the pretrained tag LM of `spec` lies (`{task}` and `{setting}` filled in)."""
    if not spec.pretrained:
        return None
    return Path(spec.pretrained.format(task=config.task, setting=config.setting))


def load_pretrained_parts(model: torch.nn.Module, config: RunConfig) -> None:
    """Load into a freshly built model the pretrained weights its configuration names: the
    tag LM of a global energy with a `pretrained` path (nothing for other models)."""
    spec = config.global_energy
    path = None if spec is None else tag_lm_path(spec, config)
    global_energy = getattr(model, "global_energy", None)
    if path is None or global_energy is None:
        return
    tag_lm = global_energy.model
    tag_lm.load_state_dict(load_tag_lm_state(path, tag_lm.spec()))
