"""A killed run resumes to the same result; the same seed gives the same weights; a NaN
loss stops training and keeps the last good checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from spen.cli import app
from spen.models.local import LocalTagger
from spen.training.checkpoint import load_checkpoint
from tests.conftest import needs_shared_data

pytestmark = [needs_shared_data(), pytest.mark.slow]
EPOCHS = 4


@pytest.fixture
def pos_project(project: Path) -> Path:
    profiles = yaml.safe_load((project / "params" / "profiles.yaml").read_text())
    profiles["short"] = {
        "seeds": [1],
        "overrides": {"max_epochs": EPOCHS, "train_limit": 600},
        "grid": {"lr_scale": [1]},  # the BiLSTM's grid: its 2 points at the optimizers' own rates
    }
    (project / "params" / "profiles.yaml").write_text(yaml.safe_dump(profiles))
    for step in (["fetch", "pos"], ["preprocess", "pos"]):
        result = CliRunner().invoke(app, step)
        assert result.exit_code == 0, result.output
    return project


def train_command(out: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spen",
        "train",
        "pos",
        "bilstm",
        "paper",
        "--profile",
        "short",
        "--device",
        "cpu",
        "--out",
        out,
    ]


def finish(out: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(train_command(out), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def dev_curve(out: str) -> list[float]:
    return [json.loads(line)["dev"] for line in Path(out, "metrics.jsonl").read_text().splitlines()]


def test_killed_run_resumes_to_the_uninterrupted_result(pos_project: Path) -> None:
    reference = finish("whole")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    victim = subprocess.Popen(
        train_command("killed"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    resume = Path("killed/resume/last.pt")
    deadline = time.monotonic() + 600  # a safety net: on a loaded machine the first epoch is slow
    while not resume.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # into the second epoch
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    epochs_done = len(load_checkpoint(resume)["history"])
    assert 1 <= epochs_done < EPOCHS, "the kill should land mid-run"
    done = subprocess.run(train_command("killed"), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"resuming after epoch {epochs_done}" in done.stderr  # not a fresh start
    resumed = json.loads(done.stdout)
    assert dev_curve("killed") == dev_curve("whole")
    assert resumed["weights_sha256"] == reference["weights_sha256"]
    assert not list(Path("killed").glob(".*.tmp")), "no temporary file left behind"


def test_same_seed_same_weights_other_seed_other_weights(pos_project: Path) -> None:
    first, second = finish("a"), finish("b")
    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["cpu_kernels"] in ("AVX2", "DEFAULT")  # held to AVX2 whatever the CPU has
    assert dev_curve("a") == dev_curve("b")
    # the same bytes: every output but the wall-clock figures (what DVC hashes stays put)
    for name in ("best.pt", "metrics.jsonl", "train.json"):
        assert Path("a", name).read_bytes() == Path("b", name).read_bytes(), name
    timings = json.loads(Path("a", "timings.json").read_text())
    assert [t["epoch"] for t in timings["epochs"]] == list(range(1, EPOCHS + 1))
    assert timings["peak_rss_mb"] > 0
    other = subprocess.run([*train_command("c"), "--seed", "2"], capture_output=True, text=True)
    assert json.loads(other.stdout)["weights_sha256"] != first["weights_sha256"]


def poison_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, the BiLSTM's loss turns NaN at the 3rd batch of the 2nd epoch (60 batches
    an epoch) of the next training."""
    calls = {"n": 0}
    original = LocalTagger.loss

    def poisoned(self: LocalTagger, batch):  # noqa: ANN001
        calls["n"] += 1
        loss = original(self, batch)
        return loss * float("nan") if calls["n"] == 60 + 3 else loss  # epoch 2, batch 3

    monkeypatch.setattr(LocalTagger, "loss", poisoned)


@pytest.fixture
def nan_at_epoch_2_batch_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """The BiLSTM's loss turns NaN at the 3rd batch of the 2nd epoch."""
    poison_loss(monkeypatch)


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(
    pos_project: Path, nan_at_epoch_2_batch_3: None
) -> None:
    result = CliRunner().invoke(
        app, ["train", "pos", "bilstm", "paper", "--profile", "short", "--out", "run"]
    )
    assert result.exit_code == 2
    assert "epoch 2, batch 3" in result.output and "nan" in result.output
    kept = load_checkpoint("run/resume/last.pt")
    assert [r["epoch"] for r in kept["history"]] == [1]
    assert all(torch.isfinite(t).all() for t in kept["model"].values() if t.is_floating_point())


