"""The native runtime library (``runtime/native``, C++17 over OpenVINO): the one ``pip install`` built, else built
with CMake on first use.

``pip install`` (``setup.py``) builds ``libqualedge.so`` into the package (``qualedge/runtime/native/lib/``, next to a
record of the sources' key and the OpenVINO version it was built against), with a run-time path relative to the
installed package, so the installed library needs no Python and no environment variable. :func:`build_native` uses
it when its record matches the sources and the installed OpenVINO; otherwise (a source checkout whose sources
changed, another OpenVINO, an install that could not build it) it builds the library once into
``<cache>/native/libqualedge-<key>``: in a temporary folder renamed into place, so a concurrent or interrupted build
never leaves half a library. Both builds run the same steps (``runtime/native/cmake_build.py``).
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import threading
from pathlib import Path

from qualedge import paths
from qualedge._version import __version__
from qualedge.errors import BackendUnavailableError

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "native"
PACKAGED = SOURCES / "lib"  # where pip install puts the library and its record
_LOCK = threading.Lock()


def _cmake_build():
    """runtime/native/cmake_build.py (standard library only; shared with setup.py), loaded from its file: the
    folder holds C++ sources, not a Python package."""
    import importlib.util
    import sys

    name = "qualedge_native_cmake_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SOURCES / "cmake_build.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def openvino_dirs() -> tuple[Path, Path, str]:
    """(CMake config folder, library folder, version) of the installed ``openvino`` wheel."""
    cb = _cmake_build()
    try:
        return cb.openvino_dirs()
    except cb.NativeBuildError as exc:
        raise BackendUnavailableError(str(exc)) from None


@functools.lru_cache(maxsize=2)
def _key(sanitize: bool) -> str:
    """Hashed once per process: every restorer's start asks for the library."""
    return _cmake_build().source_key(__version__, openvino_dirs()[2], sanitize)


def packaged_library() -> Path | None:
    """The library ``pip install`` built, when its record matches these sources and the installed OpenVINO."""
    lib, record = PACKAGED / "libqualedge.so", PACKAGED / "libqualedge.json"
    if not lib.is_file() or not record.is_file():
        return None
    try:
        rec = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return lib if rec.get("key") == _key(False) else None


def build_native(*, sanitize: bool = False, verbose: bool = False) -> Path:
    """Path of ``libqualedge.so``: the packaged one, else built on first use (a minute or two on 2 cores)."""
    from qualedge.runtime.capi_build import header_abi

    header_abi()
    if not sanitize and (lib := packaged_library()) is not None:
        return lib
    folder = paths.cache_dir() / "native" / f"libqualedge-{_key(sanitize)}"
    lib = folder / "libqualedge.so"
    if lib.is_file():
        return lib
    cb = _cmake_build()
    with _LOCK:
        if lib.is_file():
            return lib
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="qualedge-native-", dir=folder.parent) as tmp:
            try:
                built = cb.build(Path(tmp) / "build", version=__version__, sanitize=sanitize, verbose=verbose)
            except cb.NativeBuildError as exc:
                raise BackendUnavailableError(str(exc)) from None
            staged = Path(tmp) / "lib"
            staged.mkdir()
            shutil.copy2(built, staged / "libqualedge.so")
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
