"""The report stage: results/summary.json, the run directories, the tuning records and the decode
benchmarks, rendered beside the paper's figures (paper.yaml) into reports/index.html and index.md.

    collect.py   reads the files (nothing else touches the disk before rendering)
    content.py   the sections as tables of formatted cells and charts
    svg.py       charts as inline SVG: learning curves, the claims' forest plot
    markdown.py  the little Markdown docs/CHOICES.md needs
    build.py     Jinja2 rendering (templates/), atomic writes
"""
