"""The Gait2Hip-60 reference Transformer as a PyTorch module (torch 1.13).

Submodule names match gaitfed's checkpoint tensor names (state_dict):
  input_proj.{weight,bias}, pos_encoder.pos_embed.weight,
  encoder.layers.N.self_attn.{in_proj_weight,in_proj_bias,out_proj.weight,out_proj.bias},
  encoder.layers.N.{linear1,linear2,norm1,norm2}.{weight,bias}, output_proj.{weight,bias}
so a gaitfed checkpoint loads with load_state_dict(strict=True).

Defaults are the reference: Linear(10->128), learned positions Embedding(500, 128)
followed by dropout, 2 post-norm encoder layers, 4 heads, FFN 256, ReLU,
dropout 0.1, per-step Linear(128->d_out); no final LayerNorm.
"""
import torch
import torch.nn as nn


class LearnedPositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=500, dropout=0.1):
        super().__init__()
        self.pos_embed = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # x [B, T, d_model]
        pos = torch.arange(x.size(1), device=x.device)
        return self.dropout(x + self.pos_embed(pos).unsqueeze(0))


class ReferenceTransformer(nn.Module):
    def __init__(self, d_in=10, d_out=14, d_model=128, n_heads=4, n_layers=2, d_ff=256,
                 dropout=0.1, max_len=500, prenorm=False, gelu=False):
        super().__init__()
        self.input_proj = nn.Linear(d_in, d_model)
        self.pos_encoder = LearnedPositionalEncoding(d_model, max_len, dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=d_ff, dropout=dropout,
                                           activation="gelu" if gelu else "relu",
                                           batch_first=True, norm_first=bool(prenorm))
        # enable_nested_tensor only matters for padding masks (none here)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.output_proj = nn.Linear(d_model, d_out)

    def forward(self, x):  # x [B, T, d_in] -> [B, T, d_out]
        return self.output_proj(self.encoder(self.pos_encoder(self.input_proj(x))))
