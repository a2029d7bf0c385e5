"""One device check: correctness, then timing, of everything GPU-specific, on the same card in one run.

    python -m qualedge.benchmarks.device_check [--dry] [--out benchmarks/results/device_check]

Sections (each fast path is compared with the fp32 reference before it is timed; a path that fails its check is
reported and not timed):
1. environment: card, driver, CUDA, torch, Triton; the card's measured bf16 dense matmul peak (TFLOP/s);
2. SR end to end on a 2048x2048 photo for realesrgan-x4plus (RRDBNet) and realesr-animevideov3 (compact):
   the Real-ESRGAN-style baseline (PyTorch eager fp16, tile 128, pad 10, batch 1, host image in and out) against
   qualedge's device pipeline (fp16 channels_last, tile 512, batch 4, fused Triton blend, one upload and one
   download) in eager and ``torch.compile`` (CUDA graphs) forms; RRDBNet convolution throughput as a share of the
   matmul peak (FLOPs counted with ``torch.utils.flop_counter``);
3. the fused Triton blend against an unfused PyTorch blend (per-tile weighted accumulation, normalise, clamp,
   quantise) on the 8192x8192 output's tile grid;
4. AdaQual-Diff: the unrolled K-step sampler against the per-step loop (eager and compiled), batch of 256-pixel tiles.
Targets (ratios in one run on one card): end to end >= 2x the eager fp16 baseline; RRDBNet >= 40 % of the matmul
peak; fused blend >= 10x unfused; unrolled 2-step >= 1.3x the loop.

``--dry`` (automatic without CUDA): the same code on the CPU with small sizes (256x256 input, bf16 instead of fp16,
the Triton kernel in its interpreter, no compilation), to check that every path runs and agrees; its timings say
nothing about a GPU. Writes ``<out>-<gpu|cpu-dry>.json`` and ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"e2e_vs_eager_fp16": 2.0, "rrdb_share_of_matmul_peak": 0.40, "blend_fused_vs_unfused": 10.0, "unrolled_vs_loop": 1.3}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timeit(fn: Callable[[], Any], device: str, *, repeats: int, warmup: int = 1) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        ts.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "repeats": repeats}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def environment(device: str) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"device": device, "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        env.update(card=p.name, memory_gib=round(p.total_memory / 2**30, 1), capability=f"{p.major}.{p.minor}", cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
        try:
            env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            env["driver"] = None
    else:
        env["card"] = f"CPU ({platform.processor() or platform.machine()}), dry run"
    return env


def matmul_peak(device: str, n: int, repeats: int) -> dict[str, float]:
    import torch

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    t = timeit(lambda: a @ b, device, repeats=repeats, warmup=2)
    return {"n": n, "tflops": 2 * n**3 / t["min_s"] / 1e12, **t}


def model_flops(model, x) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        model(x)
    return int(fc.get_total_flops())


def sr_section(model_id: str, img: np.ndarray, *, device: str, dtype, compile_: bool, repeats: int, tile: int, batch: int, blend: str = "triton") -> dict[str, Any]:
    import torch
    from qualedge.benchmarks.baseline import realesrgan_style
    from qualedge.runtime.device_pipeline import restore_on_device

    from qualedge.weights.zoo import load_pretrained

    model, desc = load_pretrained(model_id)
    s = desc.scale
    ref_model = model.float().to(device).eval()
    # Each path is checked against the fp32 run of the same tiling, so the check measures precision, compilation and
    # the fused blend, not the (legitimate) difference between two tile plans; that difference is reported apart.
    ref, _ = realesrgan_style(ref_model, img, scale=s, tile=128, tile_pad=10, device=device, dtype=torch.float32)
    ref_pipe = restore_on_device(ref_model, img, scale=s, tile=tile, overlap=16, batch=batch, multiple=desc.size.multiple_of,
                                 blend="numpy", device=device, dtype=torch.float32).cpu().numpy()  # fmt: skip
    res: dict[str, Any] = {"model": model_id, "input": list(img.shape[:2][::-1]), "paths": {}, "tilings_psnr_db": psnr(ref_pipe, ref)}
    low = ref_model.to(dtype)

    def baseline():
        return realesrgan_style(low, img, scale=s, tile=128, tile_pad=10, device=device, dtype=dtype)[0]

    fast = ref_model.to(dtype).to(memory_format=torch.channels_last)

    def pipeline(m):
        def run():
            return restore_on_device(m, img, scale=s, tile=tile, overlap=16, batch=batch, multiple=desc.size.multiple_of, blend=blend, device=device, dtype=dtype).cpu().numpy()

        return run

    paths: dict[str, Callable[[], np.ndarray]] = {"baseline eager (tile 128, pad 10)": baseline, "qualedge device pipeline eager": pipeline(fast)}
    if compile_:
        paths["qualedge device pipeline compiled"] = pipeline(torch.compile(fast, mode="reduce-overhead", dynamic=False))
    for name, fn in paths.items():
        entry: dict[str, Any] = {}
        try:
            out = fn()
            entry["psnr_vs_fp32_db"] = psnr(out, ref if name.startswith("baseline") else ref_pipe)
            entry["checked"] = entry["psnr_vs_fp32_db"] >= 40.0
            if entry["checked"]:
                entry.update(timeit(fn, device, repeats=repeats))
        except Exception as exc:  # a path that cannot run on this card is reported, not fatal
            entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        res["paths"][name] = entry
    base = res["paths"]["baseline eager (tile 128, pad 10)"].get("median_s")
    timed = {k: v for k, v in res["paths"].items() if "median_s" in v and not k.startswith("baseline")}
    if base and timed:
        best = min(timed, key=lambda k: timed[k]["median_s"])
        res["best"], res["speedup_vs_baseline"] = best, base / timed[best]["median_s"]
    # convolution throughput of the model alone on the pipeline's batch of tiles
    x = torch.rand(batch, 3, tile, tile, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    flops = model_flops(fast, x)
    t = timeit(lambda: fast(x), device, repeats=repeats)
    res["throughput"] = {"batch": batch, "tile": tile, "gflop_per_call": flops / 1e9, "tflops": flops / t["min_s"] / 1e12, **t}
    return res


def unfused_blend(tiles, plan, scale: int, H: int, W: int):
    """The unfused PyTorch blend: per tile, weight window x tile accumulated into full-size float buffers, then
    normalise, clamp and quantise as separate kernels."""
    import torch
    from qualedge.runtime.blend.window import tile_weights

    dev = tiles.device
    acc = torch.zeros((3, H * scale, W * scale), dtype=torch.float32, device=dev)
    wsum = torch.zeros((1, H * scale, W * scale), dtype=torch.float32, device=dev)
    th, tw = plan.rows.tile * scale, plan.cols.tile * scale
    ry = [torch.as_tensor(tile_weights([v * scale for v in plan.rows.starts], th, i), device=dev) for i in range(plan.rows.count)]
    cx = [torch.as_tensor(tile_weights([v * scale for v in plan.cols.starts], tw, j), device=dev) for j in range(plan.cols.count)]
    for i, y0 in enumerate(plan.rows.starts):
        for j, x0 in enumerate(plan.cols.starts):
            w = ry[i][:, None] * cx[j][None, :]
            acc[:, y0 * scale : y0 * scale + th, x0 * scale : x0 * scale + tw] += tiles[i, j] * w
            wsum[:, y0 * scale : y0 * scale + th, x0 * scale : x0 * scale + tw] += w
    return torch.floor((acc / wsum).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0)


def blend_section(*, device: str, size: int, scale: int, tile: int, repeats: int) -> dict[str, Any]:
    import torch
    from qualedge.runtime.blend.triton_kernel import blend_triton
    from qualedge.runtime.blend.window import axis_map
    from qualedge.runtime.tiling import plan_tiles

    plan = plan_tiles(size, size, tile, 16)
    g = torch.Generator(device=device).manual_seed(0)
    tiles = torch.rand((plan.rows.count, plan.cols.count, 3, plan.rows.tile * scale, plan.cols.tile * scale), generator=g, device=device)
    rows = axis_map(plan.rows.starts, plan.rows.tile, size, scale=scale)
    cols = axis_map(plan.cols.starts, plan.cols.tile, size, scale=scale)
    fused = blend_triton(tiles, rows, cols)
    unf = unfused_blend(tiles, plan, scale, size, size)
    diff = int((fused.int() - unf.int()).abs().max())
    res: dict[str, Any] = {"output": [size * scale, size * scale], "tiles": [plan.rows.count, plan.cols.count], "max_level_diff": diff, "checked": diff <= 1}
    if res["checked"]:
        res["fused"] = timeit(lambda: blend_triton(tiles, rows, cols), device, repeats=repeats)
        res["unfused"] = timeit(lambda: unfused_blend(tiles, plan, scale, size, size), device, repeats=repeats)
        res["speedup"] = res["unfused"]["median_s"] / res["fused"]["median_s"]
    return res


def diffusion_section(*, device: str, tile: int, batch: int, steps: int, compile_: bool, repeats: int, preset: str) -> dict[str, Any]:
    import torch
    from qualedge.export.defaults import RESTORE_WEIGHTS

    from qualedge.archs import get_arch
    from qualedge.diffusion import StepDenoiser, UnrolledSampler, sample_loop

    if RESTORE_WEIGHTS.is_file():
        from qualedge.weights.load import load_state_dict

        sd = load_state_dict(RESTORE_WEIGHTS)
        spec = get_arch("adaqual_unet")
        net, desc = spec.build(**spec.infer(sd))
        net.load_state_dict(sd)
        source = "embedded default weights"
    else:
        torch.manual_seed(0)
        net, desc = get_arch("adaqual_unet").build(preset)
        source = f"random {preset} preset"
    net = net.to(device).eval()
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 3, tile, tile, device=device, generator=g)
    q = torch.rand(batch, 1, tile // 16, tile // 16, device=device, generator=g)
    noise = torch.randn(batch, 3, tile, tile, device=device, generator=g).clamp(-1, 1)
    step, unrolled = StepDenoiser(net), UnrolledSampler(net, steps)
    res: dict[str, Any] = {"model": source, "params_m": desc.param_count / 1e6, "tile": tile, "batch": batch, "steps": steps, "forms": {}}
    with torch.inference_mode():
        ref = unrolled(x, q, noise)
    forms = {"eager": (step, unrolled)}
    if compile_:
        forms["compiled"] = (torch.compile(step, mode="reduce-overhead", dynamic=False), torch.compile(unrolled, mode="reduce-overhead", dynamic=False))
    for name, (st, un) in forms.items():
        e: dict[str, Any] = {}
        try:
            with torch.inference_mode():
                loop_out = sample_loop(st, x, q, noise, steps)
                un_out = un(x, q, noise)
            e["max_abs_loop_vs_ref"] = float((loop_out - ref).abs().max())
            e["max_abs_unrolled_vs_ref"] = float((un_out - ref).abs().max())
            e["checked"] = max(e["max_abs_loop_vs_ref"], e["max_abs_unrolled_vs_ref"]) <= 1e-3
            if e["checked"]:
                with torch.inference_mode():
                    e["loop"] = timeit(lambda st=st: sample_loop(st, x, q, noise, steps), device, repeats=repeats)
                    e["unrolled"] = timeit(lambda un=un: un(x, q, noise), device, repeats=repeats)
                e["speedup"] = e["loop"]["median_s"] / e["unrolled"]["median_s"]
        except Exception as exc:
            e["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        res["forms"][name] = e
    return res


def markdown(res: dict[str, Any]) -> str:
    env, t = res["environment"], TARGETS
    dry = res["dry"]
    lines = [f"# Device check: {'CPU dry run' if dry else env.get('card')}", ""]
    if dry:
        lines += ["**Dry run on the CPU**: no GPU was available. Every path ran and was checked against its fp32 reference, but the",
                  "timings below are CPU timings at small sizes and say nothing about the GPU targets.", ""]  # fmt: skip
    lines.append("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items() if v is not None))
    mm = res["matmul"]
    lines += ["", f"Measured bf16 dense matmul peak: {mm['tflops']:.2f} TFLOP/s (n = {mm['n']}).", "",
              "| model | input | path | vs fp32 (dB) | median s | vs baseline |", "|---|---|---|---|---|---|"]  # fmt: skip
    for sr in res["sr"]:
        base = sr["paths"]["baseline eager (tile 128, pad 10)"].get("median_s")
        for name, p in sr["paths"].items():
            if "error" in p:
                lines.append(f"| {sr['model']} | {sr['input'][0]}x{sr['input'][1]} | {name} | failed: {p['error'][:80]} | | |")
                continue
            ratio = f"{base / p['median_s']:.2f}x" if base and "median_s" in p else ""
            med = f"{p['median_s']:.3f}" if "median_s" in p else "not timed (check failed)"
            lines.append(f"| {sr['model']} | {sr['input'][0]}x{sr['input'][1]} | {name} | {p['psnr_vs_fp32_db']:.1f} | {med} | {ratio} |")
    lines += ["", "vs fp32: PSNR against the fp32 run of the same tiling (baseline: tile 128 + pad 10; device pipeline: its own plan). "
              "The two fp32 tilings differ from each other by " + ", ".join(f"{sr['tilings_psnr_db']:.1f} dB ({sr['model']})" for sr in res["sr"]) + "."]  # fmt: skip
    b = res["blend"]
    lines += ["", f"Blend on a {b['output'][0]}x{b['output'][1]} output ({b['tiles'][0]}x{b['tiles'][1]} tiles): fused vs unfused max difference "
              f"{b['max_level_diff']} level(s)" + (f"; fused {b['fused']['median_s'] * 1e3:.2f} ms, unfused {b['unfused']['median_s'] * 1e3:.2f} ms, "
              f"{b['speedup']:.1f}x." if "speedup" in b else ".")]  # fmt: skip
    d = res["diffusion"]
    lines += ["", f"AdaQual-Diff ({d['model']}, {d['params_m']:.2f} M parameters), {d['batch']} tiles of {d['tile']} px, K = {d['steps']}:", ""]
    for name, e in d["forms"].items():
        if "speedup" in e:
            lines.append(f"- {name}: loop {e['loop']['median_s'] * 1e3:.1f} ms, unrolled {e['unrolled']['median_s'] * 1e3:.1f} ms, {e['speedup']:.2f}x.")
        else:
            lines.append(f"- {name}: {e.get('error', 'check failed')}")
    lines += ["", "## Targets", ""]
    for sr in res["sr"]:
        if "speedup_vs_baseline" in sr:
            v, goal = sr["speedup_vs_baseline"], t["e2e_vs_eager_fp16"]
            verdict = "met" if v >= goal else f"not met, gap {goal - v:.2f}x"
            lines.append(f"- {sr['model']} end to end: {v:.2f}x the eager baseline with `{sr['best']}` (target {goal}x: {verdict}).")
    rr = next((sr for sr in res["sr"] if "x4plus" in sr["model"]), None)
    if rr:
        share = rr["throughput"]["tflops"] / mm["tflops"]
        lines.append(f"- RRDBNet convolutions: {rr['throughput']['tflops']:.2f} TFLOP/s = {100 * share:.1f} % of the measured matmul peak (target 40 %: {'met' if share >= t['rrdb_share_of_matmul_peak'] else 'not met'}).")
    if "speedup" in b:
        lines.append(f"- fused blend {b['speedup']:.1f}x the unfused blend (target 10x: {'met' if b['speedup'] >= t['blend_fused_vs_unfused'] else 'not met'}).")
    best = max((e["speedup"] for e in d["forms"].values() if "speedup" in e), default=None)
    if best is not None:
        lines.append(f"- unrolled {d['steps']}-step sampler {best:.2f}x the step loop (target 1.3x: {'met' if best >= t['unrolled_vs_loop'] else 'not met'}).")
    if dry:
        lines.append("- (dry run: ratios measured on the CPU; the targets are GPU targets and are not judged by this run)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qualedge bench device-check", description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="CPU dry run with small sizes (automatic without CUDA)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "device_check"), help="output path stem")
    ap.add_argument("--repeats", type=int, help="timed runs per path (GPU 10, dry 2)")
    ap.add_argument("--size", type=int, help="input side for the SR section (GPU 2048, dry 128)")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: sr,blend,diffusion")
    args = ap.parse_args(argv)
    import torch

    dry = args.dry or not torch.cuda.is_available()
    if dry:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # the Triton kernel on the CPU (must be set before triton is imported)
    device = "cpu" if dry else "cuda"
    if not dry:
        torch.backends.cudnn.benchmark = True
    repeats = args.repeats or (2 if dry else 10)
    size = args.size or (128 if dry else 2048)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    dtype = torch.bfloat16 if dry else torch.float16
    from qualedge.data.resize import imresize
    from qualedge.io import read_image

    photo = REPO / "qualedge" / "assets" / "images" / "example.png"
    rgb = read_image(photo).rgb
    img = np.clip(imresize(rgb, size / min(rgb.shape[:2])), 0, 1)[:size, :size].astype(np.float32)
    res: dict[str, Any] = {"dry": dry, "date": time.strftime("%Y-%m-%d %H:%M"), "environment": environment(device), "targets": TARGETS}
    print(f"device check on {res['environment']['card']} ({'dry' if dry else 'GPU'})", flush=True)
    res["matmul"] = matmul_peak(device, 1024 if dry else 8192, repeats)
    res["sr"] = []
    if "sr" not in skip:
        for mid in ("realesrgan-x4plus", "realesr-animevideov3"):
            t0 = time.perf_counter()
            res["sr"].append(sr_section(mid, img, device=device, dtype=dtype, compile_=not dry, repeats=repeats, tile=64 if dry else 512, batch=4))
            print(f"  {mid}: {time.perf_counter() - t0:.0f} s", flush=True)
    if "blend" not in skip:
        res["blend"] = blend_section(device=device, size=128 if dry else 2048, scale=4, tile=64 if dry else 512, repeats=repeats)
    if "diffusion" not in skip:
        res["diffusion"] = diffusion_section(device=device, tile=64 if dry else 256, batch=2 if dry else 8, steps=2, compile_=not dry, repeats=repeats, preset="tiny" if dry else "default")
    from qualedge.atomic import atomic_write_json, atomic_write_text

    stem = Path(f"{args.out}-{'cpu-dry' if dry else 'gpu'}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stem.with_suffix(".json"), res)
    text = markdown(res) if {"sr", "blend", "diffusion"}.isdisjoint(skip) else json.dumps(res, indent=1, default=str)
    atomic_write_text(stem.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
