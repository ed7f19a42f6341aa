"""`spen report`: the tables say what the result files say, and a browser renders them.

A small fake project (POS and NER, two seeds for some models, one for another, some models not
run) goes through the real `spen aggregate` and then `spen report`. The expected means, standard
deviations and differences from the paper are computed here, independently of the report code,
with the paper's figures copied from METHOD.md §7. Missing runs must read "not run".

When /usr/bin/chromium exists, the HTML is also opened headless: the screenshot must be a real
picture (not one colour) and the DOM must hold the tables.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spen import aggregate, layout
from spen.cli import app
from spen.config import load_params
from spen.io import write_json
from spen.projection import load_costs, project
from spen.report import build, markdown, svg
from spen.report.build import build_report
from spen.report.comparison import MAIN_COLUMNS

REPO = Path(__file__).resolve().parents[1]

# METHOD.md §7, copied by hand: the report's paper.yaml must agree.
PAPER_POS_BILSTM = 88.8
PAPER_NER_BILSTM = 84.9
PAPER_POS_STACKED = 89.8
PAPER_NER_PLUS_GE_C = 90.4
CHROMIUM = Path("/usr/bin/chromium")

POS = {
    ("bilstm", "paper"): [88.11, 88.53],
    ("compound_stacked", "paper"): [89.02, 90.07],
    ("bilstm", "plus"): [89.4],
}
NER = {
    ("bilstm", "paper"): [(84.12, 83.50), (85.06, 84.71)],  # (f1, strict_f1)
    ("bilstm_crf", "plus"): [(88.9, 88.85)],
}
PER_TYPE = {"LOC": [86.0, 87.5], "MISC": [70.25, 71.0], "ORG": [77.0, 78.5], "PER": [90.0, 91.0]}
CHOICES = """# Project choices

Intro with `code` and **bold**.

## Data
- **Splits.** one bullet
  continued here.
- second <b>bullet</b>

After the list.

    indented code

