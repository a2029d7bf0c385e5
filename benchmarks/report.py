"""``qualedge bench report``: a benchmark report (HTML and markdown with plots), reproducible from a config file.

    qualedge bench report [--config benchmarks/configs/report.toml] [--set key=value] [--quick] [-o DIR]

Measured in this run, on this machine:
- latency against tile size and backend: ``qualedge restore`` (the row pipeline) on one input per tile size and
  backend:precision path, medians of ``repeats`` runs after a warm-up, with the per-stage breakdown;
- quality against latency: each SR model (and bicubic) on the same input, the output's no-reference quality (the
  quality head and NIQE) against its latency;
- IQA agreement: ``iqa-eval`` on side-by-side pairs built from the input with a *known* distortion order (the less
  degraded image of a pair is preferred); this is a sanity table, not human judgement. Point ``iqa_eval_json`` at
  an ``iqa-eval`` result on human data (``qualedge iqa-eval --sbs/--hggt``) to report that instead.
Included from committed results when the files exist: the CPU latency benchmark, the paper-1 SR table, the
restoration tables, the device check. Writes ``report.md``, ``report.html``, ``report.json`` and ``plots/*.png``.
"""

from __future__ import annotations

import argparse
import html
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
STAGES = ("decode", "quality", "inference", "blend", "post", "encode")


@dataclass(frozen=True)
class ReportConfig:
    out: str = "benchmarks/report"
    input: str = ""  # default: the embedded example photo, resized to input_size
    input_size: int = 256
    models: tuple[str, ...] = ("realesr-animevideov3", "realesrgan-x4plus")
    tiles: tuple[int, ...] = (64, 128, 256)
    paths: tuple[str, ...] = ("ort:fp32", "torch:fp32", "torch:bf16")
    repeats: int = 3
    iqa_metrics: tuple[str, ...] = ("niqe", "piqe", "brisque", "qhead")
    iqa_eval_json: str = ""
    include: dict[str, str] = field(
        default_factory=lambda: {
            "CPU latency benchmark": "benchmarks/results/latency_cpu.md",
            "Paper 1: IQA-guided SR training": "benchmarks/results/paper1_experiment.md",
            "Paper 2: AdaQual-Diff restoration per type": "benchmarks/results/restore_cdd11.md",
            "Paper 2: prompt ablation": "benchmarks/results/restore_ablation.md",
            "Device check": "benchmarks/results/device_check-gpu.md",
            "Device check (CPU dry run)": "benchmarks/results/device_check-cpu-dry.md",
        }
    )


QUICK = {"input_size": 96, "models": ("realesr-animevideov3",), "tiles": (48, 96), "paths": ("ort:fp32", "torch:fp32"), "repeats": 1, "iqa_metrics": ("piqe", "qhead")}


def environment() -> dict[str, Any]:
    import onnxruntime
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.platform()} ({platform.processor() or platform.machine()})",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _input_image(cfg: ReportConfig, work: Path) -> Path:
    from qualedge.data.resize import imresize
    from qualedge.io import read_image, write_pixels

    src = Path(cfg.input) if cfg.input else REPO / "qualedge" / "assets" / "images" / "example.png"
    rgb = read_image(src).rgb
    s = cfg.input_size
    if min(rgb.shape[:2]) != s:
        rgb = np.clip(imresize(rgb, s / min(rgb.shape[:2])), 0, 1)
    rgb = rgb[:s, :s]
    p = work / "input.png"
    write_pixels(p, np.floor(rgb * 255 + 0.5).astype(np.uint8))
    return p


