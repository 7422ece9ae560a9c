"""Reference temporal convolution network of gaitfed (model/tcn.c) in PyTorch.

Same submodule names as the C engine's state_dict, so
load_state_dict(strict=True) takes a gaitfed checkpoint unchanged:
  input_proj.{weight,bias}                 nn.Linear(d_in, C)
  blocks.{i}.conv1.{weight,bias}           nn.Conv1d(C, C, K, dilation=2**i, padding='same')
  blocks.{i}.conv2.{weight,bias}           nn.Conv1d(C, C, K, dilation=2**i, padding='same')
  output_proj.{weight,bias}                nn.Linear(C, d_out)
Per block: h = h + drop(relu(conv2(drop(relu(conv1(h)))))). Non-causal: each
step sees +-(K-1)(2**L - 1) samples of the cycle (253 for K 3, L 6).
Run with Debian's /usr/bin/python3 (python3-torch), not a pyenv python.
"""
import torch
from torch import nn


class TCNBlock(nn.Module):
    def __init__(self, channels, kernel, dilation, dropout):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same")
        self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same")
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, h):  # h [B, C, T]
        a = self.drop1(torch.relu(self.conv1(h)))
        return h + self.drop2(torch.relu(self.conv2(a)))


class TCNRegressor(nn.Module):
    """Per-step Linear in, L dilated residual blocks (dilation 2**i), per-step Linear out."""

    def __init__(self, d_in, d_out, channels=128, n_blocks=6, kernel=3, dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(d_in, channels)
        self.blocks = nn.ModuleList(TCNBlock(channels, kernel, 2 ** i, dropout) for i in range(n_blocks))
        self.output_proj = nn.Linear(channels, d_out)

    def forward(self, x):  # x [B, T, d_in] -> [B, T, d_out]
        h = self.input_proj(x).transpose(1, 2)
        for b in self.blocks:
            h = b(h)
        return self.output_proj(h.transpose(1, 2))
