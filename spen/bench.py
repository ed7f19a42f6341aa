"""The benchmark harness: decoding throughput of amortised and exact inference, and the
training throughput of each model.

Every method tags the same test sentences with models of the same sizes, in one process,
so their ratios are comparable; `end_to_end` figures include the BiLSTM features, the others
time the decoding of precomputed unary scores alone. Exact decoders are checked to agree with
our Viterbi on the same scores; gradient-descent inference (default steps and step size of
:class:`GradientDescentOptions`, from uniform outputs) is approximate, and its agreement is
reported beside theirs.
"""

from __future__ import annotations

import platform
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from spen.data.batches import Batch, make_batches
from spen.data.prepared import PreparedTask
from spen.inference.gradient_descent import GradientDescentOptions, minimise_relaxed
from spen.inference.linear_chain import sequence_score, viterbi
from spen.models.build import build_model, count_parameters, count_test_time_parameters
from spen.run_config import RunConfig
from spen.training.build import build_learner

Decoder = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CPU = torch.device("cpu")


def exact_decoders(transitions: torch.Tensor) -> dict[str, Decoder]:
    """Our Viterbi and the peers', each taking `(emissions, mask)`, built once per model."""
    from torchcrf import CRF

    num_tags = transitions.shape[0] - 1
    crf = CRF(num_tags, batch_first=True).to(transitions.device)
    with torch.no_grad():
        crf.start_transitions.copy_(transitions[num_tags, :num_tags])
        crf.end_transitions.copy_(transitions[:num_tags, num_tags])
        crf.transitions.copy_(transitions[:num_tags, :num_tags])
    return {
        "viterbi": lambda e, m: viterbi(e, transitions, m)[0],
        "pytorch_crf": lambda e, m: _pad(crf.decode(e, m), m),
        "torch_struct": lambda e, m: torch_struct_argmax(e, transitions, m),
    }


