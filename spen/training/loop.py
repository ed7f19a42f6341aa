"""The training loop: bucketed epochs, dev evaluation, checkpoints, resumption."""

from __future__ import annotations

import copy
import json
import math
import resource
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spen.cpu_kernels import kernel_level
from spen.data.batches import make_batches
from spen.data.prepared import PreparedTask
from spen.device import choose_device
from spen.evaluation.decode import predict_split
from spen.evaluation.metrics import score
from spen.io import atomic_open, atomic_path, write_json
from spen.models.build import build_model, count_parameters, count_test_time_parameters
from spen.run_config import RunConfig, RunConfigError
from spen.training.build import build_learner
from spen.training.checkpoint import (
    checkpoint_config,
    learner_state,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    weights_sha256,
)
from spen.training.faults import NumericalFaultError
from spen.training.learners import Learner
from spen.training.tag_lm import load_pretrained_parts

#: batches between two reads of the training losses by the host (each read waits for the
#: device; the losses stay on it in between, so a GPU is never idle waiting for one batch)
LOSS_READ_EVERY = 50


@dataclass(frozen=True)
class RunPaths:
    """Where a training run writes: the best model, the per-epoch log, the summary, the
    wall-clock figures, the resume state. All but the timings (and the resume state) are a
    function of the configuration, the data and the seed alone: the same run twice gives the
    same bytes."""

    best: Path
    metrics: Path
    summary: Path
    timings: Path
    resume: Path

    @classmethod
    def under(cls, directory: Path) -> RunPaths:
        """The standard layout inside a run directory."""
        return cls(
            best=directory / "best.pt",
            metrics=directory / "metrics.jsonl",
            summary=directory / "train.json",
            timings=directory / "timings.json",
            resume=directory / "resume" / "last.pt",
        )


def adopt_resume_state(paths: RunPaths, source: Path, config: RunConfig) -> bool:
    """Give this run the resume state of a finished run with this very configuration (under
    the tuning protocol, the chosen grid point is the main run of the tuning seed), so that
    `train` goes on from where that run ended instead of training it again: the same files
    come out, the timings being that run's. False, and nothing written, when this run has a
    resume state of its own for this configuration, or `source` is missing or was saved for
    other settings. A resume state of its own saved for other settings (left by an earlier
    choice, before the grid changed) would only be discarded by `train`: `source` replaces it."""
    if not _saved_for(source, config) or _saved_for(paths.resume, config):
        return False
    with atomic_path(paths.resume) as tmp:
        shutil.copyfile(source, tmp)
    print(f"{paths.resume}: taken from {source} (the same configuration)", file=sys.stderr)
    return True


def _saved_for(path: Path, config: RunConfig) -> bool:
    """Whether `path` is a checkpoint saved for `config`."""
    if not path.is_file():
        return False
    try:
        return checkpoint_config(load_checkpoint(path)) == config
    except (RunConfigError, ValueError):
        return False


def headline(scores: dict[str, Any], metric: str) -> float:
    """The figure model selection uses: `accuracy` or entity `f1`."""
    return float(scores[metric])


