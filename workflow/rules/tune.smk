# The tuning protocol (params/tuning.yaml): every grid point of a tuned model trained once with
# the protocol's seed (`spen train --point`), then the point with the best dev score chosen
# (`spen tune-select`). `snakemake tune` runs this stage alone; the main runs read the choice.
# Where the task has a pruning rule, each point first trains its probe epochs (tune_probe), the
# best few are kept (tune_prune), and tune_train takes the others no further.


rule tune_probe:
    """A grid point's first epochs (the pruning rule's probe); its resume state stays for
    tune_train to go on from."""
    input:
        data=lambda w: pipeline.prepared(w.task, pipeline.TRAIN_READS),
        tag_lm=tag_lm_input,
    output:
        pipeline.TUNE_PROBE,
    params:
        run=point_config,
        seed=PARAMS.tuning["seed"],
        profile=PROFILE,
        out=lambda w: pipeline.TUNE_DIR.format(**w),
    log:
        "logs/tune_probe/{task}/{model}-{setting}/{point}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        "OMP_NUM_THREADS={threads} spen train {wildcards.task} {wildcards.model}"
        " {wildcards.setting} --seed {params.seed} --point {wildcards.point} --probe {output}"
        " --profile {params.profile} --out {params.out} > {log} 2>&1"


rule tune_prune:
    """The grid points that go on after their probe epochs (the task's pruning rule)."""
    input:
        lambda w: pipeline.grid_summaries(
            PARAMS, w.task, w.model, w.setting, PROFILE, pipeline.TUNE_PROBE
        ),
    output:
        pipeline.PRUNING,
    params:
        profile=PROFILE,
    log:
        "logs/tune_prune/{task}/{model}-{setting}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "spen tune-prune {wildcards.task} {wildcards.model} {wildcards.setting} {input}"
        " --profile {params.profile} --out {output} > {log} 2>&1"


rule tune_train:
    """One grid point of a tuned MODEL in SETTING on TASK: trained and scored on dev only."""
    input:
        data=lambda w: pipeline.prepared(w.task, pipeline.TRAIN_READS),
        tag_lm=tag_lm_input,
        pruning=lambda w: pipeline.pruning_record(PARAMS, w.task, w.model, w.setting, PROFILE)
        or [],
    output:
        summary=pipeline.TUNE_SUMMARY,
        best=f"{pipeline.TUNE_DIR}/best.pt",
        metrics=f"{pipeline.TUNE_DIR}/metrics.jsonl",
        timings=f"{pipeline.TUNE_DIR}/timings.json",
    params:
        run=point_config,
        seed=PARAMS.tuning["seed"],
        profile=PROFILE,
        out=lambda w, output: Path(output.summary).parent,
        pruning=lambda w, input: f"--pruning {input.pruning}" if input.pruning else "",
    log:
        "logs/tune/{task}/{model}-{setting}/{point}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        "OMP_NUM_THREADS={threads} spen train {wildcards.task} {wildcards.model}"
        " {wildcards.setting} --seed {params.seed} --point {wildcards.point} {params.pruning}"
        " --profile {params.profile} --out {params.out} > {log} 2>&1"


checkpoint tune_select:
    """The tuning record: every grid point's dev figures and the chosen point (a checkpoint:
    the main runs' settings are known once it exists)."""
    input:
        lambda w: pipeline.grid_summaries(PARAMS, w.task, w.model, w.setting, PROFILE),
    output:
        pipeline.TUNING,
    params:
        profile=PROFILE,
    log:
        "logs/tune_select/{task}/{model}-{setting}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "spen tune-select {wildcards.task} {wildcards.model} {wildcards.setting} {input}"
        " --profile {params.profile} --out {output} > {log} 2>&1"


rule tune:
    """Every tuning record the main runs of the active profile read."""
    input:
        pipeline.tuning_records(PARAMS, RUNS),
