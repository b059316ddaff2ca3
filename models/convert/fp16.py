"""Float16 weights for GPU execution providers, with the graph's inputs and outputs left in float32.

`float16_model` rewrites an exported ONNX file: every MatMul, Gemm and Conv whose weight is an initializer
runs in float16 (its float initializers stored as float16, a Cast to float16 before each other float input and a
Cast back to float32 after its output), and large embedding tables (Gather on an initializer of at least 65536
values and 64 columns) are stored as float16 and cast back after the lookup. Everything else (norms, softmax,
the residual stream, rotary tables, the codebook) stays float32, so the file halves in size, the heavy products
run at half precision, and nothing that could overflow float16 (sums of squares in the norms) does.

The graphs' signatures do not change, so the app runs them like any other pack. This works on the ONNX file
itself because torch 1.13 cannot run float16 matrix products on the CPU, which a float16 export would need.

`float16_model` reads the exported file without its weights, so a graph over protobuf's 2 GB (torch then writes
each weight to a file of its own beside it) is rewritten too: each converted weight is read from its file and
kept as float16, then the float32 weights that remain are read in. The result is one message in memory that is
never serialised whole when it is over the limit: pack_common.save_graph writes it with its weights in a `.data`
file, and `check_saved` checks the saved file.

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
from onnx import TensorProto, external_data_helper, helper, numpy_helper
from torch import nn
from torch.nn import functional as F


# The input that holds the weight of each op run in float16.
WEIGHT_INPUT = {"MatMul": 1, "Gemm": 1, "Conv": 1}
# Embedding tables worth storing as float16: large ones that are not the codebook (its 8 columns stay exact).
TABLE_MIN_VALUES = 65536
TABLE_MIN_COLUMNS = 64


def _is_table(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 and shape[0] * shape[1] >= TABLE_MIN_VALUES and shape[1] >= TABLE_MIN_COLUMNS


def _values(init: onnx.TensorProto, base_dir: Path | None) -> np.ndarray:
    """An initializer's values, read from its external file (relative to `base_dir`) when it has one, without
    loading them into the message."""
    if not external_data_helper.uses_external_data(init):
        return numpy_helper.to_array(init)
    if base_dir is None:
        raise ValueError(f"initializer {init.name} keeps its data in an external file, and no folder was given")
    info = external_data_helper.ExternalDataInfo(init)
    if init.data_type != TensorProto.FLOAT:
        raise ValueError(f"initializer {init.name}: only float32 weights are read from external files here")
    count = int(np.prod(init.dims, dtype=np.int64))
    file = Path(base_dir) / info.location
    with open(file, "rb") as f:
        f.seek(info.offset or 0)
        values = np.fromfile(f, dtype="<f4", count=count)
    if values.size != count:
        raise ValueError(f"{file}: {values.size} of the {count} values of initializer {init.name}")
    return values.reshape(tuple(init.dims))


def _nbytes(init: onnx.TensorProto) -> int:
    """The bytes of an initializer's data, inline or external."""
    if external_data_helper.uses_external_data(init):
        return int(external_data_helper.ExternalDataInfo(init).length or 0)
    return len(init.raw_data) or init.ByteSize()


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


def convert_model(model: onnx.ModelProto, base_dir: Path | None = None) -> dict:
    """Rewrites `model` in place (see the module's docstring); returns what was converted. Converted weights that
    are in external files are read from `base_dir`; the float32 initializers kept are left as they were (inline,
    or still pointing at their files). Nothing is checked here: see check_saved."""
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
            values = _values(inits[name], base_dir).astype(np.float16)
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
    before = sum(_nbytes(i) for i in g.initializer)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.node[:]
    g.node.extend(nodes)
    dropped = set(halves)
    keep_info = [v for v in g.value_info if v.name not in dropped]
    del g.value_info[:]
    g.value_info.extend(keep_info)
    after = sum(_nbytes(i) for i in g.initializer)
    return {
        "nodes": sum(1 for v in chosen.values() if v == "compute"),
        "tables": sum(1 for v in chosen.values() if v == "table"),
        "weightBytes": [before, after],
    }


def float16_model(path: Path) -> tuple[onnx.ModelProto, dict]:
    """The ONNX file at `path` (its weights inline or in external files beside it), converted, with every weight
    held in memory; and what was converted. Save it with pack_common.save_graph, then check it with check_saved."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    stats = convert_model(model, path.parent)
    external_data_helper.load_external_data_for_model(model, str(path.parent))  # the float32 weights kept
    return model, stats


def check_saved(path: Path) -> None:
    """The ONNX checker's full check (structure, then strict type and shape inference) of a saved graph, its
    weights inline or external. Inference runs on the graph read without its weights, which is what it needs and
    stays under protobuf's limit whatever the weights weigh."""
    onnx.checker.check_model(str(path))
    onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False), check_type=True, strict_mode=True)


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
