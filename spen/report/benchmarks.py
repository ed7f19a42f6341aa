"""Section 8, the benchmarks: decoding throughput by method and batch size and training
throughput by model (`spen bench`, on the CPU and, from `scripts/gpu-check.sh`, on a GPU),
trainings sharing one GPU, and the pipeline's wall times (`spen pipeline-time`)."""

from __future__ import annotations

import statistics
from typing import Any

from spen.aggregate import is_number
from spen.layout import GPU_CHECK
from spen.projection import cpu_seconds_by_setting
from spen.report.cells import DASH, Cell, Table, text_cell
from spen.report.collect import Inputs
from spen.report.results import Results, ordered

BENCH_METHODS = {
    "inference_network": "inference network (BiLSTM + argmax), end to end",
    "viterbi_end_to_end": "BiLSTM + our Viterbi, end to end",
    "pytorch_crf_end_to_end": "BiLSTM + pytorch-crf, end to end",
    "gradient_descent_end_to_end": "BiLSTM + gradient-descent inference, end to end",
    "viterbi": "our Viterbi, decoder only",
    "pytorch_crf": "pytorch-crf, decoder only",
    "torch_struct": "torch-struct, decoder only",
    "gradient_descent": "gradient-descent inference, decoder only",
    "argmax": "argmax of unary scores, decoder only",
}


def bench_tables(res: Results) -> list[Table]:
    """Per benchmark file: decoding tokens/s of each method by batch size, its ratio to
    pytorch-crf and agreement with Viterbi; then its training throughput table, if any."""
    tables = []
    gpu = res.inputs.gpu_check
    for bench in [*res.inputs.bench, *(gpu or {}).get("bench", {}).values()]:
        rows_by_size = bench["rows"]
        methods = ordered(
            {m for row in rows_by_size for m in row.get("tokens_per_second", {})},
            tuple(BENCH_METHODS),
        )
        header = ["method"]
        groups = [("", 1)]
        for row in rows_by_size:
            header += ["tokens/s", "× pytorch-crf"]
            groups.append((f"batch {row['batch_size']}", 2))
        header.append("agreement with Viterbi")
        groups.append(("", 1))
        rows = []
        for method in methods:
            cells = [Cell(BENCH_METHODS.get(method, method), "label", title=method)]
            agreement = []
            for row in rows_by_size:
                speed = row.get("tokens_per_second", {}).get(method)
                ratio = row.get("ratio_to_pytorch_crf", {}).get(method)
                key = f"bench:{bench['file']}:{row['batch_size']}:{method}"
                cells.append(Cell(f"{speed:,.0f}", "num", key) if speed else Cell(DASH, "na"))
                cells.append(
                    Cell(f"{ratio:.2f}", "num", f"{key}:ratio") if ratio else Cell(DASH, "na")
                )
                if method in row.get("agreement_with_viterbi", {}):
                    agreement.append(row["agreement_with_viterbi"][method])
            cells.append(
                Cell(f"{100 * min(agreement):.2f}%", "num") if agreement else Cell(DASH, "na")
            )
            rows.append(cells)
        device = bench.get("device", "cpu")
        peak = bench.get("peak_rss_mb")
        note = (
            f"{bench['file']}: task {bench.get('task', '?')}, device {device}, machine "
            f"{bench.get('machine', '?')}, {bench.get('threads', '?')} torch threads; "
            f"{bench.get('sentences', '?')} test sentences, {bench.get('tokens', '?')} tokens"
            + (f"; peak memory {peak:.0f} MB" if is_number(peak) else "")
            + _gradient_descent_note(bench.get("gradient_descent"))
            + ". Best of the timed repetitions; `× pytorch-crf` = tokens/s over pytorch-crf's "
            "decoder-only tokens/s; agreement = the lowest, over batch sizes, share of tokens "
            "tagged as our Viterbi tags them."
        )
        title = f"{str(bench.get('task', '?')).upper()} on {device}"
        tables.append(Table(f"bench-{bench['file']}", header, rows, groups, [note], title))
        if bench.get("training"):
            tables.append(training_bench_table(res, bench, title))
    return tables


def _gradient_descent_note(options: dict[str, Any] | None) -> str:
    """The benchmark's gradient-descent settings as a clause of its note; '' without."""
    if not options:
        return ""
    return (
        f"; gradient-descent inference: {options['steps']} steps of size {options['lr']} from "
        "uniform outputs"
    )


