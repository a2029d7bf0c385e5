"""Read the constants of a TensorFlow frozen ``GraphDef`` (``.pb``) without TensorFlow.

Frozen SR graphs (OpenCV ``dnn_superres`` ESPCN/FSRCNN) keep every weight in a ``Const`` node.
This module decodes the protobuf wire format directly (GraphDef -> NodeDef -> AttrValue ->
TensorProto) and returns the nodes with their ops, inputs and constant arrays, which the
converters in :mod:`qualedge.weights.convert` map onto registered architectures.

Field numbers follow tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape}.proto.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qualedge.errors import WeightsFormatError

_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16}


@dataclass
class TFNode:
    """One NodeDef: its name, op, inputs and (for ``Const`` nodes) the decoded value."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    value: np.ndarray | None = None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end of the buffer")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) for one protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wt == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        if pos > len(buf):
            raise ValueError("field runs past the end of the buffer")
        yield num, wt, val


def _tensor(buf: bytes) -> np.ndarray:
    dtype_code, shape, content, floats, ints = 1, [], None, [], []
    for num, wt, val in _fields(buf):
        if num == 1:
            dtype_code = val
        elif num == 2:
            for dnum, _, dval in _fields(val):
                if dnum == 2:
                    size = next((v for n, _, v in _fields(dval) if n == 1), 0)
                    shape.append(size)
        elif num == 4:
            content = val
        elif num == 5:
            floats.extend(struct.unpack(f"<{len(val) // 4}f", val) if wt == 2 else struct.unpack("<f", val))
        elif num == 7:
            if wt == 2:
                p = 0
                while p < len(val):
                    v, p = _varint(val, p)
                    ints.append(v)
            else:
                ints.append(val)
    if dtype_code not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype code {dtype_code}")
    dtype = _DTYPES[dtype_code]
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, dtype=dtype).copy()
    else:
        vals = floats if np.issubdtype(dtype, np.floating) else ints
        arr = np.asarray(vals if vals else [0], dtype=dtype)
        if arr.size == 1 and count > 1:  # protobuf stores a splat as one value
            arr = np.full(count, arr[0], dtype=dtype)
    return arr.reshape(shape) if shape else arr.reshape(())


def _node(buf: bytes) -> TFNode:
    node = TFNode(name="", op="")
    for num, _, val in _fields(buf):
        if num == 1:
            node.name = val.decode()
        elif num == 2:
            node.op = val.decode()
        elif num == 3:
            node.inputs.append(val.decode())
        elif num == 5:
            key, attr = "", b""
            for enum, _, ev in _fields(val):
                if enum == 1:
                    key = ev.decode()
                elif enum == 2:
                    attr = ev
            if key == "value":
                for anum, _, av in _fields(attr):
                    if anum == 8:
                        node.value = _tensor(av)
    return node


def read_graphdef(path: str | Path) -> list[TFNode]:
    """Return the nodes of a frozen GraphDef in file order.

    Raises:
        WeightsFormatError: the file is not a readable GraphDef.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        nodes = [_node(val) for num, _, val in _fields(data) if num == 1]
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise WeightsFormatError(
            f"{path}: not a TensorFlow frozen GraphDef ({exc}). Pass the frozen .pb file of the model."
        ) from exc
    if not nodes:
        raise WeightsFormatError(f"{path}: the GraphDef holds no nodes. Pass the frozen .pb file of the model.")
    return nodes
