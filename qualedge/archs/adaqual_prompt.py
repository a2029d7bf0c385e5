"""AdaQual-Diff's adaptive quality prompting (the paper's Algorithm 1), as one static-shape module.

Inputs: bottleneck features F (B, C, h, w) and the quality map q (B, 1, h, w) at the same resolution (the quality
head's 16-pixel cells match a U-Net with four downsamplings), quality in [0, 1], higher is better.

1. **Adaptive region partition** (the paper gives none; this is qualedge's, documented): q is smoothed with a 3x3
   mean, and the cells are split into R regions by the image's own quality quantiles (k/R, k = 1..R-1): region r
   holds the cells whose quality lies between two quantiles, so regions follow quality, not a fixed grid, and have
   about equal size. Regions without cells are masked out.
2. Per region: mean quality q_r and features F_e(r) = mean of a linear projection of F over its cells.
3. Prompt complexity C_p = C_min + (C_max - C_min) * (1 - (q_r - q_min) / (q_max - q_min + eps)) with q_min, q_max
   over the image's map ("minmax", the paper's form; eps guards a constant map), or C_min + (C_max - C_min)(1 - q_r)
   ("absolute", the released code's variant); rounded.
4. Pool: P_high if q_r > tau else P_low. TopK: cosine similarity of F_e(r) with the pool's keys, the K best
   prompts mixed by the softmax of their similarities; a quality embedding of q_r is added to the tokens.
5. Variable length as a mask: every region keeps L_max tokens; tokens beyond C_p are masked in attention, which
   equals truncation and keeps the graph static (ONNX/TensorRT).
6. Cross-attention at the bottleneck: each cell attends to the global prompts (always) and its own region's prompt
   tokens; residual output.
Modes for the ablation: ``adaptive`` (the above), ``uniform`` (every region gets the same prompt: the mean of both
pools at length (C_min + C_max) / 2, no quality), ``none`` (no prompting: identity).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("adaptive", "uniform", "none")
NEG = -1e4  # masked logits (finite, so fp16 stays finite)


def partition(q: torch.Tensor, regions: int) -> torch.Tensor:
    """Region index (B, N) in [0, regions) of each cell of q (B, 1, h, w), by the image's quality quantiles."""
    b = q.shape[0]
    qs = F.avg_pool2d(F.pad(q, (1, 1, 1, 1), mode="replicate"), 3, 1).reshape(b, -1)
    if regions == 1:
        return torch.zeros_like(qs, dtype=torch.long)
    sorted_q, _ = qs.sort(dim=1)
    n = qs.shape[1]
    pos = (torch.arange(1, regions, device=q.device, dtype=torch.float32) / regions * (n - 1)).round().long()
    thresholds = sorted_q[:, pos]  # (B, R-1)
    return (qs[:, :, None] > thresholds[:, None, :]).sum(-1)  # cells above k thresholds -> region k


