"""Import a user's own White-box Cartoonization generator from its TFLite file into `UNetGenerator`.

The community TFLite conversions are the form in which most people hold White-box weights. We read the flatbuffer
with the small `tflite` schema package instead of TensorFlow, so the product never needs TensorFlow, and we never
unpickle anything. Weights are found by their TF names (`generator/<layer>/Conv2D`, biases in constants whose
`;`-joined name begins with `generator/<layer>/BiasAdd`), converted from float16 where needed, and the graph is
checked for the strides, activations and resizes our `tf_compatible` mode reproduces, so a file that would give
wrong pictures is refused instead of imported.

The guided filter at the end of the White-box graph is not a weight: callers apply it themselves with the values in
`WHITEBOX_CONVENTION`, which also says how inputs must be encoded (BGR, [-1, 1]).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tflite
import torch
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

from core.generator import LEAKY_SLOPE, GeneratorConfig, UNetGenerator
from core.model_file import InputConvention, ModelMetadata

# How the imported network expects its input and what must follow it; meant for the model file's metadata.
WHITEBOX_CONVENTION: dict = {
    "channel_order": "BGR",
    "value_range": [-1.0, 1.0],
    "guided_filter_radius": 1,
    "guided_filter_eps": 5e-3,
}

# TF layer names in White-box order, and the strides the TF graph must use for each to match our architecture.
_FIXED_LAYERS_BEFORE_BLOCKS = {"Conv": "stem", "Conv_1": "down1", "Conv_2": "down1_expand", "Conv_3": "down2",
                               "Conv_4": "down2_expand"}
_FIXED_LAYERS_AFTER_BLOCKS = {"Conv_5": "bottleneck_reduce", "Conv_6": "up1", "Conv_7": "up1_reduce", "Conv_8": "up2",
                              "Conv_9": "head"}
_STRIDE_2_LAYERS = {"Conv_1", "Conv_3"}

_WEIGHT_NAME = re.compile(r"^generator/(.+)/Conv2D$")
_BIAS_NAME = re.compile(r"^generator/(.+)/BiasAdd$")
_BLOCK_LAYER = re.compile(r"^block_(\d+)/conv[12]$")

_NUMPY_DTYPES = {TensorType.FLOAT32: np.dtype("<f4"), TensorType.FLOAT16: np.dtype("<f2")}
_TFLITE_IDENTIFIER = b"TFL3"


class WhiteboxImportError(ValueError):
    """The file is not a White-box generator we can import faithfully; the message says what is wrong."""


def _layer_map(num_residual_blocks: int) -> dict[str, str]:
    """TF layer name → our module path, for a generator with the given number of residual blocks."""
    blocks = {}
    for i in range(num_residual_blocks):
        blocks[f"block_{i}/conv1"] = f"blocks.{i}.conv1"
        blocks[f"block_{i}/conv2"] = f"blocks.{i}.conv2"
    return {**_FIXED_LAYERS_BEFORE_BLOCKS, **blocks, **_FIXED_LAYERS_AFTER_BLOCKS}


def _parse_model(data: bytes, path: Path) -> tflite.Model:
    """Open the flatbuffer, refusing anything without the TFLite identifier before touching its tables."""
    if len(data) < 8 or data[4:8] != _TFLITE_IDENTIFIER:
        raise WhiteboxImportError(f"{path} is not a TFLite model (no 'TFL3' flatbuffer identifier)")
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise WhiteboxImportError(f"{path} is a TFLite file without any graph")
        graph = model.Subgraphs(0)
        # Every vector element takes at least 4 bytes; longer vectors mean garbage offsets (and endless loops).
        lengths = (model.SubgraphsLength(), model.BuffersLength(), model.OperatorCodesLength(),
                   graph.TensorsLength(), graph.OperatorsLength())
        if max(lengths) > len(data) // 4:
            raise WhiteboxImportError(f"{path} is a damaged TFLite file (table sizes exceed the file)")
    except WhiteboxImportError:
        raise
    except Exception as exc:  # flatbuffers raises assorted errors on corrupt offsets
        raise WhiteboxImportError(f"{path} is a damaged TFLite file: {exc}") from exc
    return model


def _tensor_data(model: tflite.Model, data: bytes, tensor: tflite.Tensor) -> np.ndarray | None:
    """The constant value of `tensor` as float32 with its TFLite shape, or None for activations (no data)."""
    buffer = model.Buffers(tensor.Buffer())
    if buffer is None:
        return None
    if buffer.DataLength() > 0:
        raw = buffer.DataAsNumpy().tobytes()
    elif hasattr(buffer, "Offset") and buffer.Offset() > 1:  # >2 GB models keep data after the flatbuffer
        raw = data[buffer.Offset():buffer.Offset() + buffer.Size()]  # (schema field absent in tflite < 2.14)
    else:
        return None
    name = tensor.Name().decode("utf-8", "replace")
    dtype = _NUMPY_DTYPES.get(tensor.Type())
    if dtype is None:
        raise WhiteboxImportError(
            f"tensor {name!r} has TFLite type {tensor.Type()}; only float32 and float16 weights can be imported "
            "(integer-quantized conversions lose precision and are not supported)"
        )
    shape = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise WhiteboxImportError(f"tensor {name!r}: {len(raw)} bytes do not fit its shape {shape}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.float32)


def _named_constants(model: tflite.Model, data: bytes) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Conv weights and biases of the main graph, keyed by TF layer name (e.g. 'Conv_3', 'block_0/conv1')."""
    graph = model.Subgraphs(0)
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        # The converter joins the names of fused ops with ';'; the first is the op that produced the value.
        first_name = (tensor.Name() or b"").decode("utf-8", "replace").split(";")[0]
        for pattern, table in ((_WEIGHT_NAME, weights), (_BIAS_NAME, biases)):
            match = pattern.match(first_name)
            if not match:
                continue
            value = _tensor_data(model, data, tensor)
            if value is None:  # the activation of that layer carries the same name
                continue
            layer = match.group(1)
            if layer in table:
                raise WhiteboxImportError(f"two constant tensors are named {first_name!r}; cannot tell which is used")
            table[layer] = value
    return weights, biases


