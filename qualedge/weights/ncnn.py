"""Read ncnn models (``.param`` text graph + ``.bin`` weights) into numpy arrays, layer by layer.

``.param``: a magic line (7767517), "layer_count blob_count", then one line per layer:
``type name n_in n_out inputs... outputs... key=value...``; keys -233xx hold arrays for parameter xx.

``.bin``: the weights of the layers that have them, in layer order. A weight blob loaded with "type 0" starts
with a 4-byte tag: 0x01306B47 fp16, 0x000D4B38 int8, 0x0002C056 or 0 raw fp32, otherwise a 256-entry
quantisation table; fp16/int8 data is padded to 4 bytes. Biases and PReLU slopes are raw fp32 ("type 1").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qualedge.errors import WeightsFormatError

_MAGIC = "7767517"
_TAG_FP16 = 0x01306B47
_TAG_INT8 = 0x000D4B38
_TAG_RAW = 0x0002C056

# Layer types that hold no weights (the subset that SR graphs use). Anything else is an explicit error.
_NO_WEIGHTS = {
    "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Sigmoid", "TanH",
    "Crop", "Padding", "Reshape", "Permute", "Slice", "Clip", "Noop", "Flatten", "UnaryOp", "Dropout",
}  # fmt: skip


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, object]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def _parse_value(v: str) -> object:
    if "," in v:
        return [_parse_value(x) for x in v.split(",")]
    try:
        return int(v)
    except ValueError:
        return float(v)


def parse_param(path: str | Path) -> list[NcnnLayer]:
    """Parse a text ``.param`` file."""
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if not lines or lines[0] != _MAGIC:
        raise WeightsFormatError(
            f"{path}: not an ncnn text .param file (first line {lines[0][:20] if lines else ''!r}, expected {_MAGIC}). "
            "Pass the .param file that belongs to the .bin."
        )
    try:
        n_layers = int(lines[1].split()[0])
        layers = []
        for ln in lines[2 : 2 + n_layers]:
            tok = ln.split()
            typ, name, n_in, n_out = tok[0], tok[1], int(tok[2]), int(tok[3])
            ins, outs = tok[4 : 4 + n_in], tok[4 + n_in : 4 + n_in + n_out]
            params: dict[int, object] = {}
            for kv in tok[4 + n_in + n_out :]:
                k, v = kv.split("=", 1)
                key = int(k)
                if key <= -23300:  # array parameter: "count,v1,v2,..."
                    arr = _parse_value(v)
                    params[-key - 23300] = arr[1:] if isinstance(arr, list) else []
                else:
                    params[key] = _parse_value(v)
            layers.append(NcnnLayer(typ, name, ins, outs, params))
    except (IndexError, ValueError) as exc:
        raise WeightsFormatError(f"{path}: malformed ncnn .param line ({exc}).") from exc
    if len(layers) != n_layers:
        raise WeightsFormatError(f"{path}: header says {n_layers} layers, file has {len(layers)}; it is truncated.")
    return layers


class _BinReader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WeightsFormatError(
                f"{self.path}: ends at byte {len(self.data)} but the .param needs more weights (at {self.pos}+{n}). "
                "The .bin is truncated or does not belong to this .param."
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def raw(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        tag = int.from_bytes(self._take(4), "little")
        if tag == _TAG_FP16:
            buf = self._take(2 * count)
            self._take((-2 * count) % 4)
            return np.frombuffer(buf, dtype="<f2").astype(np.float32)
        if tag == _TAG_INT8:
            raise WeightsFormatError(f"{self.path}: int8-quantised ncnn weights are not supported; use an fp16/fp32 model.")
        if tag in (_TAG_RAW, 0):
            return self.raw(count)
        table = np.frombuffer(self._take(4 * 256), dtype="<f4")  # 8-bit indices into a float table
        idx = np.frombuffer(self._take(count), dtype=np.uint8)
        self._take((-count) % 4)
        return table[idx].astype(np.float32)


def load_ncnn(param_path: str | Path, bin_path: str | Path) -> list[NcnnLayer]:
    """Parse the graph and attach each layer's weights (``weight``, ``bias``, ``slope``) as float32 arrays."""
    param_path, bin_path = Path(param_path), Path(bin_path)
    for p in (param_path, bin_path):
        if not p.is_file():
            raise WeightsFormatError(f"{p}: ncnn model file not found.")
    layers = parse_param(param_path)
    rd = _BinReader(bin_path.read_bytes(), bin_path)
    for layer in layers:
        p = layer.params
        if layer.type in ("Convolution", "Deconvolution", "ConvolutionDepthWise", "DeconvolutionDepthWise"):
            num_out, wsize = int(p.get(0, 0)), int(p.get(6, 0))
            kw = int(p.get(1, 0))
            kh = int(p.get(11, kw))
            w = rd.tagged(wsize)
            in_ch = wsize // (num_out * kh * kw)
            if layer.type.startswith("Deconvolution"):
                layer.weights["weight"] = w.reshape(num_out, in_ch, kh, kw)  # ncnn stores (out, in, kh, kw)
            else:
                layer.weights["weight"] = w.reshape(num_out, in_ch, kh, kw)
            if int(p.get(5, 0)):
                layer.weights["bias"] = rd.raw(num_out)
        elif layer.type == "PReLU":
            layer.weights["slope"] = rd.raw(int(p.get(0, 0)))
        elif layer.type == "InnerProduct":
            num_out, wsize = int(p.get(0, 0)), int(p.get(2, 0))
            layer.weights["weight"] = rd.tagged(wsize).reshape(num_out, wsize // num_out)
            if int(p.get(1, 0)):
                layer.weights["bias"] = rd.raw(num_out)
        elif layer.type not in _NO_WEIGHTS:
            raise WeightsFormatError(
                f"{param_path}: layer {layer.name} has type {layer.type}, which qualedge's ncnn reader does not "
                "know; the weights after it cannot be located."
            )
    if rd.pos != len(rd.data):
        raise WeightsFormatError(
            f"{bin_path}: {len(rd.data) - rd.pos} bytes are left over after the last layer; the .bin does not belong "
            f"to {param_path.name}."
        )
    return layers
