"""The ``qualedge`` command. One verb per stage job; each verb module holds ``add_args`` and ``main`` and calls one
public function. The verb list is explicit; verb modules import nothing heavy at module level, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from qualedge._version import __version__

# (verb, module, one-line help). Order is the order in --help.
VERBS: tuple[tuple[str, str, str], ...] = (
    ("models", "qualedge.cli.models", "list registered architectures and the pretrained weights available offline"),
    ("restore", "qualedge.cli.restore", "restore/upscale an image or a folder with a bundle (default: the embedded one)"),
    ("export", "qualedge.cli.export", "export a model or checkpoint to an ONNX/TensorRT bundle with a parity report"),
    ("export-iqa", "qualedge.cli.export_iqa", "export an IQA metric's network (qhead, pyiqa:<name>) to a fixed-size ONNX graph"),
    ("build-capi", "qualedge.cli.build_capi", "build the native C ABI library (libqualedge.so, OpenVINO, no Python) and copy it, its engine libraries and its header to a folder"),
    ("iqa-eval", "qualedge.cli.iqa_eval", "measure how NR-IQA metrics agree with human judgement"),
    ("train-qhead", "qualedge.cli.train_qhead", "train the quality head by distillation from a teacher metric"),
    ("train-router", "qualedge.cli.train_router", "measure what predicts the heavy SR model's per-tile benefit; train the gain head"),
    ("fit-niqe", "qualedge.cli.fit_niqe", "fit NIQE's pristine model on a folder of your own pristine photos"),
    ("make-multigt", "qualedge.cli.make_multigt", "build candidate ground truths (HGGT layout) for a folder of images"),
    ("make-distill", "qualedge.cli.make_distill", "make (LR, teacher SR) pairs to distil a fast SR model from a heavy one"),
    ("train-sr", "qualedge.cli.train_sr", "train an SR model with IQA-guided multi-ground-truth sampling"),
    ("finetune-sr", "qualedge.cli.finetune_sr", "LoRA fine-tune an SR model with an IQA reward"),
    ("eval-sr", "qualedge.cli.eval_sr", "evaluate SR models with full-reference and no-reference metrics"),
    ("train-restore", "qualedge.cli.train_restore", "train the AdaQual-Diff quality-prompted restoration model"),
    ("eval-restore", "qualedge.cli.eval_restore", "evaluate restoration models per degradation type (PSNR/SSIM, RGB and Y)"),
    ("export-restore", "qualedge.cli.export_restore", "export an AdaQual-Diff model to a restoration bundle (per-step + unrolled graphs)"),
    ("recipe", "qualedge.cli.recipe", "train a default model (compact-sr, quality-head, restoration) in one command sized for one GPU"),
    ("package-model", "qualedge.cli.package_model", "make a trained model one of the weights qualedge ships (a source checkout)"),
    ("bench", "qualedge.cli.bench", "latency and quality benchmarks and reports"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qualedge",
        description="Quality-aware image enhancement: train, export and run IQA-guided SR and restoration models.",
    )
    parser.add_argument("--version", action="version", version=f"qualedge {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, module, help_text in VERBS:
        p = sub.add_parser(verb, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_args(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    from qualedge.errors import QualedgeError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    mod = importlib.import_module(args._module)
    try:
        rc = mod.main(args)
    except QualedgeError as exc:
        print(f"qualedge {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qualedge {args.verb}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
