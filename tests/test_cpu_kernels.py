"""`import spen` holds torch's CPU kernels to AVX2 before torch loads (so a run retrained on a
CPU with AVX-512 gives the committed model) and leaves a level the user chose as it is; a
run's train.json names the level it ran with (tests/test_reliability.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from spen.cpu_kernels import PINNED_KERNELS, pin_kernels

PROBE = (
    "import os, spen, torch; "
    "print(torch.backends.cpu.get_cpu_capability(), "
    "os.environ['MKL_ENABLE_INSTRUCTIONS'], os.environ['ONEDNN_MAX_CPU_ISA'])"
)


def _probe(**chosen: str) -> list[str]:
    """What a fresh interpreter that imports spen, then torch, runs with."""
    env = {k: v for k, v in os.environ.items() if k not in PINNED_KERNELS} | chosen
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_import_spen_holds_torch_mkl_and_onednn_to_avx2() -> None:
    """Whatever the CPU offers beyond AVX2 (this one's AVX-512, where it has it), torch's own
    operators run at AVX2 at most, and MKL and oneDNN are told the same."""
    level, mkl, onednn = _probe()
    assert level in ("AVX2", "DEFAULT"), level  # DEFAULT: a CPU without AVX2
    assert (mkl, onednn) == ("AVX2", "AVX2")


def test_a_level_the_user_set_is_kept() -> None:
    """`ATEN_CPU_CAPABILITY=default` before spen is imported stays: torch runs its scalar
    kernels; the variables not set are pinned."""
    level, mkl, _ = _probe(ATEN_CPU_CAPABILITY="default", MKL_ENABLE_INSTRUCTIONS="SSE4_2")
    assert (level, mkl) == ("DEFAULT", "SSE4_2")
    environ = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    pin_kernels(environ)
    assert environ == {**PINNED_KERNELS, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
