"""The architecture registry: explicit list, descriptors, construction without I/O, load round trips."""

from __future__ import annotations

import builtins
import socket
from pathlib import Path

import pytest
import torch

from qualedge.archs import (
    ARCHS,
    ModelDescriptor,
    SizeRequirements,
    Tiling,
    build_model,
    detect_arch,
    get_arch,
    list_archs,
)
from qualedge.errors import UnsupportedModelError
from qualedge.weights.load import load_state_dict, save_state_dict
from qualedge.weights.zoo import load_into

REQUIRED = {"rrdbnet", "swinir", "srvgg", "espcn", "fsrcnn", "unet_disc_sn"}

# Small configurations so every test runs in milliseconds; each is a real variant of the architecture.
SMALL = {
    "rrdbnet": [dict(num_block=2, num_feat=16, num_grow_ch=8), dict(num_block=1, num_feat=8, num_grow_ch=4, scale=2)],
    "swinir": [
        dict(depths=(2,), num_heads=(2,), embed_dim=16, window_size=4, img_size=16),
        dict(depths=(2, 2), num_heads=(2, 2), embed_dim=16, window_size=4, upsampler="nearest+conv", img_size=16),
        dict(depths=(2,), num_heads=(2,), embed_dim=16, window_size=4, upsampler="pixelshuffledirect", upscale=2),
    ],
    "srvgg": [dict(num_feat=8, num_conv=2), dict(num_feat=8, num_conv=3, upscale=2, act_type="prelu")],
    "espcn": [dict(scale=2), dict(scale=3, feats=(16, 8))],
    "fsrcnn": [dict(scale=2, d=8, s=4, m=2), dict(scale=3)],
    "unet_disc_sn": [dict(num_feat=8)],
    "upconv7": [dict()],
    "dncnn": [dict(nc=8, nb=4)],
}


def test_registry_is_an_explicit_list_with_the_required_archs() -> None:
    assert isinstance(ARCHS, tuple)
    assert REQUIRED <= set(list_archs())
    assert len(set(list_archs())) == len(ARCHS)


def test_unknown_arch_names_close_matches() -> None:
    with pytest.raises(UnsupportedModelError, match=r"unknown architecture 'rrdnet'.*Did you mean rrdbnet"):
        get_arch("rrdnet")


def test_unknown_hyperparameter_or_preset_is_an_error() -> None:
    from qualedge.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown hyperparameters"):
        build_model("srvgg", num_feats=3)
    with pytest.raises(UnsupportedModelError, match="unknown preset 'huge'; choose one of"):
        build_model("adaqual_unet", preset="huge")


@pytest.mark.parametrize("arch_id", sorted(SMALL))
def test_build_forward_detect_infer_and_safetensors_roundtrip(arch_id: str, tmp_path: Path) -> None:
    spec = get_arch(arch_id)
    for hp in SMALL[arch_id]:
        model, desc = build_model(arch_id, **hp)
        model.eval()
        assert isinstance(desc, ModelDescriptor)
        assert desc.param_count == sum(p.numel() for p in model.parameters()) > 0
        side = desc.size.padded(24 if desc.purpose != "Discriminator" else 32)
        x = torch.rand(1, desc.in_channels, side, side)
        with torch.no_grad():
            y = model(x)
        expected_hw = side * desc.scale if desc.purpose != "Discriminator" else side
        assert tuple(y.shape) == (1, desc.out_channels, expected_hw, expected_hw)
        assert torch.isfinite(y).all()

        sd = model.state_dict()
        assert detect_arch(sd).id == arch_id
        inferred = spec.infer(sd)
        resolved = spec.resolve(**hp)
        for k, v in inferred.items():
            if k == "img_size":  # not stored in SwinIR weights: the export tile is chosen separately
                continue
            assert (tuple(v) if isinstance(v, (list, tuple)) else v) == (tuple(resolved[k]) if isinstance(resolved[k], (list, tuple)) else resolved[k]), k
        path = save_state_dict(tmp_path / f"{arch_id}.safetensors", sd)
        rebuilt, _ = build_model(arch_id, **inferred)
        load_into(rebuilt, load_state_dict(path), source=str(path))
        rebuilt.eval()
        with torch.no_grad():
            torch.testing.assert_close(rebuilt(x), y)


def test_default_configs_match_published_parameter_counts() -> None:
    # Real-ESRGAN x4plus 16.70 M; SwinIR-M (HGGT, embed 180, 6x6) 11.90 M; animevideov3 0.62 M
    assert build_model("rrdbnet", "x4plus")[1].param_count == 16_697_987
    assert abs(get_arch("swinir").descriptor(get_arch("swinir").resolve("classical-x4")).param_count - 11.90e6) < 0.01e6
    assert get_arch("srvgg").descriptor(get_arch("srvgg").resolve("animevideov3")).param_count == 621_424


def test_swinir_presets_and_fixed_tile() -> None:
    spec = get_arch("swinir")
    for preset in ("classical-x4", "realsr-x4"):
        d = spec.descriptor(spec.resolve(preset))
        assert d.tiling is Tiling.FIXED and d.size.fixed_tile == 64 and d.size.multiple_of == 8
        assert not d.supports_fp16 and d.supports_bf16
    assert spec.resolve("realsr-x4")["upsampler"] == "nearest+conv"


def test_swinir_pads_odd_sizes_internally() -> None:
    model, _ = build_model("swinir", depths=(2,), num_heads=(2,), embed_dim=16, window_size=4)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 13, 10)).shape == (1, 3, 52, 40)


def test_constructors_do_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*a, **k):
        raise AssertionError(f"constructor opened a file: {a[:1]}")

    def no_net(*a, **k):
        raise AssertionError("constructor used the network")

    monkeypatch.setattr(builtins, "open", no_open)
    monkeypatch.setattr(socket, "socket", no_net)
    for spec in ARCHS:
        for hp in SMALL.get(spec.id, [{}]):
            spec.build(**hp)


def test_descriptor_dict_roundtrip() -> None:
    _, d = build_model("rrdbnet", num_block=1, num_feat=8, num_grow_ch=4)
    again = ModelDescriptor.from_dict(d.to_dict())
    assert again == d


def test_size_requirements_guarantees() -> None:
    s = SizeRequirements(minimum=8, multiple_of=4)
    assert s.padded(1) == 8 and s.padded(9) == 12
    with pytest.raises(ValueError, match="multiple of"):
        SizeRequirements(minimum=6, multiple_of=4)


def test_detect_unknown_state_dict() -> None:
    with pytest.raises(UnsupportedModelError, match="matches no registered architecture"):
        detect_arch({"foo.weight": torch.zeros(1)})
