"""Adding a trained model to the package: the one explicit step between a training output folder and the weights
qualedge ships (``qualedge package-model``).

Training verbs, recipes (``qualedge recipe``) and the experiment drivers write weights and cards to their output
folders only; nothing writes into ``qualedge/assets``. A developer who decides that a result should become a shipped
default runs::

    qualedge package-model OUT/model.safetensors --as quality_head.safetensors --card OUT/quality-head.md --repo .

which checks the candidate (it loads through :func:`qualedge.weights.model_load.load_model`, LoRA merged with its
check; its architecture is the one the shipped slot is used as; it fits the size limit), writes it with the metadata
that rebuilds it (arch and hyperparameters), atomically, into ``<repo>/qualedge/assets/weights/``, copies its card
to ``<repo>/docs/models/`` (with its figures ``<card>-*.jpg|png``), and prints the sha256 and size to commit with it. The slots (``SHIPPED``) are the files
the zoo and the defaults read; a new slot is added here and in the zoo's registry (qualedge/weights/zoo.py).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualedge.errors import ConfigError

MAX_BYTES = 16 * 1024 * 1024  # what a wheel may carry per model


@dataclass(frozen=True)
class Slot:
    """A shipped weights file: the architecture it must hold and its card (docs/models/<card>)."""

    arch: str
    card: str
    used_by: str


SHIPPED: dict[str, Slot] = {
    "qualedge_compact_x4.safetensors": Slot(
        "srvgg", "qualedge-compact-x4.md", "zoo id qualedge-compact-x4, the default SR bundle's compact model"
    ),
    "adaqual_default.safetensors": Slot(
        "adaqual", "adaqual-default.md", "zoo id adaqual-default, the default restoration bundle"
    ),
    "quality_head.safetensors": Slot(
        "quality_head", "quality-head.md", "the qhead metric, quality maps and routing of every bundle"
    ),
    "gain_head.safetensors": Slot("gain_head", "gain-head.md", "the default SR bundle's router"),
}


def _checkout(repo: Path) -> Path:
    repo = repo.resolve()
    if not (repo / "pyproject.toml").is_file() or not (repo / "qualedge" / "assets" / "weights").is_dir():
        raise ConfigError(
            f"--repo {repo} is not a qualedge source checkout (no pyproject.toml and qualedge/assets/weights/ there); "
            "packaging changes the source tree: clone the repository and pass its folder"
        )
    return repo


def package_model(
    weights: str | Path, *, asset: str, repo: str | Path, card: str | Path | None = None, note: str = ""
) -> dict[str, Any]:
    """Check ``weights`` (a weights file or a training checkpoint) and write it into the checkout ``repo`` as the
    shipped file ``asset``; copy ``card`` next to the other model cards. Returns what was written."""
    from qualedge.atomic import atomic_write_bytes
    from qualedge.weights.load import save_state_dict
    from qualedge.weights.model_load import load_model, weights_metadata

    if asset not in SHIPPED:
        raise ConfigError(
            f"--as {asset!r} is not a shipped slot; slots: {', '.join(SHIPPED)} (a new one is added in train/package.py and the zoo)"
        )
    slot = SHIPPED[asset]
    root = _checkout(Path(repo))
    loaded = load_model(str(weights), merge_adapter=True)
    desc = loaded.descriptor
    if desc.arch_id != slot.arch:
        raise ConfigError(
            f"{weights} holds a {desc.arch_id} model; the slot {asset} ({slot.used_by}) holds {slot.arch}"
        )
    state = {k: v.detach().float().contiguous() for k, v in loaded.model.state_dict().items()}
    extra = {
        k: v for k, v in dict(loaded.meta).items() if k == "sampler"
    }  # the restoration model's sampler travels with it
    if "sampler" in extra and not isinstance(extra["sampler"], str):
        import json

        extra["sampler"] = json.dumps(extra["sampler"])
    target = root / "qualedge" / "assets" / "weights" / asset
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / asset
        save_state_dict(
            tmp,
            state,
            metadata=weights_metadata(desc, source=str(weights), **({"note": note} if note else {}), **extra),
        )
        if tmp.stat().st_size > MAX_BYTES:
            raise ConfigError(
                f"{weights}: {tmp.stat().st_size / 2**20:.1f} MiB in fp32 exceeds the {MAX_BYTES // 2**20} MiB a shipped model may take"
            )
        # the file must load back as the same model before it replaces the shipped one
        if load_model(str(tmp)).descriptor.hyperparameters != desc.hyperparameters:
            raise ConfigError(f"internal error: {asset} did not load back with the hyperparameters it was written with")
        data = tmp.read_bytes()
    atomic_write_bytes(target, data)
    written: dict[str, Any] = {"weights": str(target), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                               "arch": desc.arch_id, "params": desc.param_count, "source": str(weights)}  # fmt: skip
    if card is not None:
        card = Path(card)
        if not card.is_file():
            raise ConfigError(f"--card {card} is not a file")
        dst = root / "docs" / "models" / slot.card
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(card, dst)
        written["card"] = str(dst)
        # the card's figures: files next to it named <card stem>-*.jpg|png (the card links them by that name)
        stem = Path(slot.card).stem
        figures = [f for f in sorted(card.parent.glob(f"{stem}-*")) if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
        for f in figures:
            shutil.copyfile(f, dst.parent / f.name)
        written["figures"] = [str(dst.parent / f.name) for f in figures]
    return written


__all__ = ["MAX_BYTES", "SHIPPED", "Slot", "package_model"]
