"""Weight file formats and the cache: every bad file is a clear error."""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from qualedge.errors import WeightsError, WeightsFormatError, WeightsNotFoundError
from qualedge.weights.cache import WeightRef, resolve_weights, sha256_file
from qualedge.weights.load import load_state_dict, save_state_dict
from qualedge.weights.ncnn import load_ncnn, parse_param
from qualedge.weights.tf_graphdef import read_graphdef


def _sd() -> dict[str, torch.Tensor]:
    return {"body.0.weight": torch.arange(6.0).reshape(2, 3), "body.0.bias": torch.ones(2)}


def test_safetensors_roundtrip(tmp_path: Path) -> None:
    p = save_state_dict(tmp_path / "w.safetensors", _sd())
    got = load_state_dict(p)
    assert set(got) == set(_sd()) and torch.equal(got["body.0.weight"], _sd()["body.0.weight"])


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("wrapper", [None, "params_ema", "state_dict"])
def test_torch_checkpoints_zip_and_legacy_with_wrappers(tmp_path: Path, legacy: bool, wrapper: str | None) -> None:
    obj = _sd() if wrapper is None else {wrapper: _sd(), "iter": 5}
    p = tmp_path / "w.pth"
    torch.save(obj, p, _use_new_zipfile_serialization=not legacy)
    got = load_state_dict(p)
    assert set(got) == set(_sd())


def test_ddp_prefix_is_stripped(tmp_path: Path) -> None:
    p = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in _sd().items()}, p)
    assert set(load_state_dict(p)) == set(_sd())


class _Evil:
    def __reduce__(self):
        return (print, ("this would run arbitrary code",))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump(collections.OrderedDict(x=_Evil()), f)
    with pytest.raises(WeightsFormatError, match="weights_only=True"):
        load_state_dict(p)


def test_bad_weight_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="not found"):
        load_state_dict(tmp_path / "missing.pth")
    empty = tmp_path / "empty.safetensors"
    empty.touch()
    with pytest.raises(WeightsFormatError, match="empty"):
        load_state_dict(empty)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(WeightsFormatError, match="not a valid safetensors"):
        load_state_dict(junk)
    trunc = tmp_path / "trunc.pth"
    torch.save(_sd(), trunc)
    trunc.write_bytes(trunc.read_bytes()[:100])
    with pytest.raises(WeightsFormatError, match="not a readable torch checkpoint"):
        load_state_dict(trunc)
    nott = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.1}, nott)
    with pytest.raises(WeightsFormatError, match="holds no tensor state dict"):
        load_state_dict(nott)


def test_resolve_offline_error_names_file_location_and_url(tmp_path: Path) -> None:
    ref = WeightRef("model.pth", url="https://example.org/model.pth", sha256=None, how_to_obtain="Ask the authors.")
    with pytest.raises(WeightsNotFoundError) as ei:
        resolve_weights(ref, cache=tmp_path, offline=True)
    msg = str(ei.value)
    assert "model.pth" in msg and str(tmp_path / "model.pth") in msg and "https://example.org/model.pth" in msg
    assert "Ask the authors." in msg


def test_resolve_checks_sha256(tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    good = WeightRef("w.bin", sha256=sha256_file(f))
    assert resolve_weights(good, cache=tmp_path, offline=True) == f
    bad = WeightRef("w.bin", sha256="0" * 64)
    with pytest.raises(WeightsError, match="does not match the expected"):
        resolve_weights(bad, cache=tmp_path, offline=True)


def test_resolve_download_failure_is_clear_and_leaves_nothing(tmp_path: Path) -> None:
    # The network is disabled in tests, so the download attempt fails like an unreachable host would.
    ref = WeightRef("w.pth", url="https://example.org/w.pth")
    with pytest.raises(WeightsNotFoundError, match="download from https://example.org/w.pth failed"):
        resolve_weights(ref, cache=tmp_path, offline=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------- ncnn
def _write_ncnn(tmp_path: Path, weights: np.ndarray, bias: np.ndarray, *, fp16: bool) -> tuple[Path, Path]:
    param = tmp_path / "m.param"
    param.write_text(
        "7767517\n2 2\n"
        "Input            data   0 1 data\n"
        f"Convolution      conv0  1 1 data output 0={weights.shape[0]} 1=3 5=1 6={weights.size} 4=1\n"
    )
    binf = tmp_path / "m.bin"
    if fp16:
        w = (0x01306B47).to_bytes(4, "little") + weights.astype("<f2").tobytes()
        w += b"\x00" * ((-len(w)) % 4)
    else:
        w = b"\x00\x00\x00\x00" + weights.astype("<f4").tobytes()
    binf.write_bytes(w + bias.astype("<f4").tobytes())
    return param, binf


@pytest.mark.parametrize("fp16", [False, True])
def test_ncnn_reader_fp16_and_fp32(tmp_path: Path, fp16: bool) -> None:
    w = np.linspace(-1, 1, 2 * 3 * 9, dtype=np.float32).reshape(2, 3, 3, 3)
    b = np.array([0.5, -0.25], np.float32)
    layers = load_ncnn(*_write_ncnn(tmp_path, w, b, fp16=fp16))
    conv = layers[1]
    np.testing.assert_allclose(conv.weights["weight"], w, atol=1e-3 if fp16 else 0)
    np.testing.assert_array_equal(conv.weights["bias"], b)


def test_ncnn_errors(tmp_path: Path) -> None:
    w = np.zeros((2, 3, 3, 3), np.float32)
    param, binf = _write_ncnn(tmp_path, w, np.zeros(2, np.float32), fp16=False)
    data = binf.read_bytes()
    binf.write_bytes(data[:-4])
    with pytest.raises(WeightsFormatError, match="truncated or does not belong"):
        load_ncnn(param, binf)
    binf.write_bytes(data + b"\x00" * 8)
    with pytest.raises(WeightsFormatError, match="left over"):
        load_ncnn(param, binf)
    bad = tmp_path / "bad.param"
    bad.write_text("hello\n")
    with pytest.raises(WeightsFormatError, match="not an ncnn text .param"):
        parse_param(bad)
    odd = tmp_path / "odd.param"
    odd.write_text("7767517\n1 1\nMysteryLayer  x 0 1 data\n")
    with pytest.raises(WeightsFormatError, match="MysteryLayer"):
        load_ncnn(odd, binf)


def test_graphdef_reader_rejects_non_graphs(tmp_path: Path) -> None:
    p = tmp_path / "x.pb"
    p.write_bytes(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
    with pytest.raises(WeightsFormatError, match="not a TensorFlow frozen GraphDef"):
        read_graphdef(p)
