"""The benchmark's peer decoders decode the same energy as our Viterbi."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch

from spen.bench import exact_decoders

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
PEERS = pytest.mark.skipif(
    find_spec("torchcrf") is None or find_spec("torch_struct") is None,
    reason="the peer decoders (the bench extra) are not installed",
)


@PEERS
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("seed", range(5))
def test_peers_find_our_viterbi_path(seed: int, device: str) -> None:
    generator = torch.Generator().manual_seed(seed)
    batch, seq_len, num_tags = 6, 7, 5
    emissions = torch.randn(batch, seq_len, num_tags, generator=generator).to(device)
    transitions = torch.randn(num_tags + 1, num_tags + 1, generator=generator).to(device)
    lengths = torch.tensor([7, 1, 2, 5, 7, 3], device=device)
    mask = torch.arange(seq_len, device=device)[None, :] < lengths[:, None]
    decoders = exact_decoders(transitions)
    ours = decoders["viterbi"](emissions, mask)
    for name in ("pytorch_crf", "torch_struct"):
        theirs = decoders[name](emissions, mask)
        assert torch.equal(theirs[mask], ours[mask]), name


def test_training_benchmark_times_every_model_on_the_same_sentences(project) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from spen.bench import training_benchmark
    from spen.cli import app
    from spen.config import load_params
    from spen.data.prepared import load_prepared

    for step in (["fetch", "pos"], ["preprocess", "pos"]):
        assert CliRunner().invoke(app, step).exit_code == 0
    params = load_params("params")
    models = ["bilstm", "compound_stacked", "compound_stacked_ge_c"]  # no tag LM pretrained
    configs = {m: params.run_config("pos", m, "paper", 1, "smoke") for m in models}
    rows = training_benchmark(load_prepared("data/pos"), configs, sentences=30, passes=2)
    assert [r["model"] for r in rows] == models
    assert all(r["sentences"] == 30 and r["sentences_per_second"] > 0 for r in rows)
    assert [r["batch_size"] for r in rows] == [configs[m].batch_size for m in models]
    assert all(r["device"] == "cpu" and r["cpu_seconds"] > 0 for r in rows)
    for r in rows:  # each pass timed on its own; the row's figures are their means
        assert r["passes"] == 2 and len(r["pass_seconds"]) == len(r["pass_cpu_seconds"]) == 2
        assert r["cpu_seconds"] == pytest.approx(sum(r["pass_cpu_seconds"]) / 2)
        assert r["seconds"] == pytest.approx(sum(r["pass_seconds"]) / 2)
        assert min(r["pass_cpu_seconds"]) > 0
    assert not any("peak_gpu_memory_mb" in r for r in rows)  # a GPU figure, on a GPU only
    if torch.cuda.is_available():
        on_gpu = training_benchmark(load_prepared("data/pos"), configs, 30, torch.device("cuda"))
        assert all(r["device"] == "cuda" and r["peak_gpu_memory_mb"] > 0 for r in on_gpu)

    from spen.bench import parameter_counts

    pairs = [(m, s) for m in ("bilstm", "compound_stacked") for s in ("paper", "plus")]
    built = {m: params.run_config("pos", m[0], m[1], 1, "smoke") for m in pairs}
    counts = {
        (c["model"], c["setting"]): c for c in parameter_counts(load_prepared("data/pos"), built)
    }
    for setting in ("paper", "plus"):
        local, spen = counts[("bilstm", setting)], counts[("compound_stacked", setting)]
        # A_Ψ is the local tagger's architecture: the same test-time count (the paper's |I|)
        assert spen["test_time_parameters"] == local["parameters"] == local["test_time_parameters"]
        assert spen["parameters"] > spen["test_time_parameters"]  # + Θ and F_Φ
    # plus fine-tunes the embeddings and adds a character CNN: more trainable parameters
    assert counts[("bilstm", "plus")]["parameters"] > counts[("bilstm", "paper")]["parameters"]

    # the command line: the training benchmark alone, of chosen models in another setting
    # (what scripts/gpu-check.sh runs side by side to see trainings share a GPU)
    args = ["bench", "pos", "--training-only", "--model", "bilstm", "--model", "compound_stacked"]
    args += ["--profile", "smoke"]
    done = CliRunner().invoke(app, [*args, "--setting", "plus", "--out", "alone.json"])
    assert done.exit_code == 0, done.output
    alone = json.loads(Path("alone.json").read_text())
    assert [r["model"] for r in alone["training"]] == ["bilstm@plus", "compound_stacked@plus"]
    assert {r["setting"] for r in alone["training"]} == {"plus"}
    assert "rows" not in alone and "parameters" not in alone and alone["device"] == "cpu"
    # a setting with encoder features reads them (here not computed: named, exit 2)
    missing = CliRunner().invoke(app, [*args, "--setting", "xfmr", "--out", "x.json"])
    assert missing.exit_code == 2 and "spen featurize" in missing.output, missing.output


def test_equal_step_variants_rerun_compound_models_at_the_other_step_counts() -> None:
    from dataclasses import replace

    from test_spen import tiny_config

    from spen.bench import equal_step_variants

    ge_c = {"kind": "tlm_c", "weight": 0.1}
    configs = {
        "bilstm": tiny_config(kind="local", objective=None),
        "compound_separated": tiny_config(inner_steps=1, hidden=100),
        "compound_stacked": tiny_config(inner_steps=10),
        "margin_rescaled": tiny_config(objective="margin_rescaled", inner_steps=1),
        "compound_stacked_ge_c": tiny_config(inner_steps=10, global_energy=ge_c),
    }
    variants = equal_step_variants(configs, [1, 10])
    assert variants == {
        "compound_separated@k=10": replace(configs["compound_separated"], inner_steps=10),
        "compound_stacked@k=1": replace(configs["compound_stacked"], inner_steps=1),
    }
    assert variants["compound_separated@k=10"].hidden == 100
    assert configs["compound_separated"].inner_steps == 1  # the originals are untouched
