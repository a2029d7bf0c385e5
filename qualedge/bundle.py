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
sha256, with a :class:`~qualedge.errors.BundleError` that says what to do. The manifest is typed by the dataclasses
below (``Manifest``, ``ModelEntry``, ``Form``, and the policy of each bundle kind: ``SRPolicy``,
``RestorationPolicy``); on load every object is checked against them (unknown keys, missing keys, wrong types, models
the policy names but the bundle lacks) and an error names the field, for example ``models[0].forms[1].sha256``.
``json_schema()`` generates the JSON Schema of the same contract for other languages (docs/bundle.schema.json,
kept in step by a test).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union

from qualedge._version import __version__
from qualedge.errors import BundleError

if typing.TYPE_CHECKING:
    from qualedge.descriptor import ModelDescriptor

FORMAT = "qualedge-bundle"
SCHEMA = 1
ABI_VERSION = 1
ROLES = ("sr", "quality", "router", "restore-step", "restore-unrolled")


@dataclass
class Form:
    """One file of a model: a format and precision, its sha256, I/O and parity report."""

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
    """One model of the bundle, with its forms (files)."""

    name: str
    role: str
    arch_id: str
    hyperparameters: dict[str, Any]
    descriptor: dict[str, Any]
    forms: list[Form]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def desc(self) -> ModelDescriptor:
        """The typed descriptor (``descriptor`` is its JSON form, as stored)."""
        from qualedge.descriptor import ModelDescriptor

        return ModelDescriptor.from_dict(self.descriptor)

    def form(self, fmt: str, precision: str | None = None) -> Form | None:
        for f in self.forms:
            if f.format == fmt and (precision is None or f.precision == precision):
                return f
        return None


@dataclass
class Manifest:
    """A bundle's manifest.json."""

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

    @property
    def kind(self) -> str:
        return "restoration" if self.policy.get("kind") == "restoration" else "sr"

    def sr_policy(self) -> SRPolicy:
        """The typed policy of a super-resolution bundle (validated on load)."""
        if self.kind != "sr":
            raise BundleError("this is a restoration bundle; open it with the restoration runtime (--restore-bundle)")
        return SRPolicy(**self.policy)

    def restoration_policy(self) -> RestorationPolicy:
        """The typed policy of a restoration bundle (validated on load)."""
        if self.kind != "restoration":
            raise BundleError("this is a super-resolution bundle, not a restoration bundle (qualedge export-restore writes those)")
        d = dict(self.policy)
        if d.get("sampler") is not None:
            d["sampler"] = SamplerPolicy(**d["sampler"])
        return RestorationPolicy(**d)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"format": FORMAT, **asdict(self)}


@dataclass
class SRPolicy:
    """Runtime defaults of a super-resolution bundle (``qualedge export``); every field is overridable at run time."""

    quality_model: str | None = None  # model name of the quality head
    compact: str | None = None  # model name of the compact SR model
    heavy: str | None = None  # model name of the heavy SR model (None: single model)
    router: str = "quality"  # a router model's name, or a signal: quality, gradient, variance, edges
    heavy_fraction: float | None = None  # budgeted routing: share of tiles to the heavy model; None: by threshold
    seed: int = 0
    threshold: float = 0.5
    tile: int | None = None  # fixed tile plan (input pixels); None: automatic
    overlap: int = 16
    precision: str = "fp32"


@dataclass
class SamplerPolicy:
    objective: str = "diffusion"
    steps: int = 2
    spacing: str = "trailing"


@dataclass
class RestorationPolicy:
    """Runtime settings of a restoration bundle (``qualedge export-restore``)."""

    kind: str  # "restoration"
    quality_model: str
    restore: str  # model name of the unrolled graph
    restore_step: str  # model name of the per-step graph
    steps: int
    coefficients: list[list[float]]  # per step: t, sqrt(ab_t), sqrt(1 - ab_t), sqrt(ab_prev), sqrt(1 - ab_prev)
    tile: int
    overlap: int
    seed: int = 0
    precision: str = "fp32"
    prompt_mode: str | None = None
    sampler: SamplerPolicy | None = None  # absent in bundles from before it: 2 leading-spaced diffusion steps
    noise_scale: float = 1.0  # 0: a regression model run from a zero residual


