"""Energy-based sequence labeling with inference networks (Tu, Pang & Gimpel, 2020)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spen.cpu_kernels import pin_kernels

if TYPE_CHECKING:
    from spen.tagger import Tagger

__version__ = "0.1.0"
__all__ = ["Tagger"]

pin_kernels()  # before anything loads torch: the same kernels on every CPU


def __getattr__(name: str) -> Any:
    """`spen.Tagger`, imported at its first use: `import spen` (the command line's start-up
    included) stays free of torch."""
    if name == "Tagger":
        from spen.tagger import Tagger

        return Tagger
    raise AttributeError(f"module 'spen' has no attribute {name!r}")
