"""fetch -> preprocess -> train -> decode -> score -> tag on slices of the real datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spen.cli import app
from spen.evaluation.decode import read_predictions
from spen.evaluation.metrics import token_accuracy
from tests.conftest import needs_shared_data

pytestmark = [needs_shared_data(), pytest.mark.slow]


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def add_profile(project: Path, name: str, overrides: dict) -> None:
    path = project / "params" / "profiles.yaml"
    profiles = yaml.safe_load(path.read_text())
    profiles[name] = {"seeds": [1], "overrides": overrides}
    path.write_text(yaml.safe_dump(profiles))


@pytest.mark.parametrize(
    ("task", "model", "setting", "overrides", "metric", "floor"),
    [
        # Majority tag (V) is about 15% of POS tokens; 5 epochs of the local BiLSTM pass 60%.
        ("pos", "bilstm", "paper", {"max_epochs": 5}, "accuracy", 60.0),
        # 600 NER sentences, 4 epochs of the BiLSTM-CRF with the char CNN find some entities.
        (
            "ner",
            "bilstm_crf",
            "plus",
            {"max_epochs": 4, "train_limit": 600, "dev_limit": 200, "test_limit": 300},
            "f1",
            10.0,
        ),
    ],
)
def test_pipeline_steps(
    project: Path, task: str, model: str, setting: str, overrides: dict, metric: str, floor: float
) -> None:
    add_profile(project, "e2e", overrides)
    run("fetch", task)
    summary = json.loads(run("preprocess", task))
    assert summary["sentences"]["train"] in {1327, 14041}
    run("train", task, model, setting, "--profile", "e2e", "--seed", "3", "--out", "run")
    history = [json.loads(line) for line in Path("run/metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == list(range(1, overrides["max_epochs"] + 1))
    run("decode", "run/best.pt", "--out", "test.conll")
    scores = json.loads(run("score", "test.conll", "--out", "test.json"))
    assert scores == json.loads(Path("test.json").read_text())
    gold, pred = read_predictions("test.conll")
    assert len(gold) == overrides.get("test_limit", 547)
    assert scores["accuracy"] == pytest.approx(token_accuracy(gold, pred))
    assert scores[metric] > floor
    assert ("per_type" in scores) == (task == "ner")

    tagged = run("tag", "run/best.pt", "--device", "cpu", input="Peter went to Paris\n\nok\n")
    sentences: list[list[str]] = [[]]
    for line in tagged.splitlines():
        if line:
            sentences[-1].append(line)
        else:
            sentences.append([])
    assert [len(s) for s in sentences[:3]] == [4, 0, 1]
    assert sentences[0][3].split("\t")[0] == "Paris"
    assert sentences[0][3].split("\t")[1] in set(pred[0]) | {t for s in gold for t in s}


def test_spen_decoders_and_analysis_agree(project: Path) -> None:
    add_profile(project, "e2e", {"max_epochs": 2, "train_limit": 200, "test_limit": 100})
    run("fetch", "pos")
    run("preprocess", "pos")
    run("pretrain-tlm", "pos", "--profile", "e2e", "--out", "models/pos/tlm/tlm_a.pt")
    run("train", "pos", "compound_stacked_ge_a", "paper", "--profile", "e2e", "--out", "run")
    analysis = json.loads(run("analyze", "run/best.pt", "--out", "analysis.json"))
    for decoder, found in analysis["decoders"].items():
        run("decode", "run/best.pt", "--decoder", decoder, "--out", f"{decoder}.conll")
        gold, pred = read_predictions(f"{decoder}.conll")
        assert found["scores"]["accuracy"] == pytest.approx(token_accuracy(gold, pred))
        assert found["energy_gap_mean"] >= -1e-4  # Viterbi is the minimum
    assert analysis["decoders"]["viterbi"]["energy_gap_mean"] == pytest.approx(0.0, abs=1e-4)
    assert analysis["energy_gap_relaxed_mean"] >= 0.0
    assert analysis["sentences"] == 100


def test_a_global_energy_checkpoint_tags_on_its_own(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GE(c) run's best.pt, copied alone into an empty folder (no tag LM, no data, no
    params), tags: the checkpoint carries every weight."""
    add_profile(project, "e2e", {"max_epochs": 1, "train_limit": 100, "dev_limit": 50})
    run("fetch", "pos")
    run("preprocess", "pos")
    lm = "models/pos/tlm/tlm_c-paper.pt"
    run("pretrain-tlm", "pos", "--kind", "tlm_c", "--profile", "e2e", "--out", lm)
    run("train", "pos", "compound_stacked_ge_c", "paper", "--profile", "e2e", "--out", "run")
    alone = tmp_path_factory.mktemp("alone")
    (alone / "best.pt").write_bytes(Path("run/best.pt").read_bytes())
    here = run("tag", "run/best.pt", "--device", "cpu", input="going to the game tonight\n")
    monkeypatch.chdir(alone)
    assert sorted(p.name for p in alone.iterdir()) == ["best.pt"]
    there = run("tag", "best.pt", "--device", "cpu", input="going to the game tonight\n")
    assert there == here
    assert [line.split("\t")[0] for line in there.splitlines() if line] == [
        "going",
        "to",
        "the",
        "game",
        "tonight",
    ]
