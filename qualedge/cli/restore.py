"""``qualedge restore IMAGE|FOLDER -o OUT``: quality-aware tiled super-resolution with a bundle (the main job),
optionally preceded by AdaQual-Diff restoration (``--restore-bundle``)."""

from __future__ import annotations

import argparse
import sys


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("-o", "--output", required=True, help="output file (for a file) or folder (for a folder)")
    p.add_argument(
        "--bundle", help="bundle folder from 'qualedge export' (default: the embedded default, built on first use)"
    )
    p.add_argument(
        "--restore-bundle",
        help="restoration bundle ('qualedge export-restore', or 'default'): restore composite "
        "degradations (rain, haze, snow, low light) with AdaQual-Diff first, then super-resolve",
    )
    p.add_argument(
        "--restore-mode",
        choices=("unrolled", "loop"),
        default="loop",
        help="the per-step graph run K times (default: the faster on a 2-core Zen 4 CPU, 1.12x the unrolled graph on the native "
        "engine and even on ONNX Runtime, benchmarks/results/latency_cpu.md) or the K-step graph unrolled; same output",
    )
    p.add_argument("--no-sr", action="store_true", help="with --restore-bundle: restoration only, no super-resolution")
    p.add_argument(
        "--seed",
        type=int,
        help="seed of the random routing policy and of the restoration noise (default: the bundle's)",
    )
    p.add_argument(
        "--policy",
        choices=("adaptive", "random", "compact", "heavy"),
        default="adaptive",
        help="tile routing: adaptive (the bundle's routing score), random (the control: the same budget on random "
        "tiles, seeded by --seed), compact or heavy only (default: adaptive)",
    )
    p.add_argument(
        "--heavy-fraction",
        type=float,
        metavar="F",
        help="share of tiles in [0, 1] sent to the heavy model: those with the highest routing score (adaptive) "
        "or random ones (random); default: the bundle's",
    )
    p.add_argument(
        "--router",
        help="routing score of the adaptive policy: a router model of the bundle (the default bundle's "
        "'router', the gain head), or quality, gradient, variance, edges (default: the bundle's)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="the other way to route (adaptive): tiles whose quality in [0, 1] is below it go to the heavy model",
    )
    p.add_argument("--tile", type=int, help="tile size in input pixels (default: automatic)")
    p.add_argument("--overlap", type=int, help="tile overlap in input pixels (default: the bundle's, 16)")
    p.add_argument("--batch", type=int, default=4, help="tiles per inference call (4)")
    p.add_argument(
        "--engine",
        choices=("auto", "native", "python"),
        default="auto",
        help="SR stage: native (libqualedge, C++ over OpenVINO, no Python), python (ONNX Runtime/PyTorch/TensorRT), "
        "or auto (default): native where the bundle and options allow it",
    )
    p.add_argument("--backend", choices=("ort", "torch", "trt"), default="ort", help="backend of the Python engine")
    p.add_argument("--device", default="cpu", help="cpu, cuda (or tensorrt with --backend ort)")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16", "int8"),
        help="model precision (default: the bundle's, fp32); bf16: "
        "the native engine on CPUs with AVX512_BF16/AMX; fp16: the Python engine; int8: a bundle exported with --precision int8",
    )
    p.add_argument("--quality-weighting", action="store_true", help="weight overlapping tiles by their quality")
    p.add_argument("--decision-map", action="store_true", help="also write <output>.decisions.png")
    p.add_argument("--threads", type=int, help="inference threads")
    p.add_argument("--ext", help="output extension for folder runs (default: the input's)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (95)")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument(
        "--json", action="store_true", help="print a JSON summary per image (times per stage, tiles, decisions)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        help="refuse inputs with more pixels than this (default: QUALEDGE_MAX_PIXELS or "
        "the built-in limit), checked from the header before decoding",
    )
    p.add_argument(
        "--fail-fast",
        action="store_true",
        help="folder runs: stop at the first file that fails (default: go on, "
        "report every failed file at the end and exit 1)",
    )
    p.add_argument(
        "--metadata",
        choices=("keep", "strip"),
        default="keep",
        help="write the input's ICC profile, EXIF (orientation "
        "reset, new size), XMP and resolution into the output (keep, default) or not; what the output format cannot "
        "hold is listed in the summary",
    )
    p.add_argument(
        "--dpi",
        choices=("scale", "keep"),
        default="scale",
        help="output resolution: scaled with the upscale factor so the printed size stays (default), or kept",
    )
    p.add_argument(
        "--colour",
        "--color",
        dest="colour",
        choices=("as-is", "convert"),
        default="as-is",
        help="as-is (default): the "
        "models see the pixel values as stored; convert: from the input's ICC profile to sRGB for the models and back "
        "(8-bit inputs)",
    )
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:

    from qualedge.errors import ConfigError
    from qualedge.runtime import restore
    from qualedge.runtime.restorer import RestoreOptions

    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.no_sr and not args.restore_bundle:
        raise ConfigError(
            "--no-sr needs --restore-bundle (without restoration and super-resolution there is nothing to do)"
        )
    opts = RestoreOptions(
        tile=args.tile, overlap=args.overlap, batch=args.batch, backend=args.backend, device=args.device,
        precision=args.precision, policy=args.policy, heavy_fraction=args.heavy_fraction, threshold=args.threshold,
        seed=args.seed, router=args.router, quality_weighting=args.quality_weighting, threads=args.threads,
    )  # fmt: skip
    rb = args.restore_bundle
    if rb == "default":
        from qualedge.export.defaults import ensure_default_restore_bundle

        rb = ensure_default_restore_bundle(log=log)
    bundle = None
    if not args.no_sr:
        bundle = args.bundle
        if bundle is None:
            from qualedge.export.defaults import ensure_default_bundle

            bundle = ensure_default_bundle(log=log)
    summaries = restore(
        args.input, args.output, bundle=bundle, restore_bundle=rb, options=opts,
        engine="python" if args.decision_map and args.engine == "auto" else args.engine, restore_mode=args.restore_mode,
        seed=args.seed, log=log, overwrite=args.overwrite, json_lines=args.json, decision_map=args.decision_map, ext=args.ext,
        progress=not args.no_progress, quality=args.quality, fail_fast=args.fail_fast, max_pixels=args.max_pixels,
        metadata=args.metadata == "keep", dpi=args.dpi, colour=args.colour,
    )  # fmt: skip
    from qualedge.runtime.batch import failures

    failed = failures(summaries)
    if not args.json:
        done = [s for s in summaries if "skipped" not in s and "error" not in s]
        for s in done:
            t = s["times_s"]
            print(f"{s['input_file']} -> {s['output_file']}: {s['input'][0]}x{s['input'][1]} -> {s['output'][0]}x{s['output'][1]}, "
                  f"{s['tiles']['rows'] * s['tiles']['cols']} tiles {s.get('decisions', '')}, {t['end_to_end']:.2f} s")  # fmt: skip
            for lost in s.get("metadata", {}).get("lost", []):
                print(f"  warning: {s['output_file']} does not keep the input's {lost}", file=sys.stderr)
        skipped = len(summaries) - len(done) - len(failed)
        if skipped:
            print(f"{skipped} output(s) existed and were skipped (--overwrite to redo)")
    if failed:
        print(f"{len(failed)} of {len(summaries)} file(s) failed:", file=sys.stderr)
        for s in failed:
            print(f"  {s['input_file']}: {s['error']}", file=sys.stderr)
        return 1
    return 0
