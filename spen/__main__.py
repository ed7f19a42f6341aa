"""`python -m spen`: the same as the `spen` command."""

from spen.cli import app

app()
