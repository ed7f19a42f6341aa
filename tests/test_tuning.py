"""The tuning protocol: grids from params/tuning.yaml, the choice on dev, and how the choice
reaches a run's configuration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spen import tuning
from spen.cli import app
from spen.config import ParamsError, load_params
from spen.run_config import OptimizerConfig

REPO = Path(__file__).resolve().parents[1]
SGD = {"name": "sgd", "lr": 0.05, "momentum": 0.9}
ADAM = {"name": "adam", "lr": 0.001}


@pytest.fixture(scope="module")
def params():  # noqa: ANN201
    return load_params(REPO / "params")


def test_compound_grid_is_optimizer_by_lambda_by_k(params) -> None:  # noqa: ANN001
    names = [p.name for p in tuning.grid(params, "compound_stacked", "paper", "pos")]
    assert len(names) == 12 and len(set(names)) == 12
    assert names[0] == "sgd_l1_k1" and names[-1] == "adam_l10_k10"
    untuned_by_task = replace(params, tuning={**params.tuning, "tuned_by_task": {}})
    assert [p.name for p in tuning.grid(untuned_by_task, "bilstm", "paper", "ner")] == [
        "sgd",
        "adam",
    ]
    assert len(tuning.grid(params, "bilstm", "paper", "ner")) == 12


def test_a_task_can_tune_a_row_on_a_grid_of_the_compound_rows_size(params) -> None:  # noqa: ANN001
    """Equal search budgets: `tuned_by_task` puts POS's BiLSTM, CRF and 2018 rows on
    `supervised_wide` (optimizer x six learning rates, 12 points as the compound rows'); the
    point at the optimizer's own rate keeps the optimizer's name, NER keeps its grid."""
    wide = replace(params, tuning={**params.tuning, "tuned_by_task": {"pos": {
        m: "supervised_wide" for m in ("bilstm", "bilstm_crf", "margin_rescaled", "perceptron")
    }}})  # fmt: skip
    sizes = {m: len(tuning.grid(wide, m, "paper", "pos")) for m in wide.tuning["tuned"]}
    assert set(sizes.values()) == {12}, sizes
    assert len(tuning.grid(wide, "bilstm", "paper", "ner")) == 2
    names = [p.name for p in tuning.grid(wide, "bilstm_crf", "paper", "pos")]
    assert {"sgd", "adam"} <= set(names) and "adam_r0p25" in names and "sgd_r8" in names
    point = tuning.point(wide, "perceptron", "paper", "adam_r4", "pos")
    scaled = {**ADAM, "lr": 0.004}
    assert point.overrides(wide, "spen", "perceptron") == {
        "inference_optimizer": scaled,
        "retune_optimizer": scaled,
    }
    assert tuning.point(wide, "bilstm", "paper", "adam", "pos").overrides(wide, "local", None) == {
        "optimizer": ADAM
    }


def test_a_profile_narrows_the_grid(params) -> None:  # noqa: ANN001
    assert [p.name for p in tuning.grid(params, "compound_shared", "smoke", "pos")] == [
        "sgd_l10_k1",
        "adam_l10_k1",
    ]
    assert len(tuning.grid(params, "bilstm", "smoke", "pos")) == 2  # lr_scale narrowed to 1


def test_the_optimizer_axis_sets_the_tag_producing_networks_optimizer(params) -> None:  # noqa: ANN001
    sgd = tuning.point(params, "bilstm", "paper", "sgd", "ner")
    assert sgd.overrides(params, "local", None) == {"optimizer": SGD}
    assert sgd.overrides(params, "spen", "margin_rescaled") == {
        "inference_optimizer": SGD,
        "retune_optimizer": SGD,
    }
    point = tuning.point(params, "compound_stacked", "paper", "adam_l10_k5", "pos")
    assert point.overrides(params, "spen", "compound") == {
        "inference_optimizer": ADAM,
        "compound_weight": 10,
        "inner_steps": 5,
    }
    with pytest.raises(ParamsError, match="not a grid point of 'bilstm'; its points: sgd_r0p25, "):
        tuning.point(params, "bilstm", "paper", "adam_l1_k1", "ner")


def test_choose_takes_the_best_dev_first_of_equals_never_a_diverged_point() -> None:
    points = {"a": {"dev": 80.0}, "b": {"dev": 81.5}, "c": {"dev": 81.5}, "d": {"dev": None}}
    assert tuning.choose(points) == "b"
    assert tuning.choose({"x": {"dev": None}, "y": {"dev": 10.0}}) == "y"
    with pytest.raises(ValueError, match="every one diverged"):
        tuning.choose({"x": {"dev": None}})
    with pytest.raises(ValueError, match="not a finite number"):
        tuning.choose({"x": {"dev": float("nan")}})


def test_leaders(params) -> None:  # noqa: ANN001
    assert tuning.leader(params, "compound_stacked") == "compound_stacked"
    assert tuning.leader(params, "control_ce_stacked") == "compound_stacked"
    assert tuning.leader(params, "compound_stacked_ge_c") == "compound_stacked"
    assert tuning.leader(params, "bilstm_sgd") is None


def test_the_choice_sits_above_the_model_entry_and_below_the_profile(params) -> None:  # noqa: ANN001
    chosen = {"inner_steps": 5, "compound_weight": 10, "inference_optimizer": ADAM}
    config = params.run_config("pos", "compound_separated", "paper", 1, "smoke", chosen)
    assert config.inner_steps == 5  # the model entry says 10
    assert config.inference_optimizer == OptimizerConfig(**ADAM)  # the model entry says SGD
    assert config.test_time_cost is True  # untouched by the choice
    assert config.max_epochs == 1  # the smoke profile's override still wins
    control = params.run_config("pos", "control_ce_stacked", "paper", 1, "paper", chosen)
    assert control.objective == "cross_entropy" and control.inner_steps == 5


def _summary(tmp_path: Path, point: str, dev: float | None) -> Path:
    path = tmp_path / "points" / f"{point}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dev": dev, "best_epoch": 3, "epochs": 9}))
    return path


def _supervised_params(project: Path) -> str:
    """The project's params with every row on the grid `tuned` names (BiLSTM: sgd, adam)."""
    path = project / "params" / "tuning.yaml"
    spec = yaml.safe_load(path.read_text())
    spec.pop("tuned_by_task")
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(project / "params")


def test_tune_select_writes_every_point_and_the_choice(tmp_path: Path, project: Path) -> None:
    paths = [_summary(tmp_path, p, dev) for p, dev in (("sgd", 80.0), ("adam", 82.25))]
    out = tmp_path / "record.json"
    args = ["tune-select", "ner", "bilstm", "paper", *map(str, paths), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--params", _supervised_params(project)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["chosen"] == "adam" and record["overrides"] == {"optimizer": ADAM}
    assert record["points"]["sgd"]["dev"] == 80.0 and record["seed"] == 1
    assert tuning.chosen_overrides(out) == {"optimizer": ADAM}


def test_tune_select_refuses_a_missing_or_foreign_point(tmp_path: Path, project: Path) -> None:
    one = _summary(tmp_path, "sgd", 80.0)
    args = ["tune-select", "ner", "bilstm", "paper", str(one), "--out", str(tmp_path / "r.json")]
    supervised = _supervised_params(project)
    result = CliRunner().invoke(app, [*args, "--params", supervised])
    assert result.exit_code == 2 and "grid point 'adam'" in result.output
    assert not (tmp_path / "r.json").exists()
    extra = _summary(tmp_path, "adam_l1_k1", 80.0)
    args[5:5] = [str(_summary(tmp_path, "adam", 1.0)), str(extra)]
    result = CliRunner().invoke(app, [*args, "--params", supervised])
    assert result.exit_code == 2 and "not grid points of 'bilstm'" in result.output


def test_train_takes_a_point_or_a_choice_not_both(tmp_path: Path) -> None:
    args = ["train", "pos", "bilstm", "paper", "--point", "sgd", "--tuned", "x.json"]
    result = CliRunner().invoke(app, [*args, "--params", str(REPO / "params")])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_params_refuse_a_follower_of_an_untuned_model(project: Path) -> None:
    path = project / "params" / "tuning.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["follows"]["control_ce_stacked"] = "bilstm_sgd"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(
        ParamsError, match=r"follows\.control_ce_stacked: unknown name 'bilstm_sgd'"
    ):
        load_params(project / "params")


def test_pruning_keeps_the_best_probes_grid_order_on_ties_diverged_last() -> None:
    probes = {"a": 70.0, "b": None, "c": 75.0, "d": 70.0, "e": 60.0}
    assert tuning.prune(probes, 2) == ["a", "c"]  # c best; a before d (grid order) on the tie
    assert tuning.prune(probes, 4) == ["a", "c", "d", "e"]  # b diverged: last
    assert tuning.prune({"x": None}, 1) == ["x"]


def test_the_pruning_rule_applies_per_task_and_only_to_larger_grids(params) -> None:  # noqa: ANN001
    assert tuning.pruning(params, "pos", "compound_stacked", "paper") is None  # POS: no rule
    rule = tuning.pruning(params, "ner", "compound_stacked", "paper")
    assert rule == params.tuning["pruning"]["ner"] and rule["keep"] < 12
    assert tuning.pruning(params, "ner", "bilstm", "paper") == rule  # 12 points, the same rule
    assert tuning.pruning(params, "ner", "bilstm", "smoke") is None  # 2 points <= keep


def test_a_pruning_record_says_who_stops_when(tmp_path: Path) -> None:
    path = tmp_path / "pruning.json"
    path.write_text(
        json.dumps({"probe_epochs": 3, "probe_dev": {"a": 1.0, "b": 2.0}, "kept": ["b"]})
    )
    assert tuning.pruned_after(path, "a") == 3 and tuning.pruned_after(path, "b") is None
    with pytest.raises(ValueError, match="no grid point 'c'"):
        tuning.pruned_after(path, "c")
