"""Float16 weights for GPU execution providers, with the graph's inputs and outputs left in float32.

`to_float16_weights` rewrites an exported ONNX file: every MatMul, Gemm and Conv whose weight is an initializer
runs in float16 (its float initializers stored as float16, a Cast to float16 before each other float input and a
Cast back to float32 after its output), and large embedding tables (Gather on an initializer of at least 65536
values and 64 columns) are stored as float16 and cast back after the lookup. Everything else (norms, softmax,
the residual stream, rotary tables, the codebook) stays float32, so the file halves in size, the heavy products
run at half precision, and nothing that could overflow float16 (sums of squares in the norms) does.

The graphs' signatures do not change, so the app runs them like any other pack. This works on the ONNX file
itself because torch 1.13 cannot run float16 matrix products on the CPU, which a float16 export would need.

`emulated_float16` makes PyTorch compute with the weights as stored (rounded to float16) in float32 arithmetic,
which is what onnxruntime's CPU provider does with such a graph (it has no float16 kernels for these ops, runs
them in float32 and drops the casts around them). The parity fixtures of a float16 pack come from it, so that the
CPU check stays tight; GPU providers run the products in float16, which the pack's looser parity tolerance allows.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from ddpipe.common import atomic_path

# The input that holds the weight of each op run in float16.
WEIGHT_INPUT = {"MatMul": 1, "Gemm": 1, "Conv": 1}
# Embedding tables worth storing as float16: large ones that are not the codebook (its 8 columns stay exact).
TABLE_MIN_VALUES = 65536
TABLE_MIN_COLUMNS = 64


def _is_table(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 and shape[0] * shape[1] >= TABLE_MIN_VALUES and shape[1] >= TABLE_MIN_COLUMNS


def _float_types(model: onnx.ModelProto) -> dict[str, int]:
    """The element type of every named value the shape inference can type."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.input, *g.value_info, *g.output]}
    types.update({i.name: i.data_type for i in g.initializer})
    return types


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs (If, Loop) read from the outer scope, so that no initializer they use is dropped."""
    names: set[str] = set()
    for attr in node.attribute:
        for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
            for inner in sub.node:
                names.update(inner.input)
                names |= _subgraph_inputs(inner)
    return names


def convert_model(model: onnx.ModelProto) -> dict:
    """Rewrites `model` in place (see the module's docstring); returns what was converted."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    types = _float_types(model)
    chosen: dict[int, str] = {}  # node index -> "compute" or "table"
    for k, node in enumerate(g.node):
        w = WEIGHT_INPUT.get(node.op_type)
        if w is not None and len(node.input) > w and inits.get(node.input[w]) is not None:
            floats = [n for n in node.input if n]
            if all(types.get(n) == TensorProto.FLOAT for n in floats):
                chosen[k] = "compute"
        elif node.op_type == "Gather" and node.input[0] in inits:
            init = inits[node.input[0]]
            if init.data_type == TensorProto.FLOAT and _is_table(tuple(init.dims)):
                chosen[k] = "table"

    halves: dict[str, str] = {}  # float32 initializer -> its float16 copy
    casts: dict[str, str] = {}  # float32 value -> its float16 cast
    new_inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def half_of(name: str) -> str:
        if name not in halves:
            halves[name] = f"{name}__fp16"
            values = numpy_helper.to_array(inits[name]).astype(np.float16)
            new_inits.append(numpy_helper.from_array(values, halves[name]))
        return halves[name]

    for k, node in enumerate(g.node):
        kind = chosen.get(k)
        if kind is None:
            nodes.append(node)
            continue
        for i, name in enumerate(node.input):
            if not name or (kind == "table" and i > 0):
                continue
            if name in inits:
                node.input[i] = half_of(name)
            else:
                if name not in casts:
                    casts[name] = f"{name}__to_fp16"
                    nodes.append(helper.make_node("Cast", [name], [casts[name]], to=TensorProto.FLOAT16))
                node.input[i] = casts[name]
        nodes.append(node)
        out = node.output[0]
        node.output[0] = f"{out}__fp16"
        nodes.append(helper.make_node("Cast", [node.output[0]], [out], to=TensorProto.FLOAT))

    still_used = {n for node in nodes for n in node.input} | {o.name for o in g.output}
    for node in nodes:
        still_used |= _subgraph_inputs(node)
    kept = [i for i in g.initializer if i.name in still_used]
    before = sum(len(i.raw_data) or i.ByteSize() for i in g.initializer)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.node[:]
    g.node.extend(nodes)
    dropped = set(halves)
    keep_info = [v for v in g.value_info if v.name not in dropped]
    del g.value_info[:]
    g.value_info.extend(keep_info)
    after = sum(len(i.raw_data) or i.ByteSize() for i in g.initializer)
    onnx.checker.check_model(model, full_check=True)
    return {
        "nodes": sum(1 for v in chosen.values() if v == "compute"),
        "tables": sum(1 for v in chosen.values() if v == "table"),
        "weightBytes": [before, after],
    }


def to_float16_weights(path: Path) -> dict:
    """Converts the ONNX file at `path` in place (atomically); returns what was converted."""
    path = Path(path)
    model = onnx.load(str(path))
    stats = convert_model(model)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))
    return stats


# ---------------------------------------------------------------- the same arithmetic in PyTorch


def _half(x: torch.Tensor) -> torch.Tensor:
    """Rounds to float16 and back: the value a weight stored as float16 has."""
    return x.half().float()


def _linear(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    # torch exports a 2-D Linear with a bias as one Gemm (its bias converted too), any other as a MatMul followed
    # by a float32 Add of the bias.
    bias = self.bias if self.bias is None or x.dim() != 2 else _half(self.bias)
    return F.linear(x, _half(self.weight), bias)


def _conv2d(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return self._conv_forward(x, _half(self.weight), None if self.bias is None else _half(self.bias))


def _embedding(self: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
    table = _half(self.weight) if _is_table(tuple(self.weight.shape)) else self.weight
    return F.embedding(ids, table, self.padding_idx)


@contextmanager
def emulated_float16() -> Iterator[None]:
    """Within the block, nn.Linear, nn.Conv2d and nn.Embedding use their weights as a float16 graph stores them."""
    saved = (nn.Linear.forward, nn.Conv2d.forward, nn.Embedding.forward)
    nn.Linear.forward, nn.Conv2d.forward, nn.Embedding.forward = _linear, _conv2d, _embedding
    try:
        yield
    finally:
        nn.Linear.forward, nn.Conv2d.forward, nn.Embedding.forward = saved
