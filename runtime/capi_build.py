"""Build the C ABI library: ``libqualedge.so`` (cffi embedding mode) plus ``qualedge.h``.

    qualedge build-capi -o DIR

The library embeds CPython: it links ``libpython`` (rpath to its folder) and, when loaded by a C program, starts
Python, puts the package paths of the building interpreter on ``sys.path`` (plus ``QUALEDGE_PYTHONPATH``), and imports
qualedge's C-ABI implementation. Loaded into a running Python process it uses that interpreter instead.
"""

from __future__ import annotations

import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

from qualedge._version import __version__
from qualedge.errors import BackendUnavailableError

HERE = Path(__file__).resolve().parent
EMBEDDED = """
int qe__py_create(const char *bundle, int32_t tile, int32_t overlap, int32_t batch, int32_t threads, int32_t policy,
                  float threshold, float heavy_fraction, int64_t seed, int64_t *handle, int32_t *scale);
int qe__py_restore(int64_t handle, const void *in_data, int32_t width, int32_t height, int64_t in_stride, int32_t format,
                   void *out_data, int32_t out_width, int32_t out_height, int64_t out_stride);
int qe__py_destroy(int64_t handle);
"""


def _init_code(paths: list[str]) -> str:
    return f"""
import os, site, sys
for p in {paths!r} + [q for q in os.environ.get("QUALEDGE_PYTHONPATH", "").split(os.pathsep) if q]:
    if p not in sys.path:
        site.addsitedir(p) if p.endswith("site-packages") else sys.path.append(p)
from _qualedge_capi import ffi, lib
from qualedge.runtime.capi_impl import install
install(ffi, lib)
"""


def header_abi() -> int:
    """QE_ABI_VERSION of include/qualedge.h, checked against the one ABI version (qualedge.bundle.ABI_VERSION)."""
    import re

    from qualedge.bundle import ABI_VERSION

    m = re.search(r"#define\s+QE_ABI_VERSION\s+(\d+)u?", (HERE / "include" / "qualedge.h").read_text())
    if m is None or int(m.group(1)) != ABI_VERSION:
        raise BackendUnavailableError(
            f"include/qualedge.h defines QE_ABI_VERSION {m.group(1) if m else '(none)'}, the bundle contract is ABI {ABI_VERSION}: "
            "change both together"
        )
    return ABI_VERSION


def build_capi(out_dir: str | Path) -> tuple[Path, Path]:
    """Compile the library into ``out_dir``; returns (library path, header path)."""
    try:
        import cffi
    except ImportError as exc:  # pragma: no cover - cffi is a dependency
        raise BackendUnavailableError("cffi is needed to build the C ABI: pip install cffi") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise BackendUnavailableError(
            f"this Python ({sys.executable}) is not built with a shared libpython, which the C ABI library embeds. "
            "Use a Python built with --enable-shared (distribution packages are)."
        )
    pylib = ldlib[3:].split(".so")[0] if ldlib.startswith("lib") else f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths = [p for p in sys.path if p and Path(p).is_dir()] + [p for p in site.getsitepackages() if Path(p).is_dir()]
    header_abi()  # the header and the bundle contract must agree before anything is built
    ffi = cffi.FFI()
    ffi.embedding_api(EMBEDDED)
    ffi.cdef("void qe__set_error(const char *msg);")
    ffi.set_source(
        "_qualedge_capi",
        (HERE / "csrc" / "capi_shim.c").read_text(),
        include_dirs=[str(HERE / "include")],
        extra_compile_args=["-O2", f'-DQE_VERSION_STR="{__version__}"'],
        extra_link_args=[f"-L{libdir}", f"-l{pylib}", f"-Wl,-rpath,{libdir}"],
    )
    ffi.embedding_init_code(_init_code(list(dict.fromkeys(paths))))
    with tempfile.TemporaryDirectory(prefix="qualedge-capi-") as tmp:
        built = Path(ffi.compile(tmpdir=tmp, target="libqualedge.*", verbose=False))
        lib = out / "libqualedge.so"
        tmp_lib = out / ".libqualedge.so.partial"
        shutil.copy(built, tmp_lib)
        tmp_lib.replace(lib)
    header = out / "qualedge.h"
    shutil.copy(HERE / "include" / "qualedge.h", header)
    return lib, header
