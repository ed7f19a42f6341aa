# Raw data and its Arrow form: `spen fetch`, `spen preprocess`.


rule fetch:
    """A task's raw files from the search path (or their URL), SHA-256 checked."""
    output:
        directory(layout.RAW_DIR),
    params:
        code=steps.code_digest("fetch"),  # its code: reruns as DVC does
        task=lambda w: TASK_OF_RAWDIR[w.rawdir],
        reads=reads("fetch"),
    log:
        "logs/fetch/{rawdir}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        steps.snakemake_shell("fetch", task="{params.task}")


rule featurize:
    """Per-word features of a task's splits from the frozen encoder an input SETTING names
    (`features` in params/models.yaml), computed once for every run in that setting."""
    input:
        data=lambda w: layout.prepared(w.task, layout.FEATURIZE_READS),
    output:
        [f"{layout.FEATURES}/{name}" for name in layout.FEATURE_FILES],
        cost=layout.FEATURIZE_COST,
    params:
        code=steps.code_digest("featurize"),  # its code: reruns as DVC does
        reads=reads("featurize"),
        profile=PROFILE,
    log:
        "logs/featurize/{task}/{setting}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        steps.snakemake_shell("featurize")


rule preprocess:
    """Arrow splits, vocabularies, embedding matrix and a summary of one task."""
    input:
        raw=raw_dir,
    output:
        layout.prepared("{task}"),
    params:
        code=steps.code_digest("preprocess"),  # its code: reruns as DVC does
        reads=reads("preprocess"),
    log:
        "logs/preprocess/{task}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        steps.snakemake_shell("preprocess")