def latency_sweep(cfg: ReportConfig, inp: Path, work: Path, log=print) -> list[dict[str, Any]]:
    from qualedge.benchmarks.latency import bench_bundle
    from qualedge.runtime.batch import restore_file
    from qualedge.runtime.restorer import RestoreOptions, Restorer

    rows = []
    for model in cfg.models:
        bundle = bench_bundle(model)
        for path in cfg.paths:
            be, _, prec = path.partition(":")
            for tile in cfg.tiles:
                r = Restorer(bundle, RestoreOptions(tile=tile, policy="compact", backend=be, precision=prec or "fp32"))
                out = work / f"{model}-{be}-{prec}-{tile}.png"
                runs = [restore_file(r, inp, out, overwrite=True)["times_s"] for _ in range(cfg.repeats + 1)][1:]
                stages = {k: statistics.median(t.get(k, 0.0) for t in runs) for k in (*STAGES, "end_to_end")}
                rows.append({"model": model, "path": path, "tile": tile, "stages_s": stages, "output": str(out)})
                log(f"  {model} {path} tile {tile}: {stages['end_to_end']:.3f} s")
    return rows


def quality_vs_latency(cfg: ReportConfig, inp: Path, sweep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import torch

    from qualedge.data.resize import imresize
    from qualedge.errors import WeightsNotFoundError
    from qualedge.io import read_image
    from qualedge.iqa.metrics import create_metric

    try:  # NIQE needs the official parameters (data folder or pyiqa's cache); PIQE needs nothing
        nr = ("niqe", create_metric("niqe"))
    except WeightsNotFoundError:
        nr = ("piqe", create_metric("piqe"))
    metrics = {"qhead": create_metric("qhead"), nr[0]: nr[1]}
    lr = read_image(inp).rgb
    points = []

    def score(rgb: np.ndarray) -> dict[str, float]:
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]
        with torch.no_grad():
            return {m: float(metric(x)[0]) for m, metric in metrics.items()}

    t0 = time.perf_counter()
    bic = np.clip(imresize(lr, 4), 0, 1)
    points.append({"label": "bicubic x4", "seconds": time.perf_counter() - t0, **score(bic)})
    for model in cfg.models:
        best = min((r for r in sweep if r["model"] == model), key=lambda r: r["stages_s"]["end_to_end"])
        points.append({"label": f"{model} ({best['path']}, tile {best['tile']})", "seconds": best["stages_s"]["end_to_end"], **score(read_image(best["output"]).rgb)})
    return points


def iqa_known_order(cfg: ReportConfig, inp: Path, work: Path) -> tuple[dict, str]:
    """Pairs (mild, strong) of each degradation on crops of the input; the milder one is preferred (p_b = 0)."""
    import csv

    from qualedge.data.degradations import degrade
    from qualedge.io import read_image, write_pixels
    from qualedge.iqa.agreement.evaluate import iqa_eval

    rgb = read_image(inp).rgb
    folder = work / "iqa_pairs"
    folder.mkdir(exist_ok=True)
    rows = []
    for op in ("blur", "noise", "jpeg", "haze", "lowlight"):
        for k, (sa, sb) in enumerate(((0.2, 0.6), (0.4, 0.9))):
            names = []
            for s in (sa, sb):
                p = folder / f"{op}-{k}-{s}.png"
                write_pixels(p, np.floor(np.clip(degrade(rgb, op, s, k), 0, 1) * 255 + 0.5).astype(np.uint8))
                names.append(p.name)
            rows.append({"a": names[0], "b": names[1], "p_b": 0.0})
    manifest = folder / "pairs.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["a", "b", "p_b"])
        w.writeheader()
        w.writerows(rows)
    from qualedge.errors import WeightsNotFoundError
    from qualedge.iqa.metrics import create_metric

    usable, missing = [], []
    for m in cfg.iqa_metrics:  # a metric whose files are absent here is named in the report, not fatal
        try:
            create_metric(m)
            usable.append(m)
        except WeightsNotFoundError as exc:
            missing.append(f"{m} ({str(exc).split(';')[0]})")
    res, md = iqa_eval(metrics=usable, sbs=manifest, cache_path=work / "iqa_cache.sqlite", progress=False)
    if missing:
        res["unavailable"] = missing
        md += "\n\nNot available on this machine: " + "; ".join(missing) + ".\n"
    return res, md


