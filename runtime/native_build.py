"""Build the native runtime library (``runtime/native``, C++17 over OpenVINO) with CMake, once per source version.

The build uses what pip installed: OpenVINO's CMake config and libraries from the ``openvino`` wheel and the
nlohmann/json headers from the ``nlohmann-json`` wheel, plus the system's C/C++ compiler and CMake (the ``cmake``
wheel when the system has none). The result is cached under ``<cache>/native/libqualedge-<key>`` (the key covers the
sources, the OpenVINO version and the build flags); builds go to a temporary folder that is renamed into place, so a
concurrent or interrupted build never leaves half a library. The library has an rpath to its own folder and to the
OpenVINO wheel's libraries: it needs no Python and no environment variable at run time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from qualedge import paths
from qualedge._version import __version__
from qualedge.errors import BackendUnavailableError

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "native"
_LOCK = threading.Lock()


def openvino_dirs() -> tuple[Path, Path, str]:
    """(CMake config folder, library folder, version) of the installed ``openvino`` wheel."""
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("openvino")  # located, not imported: importing it costs 0.15 s at every start
    if spec is None or spec.origin is None:
        raise BackendUnavailableError("the native runtime needs OpenVINO: pip install openvino (a dependency of qualedge)")
    root = Path(spec.origin).resolve().parent
    cmake, libs = root / "cmake", root / "libs"
    if not (cmake / "OpenVINOConfig.cmake").is_file() or not libs.is_dir():
        raise BackendUnavailableError(f"the openvino package at {root} has no cmake/OpenVINOConfig.cmake or libs/; reinstall it (pip install --force-reinstall openvino)")
    return cmake, libs, importlib.metadata.version("openvino")


def json_include() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("nlohmann_json")
    if spec is None or spec.origin is None:
        raise BackendUnavailableError("the native runtime reads manifests with nlohmann/json: pip install nlohmann-json (a dependency of qualedge)")
    inc = Path(spec.origin).resolve().parent / "include"
    if not (inc / "nlohmann" / "json.hpp").is_file():
        raise BackendUnavailableError(f"{inc}/nlohmann/json.hpp is missing; reinstall nlohmann-json")
    return inc


def _cmake() -> str:
    exe = shutil.which("cmake")
    if exe is None:
        try:
            import cmake  # the PyPI wheel

            exe = str(Path(cmake.CMAKE_BIN_DIR) / "cmake")
        except ImportError as exc:
            raise BackendUnavailableError("building the native runtime needs CMake >= 3.18: install it (apt install cmake, or pip install cmake)") from exc
    return exe


def _key(sanitize: bool) -> str:
    h = hashlib.sha256()
    for f in sorted([*SOURCES.rglob("*"), HERE / "csrc" / "blend.c", HERE / "include" / "qualedge.h"]):
        if f.is_file():
            h.update(str(f.relative_to(HERE)).encode())
            h.update(f.read_bytes())
    h.update(f"{openvino_dirs()[2]}|{__version__}|sanitize={sanitize}".encode())
    return h.hexdigest()[:16]


def build_native(*, sanitize: bool = False, verbose: bool = False) -> Path:
    """Path of ``libqualedge.so``, built on first use (a minute or two on 2 cores)."""
    from qualedge.runtime.capi_build import header_abi

    header_abi()
    folder = paths.cache_dir() / "native" / f"libqualedge-{_key(sanitize)}"
    lib = folder / "libqualedge.so"
    if lib.is_file():
        return lib
    with _LOCK:
        if lib.is_file():
            return lib
        cmake_dir, _, _ = openvino_dirs()
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="qualedge-native-", dir=folder.parent) as tmp:
            build = Path(tmp) / "build"
            cfg = [_cmake(), "-S", str(SOURCES), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", f"-DOpenVINO_DIR={cmake_dir}",
                   f"-DQE_JSON_INCLUDE={json_include()}", f"-DQE_VERSION={__version__}", f"-DQE_SANITIZE={'ON' if sanitize else 'OFF'}"]  # fmt: skip
            jobs = str(max(1, min(4, os.cpu_count() or 1)))
            for cmd in (cfg, [_cmake(), "--build", str(build), "-j", jobs]):
                r = subprocess.run(cmd, capture_output=not verbose, text=True)
                if r.returncode != 0:
                    tail = ((r.stdout or "") + (r.stderr or ""))[-3000:]
                    raise BackendUnavailableError(f"building the native runtime failed ({' '.join(cmd[:2])} ...):\n{tail}")
            staged = Path(tmp) / "lib"
            staged.mkdir()
            shutil.copy2(build / "libqualedge.so", staged / "libqualedge.so")
            shutil.copy2(HERE / "include" / "qualedge.h", staged / "qualedge.h")
            try:
                staged.rename(folder)
            except OSError:  # another process won the race
                if not lib.is_file():
                    raise
    return lib


def engine_libraries() -> list[Path]:
    """OpenVINO's shared libraries the native library loads (runtime, CPU plugin, ONNX front end, TBB)."""
    _, libs, _ = openvino_dirs()
    keep = ("libopenvino.so", "libopenvino_intel_cpu_plugin.so", "libopenvino_onnx_frontend.so", "libtbb", "libtbbmalloc", "libtbbbind")
    return sorted(p for p in libs.iterdir() if p.name.startswith(keep) and not p.name.endswith(".py"))


def copy_capi(out_dir: str | Path, *, sanitize: bool = False) -> tuple[Path, Path]:
    """``qualedge build-capi -o DIR``: the library, OpenVINO's libraries and qualedge.h in DIR, linkable by a C
    program (``cc main.c -IDIR -LDIR -lqualedge -Wl,-rpath,DIR``). ``sanitize``: the AddressSanitizer and
    UndefinedBehaviorSanitizer build (the tests link it into sanitized C programs)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lib = build_native(sanitize=sanitize)
    for src in [lib, *engine_libraries()]:
        tmp = out / f".{src.name}.partial"
        shutil.copy2(src, tmp, follow_symlinks=True)
        tmp.replace(out / src.name)
    header = out / "qualedge.h"
    shutil.copy2(HERE / "include" / "qualedge.h", header)
    return out / "libqualedge.so", header