ROUTING_SIGNALS = ("quality", "gradient", "variance", "edges")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check(tp: Any, value: Any, where: str, mpath: Path) -> None:
    """Raise a BundleError naming ``where`` when ``value`` does not have type ``tp`` (the dataclass annotations)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return
    if origin in (Union, types.UnionType):
        errors = []
        for a in args:
            try:
                return _check(a, value, where, mpath)
            except BundleError as exc:
                errors.append(exc)
        raise BundleError(f"{mpath}: {where} = {value!r:.80} must be {' or '.join(_type_name(a) for a in args)}. Re-export the bundle.")
    if tp is type(None):
        if value is not None:
            raise BundleError(f"{mpath}: {where} must be null, got {value!r:.80}")
        return
    if is_dataclass(tp):
        validate(tp, value, where, mpath)
        return
    if origin is list:
        if not isinstance(value, list):
            raise BundleError(f"{mpath}: {where} must be a list, got {type(value).__name__}. Re-export the bundle.")
        for i, v in enumerate(value):
            _check(args[0] if args else Any, v, f"{where}[{i}]", mpath)
        return
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise BundleError(f"{mpath}: {where} must be an object, got {type(value).__name__}. Re-export the bundle.")
        return
    ok = {str: lambda v: isinstance(v, str), int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), bool: lambda v: isinstance(v, bool)}.get(tp)  # fmt: skip
    if ok is None:
        raise TypeError(f"bundle schema: unsupported annotation {tp!r} at {where}")
    if not ok(value):
        raise BundleError(f"{mpath}: {where} = {value!r:.80} must be {_type_name(tp)}, got {type(value).__name__}. Re-export the bundle.")


def validate(cls: type, d: Any, where: str, mpath: Path) -> None:
    """Check the JSON object ``d`` against the dataclass ``cls``: an object, no unknown keys, every required key, types."""
    if not isinstance(d, dict):
        raise BundleError(f"{mpath}: {where or 'the manifest'} must be an object, got {type(d).__name__}. Re-export the bundle.")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names - ({"format"} if cls is Manifest else set()))
    if unknown:
        raise BundleError(f"{mpath}: {where + '.' if where else ''}{unknown[0]} is not a field of {cls.__name__} (known: {sorted(names)}). "
                          "The bundle was written by another qualedge version or edited; re-export it.")  # fmt: skip
    for f in fields(cls):
        key = f"{where}.{f.name}" if where else f.name
        if f.name not in d:
            if f.default is MISSING and f.default_factory is MISSING:
                raise BundleError(f"{mpath}: {key} is missing. Re-export the bundle.")
            continue
        _check(hints[f.name], d[f.name], key, mpath)


def check_policy(policy: dict[str, Any], models: list[ModelEntry], mpath: Path) -> None:
    """The policy matches its kind's dataclass and names only models the bundle has."""
    cls = RestorationPolicy if policy.get("kind") == "restoration" else SRPolicy
    validate(cls, policy, "policy", mpath)
    have = {m.name for m in models}
    refs = ("quality_model", "restore", "restore_step") if cls is RestorationPolicy else ("quality_model", "compact", "heavy")
    for k in refs:
        if policy.get(k) is not None and policy[k] not in have:
            raise BundleError(f"{mpath}: policy.{k} = {policy[k]!r} names no model of the bundle (it has {sorted(have)}). Re-export the bundle.")
    r = policy.get("router")
    if cls is SRPolicy and r is not None and r not in have and r not in ROUTING_SIGNALS:
        raise BundleError(f"{mpath}: policy.router = {r!r} is neither a model of the bundle nor a signal {ROUTING_SIGNALS}. Re-export the bundle.")


