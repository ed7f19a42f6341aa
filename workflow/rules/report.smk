# The report: `spen report` renders results/summary.json, each run's own files (train.json,
# learning curves, analysis.json) and the decode benchmarks (`spen bench`) into reports/.


rule bench:
    """Decoding throughput on TASK's test split: inference network, Viterbi and the peers."""
    input:
        data=lambda w: pipeline.prepared(w.task, pipeline.DECODE_READS),
    output:
        pipeline.BENCH,
    params:
        reads=reads("bench"),
        profile=PROFILE,
    log:
        "logs/bench/{task}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "OMP_NUM_THREADS={threads} spen bench {wildcards.task} --profile {params.profile} --out {output} > {log} 2>&1"


rule report:
    """reports/index.html (self-contained: inline CSS and SVG) and its Markdown twin: our
    figures beside the paper's (spen/report/paper.yaml), learning curves, speed, environment."""
    input:
        summary=pipeline.SUMMARY,
        curves=run_files(pipeline.CURVE),
        others=pipeline.report_inputs(PARAMS, PROFILE),
    output:
        html="reports/index.html",
        md="reports/index.md",
    log:
        "logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "spen report --summary {input.summary} --bench reports/bench --out reports > {log} 2>&1"
