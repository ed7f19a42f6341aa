"""The pipeline's two descriptions agree, and bad params stop it before any job.

- Snakemake's job graph (`snakemake -n --forceall`) and DVC's stage graph (`dvc dag --dot`)
  have the same steps and the same edges, once a job is named as DVC names its stage, and each
  job runs the same command line as its stage.
- dvc.yaml is what `spen dvc-yaml` renders from params/ (it is generated, never hand-edited).
- A change to one model's params touches only that model's training stages.
- An invalid params value makes `snakemake -n` fail before any job, naming the key.
- `spen aggregate`: mean and std over seeds, checked by hand.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import statistics
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from spen import aggregate, dvc_lock, dvc_yaml, layout, steps, tuning
from spen.config import Params, ParamsError, load_params
from spen.io import write_json
from tests.conftest import SHARED_DATA, needs_shared_data

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
DVC = BIN / "dvc"
SPEN = BIN / "spen"

needs_tools = pytest.mark.skipif(
    not (SNAKEMAKE.exists() and DVC.exists() and SPEN.exists()),
    reason="snakemake, dvc and spen must be installed beside the test interpreter",
)


def _run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


@dataclass(frozen=True)
class Job:
    """A job of a forced dry run, named as DVC names its stage."""

    stage: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    command: str  # the shell command without the thread setting and the log redirection
    reason: str  # why Snakemake would run it


def snakemake_jobs(cwd: Path, profile: str, force: bool = True) -> list[Job]:
    """Every job of a dry run (`snakemake -n -p`, `--forceall` with `force`), from its job
    listing."""
    forceall = ["--forceall"] if force else []
    done = _run(
        [SNAKEMAKE, "-n", "-p", *forceall, "--nolock", "--config", f"profile={profile}"], cwd
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the root Snakefile is the entry point, and the workflow's default profile still applies
    assert "workflow specific profile profiles/default" in done.stdout + done.stderr
    params = load_params(cwd / "params")
    task_of_dir = {params.task(t)["dir"]: t for t in params.data["tasks"]}
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", done.stdout):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        if not head or head.group(1) in ("all", "tune"):
            continue
        fields = dict(
            re.findall(r"^\s*(input|output|wildcards|reason|Shell command): (.*)$", block, re.M)
        )
        wildcards = dict(re.findall(r"(\w+)=([^,\s]+)", fields.get("wildcards", "")))
        files = {k: set(fields.get(k, "").split(", ")) - {""} for k in ("input", "output")}
        if "<TBD>" in files["input"]:
            # a job reading the output of a checkpoint not yet run (tune_select): the dry run
            # cannot name the file; it is the run's tuning record
            record = layout.tuning_record(
                params, wildcards["task"], wildcards["model"], wildcards["setting"]
            )
            files["input"] = (files["input"] - {"<TBD>"}) | {record}
        shell = re.fullmatch(r"OMP_NUM_THREADS=\d+ (.*) > \S+ 2>&1", fields["Shell command"])
        assert shell, f"rule {head.group(1)}: not a spen.steps command: {fields['Shell command']}"
        stage = _stage_name(head.group(1), wildcards, task_of_dir, params, profile)
        inputs, outputs = frozenset(files["input"]), frozenset(files["output"])
        jobs.append(Job(stage, inputs, outputs, shell.group(1), fields.get("reason", "")))
    return jobs


def first_reached(stages: set[str], edges: set[tuple[str, str]]) -> list[str]:
    """The steps of `stages` that no other step of `stages` leads to (through `edges`): where a
    change enters the graph. Both tools agree on these; past them each has its own rule
    (DVC compares each stage's own inputs, Snakemake reruns all that follows)."""
    parents: dict[str, set[str]] = {}
    for a, b in edges:
        parents.setdefault(b, set()).add(a)
    first = []
    for stage in stages:
        seen, todo = set(), list(parents.get(stage, ()))
        while todo and not seen & stages:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(parents.get(node, ()))
        if not seen & stages:
            first.append(stage)
    return sorted(first)


def snakemake_graph(jobs: list[Job]) -> tuple[set[str], set[tuple[str, str]]]:
    """Jobs and edges: an edge joins the job writing a file to each job reading it, as DVC
    joins stages."""
    producer = {out: job.stage for job in jobs for out in job.outputs}
    edges = {(producer[f], job.stage) for job in jobs for f in job.inputs if f in producer}
    return {job.stage for job in jobs}, edges


def _stage_name(
    rule: str, wildcards: dict[str, str], task_of_dir: dict[str, str], params: Params, profile: str
) -> str:
    """The DVC stage of a Snakemake job: a job reading encoder features runs in the twin
    stage STAGE_features."""
    name = _base_stage_name(rule, wildcards, task_of_dir, params, profile)
    stage, at, item = name.partition("@")
    setting = wildcards.get("setting") or wildcards.get("name", "").partition("-")[2]
    if stage in dvc_yaml.FEATURE_READERS and layout.reads_features(params, setting):
        return f"{stage}_features{at}{item}"
    return name


def _base_stage_name(
    rule: str, wildcards: dict[str, str], task_of_dir: dict[str, str], params: Params, profile: str
) -> str:
    if rule == "featurize":
        return f"featurize@{wildcards['task']}-{wildcards['setting']}"
    if rule == "fetch":
        return f"fetch@{task_of_dir[wildcards['rawdir']]}"
    if rule == "preprocess":
        return f"preprocess@{wildcards['task']}"
    if rule == "bench":
        return f"bench@{wildcards['task']}"
    if rule == "pretrain_tlm":
        return f"pretrain_tlm@{wildcards['task']}-{wildcards['name']}"
    if rule in ("tune_train", "tune_probe"):
        w = wildcards
        pruned = layout.pruning_record(params, w["task"], w["model"], w["setting"], profile)
        stage = "tune_train_pruned" if rule == "tune_train" and pruned else rule
        return f"{stage}@{w['task']}-{w['model']}-{w['setting']}-{w['point']}"
    if rule in ("tune_select", "tune_prune"):
        return f"{rule}@{wildcards['task']}-{wildcards['model']}-{wildcards['setting']}"
    if rule in ("train", "decode", "score", "analyze", "calibrate"):
        run = layout.Run(
            wildcards["task"], wildcards["model"], wildcards["setting"], int(wildcards["seed"])
        )
        if rule == "train" and layout.pretrained_file(params, run.task, run.model, run.setting):
            return f"train_global@{run.name}"
        if rule == "train" and layout.tuning_record(params, run.task, run.model, run.setting):
            return f"train_tuned@{run.name}"
        return f"{rule}@{run.name}"
    assert not wildcards, f"rule {rule} has wildcards {wildcards}: give it a DVC stage name"
    return rule


def dvc_graph(cwd: Path) -> tuple[set[str], set[tuple[str, str]]]:
    """Stages and edges of `dvc dag --dot`."""
    done = _run([DVC, "dag", "--dot"], cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    nodes = set(re.findall(r'^"([^"]+)";$', done.stdout, re.M))
    edges = set(re.findall(r'^"([^"]+)" -> "([^"]+)";$', done.stdout, re.M))
    return nodes, edges


def dvc_commands(cwd: Path) -> dict[str, str]:
    """Each stage's command as DVC resolves it (templates filled), by stage name."""
    from dvc.repo import Repo

    with Repo(str(cwd)) as repo:
        return {stage.name: stage.cmd for stage in repo.index.stages}


@needs_tools
def test_dvc_yaml_is_rendered_from_params() -> None:
    done = _run([SPEN, "dvc-yaml", "--check"], REPO)
    assert done.returncode == 0, done.stderr


def test_the_report_depends_on_the_joint_epochs_runs_and_grids(tmp_path: Path) -> None:
    """The hand-run joint-epochs results the verdict panel reads are the report step's inputs
    in both tools (one list, `layout.report_inputs`): a new one reruns the report."""
    run = tmp_path / layout.JOINT_EPOCHS / "pos/perceptron-paper/seed2/test.json"
    record = tmp_path / layout.JOINT_EPOCHS_TUNING / "pos/perceptron-paper.json"
    point = tmp_path / layout.JOINT_EPOCHS_TUNING / "pos/points/perceptron-paper/sgd.json"
    for path in (run, record, point):
        write_json(path, {})
    inputs = layout.report_inputs(load_params(REPO / "params"), "paper", tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in (run, record)} <= set(inputs)
    assert point.relative_to(tmp_path).as_posix() not in inputs  # a point is not read


@needs_tools
def test_snakemake_and_dvc_have_the_same_graph_and_commands() -> None:
    assert_same_graph_and_commands(REPO, dvc_lock.dvc_yaml_profile(REPO))


@needs_tools
def test_a_profile_with_a_root_of_its_own_runs_there_in_both_tools(workflow_copy: Path) -> None:
    """smoke (params/profiles.yaml: root runs/smoke): DVC's stages run there (`wdir`), their
    code dependencies named from there, and the two tools still agree job by job."""
    shutil.copytree(REPO / "spen", workflow_copy / "spen", ignore=shutil.ignore_patterns("__py*"))
    _edit(  # a short experiment list: one tuned row, a global-energy row, encoder features
        workflow_copy / "params/experiments.yaml",
        lambda v: v.update(models=["compound_stacked", "compound_stacked_ge_c"], tasks=["pos"],
                           settings=["paper", "xfmr"]),
    )  # fmt: skip
    assert _run([DVC, "init", "--no-scm", "-q"], workflow_copy).returncode == 0
    done = _run([SPEN, "dvc-yaml", "--profile", "smoke"], workflow_copy)
    assert done.returncode == 0, done.stderr
    root = workflow_copy / "runs" / "smoke"
    assert (root / "params").resolve() == (workflow_copy / "params").resolve()
    stages = yaml.safe_load((workflow_copy / "dvc.yaml").read_text())["stages"]
    train = stages["train"]
    assert train["wdir"] == "runs/smoke" and "../../spen/training" in train["deps"]
    assert all((root / dep).exists() for dep in train["deps"] if dep.startswith("../../spen/"))
    assert_same_graph_and_commands(workflow_copy, "smoke")
    assert not (workflow_copy / "results").exists() and not (workflow_copy / "data").exists()


def assert_same_graph_and_commands(cwd: Path, profile: str) -> None:
    """Snakemake's forced dry run and DVC's dvc.yaml in `cwd`: the same steps, edges and
    command lines, job by job."""
    jobs = snakemake_jobs(cwd, profile)
    sm_nodes, sm_edges = snakemake_graph(jobs)
    dvc_nodes, dvc_edges = dvc_graph(cwd)
    params = load_params(cwd / "params")
    expected_runs = len(layout.runs(params, profile))
    stage = {n: n.partition("@")[0].removesuffix("_features") for n in sm_nodes}
    trains = [n for n in sm_nodes if stage[n] in ("train", "train_tuned", "train_global")]
    assert len(trains) == expected_runs
    # every global-energy run trains after its tag LM is pretrained, in both tools
    global_runs = {n for n in trains if stage[n] == "train_global"}
    assert global_runs and global_runs == {b for a, b in sm_edges if stage[a] == "pretrain_tlm"}
    # every run of a setting with encoder features (xfmr) reads them, in both tools
    featured = {
        b
        for a, b in sm_edges
        if stage[a] == "featurize" and stage[b] in ("train", "train_tuned", "train_global")
    }
    assert featured == {n for n in trains if n.partition("@")[0].endswith("_features")}
    assert sm_nodes == dvc_nodes, sm_nodes ^ dvc_nodes
    assert sm_edges == dvc_edges, sm_edges ^ dvc_edges
    # each job runs the very command line of its stage (both render spen.steps.COMMANDS)
    stage_commands = dvc_commands(cwd)
    differ = {
        job.stage: (job.command, stage_commands[job.stage])
        for job in jobs
        if job.command != stage_commands[job.stage]
    }
    assert not differ, list(differ.items())[:3]


def test_a_step_command_names_every_field_each_tool_fills() -> None:
    for step, template in steps.COMMANDS.items():
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert used <= set(steps.SNAKEMAKE_FIELDS), (step, used - set(steps.SNAKEMAKE_FIELDS))
        assert used <= set(steps.DVC_FIELDS), (step, used - set(steps.DVC_FIELDS))


def _stages_reading(key: str, profile: str) -> set[str]:
    """Names of the dvc.yaml stages (rendered for `profile`) whose params cover `key`."""
    params = load_params(REPO / "params")
    spec = dvc_yaml.dvc_stages(params, profile)
    names = set()
    for run in layout.runs(params, profile):
        for step in ("train", "decode", "score"):
            keys = spec["stages"][step].get("params", [])
            resolved = [
                k.replace("${item.task}", run.task)
                .replace("${item.model}", run.model)
                .replace("${item.setting}", run.setting)
                .replace("${profile}", profile)
                for entry in keys
                for file, ks in entry.items()
                if file == "params/models.yaml"
                for k in ks
            ]
            if any(key == k or key.startswith(k + ".") for k in resolved):
                names.add(f"{step}@{run.name}")
    return names


def test_a_models_key_reaches_only_that_models_training() -> None:
    params = load_params(REPO / "params")
    profile = layout.active_profile(params)
    model = params.experiments["models"][0]
    touched = _stages_reading(f"models.{model}.patience", profile)
    expected = {f"train@{r.name}" for r in layout.runs(params, profile) if r.model == model}
    assert touched == expected
    # A shared key reaches every training run.
    assert len(_stages_reading("training.batch_size", profile)) == len(layout.runs(params, profile))


def test_code_deps_follow_imports_and_their_digest_follows_the_files(tmp_path: Path) -> None:
    pkg = tmp_path / "spen"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from spen.sub.b import g\n")
    (pkg / "sub" / "b.py").write_text("import spen.c\n")
    (pkg / "c.py").write_text("import os\n")
    (pkg / "unused.py").write_text("")
    entry = dict(steps.ENTRY_MODULES)
    try:
        steps.ENTRY_MODULES["probe"] = ("spen.a",)
        assert steps.code_deps("probe", pkg) == ["spen/a.py", "spen/c.py", "spen/sub"]
        # Snakemake's code trigger changes exactly when a file DVC hashes for the step does
        digests = []
        for change in (
            lambda: None,
            lambda: (pkg / "unused.py").write_text("x = 1\n"),  # not imported by the step
            lambda: (pkg / "sub" / "__pycache__").mkdir(),  # left out, as .dvcignore says
            lambda: (pkg / "sub" / "__pycache__" / "b.pyc").write_bytes(b"\0"),
            lambda: (pkg / "sub" / "data.yaml").write_text("a: 1\n"),  # in a code directory
            lambda: (pkg / "c.py").write_text("import sys\n"),
        ):
            change()
            steps.code_digest.cache_clear()
            digests.append(steps.code_digest("probe", pkg))
        assert [d == digests[0] for d in digests] == [True, True, True, True, False, False]
        assert len(set(digests)) == 3
    finally:
        steps.ENTRY_MODULES.clear()
        steps.ENTRY_MODULES.update(entry)
        steps.code_digest.cache_clear()


def _cli_imports(step: str) -> set[str]:
    """The spen modules that the `spen` subcommand running `step` uses: those its function, and
    the spen/cli.py helpers it calls, import or name from the module's own imports (the
    error-reporting decorator is wiring, left out)."""
    tree = ast.parse((REPO / "spen" / "cli.py").read_text(encoding="utf-8"))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top_level = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spen.")
        for alias in node.names
    }
    found: set[str] = set()
    todo, seen = [steps.COMMANDS[step].split()[1].replace("-", "_")], set()
    while todo:
        function = functions[todo.pop()]
        if function.name in seen:
            continue
        seen.add(function.name)
        for node in (n for statement in function.body for n in ast.walk(statement)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spen."):
                found.add(node.module)
            elif isinstance(node, ast.Name) and node.id in top_level:
                found.add(top_level[node.id])
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in functions:
                todo.append(node.func.id)
    return found


@pytest.mark.parametrize("step", sorted(steps.ENTRY_MODULES))
def test_each_steps_code_deps_cover_what_its_command_imports(step: str) -> None:
    """Both tools rerun a step after an edit to code it runs: every module its `spen`
    subcommand imports is among the step's code dependencies."""
    entry = dict(steps.ENTRY_MODULES)
    try:
        steps.ENTRY_MODULES["probe"] = tuple(sorted(_cli_imports(step)))
        imported = set(steps.code_deps("probe"))
    finally:
        steps.ENTRY_MODULES.clear()
        steps.ENTRY_MODULES.update(entry)
    assert imported, f"{step}: its command imports no spen module"
    assert imported <= set(steps.code_deps(step))


def test_the_steps_that_compute_with_torch_rerun_when_the_cpu_kernels_change() -> None:
    """`import spen` holds torch's CPU kernels (spen/cpu_kernels.py), and the kernels decide
    the last bits of every figure torch computes: each step that runs torch reruns on an edit
    to it; the steps that only read and write files do not."""
    torch_steps = {"featurize", "pretrain_tlm", "train", "tune_probe", "tune_train", "decode",
                   "analyze", "calibrate"}  # fmt: skip
    for step in steps.ENTRY_MODULES:
        depends = "spen/cpu_kernels.py" in steps.code_deps(step)
        assert depends == (step in torch_steps), step


# --- bad params stop Snakemake before any job ------------------------------------------------


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    """The workflow and params in a scratch project (no data, no outputs)."""
    shutil.copytree(REPO / "params", tmp_path / "params")
    shutil.copytree(REPO / "docs", tmp_path / "docs")  # the report reads docs/CHOICES.md
    shutil.copytree(
        REPO / "workflow", tmp_path / "workflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")  # the entry point, with `all`
    (tmp_path / "profiles").symlink_to("workflow/profiles")
    return tmp_path


def _edit(path: Path, change) -> None:
    value = yaml.safe_load(path.read_text())
    change(value)
    path.write_text(yaml.safe_dump(value, sort_keys=False))


def _dry_run(cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run([SNAKEMAKE, "-n", "--forceall", *extra], cwd)


@needs_tools
@pytest.mark.parametrize(
    ("file", "change", "named"),
    [
        ("experiments", lambda v: v["models"].append("no_such_model"), ["models", "no_such_model"]),
        (
            "models",
            lambda v: v["training"]["optimizer"].update(lr=-0.001),
            ["training.optimizer.lr"],
        ),
        ("experiments", lambda v: v.update(profile="nightly"), ["profile", "nightly"]),
    ],
    ids=["unknown-model", "negative-lr", "unknown-profile"],
)
def test_bad_params_fail_before_any_job(workflow_copy: Path, file, change, named) -> None:
    """The unedited copy dry-runs (the graph tests show it); each edit stops it, naming why."""
    _edit(workflow_copy / "params" / f"{file}.yaml", change)
    done = _dry_run(workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Job stats" not in output and "rule train:" not in output
    for word in named:
        assert word in output, output


@needs_tools
def test_unknown_run_profile_on_the_command_line_fails(workflow_copy: Path) -> None:
    done = _dry_run(workflow_copy, "--config", "profile=nightly")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "run profile 'nightly'" in output and "params/profiles.yaml" in output


@needs_tools
def test_a_profile_never_overwrites_another_profiles_results(workflow_copy: Path) -> None:
    """results/ made by `paper` stop a real run of a profile that trains otherwise and shares
    its root (`quick`: smoke's overrides, no root) before its first job (a dry run may look;
    overwrite=true forces); the same check reads the tuning records, and `paper_seed1` (same
    overrides) may go on."""
    _edit(
        workflow_copy / "params/profiles.yaml",
        lambda v: v.update(quick={k: v["smoke"][k] for k in ("seeds", "overrides")}),
    )
    _edit(  # a short graph: the check comes before any job, whatever the graph
        workflow_copy / "params/experiments.yaml",
        lambda v: v.update(models=["bilstm"], settings=["paper"]),
    )
    summary = workflow_copy / layout.SUMMARY
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"groups": {}, "runs": {}, "profile": "paper"}))
    assert _dry_run(workflow_copy, "--config", "profile=quick").returncode == 0
    done = _run([SNAKEMAKE, "--cores", "1", "--config", "profile=quick"], workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and not (workflow_copy / "data").exists(), output
    assert "results/summary.json holds results of run profile 'paper'" in output, output
    params = load_params(workflow_copy / "params")
    layout.check_no_overwrite(params, "paper_seed1", workflow_copy)
    summary.unlink()
    record = workflow_copy / "results/tuning/pos/bilstm-paper.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"profile": "smoke"}))
    with pytest.raises(ParamsError, match="bilstm-paper.json holds results of run profile 'smoke'"):
        layout.check_no_overwrite(params, "paper", workflow_copy)


@needs_tools
@needs_shared_data()
def test_the_smoke_profile_writes_under_its_own_root(workflow_copy: Path) -> None:
    """Beside `paper` results, a real smoke run goes on, in runs/smoke/ (targets are named from
    there), and leaves the project's data/ and results/ as they were."""
    _edit(
        workflow_copy / "params/data.yaml",
        lambda v: v["raw"].update(search_path=[str(SHARED_DATA)], allow_download=False),
    )
    summary = workflow_copy / layout.SUMMARY
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"groups": {}, "runs": {}, "profile": "paper"}))
    target = layout.PREPARED.format(task="pos", name="summary.json")
    done = _run([SNAKEMAKE, target, "--cores", "1", "--config", "profile=smoke"], workflow_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (workflow_copy / "runs/smoke" / target).is_file()
    assert not (workflow_copy / "data").exists()
    assert [p.name for p in (workflow_copy / "results").rglob("*")] == ["summary.json"]


@needs_tools
def test_a_grid_goes_on_from_the_point_summaries_another_machine_left(workflow_copy: Path) -> None:
    """A grid point's outputs are its summaries, versioned in git, apart from its checkpoints:
    in a clone holding a grid's summaries and no models/ (a cut-off on a machine since gone),
    with the task's data prepared there after the summaries were written, Snakemake plans the
    choice and trains no point again; a change to what prepares the data trains them again."""
    grid = {"task": "pos", "model": "bilstm", "setting": "paper"}
    params = load_params(workflow_copy / "params")
    points = [p.name for p in tuning.grid(params, "bilstm", "paper", "pos")]
    versioned = [
        pattern.format(**grid, point=point)
        for pattern in (layout.TUNE_SUMMARY, layout.TUNE_PROBE)
        for point in points
    ]
    ignored = _run(["git", "check-ignore", *versioned], REPO)
    assert ignored.returncode == 1, f"ignored by git: {ignored.stdout}"
    summaries = [layout.TUNE_SUMMARY.format(**grid, point=p) for p in points]
    for i, name in enumerate(summaries):
        dev = 80.0 + i
        summary = workflow_copy / name
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"dev": dev, "best_epoch": 3, "epochs": 9}))
        os.utime(summary, (time.time() - 3600,) * 2)  # written on the machine since gone
    for name in layout.prepared("pos"):  # rebuilt on this machine: newer than the summaries
        data = workflow_copy / name
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("prepared here")

    record = layout.TUNING.format(**grid)
    done = _run([SNAKEMAKE, "-n", record], workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "checkpoint tune_select:" in output and "rule tune_train:" not in output, output

    # Snakemake's record of the points as made (its metadata), then a new normalization of POS.
    touch = [SNAKEMAKE, "--touch", "-c1", "-R", "tune_train", "--", *summaries]
    touched = _run(touch, workflow_copy)
    assert touched.returncode == 0, touched.stdout + touched.stderr
    _edit(workflow_copy / "params/data.yaml", lambda v: v["tasks"]["pos"].update(normalize="none"))
    done = _run([SNAKEMAKE, "-n", record], workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    trained = output.count("rule tune_train:")
    assert trained == len(points) and "tasks.pos.normalize" in output, output


@needs_tools
def test_a_pruned_grid_on_a_clone_trains_no_point_again(workflow_copy: Path) -> None:
    """A finished NER grid as a clone holds it: git writes the points' summaries, then the
    probes', then the pruning record (in path order), an hour ago; the data is prepared now.
    Snakemake plans the choice alone: neither the pruning record nor the data, both newer than
    the points, trains a point again."""
    grid = {"task": "ner", "model": "compound_separated", "setting": "plus"}
    params = load_params(workflow_copy / "params")
    points = [p.name for p in tuning.grid(params, grid["model"], "paper", grid["task"])]
    written = time.time() - 3600
    for offset, pattern in enumerate((layout.TUNE_SUMMARY, layout.TUNE_PROBE)):
        for point in points:
            summary = workflow_copy / pattern.format(**grid, point=point)
            summary.parent.mkdir(parents=True, exist_ok=True)
            summary.write_text(json.dumps({"dev": 80.0, "best_epoch": 3, "epochs": 3}))
            os.utime(summary, (written + offset,) * 2)
    record = workflow_copy / layout.PRUNING.format(**grid)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"keep": 4, "kept": points[:4], "probe_epochs": 3}))
    os.utime(record, (written + 2,) * 2)
    for name in layout.prepared("ner"):
        data = workflow_copy / name
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("prepared here")

    done = _run([SNAKEMAKE, "-n", layout.TUNING.format(**grid)], workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "checkpoint tune_select:" in output, output
    assert "rule tune_train:" not in output and "rule tune_probe:" not in output, output

    # Snakemake's record of the points as made, then a new pruning rule: every point again
    summaries = [layout.TUNE_SUMMARY.format(**grid, point=point) for point in points]
    touch = [SNAKEMAKE, "--touch", "-c1", "-R", "tune_train", "--", *summaries]
    touched = _run(touch, workflow_copy)
    assert touched.returncode == 0, touched.stdout + touched.stderr
    _edit(workflow_copy / "params/tuning.yaml", lambda v: v["pruning"]["ner"].update(keep=5))
    done = _run([SNAKEMAKE, "-n", layout.TUNING.format(**grid)], workflow_copy)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("rule tune_train:") == len(points) and "'keep': 5" in output, output


# --- aggregate ------------------------------------------------------------------------------


def _fake_run(root: Path, run: layout.Run, test: dict, devs: list[float]) -> Path:
    scores = root / run.path(layout.SCORES)
    scores.parent.mkdir(parents=True)
    scores.write_text(json.dumps(test))
    log = root / run.path(layout.TRAIN_LOG)
    log.parent.mkdir(parents=True)
    records = [{"epoch": i + 1, "dev": d, "seconds": 2.0} for i, d in enumerate(devs)]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    return scores


def test_aggregate_mean_and_std_over_seeds(tmp_path: Path) -> None:
    runs = [layout.Run("ner", "bilstm_crf", "plus", seed) for seed in (1, 2, 3)]
    f1 = [80.0, 82.0, 87.0]
    files = [
        _fake_run(tmp_path, run, {"f1": f, "accuracy": 90.0, "tokens": 7}, [50.0, 60.0 + i, 55.0])
        for i, (run, f) in enumerate(zip(runs, f1, strict=True))
    ]
    files.append(_fake_run(tmp_path, layout.Run("ner", "bilstm", "plus", 1), {"f1": 1.0}, [1.0]))
    summary = aggregate.aggregate(files)

    group = summary["groups"]["ner/bilstm_crf-plus"]
    assert group["seeds"] == [1, 2, 3]
    assert group["test"]["f1"]["mean"] == pytest.approx(83.0)
    assert group["test"]["f1"]["std"] == pytest.approx(statistics.stdev(f1))  # sample std, 3.61
    assert group["test"]["accuracy"] == {"mean": 90.0, "std": 0.0}
    assert "tokens" not in group["test"]
    assert group["train"]["best_epoch"]["mean"] == 2
    assert group["train"]["best_dev"]["mean"] == pytest.approx(61.0)
    assert group["train"]["seconds"]["mean"] == pytest.approx(6.0)
    assert summary["groups"]["ner/bilstm-plus"]["test"]["f1"] == {"mean": 1.0, "std": None}
    assert summary["runs"]["ner/bilstm_crf-plus/seed2"]["test"]["f1"] == 82.0
    curve = json.loads((tmp_path / runs[0].path(layout.CURVE)).read_text())
    assert [r["dev"] for r in curve] == [50.0, 60.0, 55.0]


def test_aggregate_names_a_missing_training_log(tmp_path: Path) -> None:
    run = layout.Run("pos", "bilstm", "paper", 1)
    scores = _fake_run(tmp_path, run, {"accuracy": 1.0}, [1.0])
    (tmp_path / run.path(layout.TRAIN_LOG)).unlink()
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        aggregate.aggregate([scores])


def test_aggregate_without_checkpoints_reads_the_versioned_curve(tmp_path: Path) -> None:
    """A fresh clone has results/ but not models/: the learning curve stands in for the log,
    and the earlier summary's train.json copy is kept; with models/ the files win."""
    run = layout.Run("pos", "bilstm", "paper", 1)
    scores = _fake_run(tmp_path, run, {"accuracy": 80.0}, [70.0, 75.0, 72.0])
    facts = {"parameters": 1234, "peak_rss_mb": 99.0}
    (tmp_path / run.path(layout.TRAIN_SUMMARY)).write_text(json.dumps(facts))
    first = aggregate.aggregate([scores])
    assert first["runs"]["pos/bilstm-paper/seed1"]["train_json"] == facts

    shutil.rmtree(tmp_path / "models")
    again = aggregate.aggregate([scores], previous=first)
    assert again["runs"] == first["runs"]
    assert "train_json" not in aggregate.aggregate([scores])["runs"]["pos/bilstm-paper/seed1"]

    curve = tmp_path / run.path(layout.CURVE)
    curve.unlink()
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        aggregate.aggregate([scores])
    curve.write_text("{}")
    with pytest.raises(ValueError, match="learning_curve.json: not a learning curve"):
        aggregate.aggregate([scores])


def test_aggregate_rejects_a_path_outside_the_layout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="results/TASK/MODEL-SETTING/seedK/test.json"):
        aggregate.run_of_scores(tmp_path / "pos" / "test.json")


