"""``qualedge bench routing``: does quality-aware routing buy anything? Adaptive routing against random routing at
the same budget, on held-out photos, end to end through ``qualedge.runtime``.

Image sets (full-size photos that no qualedge training used; LR = HR downscaled x4 by area averaging, HR cropped to
a multiple of 4):

- ``skimage``: the colour photos that ship with scikit-image (astronaut, chelsea, coffee, hubble_deep_field,
  motorcycle_left, rocket): on every machine;
- ``set14``: Set14's HR images (data folder; no training used them, but crops of them were the held-out tiles on
  which ``train-router`` and ``train-qhead`` report, so the router was *chosen* on them; skimage is fully unseen).

For each image and each heavy fraction F in {0, 0.1, 0.2, 0.3, 0.5, 0.7, 1}: the adaptive policy (each routing
signal asked for) and the random policy (``--seeds`` seeds, averaged per image), each from a fresh decode to an
encoded PNG. F = 0 and F = 1 are the compact-only and heavy-only runs (the runtime reproduces them exactly at those
fractions; tests/runtime/test_routing.py). Metrics: end-to-end seconds, PSNR-Y and SSIM-Y against HR (4-pixel
border cropped), NIQE, PIQE, BRISQUE of the output, PSNR (RGB) against the heavy-only output, the routing share of
end-to-end time (quality map + routing signal). Paired comparisons over images at each F (adaptive minus random):
mean difference, wins, Wilcoxon signed-rank p-value.

Writes ``<out>.json``, ``<out>.md`` and ``<out>.png`` (quality against time, both curves and both single models).
Numbers are printed and written, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
SKIMAGE = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "motorcycle_left", "rocket")
NR = ("niqe", "piqe", "brisque")
TARGETS = {"paired_fraction": 0.3, "niqe_gap_closed": 0.5, "time_vs_heavy": 0.55, "routing_share": 0.05}


def image_sets(names: list[str], limit: int) -> dict[str, list[tuple[str, np.ndarray]]]:
    """name -> [(image name, HR float RGB)]; a set whose files are absent is skipped with a message."""
    import skimage

    from qualedge import paths
    from qualedge.io import read_image

    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name in names:
        if name == "skimage":
            folder = Path(skimage.__file__).parent / "data"
            files = [p for n in SKIMAGE for p in sorted(folder.glob(f"{n}.*"))[:1]]
        elif name in ("set14", "set5"):
            d = paths.shared_data_dir()
            if d is None:
                print(f"bench routing: set {name} needs the data folder (QUALEDGE_DATA); skipped")
                continue
            files = sorted((d / "images" / name / "HR").glob("*.png"))
        else:
            folder = Path(name)
            if not folder.is_dir():
                raise SystemExit(f"bench routing: image set {name!r} is neither skimage, set14, set5 nor a folder")
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"))
        imgs = []
        for f in files[: limit or None]:
            rgb = read_image(f).rgb
            h, w = rgb.shape[:2] // np.array(4) * 4
            imgs.append((f.stem, np.ascontiguousarray(rgb[:h, :w])))
        out[Path(name).name if name not in ("skimage", "set14", "set5") else name] = imgs
    return out


class Scorer:
    """The quality metrics of one output (NR metrics that cannot load are reported as missing with their reason)."""

    def __init__(self) -> None:
        from qualedge.iqa.metrics import create_metric

        self.nr, self.missing = {}, {}
        for m in NR:
            try:
                self.nr[m] = create_metric(m)
            except Exception as exc:  # noqa: BLE001  (a metric's files absent: reported, not fatal)
                self.missing[m] = str(exc).splitlines()[0]

    def __call__(self, out: np.ndarray, hr: np.ndarray, heavy: np.ndarray | None) -> dict[str, float]:
        import torch

        from qualedge.iqa.fr import psnr, ssim

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()

        o, r = t(out), t(hr)
        res = {"psnr_y": float(psnr(o, r, color="y", crop_border=4)), "ssim_y": float(ssim(o, r, color="y", crop_border=4))}
        res["psnr_to_heavy"] = float(psnr(o, t(heavy))) if heavy is not None else float("nan")
        with torch.inference_mode():
            for name, m in self.nr.items():
                res[name] = float(m(o))
        return res


def _run(restorer, lr_file: Path, out_file: Path) -> tuple[np.ndarray, dict[str, Any]]:
    from qualedge.runtime.batch import restore_file

    from qualedge.io import read_image

    s = restore_file(restorer, lr_file, out_file, overwrite=True)
    return read_image(out_file).rgb, s


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from qualedge.runtime.restorer import RestoreOptions, Restorer
    from qualedge.train.sr_tiles import area_downscale

    from qualedge.io import read_image, write_image

    bundle = args.bundle
    if bundle is None:
        from qualedge.export.defaults import ensure_default_bundle

        bundle = ensure_default_bundle()
    sets = image_sets(args.sets, args.limit)
    fractions = [f for f in FRACTIONS if 0 < f < 1]
    base = dict(threads=args.threads, tile=args.tile or None, overlap=args.overlap, backend=args.backend, precision=args.precision)
    configs: dict[str, RestoreOptions] = {
        "compact": RestoreOptions(policy="compact", **base),
        "heavy": RestoreOptions(policy="heavy", **base),
    }
    for sig in args.signals:
        for f in fractions:
            configs[f"adaptive:{sig}@{f}"] = RestoreOptions(policy="adaptive", heavy_fraction=f, router=None if sig == "bundle" else sig, **base)
    for seed in range(args.seeds):
        for f in fractions:
            configs[f"random:{seed}@{f}"] = RestoreOptions(policy="random", heavy_fraction=f, seed=seed, **base)
    restorers = {k: Restorer(bundle, o) for k, o in configs.items()}
    signals = {sig: (restorers[f"adaptive:{sig}@{fractions[0]}"].routing.signal if sig == "bundle" else sig) for sig in args.signals}
    scorer = Scorer()
    tmp = Path(tempfile.mkdtemp(prefix="qualedge-routing-"))
    rows: list[dict[str, Any]] = []
    warm = tmp / "warm.png"
    write_image(warm, np.random.default_rng(0).random((64, 64, 3), dtype=np.float32))
    for r in restorers.values():  # first calls (session set-up, allocations) are not timed
        r.restore(read_image(warm))
    for set_name, imgs in sets.items():
        for name, hr in imgs:
            lr_file = tmp / f"{set_name}-{name}-lr.png"
            write_image(lr_file, np.clip(area_downscale(hr), 0, 1))
            outs: dict[str, tuple[np.ndarray, dict]] = {}
            for k, r in restorers.items():
                outs[k] = _run(r, lr_file, tmp / "out.png")
            heavy = outs["heavy"][0]
            for k, (out, s) in outs.items():
                t = s["times_s"]
                row = {
                    "set": set_name, "image": name, "config": k, "lr": s["input"], "tiles": s["tiles"]["rows"] * s["tiles"]["cols"],
                    "heavy_tiles": s["routing"]["heavy_tiles"], "time_s": t["end_to_end"],
                    "routing_s": t.get("quality", 0.0) + t.get("router", 0.0), **scorer(out, hr, heavy),
                }  # fmt: skip
                rows.append(row)
            print(f"{set_name}/{name}: LR {outs['heavy'][1]['input']}, {rows[-1]['tiles']} tiles, heavy-only {outs['heavy'][1]['times_s']['end_to_end']:.2f} s", flush=True)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": args.threads},
        "bundle": str(bundle),
        "bundle_policy": next(iter(restorers.values())).manifest.policy,
        "settings": {"backend": args.backend, "precision": args.precision, "tile": restorers["heavy"].tile, "overlap": restorers["heavy"].overlap,
                     "seeds": list(range(args.seeds)), "fractions": list(FRACTIONS), "signals": signals, "sets": {k: [n for n, _ in v] for k, v in sets.items()}},  # fmt: skip
        "missing_metrics": scorer.missing,
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------------- analysis
METRICS = ("time_s", "psnr_y", "ssim_y", "psnr_to_heavy", *NR)
LOWER_BETTER = {"time_s", *NR}


def _per_image(rows: list[dict], set_name: str, config_of) -> dict[str, dict[str, dict[str, float]]]:
    """image -> curve point name -> metric -> value (random seeds averaged)."""
    acc: dict[str, dict[str, dict[str, list[float]]]] = {}
    for r in rows:
        if r["set"] != set_name:
            continue
        key = config_of(r["config"])
        if key is None:
            continue
        d = acc.setdefault(r["image"], {}).setdefault(key, {})
        for m in METRICS:
            if m in r:
                d.setdefault(m, []).append(r[m])
        d.setdefault("routing_share", []).append(r["routing_s"] / r["time_s"])
    return {im: {k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in pts.items()} for im, pts in acc.items()}


def _point(config: str) -> str | None:
    """'adaptive:gain@0.3' -> 'adaptive:gain@0.3'; 'random:2@0.3' -> 'random@0.3'; singles keep their name."""
    if config.startswith("random:"):
        return "random@" + config.split("@")[1]
    return config


def analyse(res: dict[str, Any]) -> dict[str, Any]:
    from scipy.stats import wilcoxon

    st = res["settings"]
    out: dict[str, Any] = {}
    for set_name in st["sets"]:
        per = _per_image(res["rows"], set_name, _point)
        images = sorted(per)
        if not images:
            continue
        metrics = [m for m in METRICS if all(m in per[i]["heavy"] for i in images)]

        def mean(point: str, m: str, per=per, images=images) -> float:
            return float(np.mean([per[i][point][m] for i in images]))

        curves: dict[str, list[dict[str, float]]] = {}
        for curve in [f"adaptive:{s}" for s in st["signals"]] + ["random"]:
            pts = []
            for f in st["fractions"]:
                p = "compact" if f == 0 else "heavy" if f == 1 else f"{curve}@{f}"
                pts.append({"fraction": f, **{m: mean(p, m) for m in metrics}, "routing_share": mean(p, "routing_share")})
            curves[curve] = pts
        paired: dict[str, Any] = {}
        for s in st["signals"]:
            for f in [f for f in st["fractions"] if 0 < f < 1]:
                a, r = f"adaptive:{s}@{f}", f"random@{f}"
                cmp = {}
                for m in ("psnr_to_heavy", "psnr_y", *[x for x in NR if x in metrics]):
                    if m not in metrics:
                        continue
                    d = np.array([per[i][a][m] - per[i][r][m] for i in images])
                    better = d < 0 if m in LOWER_BETTER else d > 0
                    p = float(wilcoxon(d).pvalue) if len(d) >= 5 and np.any(d != 0) else float("nan")
                    cmp[m] = {"mean_diff": float(d.mean()), "wins": int(better.sum()), "n": len(d), "p_wilcoxon": p}
                paired[f"{s}@{f}"] = cmp
        out[set_name] = {"images": images, "metrics": metrics, "curves": curves, "paired": paired}
    return out


def verdicts(an: dict[str, Any], signal: str) -> dict[str, Any]:
    """The issue's targets for one adaptive signal, per set: met or the measured gap."""
    out: dict[str, Any] = {}
    f = TARGETS["paired_fraction"]
    for set_name, a in an.items():
        v: dict[str, Any] = {}
        pr = a["paired"].get(f"{signal}@{f}", {})
        for m in ("psnr_to_heavy", "niqe"):
            if m in pr:
                better = pr[m]["mean_diff"] < 0 if m == "niqe" else pr[m]["mean_diff"] > 0
                v[f"beats_random_at_{f}_{m}"] = {"met": bool(better), **pr[m]}
        curve = a["curves"][f"adaptive:{signal}"]
        c0, c1 = curve[0], curve[-1]
        if "niqe" in a["metrics"]:
            gap = c0["niqe"] - c1["niqe"]
            best = None
            for p in curve[1:-1]:
                closed = (c0["niqe"] - p["niqe"]) / gap if gap else float("nan")
                tr = p["time_s"] / c1["time_s"]
                p_res = {"fraction": p["fraction"], "gap_closed": closed, "time_vs_heavy": tr}
                if closed >= TARGETS["niqe_gap_closed"] and tr <= TARGETS["time_vs_heavy"]:
                    best = {**p_res, "met": True}
                    break
                if best is None or closed / max(tr, 1e-9) > best["gap_closed"] / max(best["time_vs_heavy"], 1e-9):
                    best = {**p_res, "met": False}
            v["niqe_gap_half_at_055_time"] = best
        shares = [p["routing_share"] for p in curve[1:-1]]
        v["routing_share_max"] = {"value": max(shares), "met": max(shares) <= TARGETS["routing_share"]}
        out[set_name] = v
    return out


