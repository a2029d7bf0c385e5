"""Packaging, import hygiene and the CLI skeleton."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "onnx", "onnxruntime", "pyiqa", "tensorrt", "cv2", "peft", "scipy", "matplotlib")


def _py(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/").stdout


def test_package_list_names_every_package_folder() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = cfg["package-dir"]
    declared = set(cfg["packages"])
    found = set()
    for pkg, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found == declared, f"add to pyproject packages: {sorted(found - declared)}; remove: {sorted(declared - found)}"


def test_stage_folders_import_as_subpackages() -> None:
    out = _py("import qualedge.train, qualedge.export, qualedge.runtime, qualedge.benchmarks as b; print(b.__name__)")
    assert out.strip() == "qualedge.benchmarks"


def test_import_qualedge_pulls_in_no_heavy_package() -> None:
    out = _py(f"import sys, qualedge; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_help_is_fast_and_lists_every_verb() -> None:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "qualedge", "--help"], capture_output=True, text=True, check=True)
    assert time.perf_counter() - t0 < 2.0
    for verb in ("models", "iqa-eval", "train-sr", "finetune-sr", "eval-sr", "train-restore", "eval-restore", "export-restore", "export", "restore", "bench"):
        assert verb in r.stdout
    out = _py(f"import sys; from qualedge.cli import build_parser; build_parser(); print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_models_lists_realesrgan_as_available_offline() -> None:
    import contextlib
    import io

    from qualedge.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["models", "--json"]) == 0
    report = json.loads(buf.getvalue())
    avail = {w["id"]: w["available_offline"] for w in report["pretrained"]}
    assert avail["realesrgan-x4plus"] and avail["realesr-animevideov3"]
    assert {a["id"] for a in report["architectures"]} >= {"rrdbnet", "swinir", "srvgg", "espcn", "fsrcnn", "unet_disc_sn"}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["models"]) == 0
    text = buf.getvalue()
    assert "realesrgan-x4plus" in text and "Pretrained weights" in text


def test_readme_opens_with_exactly_two_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines[0].startswith("```")
    end = lines.index("```", 1)
    cmds = lines[1:end]
    assert len(cmds) == 2 and "pip install" in cmds[0] and "pytest" in cmds[1]


def test_wheel_install_finds_its_assets_and_runs_the_main_job(tmp_path: Path) -> None:
    """A non-editable install (the wheel, unpacked without dependencies) carries the native library its build made,
    resolves the shipped weights, the parity gate's example photo and the C header from inside the installed package,
    not from a checkout, and runs the README's main job from there on the packaged native library."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1:]}")
    wheel = next((tmp_path / "dist").glob("qualedge-*.whl"))
    import zipfile

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import qualedge, qualedge.paths as p, qualedge.export.api as a, qualedge.iqa.head as h; "
            "print(qualedge.__file__); print(a.EXAMPLE.is_file(), h.DEFAULT_WEIGHTS.is_file(), p.asset('weights', 'adaqual_default.safetensors').is_file()); "
            "import importlib.resources as r; print(r.files('qualedge.runtime').joinpath('include', 'qualedge.h').is_file())")  # fmt: skip
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(site), "QUALEDGE_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")
    assert lines[0].startswith(str(site)), f"imported {lines[0]}, not the unpacked wheel"
    assert lines[1] == "True True True" and lines[2] == "True"
    # the main job from the wheel, outside any checkout: the default bundle and the native library are built from
    # what the wheel ships (weights, the native sources), and the SR stage runs on the native engine
    photo = site / "qualedge" / "assets" / "images" / "example.png"
    job = subprocess.run([sys.executable, "-m", "qualedge", "restore", str(photo), "-o", str(tmp_path / "x4.png"), "--json", "--no-progress"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1200)  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    summary = json.loads(job.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "native" and summary["output"] == [4 * x for x in summary["input"]] and (tmp_path / "x4.png").is_file()
    # the library is the one the wheel build made (pip install builds it), not one built on first use
    native_lib = subprocess.run([sys.executable, "-c", "from qualedge.runtime.native_build import build_native; print(build_native())"],
                                capture_output=True, text=True, env=env, cwd=tmp_path).stdout.strip()  # fmt: skip
    assert native_lib == str(site / "qualedge" / "runtime" / "native" / "lib" / "libqualedge.so"), native_lib
    assert not list((cache / "native").glob("libqualedge-*")), "the native library was built on first use, not by the install"
    dyn = subprocess.run(["readelf", "-d", native_lib], capture_output=True, text=True).stdout
    assert "libpython" not in dyn and "$ORIGIN/../../../../openvino/libs" in dyn and "pip-build-env" not in dyn, dyn