def test_a_diverging_grid_point_stops_and_records_why(
    pos_project: Path, nan_at_epoch_2_batch_3: None
) -> None:
    """In a tuning run (`--point`) a NaN loss is an outcome: training ends, the epochs before
    it stand, and train.json says why it stopped (exit 0)."""
    args = ["train", "pos", "bilstm", "paper", "--profile", "short", "--point", "sgd"]
    result = CliRunner().invoke(app, [*args, "--out", "point"])
    assert result.exit_code == 0, result.output
    summary = json.loads(Path("point/train.json").read_text())
    assert summary["epochs"] == 1 and summary["best_epoch"] == 1
    assert "numerical fault: epoch 2, batch 3" in summary["stopped"]
    config = load_checkpoint("point/best.pt")["config"]
    assert config["optimizer"] == {"name": "sgd", "lr": 0.05, "momentum": 0.9}


def test_pruning_probes_then_stops_the_pruned_and_continues_the_kept_exactly(
    pos_project: Path,
) -> None:
    """A pruning rule on a 2-point grid keeping 1: both points probe 1 epoch, one is pruned
    (its train.json: 1 epoch, says so), the other goes on from its probe's resume state to the
    very weights of an uninterrupted run; probed again, it reads its own epoch only."""
    path = pos_project / "params" / "tuning.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["pruning"]["pos"] = {"probe_epochs": 1, "keep": 1}
    path.write_text(yaml.safe_dump(spec))
    base = ["train", "pos", "bilstm", "paper", "--profile", "short"]
    for point in ("sgd", "adam"):
        probe = [*base, "--point", point, "--probe", f"probe/{point}.json", "--out", point]
        result = CliRunner().invoke(app, probe)
        assert result.exit_code == 0, result.output
        assert json.loads(Path(f"probe/{point}.json").read_text())["epochs"] == 1
    prune = ["tune-prune", "pos", "bilstm", "paper", "probe/sgd.json", "probe/adam.json"]
    result = CliRunner().invoke(app, [*prune, "--profile", "short", "--out", "pruning.json"])
    assert result.exit_code == 0, result.output
    record = json.loads(Path("pruning.json").read_text())
    (kept,) = record["kept"]
    (pruned,) = {"sgd", "adam"} - {kept}
    devs = record["probe_dev"]
    assert devs[kept] >= devs[pruned]
    for point in (pruned, kept):
        args = [*base, "--point", point, "--pruning", "pruning.json", "--out", point]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    stopped = json.loads(Path(pruned, "train.json").read_text())
    assert stopped["epochs"] == 1 and stopped["stopped"].startswith("pruned after 1 epochs")
    went_on = json.loads(Path(kept, "train.json").read_text())
    assert went_on["epochs"] == EPOCHS and "stopped" not in went_on
    whole = [*base, "--point", kept, "--out", "whole"]
    assert CliRunner().invoke(app, whole).exit_code == 0
    reference = json.loads(Path("whole", "train.json").read_text())
    assert went_on["weights_sha256"] == reference["weights_sha256"]
    # the probe again (as after a change of `keep`), over the kept point's full-length state:
    # its figures are those of its own epoch, never the longer run's
    again = [*base, "--point", kept, "--probe", "probe/again.json", "--out", kept]
    assert CliRunner().invoke(app, again).exit_code == 0
    probed_again = json.loads(Path("probe/again.json").read_text())
    assert probed_again["epochs"] == 1 and probed_again["dev"] == devs[kept]


def _tune_bilstm(base: list[str]) -> str:
    """Train the BiLSTM's two grid points as the pipeline does (each summary in `points/`,
    its checkpoints in its run directory), choose into record.json; the chosen point."""
    summaries = [f"points/{p}.json" for p in ("sgd", "adam")]
    for point, summary in zip(("sgd", "adam"), summaries, strict=True):
        run_dir = f"models/bilstm-paper/tune/{point}"
        args = [*base, "--point", point, "--out", run_dir, "--summary", summary]
        assert CliRunner().invoke(app, args).exit_code == 0
        assert not Path(run_dir, "train.json").exists()  # the summary went where it was told
    select = ["tune-select", "pos", "bilstm", "paper", *summaries, "--out", "record.json"]
    assert CliRunner().invoke(app, [*select, "--profile", "short"]).exit_code == 0
    return str(json.loads(Path("record.json").read_text())["chosen"])


