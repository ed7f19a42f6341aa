"""The `spen` command line: one subcommand per pipeline step."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer

from spen.config import ParamsError, load_params
from spen.data.readers import DataFormatError
from spen.data.sources import ChecksumError, MissingDataError, RawFile, find_and_fetch
from spen.io import OutputError, check_output_dir, check_output_file

if TYPE_CHECKING:  # heavy imports stay out of the command line's start-up
    import torch

    from spen.data.arrow import Split
    from spen.data.vocab import Vocabularies
    from spen.run_config import RunConfig
    from spen.training.learners import Learner

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

F = TypeVar("F", bound=Callable[..., Any])
USER_ERRORS = (
    DataFormatError,
    ParamsError,
    MissingDataError,
    ChecksumError,
    FileNotFoundError,
    ValueError,
    OutputError,
    OSError,  # a full disk, a read-only mount, a missing permission: named, with the cause
)

ParamsDir = Annotated[Path, typer.Option("--params", help="Directory of the params YAML files.")]
DataDir = Annotated[Path | None, typer.Option(help="Preprocessed data (default data/TASK).")]
DeviceName = Literal["auto", "cpu", "cuda"]
Device = Annotated[DeviceName, typer.Option(help="auto, cpu or cuda.")]
Split = Annotated[str, typer.Option(help="train, dev or test.")]
FeaturesDir = Annotated[
    Path | None,
    typer.Option(
        "--features",
        help="Encoder features of a setting that reads them (default data/features/TASK/SETTING).",
    ),
]
Profile = Annotated[
    str | None, typer.Option(help="Run profile (default: params/experiments.yaml).")
]


def user_errors(func: F) -> F:
    """Report the errors a user can act on as one line on stderr, exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from spen.data.featurize import MissingExtraError
        from spen.device import DeviceUnavailableError
        from spen.training.faults import NumericalFaultError

        try:
            return func(*args, **kwargs)
        except (
            *USER_ERRORS,
            NumericalFaultError,
            DeviceUnavailableError,
            MissingExtraError,
        ) as err:
            message = " ".join(_describe(err).split("\n"))  # one line, whatever the message
            typer.echo(f"spen {func.__name__.replace('_', '-')}: error: {message}", err=True)
            raise typer.Exit(2) from err

    return wrapper  # type: ignore[return-value]


def _describe(err: Exception) -> str:
    """The error as `PATH: what is wrong`: an OSError the OS raised shows its file and cause."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        from spen.io import os_reason

        names = [str(err.filename)] + ([str(err.filename2)] if err.filename2 else [])
        return f"{' -> '.join(names)}: {os_reason(err)}"
    return str(err)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=True))


@app.command()
@user_errors
def fetch(
    task: str,
    params_dir: ParamsDir = Path("params"),
    dest: Annotated[Path, typer.Option(help="Where verified raw files go.")] = Path("data/raw"),
) -> None:
    """Find TASK's raw files on the search path, verify their SHA-256, copy them to DEST/DIR."""
    params = load_params(params_dir)
    spec = params.task(task)
    files = [
        RawFile(name, f"{spec['dir']}/{name}", entry["sha256"], entry.get("url"))
        for name, entry in spec["files"].items()
    ]
    raw = params.data["raw"]
    paths = find_and_fetch(
        files,
        raw["search_path"],
        dest / spec["dir"],
        raw.get("allow_download", True),
        base=params.root,
    )
    for path in paths:
        typer.echo(str(path))


@app.command()
@user_errors
def preprocess(
    task: str,
    params_dir: ParamsDir = Path("params"),
    raw: Annotated[Path, typer.Option(help="Root of the fetched raw data.")] = Path("data/raw"),
    out: Annotated[Path | None, typer.Option(help="Output directory (default data/TASK).")] = None,
) -> None:
    """Read, check and convert TASK's raw splits to Arrow, with vocabularies and embeddings."""
    from spen.data.preprocess import preprocess as run

    params = load_params(params_dir)
    spec = params.task(task)
    summary = run(
        spec,
        raw / spec["dir"],
        out or Path("data") / task,
        params.data["embeddings"]["source"],
        base=params.root,
    )
    _print_json(summary)


