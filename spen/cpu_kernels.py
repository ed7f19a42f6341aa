"""The CPU kernels torch computes with, pinned to AVX2 for reproducibility. Torch, MKL and
oneDNN pick their kernels by the CPU they find: on a CPU with AVX-512 the sums of a training
epoch run in another order than on one with AVX2 only, so a run retrained there diverges from
the committed one after a few hundred steps. With every library held to AVX2 kernels the same
settings and seed give the same model, bit for bit, on both (docs/CHOICES.md, "CPU kernels").
A variable already set is left as it is: `ATEN_CPU_CAPABILITY=avx512` (and the others) trades
that for the wider kernels. The variables take effect only if set before torch is loaded:
`import spen` sets them, and stays free of torch."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: each library's variable and the kernel level it is held to
PINNED_KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def pin_kernels(environ: MutableMapping[str, str] = os.environ) -> None:
    """Hold torch, MKL and oneDNN to the AVX2 kernels, unless a variable is set already."""
    for name, level in PINNED_KERNELS.items():
        environ.setdefault(name, level)


def kernel_level() -> str:
    """The kernel level torch's own CPU operators run at in this process (`AVX2`,
    `AVX512`, `DEFAULT`, ...), for a run's record."""
    import torch

    return torch.backends.cpu.get_cpu_capability()
