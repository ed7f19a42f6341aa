"""`spen report`: the verdict panel above section 1, and the provenance stamp.

The fake project of test_report_claims (tuning records, controls, a claim whose control
repeats another claim's) goes through `spen report`; the panel must sit above section 1 in
both pages, show the Δ ± SE that section 3's rows show, in its three words, count a row that
repeats another row's figures once, and say how much of the 60-cell matrix is done. The stamp
must name the commit whose results it rendered and mark a tree with uncommitted inputs.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spen import aggregate, layout
from spen.cli import app
from spen.evaluation.metrics import encode_counts
from spen.io import read_json, write_json
from spen.report.build import build_report
from spen.report.claims import claim_comparisons, repeats
from spen.report.collect import load_inputs
from spen.report.results import Results
from spen.report.search_budget import joint_epochs_effects
from tests.test_report import _cell, _write_run
from tests.test_report_claims import GE_C, STACKED, _project

MARGIN = "claim:compound_stacked-over-margin_rescaled"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("verdict")
    summary = _project(root)
    build_report(summary, None, root / "reports")
    return {
        "root": root,
        "summary": summary,
        "html": (root / "reports/index.html").read_text(),
        "md": (root / "reports/index.md").read_text(),
    }


def _panel_md(md: str) -> str:
    return md[md.index("## The verdict") : md.index("## 1. Main results")]


def test_the_panel_comes_before_section_1(project: dict) -> None:
    html, md = project["html"], project["md"]
    assert 0 < md.index("## The verdict") < md.index("## 1. Main results")
    assert md.index("Provenance:") < md.index("## The verdict")
    assert 0 < html.index('<section id="s-verdict">') < html.index('<section id="s-main">')
    assert html.index('<section id="s-verdict">') < html.index("<nav>")  # the first screen
    for page in (html, md):
        assert '"holds" when Δ > 2 SE' in page or "&#34;holds&#34; when Δ &gt; 2 SE" in page
        assert "inconclusive" in page and "does not hold" in page
        assert "2 SE is the detection threshold" in page


def test_the_panel_shows_section_3s_figures(project: dict) -> None:
    html = project["html"]
    best = _cell(html, "verdict:compound_stacked-over-bilstm:baseline:best")
    assert best == "+2.00 ± 1.00 (POS paper)"
    row = f"{STACKED}:pos-paper:bilstm"
    assert (_cell(html, f"{row}:diff"), _cell(html, f"{row}:se")) == ("+2.00", "1.00")
    # Δ = 2 SE exactly: section 3's "holds within 2 SE" is inconclusive here
    assert _cell(html, f"{row}:verdict") == "holds within 2 SE"
    tally = _cell(html, "verdict:compound_stacked-over-bilstm:baseline:tally")
    assert tally.startswith("inconclusive 1 of 1")
    # the BiLSTM control with Adam: Δ 2.75, SE 1.03, beyond 2 SE
    control = _cell(html, "verdict:compound_stacked-over-bilstm:control:best")
    assert control == "+2.75 ± 1.03 (POS paper, BiLSTM with Adam)"
    assert _cell(html, f"{STACKED}:pos-paper:bilstm_adam:verdict") == "holds"
    ge_c = _cell(html, "verdict:compound_stacked_ge_c-over-compound_stacked:baseline:best")
    assert ge_c == "+1.50 ± 0.50 (NER paper)"
    assert _cell(html, f"{GE_C}:ner-paper:compound_stacked:diff") == "+1.50"
    assert _cell(html, "verdict:compound_stacked_ge_c-over-compound_stacked:baseline:tally") == (
        "holds 1 of 1 (2 not measured yet)"
    )
    # every Δ ± SE the panel shows is one of section 3's rows
    rows = re.findall(r'data-cell="(claim:[^"]+):diff"[^>]*>([^<]*)</td>', html)
    pairs = {(d, _cell(html, f"{key}:se")) for key, d in rows if d != "—"}
    panel = html[html.index('<section id="s-verdict">') : html.index('<section id="s-main">')]
    shown = re.findall(r"([+−]\d+\.\d+) ± (\d+\.\d+)", panel)
    assert shown
    for delta, se in shown:
        assert (delta.replace("−", "-"), se) in pairs, (delta, se)


def test_rows_that_repeat_another_row_count_once(project: dict) -> None:
    html, md = project["html"], project["md"]
    res = Results(load_inputs(project["summary"], None, project["root"]))
    comparisons = claim_comparisons(res)
    repeated = repeats(comparisons)
    # the margin-rescaled claim's control is compound-stacked's control row again
    assert {k: v.key for k, v in repeated.items()} == {
        f"{MARGIN}:pos-paper:control_ce_stacked": f"{STACKED}:pos-paper:control_ce_stacked"
    }
    label = _cell(html, f"{MARGIN}:pos-paper:control_ce_stacked:comparison")
    assert "repeats an earlier row" in label and "compound-stacked beats the local" in label
    assert _cell(html, "verdict:compound_stacked-over-margin_rescaled:control:best") == "—"
    tally = _cell(html, "verdict:compound_stacked-over-margin_rescaled:control:tally")
    assert tally == "none distinct: 1 row repeats one counted already"
    sentence = _cell(html, "verdict:compound_stacked-over-margin_rescaled:sentence")
    assert "repeat rows counted already (POS paper)" in sentence
    panel = _panel_md(md)
    assert "4 distinct comparisons have a verdict (4 on test scores, 0 on speed)" in panel
    assert "1 row repeats another row's figures and is counted once" in panel


def test_the_matrix_says_how_much_is_done(project: dict) -> None:
    html, md = project["html"], project["md"]
    # 2 seeds is the most any group has here; margin-rescaled has one seed
    assert "The matrix: 5 of 60 cells done under the protocol" in md
    assert _cell(html, "matrix:pos/compound_stacked-paper") == "✓"
    assert _cell(html, "matrix:pos/margin_rescaled-paper") == "1/2"
    assert _cell(html, "matrix:pos/compound_stacked-plus") == "†"  # no tuning record
    assert _cell(html, "matrix:ner/bilstm-paper") == "·"
    assert len(re.findall(r'data-cell="matrix:', html)) == 60


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_stamp_names_the_results_commit_and_marks_a_dirty_tree(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    summary = _project(root)
    _git(root, "init", "-q")
    _git(root, "add", "-A", "results", "params")
    _git(root, "commit", "-q", "-m", "results")
    results = _git(root, "rev-parse", "HEAD")
    (root / "README.md").write_text("later\n")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "a later commit that leaves results/ alone")
    head = _git(root, "rev-parse", "HEAD")

    build_report(summary, None, root / "reports", strict=True)  # clean: renders
    md = (root / "reports/index.md").read_text()
    assert f"Provenance: results of {results}, rendered at HEAD {head}." in md
    assert "Uncommitted inputs" not in md and "uncommitted changes" not in md

    # the report's own pages are not inputs: rendering again stays clean
    _git(root, "add", "reports")
    build_report(summary, None, root / "reports")
    assert "Uncommitted inputs" not in (root / "reports/index.md").read_text()

    summary.write_text(summary.read_text().replace("88.0", "88.5", 1))
    build_report(summary, None, root / "reports")
    for name in ("index.md", "index.html"):
        text = (root / "reports" / name).read_text()
        assert "with uncommitted changes to 1 input file)" in text
        assert f"Uncommitted inputs: 1 file the report reads differs from commit {head[:7]}" in text
        assert "results/summary.json" in text
    assert 'class="warnings dirty"' in (root / "reports/index.html").read_text()
    with pytest.raises(ValueError, match="--strict: Uncommitted inputs"):
        build_report(summary, None, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()  # nothing written

    result = CliRunner().invoke(
        app, ["report", "--summary", str(summary), "--out", str(tmp_path / "cli"), "--strict"]
    )
    assert result.exit_code == 2 and "--strict" in result.output


def test_strict_refuses_outside_git(tmp_path: Path) -> None:
    summary = _project(tmp_path)
    build_report(summary, None, tmp_path / "reports")
    md = (tmp_path / "reports/index.md").read_text()
    assert "Provenance: unknown (not a git checkout)." in md
    with pytest.raises(ValueError, match="not a git checkout"):
        build_report(summary, None, tmp_path / "reports", strict=True)


@pytest.mark.parametrize("t", [0.0, 0.5, 2.0, 4.3])
def test_the_t_tail_matches_its_closed_forms(t: float) -> None:
    """Student's t tail against the closed forms for 1 and 2 degrees of freedom."""
    import math

    from spen.report.verdict import t_upper_tail

    assert t_upper_tail(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, abs=1e-9)
    assert t_upper_tail(t, 2) == pytest.approx(0.5 * (1 - t / math.sqrt(t * t + 2)), abs=1e-9)


