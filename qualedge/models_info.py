"""What ``qualedge models`` reports: every architecture's descriptor and every pretrained entry's availability."""

from __future__ import annotations

from typing import Any


def models_report() -> dict[str, Any]:
    from qualedge.archs import ARCHS
    from qualedge.weights.zoo import PRETRAINED, availability

    archs = []
    for a in ARCHS:
        d = a.descriptor(dict(a.defaults))
        archs.append(
            {
                "id": a.id,
                "name": a.name,
                "presets": sorted(a.presets),
                "license": a.license,
                "paper": a.paper,
                "descriptor": d.to_dict(),
            }
        )
    weights = []
    for p in PRETRAINED:
        ok, where = availability(p)
        desc = next(x for x in ARCHS if x.id == p.arch).descriptor(next(x for x in ARCHS if x.id == p.arch).resolve(**dict(p.hparams)))
        weights.append(
            {
                "id": p.id,
                "arch": p.arch,
                "hyperparameters": dict(p.hparams),
                "available_offline": ok,
                "where": where,
                "source": p.source.kind,
                "license": p.license,
                "origin": p.origin,
                "card": p.card,
                "descriptor": desc.to_dict(),
            }
        )
    return {"architectures": archs, "pretrained": weights}


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(c) for c in r]) for r in rows]
    return "\n".join(lines)


def _size(d: dict[str, Any]) -> str:
    s = d["size"]
    out = f"min {s['minimum']}, x{s['multiple_of']}"
    return out + (f", tile {s['fixed_tile']}" if s["fixed_tile"] else "")


def render_models_report(report: dict[str, Any]) -> str:
    arch_rows = []
    for a in report["architectures"]:
        d = a["descriptor"]
        arch_rows.append(
            [
                a["id"],
                d["purpose"],
                f"x{d['scale']}",
                f"{d['in_channels']}->{d['out_channels']} {d['color']}",
                f"{d['param_count'] / 1e6:.2f}M",
                "yes" if d["supports_fp16"] else "no",
                "yes" if d["supports_bf16"] else "no",
                d["tiling"],
                _size(d),
                ", ".join(a["presets"]) or "-",
            ]
        )
    w_rows = []
    for w in report["pretrained"]:
        d = w["descriptor"]
        w_rows.append(
            [
                w["id"],
                w["arch"],
                f"x{d['scale']}",
                f"{d['param_count'] / 1e6:.2f}M",
                "yes" if w["available_offline"] else "no",
                w["source"],
                w["license"].split(" (")[0],
            ]
        )
    missing = [w for w in report["pretrained"] if not w["available_offline"]]
    parts = [
        "Architectures (defaults shown; presets select other configurations):",
        _table(arch_rows, ["id", "purpose", "scale", "channels", "params", "fp16", "bf16", "tiling", "size", "presets"]),
        "",
        "Pretrained weights:",
        _table(w_rows, ["id", "arch", "scale", "params", "offline", "source", "licence"]),
    ]
    if missing:
        parts += ["", "Not available offline:"] + [f"- {w['id']}: {w['where']}" for w in missing]
    return "\n".join(parts)
