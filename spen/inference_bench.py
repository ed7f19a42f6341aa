"""The benchmark of inference methods on trained SPENs (`spen bench-inference`), Tu & Gimpel
(2019)'s question: what each way of decoding the same energy costs and gives.

Each checkpoint decodes its split with the decoders of :data:`spen.evaluation.analysis.COMPARED`:
the inference network ``A_Ψ``, exact Viterbi on the linear-chain energy, gradient-descent
inference from uniform outputs, and gradient descent started from ``A_Ψ(x)``. Their scores and
search errors (energy gap against Viterbi, share of sentences whose output differs from
Viterbi's) are those of :func:`spen.evaluation.analysis.exact_vs_amortised`. Beside them, A_Ψ
as `spen export --torchscript` exports it, with its parity against PyTorch; and the speed of
each, end to end from a batch of word ids (features included), at each batch size: sentences
per second of the best timed pass after a warm-up, as `spen bench` times its
decoders, and sentences per CPU second of the process over all passes.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from spen.bench import _timed, device_name
from spen.data.batches import make_batches
from spen.evaluation.analysis import COMPARED, exact_vs_amortised
from spen.evaluation.metrics import score
from spen.export import ExportableNetwork, trace
from spen.measured import Measured
from spen.tagger import check_count

#: the batch sizes timed by default
BATCH_SIZES = (1, 8, 64, 512)


def check_benchmarkable(measured: Measured) -> None:
    """Refuse (ValueError naming the file) a checkpoint whose model lacks an energy or an
    inference network, so has not every decoder of COMPARED."""
    missing = [d for d in COMPARED if d not in measured.tagger.decoders]
    if missing:
        raise ValueError(
            f"{measured.checkpoint}: a {measured.config.kind} model ({measured.config.model}) "
            f"has no decoder {', '.join(missing)}; expected a SPEN checkpoint (an energy and "
            "an inference network)"
        )


def _throughput(
    decode: Callable[[], object], sentences: int, repeats: int, device: torch.device
) -> tuple[float, float]:
    """Sentences per second of the best of `repeats` timed calls of `decode` (one pass over
    the split) after a warm-up, and sentences per CPU second of this process over them all."""
    start = time.process_time()
    seconds = _timed(decode, repeats, device)
    cpu = (time.process_time() - start) / (repeats + 1)  # _timed's warm-up too
    return sentences / seconds, sentences / cpu


def decoder_speed(
    measured: Measured, batch_sizes: Sequence[int], repeats: int, timed: int | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Per decoder of COMPARED, on the split of `measured` (its first `timed` sentences), by
    batch size (a string, a JSON key): `wall`, sentences per second of the best timed pass;
    `cpu`, sentences per CPU second of this process, over the warm-up and the timed passes
    together (the figure that other jobs on the machine leave least changed)."""
    learner, tagger = measured.tagger.learner, measured.tagger
    chars = tagger.vocabs.chars if tagger.uses_chars else None
    split = measured.split.head(timed)
    sentences = len(split)
    speed: dict[str, dict[str, dict[str, float]]] = {
        name: {"wall": {}, "cpu": {}} for name in COMPARED
    }
    learner.model.eval()
    with torch.no_grad():
        for size in batch_sizes:
            batches = [b.to(tagger.device) for b in make_batches(split, size, chars)]
            for name in COMPARED:
                wall, cpu = _throughput(
                    lambda name=name, batches=batches: [learner.predict(b, name) for b in batches],
                    sentences,
                    repeats,
                    tagger.device,
                )
                speed[name]["wall"][str(size)] = wall
                speed[name]["cpu"][str(size)] = cpu
    return speed


