"""Section 10's calibration and inference-method tables in the report: what calibration.json and
inference-*.json say, in both pages, with their charts as files; and a line that says "not
measured yet" when neither file is there. The fake project is tests/test_report.py's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report import _cell, _expected, _fake_project

from spen import layout
from spen.io import write_json
from spen.report.build import build_report
from spen.report.calibration import pooled_bins
from spen.report.collect import RunData


def _distribution(ece: float, counts: list[int], accuracy: list, confidence: list) -> dict:
    return {
        "bins": 3,
        "bin_counts": counts,
        "bin_accuracy": accuracy,
        "bin_confidence": confidence,
        "ece": ece,
        "accuracy": 0.88,
        "mean_confidence": 0.93,
        "nll_per_token": 0.4,
        "tokens": sum(counts),
    }


def _calibration(objective: str | None, **distributions: dict) -> dict:
    return {"run": "x", "objective": objective, "distributions": distributions}


NETWORK_1 = _distribution(0.05, [0, 10, 90], [None, 0.5, 0.9], [None, 0.6, 0.95])
NETWORK_2 = _distribution(0.07, [0, 30, 70], [None, 0.7, 0.9], [None, 0.65, 0.95])
EXACT = _distribution(0.25, [60, 40, 0], [0.5, 0.75, None], [0.2, 0.5, None])


def _decoder(score: float, gap: float, differs: float, speeds: dict[str, float]) -> dict:
    return {
        "scores": {"accuracy": score},
        "energy_gap_mean": gap,
        "differs_from_viterbi": differs,
        "sentences_per_second": {k: v / 2 for k, v in speeds.items()},
        "sentences_per_cpu_second": speeds,
    }


EXPORTED = {
    "format": "torchscript",
    "scores": {"accuracy": 89.0},
    "max_abs_diff_from_pytorch": 2.5e-7,
    "argmax_agreement": 1.0,
    "sentences_per_second": {"1": 600.0, "64": 4000.0},
    "sentences_per_cpu_second": {"1": 1200.0, "64": 8000.0},
}
INFERENCE = {
    "task": "pos",
    "split": "test",
    "sentences": 547,
    "timed_sentences": 500,
    "tokens": 7707,
    "device": "cpu",
    "device_name": "x86_64",
    "threads": 1,
    "repeats": 3,
    "batch_sizes": [1, 64],
    "rows": [
        {
            "run": f"pos/{model}-paper/seed1",
            "model": model,
            "setting": "paper",
            "seed": 1,
            "objective": objective,
            "metric": "accuracy",
            "gradient_descent": {"steps": 30, "lr": 1.0},
            "decoders": {
                "test_time": _decoder(89.0, 0.125, 0.25, {"1": 500.0, "64": 5000.0}),
                "viterbi": _decoder(88.5, 0.0, 0.0, {"1": 400.0, "64": 3500.0}),
                "gradient_descent": _decoder(85.25, 2.5, 0.75, {"1": 30.0, "64": 800.0}),
                "gradient_descent_from_test_time": _decoder(
                    89.125, 0.5, 0.5, {"1": 50.0, "64": 790.0}
                ),
            },
            # the trained row's A_Ψ exported (`spen bench-inference` times it beside the rest)
            **({"exported": EXPORTED} if objective == "compound" else {}),
        }
        for model, objective in (
            ("compound_stacked", "compound"),
            ("control_ce_shared", "cross_entropy"),
        )
    ],
}


def _render(root: Path) -> dict[str, str]:
    build_report(root / layout.SUMMARY, root / "results/bench", root / "reports")
    reports = root / "reports"
    return {
        "html": (reports / "index.html").read_text(),
        "md": (reports / "index.md").read_text(),
        "figures": " ".join(sorted(p.name for p in (reports / "figures").glob("*.svg"))),
    }


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("project")
    _fake_project(root)
    runs = root / "results/pos"
    write_json(
        runs / "bilstm-paper/seed1/calibration.json",
        _calibration(None, inference_network=NETWORK_1),
    )
    write_json(
        runs / "bilstm-paper/seed2/calibration.json",
        _calibration(None, inference_network=NETWORK_2),
    )
    write_json(
        runs / "compound_stacked-paper/seed1/calibration.json",
        _calibration("compound", inference_network=NETWORK_1, exact_marginals=EXACT),
    )
    write_json(root / "results/bench/inference-pos.json", INFERENCE)
    return _render(root)


def test_the_calibration_table_says_what_the_files_say(measured: dict[str, str]) -> None:
    html = measured["html"]
    key = "calibration:pos/bilstm-paper"
    assert _cell(html, f"{key}:inference_network:ece") == _expected([5.0, 7.0])
    assert _cell(html, f"{key}:inference_network:accuracy") == _expected([88.0, 88.0])
    assert _cell(html, f"{key}:exact_marginals:ece") == "—"  # a BiLSTM has no chain
    key = "calibration:pos/compound_stacked-paper"
    assert _cell(html, f"{key}:exact_marginals:ece") == "25.00 n=1"
    assert _cell(html, f"{key}:inference_network:mean_confidence") == "93.00 n=1"
    assert _cell(html, f"{key}:inference_network:nll_per_token") == "0.400 n=1"
    assert "3 equal-width bins" in html
    assert "Calibration not measured yet" not in html + measured["md"]


def test_the_inference_table_and_both_charts(measured: dict[str, str]) -> None:
    html, md = measured["html"], measured["md"]
    key = "inference:inference-pos.json:pos/compound_stacked-paper/seed1"
    assert _cell(html, f"{key}:test_time:score") == "89.00"
    assert _cell(html, f"{key}:gradient_descent:gap") == "2.500"
    assert _cell(html, f"{key}:gradient_descent:differs") == "75.0"
    assert _cell(html, f"{key}:test_time:64") == "5,000"  # per CPU second, not per wall second
    assert _cell(html, f"{key}:viterbi:1") == "400"
    assert _cell(html, f"{key}:exported:score") == "89.00"
    assert _cell(html, f"{key}:exported:64") == "8,000"
    assert _cell(html, f"{key}:exported:gap") == "—"  # no energy gap measured for it
    assert "A_Ψ exported (TorchScript)" in md
    assert "the largest |p_exported − p_PyTorch| on a test token is 2.5e-07" in html
    assert "argmax agrees with PyTorch" in html and "on 100.00% of tokens at least" in html
    assert "shared, CE terms only (paper, seed 1) ‡" in html
    # the decoders in the report's order, whatever the file's
    names = ["A_Ψ (inference network)", "Viterbi (exact)", "gradient descent from uniform"]
    section = md[md.index("### Inference methods") :]
    found = [section.index(f"| {n} |") for n in names]
    assert found == sorted(found)
    assert "30 steps of size 1.0" in html
    assert "timed on the split's first 500 sentences (scores use all 547)" in html
    figures = measured["figures"]
    for name in (
        "reliability-pos-paper-inference-network.svg",
        "reliability-pos-paper-exact-marginals.svg",
        "speed-accuracy-inference-pos.svg",
    ):
        assert name in figures and f"figures/{name}" in html and f"figures/{name}" in md
    assert "Inference methods not measured yet" not in html + md


def test_the_speed_picture_leaves_out_untrained_energies(
    measured: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "project"
    _fake_project(root)
    write_json(root / "results/bench/inference-pos.json", INFERENCE)
    _render(root)
    chart = (root / "reports/figures/speed-accuracy-inference-pos.svg").read_text()
    # four decoders and the exported A_Ψ of the one trained row: a point and a legend dot each
    assert len(re.findall(r'r="3.5"', chart)) == 5 + 5


def test_without_the_files_the_report_says_not_measured_yet(tmp_path: Path) -> None:
    _fake_project(tmp_path)
    pages = _render(tmp_path)
    for page in (pages["html"], pages["md"]):
        assert "Calibration not measured yet" in page
        assert "Inference methods not measured yet" in page
    assert "reliability-" not in pages["figures"] and "speed-accuracy" not in pages["figures"]


def test_reliability_bins_are_pooled_over_seeds() -> None:
    runs = [
        RunData(
            layout.Run("pos", "bilstm", "paper", seed),
            {},
            calibration=_calibration(None, inference_network=d),
        )
        for seed, d in ((1, NETWORK_1), (2, NETWORK_2))
    ]
    # bin 2: 10 tokens at 0.5 right, 0.6 sure, and 30 at 0.7, 0.65; bin 3: 160 tokens
    points = pooled_bins(runs, "inference_network")
    assert [p for point in points for p in point] == pytest.approx(
        [(6 + 19.5) / 40, (5 + 21) / 40, 0.95, 0.9]
    )
    assert pooled_bins(runs, "exact_marginals") == []
