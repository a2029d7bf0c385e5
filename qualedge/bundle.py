"""Bundles: the contract between ``export/`` (writes them) and ``runtime/`` (reads them).

A bundle is a folder with the model files and a ``manifest.json``:

```
{
  "format": "qualedge-bundle", "schema": 1, "abi_version": 1, "qualedge_version": "...", "created": "...",
  "models": [
    {"name": "sr", "role": "sr", "arch_id": "srvgg", "hyperparameters": {...}, "descriptor": {...},
     "forms": [
        {"path": "sr.fp32.onnx", "format": "onnx", "precision": "fp32", "sha256": "...", "opset": 18,
         "inputs": [{"name": "x", "layout": "NCHW", "dtype": "float32", "range": [0, 1]}],
         "outputs": [{"name": "y", "layout": "NCHW", "dtype": "float32", "range": [0, 1]}],
         "shapes": {"dynamic": true, "min": 16, "max": 4096} | {"dynamic": false, "tile": 64},
         "fp32_nodes": [...], "parity": {...}},
        {"path": "sr.safetensors", "format": "safetensors", "precision": "fp32", "sha256": "..."}]},
    {"name": "qhead", "role": "quality", ...}],
  "policy": {...runtime defaults...},
  "source": {...where the weights came from...}
}
```

``load_bundle`` refuses a bundle from another ABI version or schema, with missing files, or whose files fail their
sha256, with a :class:`~qualedge.errors.BundleError` that says what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualedge._version import __version__
from qualedge.errors import BundleError

FORMAT = "qualedge-bundle"
SCHEMA = 1
ABI_VERSION = 1
ROLES = ("sr", "quality", "router", "restore-step", "restore-unrolled")


@dataclass
class Form:
    path: str
    format: str  # "onnx" | "safetensors" | "trt-plan"
    precision: str  # "fp32" | "fp16" | "bf16" | "mixed"
    sha256: str
    opset: int | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    shapes: dict[str, Any] = field(default_factory=dict)
    fp32_nodes: list[str] = field(default_factory=list)
    parity: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelEntry:
    name: str
    role: str
    arch_id: str
    hyperparameters: dict[str, Any]
    descriptor: dict[str, Any]
    forms: list[Form]
    extra: dict[str, Any] = field(default_factory=dict)

    def form(self, fmt: str, precision: str | None = None) -> Form | None:
        for f in self.forms:
            if f.format == fmt and (precision is None or f.precision == precision):
                return f
        return None


@dataclass
class Manifest:
    models: list[ModelEntry]
    policy: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    abi_version: int = ABI_VERSION
    schema: int = SCHEMA
    qualedge_version: str = __version__
    created: str = ""

    def model(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        raise BundleError(f"the bundle has no model named {name!r}; it has {[m.name for m in self.models]}")

    def by_role(self, role: str) -> list[ModelEntry]:
        return [m for m in self.models if m.role == role]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"format": FORMAT, **asdict(self)}


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    from qualedge.atomic import atomic_write_json

    return atomic_write_json(Path(folder) / "manifest.json", manifest.to_dict(), what="bundle manifest")


def _inside(folder: Path, rel: str, field: str, mpath: Path) -> Path:
    """``folder / rel`` when it stays inside the bundle folder (no absolute path, no '..' out, no link leading out)."""
    if not isinstance(rel, str) or not rel:
        raise BundleError(f"{mpath}: {field} must be a relative file name inside the bundle, got {rel!r}")
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise BundleError(f"{mpath}: {field} = {rel!r} leaves the bundle folder; a manifest may only name files inside it. Re-export the bundle.")
    full = folder / p
    root = folder.resolve()
    if full.exists() and not full.resolve().is_relative_to(root):
        raise BundleError(f"{mpath}: {field} = {rel!r} is a link to {full.resolve()}, outside the bundle folder. Re-export the bundle.")
    return full


def load_bundle(folder: str | Path, *, verify_hashes: bool = True) -> Manifest:
    """Read and validate a bundle's manifest.

    Raises:
        BundleError: missing folder or manifest, wrong format/schema/ABI version, missing files, hash mismatch.
    """
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not folder.is_dir():
        raise BundleError(f"bundle {folder} not found (expected a folder with manifest.json). Create one with 'qualedge export'.")
    if not mpath.is_file():
        raise BundleError(f"{folder} is not a qualedge bundle: manifest.json is missing. Create one with 'qualedge export'.")
    try:
        d = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{mpath}: corrupt manifest ({exc}). Re-export the bundle.") from exc
    if d.get("format") != FORMAT:
        raise BundleError(f"{mpath}: not a qualedge bundle manifest (format {d.get('format')!r}).")
    if d.get("abi_version") != ABI_VERSION:
        raise BundleError(
            f"{folder}: bundle ABI version {d.get('abi_version')} does not match this runtime's ABI version {ABI_VERSION}. "
            f"Re-export it with qualedge {__version__} ('qualedge export')."
        )
    if d.get("schema") != SCHEMA:
        raise BundleError(f"{folder}: manifest schema {d.get('schema')} is not supported (expected {SCHEMA}); re-export the bundle.")
    try:
        models = []
        for m in d["models"]:
            forms = [Form(**f) for f in m.pop("forms")]
            models.append(ModelEntry(forms=forms, **m))
        man = Manifest(
            models=models,
            policy=d.get("policy", {}),
            source=d.get("source", {}),
            abi_version=d["abi_version"],
            schema=d["schema"],
            qualedge_version=d.get("qualedge_version", "?"),
            created=d.get("created", ""),
        )
    except (KeyError, TypeError) as exc:
        raise BundleError(f"{mpath}: malformed manifest ({exc}). Re-export the bundle.") from exc
    for m in man.models:
        if m.role not in ROLES:
            raise BundleError(f"{mpath}: model {m.name} has unknown role {m.role!r} (known: {ROLES}).")
        for i, f in enumerate(m.forms):
            p = _inside(folder, f.path, f"models[{m.name}].forms[{i}].path", mpath)
            if not p.is_file():
                raise BundleError(f"{folder}: file {f.path} of model {m.name} is missing. Re-export the bundle.")
            if verify_hashes:
                from qualedge.weights.cache import sha256_file

                got = sha256_file(p)
                if got != f.sha256:
                    raise BundleError(
                        f"{folder}: {f.path} fails its sha256 check (expected {f.sha256[:12]}..., got {got[:12]}...): the "
                        "file is corrupt, truncated or was replaced. Re-export the bundle."
                    )
    return man