def _infer_config(weights: dict[str, np.ndarray]) -> GeneratorConfig:
    """Width from the stem's output channels, depth from the contiguous block_0 … block_{n-1} layers."""
    stem = weights.get("Conv")
    if stem is None:
        raise WhiteboxImportError("no 'generator/Conv/Conv2D' weights: this is not a White-box generator")
    if stem.ndim != 4:
        raise WhiteboxImportError(f"'generator/Conv/Conv2D' has shape {list(stem.shape)}, expected 4-D OHWI")
    block_ids = {int(m.group(1)) for m in map(_BLOCK_LAYER.match, weights) if m}
    num_blocks = len(block_ids)
    if block_ids != set(range(num_blocks)):
        raise WhiteboxImportError(f"residual blocks are not numbered 0…n-1: found {sorted(block_ids)}")
    return GeneratorConfig(base_channels=int(stem.shape[0]), num_residual_blocks=num_blocks, tf_compatible=True)


def _operator_options(op: tflite.Operator, options_class: type) -> object:
    """The op's builtin options table read as `options_class` (defaults when the op stores none)."""
    table = op.BuiltinOptions()
    options = options_class()
    if table is not None:
        options.Init(table.Bytes, table.Pos)
    return options


def _check_graph(model: tflite.Model, layers: set[str]) -> None:
    """Refuse graphs whose ops differ from what `tf_compatible` reproduces; names alone do not prove the maths."""
    graph = model.Subgraphs(0)
    producer: dict[int, tuple[int, tflite.Operator]] = {}
    ops: list[tuple[int, tflite.Operator]] = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # older files only fill the deprecated one
        ops.append((builtin, op))
        for out in op.OutputsAsNumpy() if op.OutputsLength() else []:
            producer[int(out)] = (builtin, op)

    def weight_layer(tensor_index: int) -> str | None:
        source = producer.get(tensor_index)
        if source is not None and source[0] == BuiltinOperator.DEQUANTIZE:  # fp16 weights are dequantized first
            tensor_index = int(source[1].Inputs(0))
        name = (graph.Tensors(tensor_index).Name() or b"").decode("utf-8", "replace").split(";")[0]
        match = _WEIGHT_NAME.match(name)
        return match.group(1) if match else None

    seen: set[str] = set()
    for builtin, op in ops:
        if builtin == BuiltinOperator.CONV_2D:
            layer = weight_layer(int(op.Inputs(1)))
            if layer is None:
                continue
            seen.add(layer)
            options = _operator_options(op, tflite.Conv2DOptions)
            stride = 2 if layer in _STRIDE_2_LAYERS else 1
            if (options.StrideH(), options.StrideW()) != (stride, stride) or options.Padding() != tflite.Padding.SAME:
                raise WhiteboxImportError(
                    f"layer {layer}: stride {options.StrideH()}×{options.StrideW()}, padding {options.Padding()}; "
                    f"the White-box generator uses stride {stride} with SAME padding"
                )
            if (options.DilationHFactor(), options.DilationWFactor()) != (1, 1) or options.FusedActivationFunction():
                raise WhiteboxImportError(f"layer {layer}: dilated conv or fused activation, not a White-box layer")
        elif builtin == BuiltinOperator.LEAKY_RELU:
            alpha = _operator_options(op, tflite.LeakyReluOptions).Alpha()
            if abs(alpha - LEAKY_SLOPE) > 1e-6:
                raise WhiteboxImportError(f"LeakyReLU slope {alpha:g}, the White-box generator uses {LEAKY_SLOPE}")
        elif builtin == BuiltinOperator.RESIZE_BILINEAR:
            options = _operator_options(op, tflite.ResizeBilinearOptions)
            if options.AlignCorners() or options.HalfPixelCenters():
                raise WhiteboxImportError(
                    "bilinear resize with align_corners/half_pixel_centers; White-box uses TF1 legacy resizing"
                )
    missing = sorted(layers - seen)
    if missing:
        raise WhiteboxImportError(f"no convolution in the graph uses the weights of layer(s) {missing}")


