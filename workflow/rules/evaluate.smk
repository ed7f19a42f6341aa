# Evaluation: `spen decode` (test predictions), `spen score` (metrics), `spen aggregate` (table).


rule decode:
    """Tag the test split with a run's best checkpoint (CoNLL: token, gold, predicted)."""
    input:
        checkpoint=pipeline.CHECKPOINT,
        data=lambda w: pipeline.prepared(w.task, pipeline.DECODE_READS),
    output:
        pipeline.PREDICTIONS,
    log:
        "logs/decode/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "OMP_NUM_THREADS={threads} spen decode {input.checkpoint} --split test"
        " --data data/{wildcards.task} --out {output} > {log} 2>&1"


rule analyze:
    """Exact (Viterbi) versus amortised (A_Ψ) inference and the energy gap of a SPEN run;
    `{"spen": false}` for a model without an inference network."""
    input:
        checkpoint=pipeline.CHECKPOINT,
        data=lambda w: pipeline.prepared(w.task, pipeline.DECODE_READS),
    output:
        pipeline.ANALYSIS,
    log:
        "logs/analyze/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "OMP_NUM_THREADS={threads} spen analyze {input.checkpoint} --split test"
        " --data data/{wildcards.task} --out {output} > {log} 2>&1"


rule score:
    """Token accuracy, and entity precision/recall/F1 for BIOES tags, of one run's predictions."""
    input:
        predictions=pipeline.PREDICTIONS,
    output:
        pipeline.SCORES,
    log:
        "logs/score/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "spen score {input.predictions} --out {output} > {log} 2>&1"


rule aggregate:
    """Mean and std over seeds per task x model x setting; each run's learning curve."""
    input:
        scores=run_files(pipeline.SCORES),
        metrics=run_files(pipeline.TRAIN_LOG),
        timings=run_files(pipeline.TIMINGS),
    output:
        summary=pipeline.SUMMARY,
        curves=run_files(pipeline.CURVE),
    params:
        profile=PROFILE,
    log:
        "logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "spen aggregate {input.scores} --profile {params.profile} --out {output.summary}"
        " > {log} 2>&1"