| task | SGD | Adam |
|---|---|---|
| POS | 80.98 | 77.31 |
"""


FEATURIZE = {  # what `spen featurize --cost` writes
    "task": "pos",
    "setting": "xfmr",
    "profile": "paper",
    "device": "cpu",
    "splits": {
        split: {"sentences": n, "words": 10 * n, "bytes": 2**20 * n}
        for split, n in (("train", 3), ("dev", 2), ("test", 1))
    },
    "cost": {
        "seconds": {"train": 60.0, "dev": 30.0, "test": 30.0},
        "seconds_total": 126.0,  # the encoder's loading included
        "peak_rss_mb": 812.4,
    },
}


SETTINGS_BENCH = {  # what `spen bench pos --training-only --setting plus --setting xfmr` writes
    "task": "pos",
    "device": "cpu",
    "training": [
        {"model": name, "setting": setting, "cpu_seconds": 200 / speed, "sentences": 200}
        for name, setting, speed in (
            ("bilstm@plus", "plus", 400.0),
            ("compound_stacked@plus", "plus", 30.0),
            ("bilstm@xfmr", "xfmr", 320.0),
            ("compound_stacked@xfmr", "xfmr", 20.0),
        )
    ],
}


def _write_run(root: Path, task: str, model: str, setting: str, seed: int, test: dict) -> None:
    run = layout.Run(task, model, setting, seed)
    write_json(root / run.path(layout.SCORES), test)
    log = root / run.path(layout.TRAIN_LOG)
    epochs = [
        {"epoch": e, "dev": 50.0 + 10 * e + seed, "seconds": 2.0, "sentences_per_second": 100.0 * e}
        for e in (1, 2, 3)
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(json.dumps(r) + "\n" for r in epochs))
    if seed == 1:
        summary = {"parameters": 166_123, "epochs": 3, "peak_rss_mb": 700.0 + len(model)}
        write_json(root / run.path(layout.TRAIN_SUMMARY), summary)


def _fake_project(root: Path) -> Path:
    for (model, setting), values in POS.items():
        for seed, acc in enumerate(values, start=1):
            test = {"accuracy": acc, "sentences": 547, "tokens": 7707}
            _write_run(root, "pos", model, setting, seed, test)
    for (model, setting), values in NER.items():
        for seed, (f1, strict) in enumerate(values, start=1):
            per_type = {
                name: {"f1": scores[seed - 1], "precision": 0.0, "recall": 0.0, "support": 100}
                for name, scores in PER_TYPE.items()
            }
            test = {
                "accuracy": 97.0,
                "f1": f1,
                "precision": f1 + 1,
                "recall": f1 - 1,
                "strict_f1": strict,
                "strict_precision": strict,
                "strict_recall": strict,
                "per_type": per_type,
                "sentences": 3453,
                "tokens": 46435,
            }
            _write_run(root, "ner", model, setting, seed, test)
    analysis = {
        "spen": True,
        "decoders": {
            "test_time": {
                "scores": {"accuracy": 89.0},
                "same_output_as_viterbi": 0.75,
                "energy_gap_mean": 0.125,
            },
            "viterbi": {"scores": {"accuracy": 89.5}, "energy_gap_mean": 0.0},
            "gradient_descent": {"scores": {"accuracy": 85.25}, "energy_gap_mean": 2.5},
        },
        "energy_gap_relaxed_mean": 0.5,
    }
    write_json(root / "results/pos/compound_stacked-paper/seed1/analysis.json", analysis)
    bench = {
        "task": "pos",
        "tokens": 7707,
        "sentences": 547,
        "threads": 2,
        "machine": "x86_64",
        "rows": [
            {
                "batch_size": size,
                "tokens_per_second": {"inference_network": 5000.0 * size, "pytorch_crf": 250.0},
                "ratio_to_pytorch_crf": {"inference_network": 20.0 * size, "pytorch_crf": 1.0},
                "agreement_with_viterbi": {"pytorch_crf": 1.0},
            }
            for size in (1, 32)
        ],
        # sentences per CPU second (what the claims compare) and per wall second (the machine
        # was busy: lower, and in another order)
        "training": [
            {
                "model": model,
                "sentences_per_second": wall,
                "cpu_seconds": 200 / cpu,
                "batch_size": 10,
                "sentences": 200,
                "device": "cpu",
            }
            for model, cpu, wall in (
                ("compound_separated", 100.0, 60.0),
                ("compound_stacked", 92.5, 70.0),
            )
        ]
        + [  # timed passes, each its own figure (sentences per CPU second 390, 400, 410, ...)
            {
                "model": model,
                "sentences_per_second": wall,
                "passes": 3,
                "pass_cpu_seconds": [200 / c for c in cpu],
                "cpu_seconds": statistics.fmean(200 / c for c in cpu),
                "batch_size": 10,
                "sentences": 200,
                "device": "cpu",
            }
            for model, cpu, wall in (
                ("compound_separated@k=1", (390.0, 400.0, 410.0), 300.0),
                ("compound_stacked@k=1", (450.0, 452.5, 455.0), 200.0),
            )
        ],  # fmt: skip
        "parameters": [
            {
                "model": "bilstm",
                "setting": "paper",
                "parameters": 150_000,
                "test_time_parameters": 1,
            }
        ],
    }
    write_json(root / "results/bench/decode-pos.json", bench)
    timing = {
        "name": "paper_seed1, POS",
        "cores": 2,
        "wall_seconds": 1500.0,
        "job_seconds": 2700.0,
        "complete": True,
        "start": "2026-11-25T16:56:25",
        "rules": {"train": {"jobs": 18, "seconds": 2400.0, "max": 300.0}},
    }
    write_json(root / "results/bench/pipeline-pos.json", timing)
    write_json(root / "results/bench/featurize-pos-xfmr.json", FEATURIZE)
    write_json(root / "results/bench/settings-pos.json", SETTINGS_BENCH)
    (root / "docs").mkdir()
    (root / "docs/CHOICES.md").write_text(CHOICES)
    scores = sorted(root.glob("results/*/*/seed*/test.json"))
    summary = root / layout.SUMMARY
    write_json(summary, aggregate.aggregate(scores))
    return summary


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("project")
    summary = _fake_project(root)
    paths = build_report(summary, root / "results/bench", root / "reports")
    html = (root / "reports/index.html").read_text()
    return {
        "root": root,
        "paths": paths,
        "html": html,
        "md": (root / "reports/index.md").read_text(),
    }


def _gpu_check_folder(folder: Path, bench: dict) -> None:
    """What scripts/gpu-check.sh leaves in its folder: 1, 2 and 4 trainings at once whose
    totals are 300, 580 and 600 sentences/s."""
    folder.mkdir(parents=True)
    (folder / "device.txt").write_text("2.11.0+cu130 NVIDIA H100 80GB HBM3\n")
    (folder / "steps.txt").write_text("install 20\ncuda-tests 50\nsmoke 400\ndone 410\n")
    (folder / "smoke-seconds.txt").write_text("180\n")
    training = [{**row, "peak_gpu_memory_mb": 321.0, "device": "cuda"} for row in bench["training"]]
    write_json(folder / "bench-pos.json", {**bench, "device": "cuda", "training": training})
    for runs, each in ((1, 300.0), (2, 290.0), (4, 150.0)):
        for i in range(1, runs + 1):
            row = {"model": "compound_stacked_ge_c", "sentences_per_second": each}
            write_json(folder / f"concurrent-{runs}-{i}.json", {"training": [
                {**row, "peak_gpu_memory_mb": 900.0 + runs, "batch_size": 10, "sentences": 200}
            ]})  # fmt: skip


def test_the_gpu_check_and_projection_join_the_speed_section(tmp_path: Path) -> None:
    """scripts/gpu_check_summary.py over a check's folder, then the report: the sharing table
    (runs per GPU: the fewest within 95% of the best total, here 2), the device's bench, and
    the projected wall time of `spen project-time`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gpu_check_summary", REPO / "scripts" / "gpu_check_summary.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = _fake_project(tmp_path)
    bench = json.loads((tmp_path / "results/bench/decode-pos.json").read_text())
    _gpu_check_folder(tmp_path / "check", bench)
    check = module.summary(tmp_path / "check")
    assert check["runs_per_gpu"] == 2 and check["wall_seconds"] == 410
    assert [r["sentences_per_second_total"] for r in check["concurrency"]] == [300, 580, 600]
    write_json(tmp_path / layout.GPU_CHECK, check)
    params = load_params(REPO / "params")
    projected = project(load_costs(params, tmp_path / "results"), "paper", 2)
    write_json(tmp_path / layout.PROJECTION.format(profile="paper", workers=2), projected)
    build_report(summary, tmp_path / "results/bench", tmp_path / "reports")
    html = (tmp_path / "reports/index.html").read_text()
    wall = f"{projected['wall_seconds'] / 3600:.1f}"
    assert _cell(html, "projection:projection-paper-2.json:wall") == wall
    assert _cell(html, "gpu:2") == "580" and "chosen" in html
    assert "NVIDIA H100 80GB HBM3" in html and "smoke profile through" in html
    assert 'data-cell="bench:gpu-check.json:pos:32:inference_network"' in html
    assert _cell(html, "bench:gpu-check.json:pos:train:compound_stacked:peak") == "321"
    assert "No GPU check yet" not in html


