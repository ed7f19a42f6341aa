"""Section 3's ablations and their line in the verdict panel.

The fake project of test_report_claims (POS `paper` compound-stacked at 89 and 91, its tuning
record in place; POS `plus` without one) with the two ablations of the recipe added: no CE at
80 and 81 (Δ = 9.5, SE = sqrt(2/2 + 0.5/2) = 1.118: holds), zero truncation at 90 and 90
(Δ = 0, SE = 1: does not hold within 2 SE), and zero truncation on POS `plus`, whose recipe row
has no tuning record (no Δ). The no-CE runs and the recipe's keep per-sentence counts (100
sentences of 10 tokens, the ablation never ahead on a sentence), so their paired interval lies
above 0. Figures worked out here by hand.
"""

from __future__ import annotations

import pytest

from spen import aggregate
from spen.io import write_json
from spen.report.build import build_report
from tests.test_report import _cell, _write_run
from tests.test_report_claims import _project
from tests.test_report_paired import _add_counts

RECIPE = {1: [9] * 90 + [8] * 10, 2: [10] * 10 + [9] * 90}  # 890 and 910 of 1,000
NO_CE = {1: [8] * 100, 2: [9] * 10 + [8] * 90}  # 800 and 810
NO_CE_ROW = "ablation:compound_stacked-over-compound_stacked_no_ce"
TRUNCATED_ROW = "ablation:compound_stacked-over-compound_stacked_truncated"


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("ablations")
    summary = _project(root)
    runs = {
        ("compound_stacked_no_ce", "paper"): [80.0, 81.0],
        ("compound_stacked_truncated", "paper"): [90.0, 90.0],
        ("compound_stacked_truncated", "plus"): [91.0, 92.0],
    }
    for (model, setting), values in runs.items():
        for seed, value in enumerate(values, start=1):
            _write_run(root, "pos", model, setting, seed, {"accuracy": value})
    for seed in (1, 2):
        _add_counts(root, "compound_stacked", seed, RECIPE[seed])
        _add_counts(root, "compound_stacked_no_ce", seed, NO_CE[seed])
    write_json(summary, aggregate.aggregate(sorted(root.glob("results/*/*/seed*/test.json"))))
    build_report(summary, None, root / "reports")
    return (root / "reports/index.html").read_text()


def test_the_recipe_against_each_ablation_with_the_seed_verdict(html: str) -> None:
    no_ce = f"{NO_CE_ROW}:pos-paper"
    assert _cell(html, f"{no_ce}:recipe") == "90.00 ± 1.41 n=2"
    assert _cell(html, f"{no_ce}:ablation") == "80.50 ± 0.71 n=2"
    assert (_cell(html, f"{no_ce}:diff"), _cell(html, f"{no_ce}:se")) == ("+9.50", "1.12")
    assert _cell(html, f"{no_ce}:verdict") == "holds"
    truncated = f"{TRUNCATED_ROW}:pos-paper"
    assert (_cell(html, f"{truncated}:diff"), _cell(html, f"{truncated}:se")) == ("+0.00", "1.00")
    assert _cell(html, f"{truncated}:verdict") == "does not hold within 2 SE"


def test_a_recipe_row_without_its_tuning_record_gets_no_delta(html: str) -> None:
    plus = f"{TRUNCATED_ROW}:pos-plus"
    assert _cell(html, f"{plus}:diff") == "—"
    assert _cell(html, f"{plus}:verdict") == "cannot tell (not run under the tuning protocol)"


def test_the_paired_test_where_both_sides_kept_counts(html: str) -> None:
    paired = _cell(html, f"{NO_CE_ROW}:pos-paper:paired")
    assert paired.startswith("holds: [+"), paired
    low = float(paired.split("[")[1].split(",")[0])
    assert 0 < low < 9.5
    assert _cell(html, f"{TRUNCATED_ROW}:pos-paper:paired") == "—"


def test_the_panel_lists_the_recipes_parts_apart_from_its_counts(html: str) -> None:
    start = html.index("The recipe's parts</strong>")
    line = html[start : html.index("</li>", start)]
    assert "the CE terms: POS paper +9.50 ± 1.12, paired p " in line
    assert "(holds)" in line
    assert "no zero truncation: POS paper +0.00 ± 1.00 (inconclusive)" in line
    assert "POS plus" not in line  # no Δ there