def test_the_panel_says_where_the_epoch_budget_binds(project: dict) -> None:
    # NER compound-stacked's chosen point (test_report_claims) peaked at its last epoch
    panel = _panel_md(project["md"])
    assert "**The epoch budget binds** for 1 of 4 tuned rows" in panel
    assert "(NER paper compound-stacked), as were 0 of " in panel


def test_the_panel_opens_with_the_answer_in_one_sentence(project: dict) -> None:
    # the count of "holds" against the tuned baselines is the sum of the claims' tallies
    panel = _panel_md(project["md"])
    first = panel.split("\n\n")[1]
    assert first.startswith("**In one sentence:** the paper's claims on test scores hold")
    html = project["html"]
    held = sum(
        int(m)
        for m in re.findall(r'data-cell="verdict:[^"]+:baseline:tally"[^>]*>holds (\d+)', html)
    )
    assert f"hold against their tuned baselines in {held} of " in first
    assert html.index('class="headline"') < html.index('class="findings"')
    # POS paper stacked against its CE-only control: Δ = 0, inconclusive, the only such row
    assert "in 0 of 1, so no gain is shown to come from the energy" in first


def test_the_panel_names_where_search_budgets_differ(project: dict) -> None:
    # test_report_claims' records: POS paper compound-stacked 4 points, BiLSTM and
    # margin-rescaled fewer; NER paper has one record only, so it is not named
    panel = _panel_md(project["md"])
    line = next(x for x in panel.splitlines() if "**Unequal search budgets remain**" in x)
    assert "POS paper (2 to 4 points)" in line and "NER paper" not in line