def _cell(html: str, key: str) -> str:
    """The text of the cell `data-cell=key` (its trailer `n=K` kept, tags dropped)."""
    match = re.search(rf'data-cell="{re.escape(key)}"[^>]*>(.*?)</td>', html)
    assert match, f"no cell {key}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("&#43;", "+")


def _expected(values: list[float]) -> str:
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f} n={len(values)}"


def test_without_a_gpu_check_the_report_says_so(rendered: dict) -> None:
    assert "No GPU check yet" in rendered["html"] and "No GPU check yet" in rendered["md"]


def test_the_featurize_cost_joins_the_speed_section(rendered: dict) -> None:
    """Sizes summed over the splits (6 MiB of Arrow), the whole time in minutes (2.1), peak
    memory, and the profile that made it."""
    html, md = rendered["html"], rendered["md"]
    assert _cell(html, "featurize:featurize-pos-xfmr.json:mib") == "6.0"
    assert _cell(html, "featurize:featurize-pos-xfmr.json:min") == "2.1"
    assert (
        "Encoder features, computed once" in md
        and "| pos | xfmr | paper | 6 | 60 | 6.0 | 2.1 | 812 | cpu |" in md
    )


def test_the_training_cost_by_input_setting(rendered: dict) -> None:
    """A model's CPU time per sentence in xfmr over its time in plus: 400 / 320 = 1.25 for
    the BiLSTM, 30 / 20 = 1.5 for stacked."""
    html = rendered["html"]
    assert _cell(html, "settings:settings-pos.json:bilstm:plus") == "400.0"
    assert _cell(html, "settings:settings-pos.json:bilstm:xfmr:ratio") == "1.25"
    assert _cell(html, "settings:settings-pos.json:compound_stacked:xfmr:ratio") == "1.50"
    assert "time ÷ plus, xfmr" in rendered["md"]


