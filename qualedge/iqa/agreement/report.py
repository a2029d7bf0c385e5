"""Markdown tables in the layout of the paper's agreement tables."""

from __future__ import annotations


def _f(v: float, pct: bool = False) -> str:
    if v != v:  # NaN
        return "-"
    return f"{100 * v:.2f}" if pct else f"{v:.4f}"


def sbs_tables(res: dict) -> str:
    splits = sorted({s for m in res["metrics"].values() for s in m["splits"]})
    if len(splits) < 2:  # one split is the same numbers as the "all" column
        splits = []
    cols = ["Metric", "better", *(f"{s} acc. (%)" for s in splits), "all acc. (%)", "metric ties (%)"]
    lines = ["### Pairwise accuracy against human preference (SBS-style pairs)", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for m, r in sorted(res["metrics"].items(), key=lambda kv: -kv[1]["all"]["accuracy"] if kv[1]["all"]["accuracy"] == kv[1]["all"]["accuracy"] else 1):
        cells = [m, "higher" if r["higher_is_better"] else "lower", *(_f(r["splits"][s]["accuracy"], True) for s in splits),
                 _f(r["all"]["accuracy"], True), _f(r["all"]["tie_rate"], True)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\n{res['n_pairs']} pairs; human ties (p = 0.5) are dropped, metric ties count one half.")
    if "screening" in res:
        sc = res["screening"]
        lines += ["", f"### Two-stage screening (stage 1 on {sc['subset_pairs']} random pairs)", "", "| Metric | subset acc. (%) | selected |", "|---|---|---|"]
        for m, a in sorted(sc["subset_accuracy"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {m} | {_f(a, True)} | {'yes' if m in sc['selected'] else ''} |")
    if "complementarity" in res:
        c = res["complementarity"]
        lines += ["", f"### Complementarity: accuracy on the pairs {c['reference']} gets wrong", "", "| Metric | acc. (%) | pairs |", "|---|---|---|"]
        for m, r in sorted(c["accuracy_where_reference_fails"].items(), key=lambda kv: -(kv[1]["accuracy"] if kv[1]["accuracy"] == kv[1]["accuracy"] else -1)):
            lines.append(f"| {m} | {_f(r['accuracy'], True)} | {r['pairs']} |")
    return "\n".join(lines)


def hggt_table(res: dict) -> str:
    lab = res["labels"]
    lines = [
        "### Agreement with multi-ground-truth labels (HGGT-style groups)",
        "",
        "| Metric | better | SRCC within groups | SRCC pooled | PM (%) lower is better | NM (%) lower is better |",
        "|---|---|---|---|---|---|",
    ]
    for m, r in sorted(res["metrics"].items(), key=lambda kv: -(kv[1]["srcc_within_groups"] if kv[1]["srcc_within_groups"] == kv[1]["srcc_within_groups"] else -9)):
        lines.append(
            f"| {m} | {'higher' if r['higher_is_better'] else 'lower'} | {_f(r['srcc_within_groups'])} | {_f(r['srcc_pooled'])} | "
            f"{_f(r['pm'], True)} | {_f(r['nm'], True)} |"
        )
    lines.append(
        f"\n{res['n_groups']} groups; labels after majority vote: {lab['Positive']} Positive, {lab['Similar']} Similar, "
        f"{lab['Negative']} Negative. Ordinals: Negative 0, Original/Similar 1, Positive 2."
    )
    return "\n".join(lines)
