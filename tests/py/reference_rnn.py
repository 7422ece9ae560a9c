"""Reference recurrent models of gaitfed (model/lstm.c, model/gru.c) in PyTorch.

Same submodule names as the C engine's state_dict, so
load_state_dict(strict=True) takes a gaitfed checkpoint unchanged:
  lstm.weight_ih_l{k}, lstm.weight_hh_l{k}, lstm.bias_ih_l{k}, lstm.bias_hh_l{k}
  (or gru.*), fc.weight, fc.bias.
Run with Debian's /usr/bin/python3 (python3-torch), not a pyenv python.
"""
import torch
from torch import nn


class RNNRegressor(nn.Module):
    """nn.LSTM / nn.GRU (batch_first, dropout between layers) + per-step Linear."""

    def __init__(self, kind, d_in, d_out, hidden=128, num_layers=2, dropout=0.1):
        super().__init__()
        if kind not in ("lstm", "gru"):
            raise ValueError(kind)
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        rnn = cls(d_in, hidden, num_layers=num_layers, batch_first=True,
                  dropout=dropout if num_layers > 1 else 0.0)
        # Registered under the names the C engine uses.
        setattr(self, kind, rnn)
        self.kind = kind
        self.fc = nn.Linear(hidden, d_out)

    def forward(self, x):  # x [B, T, d_in] -> [B, T, d_out]
        out, _ = getattr(self, self.kind)(x)
        return self.fc(out)


def LSTMRegressor(d_in, d_out, hidden=128, num_layers=2, dropout=0.1):
    return RNNRegressor("lstm", d_in, d_out, hidden, num_layers, dropout)


def GRURegressor(d_in, d_out, hidden=128, num_layers=2, dropout=0.1):
    return RNNRegressor("gru", d_in, d_out, hidden, num_layers, dropout)