def test_writes_both_files(rendered: dict) -> None:
    root = rendered["root"]
    reports = root / "reports"
    assert rendered["paths"] == [reports / "index.html", reports / "index.md", reports / "figures"]
    html = rendered["html"]
    assert "<style>" in html and '<object type="image/svg+xml" data="figures/' in html
    assert not re.search(r'<(link|script|img)[^>]+(href|src)="(?!data:)', html), "not standalone"
    assert not list(reports.glob(".*.tmp")), "temporary files left behind"


TASKS, SETTINGS = ("ner", "pos"), ("paper", "plus")  # the fake project's, sorted


def _figure_refs(html: str, md: str) -> tuple[list[str], list[str]]:
    """The figures the pages show, as the paths they name them by."""
    return re.findall(r'<object[^>]+data="([^"]+)"', html), re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)


def test_figures_are_files_beside_the_pages(rendered: dict) -> None:
    reports = rendered["root"] / "reports"
    html, md = rendered["html"], rendered["md"]
    in_html, in_md = _figure_refs(html, md)
    files = sorted(p.relative_to(reports).as_posix() for p in (reports / "figures").iterdir())
    assert files == [
        f"figures/curves-{task}-{setting}.svg" for task in TASKS for setting in SETTINGS
    ]
    assert sorted(in_html) == sorted(in_md) == files  # each shown once by each page
    for name in files:
        assert (reports / name).read_text().startswith("<svg xmlns=")
    assert "data:image" not in md and "data:image" not in html
    assert "<svg" not in html  # the charts are the files', not inline copies


