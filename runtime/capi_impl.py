"""The Python side of the C ABI: handles, buffer views and status codes (loaded inside libqualedge.so)."""

from __future__ import annotations

import itertools
import threading
import traceback

import numpy as np

from qualedge.errors import BundleError, ConfigError, InferenceError, QualedgeError

QE_OK, QE_ERR_INVALID_ARGUMENT, QE_ERR_ABI_MISMATCH, QE_ERR_BUNDLE, QE_ERR_BUFFER_TOO_SMALL, QE_ERR_INFERENCE, QE_ERR_RUNTIME = range(7)
FORMATS = {1: (3, np.uint8), 2: (4, np.uint8), 3: (3, np.uint16), 4: (4, np.uint16)}
POLICIES = {0: "adaptive", 1: "compact", 2: "heavy", 3: "random"}

_handles: dict[int, object] = {}
_ids = itertools.count(1)
_lock = threading.Lock()


def _status(exc: BaseException) -> int:
    if isinstance(exc, BundleError):
        return QE_ERR_BUNDLE
    if isinstance(exc, InferenceError):
        return QE_ERR_INFERENCE
    if isinstance(exc, (ConfigError, ValueError)):
        return QE_ERR_INVALID_ARGUMENT
    return QE_ERR_RUNTIME


def _view(ffi, ptr, width: int, height: int, stride: int, fmt: int) -> np.ndarray:
    channels, dtype = FORMATS[fmt]
    item = np.dtype(dtype).itemsize
    nbytes = stride * (height - 1) + width * channels * item
    buf = np.frombuffer(ffi.buffer(ptr, nbytes), dtype=np.uint8)
    return np.lib.stride_tricks.as_strided(buf.view(dtype), shape=(height, width, channels), strides=(stride, channels * item, item))


def install(ffi, lib) -> None:
    """Attach the Python implementations of the qe__py_* functions."""

    def error(exc: BaseException) -> int:
        msg = str(exc) if isinstance(exc, QualedgeError) else f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        lib.qe__set_error(msg.encode("utf-8", "replace")[:2000])
        return _status(exc)

    @ffi.def_extern()
    def qe__py_create(bundle, tile, overlap, batch, threads, policy, threshold, heavy_fraction, seed, handle_out, scale_out):
        try:
            from qualedge.runtime.restorer import RestoreOptions, Restorer

            opts = RestoreOptions(
                tile=tile or None, overlap=None if overlap < 0 else overlap, batch=batch, threads=threads or None,
                policy=POLICIES[policy], threshold=None if threshold < 0 else float(threshold),
                heavy_fraction=None if heavy_fraction < 0 else float(heavy_fraction), seed=None if seed < 0 else int(seed),
            )  # fmt: skip
            r = Restorer(ffi.string(bundle).decode(), opts)
            with _lock:
                h = next(_ids)
                _handles[h] = r
            handle_out[0] = h
            scale_out[0] = r.scale
            return QE_OK
        except BaseException as exc:  # noqa: BLE001  (nothing may cross the C boundary)
            return error(exc)

    @ffi.def_extern()
    def qe__py_restore(handle, in_data, width, height, in_stride, fmt, out_data, out_w, out_h, out_stride):
        try:
            from qualedge.io import Image

            r = _handles.get(handle)
            if r is None:
                raise ConfigError(f"restorer handle {handle} is not valid (destroyed?)")
            src = _view(ffi, in_data, width, height, in_stride, fmt)
            image = Image.from_array(np.ascontiguousarray(src))
            result = r.restore(image)
            if result.pixels.shape != (out_h, out_w, FORMATS[fmt][0]):
                raise ConfigError(f"result shape {result.pixels.shape} does not match the output buffer {(out_h, out_w)}")
            _view(ffi, out_data, out_w, out_h, out_stride, fmt)[...] = result.pixels
            return QE_OK
        except BaseException as exc:  # noqa: BLE001
            return error(exc)

    @ffi.def_extern()
    def qe__py_destroy(handle):
        with _lock:
            _handles.pop(handle, None)
        return QE_OK