class AdaptivePrompt(nn.Module):
    def __init__(
        self,
        *,
        channels: int,
        dim: int = 64,
        global_tokens: int = 8,
        pool_size: int = 10,
        max_tokens: int = 32,
        min_tokens: int = 5,
        tau: float = 0.5,
        top_k: int = 3,
        regions: int = 4,
        heads: int = 4,
        mode: str = "adaptive",
        complexity: str = "minmax",
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"prompt mode must be one of {MODES}, got {mode!r}")
        if complexity not in ("minmax", "absolute"):
            raise ValueError(f"complexity must be 'minmax' or 'absolute', got {complexity!r}")
        if not 1 <= min_tokens <= max_tokens or top_k > pool_size or dim % heads:
            raise ValueError("need 1 <= min_tokens <= max_tokens, top_k <= pool_size and dim divisible by heads")
        self.mode, self.complexity = mode, complexity
        self.dim, self.lg, self.lmax, self.cmin, self.tau, self.top_k, self.regions, self.heads = dim, global_tokens, max_tokens, min_tokens, tau, top_k, regions, heads
        self.global_prompts = nn.Parameter(torch.randn(global_tokens, dim) * 0.02)
        self.pools = nn.Parameter(torch.randn(2, pool_size, max_tokens, dim) * 0.02)  # 0: high quality, 1: low quality
        self.keys = nn.Parameter(torch.randn(2, pool_size, dim) * 0.02)
        self.feat_proj = nn.Linear(channels, dim)
        self.q_embed = nn.Sequential(nn.Linear(1, dim), nn.GELU(), nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(channels)
        self.to_q = nn.Linear(channels, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def region_prompts(self, feat: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Tokens (B, R, Lg + Lmax, D), token mask (B, R, Lg + Lmax), region of each cell (B, N), and details."""
        b, c, h, w = feat.shape
        R, L = self.regions, self.lmax
        region = partition(q, R)  # B, N
        onehot = F.one_hot(region, R).to(feat.dtype).transpose(1, 2)  # B, R, N
        count = onehot.sum(-1)  # B, R
        valid = count > 0
        qf = q.reshape(b, 1, -1).to(feat.dtype)
        q_r = (onehot * qf).sum(-1) / count.clamp_min(1)  # B, R
        f_e = onehot @ self.feat_proj(feat.flatten(2).transpose(1, 2)) / count.clamp_min(1)[..., None]  # B, R, D
        if self.mode == "uniform":
            tokens = self.pools.mean(dim=(0, 1))[None, None].expand(b, R, L, self.dim)
            length = torch.full((b, R), (self.cmin + L) // 2, device=feat.device, dtype=torch.long)
            low = torch.zeros((b, R), device=feat.device, dtype=torch.long)
        else:
            qmin, qmax = qf.amin(-1), qf.amax(-1)  # B, 1
            rel = (q_r - qmin) / (qmax - qmin + 1e-6) if self.complexity == "minmax" else q_r
            length = (self.cmin + (L - self.cmin) * (1 - rel.clamp(0, 1))).round().long()  # B, R
            low = (q_r <= self.tau).long()  # pool index per region: 0 high, 1 low
            keys = self.keys[low]  # B, R, P, D
            pools = self.pools[low]  # B, R, P, L, D
            sim = F.cosine_similarity(f_e[:, :, None, :], keys, dim=-1)  # B, R, P
            top, idx = sim.topk(self.top_k, dim=-1)
            wts = top.softmax(-1)  # B, R, K
            chosen = torch.gather(pools, 2, idx[..., None, None].expand(b, R, self.top_k, L, self.dim))
            tokens = (wts[..., None, None] * chosen).sum(2) + self.q_embed(q_r[..., None])[:, :, None, :]
        tmask = torch.arange(L, device=feat.device)[None, None, :] < length[..., None]  # B, R, L
        gtok = self.global_prompts[None, None].expand(b, R, self.lg, self.dim)
        all_tokens = torch.cat([gtok, tokens], dim=2)
        all_mask = torch.cat([torch.ones(b, R, self.lg, dtype=torch.bool, device=feat.device), tmask], dim=2) & valid[..., None]
        return all_tokens, all_mask, region, {"q_r": q_r, "length": length, "valid": valid, "low_pool": low.bool()}

    def forward(self, feat: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return feat
        b, c, h, w = feat.shape
        tokens, mask, region, _ = self.region_prompts(feat, q)
        R, T = tokens.shape[1], tokens.shape[2]
        x = self.norm(feat.flatten(2).transpose(1, 2))  # B, N, C
        hd = self.dim // self.heads
        qh = self.to_q(x).reshape(b, -1, self.heads, hd).transpose(1, 2)  # B, H, N, hd
        k, v = self.to_kv(tokens.reshape(b, R * T, self.dim)).chunk(2, dim=-1)
        k = k.reshape(b, R * T, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, R * T, self.heads, hd).transpose(1, 2)
        logits = (qh @ k.transpose(-1, -2)) * hd**-0.5  # B, H, N, R*T
        own = F.one_hot(region, R).bool()[:, :, :, None] & mask[:, None, :, :]  # B, N, R, T
        logits = logits.masked_fill(~own.reshape(b, 1, -1, R * T), NEG)
        attn = logits.float().softmax(-1).to(v.dtype)
        y = (attn @ v).transpose(1, 2).reshape(b, -1, self.dim)
        return feat + self.out(y).transpose(1, 2).reshape(b, c, h, w)