def test_a_render_replaces_the_figures_and_a_failed_one_keeps_them(
    rendered: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart the results no longer give goes with the render that drops it; a render that
    fails writes nothing."""
    root = tmp_path / "project"
    shutil.copytree(rendered["root"], root)
    reports = root / "reports"
    (reports / "figures/curves-old-setting.svg").write_text("<svg/>")
    (reports / "figures/README").write_text("not a figure")
    build_report(root / layout.SUMMARY, reports / "bench", reports)
    kept = sorted(p.name for p in (reports / "figures").iterdir())
    assert kept == ["README"] + [f"curves-{t}-{s}.svg" for t in TASKS for s in SETTINGS]

    before = {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()}

    def broken(context: dict) -> dict:
        raise RuntimeError("template error")

    monkeypatch.setattr(build, "render", broken)
    with pytest.raises(RuntimeError, match="template error"):
        build_report(root / layout.SUMMARY, reports / "bench", reports)
    assert {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()} == before
    assert not list(reports.glob(".*.tmp"))


def test_main_table_means_and_differences(rendered: dict) -> None:
    html = rendered["html"]
    pos = POS[("bilstm", "paper")]
    assert _cell(html, "main:bilstm:pos-paper:pos:ours") == _expected(pos)
    assert _cell(html, "main:bilstm:pos-paper:pos:paper") == f"{PAPER_POS_BILSTM:.1f}"
    diff = statistics.fmean(pos) - PAPER_POS_BILSTM
    assert _cell(html, "main:bilstm:pos-paper:pos:diff") == f"{diff:+.2f}"

    stacked = POS[("compound_stacked", "paper")]
    diff = statistics.fmean(stacked) - PAPER_POS_STACKED
    assert _cell(html, "main:compound_stacked:pos-paper:pos:ours") == _expected(stacked)
    assert _cell(html, "main:compound_stacked:pos-paper:pos:diff") == f"{diff:+.2f}"

    ner = [f1 for f1, _ in NER[("bilstm", "paper")]]
    diff = statistics.fmean(ner) - PAPER_NER_BILSTM
    assert _cell(html, "main:bilstm:ner-paper:ner:ours") == _expected(ner)
    assert _cell(html, "main:bilstm:ner-paper:ner:diff") == f"{diff:+.2f}"

    # one seed: no std; plus on POS has no paper counterpart
    assert _cell(html, "main:bilstm:pos-plus:none:ours") == "89.40 n=1"
    assert "no paper counterpart" in html
    # the exact-inference reference: ours beside no paper figure
    assert _cell(html, "main:bilstm_crf:ner-plus:ner_plus:ours") == "88.90 n=1"
    assert _cell(html, "main:bilstm_crf:ner-plus:ner_plus:paper") == "—"
    assert "BiLSTM-CRF (exact-inference reference)" in html


def test_missing_runs_say_not_run(rendered: dict) -> None:
    html = rendered["html"]
    for key in (
        "main:margin_rescaled:pos-paper:pos:ours",
        "main:bilstm:ner-plus:ner_plus:ours",
        "main:compound_stacked:ner-paper:ner:ours",
        "global:compound_stacked_ge_c:ner-plus:ner_plus:ours",
    ):
        assert _cell(html, key) == "not run"
    assert _cell(html, "main:margin_rescaled:pos-paper:pos:diff") == "—"
    assert _cell(html, "global:compound_stacked_ge_c:ner-plus:ner_plus:paper") == str(
        PAPER_NER_PLUS_GE_C
    )
    section_1 = rendered["md"].partition("## 1. Main results")[2]
    row = next(line for line in section_1.splitlines() if line.startswith("| perceptron"))
    assert row.count("not run") == len(MAIN_COLUMNS)  # no perceptron run in any column


def test_ner_types_strict_and_other_sections(rendered: dict) -> None:
    html = rendered["html"]
    for name, values in PER_TYPE.items():
        assert _cell(html, f"ner/bilstm-paper/type/{name}") == _expected(values)
    gaps = [f1 - strict for f1, strict in NER[("bilstm", "paper")]]
    assert _cell(html, "ner/bilstm-paper/f1-strict") == _expected(gaps)
    strict = [s for _, s in NER[("bilstm", "paper")]]
    assert _cell(html, "ner/bilstm-paper/strict_f1") == _expected(strict)
    # speed: each run's mean over epochs (100, 200, 300 -> 200), then over seeds
    assert _cell(html, "pos/bilstm-paper/speed") == "200.0 ± 0.0 n=2"
    assert _cell(html, "pos/bilstm-paper/peak-memory") == "706"  # seed 1's train.json only
    assert _cell(html, "bench:decode-pos.json:32:inference_network") == "160,000"
    assert _cell(html, "bench:decode-pos.json:32:inference_network:ratio") == "640.00"
    assert _cell(html, "params:pos/bilstm-paper") == "166.1K"
    assert _cell(html, "params:ner/bilstm-plus") == "not run"
    assert _cell(html, "pos/compound_stacked-paper/exact-minus-amortised") == "0.50 n=1"
    assert _cell(html, "pos/compound_stacked-paper/same") == "75.0 n=1"
    assert _cell(html, "pos/compound_stacked-paper/gd") == "85.25 n=1"
    assert _cell(html, "pipeline:pipeline-pos.json:wall") == "25.0"
    assert _cell(html, "pipeline:pipeline-pos.json:jobs") == "45.0"
    assert _cell(html, "pipeline:pipeline-pos.json:date") == "2026-11-25"
    assert _cell(html, "pos/compound_stacked-paper/gap-gd") == "2.500 n=1"
    assert _cell(html, "pos/compound_stacked-paper/gd-a") == "not run"
    charts = [p.read_text() for p in (rendered["root"] / "reports/figures").glob("curves-*.svg")]
    assert sum(c.count("<polyline") for c in charts) >= 3  # POS paper: two models; POS plus, ...
    # project choices: Markdown rendered, raw HTML escaped
    assert "<h3>Data</h3>" in html and "<strong>Splits.</strong>" in html
    assert "&lt;b&gt;bullet&lt;/b&gt;" in html and "<pre><code>indented code" in html
    assert "<table>" in html and "<td>80.98</td>" in html  # a table renders as a table
    assert "\n### Data\n" in rendered["md"]


def test_gains_over_the_bilstm(rendered: dict) -> None:
    html = rendered["html"]
    gain = statistics.fmean(POS[("compound_stacked", "paper")]) - statistics.fmean(
        POS[("bilstm", "paper")]
    )
    paper_gain = PAPER_POS_STACKED - PAPER_POS_BILSTM
    assert _cell(html, "gain:compound_stacked:pos-paper:ours") == f"{gain:+.2f}"
    assert _cell(html, "gain:compound_stacked:pos-paper:paper") == f"{paper_gain:+.1f}"
    assert _cell(html, "gain:compound_stacked:pos-paper:diff") == f"{gain - paper_gain:+.2f}"
    assert _cell(html, "gain:compound_stacked:ner-paper:ours") == "not run"
    assert _cell(html, "gain:compound_stacked:ner-paper:diff") == "—"


def test_claims_without_params_and_speed_claims(rendered: dict) -> None:
    """This project has no params/ (tests/test_report_claims.py has one): no tuning record can
    be matched to a model, so no claim on test scores counts; speed claims need none."""
    html = rendered["html"]
    key = "claim:compound_stacked-over-bilstm:pos-paper:bilstm"
    assert _cell(html, f"{key}:better") == _expected(POS[("compound_stacked", "paper")])
    assert _cell(html, f"{key}:other") == _expected(POS[("bilstm", "paper")])
    assert _cell(html, f"{key}:verdict") == "cannot tell (not run under the tuning protocol)"
    assert _cell(html, f"{key}:diff") == "—"
    assert "params/: not found under" in html
    # GE(c) is a NER claim only; speed claims compare the paper setting only
    assert 'data-cell="claim:compound_stacked_ge_c-over-compound_stacked:pos-paper' not in html
    assert 'data-cell="claim:compound_stacked-over-compound_separated:pos-plus' not in html
    speed = "claim:compound_stacked-over-compound_separated:pos-paper:compound_separated"
    assert _cell(html, f"{speed}:diff") == "-7.50"  # the benchmark's figures, not the logs'
    assert _cell(html, f"{speed}:verdict") == "cannot tell (1 timed pass)"  # an older bench
    assert _cell(html, f"{speed}:paper") == "+26.0"  # the paper's speed column: 92 − 66
    equal_k = "claim:compound_stacked@k=1-over-compound_separated@k=1:pos-paper"
    assert _cell(html, f"{equal_k}:compound_separated@k=1:diff") == "+52.50"
    # SE over the timed passes: sqrt(100/3 + 6.25/3)
    assert _cell(html, f"{equal_k}:compound_separated@k=1:se") == "5.95"
    assert _cell(html, f"{equal_k}:compound_separated@k=1:verdict") == "holds"
    assert _cell(html, f"{equal_k}:compound_separated@k=1:better").endswith("passes=3")
    assert "benchmark (training sentences/s): compound, CE" in html
    assert _cell(html, "bench:decode-pos.json:train:compound_separated@k=1") == "400.0 ± 10.0"
    assert _cell(html, f"{equal_k}:compound_separated@k=1:paper") == "—"
    assert "compound, CE, no truncation: separated (k=1)" in html  # its base model's label
    assert "No claim on test scores has a Δ with an SE yet" in html  # no forest plot
    assert "No tuning record found" in rendered["md"]


def test_markdown_twin_has_the_same_figures(rendered: dict) -> None:
    md = rendered["md"]
    pos = POS[("bilstm", "paper")]
    mean, std = statistics.fmean(pos), statistics.stdev(pos)
    row = next(line for line in md.splitlines() if line.startswith("| BiLSTM (local, CE) |"))
    cells = [c.strip() for c in row.strip("| ").split(" | ")]
    assert cells[1:4] == [
        f"{mean:.2f} ± {std:.2f} (n=2)",
        f"{PAPER_POS_BILSTM:.1f}",
        f"{mean - PAPER_POS_BILSTM:+.2f}",
    ]
    assert "](figures/curves-pos-paper.svg)" in md
    tables = [line for line in md.splitlines() if re.fullmatch(r"\|(---\|)+", line)]
    assert len(tables) >= 10


def test_cli(tmp_path: Path, rendered: dict) -> None:
    root = rendered["root"]
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["report", "--summary", str(root / "results/summary.json"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "index.md").is_file()
    missing = runner.invoke(app, ["report", "--summary", str(tmp_path / "none.json")])
    assert missing.exit_code == 2
    assert "spen aggregate" in missing.output


def test_helpers() -> None:
    assert svg.nice_ticks(0.3, 9.7) == [0, 2, 4, 6, 8, 10]
    chart = svg.line_chart(
        [svg.Series("a<b", [(1, 2.0), (2, 3.0)])], title="t", x_label="x", y_label="y"
    )
    assert chart.startswith("<svg") and "a&lt;b" in chart and "<polyline" in chart
    assert "no finished runs" in svg.line_chart([], title="t", x_label="x", y_label="y")
    assert markdown.inline("`a*b*` *c*") == "<code>a*b*</code> <em>c</em>"
    assert markdown.to_html("1. one\n2. two") == "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"
    # a table (docs/CHOICES.md has them) renders as one; raw HTML is shown as text
    table = markdown.to_html("| a | b |\n|---|---|\n| 1 | <i>2</i> |")
    assert "<table>" in table and "<td>1</td>" in table and "&lt;i&gt;2&lt;/i&gt;" in table
    assert markdown.to_html("# T\n###### deep", heading_offset=1) == "<h2>T</h2>\n<h6>deep</h6>"


# ---------------------------------------------------------------------------------------------
# in a browser


def _png_rows(path: Path, limit: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first `limit` rows (RGB/RGBA, 8 bit) of a PNG: a tiny decoder."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, limit)):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, bpp)]


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium missing: `apt-get install -y chromium` to check the rendering",
)
def test_renders_in_a_browser(rendered: dict, tmp_path: Path) -> None:
    page = (rendered["root"] / "reports/index.html").as_uri()
    shot = tmp_path / "shot.png"
    done = _chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", page], tmp_path / "profile"
    )
    assert shot.is_file(), done.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    width, height, pixels = _png_rows(shot, 400)
    assert (width, height) == (1280, 2000)
    colours = set(pixels)
    assert len(colours) > 20, "the screenshot is (nearly) one colour"
    dark = sum(1 for p in pixels if sum(p) < 200) / len(pixels)
    assert 0.001 < dark < 0.5, f"{dark:.3%} dark pixels: text missing or page black"

    dom = _chromium(["--dump-dom", page], tmp_path / "profile2")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for table in (
        "main",
        "gain",
        "claims",
        "global",
        "ner-overall",
        "ner-types",
        "parameters",
        "runs",
    ):
        assert f'<table id="{table}">' in dom.stdout
    assert _cell(dom.stdout, "main:margin_rescaled:pos-paper:pos:ours") == "not run"
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_a_clone_without_checkpoints_renders_the_same_run_facts(
    rendered: dict, tmp_path: Path
) -> None:
    """models/ is DVC's, not git's: the summary's copy of train.json and the versioned
    learning curves stand in for it."""
    clone = tmp_path / "clone"
    shutil.copytree(rendered["root"], clone)
    shutil.rmtree(clone / "models")
    build_report(clone / layout.SUMMARY, clone / "results/bench", clone / "reports")
    html = (clone / "reports/index.html").read_text()
    assert _cell(html, "pos/bilstm-paper/peak-memory") == "706"
    assert "metrics.jsonl: missing" not in html
    assert _cell(html, "params:pos/bilstm-paper") == "166.1K"  # train.json's count wins

    summary = json.loads((clone / layout.SUMMARY).read_text())
    for entry in summary["runs"].values():
        entry.pop("train_json", None)
    write_json(clone / layout.SUMMARY, summary)
    build_report(clone / layout.SUMMARY, clone / "results/bench", clone / "reports")
    html = (clone / "reports/index.html").read_text()
    assert _cell(html, "params:pos/bilstm-paper") == "150.0K"  # the benchmark's count
    assert _cell(html, "params:pos/bilstm-plus") == "no count"


def test_runs_a_device_batch_made_are_said_to_have_run_there(tmp_path: Path) -> None:
    """A batch record naming one compound-stacked seed: the all-runs table says where each
    group ran, and the claim comparing it with the CPU-only BiLSTM is marked as mixing
    hardware (the BiLSTM's own rows are not)."""
    root = tmp_path / "project"
    summary = _fake_project(root)
    record = {"device": "NVIDIA H200", "runs_finished": ["pos/compound_stacked-paper/seed2"]}
    write_json(root / "results/device/batch-2026-12-04T100000Z.json", record)
    build_report(summary, root / "results/bench", root / "reports")
    html = (root / "reports/index.html").read_text()
    md = (root / "reports/index.md").read_text()
    assert "| CPU, NVIDIA H200 |" in md and "| CPU |" in md
    key = "claim:compound_stacked-over-bilstm:pos-paper:bilstm"
    assert "(sides on different hardware)" in _cell(html, f"{key}:comparison")
    clean = tmp_path / "clean"
    build_report(_fake_project(clean), clean / "results/bench", clean / "reports")
    assert "(sides on different hardware)" not in _cell(
        (clean / "reports/index.html").read_text(), f"{key}:comparison"
    )