def training_throughputs(entry: dict[str, Any]) -> list[float]:
    """A training benchmark row's sentences per second, one figure per timed pass (a row from
    before passes were timed apart has one): per CPU second of the process on a CPU (the time
    other jobs held the CPU left out, their cache contention not), per wall second on a GPU or
    where CPU time was not recorded."""
    if entry.get("device", "cpu") == "cpu" and entry.get("cpu_seconds"):
        seconds = entry.get("pass_cpu_seconds") or [entry["cpu_seconds"]]
    elif entry.get("pass_seconds"):
        seconds = entry["pass_seconds"]
    else:
        return [float(entry["sentences_per_second"])]
    return [entry["sentences"] / s for s in seconds]


def _passes(bench: dict[str, Any]) -> str:
    """How many timed passes each model of a training benchmark made, in words."""
    passes = bench["training"][0].get("passes", 1)
    return "one pass" if passes == 1 else f"{passes} timed passes (mean ± sd over them)"


def training_bench_table(res: Results, bench: dict[str, Any], title: str) -> Table:
    """Training sentences/s of every model, measured one after another in one process (and,
    on a GPU, each one's peak GPU memory)."""
    gpu = any("peak_gpu_memory_mb" in entry for entry in bench["training"])
    rows = []
    for entry in bench["training"]:
        key = f"bench:{bench['file']}:train:{entry['model']}"
        figures = training_throughputs(entry)
        spread = f" ± {statistics.stdev(figures):,.1f}" if len(figures) > 1 else ""
        row = [
            Cell(res.label(entry["model"]), "label", title=entry["model"]),
            Cell(f"{statistics.fmean(figures):,.1f}{spread}", "num", key),
            Cell(str(entry["batch_size"]), "num"),
            text_cell(entry.get("inner_steps") or DASH, "num"),
        ]
        if gpu:
            peak = entry.get("peak_gpu_memory_mb")
            row.append(Cell(f"{peak:,.0f}", "num", f"{key}:peak") if peak else Cell(DASH, "na"))
        rows.append(row)
    note = (
        f"{bench['file']}: {_passes(bench)} over the first {bench['training'][0]['sentences']} "
        "training sentences per model, after one warm-up batch, in the paper input setting (on "
        "a CPU, sentences per CPU second of the process, which leaves out the time other jobs "
        "held the CPU but not their contention for its caches: absolute figures taken beside "
        "other jobs come out lower, so compare ratios within one benchmark; on a GPU, per wall "
        "second); a SPEN model's step includes its k inference-network updates (k: the inner "
        "steps, METHOD.md §4b). The rows `(k=K)` time a compound model at another k than its "
        "own, so that separated, shared and stacked are also compared at equal k."
    )
    return Table(
        f"bench-train-{bench['file']}",
        ["model", "training sentences/s", "batch size", "k"] + (["peak GPU MB"] if gpu else []),
        rows,
        notes=[note],
        title=f"{title}: training throughput",
    )


def pipeline_time_table(inputs: Inputs) -> Table | None:
    """Wall time of each measured pipeline run (`spen pipeline-time` on its Snakemake log)."""
    if not inputs.pipeline_times:
        return None
    rows = []
    for timing in inputs.pipeline_times:
        trains = timing["rules"].get("train", {})
        key = f"pipeline:{timing['file']}"
        rows.append(
            [
                Cell(timing.get("name", timing["file"]), "label", title=timing["file"]),
                Cell(str(timing.get("start", "?")).partition("T")[0], "", f"{key}:date"),
                Cell(str(timing.get("cores", "?")), "num"),
                Cell(f"{timing['wall_seconds'] / 60:.1f}", "num", f"{key}:wall"),
                Cell(f"{timing['job_seconds'] / 60:.1f}", "num", f"{key}:jobs"),
                Cell(str(trains.get("jobs", 0)), "num"),
                Cell(f"{trains.get('max', 0) / 60:.1f}", "num"),
                text_cell("yes" if timing.get("complete") else "NO"),
            ]
        )
    header = ["pipeline run", "date", "cores", "wall time (min)", "job time (min)", "trainings"]
    header += ["longest training (min)", "complete"]
    notes = [
        "From results/bench/pipeline-*.json, which `spen pipeline-time LOG` reads off a run's "
        "Snakemake log: wall time from the first job's start to the last job's end; job time is "
        "the sum over jobs (what the run would take on one core). Each was measured on the "
        "code and settings of its date; rows run since, under the tuning protocol, may train "
        "for other epochs and take other times (the projection below costs each job from what "
        "was measured since)."
    ]
    return Table("pipeline-times", header, rows, notes=notes)


