"""The typed bundle contract: every manifest written by export validates against the generated JSON Schema (an
independent validator) and the committed schema file is current; a corpus of malformed manifests is refused with a
BundleError that names the field."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from qualedge.bundle import json_schema, load_bundle
from qualedge.errors import BundleError

REPO = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = json.loads((REPO / "docs" / "bundle.schema.json").read_text())
    assert committed == json_schema(), "regenerate with: python -m qualedge.bundle docs/bundle.schema.json"


def test_real_manifest_validates_against_the_schema(bundle: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev extra")
    jsonschema.validate(json.loads((bundle / "manifest.json").read_text()), json_schema())
    bad = json.loads((bundle / "manifest.json").read_text())
    bad["models"][0]["forms"][0]["sha256"] = 5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())


def _edit(d: dict, path: list, value) -> None:
    for k in path[:-1]:
        d = d[k]
    if value is _DELETE:
        del d[path[-1]]
    else:
        d[path[-1]] = value


_DELETE = object()
CORPUS = [  # (what is wrong, where in the manifest, new value, text the error must contain)
    ("unknown top-level key", ["extra_field"], 1, "extra_field is not a field of Manifest"),
    ("models not a list", ["models"], {"sr": 1}, "models must be a list"),
    ("model missing its role", ["models", 0, "role"], _DELETE, "models[0].role is missing"),
    ("unknown key in a model", ["models", 0, "weights"], "x", "models[0].weights is not a field of ModelEntry"),
    ("hash is a number", ["models", 0, "forms", 0, "sha256"], 5, "models[0].forms[0].sha256"),
    ("opset is a string", ["models", 0, "forms", 0, "opset"], "18", "models[0].forms[0].opset"),
    ("parity is a list", ["models", 0, "forms", 0, "parity"], [], "models[0].forms[0].parity must be an object"),
    ("path leaves the bundle", ["models", 0, "forms", 0, "path"], "../outside.onnx", "leaves the bundle folder"),
    ("policy names a missing model", ["policy", "heavy"], "nope", "policy.heavy = 'nope' names no model"),
    ("policy fraction is text", ["policy", "heavy_fraction"], "0.3", "policy.heavy_fraction"),
    ("policy has an unknown key", ["policy", "budget"], 0.3, "policy.budget is not a field of SRPolicy"),
    ("policy router unknown", ["policy", "router"], "magic", "policy.router = 'magic'"),
    ("policy seed is a bool", ["policy", "seed"], True, "policy.seed"),
    ("manifest is a list", [], None, "must be an object"),
    ("unknown ABI version", ["abi_version"], 999, "ABI version 999"),
    ("unknown schema", ["schema"], 7, "manifest schema 7"),
    ("not a qualedge manifest", ["format"], "other", "not a qualedge bundle manifest"),
    ("file named but missing", ["models", 0, "forms", 0, "path"], "gone.onnx", "file gone.onnx of model"),
]


@pytest.mark.parametrize(("what", "path", "value", "message"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_manifests_are_refused_by_field(bundle: Path, tmp_path: Path, what: str, path: list, value, message: str) -> None:
    b = tmp_path / "b"
    shutil.copytree(bundle, b)
    d = json.loads((b / "manifest.json").read_text())
    if path:
        d = copy.deepcopy(d)
        _edit(d, path, value)
    else:
        d = [d]
    (b / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match=None) as ei:
        load_bundle(b, verify_hashes=False)
    assert message in str(ei.value), str(ei.value)


def test_hash_mismatch_is_refused_and_manifest_round_trips(bundle: Path, tmp_path: Path) -> None:
    d = json.loads((bundle / "manifest.json").read_text())
    assert load_bundle(bundle).to_dict() == d  # the typed form holds everything the file says, and nothing else
    b = tmp_path / "tampered"
    shutil.copytree(bundle, b)
    f = b / d["models"][0]["forms"][0]["path"]
    f.write_bytes(f.read_bytes() + b"\0")
    with pytest.raises(BundleError, match="fails its sha256 check"):
        load_bundle(b)


def test_graphs_carry_metadata_and_a_swapped_graph_is_refused(bundle: Path, tmp_path: Path) -> None:
    import onnx
    from qualedge.runtime.restorer import Restorer

    man = json.loads((bundle / "manifest.json").read_text())
    for m in man["models"]:
        for f in m["forms"]:
            if f["format"] == "onnx":
                props = {p.key: p.value for p in onnx.load(str(bundle / f["path"])).metadata_props}
                assert props["qualedge.model"] == m["name"] and props["qualedge.role"] == m["role"]
                assert props["qualedge.arch_id"] == m["arch_id"] and props["qualedge.precision"] == f["precision"]
    # the compact and heavy fp32 graphs swapped (hashes re-computed, so only the graph metadata can tell)
    b = tmp_path / "swapped"
    shutil.copytree(bundle, b)
    pol = man["policy"]
    fa = next(f for m in man["models"] if m["name"] == pol["compact"] for f in m["forms"] if f["format"] == "onnx" and f["precision"] == "fp32")
    fb = next(f for m in man["models"] if m["name"] == pol["heavy"] for f in m["forms"] if f["format"] == "onnx" and f["precision"] == "fp32")
    (b / fa["path"]).write_bytes((bundle / fb["path"]).read_bytes())
    (b / fb["path"]).write_bytes((bundle / fa["path"]).read_bytes())
    from qualedge.weights.cache import sha256_file

    fa["sha256"], fb["sha256"] = sha256_file(b / fa["path"]), sha256_file(b / fb["path"])
    (b / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleError, match="disagrees with the manifest"):
        Restorer(b)


def test_consumers_read_the_typed_policy_and_descriptors(bundle: Path) -> None:
    """The runtime reads SRPolicy / ModelDescriptor objects, not dicts by key; a policy of the other kind is refused."""
    import subprocess
    import sys

    from qualedge.bundle import SRPolicy, load_bundle
    from qualedge.descriptor import ModelDescriptor
    from qualedge.errors import BundleError

    man = load_bundle(bundle)
    pol = man.sr_policy()
    assert isinstance(pol, SRPolicy) and pol.compact and man.model(pol.compact).role == "sr"
    d = man.model(pol.compact).desc
    assert isinstance(d, ModelDescriptor) and d.scale == 4 and d.size.padded(d.size.minimum + 1) % d.size.multiple_of == 0
    with pytest.raises(BundleError, match="super-resolution bundle"):
        man.restoration_policy()
    # the contract is torch-free: the native-runtime side of Python (and any reader) does not need PyTorch for it
    code = "import sys, qualedge.bundle, qualedge.descriptor; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
