"""Build and load small C extensions with cffi (API mode), once per machine, cached under ``<cache>/native``.

Used by the CPU blend kernel. The cache key covers the C source, the declarations, the Python version and the cffi
version; a build goes to a temporary folder and is renamed into place, so concurrent or interrupted builds never
leave a half-built module. OpenMP is used when the compiler supports it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from qualedge import paths
from qualedge.errors import BackendUnavailableError

_LOCK = threading.Lock()
_LOADED: dict[str, ModuleType] = {}
CSRC = Path(__file__).resolve().parent / "csrc"


def _key(name: str, cdef: str, source: str) -> str:
    import cffi

    h = hashlib.sha256()
    for part in (name, cdef, source, sys.version, cffi.__version__):
        h.update(part.encode())
    return h.hexdigest()[:16]


def _compile(module: str, cdef: str, source: str, folder: Path, openmp: bool) -> None:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    args = ["-O3", "-march=x86-64-v2" if os.uname().machine == "x86_64" else "-O3"]
    ffi.set_source(module, source, extra_compile_args=args + (["-fopenmp"] if openmp else []), extra_link_args=["-fopenmp"] if openmp else [])
    ffi.compile(tmpdir=str(folder), verbose=False)


def load_extension(name: str, cdef: str, source_file: str) -> ModuleType:
    """Compile (first time) and import the extension ``name`` from ``runtime/csrc/<source_file>``."""
    with _LOCK:
        if name in _LOADED:
            return _LOADED[name]
        source = (CSRC / source_file).read_text()
        key = _key(name, cdef, source)
        module = f"_qualedge_{name}_{key}"
        target = paths.cache_dir() / "native" / module
        so = next(target.glob(f"{module}*.so"), None) if target.is_dir() else None
        if so is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{module}.", dir=target.parent))
            errors = []
            try:
                for openmp in (True, False):
                    try:
                        _compile(module, cdef, source, tmp, openmp)
                        break
                    except Exception as exc:  # compiler missing or flag unsupported
                        errors.append(f"{'with' if openmp else 'without'} OpenMP: {type(exc).__name__}: {exc}")
                else:
                    raise BackendUnavailableError(
                        f"could not compile the C kernel {name} ({'; '.join(errors)[:400]}). Install a C compiler (gcc) "
                        "for the fast path."
                    )
                for junk in list(tmp.glob("*.c")) + list(tmp.glob("*.o")) + list(tmp.rglob("*.o")):
                    junk.unlink(missing_ok=True)
                try:
                    os.replace(tmp, target)
                except OSError:  # another process finished first
                    shutil.rmtree(tmp, ignore_errors=True)
            finally:
                if tmp.exists() and tmp != target:
                    shutil.rmtree(tmp, ignore_errors=True)
            so = next(target.glob(f"{module}*.so"))
        spec = importlib.util.spec_from_file_location(module, so)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _LOADED[name] = mod
        return mod