def test_a_users_own_pretrained_tag_lm_is_read_never_rebuilt() -> None:
    """Only models/TASK/tlm/KIND[-SETTING].pt gets a pretrain step; a file elsewhere is read
    by the runs as it is (so no step can overwrite it)."""
    params = load_params(REPO / "params")
    ge_c = "compound_stacked_ge_c"
    assert layout.tag_lm(params, "ner", ge_c, "plus").path == "models/ner/tlm/tlm_c-plus.pt"
    models = json.loads(json.dumps(params.models))
    models["models"][ge_c]["global_energy"]["pretrained"] = "mine/{task}-tlm_c.pt"
    own = Params(**{**vars(params), "models": models})
    assert layout.tag_lm(own, "ner", ge_c, "plus") is None
    assert layout.pretrained_file(own, "ner", ge_c, "plus") == "mine/ner-tlm_c.pt"
    runs = [layout.Run("ner", ge_c, "plus", 1)]
    assert layout.tag_lms(own, runs) == []


def test_a_profile_narrows_the_experiment_list(tmp_path: Path) -> None:
    """smoke keeps one row of each kind in two settings; a name the list lacks is refused."""
    params = load_params(REPO / "params")
    smoke = layout.experiments(params, "smoke")
    assert smoke["models"] == ["bilstm", "bilstm_crf", "compound_stacked", "compound_stacked_ge_c"]
    assert smoke["settings"] == ["paper", "xfmr"] and smoke["tasks"] == ["pos", "ner"]
    assert layout.experiments(params, "paper")["models"] == params.experiments["models"]
    assert {r.model for r in layout.runs(params, "smoke")} == set(smoke["models"])
    shutil.copytree(REPO / "params", tmp_path / "params")
    _edit(
        tmp_path / "params/profiles.yaml",
        lambda v: v["smoke"]["experiments"].update(models=["bilstm", "no_such_model"]),
    )
    with pytest.raises(ParamsError, match="smoke.experiments.models: no such model no_such_model"):
        layout.experiments(load_params(tmp_path / "params"), "smoke")


