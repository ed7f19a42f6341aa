"""The benchmark's peer decoders decode the same energy as our Viterbi."""

from __future__ import annotations

import pytest
import torch

from spen.bench import exact_decoders

pytest.importorskip("torchcrf")
pytest.importorskip("torch_struct")


@pytest.mark.parametrize("seed", range(5))
def test_peers_find_our_viterbi_path(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    batch, seq_len, num_tags = 6, 7, 5
    emissions = torch.randn(batch, seq_len, num_tags, generator=generator)
    transitions = torch.randn(num_tags + 1, num_tags + 1, generator=generator)
    lengths = torch.tensor([7, 1, 2, 5, 7, 3])
    mask = torch.arange(seq_len)[None, :] < lengths[:, None]
    decoders = exact_decoders(transitions)
    ours = decoders["viterbi"](emissions, mask)
    for name in ("pytorch_crf", "torch_struct"):
        theirs = decoders[name](emissions, mask)
        assert torch.equal(theirs[mask], ours[mask]), name