@app.command()
@user_errors
def featurize(
    task: str,
    setting: Annotated[str, typer.Option(help="Input setting whose `features` to compute.")],
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
    data: DataDir = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default data/features/TASK/SETTING).")
    ] = None,
    device: Device = "cpu",
    cost: Annotated[
        Path | None,
        typer.Option(help="Also write the sizes and the cost (seconds, peak memory) here."),
    ] = None,
) -> None:
    """Per-word features of TASK's splits from the frozen encoder that input SETTING names,
    computed once: OUT/{train,dev,test}.arrow and OUT/summary.json (sizes). The cost (seconds,
    peak memory) is printed, and written to COST if given, never into OUT, so the same inputs
    give OUT the same bytes. The run profile's sentence limits apply."""
    from torch import get_num_threads

    from spen.data.features import FEATURES_DIR
    from spen.data.featurize import featurize_task
    from spen.data.prepared import SPLITS, load_prepared
    from spen.io import atomic_dir, write_json
    from spen.run_config import FeatureSpec

    params = load_params(params_dir)
    spec = params.models["settings"].get(setting, {}).get("features")
    if not spec:
        raise ValueError(f"params/models.yaml: settings.{setting} has no `features` to compute")
    profile = profile or params.experiments["profile"]
    overrides = params.profile(profile)["overrides"]
    out = out or Path(FEATURES_DIR.format(task=task, setting=setting))
    check_output_dir(out, (*(f"{s}.arrow" for s in SPLITS), "summary.json"), replace=True)
    if cost:
        if cost.resolve().is_relative_to(out.resolve()):
            raise OutputError(cost, "inside the features folder", f"a path outside {out}")
        check_output_file(cost)
    prepared = load_prepared(data or Path("data") / task)
    limits = {name: overrides.get(f"{name}_limit") for name in SPLITS}
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        summary, spent = featurize_task(
            prepared, FeatureSpec.from_config(spec), tmp, limits, device
        )
        write_json(tmp / "summary.json", summary)
    spent["seconds_total"] = time.perf_counter() - start  # the encoder's loading included
    spent["threads"] = get_num_threads()
    measured = {"task": task, "setting": setting, "profile": profile, "limits": limits}
    measured.update(summary, cost=spent)
    if cost:
        cost.parent.mkdir(parents=True, exist_ok=True)
        write_json(cost, measured)
    _print_json(measured)


@app.command()
@user_errors
def train(
    task: str,
    model: str,
    setting: str,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
    data: DataDir = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default models/TASK/MODEL-SETTING/seedK).")
    ] = None,
    device: Annotated[
        DeviceName | None, typer.Option(help="auto, cpu or cuda (overrides params).")
    ] = None,
    point: Annotated[
        str | None, typer.Option(help="Train this grid point of params/tuning.yaml.")
    ] = None,
    tuned: Annotated[
        Path | None, typer.Option(help="Tuning record whose chosen settings to train with.")
    ] = None,
    probe: Annotated[
        Path | None,
        typer.Option(help="With --point: train the pruning rule's probe epochs; summary here."),
    ] = None,
    pruning: Annotated[
        Path | None, typer.Option(help="With --point: the pruning record (stop if pruned).")
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Write the run's summary here (default OUT/train.json).")
    ] = None,
    features: FeaturesDir = None,
) -> None:
    """Train MODEL in input SETTING on TASK; resumes from the run's last checkpoint if any."""
    from spen import tuning
    from spen.data.prepared import load_prepared
    from spen.training.loop import RunPaths, adopt_resume_state
    from spen.training.loop import train as run

    params = load_params(params_dir)
    profile = profile or params.experiments["profile"]
    if point and tuned:
        raise ValueError("--point and --tuned exclude each other: a grid point or the choice")
    if (probe or pruning) and not point:
        raise ValueError("--probe and --pruning train a grid point: give --point too")
    if probe and summary:
        raise ValueError("--probe names the probe's summary: give --summary without it")
    overrides = tuning.chosen_overrides(tuned) if tuned else None
    if point:
        base = params.run_config(task, model, setting, seed, profile)
        grid_point = tuning.point(params, model, profile, point, task)
        overrides = grid_point.overrides(params, base.kind, base.objective)
    config = params.run_config(task, model, setting, seed, profile, overrides)
    if device:
        config = replace(config, device=device)
    out = out or Path("models") / task / f"{model}-{setting}" / f"seed{seed}"
    # before any work: a file in the way or an unwritable place would fail only at the first
    # checkpoint, an epoch later
    check_output_dir(out, ("best.pt", "metrics.jsonl", "train.json", "resume/last.pt"))
    paths, stop_after = RunPaths.under(out), None
    if probe or summary:
        check_output_file(probe or summary)
        paths = replace(paths, summary=probe or summary)
    if tuned:
        # the chosen grid point's run (beside this one, in the pipeline's layout) is this very
        # run when the seeds agree: go on from its end rather than train it again
        chosen = RunPaths.under(out.parent / "tune" / tuning.chosen_point(tuned))
        adopt_resume_state(paths, chosen.resume, config)
    if probe:
        rule = tuning.pruning(params, task, model, profile)
        if rule is None:
            raise ValueError(f"--probe: no pruning rule applies to {task}/{model}'s grid")
        stop_after = (rule["probe_epochs"], f"probe: {rule['probe_epochs']} epochs")
    elif pruning and point:
        epochs = tuning.pruned_after(pruning, point)
        if epochs is not None:
            stop_after = (epochs, f"pruned after {epochs} epochs ({pruning})")
    outcome = run(
        config,
        load_prepared(data or Path("data") / task, _features(config, features)),
        params.task(task)["metric"],
        paths,
        stop_on_fault=bool(point or tuned),  # a grid point and the runs of its choice alike
        stop_after=stop_after,
        tuning=overrides,
    )
    _print_json(outcome)