def plots(sweep: list[dict[str, Any]], points: list[dict[str, Any]], out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for model in dict.fromkeys(r["model"] for r in sweep):
        for path in dict.fromkeys(r["path"] for r in sweep):
            pts = sorted((r["tile"], r["stages_s"]["end_to_end"]) for r in sweep if r["model"] == model and r["path"] == path)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{model} {path}")
    ax.set_yscale("log")  # the heavy and compact models differ by ~30x: a linear axis flattens the compact lines
    ax.set_xlabel("tile size (input pixels)")
    ax.set_ylabel("end-to-end latency (s, log scale)")
    ax.set_title("Latency against tile size and backend")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    files["latency_vs_tile"] = _save(fig, out / "latency_vs_tile.png")
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    labels = [f"{r['model'].split('-')[-1]} {r['path']} t{r['tile']}" for r in sweep]
    bottom = np.zeros(len(sweep))
    total = np.array([sum(r["stages_s"].get(st, 0.0) for st in STAGES) or 1.0 for r in sweep])
    for st in STAGES:  # shares, so that fast and slow configurations are equally readable (the targets are shares)
        vals = 100.0 * np.array([r["stages_s"].get(st, 0.0) for r in sweep]) / total
        ax.bar(range(len(sweep)), vals, bottom=bottom, label=st)
        bottom += vals
    for k, r in enumerate(sweep):
        ax.text(k, 101, f"{r['stages_s']['end_to_end']:.2g}s", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(sweep)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 112)
    ax.set_ylabel("share of the summed stage times (%)")
    ax.set_title("Per-stage breakdown of qualedge restore (end to end above each bar)")
    ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    files["stage_breakdown"] = _save(fig, out / "stage_breakdown.png")
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.2))
    nr = "niqe" if "niqe" in points[0] else "piqe"
    for ax, (key, name, better) in zip(axes, (("qhead", "quality head score", "higher is better"), (nr, nr.upper(), "lower is better"))):
        for k, p in enumerate(points):
            ax.scatter(p["seconds"], p[key], s=40, color=f"C{k}", label=p["label"])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("end-to-end latency (s, log scale)")
        ax.set_ylabel(f"{name} ({better})")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle("Quality against latency (x4 of the same input)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    files["quality_vs_latency"] = _save(fig, out / "quality_vs_latency.png")
    return files


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.partial.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path.name


def _md_to_html(md: str) -> str:
    """Markdown subset -> HTML: headings, pipe tables, images, bullet lists, paragraphs (inline code kept as text)."""
    out, table, para = [], [], []

    def flush_table():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
            cells = [[html.escape(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cells[0]) + "</tr>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:]) + "</table>")
            table.clear()

    def flush_para():
        if para:
            out.append("<p>" + html.escape(" ".join(para)) + "</p>")
            para.clear()

    for line in md.splitlines():
        s = line.strip()
        if s.startswith("|"):
            flush_para()
            table.append(s)
            continue
        flush_table()
        if not s:
            flush_para()
        elif s.startswith("#"):
            flush_para()
            level = min(6, len(s) - len(s.lstrip("#")))
            out.append(f"<h{level}>{html.escape(s.lstrip('#').strip())}</h{level}>")
        elif s.startswith("![") and "](" in s:
            flush_para()
            alt, src = s[2:].split("](", 1)
            out.append(f'<img alt="{html.escape(alt)}" src="{html.escape(src.rstrip(")"))}" style="max-width:100%">')
        elif s.startswith(("- ", "* ")):
            flush_para()
            out.append(f"<ul><li>{html.escape(s[2:])}</li></ul>")
        else:
            para.append(s)
    flush_table()
    flush_para()
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>qualedge benchmark report</title><style>{style}</style></head><body>{''.join(out)}</body></html>\n"


def build_report(cfg: ReportConfig, *, quick: bool = False, log=print) -> dict[str, Any]:
    from qualedge.atomic import atomic_write_json, atomic_write_text

    out = Path(cfg.out)
    if not out.is_absolute():
        out = Path.cwd() / out
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="qualedge-report-") as tmp:
        work = Path(tmp)
        inp = _input_image(cfg, work)
        log(f"latency sweep on a {cfg.input_size}x{cfg.input_size} input ...")
        sweep = latency_sweep(cfg, inp, work, log=log)
        log("quality against latency ...")
        points = quality_vs_latency(cfg, inp, sweep)
        if cfg.iqa_eval_json:
            iqa_res = json.loads(Path(cfg.iqa_eval_json).read_text())
            iqa_md, iqa_src = Path(cfg.iqa_eval_json).with_suffix(".md").read_text() if Path(cfg.iqa_eval_json).with_suffix(".md").is_file() else "", cfg.iqa_eval_json
        else:
            log("IQA agreement on known-order pairs ...")
            iqa_res, iqa_md = iqa_known_order(cfg, inp, work)
            iqa_src = "synthetic pairs of known distortion order built from the input (not human judgement)"
        files = plots(sweep, points, out / "plots")
    nr = "niqe" if "niqe" in points[0] else "piqe"
    md = ["# qualedge benchmark report" + (" (quick)" if quick else ""), "",
          "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", "",
          f"Configuration: {json.dumps({k: v for k, v in cfg.__dict__.items() if k != 'include'})}", "",
          "## Latency against tile size and backend", "", f"![latency](plots/{files['latency_vs_tile']})", "",
          "| model | path | tile | end to end s | " + " | ".join(STAGES) + " |", "|---|---|---|---|" + "---|" * len(STAGES)]  # fmt: skip
    for r in sweep:
        s = r["stages_s"]
        md.append(f"| {r['model']} | {r['path']} | {r['tile']} | {s['end_to_end']:.3f} | " + " | ".join(f"{s[k]:.3f}" for k in STAGES) + " |")
    md += ["", "## Per-stage breakdown", "", f"![stages](plots/{files['stage_breakdown']})", "",
           "## Quality against latency", "", f"![quality](plots/{files['quality_vs_latency']})", "",
           f"| output | latency s | quality head (higher better) | {nr.upper()} (lower better) |", "|---|---|---|---|"]  # fmt: skip
    md += [f"| {p['label']} | {p['seconds']:.3f} | {p['qhead']:.3f} | {p[nr]:.2f} |" for p in points]
    md += ["", "## IQA agreement", "", f"Source: {iqa_src}.", "", iqa_md.strip(), ""]
    included = {}
    for title, rel in cfg.include.items():
        p = REPO / rel if not Path(rel).is_absolute() else Path(rel)
        if p.is_file():
            body = p.read_text().strip()
            body = "\n".join(("#" + line if line.startswith("#") else line) for line in body.splitlines())  # nest headings
            md += [f"## {title}", "", f"From `{rel}`.", "", body, ""]
            included[title] = rel
        else:
            md += [f"## {title}", "", f"Not available: `{rel}` does not exist (run the benchmark that writes it).", ""]
    text = "\n".join(md) + "\n"
    res = {"environment": env, "config": cfg.__dict__, "quick": quick, "latency": sweep, "quality_vs_latency": points, "iqa": iqa_res, "included": included, "plots": files}
    atomic_write_json(out / "report.json", res)
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.html", _md_to_html(text))
    log(f"report written to {out}/report.html and report.md")
    return res


def main(argv: list[str] | None = None) -> int:
    from dataclasses import replace

    from qualedge.config import load_config

    ap = argparse.ArgumentParser(prog="qualedge bench report", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="TOML file (keys of ReportConfig; see benchmarks/configs/report.toml)")
    ap.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE", help="override one key (TOML value syntax)")
    ap.add_argument("--quick", action="store_true", help="a small, fast report (one model, two tiles, one repeat): what CI runs")
    ap.add_argument("-o", "--out", help="output folder (default: the config's out, benchmarks/report)")
    args = ap.parse_args(argv)
    cfg = load_config(ReportConfig, args.config, args.overrides)
    if args.quick:
        cfg = replace(cfg, **{k: v for k, v in QUICK.items() if not any(o.startswith(f"{k}=") for o in args.overrides)})
    if args.out:
        cfg = replace(cfg, out=args.out)
    build_report(cfg, quick=args.quick)
    return 0


__all__ = ["ReportConfig", "build_report", "main"]
