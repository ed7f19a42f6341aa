"""Section 3's ablations and their line in the verdict panel.

The fake project of test_report_claims (POS `paper` compound-stacked at 89 and 91, its tuning
record in place; POS `plus` without one) with the two ablations of the recipe added: no CE at
80 and 81 (Δ = 9.5, SE = sqrt(2/2 + 0.5/2) = 1.118: holds), zero truncation at 90 and 90
(Δ = 0, SE = 1: does not hold within 2 SE), and zero truncation on POS `plus`, whose recipe row
has no tuning record (no Δ). On NER `paper` the no-CE runs were trained with other settings
than the recipe's record gives (no Δ). The POS no-CE runs and the recipe's keep per-sentence
counts (100 sentences of 10 tokens, the ablation never ahead on a sentence), so their paired
interval lies above 0. Figures worked out here by hand.
"""

from __future__ import annotations

import re

import pytest

from spen import aggregate, layout
from spen.io import read_json, write_json
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
    for seed, value in enumerate([80.0, 81.0], start=1):  # NER: trained off its record
        _write_run(root, "ner", "compound_stacked_no_ce", "paper", seed, {"f1": value})
    off_record = root / layout.Run("ner", "compound_stacked_no_ce", "paper", 1).path(
        layout.TRAIN_SUMMARY
    )
    write_json(off_record, read_json(off_record) | {"tuning": {"optimizer": {"name": "adam"}}})
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
    assert _cell(html, f"{no_ce}:fresh") == "+10.00"  # seed 2 alone: 91 − 81
    truncated = f"{TRUNCATED_ROW}:pos-paper"
    assert (_cell(html, f"{truncated}:diff"), _cell(html, f"{truncated}:se")) == ("+0.00", "1.00")
    assert _cell(html, f"{truncated}:verdict") == "does not hold within 2 SE"


@pytest.mark.parametrize(
    "row",
    [
        f"{TRUNCATED_ROW}:pos-plus",  # the recipe's row has no tuning record
        f"{NO_CE_ROW}:ner-paper",  # the ablation trained with other settings than the record's
    ],
)
def test_a_side_off_the_tuning_protocol_gets_no_delta(html: str, row: str) -> None:
    assert _cell(html, f"{row}:diff") == "—"
    assert _cell(html, f"{row}:verdict") == "cannot tell (not run under the tuning protocol)"
    assert _cell(html, f"{row}:paired") == "—"


def test_rows_only_where_a_side_ran(html: str) -> None:
    assert _cell(html, f"{TRUNCATED_ROW}:ner-paper:ablation") == "not run"  # the recipe ran
    assert f"{NO_CE_ROW}:ner-xfmr" not in html  # neither side ran


def test_the_paired_test_where_both_sides_kept_counts(html: str) -> None:
    paired = _cell(html, f"{NO_CE_ROW}:pos-paper:paired")
    assert paired.startswith("holds: [+"), paired
    low = float(paired.split("[")[1].split(",")[0])
    assert 0 < low < 9.5
    assert _cell(html, f"{TRUNCATED_ROW}:pos-paper:paired") == "—"


def test_the_panel_lists_the_recipes_parts_apart_from_its_counts(html: str) -> None:
    start = html.index("The recipe's parts</strong>")
    line = html[start : html.index("</li>", start)]
    assert re.search(
        r"the CE terms: POS paper \+9\.50 ± 1\.12, paired p &lt; 0\.001 \(holds\)", line
    )
    assert "no zero truncation: POS paper +0.00 ± 1.00 (inconclusive)" in line
    assert "POS plus" not in line  # no Δ there