@app.command("tune-prune")
@user_errors
def tune_prune(
    task: str,
    model: str,
    setting: str,
    probes: Annotated[list[Path], typer.Argument(help="Each grid point's probe summary.")],
    out: Annotated[Path, typer.Option(help="The pruning record (JSON).")],
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
) -> None:
    """Keep the best grid points after their probe epochs (the task's pruning rule)."""
    from spen.tuning import pruning_record

    record = _tuning_file(pruning_record, task, model, setting, probes, out, profile, params_dir)
    typer.echo(f"{task}/{model}-{setting}: kept {', '.join(record['kept'])}")


@app.command("tune-select")
@user_errors
def tune_select(
    task: str,
    model: str,
    setting: str,
    summaries: Annotated[
        list[Path], typer.Argument(help="Each grid point's summary, named after its point.")
    ],
    out: Annotated[Path, typer.Option(help="The tuning record (JSON).")],
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
) -> None:
    """Choose MODEL's grid point on TASK's dev scores; write each point's figures and the choice."""
    from spen.tuning import selection

    record = _tuning_file(selection, task, model, setting, summaries, out, profile, params_dir)
    typer.echo(f"{task}/{model}-{setting}: chose {record['chosen']}")


def _tuning_file(
    build: Callable[..., dict[str, Any]],
    task: str,
    model: str,
    setting: str,
    inputs: list[Path],
    out: Path,
    profile: str | None,
    params_dir: Path,
) -> dict[str, Any]:
    """Write what `build` (a spen.tuning record maker) makes of the grid points' `inputs`."""
    from spen.io import write_json

    check_output_file(out)
    params = load_params(params_dir)
    record = build(params, task, model, setting, profile or params.experiments["profile"], inputs)
    write_json(out, record)
    return record


@app.command()
@user_errors
def decode(
    checkpoint: Path,
    out: Annotated[
        Path, typer.Option(help="Predictions file to write (CoNLL: token, gold, predicted).")
    ],
    split: Split = "test",
    data: DataDir = None,
    decoder: Annotated[
        str, typer.Option(help="test_time (the model's own) or viterbi.")
    ] = "test_time",
    device: Device = "auto",
    features: FeaturesDir = None,
) -> None:
    """Tag SPLIT with a trained CHECKPOINT and write the predictions in CoNLL format."""
    from spen.evaluation.decode import predict_split, write_predictions

    check_output_file(out)
    run = _restore(checkpoint, split, data, device, features)
    pred = predict_split(
        run.learner,
        run.rows,
        run.vocabs,
        run.batch_size,
        run.device,
        decoder,
        uses_chars=run.uses_chars,
    )
    write_predictions(out, run.rows.tokens, run.rows.tags, pred)


@dataclass(frozen=True)
class _Restored:
    """A trained learner with the split it tags and how to batch it."""

    learner: Learner
    vocabs: Vocabularies
    rows: Split
    batch_size: int
    device: torch.device
    uses_chars: bool


def _features(config: RunConfig, override: Path | None) -> Path | None:
    """The encoder features a run reads, if its input setting has any: `override`, else the
    setting's default folder."""
    from spen.data.features import run_features_dir

    default = run_features_dir(config.task, config.setting, config.features)
    return None if default is None else (override or default)


def _restore(
    checkpoint: Path, split: str, data: Path | None, device: str, features: Path | None = None
) -> _Restored:
    """A trained learner and the split it should tag, checked to share its vocabularies."""
    from spen.data.prepared import load_prepared
    from spen.device import choose_device
    from spen.training.checkpoint import checkpoint_config, load_checkpoint, restore_learner

    state = load_checkpoint(checkpoint)
    config = checkpoint_config(state)
    torch_device = choose_device(device)
    learner, vocabs = restore_learner(state, torch_device)
    reads = _features(config, features)
    task = load_prepared(data or Path("data") / config.task, reads)
    if task.vocabs != vocabs:
        raise ValueError(f"{checkpoint}: trained on other vocabularies than {task.directory}")
    rows = task.split(split, config.limit(split))
    return _Restored(learner, vocabs, rows, config.eval_batch_size, torch_device, config.uses_chars)


@app.command()
@user_errors
def score(
    predictions: Path,
    out: Annotated[
        Path | None, typer.Option(help="Metrics JSON to write (default: stdout only).")
    ] = None,
) -> None:
    """Score a predictions file: token accuracy; entity P/R/F1 when the tags are BIOES."""
    from spen.evaluation.decode import read_prediction_file, scores_entities
    from spen.evaluation.metrics import score as run
    from spen.io import write_json

    if out:
        check_output_file(out)
    found = read_prediction_file(predictions)
    scores = run(found.gold, found.pred, scores_entities(found, predictions))
    if out:
        write_json(out, scores)
    _print_json(scores)