def gpu_sharing_table(inputs: Inputs) -> Table | None:
    """Trainings sharing one GPU (`scripts/gpu-check.sh`): their throughput each and together,
    the peak memory of each, and the number of runs per GPU chosen from them."""
    check = inputs.gpu_check
    if check is None:
        return None
    rows = []
    for row in check["concurrency"]:
        each = row["sentences_per_second_each"]
        peak = row.get("peak_memory_mb_each")
        chosen = row["runs"] == check.get("runs_per_gpu")
        rows.append(
            [
                Cell(str(row["runs"]), "num"),
                Cell(f"{row['sentences_per_second_total']:,.0f}", "num", f"gpu:{row['runs']}"),
                Cell(f"{sum(each) / len(each):,.0f}", "num") if each else Cell(DASH, "na"),
                Cell(f"{peak:,.0f}", "num") if is_number(peak) else Cell(DASH, "na"),
                text_cell("chosen" if chosen else ""),
            ]
        )
    smoke = check.get("smoke_wall_seconds")
    note = (
        f"{GPU_CHECK}: {check.get('device', '?')}, torch {check.get('torch', '?')}; N trainings "
        "of the slowest model (NER plus, stacked + GE(c)) at once, each `spen bench --training"
        "-only`; runs per GPU = the fewest reaching 95% of the best total. The whole check took "
        f"{check.get('wall_seconds', 0) / 60:.1f} min"
        + (f", the smoke profile through workflow/profiles/gpu {smoke / 60:.1f}" if smoke else "")
        + (" min." if smoke else ".")
    )
    header = ["trainings at once", "sentences/s, all", "sentences/s, each", "peak MB, each", ""]
    return Table("gpu-sharing", header, rows, notes=[note], title="Trainings sharing one GPU")


def _threads(bench: dict[str, Any]) -> str:
    """How many torch threads a benchmark ran on, as it recorded them."""
    threads = bench.get("threads")
    return f"{threads} torch thread(s)" if threads else "torch threads not recorded"


def setting_cost_tables(res: Results) -> list[Table]:
    """Per `settings-*.json`: each model's training sentences per CPU second in each input
    setting, measured one after another in one process, and its CPU time per sentence relative
    to the first setting's (CPU time: the time other jobs held the CPU does not enter it)."""
    tables = []
    for bench in res.inputs.setting_benches:
        sentences = bench["training"][0]["sentences"]
        speed = {
            model: {setting: sentences / cpu for setting, cpu in by_setting.items()}
            for model, by_setting in cpu_seconds_by_setting(bench).items()
        }
        settings = list(dict.fromkeys(e.get("setting", "paper") for e in bench["training"]))
        base, others = settings[0], settings[1:]
        rows = []
        for model, by_setting in speed.items():
            key = f"settings:{bench['file']}:{model}"
            row = [Cell(res.label(model), "label", title=model)]
            for setting in settings:
                value = by_setting.get(setting)
                row.append(
                    Cell(f"{value:,.1f}", "num", f"{key}:{setting}") if value else Cell(DASH, "na")
                )
            for setting in others:
                if by_setting.get(setting) and by_setting.get(base):
                    ratio = by_setting[base] / by_setting[setting]
                    row.append(Cell(f"{ratio:.2f}", "num", f"{key}:{setting}:ratio"))
                else:
                    row.append(Cell(DASH, "na"))
            rows.append(row)
        header = ["model", *(f"sentences per CPU s, {s}" for s in settings)]
        header += [f"time ÷ {base}, {s}" for s in others]
        note = (
            f"{bench['file']}: task {bench.get('task', '?')}, device {bench.get('device', '?')}; "
            f"one pass over the first {sentences} training sentences per "
            "model and input setting, after one warm-up batch, one after another in one process "
            f"(`spen bench --training-only`, {_threads(bench)}). Time ÷ {base}: the CPU time a "
            f"training sentence takes in the setting over its time in `{base}` (the per-epoch "
            "cost ratio). "
            "CPU time rather than wall time: it leaves out the time other jobs held the CPU, "
            "though not their contention for its caches, so compare ratios within one benchmark."
        )
        title = f"{str(bench.get('task', '?')).upper()}: training cost by input setting"
        tables.append(Table(f"settings-{bench['file']}", header, rows, notes=[note], title=title))
    return tables


