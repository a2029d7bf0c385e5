"""Export: bundles, parity gate, fp16 fall-backs, LoRA merge, fixed-tile models, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from qualedge.export.api import ModelSource, export_bundle

from qualedge.archs import build_model
from qualedge.bundle import ABI_VERSION, load_bundle
from qualedge.errors import BackendUnavailableError, BundleError, ConfigError, ExportError, OutputError, ParityError
from qualedge.weights.load import save_state_dict


@pytest.fixture(scope="module")
def small_rrdb(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model, _ = build_model("rrdbnet", num_block=1, num_feat=16, num_grow_ch=8)
    p = tmp_path_factory.mktemp("w") / "rrdb.safetensors"
    save_state_dict(p, model.state_dict())
    return p


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, small_rrdb: Path) -> Path:
    out = tmp_path_factory.mktemp("b") / "bundle"
    export_bundle(out, [ModelSource(name="sr", weights=str(small_rrdb))], precisions=("fp32", "fp16"), quality_head=True)
    return out


def test_bundle_manifest_and_forms(bundle: Path) -> None:
    man = load_bundle(bundle)
    assert man.abi_version == ABI_VERSION and man.policy["quality_model"] == "qhead"
    sr = man.model("sr")
    assert sr.arch_id == "rrdbnet" and sr.descriptor["scale"] == 4
    kinds = {(f.format, f.precision) for f in sr.forms}
    assert kinds == {("safetensors", "fp32"), ("onnx", "fp32"), ("onnx", "fp16")}
    fp32 = sr.form("onnx", "fp32")
    assert fp32.shapes["dynamic"] and fp32.opset == 18 and fp32.inputs[0]["layout"] == "NCHW"
    assert fp32.parity["passed"] and fp32.parity["worst_psnr_db"] >= 60
    assert any(c["input"].startswith("photo") for c in fp32.parity["cases"])  # a real photo is among the parity inputs
    fp16 = sr.form("onnx", "fp16")
    # the descriptor keeps RRDBNet's upsampling tail in fp32
    assert fp16.fp32_nodes and fp16.extra["fp32_modules"] == ["conv_up1", "conv_up2", "conv_hr", "conv_last"]
    assert fp16.parity["worst_psnr_db"] >= 40
    assert man.model("qhead").role == "quality"


def test_fp16_nodes_are_in_the_named_modules(bundle: Path) -> None:
    import onnx
    from qualedge.export.precision import nodes_in_modules

    m = onnx.load(str(bundle / "sr.fp32.onnx"))
    nodes = nodes_in_modules(m, ["conv_up1"])
    assert nodes and all(n.startswith("node_") for n in nodes)
    conv = [n for n in m.graph.node if n.name in nodes and n.op_type == "Conv"]
    assert len(conv) == 1 and "conv_up1.weight" in conv[0].input


def test_exported_graph_matches_pytorch_on_other_sizes(bundle: Path, small_rrdb: Path) -> None:
    import onnxruntime as ort

    from qualedge.weights.load import load_state_dict

    model, _ = build_model("rrdbnet", num_block=1, num_feat=16, num_grow_ch=8)
    model.load_state_dict(load_state_dict(small_rrdb))
    sess = ort.InferenceSession(str(bundle / "sr.fp32.onnx"), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 17, 29), (2, 3, 33, 20)):
        x = torch.rand(*shape)
        with torch.no_grad():
            ref = model.eval()(x).numpy()
        np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, atol=2e-4)


def test_refusals_abi_hash_missing_and_truncated(bundle: Path, tmp_path: Path) -> None:
    b = tmp_path / "copy"
    shutil.copytree(bundle, b)
    man = json.loads((b / "manifest.json").read_text())
    man["abi_version"] = ABI_VERSION + 1
    (b / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleError, match=r"ABI version 2 does not match this runtime's ABI version 1"):
        load_bundle(b)
    man["abi_version"] = ABI_VERSION
    (b / "manifest.json").write_text(json.dumps(man))
    data = (b / "sr.fp32.onnx").read_bytes()
    (b / "sr.fp32.onnx").write_bytes(data[: len(data) // 2])  # truncated graph
    with pytest.raises(BundleError, match=r"sr.fp32.onnx fails its sha256 check"):
        load_bundle(b)
    from qualedge.runtime.backends.ort import OrtBackend

    with pytest.raises(BundleError, match="cannot load this graph"):
        OrtBackend(b / "sr.fp32.onnx")
    (b / "sr.fp16.onnx").unlink()
    with pytest.raises(BundleError, match="is missing"):
        load_bundle(b, verify_hashes=False)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(tmp_path)


def test_parity_failure_writes_nothing(tmp_path: Path, small_rrdb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qualedge.export.parity as parity

    real = parity.ort_runner

    def drifting(path, providers=("CPUExecutionProvider",)):
        run = real(path, providers)
        return lambda *a: run(*a) + 0.05  # a graph that disagrees with PyTorch

    monkeypatch.setattr(parity, "ort_runner", drifting)
    out = tmp_path / "bad"
    with pytest.raises(ParityError, match=r"parity gate failed for the fp32 form.*Nothing was written"):
        export_bundle(out, [ModelSource(name="sr", weights=str(small_rrdb))], precisions=("fp32",), quality_head=False)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_lora_checkpoint_is_merged_and_checked(tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    from qualedge.checkpoint import write_model

    torch.manual_seed(1)
    base, desc = build_model("srvgg", num_feat=8, num_conv=2)
    ck = write_model(tmp_path / "ckpt", arch_id="srvgg", hyperparameters=dict(desc.hyperparameters), state_dict=base.state_dict())
    cfg = LoraConfig(r=4, lora_alpha=4, target_modules=["body.2", "body.4"], init_lora_weights=False)
    import copy

    peft_model = get_peft_model(copy.deepcopy(base).eval(), cfg)
    peft_model.save_pretrained(str(ck / "adapter"))
    out = tmp_path / "bundle"
    man = export_bundle(out, [ModelSource(name="sr", checkpoint=str(ck))], precisions=("fp32",), quality_head=False)
    merge = man.model("sr").extra["lora"]
    assert merge["merged_vs_unmerged_max_abs"] < 1e-4 and merge["merge_dtype"] == "float32"
    import onnxruntime as ort

    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        expected = peft_model.eval()(x).numpy()
        plain = base.eval()(x).numpy()
    got = ort.InferenceSession(str(out / "sr.fp32.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.abs(expected - plain).max() > 1e-3  # the adapter really changed the model


def test_swinir_exports_at_a_fixed_tile(tmp_path: Path) -> None:
    torch.manual_seed(0)
    m, _ = build_model("swinir", depths=(2,), num_heads=(2,), embed_dim=16, window_size=4, img_size=16)
    p = tmp_path / "swin.safetensors"
    save_state_dict(p, m.state_dict())
    man = export_bundle(
        tmp_path / "b", [ModelSource(name="sr", weights=str(p), arch="swinir", hparams=dict(depths=(2,), num_heads=(2,), embed_dim=16, window_size=4, img_size=16))],
        precisions=("fp32", "fp16"), quality_head=False,
    )  # fmt: skip
    forms = man.model("sr").forms
    onnx_forms = [f for f in forms if f.format == "onnx"]
    assert len(onnx_forms) == 1 and onnx_forms[0].shapes == {"dynamic": False, "tile": 16}
    assert "not fp16-safe" in onnx_forms[0].extra["fp16_skipped"]


def test_legacy_exporter(tmp_path: Path, small_rrdb: Path) -> None:
    man = export_bundle(tmp_path / "b", [ModelSource(name="sr", weights=str(small_rrdb))], precisions=("fp32",), quality_head=False, exporter="legacy")
    assert man.model("sr").form("onnx", "fp32").extra["exporter"] == "legacy"


def test_tensorrt_step_says_what_to_install(tmp_path: Path, bundle: Path) -> None:
    pytest.importorskip("onnx")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("tensorrt is installed here; the build itself is exercised on GPU machines")
    except ImportError:
        pass
    from qualedge.export.trt import build_engine

    with pytest.raises(BackendUnavailableError, match=r"TensorRT is not installed.*qualedge\[gpu\]"):
        build_engine(bundle / "sr.fp32.onnx", tmp_path / "x.plan", input_name="x", min_shape=(1, 3, 16, 16), opt_shape=(1, 3, 64, 64), max_shape=(1, 3, 128, 128))


def test_existing_output_needs_overwrite(bundle: Path, small_rrdb: Path) -> None:
    with pytest.raises(OutputError, match="already exists"):
        export_bundle(bundle, [ModelSource(name="sr", weights=str(small_rrdb))], precisions=("fp32",), quality_head=False)
    with pytest.raises(ConfigError, match="fp32 form is always exported"):
        export_bundle(bundle.parent / "x", [ModelSource(name="sr", weights=str(small_rrdb))], precisions=("fp16",))


def test_pyiqa_style_metric_exports_at_a_fixed_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualedge.export.iqa_export import export_metric_onnx

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    info = export_metric_onnx("pyiqa:musiq", tmp_path / "musiq.onnx", size=224, pretrained=False)
    assert info["parity"]["passed"] and info["higher_is_better"] and (tmp_path / "musiq.onnx.json").is_file()
    q = export_metric_onnx("qhead", tmp_path / "qhead.onnx", size=128)
    assert q["parity"]["worst_psnr_db"] > 60
    with pytest.raises(ExportError, match="not a neural network"):
        export_metric_onnx("niqe", tmp_path / "n.onnx")


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_manifest_paths_stay_inside_the_bundle(bundle: Path, tmp_path: Path, how: str) -> None:
    """A manifest naming a file outside its folder is refused even when the file and its sha256 match."""
    b = tmp_path / "inner" / "copy"
    shutil.copytree(bundle, b)
    outside = tmp_path / "inner" / "outside.onnx"
    shutil.copy(b / "sr.fp32.onnx", outside)
    man = json.loads((b / "manifest.json").read_text())
    form = next(f for f in man["models"][0]["forms"] if f["path"] == "sr.fp32.onnx")
    if how == "dotdot":
        form["path"] = "../outside.onnx"
    elif how == "absolute":
        form["path"] = str(outside)
    else:
        (b / "sr.fp32.onnx").unlink()
        (b / "sr.fp32.onnx").symlink_to(outside)
    (b / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleError, match=r"models\[sr\]\.forms\[\d\]\.path .*(leaves the bundle folder|outside the bundle folder)"):
        load_bundle(b)
