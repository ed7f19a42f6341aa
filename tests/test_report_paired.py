"""The paired test in section 3 and in the verdict panel.

The fake project of test_report_claims, with per-sentence counts added to the scores of POS
`paper` compound-stacked (89, 91) and BiLSTM (88, 88): 100 sentences of 10 tokens, and on
every sentence of every seed compound-stacked tags at least as many tokens right as the BiLSTM.
Then every replicate's Δ* is at least 0 and 0 only when no improved sentence is drawn, so the
paired interval lies above 0 ("holds"), while Δ = 2 SE exactly reads "inconclusive" by the seeds
alone. The counts of a run whose accuracy they do not give are left out with a warning.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spen import aggregate, layout
from spen.evaluation.metrics import encode_counts
from spen.io import read_json, write_json
from spen.report.build import build_report
from spen.report.claims import claim_comparisons
from spen.report.collect import load_inputs
from spen.report.compare_runs import compare, report_key
from spen.report.results import Results
from tests.test_report import _cell
from tests.test_report_claims import STACKED, _project

TOKENS = [10] * 100
BILSTM = [9] * 80 + [8] * 20  # 880 of 1,000
# seed 1: 10 of the BiLSTM's 8s become 9 (890); seed 2: 20 of them 9 and 10 of its 9s 10 (910)
STACKED_SEEDS = {
    1: [9] * 80 + [9] * 10 + [8] * 10,
    2: [10] * 10 + [9] * 70 + [9] * 20,
}


def _add_counts(root: Path, model: str, seed: int, correct: list[int]) -> None:
    path = root / layout.Run("pos", model, "paper", seed).path(layout.SCORES)
    scores = read_json(path)
    assert scores["accuracy"] == pytest.approx(100 * sum(correct) / sum(TOKENS))
    scores["per_sentence"] = encode_counts({"tokens": TOKENS, "correct": correct})
    write_json(path, scores)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("paired")
    summary = _project(root)
    for seed, correct in STACKED_SEEDS.items():
        _add_counts(root, "compound_stacked", seed, correct)
    for seed in (1, 2):
        _add_counts(root, "bilstm", seed, BILSTM)
    # counts that do not give the run's accuracy (88.0): left out, with a warning
    bad = root / layout.Run("pos", "bilstm", "plus", 1).path(layout.SCORES)
    scores = read_json(bad)
    scores["per_sentence"] = encode_counts({"tokens": TOKENS, "correct": BILSTM})
    write_json(bad, scores)
    write_json(summary, aggregate.aggregate(sorted(root.glob("results/*/*/seed*/test.json"))))
    build_report(summary, None, root / "reports")
    return {
        "root": root,
        "summary": summary,
        "html": (root / "reports/index.html").read_text(),
    }


def test_the_paired_test_holds_where_every_sentence_gains(project: dict) -> None:
    html = project["html"]
    row = f"{STACKED}:pos-paper:bilstm"
    assert _cell(html, f"{row}:verdict") == "holds within 2 SE"  # the seeds alone
    paired = _cell(html, f"{row}:paired")
    assert paired.startswith("holds: [+"), paired
    low, high = (float(x) for x in paired.split("[")[1].split("]")[0].split(", "))
    assert 0 < low < 2.0 < high
    assert float(paired.split("p ")[1]) < 0.05
    assert float(_cell(html, f"{row}:paired_se")) > 0
    # the panel reads the paired word: the seeds-only "inconclusive" becomes "holds"
    tally = _cell(html, "verdict:compound_stacked-over-bilstm:baseline:tally")
    assert tally.startswith("holds 1 of 1"), tally
    best = _cell(html, "verdict:compound_stacked-over-bilstm:baseline:best")
    assert best.startswith("+2.00 ± 1.00, paired p 0.0"), best
    assert "Holm" in html


def test_rows_without_counts_on_both_sides_have_no_paired_test(project: dict) -> None:
    html = project["html"]
    assert _cell(html, f"{STACKED}:pos-paper:control_ce_stacked:paired") == "—"


def test_counts_that_do_not_give_the_summary_are_left_out(project: dict) -> None:
    inputs = load_inputs(project["summary"], None, project["root"])
    assert inputs.runs["pos/bilstm-plus/seed1"].sentences is None
    assert any("bilstm-plus/seed1/test.json" in w and "per-sentence" in w for w in inputs.warnings)
    assert inputs.runs["pos/bilstm-paper/seed1"].sentences == {
        "tokens": TOKENS,
        "correct": BILSTM,
    }


def test_spen_compare_on_two_run_groups_repeats_the_reports_paired_test(project: dict) -> None:
    """`spen compare` given the two run groups of a claim's row draws the report's bootstrap
    (the same comparison key): the same interval and p; the same runs outside the results
    layout draw another one."""
    res = Results(load_inputs(project["summary"], None, project["root"]))
    (row,) = [
        r
        for r in claim_comparisons(res)
        if (r.claim["better"], r.task, r.setting, r.other)
        == ("compound_stacked", "pos", "paper", "bilstm")
    ]
    groups = [project["root"] / f"results/pos/{m}-paper" for m in ("compound_stacked", "bilstm")]
    out = compare([groups[0]], [groups[1]])["paired"]
    assert row.paired is not None
    assert (out["low"], out["high"], out["p"]) == (row.paired.low, row.paired.high, row.paired.p)
    runs = [sorted(group.glob("seed*/test.json")) for group in groups]
    assert report_key(*runs) == "pos/paper/compound_stacked/bilstm"
    assert report_key(runs[1], runs[0]) == "pos/paper/bilstm/compound_stacked"
    # runs outside the results layout, or of two input settings, have no key of the report's
    elsewhere = project["root"] / "elsewhere/seed1/test.json"
    shutil.copytree(runs[0][0].parent, elsewhere.parent)
    assert report_key([elsewhere], runs[1][:1]) is None
    dashed = [project["root"] / f"{name}-runs/seed1/test.json" for name in ("new", "old")]
    for path, run in zip(dashed, runs, strict=True):
        shutil.copytree(run[0].parent, path.parent)
    assert report_key(dashed[:1], dashed[1:]) is None  # folders named with a dash, no results/
    plus = sorted((project["root"] / "results/pos/bilstm-plus").glob("seed*/test.json"))
    assert plus and report_key(runs[0], plus) is None