@app.command()
@user_errors
def tag(
    checkpoint: Path,
    text: Annotated[
        Path | None, typer.Argument(help="Text file, one sentence per line (default stdin).")
    ] = None,
    decoder: Annotated[
        str, typer.Option(help="test_time (the model's own) or viterbi.")
    ] = "test_time",
    device: Device = "auto",
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="conll (token<TAB>tag lines), text (a line of token/tag pairs per sentence) or "
            "json (an object per line: tags, confidences, distributions, marginals, k best).",
        ),
    ] = "conll",
    k: Annotated[
        int, typer.Option("--k", help="With json: the k best tag sequences of a linear chain.")
    ] = 1,
    batch_size: Annotated[int, typer.Option(help="Sentences tagged at once.")] = 64,
) -> None:
    """Tag raw text (whitespace-separated tokens) and print it in FORMAT (conll: `token<TAB>tag`
    lines).

    Each input line (lines end at LF only) gives one output sentence (in conll ended by a blank
    line); an empty input line gives an empty output sentence, so outputs stay aligned with
    inputs.
    """
    from spen.data.text import read_token_lines
    from spen.tagger import FORMATS, Tagger, check_count, render

    if output_format not in FORMATS:
        raise ValueError(f"--format: '{output_format}' is none of {', '.join(FORMATS)}")
    check_count("--k", k)
    check_count("--batch-size", batch_size)
    sentences = read_token_lines(text, None if text else sys.stdin.buffer)
    tagged = Tagger.load(checkpoint, device).predict(sentences, batch_size, k=k, decoder=decoder)
    output = render(tagged, output_format)
    # written whole, as UTF-8 bytes: `typer.echo` would strip ANSI escapes from tokens
    sys.stdout.flush()
    sys.stdout.buffer.write(output.encode("utf-8"))
    sys.stdout.buffer.flush()


@app.command()
@user_errors
def export(
    checkpoint: Path,
    onnx: Annotated[
        Path | None, typer.Option("--onnx", help="Write the network here as ONNX (extra: export).")
    ] = None,
    torchscript: Annotated[
        Path | None, typer.Option("--torchscript", help="Write the network here as TorchScript.")
    ] = None,
) -> None:
    """Export the test-time inference network of CHECKPOINT (word ids, mask, and characters or
    encoder features where the model reads them -> per-token tag probabilities) and print its
    inputs, output and tagset as JSON (spen/export.py says what each tensor holds)."""
    from spen.export import ExportableNetwork, export_onnx, export_torchscript
    from spen.tagger import Tagger

    if onnx is None and torchscript is None:
        raise ValueError("nothing to export: give --onnx OUT.onnx, --torchscript OUT.pt or both")
    for out in (onnx, torchscript):
        if out is not None:
            check_output_file(out)
    tagger = Tagger.load(checkpoint, "cpu")
    network = ExportableNetwork(tagger)
    written = []
    if onnx is not None:  # first: without the extra, nothing is written
        written.append(str(export_onnx(network, onnx)))
    if torchscript is not None:
        written.append(str(export_torchscript(network, torchscript)))
    _print_json(
        {
            "inputs": list(network.input_names),
            "output": "probabilities",
            "tags": list(tagger.tag_names),
            "written": written,
        }
    )


@app.command()
@user_errors
def analyze(
    checkpoint: Path,
    out: Annotated[Path, typer.Option(help="Analysis JSON to write.")],
    split: Split = "test",
    data: DataDir = None,
    device: Device = "auto",
    gd_steps: Annotated[
        int | None,
        typer.Option(help="Gradient-descent inference: steps on the output logits [30]."),
    ] = None,
    gd_lr: Annotated[
        float | None, typer.Option(help="Gradient-descent inference: step size [1.0].")
    ] = None,
    features: FeaturesDir = None,
) -> None:
    """Amortised (A_Ψ), exact (Viterbi) and gradient-descent inference on a SPEN's energy:
    each one's scores and energy gap."""
    from spen.evaluation.analysis import exact_vs_amortised
    from spen.inference.gradient_descent import GradientDescentOptions
    from spen.io import write_json

    given = {"steps": gd_steps, "lr": gd_lr}
    options = GradientDescentOptions(**{k: v for k, v in given.items() if v is not None})
    check_output_file(out)
    run = _restore(checkpoint, split, data, device, features)
    if hasattr(run.learner, "gradient_descent"):
        run.learner.gradient_descent = options
    result = exact_vs_amortised(
        run.learner, run.rows, run.vocabs, run.batch_size, run.device, uses_chars=run.uses_chars
    )
    write_json(out, result)
    _print_json(result)


@app.command()
@user_errors
def calibrate(
    checkpoint: Path,
    out: Annotated[Path, typer.Option(help="Calibration JSON to write.")],
    split: Split = "test",
    data: DataDir = None,
    device: Device = "cpu",
    bins: Annotated[int, typer.Option(help="Equal-width confidence bins over [0, 1].")] = 15,
    batch_size: Annotated[
        int | None, typer.Option(help="Sentences at once (default: the run's eval batch size).")
    ] = None,
    features: FeaturesDir = None,
) -> None:
    """Calibration on SPLIT of the inference network's per-token distributions (A_Ψ; the
    BiLSTM's softmax) and of the exact marginals of a linear-chain energy (a CRF, a SPEN):
    reliability bins, ECE, mean confidence, accuracy and NLL per token, per distribution."""
    from spen.calibration import calibrate as measure
    from spen.io import write_json
    from spen.measured import load_measured
    from spen.tagger import check_count

    check_count("--bins", bins)
    if batch_size is not None:
        check_count("--batch-size", batch_size)
    check_output_file(out)
    result = measure(load_measured(checkpoint, split, data, device, features), bins, batch_size)
    write_json(out, result)
    _print_json(result)


