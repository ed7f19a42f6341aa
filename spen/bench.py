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


def exact_decoders(transitions: torch.Tensor) -> dict[str, Decoder]:
    """Our Viterbi and the peers', each taking `(emissions, mask)`, built once per model."""
    from torchcrf import CRF

    num_tags = transitions.shape[0] - 1
    crf = CRF(num_tags, batch_first=True)
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
    tags = torch.zeros(batch, seq_len, dtype=torch.long)
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
    return tags


def _timed(run: Callable[[], Any], repeats: int) -> float:
    run()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def decode_benchmark(
    task: PreparedTask,
    config: RunConfig,
    batch_sizes: list[int],
    repeats: int = 3,
    limit: int | None = None,
) -> dict[str, Any]:
    """Tokens per second of each decoder on the test split (its first `limit` sentences), at
    each batch size, with the networks of `config`'s size (its hidden size) on frozen word
    vectors alone."""
    torch.manual_seed(0)
    words = {"finetune_embeddings": False, "char_cnn": None, "features": None}
    local = replace(config, kind="local", global_energy=None, **words)
    embeddings = torch.from_numpy(task.embeddings)
    tagger = build_model(local, task.vocabs, embeddings).eval()
    energy = build_model(replace(local, kind="crf"), task.vocabs, embeddings).eval()
    split = task.split("test", limit)
    tokens = sum(len(t) for t in split.token_ids)
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for size in batch_sizes:
            print(f"bench: decoding at batch size {size}", file=sys.stderr, flush=True)
            batches = make_batches(split, size)
            scores = [(energy.emissions(b), b.mask) for b in batches]
            rows.append(_measure(size, batches, scores, tagger, energy, tokens, repeats))
    return {
        "task": task.directory.name,
        "tokens": tokens,
        "sentences": len(split),
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
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
) -> dict[str, Any]:
    exact = exact_decoders(energy.transitions)
    approximate = {"gradient_descent": gradient_descent_decoder(energy.transitions)}
    seconds = {
        "inference_network": _timed(lambda: [tagger.predict(b) for b in batches], repeats),
        "viterbi_end_to_end": _timed(lambda: [energy.predict(b) for b in batches], repeats),
        "pytorch_crf_end_to_end": _timed(
            lambda: [exact["pytorch_crf"](energy.emissions(b), b.mask) for b in batches], repeats
        ),
        "gradient_descent_end_to_end": _timed(
            lambda: [approximate["gradient_descent"](energy.emissions(b), b.mask) for b in batches],
            repeats,
        ),
    }
    agreement = {}
    for name, decode in {**exact, **approximate}.items():
        seconds[name] = _timed(lambda d=decode: [d(e, m) for e, m in scores], repeats)
        same = [(decode(e, m) == exact["viterbi"](e, m))[m].float().mean() for e, m in scores]
        agreement[name] = float(torch.stack(same).mean())
    seconds["argmax"] = _timed(lambda: [e.argmax(-1) for e, _ in scores], repeats)
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
    named `MODEL@k=K`: separated (k = 1) and shared / stacked (k = 10) compared step for step."""
    return {
        f"{name}@k={k}": replace(config, inner_steps=k)
        for name, config in configs.items()
        if config.objective == "compound" and not config.global_energy
        for k in steps
        if k != config.inner_steps
    }


def training_benchmark(
    task: PreparedTask, configs: dict[str, RunConfig], sentences: int = 200
) -> list[dict[str, Any]]:
    """Training throughput (sentences/s) of each model on the same first training sentences.

    `configs` maps a model name to its resolved run configuration (`Params.run_config`);
    every model makes one pass over `sentences` sentences after one warm-up batch. A global
    energy's tag LM starts untrained here rather than pretrained (the same computation), so
    the benchmark needs no `spen pretrain-tlm` first.
    """
    split = task.split("train", sentences)
    embeddings = torch.from_numpy(task.embeddings)
    results = []
    for name, config in configs.items():
        print(f"bench: training throughput of {name}", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        learner = build_learner(config, build_model(config, task.vocabs, embeddings))
        chars = task.vocabs.chars if config.uses_chars else None
        batches = make_batches(split, config.batch_size, chars, np.random.default_rng(0))
        learner.start_epoch(1)
        learner.model.train()
        learner.train_step(batches[0])
        start = time.perf_counter()
        for batch in batches:
            learner.train_step(batch)
        seconds = time.perf_counter() - start
        results.append(
            {
                "model": name,
                "sentences": len(split),
                "seconds": seconds,
                "sentences_per_second": len(split) / seconds,
                "batch_size": config.batch_size,
                "inner_steps": config.inner_steps if config.kind == "spen" else None,
            }
        )
    return results