def recommend(an: dict[str, Any], signals: dict[str, str]) -> dict[str, Any]:
    """The default routing this measurement supports: the signal with the largest mean PSNR-to-heavy advantage over
    random at F = 0.3 (mean over sets), and for it the smallest F that closes >= 50 % of the NIQE gap between
    compact-only and heavy-only (mean over sets); when none does, the F with the most gap closed per unit of time."""
    f0 = TARGETS["paired_fraction"]

    def adv(sig: str) -> float:
        return float(np.mean([a["paired"][f"{sig}@{f0}"]["psnr_to_heavy"]["mean_diff"] for a in an.values()]))

    sig = max(signals, key=adv)
    fr = [p["fraction"] for p in next(iter(an.values()))["curves"][f"adaptive:{sig}"]][1:-1]

    def closed(i: int) -> tuple[float, float]:
        g, t = [], []
        for a in an.values():
            c = a["curves"][f"adaptive:{sig}"]
            if "niqe" not in a["metrics"]:
                continue
            gap = c[0]["niqe"] - c[-1]["niqe"]
            g.append((c[0]["niqe"] - c[i + 1]["niqe"]) / gap if gap else float("nan"))
            t.append(c[i + 1]["time_s"] / c[-1]["time_s"])
        return float(np.mean(g)) if g else float("nan"), float(np.mean(t)) if t else float("nan")

    stats = [closed(i) for i in range(len(fr))]
    ok = [i for i, (g, _) in enumerate(stats) if g >= TARGETS["niqe_gap_closed"]]
    ratios = [g / t for g, t in stats]
    if ok:
        i, rule = ok[0], "smallest F closing >= 50 % of the NIQE gap"
    elif not all(np.isnan(ratios)):
        i, rule = int(np.nanargmax(ratios)), "most NIQE gap closed per unit time (no F closed 50 %)"
    else:  # NIQE not measured (its parameter file absent)
        i, rule = fr.index(f0) if f0 in fr else 0, "F = 0.3 (NIQE not measured, so no NIQE-gap rule)"
    return {"signal": signals[sig], "curve": sig, "heavy_fraction": fr[i], "niqe_gap_closed": stats[i][0], "time_vs_heavy": stats[i][1],
            "psnr_to_heavy_advantage_at_0.3": adv(sig), "rule": rule}  # fmt: skip