@torch.no_grad()
def exported_network(
    measured: Measured, batch_sizes: Sequence[int], repeats: int, timed: int | None = None
) -> dict[str, Any]:
    """The test-time inference network as `spen export --torchscript` writes it, decoding the
    split by the argmax of its output: its scores, the largest |p_exported − p_PyTorch| over
    the split's real tokens, the share of tokens whose argmax agrees with PyTorch's, and its
    sentences per second by batch size on the first `timed` sentences (as
    :func:`decoder_speed` times a decoder)."""
    tagger, split = measured.tagger, measured.split
    network = ExportableNetwork(tagger).eval()
    traced = trace(network)
    chars = tagger.vocabs.chars if tagger.uses_chars else None
    predicted: list[list[str]] = [[] for _ in range(len(split))]
    largest, agree, tokens = 0.0, 0, 0
    for batch in make_batches(split, measured.config.eval_batch_size, chars):
        batch = batch.to(tagger.device)
        inputs = network.inputs(batch)
        exported, reference = traced(*inputs), network(*inputs)
        mask = batch.mask
        largest = max(largest, float((exported - reference).abs()[mask].max()))
        ids = exported.argmax(-1)
        agree += int((ids == reference.argmax(-1))[mask].sum())
        tokens += int(mask.sum())
        for row, found, n in zip(batch.index, ids.tolist(), batch.lengths.tolist(), strict=True):
            predicted[row] = [tagger.vocabs.tags.tags[i] for i in found[:n]]
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    timed_split = split.head(timed)
    for size in batch_sizes:
        batches = [
            network.inputs(b.to(tagger.device)) for b in make_batches(timed_split, size, chars)
        ]
        wall[str(size)], cpu[str(size)] = _throughput(
            lambda batches=batches: [traced(*x).argmax(-1) for x in batches],
            len(timed_split),
            repeats,
            tagger.device,
        )
    scores = score(split.tags, predicted, tagger.vocabs.tags.is_bioes)
    return {
        "format": "torchscript",
        "scores": {k: v for k, v in scores.items() if isinstance(v, int | float)},
        "max_abs_diff_from_pytorch": largest,
        "argmax_agreement": agree / tokens,
        "sentences_per_second": wall,
        "sentences_per_cpu_second": cpu,
    }


def benchmark_row(
    measured: Measured, batch_sizes: Sequence[int], repeats: int, timed: int | None = None
) -> dict[str, Any]:
    """One checkpoint's figures: per decoder its scores, energy gap, share of sentences whose
    output differs from Viterbi's and sentences per second by batch size (timed on the first
    `timed` sentences); the exported A_Ψ's likewise."""
    check_benchmarkable(measured)
    tagger = measured.tagger
    analysis = exact_vs_amortised(
        tagger.learner,
        measured.split,
        tagger.vocabs,
        measured.config.eval_batch_size,
        tagger.device,
        uses_chars=tagger.uses_chars,
    )
    speed = decoder_speed(measured, batch_sizes, repeats, timed)
    decoders = {}
    for name in COMPARED:
        found = analysis["decoders"][name]
        decoders[name] = {
            # the totals alone: the per-sentence counts stay in `spen analyze`'s file
            "scores": {k: v for k, v in found["scores"].items() if isinstance(v, int | float)},
            "energy_gap_mean": found["energy_gap_mean"],
            "energy_gap_per_token": found["energy_gap_per_token"],
            "differs_from_viterbi": 1 - found["same_output_as_viterbi"],
            "sentences_per_second": speed[name]["wall"],
            "sentences_per_cpu_second": speed[name]["cpu"],
        }
    return {
        **measured.identity(),
        "objective": measured.config.objective,
        "metric": "f1" if tagger.vocabs.tags.is_bioes else "accuracy",
        "energy_gap_relaxed_mean": analysis["energy_gap_relaxed_mean"],
        "gradient_descent": analysis["gradient_descent"],
        "decoders": decoders,
        "exported": exported_network(measured, batch_sizes, repeats, timed),
    }


def inference_benchmark(
    runs: Sequence[Measured],
    batch_sizes: Sequence[int] = BATCH_SIZES,
    repeats: int = 3,
    timed_sentences: int | None = None,
) -> dict[str, Any]:
    """The benchmark of every checkpoint of `runs` (all of one task and split, each checked by
    :func:`check_benchmarkable` before any is timed), on their device with the threads torch
    has now, timing on the split's first `timed_sentences` sentences (all by default; scores
    use the whole split). ValueError for none, for several tasks or splits, or a batch size,
    `repeats` or `timed_sentences` below 1."""
    if not runs:
        raise ValueError("no checkpoint to benchmark; expected one or more")
    for size in batch_sizes:
        check_count("batch size", size)
    check_count("repeats", repeats)
    if timed_sentences is not None:
        check_count("timed sentences", timed_sentences)
    kinds = {(m.config.task, m.split_name) for m in runs}
    if len(kinds) > 1:
        named = ", ".join(f"{m.checkpoint} ({m.config.task}, {m.split_name})" for m in runs)
        raise ValueError(f"expected checkpoints of one task, measured on one split; got {named}")
    for measured in runs:
        check_benchmarkable(measured)
    first = runs[0]
    device = first.tagger.device
    return {
        "task": first.config.task,
        "split": first.split_name,
        "sentences": len(first.split),
        "timed_sentences": len(first.split.head(timed_sentences)),
        "tokens": sum(len(t) for t in first.split.tags),
        "device": device.type,
        "device_name": device_name(device),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "batch_sizes": list(batch_sizes),
        "repeats": repeats,
        "decoders": list(COMPARED),
        "rows": [benchmark_row(m, batch_sizes, repeats, timed_sentences) for m in runs],
    }
