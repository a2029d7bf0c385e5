"""SwinIR: image restoration with residual Swin Transformer blocks (Liang et al., ICCVW 2021).

Written for qualedge with the original parameter names, so official checkpoints (``params`` / ``params_ema``)
load. Derived buffers (relative position index, shift masks) are not persistent: the loader drops them.
Two upsamplers of the HGGT configurations are supported: ``pixelshuffle`` (classical SR) and
``nearest+conv`` (real-world SR), plus ``pixelshuffledirect`` (lightweight).

Shift masks depend on the input size, so ONNX graphs are exported at a fixed tile (descriptor ``fixed_tile``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

_UPSAMPLERS = ("pixelshuffle", "nearest+conv", "pixelshuffledirect")


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/ws * W/ws, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)


def window_reverse(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


def relative_position_index(ws: int) -> torch.Tensor:
    """Index into the (2ws-1)^2 bias table for every pair of positions in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)  # 2, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # N, N, 2
    return (rel[..., 0] + ws - 1) * (2 * ws - 1) + (rel[..., 1] + ws - 1)


def shift_mask(h: int, w: int, ws: int, shift: int, device: torch.device) -> torch.Tensor:
    """Attention mask (nW, N, N) that stops shifted windows from attending across the wrap-around."""
    img = torch.zeros(1, h, w, 1, device=device)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    mw = window_partition(img, ws).view(-1, ws * ws)
    mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class WindowAttention(nn.Module):
    def __init__(self, *, dim: int, window_size: int, num_heads: int) -> None:
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinTransformerBlock(nn.Module):
    def __init__(self, *, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim=dim, window_size=window_size, num_heads=num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim=dim, hidden=int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        h, w = x_size
        b, _, c = x.shape
        ws, shift = self.window_size, self.shift_size
        if min(h, w) <= ws:  # the whole image fits in one window: no shift
            shift = 0
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        mask = shift_mask(h, w, ws, shift, x.device).to(x.dtype) if shift else None
        x = window_reverse(self.attn(windows, mask).view(-1, ws, ws, c), ws, h, w)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = shortcut + x.reshape(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    def __init__(self, *, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(
                dim=dim,
                num_heads=num_heads,
                window_size=window_size,
                shift_size=0 if i % 2 == 0 else window_size // 2,
                mlp_ratio=mlp_ratio,
            )
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, x_size)
        return x


def _to_tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)


def _to_image(x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
    b, _, c = x.shape
    return x.transpose(1, 2).reshape(b, c, x_size[0], x_size[1])


class RSTB(nn.Module):
    """Residual Swin Transformer Block: a stack of Swin blocks, a convolution, and a residual."""

    def __init__(
        self, *, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float, resi_connection: str
    ) -> None:
        super().__init__()
        self.residual_group = BasicLayer(
            dim=dim, depth=depth, num_heads=num_heads, window_size=window_size, mlp_ratio=mlp_ratio
        )
        if resi_connection == "1conv":
            self.conv: nn.Module = nn.Conv2d(dim, dim, 3, 1, 1)
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(dim, dim // 4, 3, 1, 1),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(dim // 4, dim // 4, 1, 1, 0),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(dim // 4, dim, 3, 1, 1),
            )

    def forward(self, x: torch.Tensor, x_size: tuple[int, int]) -> torch.Tensor:
        return _to_tokens(self.conv(_to_image(self.residual_group(x, x_size), x_size))) + x


class _PatchEmbed(nn.Module):
    """Holds the optional LayerNorm applied after flattening (``patch_embed.norm`` in checkpoints)."""

    def __init__(self, *, dim: int, norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _to_tokens(x)
        return self.norm(x) if self.norm is not None else x


class SwinIR(nn.Module):
    """SwinIR. Input and output are RGB in [0, 1] (NCHW); sizes are reflect-padded to the window internally."""

    def __init__(
        self,
        *,
        upscale: int = 4,
        in_chans: int = 3,
        img_size: int = 64,
        window_size: int = 8,
        img_range: float = 1.0,
        depths: tuple[int, ...] = (6, 6, 6, 6, 6, 6),
        embed_dim: int = 180,
        num_heads: tuple[int, ...] = (6, 6, 6, 6, 6, 6),
        mlp_ratio: float = 2.0,
        upsampler: str = "pixelshuffle",
        resi_connection: str = "1conv",
        patch_norm: bool = True,
    ) -> None:
        super().__init__()
        if upsampler not in _UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {_UPSAMPLERS}, got {upsampler!r}")
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} must have the same length")
        if resi_connection not in ("1conv", "3conv"):
            raise ValueError(f"resi_connection must be '1conv' or '3conv', got {resi_connection!r}")
        self.upscale, self.window_size, self.img_range, self.upsampler = upscale, window_size, img_range, upsampler
        mean = (0.4488, 0.4371, 0.4040) if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, in_chans, 1, 1), persistent=False)
        num_feat = 64
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = _PatchEmbed(dim=embed_dim, norm=patch_norm)
        self.layers = nn.ModuleList(
            RSTB(
                dim=embed_dim,
                depth=d,
                num_heads=h,
                window_size=window_size,
                mlp_ratio=mlp_ratio,
                resi_connection=resi_connection,
            )
            for d, h in zip(depths, num_heads)
        )
        self.norm = nn.LayerNorm(embed_dim)
        if resi_connection == "1conv":
            self.conv_after_body: nn.Module = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1)
        else:
            self.conv_after_body = nn.Sequential(
                nn.Conv2d(embed_dim, embed_dim // 4, 3, 1, 1),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(embed_dim // 4, embed_dim // 4, 1, 1, 0),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(embed_dim // 4, embed_dim, 3, 1, 1),
            )
        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(inplace=True))
            ups: list[nn.Module] = []
            if upscale & (upscale - 1) == 0:
                for _ in range(upscale.bit_length() - 1):
                    ups += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
            elif upscale == 3:
                ups += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
            else:
                raise ValueError(f"pixelshuffle upsampler supports scales 2^n and 3, got {upscale}")
            self.upsample = nn.Sequential(*ups)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
        elif upsampler == "nearest+conv":
            if upscale not in (2, 4):
                raise ValueError(f"nearest+conv upsampler supports scales 2 and 4, got {upscale}")
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(inplace=True))
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            if upscale == 4:
                self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        else:
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, in_chans * upscale**2, 3, 1, 1), nn.PixelShuffle(upscale))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x_size = (int(x.shape[2]), int(x.shape[3]))
        t = self.patch_embed(x)
        for layer in self.layers:
            t = layer(t, x_size)
        return _to_image(self.norm(t), x_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        ws = self.window_size
        pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        mean = self.mean.to(x.dtype)
        x = (x - mean) * self.img_range
        x = self.conv_first(x)
        x = self.conv_after_body(self.forward_features(x)) + x
        if self.upsampler == "pixelshuffle":
            x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        elif self.upsampler == "nearest+conv":
            x = self.conv_before_upsample(x)
            x = self.lrelu(self.conv_up1(F.interpolate(x, scale_factor=2, mode="nearest")))
            if self.upscale == 4:
                x = self.lrelu(self.conv_up2(F.interpolate(x, scale_factor=2, mode="nearest")))
            x = self.conv_last(self.lrelu(self.conv_hr(x)))
        else:
            x = self.upsample(x)
        x = x / self.img_range + mean
        return x[:, :, : h * self.upscale, : w * self.upscale]


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    ws = hp["window_size"]
    return dict(
        purpose="SR",
        scale=hp["upscale"],
        in_channels=hp["in_chans"],
        out_channels=hp["in_chans"],
        color="RGB",
        size=SizeRequirements(minimum=ws, multiple_of=ws, fixed_tile=hp["img_size"]),
        tiling=Tiling.FIXED,
        tile_advice=(hp["img_size"], ws),
        supports_fp16=False,  # attention logits and LayerNorm statistics overflow; spandrel marks it unsafe too
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "layers.0.residual_group.blocks.0.attn.relative_position_bias_table" in sd and "conv_first.weight" in sd


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    embed = sd["conv_first.weight"].shape[0]
    in_chans = sd["conv_first.weight"].shape[1]
    n_layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("layers."))
    depths, heads = [], []
    for i in range(n_layers):
        blocks = {int(k.split(".")[4]) for k in sd if k.startswith(f"layers.{i}.residual_group.blocks.")}
        depths.append(len(blocks))
        heads.append(sd[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"].shape[1])
    table = sd["layers.0.residual_group.blocks.0.attn.relative_position_bias_table"].shape[0]
    ws = (int(round(table**0.5)) + 1) // 2
    hidden = sd["layers.0.residual_group.blocks.0.mlp.fc1.weight"].shape[0]
    if "conv_up1.weight" in sd:
        upsampler, upscale = "nearest+conv", 4 if "conv_up2.weight" in sd else 2
    elif "conv_before_upsample.0.weight" in sd:
        upsampler = "pixelshuffle"
        n_ps = sum(1 for k in sd if k.startswith("upsample.") and k.endswith(".weight"))
        first = sd["upsample.0.weight"].shape[0] // sd["conv_before_upsample.0.weight"].shape[0]
        upscale = 3 if first == 9 else 2**n_ps
    else:
        upsampler = "pixelshuffledirect"
        upscale = int(round((sd["upsample.0.weight"].shape[0] / in_chans) ** 0.5))
    return dict(
        upscale=upscale,
        in_chans=in_chans,
        img_size=64,
        window_size=ws,
        img_range=1.0,
        depths=tuple(depths),
        embed_dim=embed,
        num_heads=tuple(heads),
        mlp_ratio=hidden / embed,
        upsampler=upsampler,
        resi_connection="1conv" if "conv_after_body.weight" in sd else "3conv",
        patch_norm="patch_embed.norm.weight" in sd,
    )


SPEC = ArchSpec(
    id="swinir",
    name="SwinIR (Swin Transformer image restoration)",
    module=SwinIR,
    defaults=dict(
        upscale=4,
        in_chans=3,
        img_size=64,
        window_size=8,
        img_range=1.0,
        depths=(6, 6, 6, 6, 6, 6),
        embed_dim=180,
        num_heads=(6, 6, 6, 6, 6, 6),
        mlp_ratio=2.0,
        upsampler="pixelshuffle",
        resi_connection="1conv",
        patch_norm=True,
    ),
    presets={
        # HGGT: SwinIR-M, img_size 64, window 8, depths [6]*6, embed 180, heads [6]*6
        "classical-x4": dict(upscale=4, img_size=64, upsampler="pixelshuffle"),
        "realsr-x4": dict(upscale=4, img_size=64, upsampler="nearest+conv"),
        "tiny": dict(depths=(2, 2), num_heads=(2, 2), embed_dim=32, img_size=32),
    },
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="Apache-2.0 (SwinIR design); implementation qualedge",
    paper="Liang et al., SwinIR (ICCVW 2021); Chen et al., HGGT (CVPR 2023) configurations",
)