# --- dvc.lock: what Snakemake made and still holds current -----------------------------------


def test_a_stage_is_lockable_only_when_snakemake_made_every_output_and_holds_it_current(
    tmp_path: Path,
) -> None:
    """An output counts when Snakemake's detailed summary holds a record of the job that made
    it, says "ok" (present, nothing changed) and plans no update; a folder output when every
    file in it does (Snakemake lists a featurize folder's files, DVC the folder)."""
    row = "{}\tdate\trule\t-\tin\t{}\t{}\t{}"
    summary = "\n".join(
        [
            "Building DAG of jobs...",  # any preamble is skipped
            "output_file\tdate\trule\tlog-file(s)\tinput-file(s)\tshellcmd\tstatus\tplan",
            row.format("data/pos/train.arrow", "spen preprocess pos", "ok", "no update"),
            row.format("data/pos/dev.arrow", "spen preprocess pos", "ok", "no update"),
            row.format("data/ner/train.arrow", "-", "ok", "no update"),  # no record
            row.format("data/raw/x", "spen fetch pos", "params changed", "update pending"),
            row.format("data/raw/y", "spen fetch ner", "missing", "no update"),  # read by none
            row.format("features/a.arrow", "spen featurize", "ok", "no update"),
            row.format("features/summary.json", "spen featurize", "ok", "no update"),
        ]
    )
    root = tmp_path
    current = dvc_lock.current_outputs(summary, root)
    made = ["data/pos/train.arrow", "data/pos/dev.arrow", "features/a.arrow"]
    assert current == {root / p for p in [*made, "features/summary.json"]}
    for name in ["features/a.arrow", "features/summary.json", "features/.snakemake_timestamp"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    stages = {
        "preprocess@pos": [root / "data/pos/train.arrow", root / "data/pos/dev.arrow"],
        "preprocess@ner": [root / "data/ner/train.arrow"],
        "fetch@pos": [root / "data/raw/x"],
        "fetch@ner": [root / "data/raw/y"],
        "half": [root / "data/pos/train.arrow", root / "data/pos/test.arrow"],
        "featurize": [root / "features"],
    }
    assert dvc_lock.lockable(stages, current) == ["preprocess@pos", "featurize"]
    (root / "features/b.arrow").write_text("a file Snakemake did not make")
    assert dvc_lock.lockable(stages, current) == ["preprocess@pos"]
    with pytest.raises(ValueError, match="no table"):
        dvc_lock.current_outputs("Building DAG of jobs...", root)


@needs_tools
@needs_shared_data()
def test_dvc_lock_records_what_snakemake_made_and_nothing_stale(workflow_copy: Path) -> None:
    """`spen dvc-lock` after a real smoke preprocess: the stages Snakemake ran are recorded and
    `dvc status` finds them up to date; an output put there by hand is not recorded; after a
    params edit that makes one of them stale, a second `spen dvc-lock` leaves its entry as it
    was (DVC then names it changed) instead of recording today's params beside old outputs."""
    shutil.copytree(
        REPO / "spen", workflow_copy / "spen", ignore=shutil.ignore_patterns("__pycache__")
    )
    other = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's spen, not the copy's
    refused = _run([SPEN, "dvc-lock"], workflow_copy, other)
    assert refused.returncode == 2 and "not its own spen/" in refused.stderr, refused.stderr
    own = {**os.environ, "PYTHONPATH": str(workflow_copy)}
    _edit(
        workflow_copy / "params/data.yaml",
        lambda v: v["raw"].update(search_path=[str(SHARED_DATA)], allow_download=False),
    )
    _edit(  # both tasks (fetch@ner is the output put there by hand), a short graph
        workflow_copy / "params/experiments.yaml",
        lambda v: v.update(models=["bilstm"], settings=["paper"]),
    )
    for command in ([DVC, "init", "--no-scm"], [SPEN, "dvc-yaml", "--profile", "smoke"]):
        assert _run(command, workflow_copy).returncode == 0
    target = layout.PREPARED.format(task="pos", name="summary.json")
    done = _run([SNAKEMAKE, target, "--cores", "1", "--config", "profile=smoke"], workflow_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    by_hand = workflow_copy / "runs/smoke/data/raw/conll2003"  # fetch@ner's output
    shutil.copytree(SHARED_DATA / "conll2003", by_hand)

    made = [p for p in (workflow_copy / "runs/smoke/data").rglob("*") if p.is_file()]
    made_at = {path: path.stat().st_mtime_ns for path in made}
    done = _run([SPEN, "dvc-lock"], workflow_copy, own)
    assert done.returncode == 0, done.stdout + done.stderr
    lock_file = workflow_copy / "dvc.lock"
    assert set(yaml.safe_load(lock_file.read_text())["stages"]) == {"fetch@pos", "preprocess@pos"}
    # DVC writes each output it caches anew: left newer than what Snakemake made from it, it
    # would make those outdated to Snakemake; every file keeps its modification time
    assert {path: path.stat().st_mtime_ns for path in made} == made_at
    status = _run([DVC, "status", "fetch@pos", "preprocess@pos"], workflow_copy)
    assert "up to date" in status.stdout, status.stdout + status.stderr

    recorded = lock_file.read_text()
    _edit(workflow_copy / "params/data.yaml", lambda v: v["tasks"]["pos"].update(normalize="lower"))
    done = _run([SPEN, "dvc-lock"], workflow_copy, own)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"dvc.lock: 1 of \d+ stages", done.stdout), done.stdout  # fetch@pos again
    assert lock_file.read_text() == recorded
    status = _run([DVC, "status", "preprocess@pos"], workflow_copy)
    assert "changed" in status.stdout and "tasks.pos.normalize" in status.stdout, status.stdout


def _tiny_dvc_project(root: Path, stages: dict[str, dict[str, object]]) -> Path:
    """A DVC project (no git) at `root` whose dvc.yaml holds `stages`."""
    root.mkdir()
    assert _run([DVC, "init", "--no-scm", "-q"], root).returncode == 0
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    return root


@needs_tools
def test_dvc_lock_from_another_checkout_takes_only_what_stands_here(tmp_path: Path) -> None:
    """`spen dvc-lock --from` another checkout's dvc.lock: a stage defined alike whose output
    here is the file recorded there is taken, and one whose output is absent here (a
    checkpoint kept out of git) too; one whose output here differs, one defined otherwise here
    and one not defined here are refused, each with its reason; DVC then finds the taken
    stage up to date. A file that is no dvc.lock is refused in one line, exit 2, the lock
    left as it was."""
    stages: dict[str, dict[str, object]] = {
        "a": {"cmd": "echo a > a.txt", "outs": ["a.txt"]},
        "b": {"cmd": "cp a.txt b.txt", "deps": ["a.txt"], "outs": ["b.txt"]},
        "c": {"cmd": "echo c > c.txt", "outs": ["c.txt"]},
        "e": {"cmd": "echo e > e.txt", "outs": ["e.txt"]},
        "gone": {"cmd": "echo g > g.txt", "outs": ["g.txt"]},
    }
    there = _tiny_dvc_project(tmp_path / "there", stages)
    assert _run([DVC, "repro", "-q"], there).returncode == 0
    here_stages = {k: v for k, v in stages.items() if k != "gone"}
    here_stages["e"] = {"cmd": "echo E > e.txt", "outs": ["e.txt"]}
    here = _tiny_dvc_project(tmp_path / "here", here_stages)
    (here / "a.txt").write_text((there / "a.txt").read_text())
    (here / "c.txt").write_text("made otherwise\n")
    theirs = yaml.safe_load((there / "dvc.lock").read_text())["stages"]

    done = _run([SPEN, "dvc-lock", "--from", there / "dvc.lock"], here)
    assert done.returncode == 0, done.stdout + done.stderr
    ours = yaml.safe_load((here / "dvc.lock").read_text())["stages"]
    assert ours == {"a": theirs["a"], "b": theirs["b"]}
    assert "refusing c: c.txt here differs from the one recorded" in done.stdout
    assert "refusing e: another command" in done.stdout
    assert "refusing gone: no such stage in dvc.yaml" in done.stdout
    status = _run([DVC, "status", "a"], here)
    assert "up to date" in status.stdout, status.stdout + status.stderr

    recorded = (here / "dvc.lock").read_text()
    (tmp_path / "not.lock").write_text("stages: [a, b\n")
    bad = _run([SPEN, "dvc-lock", "--from", tmp_path / "not.lock"], here)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "not.lock, line 2: not YAML" in bad.stderr
    assert (here / "dvc.lock").read_text() == recorded


@needs_tools
def test_snakemake_reruns_a_training_after_an_edit_to_a_key_it_reads(workflow_copy: Path) -> None:
    """Snakemake's own record (`--touch --forceall` on placeholder files) of a run, then a
    params edit: a key of that model reruns its training, with params named as the reason; a
    key of another model does not. (Snakemake leaves a params function that reads `input` out
    of its rerun trigger: the training rule's trigger is the keys it reads, as DVC's stage
    has them.)"""
    params = load_params(workflow_copy / "params")
    run = layout.Run("pos", "bilstm_sgd", "paper", 1)  # a model no tuning record feeds
    target = run.path(layout.CHECKPOINT)
    files = [*layout.prepared("pos"), run.path(layout.TRAIN_LOG), run.path(layout.TRAIN_SUMMARY)]
    files += [target, run.path(layout.TIMINGS)]
    (workflow_copy / layout.raw_dir(params, "pos")).mkdir(parents=True)
    for name in files:
        (workflow_copy / name).parent.mkdir(parents=True, exist_ok=True)
        (workflow_copy / name).write_text("placeholder")
    config = ["--cores", "1", "--config", "profile=paper_seed1"]
    done = _run([SNAKEMAKE, target, "--touch", "--forceall", *config], workflow_copy)
    assert done.returncode == 0, done.stdout + done.stderr

    def jobs() -> str:
        done = _run([SNAKEMAKE, target, "-n", *config], workflow_copy)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "Nothing to be done" in jobs()
    _edit(
        workflow_copy / "params/models.yaml",
        lambda v: v["models"]["bilstm_adam"].update(patience=3),
    )
    assert "Nothing to be done" in jobs()
    _edit(
        workflow_copy / "params/models.yaml", lambda v: v["models"]["bilstm_sgd"].update(patience=3)
    )
    listed = jobs()
    assert "rule train:" in listed and "params" in listed.split("rule train:")[1], listed
