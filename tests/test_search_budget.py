"""Expected best dev score by points tried (Dodge et al. 2019), against brute force, and the
search-budget table of section 4."""

from __future__ import annotations

import itertools
import statistics

import pytest

from spen.report.build import build_report
from spen.report.search_budget import expected_best
from tests.test_report import _cell
from tests.test_report_claims import _project


@pytest.mark.parametrize("tried", [1, 2, 3, 4])
def test_expected_best_is_the_mean_over_every_draw(tried: int) -> None:
    scores = [81.0, 83.5, 79.25, 83.5, 90.0]
    every = itertools.product(scores, repeat=tried)
    assert expected_best(scores, tried) == pytest.approx(statistics.fmean(map(max, every)))


def test_expected_best_ends() -> None:
    scores = [1.0, 4.0, 2.0]
    assert expected_best(scores, 1) == pytest.approx(statistics.fmean(scores))
    assert expected_best(scores, 200) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="empty grid"):
        expected_best([], 1)
    with pytest.raises(ValueError, match="positive"):
        expected_best(scores, 0)


def test_the_budget_table_shows_each_records_grid(tmp_path) -> None:
    summary = _project(tmp_path)
    build_report(summary, None, tmp_path / "reports")
    html = (tmp_path / "reports/index.html").read_text()
    # POS compound-stacked's record in test_report_claims: 4 points, one diverged (no dev),
    # the others 89.0, 90.25 and 91.5: one point tried expects their mean; two expect
    # 89.0 * 1/9 + 90.25 * 3/9 + 91.5 * 5/9; six exceed the grid.
    key = "budget:pos/compound_stacked-paper"
    assert _cell(html, f"{key}:points") == "4"
    assert _cell(html, f"{key}:scored") == "3"
    assert _cell(html, f"{key}:expected1") == "90.25"
    assert _cell(html, f"{key}:expected2") == f"{(89.0 + 90.25 * 3 + 91.5 * 5) / 9:.2f}"
    assert _cell(html, f"{key}:expected6") == "—"