def _state_dict(weights: dict[str, np.ndarray], biases: dict[str, np.ndarray], layer_map: dict[str, str],
                generator: UNetGenerator) -> dict[str, torch.Tensor]:
    """OHWI → OIHW weights and biases under our module names, each shape checked against the generator."""
    expected = generator.state_dict()
    unexpected = sorted(set(weights) - set(layer_map))
    if unexpected:
        raise WhiteboxImportError(f"unexpected convolution layer(s) {unexpected}: not the White-box architecture")
    state: dict[str, torch.Tensor] = {}
    for tf_layer, module in layer_map.items():
        if tf_layer not in weights:
            raise WhiteboxImportError(f"missing weights 'generator/{tf_layer}/Conv2D'")
        if tf_layer not in biases:
            raise WhiteboxImportError(f"missing biases 'generator/{tf_layer}/BiasAdd'")
        weight, bias = weights[tf_layer], biases[tf_layer]
        if weight.ndim != 4:
            raise WhiteboxImportError(f"'generator/{tf_layer}/Conv2D' has shape {list(weight.shape)}, expected OHWI")
        pairs = ((f"{module}.weight", np.ascontiguousarray(weight.transpose(0, 3, 1, 2))), (f"{module}.bias", bias))
        for key, value in pairs:
            want = tuple(expected[key].shape)
            if value.shape != want:
                raise WhiteboxImportError(
                    f"layer {tf_layer}: {key.rsplit('.', 1)[1]} of shape {list(value.shape)} (after OHWI→OIHW), "
                    f"expected {list(want)} for base_channels={generator.config.base_channels}"
                )
            if not np.isfinite(value).all():
                raise WhiteboxImportError(f"layer {tf_layer}: {key.rsplit('.', 1)[1]} contains NaN or infinity")
            state[key] = torch.from_numpy(value.copy())
    return state


def load_whitebox_tflite(path: str | Path) -> UNetGenerator:
    """Build an eval-mode float32 `UNetGenerator` (tf_compatible) holding the weights of a White-box TFLite file.

    Width and number of residual blocks come from the file. Inputs must follow `WHITEBOX_CONVENTION` and the output
    still needs the guided filter given there. Raises `WhiteboxImportError` (a `ValueError`) for anything else.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WhiteboxImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    model = _parse_model(data, path)
    try:
        weights, biases = _named_constants(model, data)
        config = _infer_config(weights)
        layer_map = _layer_map(config.num_residual_blocks)
        _check_graph(model, set(layer_map))
    except WhiteboxImportError as exc:
        raise WhiteboxImportError(f"{path}: {exc}") from None
    except Exception as exc:  # corrupt tables surface as index/struct errors deep in flatbuffers
        raise WhiteboxImportError(f"{path} is a damaged TFLite file: {exc}") from exc

    generator = UNetGenerator(config)
    try:
        state = _state_dict(weights, biases, layer_map, generator)
    except WhiteboxImportError as exc:
        raise WhiteboxImportError(f"{path}: {exc}") from None
    generator.load_state_dict(state, strict=True)
    return generator.float().eval()


def whitebox_metadata(path: str | Path) -> ModelMetadata:
    """Model-file metadata for an imported White-box generator: its BGR/[-1, 1] convention, its guided filter,
    and the original licence, which stays with the weights (CC BY-NC-SA 4.0: non-commercial)."""
    path = Path(path)
    return ModelMetadata(
        display_name=f"White-box ({path.stem})",
        convention=InputConvention(channel_order=WHITEBOX_CONVENTION["channel_order"],
                                   value_range=tuple(WHITEBOX_CONVENTION["value_range"])),
        guided_filter_radius=WHITEBOX_CONVENTION["guided_filter_radius"],
        guided_filter_eps=WHITEBOX_CONVENTION["guided_filter_eps"],
        description="White-box Cartoonization generator (Wang & Yu, CVPR 2020), imported from TFLite.",
        license="CC BY-NC-SA 4.0 (White-box Cartoonization weights; non-commercial use only)",
        provenance={"imported_from": path.name, "format": "White-box TFLite"},
    )