@app.command("bench-inference")
@user_errors
def bench_inference(
    checkpoints: Annotated[list[Path], typer.Argument(help="SPEN checkpoints of one task.")],
    out: Annotated[
        Path, typer.Option(help="Benchmark JSON to write (results/bench/inference-TASK.json).")
    ],
    split: Split = "test",
    data: DataDir = None,
    device: Device = "cpu",
    batch_sizes: Annotated[
        list[int] | None, typer.Option("--batch-size", help="Repeatable [1, 8, 64, 512].")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timed repetitions; the best is kept.")] = 3,
    threads: Annotated[int, typer.Option(help="Torch threads on the CPU.")] = 1,
    timed_sentences: Annotated[
        int | None,
        typer.Option(help="Time on the split's first N sentences (scores use all of it)."),
    ] = None,
) -> None:
    """Inference methods on each SPEN CHECKPOINT's energy (A_Ψ, Viterbi, gradient descent from
    uniform outputs and from A_Ψ, and A_Ψ exported to TorchScript): score, search error against
    Viterbi and sentences/s at each batch size."""
    import torch

    from spen.inference_bench import BATCH_SIZES, inference_benchmark
    from spen.io import write_json
    from spen.measured import load_measured
    from spen.tagger import check_count

    sizes = batch_sizes or list(BATCH_SIZES)
    for size in sizes:
        check_count("--batch-size", size)
    check_count("--repeats", repeats)
    check_count("--threads", threads)
    if timed_sentences is not None:
        check_count("--timed-sentences", timed_sentences)
    check_output_file(out)
    runs = [load_measured(path, split, data, device) for path in checkpoints]
    torch.set_num_threads(threads)
    result = inference_benchmark(runs, sizes, repeats, timed_sentences)
    write_json(out, result)
    _print_json(result)


@app.command("pretrain-tlm")
@user_errors
def pretrain_tlm(
    task: str,
    kind: Annotated[
        str, typer.Option(help="tlm_a (tags), tlm_b (+ words), tlm_c (+ backward).")
    ] = "tlm_a",
    setting: Annotated[str, typer.Option(help="Input setting for tlm_b / tlm_c.")] = "paper",
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
    data: DataDir = None,
    out: Annotated[
        Path | None, typer.Option(help="Default models/TASK/tlm/KIND[-SETTING].pt.")
    ] = None,
    device: Device = "auto",
) -> None:
    """Pretrain the tag language model of a global energy on TASK's gold tag sequences."""
    from spen.data.features import run_features_dir
    from spen.data.prepared import load_prepared
    from spen.device import choose_device
    from spen.run_config import InputSetting
    from spen.training.tag_lm import pretrain_tag_lm, save_tag_lm

    name = kind if kind == "tlm_a" else f"{kind}-{setting}"
    out = out or Path("models") / task / "tlm" / f"{name}.pt"
    check_output_file(out)
    params = load_params(params_dir)
    overrides = params.profile(profile or params.experiments["profile"])["overrides"]
    words = InputSetting.of(params.models["settings"][setting]) if kind != "tlm_a" else None
    reads = run_features_dir(task, setting, words.features if words else None)
    start = time.perf_counter()
    model, summary = pretrain_tag_lm(
        load_prepared(data or Path("data") / task, reads),
        kind,
        setting=words,
        epochs=min(30, overrides.get("max_epochs", 30)),
        device=choose_device(device),
        train_limit=overrides.get("train_limit"),
        dev_limit=overrides.get("dev_limit"),
    )
    save_tag_lm(out, model, summary)  # no wall-clock figure: the same inputs, the same bytes
    _print_json({**summary, "seconds": time.perf_counter() - start})


@app.command()
@user_errors
def bench(
    task: str,
    batch_sizes: Annotated[
        list[int] | None, typer.Option("--batch-size", help="Repeatable.")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Timed decoding repetitions; the best is kept.")] = 3,
    passes: Annotated[
        int, typer.Option(min=1, help="Timed training passes per model, each one kept.")
    ] = 3,
    params_dir: ParamsDir = Path("params"),
    data: DataDir = None,
    out: Annotated[
        Path | None, typer.Option(help="Default results/bench/decode-TASK.json.")
    ] = None,
    profile: Profile = None,
    device: Device = "cpu",
    models: Annotated[
        list[str] | None,
        typer.Option("--model", help="Repeatable; default: the experiment list's models."),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--setting", help="Repeatable: the training benchmark's input settings (paper)."
        ),
    ] = None,
    training_only: Annotated[
        bool, typer.Option(help="The training benchmark alone (no decoding, no parameters).")
    ] = False,
) -> None:
    """Decoding throughput on TASK's test set (inference network, our Viterbi and peers),
    training throughput (and on a GPU its peak memory) of every model of the experiment list
    (or the `--model`s) in each `--setting` (a row `MODEL@SETTING` outside `paper`), in one
    process, on the device, and each model's parameter count in each input setting. The run
    profile's `test_limit` and `train_limit` size it (the smoke profile's bench takes
    seconds)."""
    from torch import get_num_threads

    from spen.bench import (
        decode_benchmark,
        equal_step_variants,
        parameter_counts,
        training_benchmark,
    )
    from spen.data.prepared import load_prepared
    from spen.device import choose_device
    from spen.io import write_json
    from spen.layout import BENCH, experiments

    out = out or Path(BENCH.format(task=task))
    check_output_file(out)
    params = load_params(params_dir)
    profile = profile or params.experiments["profile"]
    limits = params.profile(profile)["overrides"]
    bilstm = params.run_config(task, "bilstm", "paper", 1, "paper")
    prepared = load_prepared(data or Path("data") / task)
    exp = experiments(params, profile)
    chosen = choose_device(device)
    result: dict[str, Any] = {"task": task, "device": chosen.type, "threads": get_num_threads()}
    if not training_only:
        result = decode_benchmark(
            prepared, bilstm, batch_sizes or [1, 32, 256], repeats, limits.get("test_limit"), chosen
        )
    result["profile"] = profile
    result["training"] = []
    for setting in settings or ["paper"]:
        configs = {
            model if setting == "paper" else f"{model}@{setting}": params.run_config(
                task, model, setting, 1, "paper"
            )
            for model in models or exp["models"]
        }
        if not models and setting == "paper":
            configs.update(equal_step_variants(configs, [1, 10]))
        reads = _features(next(iter(configs.values())), None)  # the setting's encoder features
        rows = training_benchmark(
            load_prepared(data or Path("data") / task, reads),
            configs,
            min(200, limits.get("train_limit") or 200),
            chosen,
            passes,
        )
        result["training"] += [{**row, "setting": setting} for row in rows]
    if training_only:
        write_json(out, result)
        _print_json(result)
        return
    result["parameters"] = parameter_counts(
        prepared,
        {
            (model, setting): params.run_config(task, model, setting, 1, "paper")
            for model in exp["models"]
            for setting in exp["settings"]
        },
    )
    write_json(out, result)
    _print_json(result)


@app.command("pipeline-time")
@user_errors
def pipeline_time(
    log: Annotated[Path, typer.Argument(help="A Snakemake log (.snakemake/log/*.log).")],
    name: Annotated[str, typer.Option(help="What ran, e.g. 'paper_seed1, POS, CPU'.")],
    out: Annotated[Path, typer.Option(help="JSON to write (results/bench/pipeline-*.json).")],
) -> None:
    """Wall time, cores and per-rule job time of a finished pipeline run, from its log."""
    from spen.io import write_json
    from spen.pipeline_log import summarise_log

    result = {"name": name, **summarise_log(log)}
    write_json(out, result)
    _print_json(result)


@app.command("project-time")
@user_errors
def project_time(
    workers: Annotated[int, typer.Option(help="Jobs at once (2 cores: 2 one-thread jobs).")] = 2,
    results: Annotated[Path, typer.Option(help="The measured results.")] = Path("results"),
    out: Annotated[
        Path | None,
        typer.Option(help="Default results/bench/projection-PROFILE-WORKERS.json."),
    ] = None,
    gpu_check: Annotated[
        Path | None,
        typer.Option(
            help="On the GPU this check measured (results/bench/gpu-check.json): its runs per "
            "GPU as workers, trainings scaled by their measured GPU/CPU ratio."
        ),
    ] = None,
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
) -> None:
    """The projected wall time of a run profile's whole pipeline on WORKERS workers (or on
    one GPU), from the runs, tuning records, benchmarks and pipeline records measured so far
    (spen/projection.py says how each job is costed)."""
    from spen.io import read_json, write_json
    from spen.layout import PROJECTION, active_profile
    from spen.projection import load_costs, project, project_on_gpu

    params = load_params(params_dir)
    name = active_profile(params, profile)
    out = out or Path(PROJECTION.format(profile=name, workers="gpu" if gpu_check else workers))
    check_output_file(out)
    costs = load_costs(params, results)
    if gpu_check:
        result = project_on_gpu(costs, name, read_json(gpu_check))
    else:
        result = project(costs, name, workers)
    write_json(out, result)
    _print_json(result)


@app.command()
@user_errors
def aggregate(
    scores: Annotated[
        list[Path] | None,
        typer.Argument(
            help="results/TASK/MODEL-SETTING/seedK/test.json files "
            "(default: every results/*/*/seed*/test.json)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Summary JSON to write.")] = Path(
        "results/summary.json"
    ),
    curves: Annotated[
        bool, typer.Option(help="Also write each run's learning_curve.json for `dvc plots`.")
    ] = True,
    profile: Annotated[
        str | None, typer.Option(help="The run profile the runs were made with (recorded).")
    ] = None,
) -> None:
    """Collect finished runs' test scores and training logs: mean and std over seeds. Without
    the checkpoint directories (a fresh clone), a run's versioned learning curve stands in for
    its training log and OUT's earlier copy of its train.json is kept."""
    from spen.aggregate import aggregate as run
    from spen.io import read_json, write_json

    check_output_file(out)
    files = scores or sorted(Path("results").glob("*/*/seed*/test.json"))
    if not files:
        raise FileNotFoundError("results/: no */*/seed*/test.json to aggregate; score runs first")
    previous = read_json(out) if out.is_file() else None
    summary = run(files, curves, previous)
    if profile:
        summary["profile"] = profile
    write_json(out, summary)
    typer.echo(f"{out}: {len(summary['runs'])} runs in {len(summary['groups'])} groups")


@app.command("device-pack")
@user_errors
def device_pack(
    groups: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="TASK/MODEL-SETTING, repeatable, first first (default: the spec's priority).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="The batch folder to write.")] = Path(".device-batch"),
    spec: Annotated[Path, typer.Option(help="The device's limits and image.")] = Path(
        "workflow/device/h200.yaml"
    ),
    wheels: Annotated[
        Path | None, typer.Option(help="Wheels downloaded before (default: download them).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many groups (the first ones).")
    ] = None,
    python: Annotated[
        str, typer.Option(help="The Python (X.Y) there, whose wheels travel.")
    ] = "3.12",
    recount: Annotated[
        bool,
        typer.Option(
            help="Also retrain the groups asked for that are done but whose scores keep no "
            "per-sentence counts (for the paired tests)."
        ),
    ] = False,
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
) -> None:
    """Pack the groups not yet done under the tuning protocol (every seed of the profile) for
    a lent GPU machine without network: their prepared data, the encoder's weights where a
    setting reads encoder features, the wheels its image lacks and the job list, in a folder
    the device call carries. Refused, naming the sizes, when it would not travel. With
    --recount, a done group whose runs were scored before per-sentence counts were kept is
    trained anew there too."""
    from spen.device_batch import Group, finished_groups, lacking_counts, load_spec, pack, todo
    from spen.layout import SUMMARY, active_profile, profile_root

    params = load_params(params_dir)
    name = active_profile(params, profile)
    device = load_spec(spec)
    asked = (
        [Group.parse(g, "--group") for g in groups]
        if groups
        else [Group.parse(g, str(spec)) for g in device.priority]
    )
    root = Path(profile_root(params, name))
    done = finished_groups(root / SUMMARY, root)
    if recount:
        uncounted = set(lacking_counts(root, params, name, asked))
        done = [g for g in done if g not in uncounted]
    chosen = todo(params, name, asked, done)[:limit]
    if out.exists():
        raise OutputError(out, "already there", "a new folder: remove it or name another --out")
    batch = pack(Path("."), params, name, chosen, out, device, wheels, python=python)
    typer.echo(
        f"{out}: {len(batch['groups'])} groups, {len(batch['targets'])} targets, "
        f"{len(batch['wheels'])} wheels; batch {batch['mib']['batch']} MiB + checkout "
        f"{batch['mib']['checkout']} MiB = {batch['mib']['total']} MiB of {batch['mib']['limit']:g}"
    )


@app.command("device-run")
@user_errors
def device_run(
    batch: Annotated[Path, typer.Argument(help="The batch folder `spen device-pack` wrote.")],
    out: Annotated[Path, typer.Option(help="Where what comes back goes ($OUT there).")],
    started: Annotated[
        float | None, typer.Option(help="When the device command began (seconds since 1970).")
    ] = None,
    probe: Annotated[
        list[int] | None,
        typer.Option(min=1, help="Concurrent runs to measure, repeatable (default: the spec's)."),
    ] = None,
    device: Device = "cuda",
) -> None:
    """Run a packed batch on this machine (scripts/device-batch.sh calls it after installing
    the wheels): its trainings through Snakemake until the deadline, then what finished
    packed into OUT."""
    from spen.device_batch import run_batch

    record = run_batch(batch, Path("."), out, device, started or time.time(), probe)
    typer.echo(
        f"{out}: {record['jobs']['jobs_finished']} of {record['jobs']['jobs_planned']} jobs, "
        f"{len(record['runs_finished'])} of {record['runs_packed']} runs finished, "
        f"{record['runs_per_gpu']} runs per GPU, {record['wall_seconds']:.0f} s"
    )


@app.command("device-unpack")
@user_errors
def device_unpack(
    back: Annotated[Path, typer.Argument(help="The files a device batch brought back.")],
) -> None:
    """Put a device batch's results, run files and checkpoints into this checkout (then
    `spen aggregate` and `spen report`; a later `snakemake` takes them as done)."""
    from spen.device_batch import unpack

    record = unpack(back, Path("."))
    typer.echo(
        f"{back}: {record['unpacked_files']} files unpacked; "
        f"{len(record['runs_finished'])} runs finished on {record['device']}"
    )


@app.command("dvc-yaml")
@user_errors
def dvc_yaml(
    profile: Profile = None,
    params_dir: ParamsDir = Path("params"),
    out: Annotated[Path, typer.Option(help="File to write.")] = Path("dvc.yaml"),
    check: Annotated[
        bool, typer.Option(help="Write nothing; exit 1 if OUT differs from what params/ give.")
    ] = False,
) -> None:
    """Render dvc.yaml from params/: the experiment list as `vars`, stages iterating over it
    (in the profile's own folder, `wdir`, when params/profiles.yaml gives it a `root`)."""
    from spen.dvc_yaml import render_dvc_yaml, write_dvc_yaml
    from spen.layout import active_profile, enter_profile_root, profile_root

    params = load_params(params_dir)
    name = active_profile(params, profile)
    text = render_dvc_yaml(params, name)
    if check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            typer.echo(f"{out}: out of date with {params_dir}/; run `spen dvc-yaml`", err=True)
            raise typer.Exit(1)
        return
    if profile_root(params, name) != ".":
        enter_profile_root(params.root, profile_root(params, name))
    write_dvc_yaml(out, text)


@app.command("dvc-lock")
@user_errors
def dvc_lock(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be recorded; record nothing.")
    ] = False,
    from_lock: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Another checkout's dvc.lock (a worktree, a cluster's or a GPU's checkout): "
            "take the stages it records that this dvc.yaml defines alike and whose outputs here "
            "are the files it recorded.",
        ),
    ] = None,
) -> None:
    """Record in dvc.lock (`dvc commit`) every stage of dvc.yaml whose outputs Snakemake made
    and still holds current: made by today's command, code, params and inputs. With --from,
    record instead what another checkout's `spen dvc-lock` recorded there."""
    from spen import dvc_lock as lock
    from spen.layout import profile_root

    project = Path.cwd()
    verb = "would record" if dry_run else "recording"
    if from_lock is not None:
        ours = lock.read_lock(project / "dvc.lock") if (project / "dvc.lock").is_file() else {}
        new = {n: e for n, e in lock.read_lock(from_lock).items() if ours.get(n) != e}
        taken, refused = lock.recorded_elsewhere(project, new)
        for name in taken:
            typer.echo(f"{verb} {name}")
        for name, why in refused.items():
            typer.echo(f"refusing {name}: {why}")
        if not dry_run:
            lock.write_entries(project, taken)
        typer.echo(
            f"dvc.lock: {len(taken)} of the {len(new)} stages {from_lock} records otherwise "
            f"{'can be' if dry_run else 'were'} recorded; {len(refused)} refused"
        )
        return
    lock.check_own_code(project)
    profile = lock.dvc_yaml_profile(project)
    params = load_params(project / "params")
    root = project / profile_root(params, profile)
    current = lock.current_outputs(lock.snakemake_summary(project, profile), root)
    stages = lock.dvc_stages(project)
    names = lock.lockable(stages, current)
    for name in names:
        typer.echo(f"{verb} {name}")
    if not dry_run:
        lock.commit(project, {name: stages[name] for name in names})
    typer.echo(
        f"dvc.lock: {len(names)} of {len(stages)} stages of profile '{profile}' "
        f"{'can be' if dry_run else 'were'} recorded; the others' outputs are missing, "
        "not made by Snakemake, or out of date"
    )


