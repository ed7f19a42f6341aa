"""The fault a training run can stop on, apart from the loop, so that the command line reports it
without importing the loop (and its metrics) for every command."""

from __future__ import annotations


class NumericalFaultError(RuntimeError):
    """A loss became NaN or infinite during training."""
