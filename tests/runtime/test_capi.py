"""The native C ABI (C++ over OpenVINO, no Python): built by the project, linked by a C program compiled with the
system compiler and run with an empty environment; it matches the Python API (ONNX Runtime) to >= 50 dB on a real
photo, misuse returns status codes, eight threads agree; the Python wrapper uses the same library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from qualedge.runtime.restorer import RestoreOptions, Restorer

from qualedge.io import read_image

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def capi(tmp_path_factory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    from qualedge.runtime.capi_build import build_capi

    out = tmp_path_factory.mktemp("capi")
    lib, header = build_capi(out)
    assert lib.is_file() and header.read_text().count("qe_restore") >= 1
    assert any(p.name.startswith("libopenvino.so") for p in out.iterdir())  # the engine's libraries travel with it
    linked = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
    assert "libpython" not in linked, linked  # no Python inside
    for name in ("capi_main", "capi_chain"):
        subprocess.run(
            ["cc", "-O2", f"-I{out}", str(HERE / f"{name}.c"), f"-L{out}", "-lqualedge", f"-Wl,-rpath,{out}", "-lpthread", "-lm", "-o", str(out / name)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return out


def _pixels(example_path: Path) -> tuple[np.ndarray, np.ndarray]:
    img = read_image(example_path)
    u8 = (np.clip(img.rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    return u8, img


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10((255.0 if a.dtype == np.uint8 else 65535.0) ** 2 / mse)


def test_c_program_in_an_empty_environment_matches_the_python_api(capi: Path, bundle: Path, example_path: Path, tmp_path: Path) -> None:
    u8, img = _pixels(example_path)
    raw_in, raw_out = tmp_path / "in.raw", tmp_path / "out.raw"
    u8.tofile(raw_in)
    h, w, c = u8.shape
    cmd = ["env", "-i", str(capi / "capi_main"), str(bundle), str(raw_in), str(w), str(h), str(c), str(raw_out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "8 threads identical" in r.stdout
    ref = Restorer(bundle, RestoreOptions(tile=64)).restore(img).pixels
    got = np.fromfile(raw_out, dtype=np.uint8).reshape(ref.shape)
    assert psnr(got, ref) >= 50


def test_python_wrapper_over_the_same_library(capi: Path, bundle: Path, example_path: Path) -> None:
    from qualedge.runtime.capi_wrapper import CAPIError, CRestorer

    u8, img = _pixels(example_path)
    w = CRestorer(capi / "libqualedge.so", bundle, tile=64)
    assert w.scale == 4
    ref = Restorer(bundle, RestoreOptions(tile=64)).restore(img).pixels
    assert psnr(w.restore(u8), ref) >= 50
    with pytest.raises(CAPIError, match="status 3"):
        CRestorer(capi / "libqualedge.so", bundle.parent / "missing")
    w.close()


def test_routing_options_through_the_c_abi(capi: Path, bundle: Path, example_path: Path) -> None:
    """QE_POLICY_RANDOM with heavy_fraction and seed gives the Python API's output; a caller built against the first
    release's shorter qe_options (struct_size ends at threshold) still works; bad fractions are refused."""
    import ctypes

    from qualedge.runtime.capi_wrapper import ABI_VERSION, CAPIError, CRestorer, QeOptions

    u8, img = _pixels(example_path)
    w = CRestorer(capi / "libqualedge.so", bundle, tile=64, policy=3, heavy_fraction=0.5, seed=5)
    ref = Restorer(bundle, RestoreOptions(tile=64, policy="random", heavy_fraction=0.5, seed=5)).restore(img)
    assert ref.summary["routing"]["heavy_tiles"] >= 1
    assert psnr(w.restore(u8), ref.pixels) >= 50  # the same tiles drawn: numpy's generator, bit for bit
    w.close()
    with pytest.raises(CAPIError, match="heavy_fraction must be in"):
        CRestorer(capi / "libqualedge.so", bundle, tile=64, heavy_fraction=1.5)
    with pytest.raises(CAPIError, match="either heavy_fraction .* or threshold"):
        CRestorer(capi / "libqualedge.so", bundle, tile=64, heavy_fraction=0.5, threshold=0.5)

    lib = ctypes.CDLL(str(capi / "libqualedge.so"))
    opts = QeOptions()
    assert lib.qe_options_init(ctypes.byref(opts)) == 0
    opts.struct_size = QeOptions.threshold.offset + 4  # the first release's sizeof(qe_options)
    opts.tile = 64
    handle = ctypes.c_void_p()
    lib.qe_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(QeOptions), ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
    assert lib.qe_create(str(bundle).encode(), ctypes.byref(opts), ABI_VERSION, ctypes.byref(handle)) == 0
    lib.qe_destroy.argtypes = [ctypes.c_void_p]
    lib.qe_destroy(handle)
    opts.struct_size = 3
    assert lib.qe_create(str(bundle).encode(), ctypes.byref(opts), ABI_VERSION, ctypes.byref(handle)) == 1