def plot(res: dict[str, Any], an: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(an)
    signals = res["settings"]["signals"]
    fig, axes = plt.subplots(2, len(sets), figsize=(5.5 * len(sets), 8), squeeze=False)
    colors = ["tab:blue", "tab:green", "tab:purple", "tab:brown"]
    for j, set_name in enumerate(sets):
        a = an[set_name]
        for i, m in enumerate(("psnr_to_heavy", "niqe")):
            ax = axes[i][j]
            if m not in a["metrics"]:
                ax.set_visible(False)
                continue
            finite = [p[m] for pts in a["curves"].values() for p in pts if np.isfinite(p[m])]
            top = max(finite) + 0.08 * (max(finite) - min(finite) + 1e-6) if m == "psnr_to_heavy" else None

            def y_of(v: float, top=top) -> float:
                return top if top is not None and not np.isfinite(v) else v  # heavy-only vs itself: infinite, drawn at the top

            for k, (curve, pts) in enumerate(a["curves"].items()):
                xs = [p["time_s"] for p in pts]
                ys = [y_of(p[m]) for p in pts]
                style = dict(color="tab:red", ls="--", marker="x") if curve == "random" else dict(color=colors[k % len(colors)], marker="o")
                sig = curve.split(":", 1)[-1]
                name = "random (mean of seeds)" if curve == "random" else f"adaptive, {signals.get(sig, sig)}" + (" (the bundle's router)" if sig == "bundle" else "")
                ax.plot(xs, ys, label=name, **style)
                for p, x, y in zip(pts, xs, ys):
                    if 0 < p["fraction"] < 1 and curve != "random":
                        ax.annotate(f"{p['fraction']:g}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
            c, h = a["curves"]["random"][0], a["curves"]["random"][-1]
            ax.scatter([c["time_s"]], [y_of(c[m])], s=90, color="black", marker="s", zorder=5, label="compact only")
            ax.scatter([h["time_s"]], [y_of(h[m])], s=110, color="black", marker="*", zorder=5,
                       label="heavy only" + (" (identical to itself: drawn at the top)" if m == "psnr_to_heavy" else ""))  # fmt: skip
            ax.set_xlabel("mean end-to-end time per image (s)")
            ax.set_ylabel({"psnr_to_heavy": "PSNR to the heavy-only output (dB)", "niqe": "NIQE (lower is better)"}[m])
            ax.set_title(f"{set_name} ({len(a['images'])} photos)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle("Adaptive vs random routing, same heavy-model budget\n(point labels: heavy fraction F)", fontsize=10)
    fig.tight_layout()
    from qualedge.atomic import atomic_save

    atomic_save(path, lambda p: fig.savefig(p, dpi=110, format="png"), what="routing plot")
    plt.close(fig)


def markdown(res: dict[str, Any], an: dict[str, Any], ver: dict[str, dict]) -> str:
    st, m = res["settings"], res["machine"]
    lines = [
        "# Routing: adaptive against random at the same budget",
        "",
        f"Measured {res['date']} on {m['platform']} ({m['processor']}, {m['cpus']} CPUs, {m['threads']} threads) by "
        f"`qualedge bench routing`; backend {st['backend']} {st['precision']}, tile {st['tile']}, overlap {st['overlap']}; "
        f"random seeds {st['seeds']} (averaged per image). Bundle policy: router `{res['bundle_policy'].get('router')}`, "
        f"default heavy fraction {res['bundle_policy'].get('heavy_fraction')}.",
        "",
        "Photos (no qualedge training used them; LR = HR downscaled x4 by area): "
        + "; ".join(f"**{k}**: {', '.join(v)}" for k, v in st["sets"].items())
        + ". F = 0 and F = 1 are the compact-only and heavy-only runs.",
        "",
        "Which metrics steered what: the routing signals were trained or chosen on the heavy-vs-compact difference of "
        "training photos; NIQE and PIQE taught the quality head (so they are not independent of the `quality` signal); "
        "PSNR-Y/SSIM-Y against HR and BRISQUE steered nothing. Set14 crops were the router's held-out validation tiles "
        "(the router was chosen there, not trained); the skimage photos were seen by nothing.",
    ]
    if res["missing_metrics"]:
        lines += ["", "Metrics not measured: " + "; ".join(f"{k} ({v})" for k, v in res["missing_metrics"].items())]
    for set_name, a in an.items():
        lines += ["", f"## {set_name} ({len(a['images'])} photos)", ""]
        ms = a["metrics"]
        head = "| curve | F | time (s) | " + " | ".join(ms[1:]) + " | routing share |"
        lines += [head, "|" + "---|" * (len(ms) + 3)]
        for curve, pts in a["curves"].items():
            for p in pts:
                lines.append(f"| {curve} | {p['fraction']:g} | {p['time_s']:.2f} | " + " | ".join(f"{p[x]:.3f}" if x != "psnr_to_heavy" or p[x] < 1e3 else "inf" for x in ms[1:]) + f" | {p['routing_share'] * 100:.1f} % |")
        lines += ["", "Paired over images, adaptive minus random (mean difference; wins of adaptive / images; Wilcoxon p):", ""]
        keys = [k for k in ("psnr_to_heavy", "psnr_y", *NR) if k in ms]
        lines += ["| signal@F | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
        for k, cmp in a["paired"].items():
            lines.append(f"| {k} | " + " | ".join(f"{cmp[x]['mean_diff']:+.3f} ({cmp[x]['wins']}/{cmp[x]['n']}, p={cmp[x]['p_wilcoxon']:.3f})" for x in keys if x in cmp) + " |")
    lines += ["", "## Targets", ""]
    for sig, v in ver.items():
        for set_name, t in v.items():
            parts = []
            for k, x in t.items():
                if x is None:
                    continue
                if k.startswith("beats_random"):
                    parts.append(f"{k}: {'met' if x['met'] else 'NOT met'} (diff {x['mean_diff']:+.3f}, {x['wins']}/{x['n']} images, p={x['p_wilcoxon']:.3f})")
                elif k == "niqe_gap_half_at_055_time":
                    parts.append(f"NIQE gap >= 50 % at <= 55 % of heavy time: {'met' if x['met'] else 'NOT met'} (best F={x['fraction']:g}: {x['gap_closed'] * 100:.0f} % of the gap at {x['time_vs_heavy'] * 100:.0f} % of the time)")
                elif k == "routing_share_max":
                    parts.append(f"routing share <= 5 %: {'met' if x['met'] else 'NOT met'} (max {x['value'] * 100:.1f} %)")
            lines.append(f"- **{sig}**, {set_name}: " + "; ".join(parts))
    lines += ["", "![quality against time](" + "routing.png" + ")", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qualedge bench routing", description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", help="SR bundle with a compact and a heavy model (default: the embedded default)")
    ap.add_argument("--sets", default="skimage,set14", help="comma-separated image sets: skimage, set14, set5 or folders of HR photos")
    ap.add_argument("--limit", type=int, default=0, help="at most this many photos per set (0: all)")
    ap.add_argument("--signals", default="bundle", help="adaptive routing signals to compare: bundle (the bundle's router), quality, gradient, variance, edges, or a router model name")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of the random policy (0..N-1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tile", type=int, default=0, help="tile (0: the bundle's)")
    ap.add_argument("--overlap", type=int, help="overlap (default: the bundle's)")
    ap.add_argument("--backend", default="ort")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "routing"), help="output path stem (.json, .md, .png)")
    args = ap.parse_args(argv)
    args.sets = [s for s in args.sets.split(",") if s]
    args.signals = [s for s in args.signals.split(",") if s]
    from qualedge.atomic import atomic_write_json, atomic_write_text

    res = measure(args)
    an = analyse(res)
    ver = {s: verdicts(an, s) for s in args.signals}
    rec = recommend(an, res["settings"]["signals"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), {**res, "analysis": an, "targets": TARGETS, "verdicts": ver, "recommended": rec})
    plot(res, an, out.with_suffix(".png"))
    md = markdown(res, an, ver).replace("](routing.png)", f"]({out.with_suffix('.png').name})")
    md += (f"\n## Recommended default\n\nRouter `{rec['signal']}` at heavy fraction **{rec['heavy_fraction']:g}** ({rec['rule']}): "
           f"{rec['niqe_gap_closed'] * 100:.0f} % of the NIQE gap closed at {rec['time_vs_heavy'] * 100:.0f} % of the heavy-only time "
           f"(means over the sets); PSNR to the heavy output {rec['psnr_to_heavy_advantage_at_0.3']:+.2f} dB over random routing at F = 0.3. "
           f"tile {res['settings']['tile']}, overlap {res['settings']['overlap']}.\n")
    atomic_write_text(out.with_suffix(".md"), md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "measure", "analyse", "verdicts"]
