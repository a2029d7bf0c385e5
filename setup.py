"""Build step of ``pip install``: the native runtime library (runtime/native, CMake) is built into the package.

Everything else is declared in pyproject.toml. The library goes to ``qualedge/runtime/native/lib/`` (a wheel) or
``runtime/native/lib/`` (an editable install), with ``libqualedge.json`` recording the sources' key and the OpenVINO
version it was built against, and a run-time path relative to the installed package (``site-packages/openvino/libs``)
plus the target environment's OpenVINO folder. If it cannot be built here (no compiler or CMake), the install goes
on and says so: ``qualedge.runtime.native_build`` builds it on first use, with the reason if that fails too.
``QUALEDGE_NATIVE_BUILD=0`` skips it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _cmake_build():
    spec = importlib.util.spec_from_file_location("qualedge_native_cmake_build", ROOT / "runtime" / "native" / "cmake_build.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class BuildPyWithNative(build_py):
    def run(self) -> None:
        super().run()
        if os.environ.get("QUALEDGE_NATIVE_BUILD", "1") == "0":
            return
        editable = bool(getattr(self, "editable_mode", False))
        dest = ROOT / "runtime" / "native" / "lib" if editable else Path(self.build_lib) / "qualedge" / "runtime" / "native" / "lib"
        version = re.search(r'__version__\s*=\s*"([^"]+)"', (ROOT / "qualedge" / "_version.py").read_text()).group(1)
        cb = _cmake_build()
        # site-packages/qualedge/runtime/native/lib -> site-packages/openvino/libs; and the target environment's
        # (pip builds in an isolated environment with the target's interpreter, whose purelib is the target's)
        rpath = ["$ORIGIN", "$ORIGIN/../../../../openvino/libs", str(Path(sysconfig.get_paths()["purelib"]) / "openvino" / "libs")]
        try:
            ov_version = cb.openvino_dirs()[2]
            with tempfile.TemporaryDirectory(prefix="qualedge-native-") as tmp:
                lib = cb.build(Path(tmp) / "build", version=version, rpath=rpath)
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(lib, dest / "libqualedge.so")
            record = {"key": cb.source_key(version, ov_version, False), "openvino": ov_version, "qualedge": version, "rpath": rpath}
            (dest / "libqualedge.json").write_text(json.dumps(record, indent=1) + "\n")
            print(f"qualedge: built the native runtime library into {dest} (OpenVINO {ov_version})")
        except cb.NativeBuildError as exc:
            print(f"qualedge: WARNING: the native runtime library was not built at install ({str(exc).splitlines()[0]}); "
                  "it will be built on first use", file=sys.stderr)  # fmt: skip


setup(cmdclass={"build_py": BuildPyWithNative})