def test_the_panel_says_the_2018_rows_train_jointly_for_fewer_epochs(project: dict) -> None:
    # margin-rescaled's epoch budget (POS, 40) alternates joint and retuning epochs; the
    # compound and supervised rows train for every epoch and are not named
    panel = _panel_md(project["md"])
    line = next(x for x in panel.splitlines() if "**Fewer joint epochs" in x)
    assert "20 of POS's 40 (margin-rescaled)" in line
    assert "stacked" not in line and "BiLSTM" not in line and "NER" not in line


def test_runs_peaked_at_budget_counts_runs_whose_last_epoch_was_their_best() -> None:
    from types import SimpleNamespace

    from spen.report.tuning_table import runs_peaked_at_budget

    trains = [
        {"best_epoch": 15, "epochs": 15},  # still improving when the budget ran out
        {"best_epoch": 7, "epochs": 15},
        {"best_epoch": 4, "epochs": 4, "stopped": "loss is NaN"},  # a fault, not the budget
        {"best_epoch": 9},  # no epoch count: no training record to judge
        None,
    ]
    runs = {str(i): SimpleNamespace(train=t) for i, t in enumerate(trains)}
    res = SimpleNamespace(inputs=SimpleNamespace(runs=runs))
    assert runs_peaked_at_budget(res) == (1, 3)  # type: ignore[arg-type]


def _pos_scores(correct: list[int], tokens: list[int]) -> dict:
    """A POS test.json with its per-sentence counts."""
    counts = {"tokens": tokens, "correct": correct}
    return {"accuracy": 100 * sum(correct) / sum(tokens), "sentences": len(tokens),
            "tokens": sum(tokens), "per_sentence": encode_counts(counts)}  # fmt: skip


