"""``qualedge.weights.model_load.load_model``: one loader for checkpoints, weights files and zoo ids, which every
stage uses; weights files rebuild the exact architecture from their metadata or their tensor shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qualedge.archs import get_arch
from qualedge.errors import ConfigError, WeightsError
from qualedge.weights.load import save_state_dict
from qualedge.weights.model_load import load_model, weights_metadata


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("lattice", [{"down": "conv2", "up": "shuffle"}, {"down": "conv4", "up": "bilinear"}])
def test_a_weights_file_rebuilds_its_own_lattice_without_metadata(tmp_path: Path, lattice: dict) -> None:
    """The failure this loader fixes: the zoo built the default lattice and the shipped conv4 weights did not fit."""
    net, _ = get_arch("adaqual_unet").build("tiny", **lattice)
    f = save_state_dict(tmp_path / "w.safetensors", net.state_dict())
    loaded = load_model(f)
    assert loaded.descriptor.hyperparameters["down"] == lattice["down"] and _same(loaded.model, net)
    assert loaded.provenance == {"weights": str(f)}


def test_metadata_hyperparameters_win_over_shape_inference(tmp_path: Path) -> None:
    """Hyperparameters the tensors cannot show (the prompt mode, TopK) come back from the metadata."""
    net, desc = get_arch("adaqual_unet").build("tiny", prompt_mode="uniform", top_k=1)
    f = save_state_dict(tmp_path / "w.safetensors", net.state_dict(), metadata=weights_metadata(desc, sampler={"steps": 2}))
    loaded = load_model(f)
    assert loaded.descriptor.hyperparameters["prompt_mode"] == "uniform" and loaded.descriptor.hyperparameters["top_k"] == 1
    assert loaded.descriptor.hyperparameters["enc_blocks"] == desc.hyperparameters["enc_blocks"]  # tuples survive JSON
    assert loaded.meta["sampler"] == '{"steps": 2}' and _same(loaded.model, net)


def test_checkpoint_and_zoo_ids_load(tmp_path: Path) -> None:
    from qualedge.checkpoint import read_checkpoint, write_model

    net, desc = get_arch("srvgg").build(num_feat=8, num_conv=2, upscale=2)
    folder = tmp_path / "ck"
    write_model(folder, arch_id="srvgg", hyperparameters=desc.hyperparameters, state_dict=net.state_dict(), meta={"step": 7})
    assert read_checkpoint(str(folder)).arch_id == "srvgg"
    loaded = load_model(folder)
    assert loaded.descriptor.scale == 2 and loaded.meta["step"] == 7 and _same(loaded.model, net)
    zoo = load_model("adaqual-default")  # the shipped restoration default, built from its own tensors
    assert zoo.descriptor.arch_id == "adaqual_unet" and '"trailing"' in zoo.meta["sampler"]
    assert zoo.provenance["pretrained"] == "adaqual-default"


def test_bad_sources_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a checkpoint folder, a weights file or a model-zoo id"):
        load_model(tmp_path / "nothing-here.safetensors")
    net, _ = get_arch("srvgg").build(num_feat=8, num_conv=2, upscale=2)
    f = save_state_dict(tmp_path / "w.safetensors", net.state_dict())
    with pytest.raises(WeightsError, match="do not fit the rrdbnet architecture"):
        load_model(f, arch="rrdbnet")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="bundle"):
        load_model(tmp_path / "bundle")
