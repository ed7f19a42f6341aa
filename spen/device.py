"""The torch device a command asks for (`auto`, `cpu`, `cuda`), checked against the machine."""

from __future__ import annotations

import torch


class DeviceUnavailableError(RuntimeError):
    """The device a run asks for is not on this machine."""


def choose_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "device: cuda was asked for, but torch sees no CUDA device (use --device cpu or auto)"
        )
    return torch.device(name)