def gradient_descent_decoder(transitions: torch.Tensor) -> Decoder:
    """Argmax of gradient-descent inference on the linear-chain energy, from uniform outputs."""
    options = GradientDescentOptions()

    def decode(emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        def energy(labels: torch.Tensor) -> torch.Tensor:
            return -sequence_score(emissions, transitions, labels, mask)

        return minimise_relaxed(energy, torch.zeros_like(emissions), options).argmax(-1)

    return decode


def torch_struct_argmax(
    emissions: torch.Tensor, transitions: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """torch-struct's LinearChainCRF argmax on edge potentials built from the same scores."""
    from torch_struct import LinearChainCRF

    batch, seq_len, num_tags = emissions.shape
    if seq_len < 2:
        return emissions.argmax(-1)
    lengths = mask.sum(1)
    inner = transitions[:num_tags, :num_tags].T  # [to, from]
    potentials = (emissions[:, 1:, :, None] + inner[None, None]).clone()
    potentials[:, 0] += (emissions[:, 0] + transitions[num_tags, :num_tags])[:, None, :]
    last_edge = (lengths - 2).clamp(min=0)
    potentials[torch.arange(batch), last_edge] += transitions[:num_tags, num_tags][None, :, None]
    with warnings.catch_warnings(), torch.enable_grad():  # its argmax runs through autograd
        warnings.simplefilter("ignore", UserWarning)
        chain = LinearChainCRF(potentials.detach().requires_grad_(), lengths=lengths)
        edges = chain.argmax.detach()  # (batch, seq_len - 1, to, from)
    tags = torch.zeros(batch, seq_len, dtype=torch.long, device=emissions.device)
    tags[:, 1:] = edges.sum(-1).argmax(-1)
    tags[:, 0] = edges[:, 0].sum(-2).argmax(-1)
    # torch-struct has no edge for a one-token sentence: its best tag is scored directly.
    single = emissions[:, 0] + transitions[num_tags, :num_tags] + transitions[:num_tags, num_tags]
    tags[lengths == 1, 0] = single[lengths == 1].argmax(-1)
    return tags.masked_fill(~mask, 0)


def _pad(paths: list[list[int]], mask: torch.Tensor) -> torch.Tensor:
    tags = torch.zeros(mask.shape, dtype=torch.long)
    for row, path in enumerate(paths):
        tags[row, : len(path)] = torch.tensor(path)
    return tags.to(mask.device)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device` (nothing to wait for on the CPU), so that a clock
    read next covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def _timed(run: Callable[[], Any], repeats: int, device: torch.device) -> float:
    run()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def decode_benchmark(
    task: PreparedTask,
    config: RunConfig,
    batch_sizes: list[int],
    repeats: int = 3,
    limit: int | None = None,
    device: torch.device = CPU,
) -> dict[str, Any]:
    """Tokens per second of each decoder on the test split (its first `limit` sentences), at
    each batch size, with the networks of `config`'s size (its hidden size) on frozen word
    vectors alone, on `device`."""
    torch.manual_seed(0)
    words = {"finetune_embeddings": False, "char_cnn": None, "features": None}
    local = replace(config, kind="local", global_energy=None, **words)
    embeddings = torch.from_numpy(task.embeddings)
    tagger = build_model(local, task.vocabs, embeddings).to(device).eval()
    energy = build_model(replace(local, kind="crf"), task.vocabs, embeddings).to(device).eval()
    split = task.split("test", limit)
    tokens = sum(len(t) for t in split.token_ids)
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for size in batch_sizes:
            print(f"bench: decoding at batch size {size}", file=sys.stderr, flush=True)
            batches = [b.to(device) for b in make_batches(split, size)]
            scores = [(energy.emissions(b), b.mask) for b in batches]
            rows.append(_measure(size, batches, scores, tagger, energy, tokens, repeats, device))
    return {
        "task": task.directory.name,
        "tokens": tokens,
        "sentences": len(split),
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "device": device.type,
        "device_name": device_name(device),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gradient_descent": vars(GradientDescentOptions()),
        "rows": rows,
    }


def _measure(
    size: int,
    batches: list[Batch],
    scores: list[tuple[torch.Tensor, torch.Tensor]],
    tagger: torch.nn.Module,
    energy: torch.nn.Module,
    tokens: int,
    repeats: int,
    device: torch.device,
) -> dict[str, Any]:
    exact = exact_decoders(energy.transitions)
    approximate = {"gradient_descent": gradient_descent_decoder(energy.transitions)}
    seconds = {
        "inference_network": _timed(lambda: [tagger.predict(b) for b in batches], repeats, device),
        "viterbi_end_to_end": _timed(lambda: [energy.predict(b) for b in batches], repeats, device),
        "pytorch_crf_end_to_end": _timed(
            lambda: [exact["pytorch_crf"](energy.emissions(b), b.mask) for b in batches],
            repeats,
            device,
        ),
        "gradient_descent_end_to_end": _timed(
            lambda: [approximate["gradient_descent"](energy.emissions(b), b.mask) for b in batches],
            repeats,
            device,
        ),
    }
    agreement = {}
    for name, decode in {**exact, **approximate}.items():
        seconds[name] = _timed(lambda d=decode: [d(e, m) for e, m in scores], repeats, device)
        same = [(decode(e, m) == exact["viterbi"](e, m))[m].float().mean() for e, m in scores]
        agreement[name] = float(torch.stack(same).mean())
    seconds["argmax"] = _timed(lambda: [e.argmax(-1) for e, _ in scores], repeats, device)
    speed = {k: tokens / v for k, v in seconds.items()}
    return {
        "batch_size": size,
        "tokens_per_second": speed,
        "ratio_to_pytorch_crf": {k: v / speed["pytorch_crf"] for k, v in speed.items()},
        "agreement_with_viterbi": agreement,
    }


def parameter_counts(
    task: PreparedTask, configs: dict[tuple[str, str], RunConfig]
) -> list[dict[str, Any]]:
    """Trainable and test-time parameters of each (model, setting)'s network as built, before
    training: the counts train.json records, for runs whose train.json is not at hand."""
    embeddings = torch.from_numpy(task.embeddings)
    counts = []
    for (name, setting), config in configs.items():
        model = build_model(config, task.vocabs, embeddings)
        counts.append(
            {
                "model": name,
                "setting": setting,
                "parameters": count_parameters(model),
                "test_time_parameters": count_test_time_parameters(model),
            }
        )
    return counts


def equal_step_variants(configs: dict[str, RunConfig], steps: list[int]) -> dict[str, RunConfig]:
    """Each compound model again at every inner-step count k in `steps` it is not set to,
    named `MODEL@k=K`, so that separated, shared and stacked are also compared step for step
    at a k other than their own."""
    return {
        f"{name}@k={k}": replace(config, inner_steps=k)
        for name, config in configs.items()
        if config.objective == "compound" and not config.global_energy
        for k in steps
        if k != config.inner_steps
    }


def training_benchmark(
    task: PreparedTask,
    configs: dict[str, RunConfig],
    sentences: int = 200,
    device: torch.device = CPU,
    passes: int = 3,
) -> list[dict[str, Any]]:
    """Training throughput (sentences/s, and CPU seconds) of each model on the same first
    training sentences, on `device`, with the peak GPU memory of each model's training there.

    `configs` maps a model name to its resolved run configuration (`Params.run_config`);
    every model makes `passes` timed passes over `sentences` sentences after one warm-up
    batch, each pass timed on its own (`pass_seconds`, `pass_cpu_seconds`; `seconds` and
    `cpu_seconds` are their means). A global energy's tag LM starts untrained here rather than
    pretrained (the same computation), so the benchmark needs no `spen pretrain-tlm` first.
    """
    split = task.split("train", sentences)
    embeddings = torch.from_numpy(task.embeddings)
    results = []
    for name, config in configs.items():
        print(f"bench: training throughput of {name}", file=sys.stderr, flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        torch.manual_seed(0)
        model = build_model(config, task.vocabs, embeddings).to(device)
        learner = build_learner(config, model)
        chars = task.vocabs.chars if config.uses_chars else None
        batches = make_batches(split, config.batch_size, chars, np.random.default_rng(0))
        batches = [b.to(device) for b in batches]
        learner.start_epoch(1)
        learner.model.train()
        learner.train_step(batches[0])
        synchronize(device)
        wall, cpu = [], []
        for _ in range(passes):
            start, cpu_start = time.perf_counter(), time.process_time()
            for batch in batches:
                learner.train_step(batch)
            synchronize(device)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
        row = {
            "model": name,
            "sentences": len(split),
            "passes": passes,
            "pass_seconds": wall,
            "pass_cpu_seconds": cpu,
            "seconds": (seconds := statistics.fmean(wall)),
            "cpu_seconds": statistics.fmean(cpu),
            "sentences_per_second": len(split) / seconds,
            "batch_size": config.batch_size,
            "inner_steps": config.inner_steps if config.kind == "spen" else None,
            "device": device.type,
        }
        if device.type == "cuda":
            row["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        results.append(row)
    return results
