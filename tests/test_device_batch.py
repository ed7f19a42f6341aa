"""The device batch (spen/device_batch.py): what it packs and refuses, what comes back within
the lender's limits, and what unpacking accepts. The whole pack -> run -> unpack sequence runs
in .ci/device-rehearsal.sh (CI), on the smoke profile."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spen import device_batch as db
from spen import layout, tuning, wheels
from spen.cli import app
from spen.config import load_params
from spen.report.collect import load_devices
from tests.conftest import REPO


def test_the_committed_spec_loads_and_names_known_groups() -> None:
    spec = db.load_spec(REPO / db.SPEC)
    params = load_params(REPO / "params")
    assert spec.files_back == 8 and spec.travel_mib == 64 and "torch" in spec.image
    groups = [db.Group.parse(g, "spec") for g in spec.priority]
    assert groups[0] == db.Group("ner", "bilstm", "plus")
    assert all(db.profile_runs(params, "paper", g) for g in groups)


def test_a_broken_spec_names_its_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "spec.yaml"
    bad.write_text("limits:\n  travel_mib: 64\n  files_back: [8\n")
    with pytest.raises(db.BatchError, match=r"spec.yaml, line \d+: not YAML"):
        db.load_spec(bad)
    bad.write_text("limits: {travel_mib: 64}\n")
    with pytest.raises(db.BatchError, match="spec.yaml: expected limits"):
        db.load_spec(bad)


def test_a_group_is_task_model_setting() -> None:
    assert db.Group.parse("ner/compound_stacked_ge_c-plus", "x").model == "compound_stacked_ge_c"
    for text in ("ner", "ner/bilstm", "/bilstm-plus"):
        with pytest.raises(db.BatchError, match="is not TASK/MODEL-SETTING"):
            db.Group.parse(text, "--group")


def test_groups_done_under_the_protocol_are_skipped() -> None:
    """From the committed results: POS paper's BiLSTM is done, NER plus compound-separated's
    runs predate the protocol (so it is still to do)."""
    done = db.finished_groups(REPO / layout.SUMMARY, REPO)
    assert "pos/bilstm-paper" in done and "ner/compound_separated-plus" not in done
    params = load_params(REPO / "params")
    asked = [db.Group("pos", "bilstm", "paper"), db.Group("ner", "compound_separated", "plus")]
    assert db.todo(params, "paper", asked, done) == [asked[1]]
    with pytest.raises(db.BatchError, match="the profile 'smoke' runs no such group"):
        db.todo(params, "smoke", [db.Group("ner", "perceptron", "plus")], done)


def _project(tmp_path: Path, data_bytes: int) -> tuple[Path, Path]:
    """A git checkout with params/ and NER's prepared files (`data_bytes` each, random: they
    do not compress), and a folder with a stand-in wheel for every distribution a batch
    carries."""
    repo = tmp_path / "repo"
    (repo / "data" / "ner").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(REPO / "params"), str(repo / "params")], check=True)
    (repo / ".gitignore").write_text("/data/\n/batch*\n")
    for name in layout.PREPARED_FILES:
        (repo / "data" / "ner" / name).write_bytes(_noise(data_bytes))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "params"], cwd=repo, check=True)
    spec = db.load_spec(REPO / db.SPEC)
    found = tmp_path / "wheels"
    found.mkdir()
    for name, version in wheels.closure(
        wheels.requirements(), spec.image | spec.left_behind
    ).items():
        (found / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"w")
    return repo, found


def _noise(size: int) -> bytes:
    import random

    return random.Random(size).randbytes(size)


def test_a_batch_that_would_not_travel_is_refused_with_its_size(tmp_path: Path) -> None:
    repo, found = _project(tmp_path, 400_000)
    params = load_params(repo / "params")
    spec = db.load_spec(REPO / db.SPEC)
    small = db.Spec(**{**spec.__dict__, "travel_mib": 2.0})
    group = [db.Group("ner", "compound_shared", "plus")]
    with pytest.raises(db.BatchError, match=r"batch is 2\.\d MiB .* over the 2 MiB that travel"):
        db.pack(repo, params, "paper", group, repo / "batch", small, found)
    assert not (repo / "batch").exists()  # nothing half-written
    batch = db.pack(repo, params, "paper", group, repo / "batch", spec, found)
    assert batch["targets"][:2] == [
        "results/ner/compound_shared-plus/seed1/test.json",
        "results/ner/compound_shared-plus/seed1/analysis.json",
    ]
    assert len(batch["targets"]) == 9 and batch["features"] == [] and batch["stale"] == []
    assert batch["raw_dirs"] == ["data/raw/conll2003"]
    with tarfile.open(repo / "batch" / db.DATA) as tar:
        assert sorted(tar.getnames()) == sorted(f"data/ner/{n}" for n in layout.PREPARED_FILES)


def test_a_batch_missing_its_data_names_the_file(tmp_path: Path) -> None:
    repo, found = _project(tmp_path, 10)
    (repo / "data" / "ner" / "vocab.json").unlink()
    params = load_params(repo / "params")
    with pytest.raises(db.BatchError, match="data/ner/vocab.json: missing; build the data"):
        db.pack(
            repo, params, "paper", [db.Group("ner", "bilstm", "plus")], repo / "batch",
            db.load_spec(REPO / db.SPEC), found,
        )  # fmt: skip


def test_what_comes_back_keeps_to_the_lenders_limits(tmp_path: Path) -> None:
    """Resume states first, archives of at most the per-file size, no more files than
    allowed: what does not fit is named as left there."""
    root = tmp_path / "root"
    (root / "results" / "ner").mkdir(parents=True)
    (root / "results" / "ner" / "old.json").write_text("{}")
    before = db.digests(root)
    (root / "results" / "ner" / "test.json").write_text('{"f1": 1}')
    mib = 1 << 20
    for name in ("a/seed1/best.pt", "a/seed1/resume/last.pt", "b/seed1/best.pt", "c/best.pt"):
        path = root / "models" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_noise(3 * mib))
    limits = {"files_back": 4, "file_mib": 7, "back_mib": 64}
    sent = db.collect(root, before, tmp_path / "out", limits, reserved=2)
    archives = sorted((tmp_path / "out").glob("checkpoints-*.tar"))
    assert len(archives) == 1 and archives[0].stat().st_size <= 7 * mib
    assert sent["checkpoints_back"][0] == "models/a/seed1/resume/last.pt"
    assert len(sent["checkpoints_back"]) == 2 and len(sent["checkpoints_left"]) == 2
    with tarfile.open(tmp_path / "out" / db.RESULTS_BACK) as tar:
        assert tar.getnames() == ["results/ner/test.json"]  # the unchanged file stays


def test_fewest_runs_within_reach_of_the_best() -> None:
    rows = [
        {"runs": 1, "sentences_per_second_total": 100.0},
        {"runs": 4, "sentences_per_second_total": 380.0},
        {"runs": 8, "sentences_per_second_total": 395.0},
        {"runs": 16, "sentences_per_second_total": 400.0},
    ]
    assert db.fewest_enough(rows) == 4
    assert db.fewest_enough(rows, enough=0.98) == 8
    assert db.fewest_enough([]) is None


def _back(folder: Path, members: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    record = {"device": "NVIDIA H200", "runs_finished": ["ner/bilstm-plus/seed1"]}
    record["batch"] = {"root": ".", "packed": "2026-12-04T10:00:00Z"}
    (folder / db.RECORD_BACK).write_text(json.dumps(record))
    with tarfile.open(folder / db.RESULTS_BACK, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return folder


def test_unpack_puts_results_in_place_and_records_the_device(tmp_path: Path) -> None:
    back = _back(tmp_path / "back", {"results/ner/bilstm-plus/seed1/test.json": b"{}"})
    repo = tmp_path / "repo"
    repo.mkdir()
    record = db.unpack(back, repo)
    assert (repo / "results/ner/bilstm-plus/seed1/test.json").read_bytes() == b"{}"
    assert record["unpacked_files"] == 1
    assert load_devices(repo) == {"ner/bilstm-plus/seed1": "NVIDIA H200"}


@pytest.mark.parametrize("bad", ["../outside.json", "/etc/passwd", "data/ner/train.arrow"])
def test_unpack_refuses_a_member_outside_its_trees_and_writes_nothing(
    tmp_path: Path, bad: str
) -> None:
    back = _back(tmp_path / "back", {"results/ok.json": b"{}", bad: b"x"})
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(db.BatchError, match="is not a file below results/"):
        db.unpack(back, repo)
    assert list(repo.iterdir()) == []


def test_unpack_of_a_folder_that_is_no_batch_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["device-unpack", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path}: no batch-record.json; not what a device batch brings back" in (
        " ".join(result.output.split())
    )


def test_unfinished_trainings_travel_with_their_resume_states_as_fit(tmp_path: Path) -> None:
    """A batch cut at its deadline brought resume states back: the next one carries them
    (its groups' first), as many as the room allows."""
    states = [
        "models/ner/compound_shared-plus/tune/adam_l1_k1/resume/last.pt",
        "models/ner/compound_shared-plus/tune/adam_l1_k5/resume/last.pt",
        "models/ner/perceptron-plus/seed2/resume/last.pt",
    ]
    for name in states:
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_bytes(_noise(1000))
    groups = [db.Group("ner", "perceptron", "plus"), db.Group("ner", "compound_shared", "plus")]
    archive = tmp_path / "resume.tar"
    assert db.carry_resume_states(tmp_path, groups, archive, 4100) == [states[2], states[0]]
    with tarfile.open(archive) as tar:
        assert tar.getnames() == [states[2], states[0]]
    assert db.carry_resume_states(tmp_path, groups, archive, 100) == []
    assert not archive.exists()


def test_a_batch_drops_the_tuning_files_of_a_grid_widened_since(tmp_path: Path) -> None:
    """NER's BiLSTM grid is 12 points now: a record of its old 2 points, with their
    summaries, is dropped there (and its grid trained anew); a record of today's 12 points,
    and a model the protocol does not tune, are left alone."""
    repo, found = _project(tmp_path, 10)
    params = load_params(repo / "params")
    tuning_dir = repo / "results" / "tuning" / "ner"
    old = {"profile": "paper", "points": {"sgd": {}, "adam": {}}}
    (tuning_dir / "points" / "bilstm-plus").mkdir(parents=True)
    (tuning_dir / "bilstm-plus.json").write_text(json.dumps(old))
    for point in old["points"]:
        (tuning_dir / "points" / "bilstm-plus" / f"{point}.json").write_text("{}")
    names = [p.name for p in tuning.grid(params, "bilstm_crf", "paper", "ner")]
    current = {"profile": "paper", "points": {name: {} for name in names}}
    (tuning_dir / "bilstm_crf-plus.json").write_text(json.dumps(current))
    groups = [
        db.Group("ner", "bilstm", "plus"),
        db.Group("ner", "bilstm_crf", "plus"),
        db.Group("ner", "bilstm_sgd", "paper"),
    ]
    batch = db.pack(
        repo, params, "paper", groups, repo / "batch", db.load_spec(REPO / db.SPEC), found
    )
    assert batch["stale"] == [
        "results/tuning/ner/bilstm-plus.json",
        "results/tuning/ner/points/bilstm-plus/adam.json",
        "results/tuning/ner/points/bilstm-plus/sgd.json",
    ]


def test_groups_scored_before_per_sentence_counts_can_be_retrained(tmp_path: Path) -> None:
    """A group with one run whose scores keep no per-sentence counts is named (--recount
    packs it although it is done); a group whose runs all keep them, or that has no runs
    here, is not."""
    repo, _ = _project(tmp_path, 10)
    params = load_params(repo / "params")
    counted = {"f1": 80.0, "per_sentence": {"tokens": "3 4"}}
    for model, seeds_without in (("compound_shared", {2}), ("bilstm", set())):
        for seed in (1, 2, 3):
            run = repo / "results" / "ner" / f"{model}-paper" / f"seed{seed}"
            run.mkdir(parents=True)
            scores = {"f1": 80.0} if seed in seeds_without else counted
            (run / "test.json").write_text(json.dumps(scores))
    groups = [db.Group("ner", m, "paper") for m in ("compound_shared", "bilstm", "bilstm_crf")]
    assert db.lacking_counts(repo, params, "paper", groups) == ["ner/compound_shared-paper"]
