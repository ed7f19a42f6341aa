"""`spen export`: the test-time inference network as TorchScript and ONNX, whose outputs match
PyTorch's on inputs of other sizes than those it was traced with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from test_tagging import tiny_checkpoint
from typer.testing import CliRunner

from spen.cli import app
from spen.data.batches import char_ids
from spen.data.featurize import MissingExtraError
from spen.export import ExportableNetwork, export_onnx, export_torchscript
from spen.run_config import RunConfig
from spen.tagger import Tagger
from spen.training.checkpoint import restore_learner

CHARS = {"char_cnn": {"char_dim": 4, "filters": 3, "width": 3}}
FEATURES = {"features": {"encoder": "all-minilm-l6-v2", "layers": [1], "pooling": "mean", "dim": 5}}
MODELS = {
    "local": {"kind": "local"},
    "separated-chars": CHARS,
    "shared": {"parameterization": "shared"},
    "stacked-features": {"parameterization": "stacked", **FEATURES},
}
#: sizes other than those of the trace (`ExportableNetwork.example()`: 2 sentences, 4 words)
OTHER = {"lengths": (6, 1, 3), "word_len": 5}


def tagger_of(overrides: dict[str, object]) -> Tagger:
    """A Tagger of a tiny untrained model (built directly: the features model's encoder is
    not needed to export)."""
    state = tiny_checkpoint(**overrides)
    learner, vocabs = restore_learner(state, torch.device("cpu"))
    config = RunConfig.from_dict(state["config"])  # type: ignore[arg-type]
    return Tagger(learner, vocabs, torch.device("cpu"), config.uses_chars)


@pytest.fixture(params=list(MODELS))
def network(request: pytest.FixtureRequest) -> ExportableNetwork:
    return ExportableNetwork(tagger_of(MODELS[request.param]))


def reference(network: ExportableNetwork) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    inputs = network.example(**OTHER)
    with torch.no_grad():
        return inputs, network(*inputs)


def test_the_inputs_follow_the_input_setting(network: ExportableNetwork) -> None:
    expected = {
        "words",
        "mask",
        *(("chars",) if network.uses_chars else ()),
        *(("features",) if network.features_dim else ()),
    }
    assert set(network.input_names) == expected
    inputs, probs = reference(network)
    assert probs.shape == (3, 6, 3)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 6))


def test_torchscript_matches_pytorch(network: ExportableNetwork, tmp_path: Path) -> None:
    path = export_torchscript(network, tmp_path / "net.pt")
    inputs, expected = reference(network)
    with torch.no_grad():
        got = torch.jit.load(str(path))(*inputs)
    assert (got - expected).abs().max().item() < 1e-5


def test_onnx_matches_pytorch(network: ExportableNetwork, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    runtime = pytest.importorskip("onnxruntime")
    path = export_onnx(network, tmp_path / "net.onnx")
    inputs, expected = reference(network)
    session = runtime.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == list(network.input_names)
    (got,) = session.run(
        None, {n: x.numpy() for n, x in zip(network.input_names, inputs, strict=True)}
    )
    assert abs(got - expected.numpy()).max() < 1e-5


@pytest.mark.parametrize("name", ["local", "separated-chars"])
def test_the_network_is_the_one_the_tagger_reads(name: str) -> None:
    tagger = tagger_of(MODELS[name])
    network = ExportableNetwork(tagger)
    words = ["w3", "w4", "zz"]
    (sentence,) = tagger.predict([words])
    inputs = {
        "words": torch.tensor([[tagger.vocabs.words.index(w) for w in words]]),
        "mask": torch.ones(1, 3, dtype=torch.bool),
    }
    if network.uses_chars:
        ids = char_ids(words, tagger.vocabs.chars)
        width = max(map(len, ids))
        inputs["chars"] = torch.tensor([[row + [0] * (width - len(row)) for row in ids]])
    with torch.no_grad():
        probs = network(*(inputs[n] for n in network.input_names))
    expected = torch.tensor([list(t.distribution.values()) for t in sentence.tokens])
    torch.testing.assert_close(probs[0], expected)


@pytest.mark.parametrize("name", list(MODELS))
def test_only_the_test_time_network_is_exported(name: str, tmp_path: Path) -> None:
    tagger = tagger_of(MODELS[name])
    model = tagger.learner.model
    if name == "local":
        expected = sum(p.numel() for p in model.parameters())
    else:  # A_Ψ alone: neither F_Φ nor the energy
        kept = model.inference.test_time_modules()
        expected = sum(p.numel() for m in kept for p in m.parameters())
        assert expected < sum(p.numel() for p in model.parameters())
    traced = torch.jit.load(str(export_torchscript(ExportableNetwork(tagger), tmp_path / "a.pt")))
    assert sum(p.numel() for p in traced.parameters()) == expected


def test_a_crf_has_no_network_to_export() -> None:
    with pytest.raises(ValueError, match="a CRF has no test-time inference network"):
        ExportableNetwork(tagger_of({"kind": "crf"}))


def test_spen_export_writes_both_and_says_what_they_read(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    checkpoint = tmp_path / "best.pt"
    torch.save(tiny_checkpoint(**CHARS), checkpoint)
    onnx, script = tmp_path / "net.onnx", tmp_path / "net.pt"
    args = ["export", str(checkpoint), "--onnx", str(onnx), "--torchscript", str(script)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["inputs"] == ["words", "mask", "chars"]
    assert summary["tags"] == ["T0", "T1", "T2"]
    assert summary["written"] == [str(onnx), str(script)]
    assert onnx.stat().st_size > 0 and script.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "net.onnx", "net.pt"]


@pytest.mark.parametrize(
    ("overrides", "options", "words"),
    [
        ({}, [], "nothing to export: give --onnx OUT.onnx, --torchscript OUT.pt or both"),
        ({"kind": "crf"}, ["--torchscript", "net.pt"], "a CRF has no test-time inference"),
    ],
)
def test_spen_export_refuses_writing_nothing(
    tmp_path: Path, overrides: dict[str, object], options: list[str], words: str
) -> None:
    checkpoint = tmp_path / "best.pt"
    torch.save(tiny_checkpoint(**overrides), checkpoint)
    options = [str(tmp_path / o) if o.endswith(".pt") else o for o in options]
    result = CliRunner().invoke(app, ["export", str(checkpoint), *options])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"spen export: error: {words}")
    assert result.stderr.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_onnx_without_the_extra_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "best.pt"
    torch.save(tiny_checkpoint(), checkpoint)
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    args = ["export", str(checkpoint), "--onnx", str(tmp_path / "net.onnx")]
    result = CliRunner().invoke(app, [*args, "--torchscript", str(tmp_path / "net.pt")])
    assert result.exit_code == 2 and result.stdout == ""
    assert "pip install -e '.[export]'" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_a_features_model_exports_without_its_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported network reads the features; the encoder that makes them is not loaded."""
    checkpoint = tmp_path / "best.pt"
    torch.save(tiny_checkpoint(**FEATURES), checkpoint)
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the xfmr extra were missing
    args = ["export", str(checkpoint), "--torchscript", str(tmp_path / "net.pt")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"] == ["words", "mask", "features"]
    tagger = Tagger.load(checkpoint, "cpu")
    with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[xfmr\]'"):
        tagger.predict(["w1 w2"])