def test_one_abi_version() -> None:
    """The C header's QE_ABI_VERSION, the Python wrapper's and the bundle contract's are the same number."""
    from qualedge.runtime.capi_build import header_abi
    from qualedge.runtime.capi_wrapper import ABI_VERSION as wrapper_abi

    from qualedge.bundle import ABI_VERSION

    assert header_abi() == wrapper_abi == ABI_VERSION


def test_c_abi_under_address_and_undefined_behaviour_sanitizers(bundle: Path, rbundle: Path, example_path: Path, tmp_path: Path) -> None:
    """The C test programs and a fuzz run (2000 calls with random sizes, strides, formats, struct sizes and NULLs at
    every entry point, the chain's included) against the sanitizer build: no sanitizer report, every call returns a
    status."""
    import os

    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    from qualedge.runtime.native_build import copy_capi

    out = tmp_path / "asan"
    copy_capi(out, sanitize=True)
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", f"-I{out}"]
    link = [str(HERE / "sanitizer_dlopen.c"), f"-L{out}", "-lqualedge", f"-Wl,-rpath,{out}", "-ldl", "-lpthread"]
    for name in ("capi_main", "capi_fuzz", "capi_chain"):
        r = subprocess.run(["cc", *flags, str(HERE / f"{name}.c"), *link, "-lm", "-o", str(out / name)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    env = {"HOME": os.environ.get("HOME", "/"), "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=24"}  # fmt: skip
    u8, _ = _pixels(example_path)
    raw_in = tmp_path / "in.raw"
    u8.tofile(raw_in)
    h, w, c = u8.shape
    r = subprocess.run([str(out / "capi_main"), str(bundle), str(raw_in), str(w), str(h), str(c), str(tmp_path / "out.raw")],
                       capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert r.returncode == 0 and "8 threads identical" in r.stdout, r.stdout + r.stderr[-3000:]
    r = subprocess.run([str(out / "capi_chain"), str(rbundle), str(bundle), str(raw_in), str(w), str(h), str(c), "3", str(tmp_path / "r.raw"),
                        str(tmp_path / "c.raw")], capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert r.returncode == 0 and "capi chain ok" in r.stdout, r.stdout + r.stderr[-3000:]
    r = subprocess.run([str(out / "capi_fuzz"), str(bundle), "2000", "7", str(rbundle)], capture_output=True, text=True, env=env, timeout=1200)
    assert r.returncode == 0 and "fuzz ok: 2000 calls" in r.stdout, r.stdout + r.stderr[-3000:]
    assert "runtime error" not in r.stderr and "AddressSanitizer" not in r.stderr, r.stderr[-3000:]


def test_c_program_restores_a_degraded_photo_and_chains_it_with_x4(capi: Path, rbundle: Path, bundle: Path, example_path: Path, tmp_path: Path) -> None:
    """A restoration bundle through the C ABI in an empty environment: the degraded photo restored (same seed, same
    bytes) and chained with x4 in one call, both matching the Python runtime (>= 45 dB)."""
    from qualedge.runtime.chain import Chain
    from qualedge.runtime.diffusion_restorer import DiffusionRestorer

    from qualedge.data.degradations.composite import composite
    from qualedge.io import Image

    img = read_image(example_path)
    deg = Image(rgb=composite(img.rgb, "low_haze_rain", np.random.default_rng(11)))
    u8 = (np.clip(deg.rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    deg = Image(rgb=u8.astype(np.float32) / 255.0)
    raw_in, raw_rest, raw_chain = tmp_path / "in.raw", tmp_path / "restored.raw", tmp_path / "chain.raw"
    u8.tofile(raw_in)
    h, w, c = u8.shape
    cmd = ["env", "-i", str(capi / "capi_chain"), str(rbundle), str(bundle), str(raw_in), str(w), str(h), str(c), "7", str(raw_rest), str(raw_chain)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    restored = np.fromfile(raw_rest, np.uint8).reshape(h, w, c)
    ref = DiffusionRestorer(rbundle, RestoreOptions(), seed=7).restore(deg).pixels
    assert psnr(restored, ref) >= 45.0, psnr(restored, ref)
    chained = np.fromfile(raw_chain, np.uint8).reshape(h * 4, w * 4, c)
    ref_chain = Chain(DiffusionRestorer(rbundle, RestoreOptions(), seed=7), Restorer(bundle, RestoreOptions(tile=64))).restore(deg).pixels
    assert psnr(chained, ref_chain) >= 45.0, psnr(chained, ref_chain)