def featurize_table(inputs: Inputs) -> Table | None:
    """Per task and input setting: what computing the encoder features once cost (`spen
    featurize --cost`), and the size of the Arrow files it wrote."""
    if not inputs.featurize_costs:
        return None
    rows = []
    for measured in inputs.featurize_costs:
        splits = measured["splits"].values()
        cost = measured.get("cost", {})
        seconds = cost.get("seconds_total") or sum(cost.get("seconds", {}).values())
        peak = cost.get("peak_rss_mb")
        key = f"featurize:{measured['file']}"
        rows.append(
            [
                text_cell(measured.get("task", "?")),
                text_cell(measured.get("setting", "?")),
                text_cell(measured.get("profile", "?")),
                Cell(f"{sum(s['sentences'] for s in splits):,}", "num"),
                Cell(f"{sum(s['words'] for s in splits):,}", "num"),
                Cell(f"{sum(s['bytes'] for s in splits) / 2**20:,.1f}", "num", f"{key}:mib"),
                Cell(f"{seconds / 60:.1f}", "num", f"{key}:min"),
                Cell(f"{peak:,.0f}", "num") if is_number(peak) else Cell(DASH, "na"),
                text_cell(measured.get("device", "?")),
                text_cell(cost["threads"], "num") if "threads" in cost else Cell(DASH, "na"),
            ]
        )
    header = ["task", "setting", "profile", "sentences", "words", "Arrow (MiB)", "time (min)"]
    header += ["peak memory (MB)", "device", "torch threads"]
    note = (
        "From results/bench/featurize-*.json (`spen featurize --cost`, the pipeline's featurize "
        "step): the frozen encoder loaded and run once over train, dev and test (the profile's "
        "sentence limits); its per-word features stored as float16 Arrow, "
        "memory-mapped by every training of the setting. "
        "Time and peak memory (the process's resident set) vary from run to run; the sizes do not."
    )
    return Table("featurize", header, rows, notes=[note], title="Encoder features, computed once")


def projection_table(inputs: Inputs) -> Table | None:
    """The projected wall time of each profile's whole pipeline (`spen project-time`)."""
    if not inputs.projections:
        return None
    rows = []
    for proj in inputs.projections:
        steps = proj["steps"]
        jobs = sum(step["jobs"] for step in steps.values())
        estimated = sum(step["estimated_jobs"] for step in steps.values())
        trains = steps.get("train", {})
        key = f"projection:{proj['file']}"
        rows.append(
            [
                text_cell(proj["profile"]),
                Cell(
                    f"{proj['workers']} on one {proj['device']}"
                    if proj.get("device")
                    else str(proj["workers"]),
                    "num",
                ),
                Cell(f"{proj['wall_seconds'] / 3600:.1f}", "num", f"{key}:wall"),
                Cell(f"{proj['job_seconds'] / 3600:.1f}", "num", f"{key}:jobs"),
                Cell(f"{int(jobs):,}", "num"),
                Cell(f"{int(estimated):,}", "num"),
                Cell(f"{int(trains.get('jobs', 0) - trains.get('estimated_jobs', 0)):,}", "num"),
                text_cell(", ".join(proj.get("settings_without_measured_runs", [])) or DASH),
            ]
        )
    header = ["profile", "workers", "projected wall (h)", "job time (h)", "jobs"]
    header += ["estimated jobs", "trainings measured", "settings never run"]
    note = (
        "From results/bench/projection-*.json (`spen project-time`): every job of the profile "
        "(grid points, trainings, decoding, scoring, analysis, ...) costed from what was "
        "measured, then scheduled in dependency order on the workers, the longest remaining "
        "chain first. A measured training counts its seconds; the others cost epochs x the "
        "benchmark's seconds per sentence at their k x a calibration factor per task and "
        "setting (the median measured/estimated ratio of that setting's runs); a setting never "
        "run borrows its ratio to `paper` from the other task, or, where no task ran it, from "
        "the settings benchmark's CPU times (results/bench/settings-*.json). Steps never "
        "recorded by `spen pipeline-time` (featurize, bench) count nothing. On a GPU (`spen "
        "project-time --gpu-check`): the workers are the runs that share it, and each training "
        "costs its CPU cost times its row's GPU/CPU epoch-time ratio measured by a device batch "
        "(the median ratio for a row not measured there). spen/projection.py has the model."
    )
    return Table("projection", header, rows, notes=[note], title="Projected wall time")
