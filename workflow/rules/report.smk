# The report: `spen report` renders results/summary.json, each run's own files (train.json,
# learning curves, optional analysis.json) and the decode benchmarks into reports/.

import glob
import os


def optional_report_inputs(wildcards):
    """Files the report shows when they exist but no rule here makes: `spen bench` results
    and `spen analyze` outputs. Listed so that a new one re-renders the report."""
    found = sorted(glob.glob("reports/bench/decode-*.json"))
    found += sorted(glob.glob("results/*/*/seed*/analysis.json"))
    return found + [path for path in ("docs/CHOICES.md",) if os.path.exists(path)]


rule report:
    """reports/index.html (self-contained: inline CSS and SVG) and its Markdown twin: our
    figures beside the paper's (spen/report/paper.yaml), learning curves, speed, environment."""
    input:
        summary=pipeline.SUMMARY,
        curves=run_files(pipeline.CURVE),
        optional=optional_report_inputs,
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