def test_the_panel_gives_the_2018_rows_retrained_with_as_many_joint_epochs(
    tmp_path: Path,
) -> None:
    """Margin-rescaled (POS paper) retrained with as many joint epochs, 3 seeds, beside its 3
    committed runs: the panel's joint-epochs line gives Δ ± seed SE computed here by hand and
    the paired test, the point its grid retuned at that budget chose beside the committed
    grid's choice, and the claim compound-stacked makes against the row redone against the
    retrained runs; a row whose retrained runs scored just what its runs did is named so; a
    retrained run without per-sentence counts is refused, named, as is one whose train.json
    names other settings than the retuned grid chose, and a retuned grid's record in another
    row's place."""
    summary = _project(tmp_path)
    # margin-rescaled's grid, tuned again with as many joint epochs, chose sgd (the committed
    # grid chose adam); perceptron's grid was not tuned again
    retuned = read_json(tmp_path / "results/tuning/pos/margin_rescaled-paper.json")
    sgd = {"inference_optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}
    retuned["points"]["sgd"] |= {"dev": 89.0, "overrides": sgd}
    retuned |= {"chosen": "sgd", "profile": "joint_epochs_pos", "overrides": sgd}
    retuned_record = tmp_path / layout.JOINT_EPOCHS_TUNING / "pos/margin_rescaled-paper.json"
    write_json(retuned_record, retuned)
    rng = np.random.default_rng(5)
    tokens = rng.integers(5, 15, size=120).tolist()
    committed, retrained, stacked = [], [], []
    for seed in (1, 2, 3):
        old = _pos_scores([t - int(rng.integers(1, 4)) for t in tokens], tokens)
        new = _pos_scores([t - int(rng.integers(0, 3)) for t in tokens], tokens)
        claimed = _pos_scores([t - int(rng.integers(0, 4)) for t in tokens], tokens)
        _write_run(tmp_path, "pos", "margin_rescaled", "paper", seed, old)
        _write_run(tmp_path, "pos", "compound_stacked", "paper", seed, claimed)
        folder = tmp_path / layout.JOINT_EPOCHS / "pos/margin_rescaled-paper" / f"seed{seed}"
        write_json(folder / "test.json", new)
        write_json(folder / "train.json", {"tuning": sgd})
        committed.append(old["accuracy"])
        retrained.append(new["accuracy"])
        stacked.append(claimed["accuracy"])
        # perceptron, retrained, finds no better dev epoch: the same scores
        same = _pos_scores([t - int(rng.integers(1, 3)) for t in tokens], tokens)
        _write_run(tmp_path, "pos", "perceptron", "paper", seed, same)
        folder = tmp_path / layout.JOINT_EPOCHS / "pos/perceptron-paper" / f"seed{seed}"
        write_json(folder / "test.json", same)
        write_json(folder / "train.json", {"tuning": {}})  # the fake project does not tune it
    # compound-stacked's seed-1 run is its chosen point's run again (the same best dev score)
    record = read_json(tmp_path / "results/tuning/pos/compound_stacked-paper.json")
    chosen = {"dev": record["points"][record["chosen"]]["dev"], "epochs": 3}
    write_json(
        tmp_path / layout.Run("pos", "compound_stacked", "paper", 1).path(layout.TRAIN_SUMMARY),
        chosen,
    )
    write_json(summary, aggregate.aggregate(sorted(tmp_path.glob("results/*/*/seed*/test.json"))))
    res = Results(load_inputs(summary, None, tmp_path))
    effect, unchanged = joint_epochs_effects(res)
    assert unchanged.model == "perceptron" and unchanged.unchanged and not effect.unchanged
    delta = statistics.fmean(retrained) - statistics.fmean(committed)
    se = (statistics.variance(retrained) / 3 + statistics.variance(committed) / 3) ** 0.5
    assert (effect.task, effect.model, effect.setting) == ("pos", "margin_rescaled", "paper")
    assert effect.difference.delta == pytest.approx(delta)
    assert effect.difference.se == pytest.approx(se)
    assert effect.paired is not None and effect.paired.delta == pytest.approx(delta)
    assert effect.retuning is not None and unchanged.retuning is None
    assert (effect.retuning.chosen, effect.retuning.committed) == ("sgd", "adam")
    build_report(summary, None, tmp_path / "reports")
    # section 4's search budgets show the retuned grid beside the committed one
    html = (tmp_path / "reports/index.html").read_text()
    key = "budget:pos/margin_rescaled-paper:joint-epochs"
    assert _cell(html, f"{key}:points") == "2"
    assert _cell(html, f"{key}:expected2") == "88.81"  # 88.25 · 1/4 + 89 · 3/4
    assert _cell(html, "budget:pos/margin_rescaled-paper:expected2") == "88.19"
    panel = _panel_md((tmp_path / "reports/index.md").read_text())
    line = next(x for x in panel.splitlines() if "**Fewer joint epochs" in x)
    shown = "margin-rescaled POS paper (its 2 points retuned: sgd, not adam) "
    shown += f"{delta:+.2f} ± {se:.2f}".replace("-", "−")
    assert f"{shown}, paired p {effect.paired.p_text}" in line
    # the claim "compound-stacked beats margin-rescaled", redone against the retrained runs
    (claim,) = effect.claims
    delta = statistics.fmean(stacked) - statistics.fmean(retrained)
    se = (statistics.variance(stacked) / 3 + statistics.variance(retrained) / 3) ** 0.5
    assert claim.better == "compound_stacked"
    assert claim.difference.delta == pytest.approx(delta)
    assert claim.difference.se == pytest.approx(se)
    assert claim.paired is not None and claim.paired.delta == pytest.approx(delta)
    redone = f"{delta:+.2f} ± {se:.2f}".replace("-", "−")
    redone = f"(compound-stacked over the retrained runs {redone}, paired p {claim.paired.p_text})"
    assert redone in line
    assert (
        "; perceptron POS paper the same test scores (no better dev epoch past the budget)." in line
    )

    bare = tmp_path / layout.JOINT_EPOCHS / "pos/perceptron-paper/seed1/test.json"
    write_json(bare, {"accuracy": 80.0})
    with pytest.raises(ValueError, match=f"{bare}: no per-sentence counts"):
        load_inputs(summary, None, tmp_path)
    write_json(bare, same)
    # trained at the committed grid's choice (adam), not at the retuned grid's (sgd)
    stale = tmp_path / layout.JOINT_EPOCHS / "pos/margin_rescaled-paper/seed2/train.json"
    write_json(stale, {"tuning": {}})
    with pytest.raises(ValueError, match=f"{stale}: trained with {{}}; expected sgd's settings"):
        load_inputs(summary, None, tmp_path)
    write_json(stale, {"tuning": sgd})
    misplaced = retuned_record.with_name("perceptron-paper.json")
    retuned_record.rename(misplaced)
    with pytest.raises(ValueError, match=f"{misplaced}: holds the record of pos/margin_rescaled"):
        load_inputs(summary, None, tmp_path)
