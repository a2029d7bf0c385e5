"""Configure and build ``libqualedge.so`` with CMake: standard library only, so that both the package build
(``setup.py``, during ``pip install``, in pip's isolated build environment) and the runtime's first-use build
(``qualedge.runtime.native_build``) run the same steps.

Inputs: OpenVINO's CMake config and libraries (the ``openvino`` wheel), the nlohmann/json headers (the
``nlohmann-json`` wheel), the system's C/C++ compiler and CMake (or the ``cmake`` wheel).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1]  # runtime/ (qualedge.runtime)
SOURCES = RUNTIME / "native"


class NativeBuildError(RuntimeError):
    """The native library could not be built (the message says what is missing or what failed)."""


def openvino_dirs() -> tuple[Path, Path, str]:
    """(CMake config folder, library folder, version) of the installed ``openvino`` wheel (located, not imported)."""
    spec = importlib.util.find_spec("openvino")
    if spec is None or spec.origin is None:
        raise NativeBuildError("the native runtime needs OpenVINO: pip install openvino (a dependency of qualedge)")
    root = Path(spec.origin).resolve().parent
    cmake, libs = root / "cmake", root / "libs"
    if not (cmake / "OpenVINOConfig.cmake").is_file() or not libs.is_dir():
        raise NativeBuildError(f"the openvino package at {root} has no cmake/OpenVINOConfig.cmake or libs/; reinstall it (pip install --force-reinstall openvino)")
    return cmake, libs, importlib.metadata.version("openvino")


def json_include() -> Path:
    spec = importlib.util.find_spec("nlohmann_json")
    if spec is None or spec.origin is None:
        raise NativeBuildError("the native runtime reads manifests with nlohmann/json: pip install nlohmann-json (a dependency of qualedge)")
    inc = Path(spec.origin).resolve().parent / "include"
    if not (inc / "nlohmann" / "json.hpp").is_file():
        raise NativeBuildError(f"{inc}/nlohmann/json.hpp is missing; reinstall nlohmann-json")
    return inc


def cmake_exe() -> str:
    exe = shutil.which("cmake")
    if exe is None:
        try:
            import cmake  # the PyPI wheel

            exe = str(Path(cmake.CMAKE_BIN_DIR) / "cmake")
        except ImportError as exc:
            raise NativeBuildError("building the native runtime needs CMake >= 3.18: install it (apt install cmake, or pip install cmake)") from exc
    return exe


def source_key(version: str, openvino_version: str, sanitize: bool) -> str:
    """What a built library depends on: the sources, the qualedge and OpenVINO versions, the build flags."""
    h = hashlib.sha256()
    for f in sorted([*SOURCES.rglob("*"), RUNTIME / "csrc" / "blend.c", RUNTIME / "include" / "qualedge.h"]):
        if f.is_file() and f.suffix in (".cpp", ".hpp", ".c", ".h", ".txt"):
            h.update(str(f.relative_to(RUNTIME)).encode())
            h.update(f.read_bytes())
    h.update(f"{openvino_version}|{version}|sanitize={sanitize}".encode())
    return h.hexdigest()[:16]


def build(build_dir: Path, *, version: str, sanitize: bool = False, rpath: list[str] | None = None, verbose: bool = False) -> Path:
    """Configure and build in ``build_dir``; returns the built ``libqualedge.so``. ``rpath``: where the library looks
    for OpenVINO at run time (default: its own folder and the OpenVINO wheel it was built against)."""
    cmake_dir, libs, _ = openvino_dirs()
    rp = rpath if rpath is not None else ["$ORIGIN", str(libs)]
    cfg = [cmake_exe(), "-S", str(SOURCES), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", f"-DOpenVINO_DIR={cmake_dir}",
           f"-DQE_JSON_INCLUDE={json_include()}", f"-DQE_VERSION={version}", f"-DQE_SANITIZE={'ON' if sanitize else 'OFF'}",
           f"-DQE_RPATH={';'.join(rp)}"]  # fmt: skip
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    for cmd in (cfg, [cmake_exe(), "--build", str(build_dir), "-j", jobs]):
        r = subprocess.run(cmd, capture_output=not verbose, text=True)
        if r.returncode != 0:
            tail = ((r.stdout or "") + (r.stderr or ""))[-3000:]
            raise NativeBuildError(f"building the native runtime failed ({' '.join(cmd[:2])} ...):\n{tail}")
    return build_dir / "libqualedge.so"


__all__ = ["NativeBuildError", "RUNTIME", "SOURCES", "build", "cmake_exe", "json_include", "openvino_dirs", "source_key"]
