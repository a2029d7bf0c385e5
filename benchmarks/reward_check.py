"""Reward-hacking check: the models trained with the quality head as AMO scorer or LoRA reward, judged by metrics
that did not steer them (``python -m qualedge.benchmarks.reward_check``).

A model optimised for a metric looks good on that metric; the question is whether the metrics it never saw agree.
For each model of ``MODELS`` (with bicubic and realesrgan-x4plus as references) on held-out bicubic-LR x4 sets:

- **steered**: ``qhead`` (the shipped quality head, the AMO scorer and LoRA reward of qualedge-compact-x4);
- **not independent**: NIQE and PIQE, the quality head's teacher (the head was trained to predict them);
- **independent**: PSNR-Y and SSIM-Y against HR (steered nothing), BRISQUE (OpenCV's LIVE fit; steered nothing).

Writes ``benchmarks/results/reward_check.{json,md}`` and the generated section between the markers of each model's
card (``<!-- reward-check -->``), so the card states which of its metrics are independent of its training.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# model id -> (card, how the quality head steered it)
MODELS = {"qualedge-compact-x4": ("docs/models/qualedge-compact-x4.md", "AMO scorer of its multi-GT training and reward of its LoRA fine-tuning")}
REFERENCES = ("bicubic", "realesrgan-x4plus")
STEERED, DEPENDENT, INDEPENDENT = ("qhead",), ("niqe", "piqe"), ("psnr_y", "ssim_y", "brisque")
BEGIN, END = "<!-- reward-check -->", "<!-- /reward-check -->"


def _verdict(res: dict, model: str, ref: str, metric: str) -> str:
    a, b = res["rows"][model][metric], res["rows"][ref][metric]
    better = a > b if res["higher_is_better"][metric] else a < b
    return f"{'better' if better else 'worse'} than {ref} ({a:.3f} vs {b:.3f})"


def card_section(results: dict, model: str, how: str) -> str:
    lines = [
        BEGIN,
        "## Judged by metrics that did not steer it (reward-hacking check)",
        "",
        f"The quality head was this model's {how}, so its quality-head score is **steered**; NIQE and PIQE taught the "
        "quality head and are **not independent**; PSNR-Y, SSIM-Y (against HR) and BRISQUE (OpenCV's LIVE fit) steered "
        f"nothing and are **independent**. Written by `python -m qualedge.benchmarks.reward_check` ({results['date']}, "
        f"{results['machine']}); full table in benchmarks/results/reward_check.md.",
        "",
        "| set | metric | kind | " + " | ".join([model, *REFERENCES]) + " |",
        "|---|---|---|" + "---|" * (1 + len(REFERENCES)),
    ]
    for name, res in results["sets"].items():
        for m in [*STEERED, *DEPENDENT, *INDEPENDENT]:
            if m not in res["metrics"]:
                continue
            kind = "steered" if m in STEERED else "not independent" if m in DEPENDENT else "independent"
            arrow = "↑" if res["higher_is_better"][m] else "↓"
            lines.append(f"| {name} | {m} {arrow} | {kind} | " + " | ".join(f"{res['rows'][x][m]:.3f}" for x in [model, *REFERENCES]) + " |")
    lines += [""]
    for name, res in results["sets"].items():
        parts = [f"{m}: {_verdict(res, model, 'realesrgan-x4plus', m)}" for m in [*STEERED, *INDEPENDENT] if m in res["metrics"]]
        lines.append(f"- {name}, against the heavy model: " + "; ".join(parts) + ".")
        parts = [f"{m}: {_verdict(res, model, 'bicubic', m)}" for m in INDEPENDENT if m in res["metrics"]]
        lines.append(f"- {name}, against bicubic (independent metrics): " + "; ".join(parts) + ".")
    if any(res["unavailable"] for res in results["sets"].values()):
        lines.append("- Not measured here: " + "; ".join(f"{k} ({v[:80]})" for res in results["sets"].values() for k, v in res["unavailable"].items()))
    lines.append(END)
    return "\n".join(lines)


def update_card(path: Path, section: str) -> None:
    from qualedge.atomic import atomic_write_text

    text = path.read_text()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    atomic_write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qualedge.benchmarks.reward_check", description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="set14,bsd100", help="data-folder sets with HR/ and LR_x4/ (bicubic LR)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many images per set (0: all)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "reward_check"))
    ap.add_argument("--no-cards", action="store_true", help="do not rewrite the model cards' generated section")
    args = ap.parse_args(argv)
    from qualedge.train.eval_sr import evaluate, load_pairs, markdown

    from qualedge import paths
    from qualedge.atomic import atomic_write_json, atomic_write_text

    data = paths.shared_data_dir()
    if data is None:
        raise SystemExit("reward_check needs the data folder (QUALEDGE_DATA) for its held-out sets")
    metrics = (*INDEPENDENT, *DEPENDENT, *STEERED)
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.platform()}, {platform.processor() or platform.machine()}", "sets": {}}
    md = ["# Reward-hacking check: models steered by the quality head, judged by metrics that did not steer them", "",
          "steered: qhead; not independent (the quality head's teacher): niqe, piqe; independent: psnr_y, ssim_y, brisque.", ""]  # fmt: skip
    for name in args.sets.split(","):
        items = load_pairs(data / "images" / name / "LR_x4", data / "images" / name / "HR", 4)
        if args.limit:
            items = items[: args.limit]
        res = evaluate([*MODELS, *REFERENCES], items, scale=4, metrics=metrics, progress=False)
        results["sets"][name] = res
        md += [markdown(res, f"{name} (bicubic LR x4, held out)"), ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), results)
    atomic_write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))
    if not args.no_cards:
        for model, (card, how) in MODELS.items():
            update_card(REPO / card, card_section(results, model, how))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