def train(
    config: RunConfig,
    task: PreparedTask,
    metric: str,
    paths: RunPaths,
    stop_on_fault: bool = False,
    stop_after: tuple[int, str] | None = None,
    tuning: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one run to the end of its budget (resuming if a resume state exists).

    Returns the summary of the best dev epoch. A NaN or infinite loss raises
    `NumericalFaultError`, or with `stop_on_fault` (a tuning grid point, where diverging is an
    outcome, and the main runs of the grid's choice, judged alike) ends training there: the
    summary keeps the epochs finished before and says why it stopped (`dev` is None when none
    finished). `stop_after` (epochs, why): end after that many epochs, saying why in the
    summary; the resume state stays, so a later call without it goes on exactly as an
    uninterrupted run (the tuning protocol's probe and pruning). `tuning`: the settings a
    tuning grid point or record gave the run (its overrides), kept in the summary so that the
    run shows what it was trained with.
    """
    device = choose_device(config.device)
    torch.manual_seed(config.seed)
    embeddings = torch.from_numpy(task.embeddings)
    model = build_model(config, task.vocabs, embeddings)
    load_pretrained_parts(model, config)
    model = model.to(device)
    learner = build_learner(config, model)
    train_split = task.split("train", config.train_limit)
    dev_split = task.split("dev", config.dev_limit)
    chars = task.vocabs.chars if config.uses_chars else None

    fingerprint = task.fingerprint()
    history: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    fault = None
    best_model = copy.deepcopy(model.state_dict())
    last = config.max_epochs if stop_after is None else min(stop_after[0], config.max_epochs)
    if paths.resume.is_file():
        history, timings, best_model = _resume(
            learner, paths.resume, config, fingerprint, best_model, last
        )
    for epoch in range(len(history) + 1, last + 1):
        if _patience_spent(history, config.patience):
            break
        learner.start_epoch(epoch)
        try:
            record, timing = _run_epoch(learner, config, train_split, chars, epoch, paths, device)
        except NumericalFaultError as err:
            if not stop_on_fault:
                raise
            fault = str(err)
            break
        dev_scores = score(
            dev_split.tags,
            predict_split(
                learner,
                dev_split,
                task.vocabs,
                config.eval_batch_size,
                device,
                uses_chars=config.uses_chars,
            ),
            task.vocabs.tags.is_bioes,
        )
        record["dev"] = headline(dev_scores, metric)
        if not history or record["dev"] > max(r["dev"] for r in history):
            best_model = copy.deepcopy(model.state_dict())
        history.append(record)
        timings.append(timing)
        save_checkpoint(
            paths.resume,
            {
                **_base_state(config, task, model.state_dict(), history),
                **learner_state(learner),
                "best_model": best_model,
                "data_fingerprint": fingerprint,
                "rng": rng_state(),
                "timings": timings,
            },
        )
        _write_history(paths.metrics, history)  # to follow a run; rewritten at the end
        _report_epoch(config, history, timing)
    write_json(paths.timings, _timings_summary(timings))
    stopped = f"numerical fault: {fault}" if fault else None
    ended_early = len(history) < config.max_epochs and not _patience_spent(history, config.patience)
    if stopped is None and stop_after is not None and ended_early:
        stopped = stop_after[1]
    best_state = _base_state(config, task, best_model, history)
    return _write_outputs(paths, best_state, model, stopped, tuning)


def _report_epoch(config: RunConfig, history: list[dict[str, Any]], timing: dict[str, Any]) -> None:
    """One line on stderr per epoch: epoch i/N, the training losses, dev, best so far."""
    record = history[-1]
    losses = " ".join(
        f"{k.removeprefix('train_')} {v:.4g}" for k, v in record.items() if k.startswith("train_")
    )
    best = max(history, key=lambda r: r["dev"])
    print(
        f"{config.task}/{config.model}-{config.setting} seed {config.seed}: "
        f"epoch {record['epoch']}/{config.max_epochs} {losses} dev {record['dev']:.2f} "
        f"best {best['dev']:.2f} (epoch {best['epoch']}) {timing['seconds']:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def _timings_summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's wall-clock figures: per epoch, their mean, the process's peak memory."""
    seconds = [t["seconds"] for t in timings]
    return {
        "epochs": timings,
        "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _write_outputs(
    paths: RunPaths,
    best_state: dict[str, Any],
    model: torch.nn.Module,
    stopped: str | None,
    tuning: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Write the best model, the per-epoch log and the summary (with why training stopped
    before its budget, if it did, the CPU kernels it ran with, and the tuning settings it was
    given), each atomically."""
    history = best_state["history"]
    save_checkpoint(paths.best, best_state)
    _write_history(paths.metrics, history)
    best = max(history, key=lambda r: r["dev"]) if history else {"epoch": None, "dev": None}
    summary = {
        "best_epoch": best["epoch"],
        "dev": best["dev"],
        "epochs": len(history),
        **({"stopped": stopped} if stopped else {}),
        "parameters": count_parameters(model),
        "test_time_parameters": count_test_time_parameters(model),
        "weights_sha256": weights_sha256(best_state["model"]),
        "cpu_kernels": kernel_level(),
        **({"tuning": dict(tuning)} if tuning is not None else {}),
    }
    write_json(paths.summary, summary)
    return summary


def _run_epoch(
    learner: Learner,
    config: RunConfig,
    split: Any,
    chars: Any,
    epoch: int,
    paths: RunPaths,
    device: torch.device,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one epoch; its record (losses) and its wall-clock timing."""
    rng = np.random.default_rng([config.seed, epoch])
    batches = make_batches(split, config.batch_size, chars, rng)
    learner.model.train()
    totals: dict[str, float] = {}
    pending: list[dict[str, torch.Tensor]] = []
    start = time.perf_counter()
    for number, batch in enumerate(batches, start=1):
        pending.append(learner.train_step(batch.to(device)))
        if number % LOSS_READ_EVERY == 0 or number == len(batches):
            _add_losses(totals, pending, number - len(pending) + 1, epoch, paths)
            pending.clear()
    seconds = time.perf_counter() - start
    record = {"epoch": epoch, **{f"train_{k}": v / len(batches) for k, v in totals.items()}}
    timing = {"epoch": epoch, "seconds": seconds, "sentences_per_second": len(split) / seconds}
    return record, timing


def _add_losses(
    totals: dict[str, float],
    steps: list[dict[str, torch.Tensor]],
    first: int,
    epoch: int,
    paths: RunPaths,
) -> None:
    """Add the losses of consecutive batches (`first`: the first one's number) to `totals`,
    in batch order; a NaN or infinite loss is a `NumericalFaultError` naming the first."""
    named = [(number, name) for number, losses in enumerate(steps, first) for name in losses]
    values = torch.stack([v for losses in steps for v in losses.values()]).tolist()
    for (number, name), value in zip(named, values, strict=True):
        if not math.isfinite(value):
            raise NumericalFaultError(
                f"epoch {epoch}, batch {number}: loss '{name}' is {value}; training stopped, "
                f"the last good checkpoint is kept at {paths.resume}"
            )
        totals[name] = totals.get(name, 0.0) + value


def _patience_spent(history: list[dict[str, Any]], patience: int) -> bool:
    if not history:
        return False
    best_epoch = max(history, key=lambda r: r["dev"])["epoch"]
    return history[-1]["epoch"] - best_epoch >= patience


def _base_state(
    config: RunConfig,
    task: PreparedTask,
    weights: dict[str, torch.Tensor],
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "config": config.to_dict(),  # a plain dict: checkpoints stay readable by any version
        "vocab": task.vocabs.to_dict(),
        "embedding_shape": list(task.embeddings.shape),
        "model": weights,
        "history": history,
    }


def _resume(
    learner: Learner,
    path: Path,
    config: RunConfig,
    fingerprint: str,
    best_model: dict[str, torch.Tensor],
    last: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, torch.Tensor]]:
    """Restore the learner from a resume state saved for this configuration and data, at most
    `last` epochs in (a probe never reads a longer run's epochs): the epochs' records and
    timings so far, and the best model."""
    state = load_checkpoint(path)
    try:
        saved = checkpoint_config(state)
    except RunConfigError:  # a key this version does not know: saved by another one
        saved = None
    if saved != config or state.get("data_fingerprint") != fingerprint:
        print(f"{path}: saved for other settings or data; starting afresh", file=sys.stderr)
        return [], [], best_model
    if len(state["history"]) > last:
        print(
            f"{path}: {len(state['history'])} epochs in, past this run's {last}; starting afresh",
            file=sys.stderr,
        )
        return [], [], best_model
    learner.model.load_state_dict(state["model"])
    for name, optimizer in learner.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    set_rng_state(state["rng"])
    print(f"{path}: resuming after epoch {len(state['history'])}", file=sys.stderr)
    return list(state["history"]), list(state.get("timings", [])), state["best_model"]


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_open(path) as handle:
        for record in history:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
