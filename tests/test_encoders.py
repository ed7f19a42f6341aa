"""The BiLSTM layer against PyTorch's bidirectional LSTM over packed sequences."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spen.models.encoders import BiLSTM, reversal_index


def _packed_reference(layer: BiLSTM) -> nn.LSTM:
    """A bidirectional nn.LSTM with `layer`'s weights (the layout of older checkpoints)."""
    hidden = layer.out_dim // 2
    reference = nn.LSTM(layer.forward_lstm.input_size, hidden, batch_first=True, bidirectional=True)
    state = {f"lstm.{k}": v for k, v in reference.state_dict().items()}
    layer.load_state_dict(state)  # the old layout loads into the new layer
    return reference


@pytest.mark.parametrize("seed", range(4))
def test_equals_bidirectional_lstm_over_packed_sequences(seed: int) -> None:
    torch.manual_seed(seed)
    layer = BiLSTM(6, 5).double()
    reference = _packed_reference(layer).double()
    lengths = torch.tensor([7, 1, 4, 7, 2])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    inputs = torch.randn(5, 7, 6, dtype=torch.float64)
    inputs[~mask] = torch.randn(int((~mask).sum()), 6, dtype=torch.float64) * 100  # junk
    inputs.requires_grad_(True)
    ours = layer(inputs, mask)
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    theirs, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=7)
    torch.testing.assert_close(ours, theirs)
    weights = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), inputs)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), inputs)
    torch.testing.assert_close(grad_ours, grad_theirs)
    assert torch.all(grad_ours[~mask] == 0)  # padding reaches nothing


def test_reversal_index_reverses_each_sentence_within_its_length() -> None:
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    assert reversal_index(mask).tolist() == [[2, 1, 0, 3], [0, 1, 2, 3]]