def test_the_tuning_seeds_main_run_goes_on_from_the_chosen_point(
    pos_project: Path,
) -> None:
    """The main run of the tuning seed has the chosen grid point's very configuration: it
    starts from that point's end state, trains no epoch and writes the files a run from
    scratch writes (its timings are the point's); a run with no chosen point beside it, or
    another seed, trains its own."""
    base = ["train", "pos", "bilstm", "paper", "--profile", "short"]
    chosen_name = _tune_bilstm(base)
    chosen = Path("models/bilstm-paper/tune", chosen_name)
    main = [*base, "--tuned", "record.json", "--out", "models/bilstm-paper/seed1"]
    result = CliRunner().invoke(app, main)
    assert result.exit_code == 0 and "taken from" in result.stderr
    for name in ("best.pt", "metrics.jsonl"):
        assert Path("models/bilstm-paper/seed1", name).read_bytes() == (chosen / name).read_bytes()
    main_summary = Path("models/bilstm-paper/seed1/train.json").read_bytes()
    assert main_summary == Path("points", f"{chosen_name}.json").read_bytes()
    record = json.loads(Path("record.json").read_text())
    summary = json.loads(Path("models/bilstm-paper/seed1/train.json").read_text())
    assert summary["tuning"] == record["overrides"]  # the run names what tuning gave it
    timings = [
        json.loads(Path(d, "timings.json").read_text())["epochs"]
        for d in (chosen, "models/bilstm-paper/seed1")
    ]
    assert timings[0] == timings[1], "no epoch trained again"
    alone = [*base, "--tuned", "record.json", "--out", "elsewhere/bilstm-paper/seed1"]
    result = CliRunner().invoke(app, alone)
    assert result.exit_code == 0 and "taken from" not in result.stderr
    assert (
        Path("elsewhere/bilstm-paper/seed1/best.pt").read_bytes()
        == (chosen / "best.pt").read_bytes()
    )
    other = [*base, "--tuned", "record.json", "--seed", "2", "--out", "models/bilstm-paper/seed2"]
    result = CliRunner().invoke(app, other)
    assert result.exit_code == 0 and "taken from" not in result.stderr


def test_a_stale_resume_state_of_an_earlier_choice_does_not_block_the_takeover(
    pos_project: Path,
) -> None:
    """The tuning seed's main run directory still holds the resume state of the row's earlier
    choice (another configuration, as after its grid was widened): the chosen point's state
    replaces it, and no epoch is trained again."""
    base = ["train", "pos", "bilstm", "paper", "--profile", "short"]
    chosen_name = _tune_bilstm(base)
    other = next(p for p in ("sgd", "adam") if p != chosen_name)
    run_dir = Path("models/bilstm-paper/seed1")
    earlier = [*base, "--point", other, "--out", str(run_dir)]
    assert CliRunner().invoke(app, earlier).exit_code == 0
    result = CliRunner().invoke(app, [*base, "--tuned", "record.json", "--out", str(run_dir)])
    assert result.exit_code == 0 and "taken from" in result.stderr
    chosen = Path("models/bilstm-paper/tune", chosen_name)
    assert (run_dir / "best.pt").read_bytes() == (chosen / "best.pt").read_bytes()
    timings = [json.loads(Path(d, "timings.json").read_text())["epochs"] for d in (chosen, run_dir)]
    assert timings[0] == timings[1], "no epoch trained again"


def test_a_main_run_of_a_tuned_row_stops_on_divergence_as_its_grid_points_do(
    pos_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run given a tuning record (`--tuned`) judges a NaN loss as its row's grid points do:
    it ends there, its epochs before stand, and train.json says why (exit 0)."""
    base = ["train", "pos", "bilstm", "paper", "--profile", "short"]
    _tune_bilstm(base)
    poison_loss(monkeypatch)
    main = [*base, "--tuned", "record.json", "--seed", "2", "--out", "models/bilstm-paper/seed2"]
    result = CliRunner().invoke(app, main)
    assert result.exit_code == 0, result.output
    summary = json.loads(Path("models/bilstm-paper/seed2/train.json").read_text())
    assert summary["epochs"] == 1 and summary["best_epoch"] == 1
    assert "numerical fault: epoch 2, batch 3" in summary["stopped"]
