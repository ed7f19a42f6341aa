"""The projected wall time (`spen project-time`): the scheduler on cases worked by hand and
within its bounds on random graphs, the cost model's interpolation and calibration by hand."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from spen import tuning
from spen.config import load_params
from spen.projection import Costs, Job, pipeline_jobs, project, wall_time

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("jobs", "workers", "expected"),
    [
        ([Job("a", "s", 1), Job("b", "s", 2, ("a",)), Job("c", "s", 3, ("b",))], 2, 6.0),
        ([Job(n, "s", 1) for n in "abcd"], 2, 2.0),
        # the long job first: 3 on one worker, the three short ones on the other
        ([Job("a", "s", 1), Job("b", "s", 1), Job("c", "s", 1), Job("d", "s", 3)], 2, 3.0),
        # a diamond: 1, then 2 and 3 side by side, then 1
        (
            [
                Job("a", "s", 1),
                Job("b", "s", 2, ("a",)),
                Job("c", "s", 3, ("a",)),
                Job("d", "s", 1, ("b", "c")),
            ],
            2,
            5.0,
        ),  # fmt: skip
        ([Job(n, "s", t) for n, t in zip("abc", (1, 2, 3), strict=True)], 1, 6.0),
    ],
)
def test_wall_time_by_hand(jobs: list[Job], workers: int, expected: float) -> None:
    assert wall_time(jobs, workers) == expected


def test_wall_time_within_its_bounds_on_random_graphs() -> None:
    """Never below the longest chain or the work spread over the workers, never above the
    work done one job at a time (and equal to it on one worker)."""
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        jobs = []
        for i in range(n):
            after = tuple(f"j{p}" for p in range(i) if rng.random() < 0.3)
            jobs.append(Job(f"j{i}", "s", float(rng.randint(1, 9)), after))
        chain: dict[str, float] = {}
        for job in jobs:  # in order: every predecessor comes first
            chain[job.name] = job.seconds + max((chain[p] for p in job.after), default=0.0)
        total = sum(job.seconds for job in jobs)
        workers = rng.randint(1, 4)
        wall = wall_time(jobs, workers)
        assert max(max(chain.values()), total / workers) <= wall <= total
        assert wall_time(jobs, 1) == total


def _costs(summary_runs: dict, training: list[dict]) -> Costs:
    params = load_params(REPO / "params")
    summary = {"runs": summary_runs}
    bench = {"task": "pos", "training": training}
    return Costs(params, summary, {}, {"pos": bench, "ner": bench}, [])


def test_seconds_per_sentence_is_linear_in_k_between_the_two_measured() -> None:
    rows = [
        {"model": "compound_stacked", "sentences_per_second": 100.0, "inner_steps": 10},
        {"model": "compound_stacked@k=1", "sentences_per_second": 1000.0, "inner_steps": 1},
        {"model": "bilstm", "sentences_per_second": 4000.0, "inner_steps": None},
    ]
    costs = _costs({}, rows)
    assert costs.seconds_per_sentence("pos", "compound_stacked", 5) == pytest.approx(
        0.001 + (0.01 - 0.001) * 4 / 9
    )
    # a model the bench did not time stands in by its kind (a control trains the same networks)
    assert costs.seconds_per_sentence("pos", "control_ce_stacked", 1) == pytest.approx(0.001)
    # one k measured: proportional to 1 + k
    assert costs.seconds_per_sentence("pos", "bilstm_adam", 0) == pytest.approx(1 / 4000)


def test_calibration_is_the_median_ratio_and_borrows_across_tasks() -> None:
    rows = [{"model": "bilstm", "sentences_per_second": 100.0, "inner_steps": None}]

    def run(task: str, setting: str, seed: int, seconds: float) -> tuple[str, dict]:
        entry = {"task": task, "model": "bilstm", "setting": setting, "seed": seed}
        return f"{task}/bilstm-{setting}/seed{seed}", {**entry, "train": {
            "seconds": seconds, "epochs": 10}}  # fmt: skip

    # estimate per run: 10 epochs x 0.01 s = 0.1; ratios pos/paper 20, 40, 90 -> median 40
    runs = dict(
        [run("pos", "paper", 1, 2.0), run("pos", "paper", 2, 4.0), run("pos", "paper", 3, 9.0),
         run("ner", "paper", 1, 10.0), run("ner", "plus", 1, 30.0)]
    )  # fmt: skip
    costs = _costs(runs, rows)
    assert costs.factor("pos", "paper") == (pytest.approx(40.0), True)
    # pos/plus was never run: pos/paper x (ner/plus / ner/paper) = 40 x 3
    assert costs.factor("pos", "plus") == (pytest.approx(120.0), False)
    # xfmr ran on no task: pos/paper x the settings benchmark's median CPU-time ratio (2, 5),
    # its rows named as `spen bench` names them (MODEL in paper, MODEL@SETTING elsewhere); the
    # inner-step variant it adds in paper (MODEL@k=K) is another configuration, not the model's
    assert costs.factor("pos", "xfmr") == (pytest.approx(40.0), False)  # no benchmark: 1
    costs.setting_benches["pos"] = {"training": [
        {"model": model if setting == "paper" else f"{model}@{setting}", "setting": setting,
         "cpu_seconds": seconds}
        for model, paper, xfmr in (("bilstm", 1.0, 2.0), ("compound_stacked", 2.0, 10.0))
        for setting, seconds in (("paper", paper), ("xfmr", xfmr))
    ] + [{"model": "compound_stacked@k=1", "setting": "paper", "cpu_seconds": 0.1}]}  # fmt: skip
    assert costs.factor("pos", "xfmr") == (pytest.approx(140.0), False)


def test_the_projection_costs_every_job_of_the_profile() -> None:
    """On the committed results: one job per run, grid point and step, each with a cost, and
    the wall time between its bounds."""
    from spen.layout import runs, tuned_grids
    from spen.projection import load_costs

    params = load_params(REPO / "params")
    costs = load_costs(params, REPO / "results")
    jobs = pipeline_jobs(costs, "paper")
    run_list = runs(params, "paper")
    assert sum(j.step == "train" for j in jobs) == len(run_list)
    assert sum(j.step == "tune_select" for j in jobs) == len(tuned_grids(params, run_list))
    # a tuned model's main run of the tuning seed takes over its chosen grid point's run
    seed = params.tuning["seed"]
    taken_over = {
        f"train {r.name}"
        for r in run_list
        if tuning.leader(params, r.model) == r.model and r.seed == seed
    }
    assert taken_over
    for job in jobs:
        if job.step in ("train", "tune"):
            assert job.seconds > 0 or (job.name in taken_over and not job.measured), job.name
    result = project(costs, "paper", 2)
    assert result["job_seconds"] / 2 <= result["wall_seconds"] <= result["job_seconds"]


def test_the_committed_projections_are_those_of_the_committed_results() -> None:
    """Each results/bench/projection-PROFILE-WORKERS.json is what `spen project-time` makes of
    the results committed beside it, and the README quotes the paper profile's figure: a
    projection left behind by newer results fails here."""
    import json
    import re

    from spen.projection import load_costs

    params = load_params(REPO / "params")
    costs = load_costs(params, REPO / "results")
    committed = sorted((REPO / "results/bench").glob("projection-*.json"))
    assert committed
    for path in committed:
        recorded = json.loads(path.read_text())
        if recorded.get("device"):  # on the GPU the committed check measured
            from spen.projection import project_on_gpu

            check = json.loads((REPO / "results/bench/gpu-check.json").read_text())
            again = project_on_gpu(costs, recorded["profile"], check)
        else:
            again = project(costs, recorded["profile"], recorded["workers"])
        assert again["wall_seconds"] == pytest.approx(recorded["wall_seconds"], rel=1e-9), path
    readme = (REPO / "README.md").read_text()
    quoted = re.search(r"projection-paper-2\.json`: ([\d.]+) h", readme)
    assert quoted, "README.md no longer quotes the projection"
    paper = json.loads((REPO / "results/bench/projection-paper-2.json").read_text())
    assert quoted.group(1) == f"{paper['wall_seconds'] / 3600:.1f}"


def test_on_a_gpu_each_training_scales_by_its_measured_ratio() -> None:
    """A GPU check that timed POS BiLSTM at a tenth of its CPU epoch and POS CRF at a fifth:
    those rows' trainings cost a tenth and a fifth, every other training the median ratio,
    the other steps their CPU cost, on the check's runs per GPU as workers."""
    from spen.layout import Run
    from spen.projection import gpu_ratios, load_costs, project_on_gpu

    params = load_params(REPO / "params")
    costs = load_costs(params, REPO / "results")
    epoch = {
        m: costs.training_seconds(Run("pos", m, "paper", 0), 1.0) for m in ("bilstm", "bilstm_crf")
    }
    check = {
        "device": "NVIDIA H200",
        "runs_per_gpu": 8,
        "runs": {
            "pos/bilstm-paper/seed2": {"seconds_per_epoch": epoch["bilstm"] / 10},
            "pos/bilstm_crf-paper/seed2": {"seconds_per_epoch": epoch["bilstm_crf"] / 5},
        },
    }
    ratios = gpu_ratios(costs, check)
    assert ratios == pytest.approx(
        {("pos", "bilstm", "paper"): 0.1, ("pos", "bilstm_crf", "paper"): 0.2}
    )
    cpu = {j.name: j for j in pipeline_jobs(costs, "paper")}
    result = project_on_gpu(costs, "paper", check)
    assert result["workers"] == 8 and result["device"] == "NVIDIA H200"
    assert result["gpu_ratio_default"] == pytest.approx(0.15)
    expected = {step: 0.0 for step in result["steps"]}
    for job in cpu.values():
        scale = 1.0
        if job.group is not None:
            scale = ratios.get(job.group, 0.15)
        expected[job.step] += job.seconds * scale
    for step, entry in result["steps"].items():
        assert entry["seconds"] == pytest.approx(expected[step]), step
    with pytest.raises(ValueError, match="times no run"):
        project_on_gpu(costs, "paper", {"runs": {}})
