# The tuning protocol (params/tuning.yaml): every grid point of a tuned model trained once with
# the protocol's seed (`spen train --point`), then the point with the best dev score chosen
# (`spen tune-select`). `snakemake tune` runs this stage alone; the main runs read the choice.


rule tune_train:
    """One grid point of a tuned MODEL in SETTING on TASK: trained and scored on dev only."""
    input:
        data=lambda w: pipeline.prepared(w.task, pipeline.TRAIN_READS),
        tag_lm=tag_lm_input,
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
    log:
        "logs/tune/{task}/{model}-{setting}/{point}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        "OMP_NUM_THREADS={threads} spen train {wildcards.task} {wildcards.model}"
        " {wildcards.setting} --seed {params.seed} --point {wildcards.point}"
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
