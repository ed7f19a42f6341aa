"""The report stage: results/summary.json, the run directories, the tuning records and the decode
benchmarks, rendered beside the paper's figures (paper.yaml) into reports/index.html, index.md
and the charts both show, reports/figures/NAME.svg.

    collect.py       reads the files (nothing else touches the disk before rendering): `Inputs`
    results.py       `Results`: the summary's groups and runs in the report's order, lookups
    cells.py         table cells, tables, charts, and how numbers read in them
    verdict.py            the verdict panel above section 1, read off section 3's rows
    comparison.py    1-2  our figures beside the paper's main table and Table 4; gains
    claims.py        3    the paper's claims: Δ, SE, verdicts, the forest plot
    tuning_table.py  4    the tuning grids and the choice on dev
    ner.py           5    NER: conlleval-style and strict F1, F1 by entity type
    curves.py        7    learning curves
    speed.py         8    training throughput from the runs' own logs
    benchmarks.py    8    `spen bench` and `spen pipeline-time` tables
    parameters.py    9    parameter counts
    analysis.py      10   exact vs amortised inference
    provenance.py    11   the header's facts and the rendering environment
    choices.py       12   docs/CHOICES.md
    inventory.py          the table of all runs
    context.py       `build_context`: the sections assembled for the templates
    svg.py           charts as SVG: learning curves, the claims' forest plot
    markdown.py      the little Markdown docs/CHOICES.md needs
    build.py         Jinja2 rendering (templates/); pages and figures written atomically
"""
