"""Run pyiqa metrics with their weights resolved through qualedge.weights.

pyiqa downloads weights inside its network constructors (``load_file_from_url``) and loads them with
``torch.load(weights_only=False)``. On first use qualedge replaces those two functions, in pyiqa's download module and
in every pyiqa module that imported them, with versions that:
- look for the file in ``<qualedge cache>/weights/pyiqa/`` and pyiqa's own cache before downloading;
- download through :func:`qualedge.weights.cache.resolve_weights` (atomic; refused in offline mode with an error
  that names the file, its URL and where to put it);
- load checkpoints with ``weights_only=True``.
This replacement is process-wide and stays in place (documented in the README); pyiqa is imported only here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from qualedge import paths
from qualedge.errors import MetricError, WeightsError, WeightsNotFoundError
from qualedge.weights.cache import WeightRef, resolve_weights

_LOCK = threading.Lock()
_INSTALLED = False


def pyiqa_weights_dir() -> Path:
    return paths.weights_dir() / "pyiqa"


def _resolve(url: str, model_dir: str | None = None, progress: bool = True, file_name: str | None = None) -> str:
    name = file_name or os.path.basename(urlparse(url).path)
    candidates = [pyiqa_weights_dir() / name]
    try:
        from pyiqa.utils.download_util import DEFAULT_CACHE_DIR

        candidates.append(Path(model_dir or DEFAULT_CACHE_DIR) / name)
    except ImportError:  # pragma: no cover - pyiqa is a dependency
        pass
    for c in candidates:
        if c.is_file():
            return str(c)
    return str(
        resolve_weights(
            WeightRef(name, url=url, how_to_obtain=f"pyiqa's own cache {candidates[-1]} is also searched."),
            cache=pyiqa_weights_dir(),
        )
    )


def _load_pretrained(net: nn.Module, model_path: str, strict: bool = True, weight_keys: str | None = None) -> None:
    from pyiqa.archs.arch_util import clean_state_dict

    if model_path.startswith(("https://", "http://")):
        model_path = _resolve(model_path)
    try:
        state = torch.load(model_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{model_path}: qualedge loads pyiqa checkpoints with weights_only=True and this one needs more "
            f"({str(exc).splitlines()[0]}). Convert it to a plain state dict."
        ) from exc
    if weight_keys is not None:
        state = state[weight_keys]
    net.load_state_dict(clean_state_dict(state), strict=strict)


PYIQA_MISSING = (
    "the pyiqa metrics need the optional package pyiqa: pip install 'qualedge[iqa]'. Note its licence: pyiqa is "
    "PolyForm Noncommercial 1.0.0 (not Apache-2.0 like qualedge); qualedge's own metrics (niqe, piqe, brisque, psnr, "
    "ssim, qhead) need no pyiqa"
)


def require_pyiqa() -> None:
    """Raise a MetricError naming the extra when pyiqa is not installed (it is optional: [iqa])."""
    import importlib.util

    if importlib.util.find_spec("pyiqa") is None:
        raise MetricError(PYIQA_MISSING)


def install() -> None:
    """Route pyiqa's downloads and checkpoint loads through qualedge (idempotent)."""
    global _INSTALLED
    require_pyiqa()
    with _LOCK:
        if _INSTALLED:
            return
        from qualedge.paths import offline

        if offline():  # backbones that pyiqa fetches through huggingface_hub/timm: fail at once instead of retrying
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import pyiqa  # noqa: F401  (imports the download and arch_util modules)
        import pyiqa.archs.arch_util as arch_util
        import pyiqa.utils.download_util as dl

        originals = {dl.load_file_from_url: _resolve, arch_util.load_pretrained_network: _load_pretrained}
        dl.load_file_from_url = _resolve
        arch_util.load_file_from_url = _resolve
        arch_util.load_pretrained_network = _load_pretrained
        for name, mod in list(sys.modules.items()):
            if not name.startswith("pyiqa") or mod is None:
                continue
            for attr in ("load_file_from_url", "load_pretrained_network"):
                fn = getattr(mod, attr, None)
                if fn in originals:
                    setattr(mod, attr, originals[fn])
        _INSTALLED = True


@contextlib.contextmanager
def _no_network() -> Iterator[None]:
    """Offline mode for the backbones pyiqa fetches outside its own downloader (torchvision/torch.hub, timm/HF hub).

    ``HF_HUB_OFFLINE`` is read by huggingface_hub when it is imported, which another library (peft, timm) may have
    done before; its module constant is set for the duration instead. torch.hub downloads are refused with an error
    naming the file and where to put it.
    """
    import torch.hub

    hf = sys.modules.get("huggingface_hub.constants")
    old_hf = getattr(hf, "HF_HUB_OFFLINE", None)
    old_dl = torch.hub.download_url_to_file

    def refuse(url: str, dst: str, *args, **kwargs) -> None:
        raise WeightsNotFoundError(
            f"weights file {os.path.basename(urlparse(url).path)} not found: looked for {dst}; offline mode is on "
            f"(QUALEDGE_OFFLINE). Download it from {url} and put it there."
        )

    torch.hub.download_url_to_file = refuse
    if hf is not None:
        hf.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        torch.hub.download_url_to_file = old_dl
        if hf is not None:
            hf.HF_HUB_OFFLINE = old_hf


def create_pyiqa(name: str, *, device: torch.device, as_loss: bool, **kwargs) -> nn.Module:
    """A pyiqa InferenceModel for ``name``; weights come through :func:`_resolve`."""
    install()
    import pyiqa

    if name not in pyiqa.list_models():
        raise MetricError(f"pyiqa {pyiqa.__version__} has no metric {name!r}.")
    try:
        with _no_network() if paths.offline() else contextlib.nullcontext():
            model = pyiqa.create_metric(name, as_loss=as_loss, device=device, **kwargs)
    except (WeightsNotFoundError, WeightsError):
        raise
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        raise MetricError(f"pyiqa metric {name!r} needs the Python package {missing!r}, which is not installed: pip install {missing}") from exc
    except OSError as exc:  # a backbone fetched outside pyiqa's downloader (torchvision/timm/HF hub)
        raise MetricError(
            f"pyiqa metric {name!r} needs files that could not be fetched ({exc}). With network access they are "
            "downloaded on first use; offline, run it once on a machine with network and copy the caches "
            f"({pyiqa_weights_dir()} and ~/.cache/torch/hub)."
        ) from exc
    return model