@app.command()
@user_errors
def compare(
    better: Annotated[
        list[Path],
        typer.Argument(help="The claimed-better runs: a run group's folder or test.json files."),
    ],
    against: Annotated[
        list[Path],
        typer.Option(
            "--against", help="The other side: a run group's folder, or a test.json (repeat)."
        ),
    ],
    metric: Annotated[
        str | None, typer.Option(help="accuracy or f1 (default: the runs' headline metric).")
    ] = None,
) -> None:
    """Compare two sets of scored runs (a setting changed, against the committed runs) as the
    report compares a claim's sides: Δ ± seed SE and its verdict, and the paired bootstrap over
    the test sentences with its interval and p, seeds paired by number. Two run groups of one
    task and input setting under results/ give the report's figures for that comparison."""
    from spen.report.compare_runs import compare as compare_runs

    _print_json(compare_runs(better, against, metric))


@app.command()
@user_errors
def report(
    summary: Annotated[
        Path, typer.Option(help="The `spen aggregate` summary; its project holds models/.")
    ] = Path("results/summary.json"),
    bench: Annotated[
        Path, typer.Option(help="Directory of `spen bench` results (decode-*.json).")
    ] = Path("results/bench"),
    out: Annotated[Path, typer.Option(help="Directory for index.html and index.md.")] = Path(
        "reports"
    ),
    root: Annotated[
        Path | None,
        typer.Option(help="Project directory (default: above results/, else the cwd)."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            help="Refuse to render when results/, params/, docs/CHOICES.md or spen/ have "
            "uncommitted changes (or git cannot tell): the figures would be no commit's."
        ),
    ] = False,
) -> None:
    """Render the results beside the paper's figures: OUT/index.html and OUT/index.md.

    The header names the commit whose results it rendered (the last commit that changed
    results/) and warns when anything it reads was not committed: commit the results, then
    render."""
    from spen.report.build import build_report

    check_output_dir(out, ("index.html", "index.md"))
    for path in build_report(summary, bench, out, root, strict):
        typer.echo(str(path))