def _schema_of(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or origin is dict or tp is dict:
        return {"type": "object"} if tp is not Any else {}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_of(a) for a in args]}
    if tp is type(None):
        return {"type": "null"}
    if is_dataclass(tp):
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0]) if args else {}}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]}


def _schema_def(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props = {f.name: _schema_of(hints[f.name]) for f in fields(cls)}
    if cls is Manifest:
        props["format"] = {"const": FORMAT}
    req = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    return {"type": "object", "properties": props, "required": req, "additionalProperties": False, "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of manifest.json, generated from the dataclasses of this module. The policy is
    one of the bundle kinds' policies."""
    defs = {c.__name__: _schema_def(c) for c in (Manifest, ModelEntry, Form, SRPolicy, RestorationPolicy, SamplerPolicy)}
    defs["Manifest"]["properties"]["policy"] = {"anyOf": [{"$ref": "#/$defs/SRPolicy"}, {"$ref": "#/$defs/RestorationPolicy"}]}
    defs["Manifest"]["properties"]["schema"] = {"const": SCHEMA}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://qualedge/bundle.schema.json", "title": "qualedge bundle manifest",
            "$ref": "#/$defs/Manifest", "$defs": defs}  # fmt: skip


ONNX_META_PREFIX = "qualedge."


def onnx_metadata(name: str, role: str, arch_id: str, precision: str) -> dict[str, str]:
    """The ``metadata_props`` an exported graph carries, so that a runtime (this one or a native one) can check that
    a file is the one the manifest means."""
    return {f"{ONNX_META_PREFIX}{k}": str(v) for k, v in
            (("abi_version", ABI_VERSION), ("model", name), ("role", role), ("arch_id", arch_id), ("precision", precision))}  # fmt: skip


def check_onnx_metadata(props: dict[str, str], expected: dict[str, str], path: Path | str) -> None:
    """Refuse a graph whose qualedge metadata disagrees with the manifest (graphs without any: older bundles, accepted)."""
    ours = {k: v for k, v in props.items() if k.startswith(ONNX_META_PREFIX)}
    if not ours:
        return
    wrong = {k: (ours.get(k), v) for k, v in expected.items() if ours.get(k) != v}
    if wrong:
        k, (got, want) = next(iter(wrong.items()))
        raise BundleError(f"{path}: the graph's metadata {k} = {got!r} disagrees with the manifest ({want!r}): the file was replaced or "
                          "belongs to another bundle. Re-export the bundle.")  # fmt: skip


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
    if not isinstance(d, dict):
        raise BundleError(f"{mpath}: the manifest must be an object, got {type(d).__name__}. Re-export the bundle.")
    if d.get("format") != FORMAT:
        raise BundleError(f"{mpath}: not a qualedge bundle manifest (format {d.get('format')!r}).")
    if d.get("abi_version") != ABI_VERSION:
        raise BundleError(
            f"{folder}: bundle ABI version {d.get('abi_version')} does not match this runtime's ABI version {ABI_VERSION}. "
            f"Re-export it with qualedge {__version__} ('qualedge export')."
        )
    if d.get("schema") != SCHEMA:
        raise BundleError(f"{folder}: manifest schema {d.get('schema')} is not supported (expected {SCHEMA}); re-export the bundle.")
    validate(Manifest, d, "", mpath)
    models = []
    for m in d["models"]:
        m = dict(m)
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
    names = [m.name for m in man.models]
    if len(set(names)) != len(names):
        raise BundleError(f"{mpath}: model names must be unique, got {names}. Re-export the bundle.")
    check_policy(man.policy, man.models, mpath)
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


if __name__ == "__main__":  # python -m qualedge.bundle docs/bundle.schema.json: regenerate the committed schema
    import sys

    from qualedge.atomic import atomic_write_text

    atomic_write_text(Path(sys.argv[1]), json.dumps(json_schema(), indent=2) + "\n")
