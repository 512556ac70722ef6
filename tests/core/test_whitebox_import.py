"""The White-box TFLite importer: faithful outputs on the reference pairs, structure inference, clear refusals."""
from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite
import torch
from PIL import Image
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

from core.guided_filter import guided_filter
from core.whitebox_import import WHITEBOX_CONVENTION, WhiteboxImportError, load_whitebox_tflite

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REFERENCE = SHARED / "reference" / "whitebox"
TFLITE_FILE = REFERENCE / "whitebox_cartoon_gan_fp16.tflite"

needs_reference = pytest.mark.skipif(
    not TFLITE_FILE.is_file(), reason=f"White-box reference files not found under {REFERENCE} (not redistributable)"
)


@pytest.fixture(scope="module")
def reference_generator():
    return load_whitebox_tflite(TFLITE_FILE)


def _rgb_png_to_bgr_tensor(path: Path) -> torch.Tensor:
    """(1, 3, H, W) BGR in [-1, 1], the encoding White-box was trained with."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1])).permute(2, 0, 1)[None]


@needs_reference
def test_reference_generator_config(reference_generator):
    config = reference_generator.config
    assert (config.base_channels, config.num_residual_blocks, config.tf_compatible) == (32, 4, True)
    assert not reference_generator.training
    assert all(p.dtype == torch.float32 for p in reference_generator.parameters())


@needs_reference
@pytest.mark.parametrize("name", ["bear", "anime"])
def test_matches_tflite_interpreter_output(reference_generator, name):
    x = _rgb_png_to_bgr_tensor(REFERENCE / f"{name}_input.png")
    with torch.no_grad():
        y = guided_filter(x, reference_generator(x), WHITEBOX_CONVENTION["guided_filter_radius"],
                          WHITEBOX_CONVENTION["guided_filter_eps"])
    rgb = y[0].permute(1, 2, 0).numpy()[..., ::-1]
    expected = np.load(REFERENCE / f"{name}_expected_rgb.npy", allow_pickle=False)
    assert rgb.shape == expected.shape == (224, 224, 3)
    max_diff = float(np.abs(rgb - expected).max())
    print(f"{name}: max abs diff vs TFLite interpreter {max_diff:.3g}")
    assert max_diff < 1e-3


@pytest.mark.parametrize("content", [b"this is a text file, not a model\n" * 10, bytes(range(256)) * 7, b""])
def test_non_tflite_file_is_refused(tmp_path, content):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(content)
    with pytest.raises(WhiteboxImportError, match="not a TFLite model"):
        load_whitebox_tflite(fake)


def test_random_bytes_with_tflite_identifier_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    for attempt in range(20):
        data = bytearray(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
        data[4:8] = b"TFL3"
        fake = tmp_path / f"garbage_{attempt}.tflite"
        fake.write_bytes(bytes(data))
        with pytest.raises(WhiteboxImportError, match="TFLite"):
            load_whitebox_tflite(fake)


def test_import_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        load_whitebox_tflite(tmp_path / "missing.tflite")


@needs_reference
def test_missing_layer_is_refused(tmp_path):
    # Same-length renaming inside the flatbuffer's strings keeps the file valid but loses Conv_9.
    data = TFLITE_FILE.read_bytes().replace(b"generator/Conv_9/", b"generator/Conv_X/")
    renamed = tmp_path / "renamed.tflite"
    renamed.write_bytes(data)
    with pytest.raises(WhiteboxImportError, match="Conv_X|Conv_9"):
        load_whitebox_tflite(renamed)


# --- synthetic White-box files of other sizes, written with the TFLite schema's flatbuffer builder -------------

def _synthetic_layers(c: int, blocks: int) -> list[tuple[str, int, int, int]]:
    """(TF layer, c_out, kernel, c_in) in White-box order."""
    layers = [("Conv", c, 7, 3), ("Conv_1", c, 3, c), ("Conv_2", 2 * c, 3, c), ("Conv_3", 2 * c, 3, 2 * c),
              ("Conv_4", 4 * c, 3, 2 * c)]
    for i in range(blocks):
        layers += [(f"block_{i}/conv1", 4 * c, 3, 4 * c), (f"block_{i}/conv2", 4 * c, 3, 4 * c)]
    layers += [("Conv_5", 2 * c, 3, 4 * c), ("Conv_6", 2 * c, 3, 2 * c), ("Conv_7", c, 3, 2 * c),
               ("Conv_8", c, 3, c), ("Conv_9", 3, 7, c)]
    return layers


def _write_synthetic_tflite(path: Path, c: int, blocks: int, fp16: bool, seed: int = 0,
                            stride_of: dict[str, int] | None = None, drop_bias: str | None = None) -> dict:
    """A TFLite file holding just the conv layers (and DEQUANTIZE ops for fp16); returns the OHWI arrays written."""
    rng = np.random.default_rng(seed)
    stride_of = stride_of or {"Conv_1": 2, "Conv_3": 2}
    b = flatbuffers.Builder(1024)
    buffers: list[bytes] = [b""]  # buffer 0: empty, for activations
    tensors: list[tuple[str, list[int], int, int]] = []  # name, shape, type, buffer
    ops: list[tuple[int, list[int], list[int], int]] = []  # opcode index, inputs, outputs, stride (0: no options)
    written: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    dtype, ttype = (np.float16, TensorType.FLOAT16) if fp16 else (np.float32, TensorType.FLOAT32)

    def constant(name: str, value: np.ndarray) -> int:
        buffers.append(value.astype(dtype).tobytes())
        tensors.append((name, list(value.shape), ttype, len(buffers) - 1))
        index = len(tensors) - 1
        if fp16:
            tensors.append((name + "_dequantize", list(value.shape), TensorType.FLOAT32, 0))
            ops.append((1, [index], [len(tensors) - 1], 0))
            index = len(tensors) - 1
        return index

    tensors.append(("input_photo", [1, 64, 64, 3], TensorType.FLOAT32, 0))
    previous = 0
    for layer, c_out, k, c_in in _synthetic_layers(c, blocks):
        weight = rng.standard_normal((c_out, k, k, c_in)).astype(dtype)
        bias = rng.standard_normal(c_out).astype(dtype)
        written[layer] = (weight.astype(np.float32), bias.astype(np.float32))
        w_index = constant(f"generator/{layer}/Conv2D", weight)
        bias_name = f"generator/{layer}/BiasAdd;generator/{layer}/Conv2D;generator/{layer}/biases"
        b_index = constant(bias_name if layer != drop_bias else f"generator/{layer}/biases", bias)
        tensors.append((bias_name + "1", [1, 64, 64, c_out], TensorType.FLOAT32, 0))
        ops.append((0, [previous, w_index, b_index], [len(tensors) - 1], stride_of.get(layer, 1)))
        previous = len(tensors) - 1

    def vector_of_offsets(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            b.PrependUOffsetTRelative(offset)
        return b.EndVector()

    def int_vector(values: list[int]) -> int:
        return b.CreateNumpyVector(np.asarray(values, dtype=np.int32))

    buffer_offsets = []
    for raw in buffers:
        data = b.CreateNumpyVector(np.frombuffer(raw, dtype=np.uint8)) if raw else None
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        buffer_offsets.append(tflite.BufferEnd(b))
    tensor_offsets = []
    for name, shape, ttype_, buffer in tensors:
        name_offset, shape_offset = b.CreateString(name), int_vector(shape)
        tflite.TensorStart(b)
        tflite.TensorAddName(b, name_offset)
        tflite.TensorAddShape(b, shape_offset)
        tflite.TensorAddType(b, ttype_)
        tflite.TensorAddBuffer(b, buffer)
        tensor_offsets.append(tflite.TensorEnd(b))
    op_offsets = []
    for opcode, inputs, outputs, stride in ops:
        options = None
        if stride:
            tflite.Conv2DOptionsStart(b)
            tflite.Conv2DOptionsAddPadding(b, tflite.Padding.SAME)
            tflite.Conv2DOptionsAddStrideH(b, stride)
            tflite.Conv2DOptionsAddStrideW(b, stride)
            options = tflite.Conv2DOptionsEnd(b)
        in_offset, out_offset = int_vector(inputs), int_vector(outputs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcode)
        tflite.OperatorAddInputs(b, in_offset)
        tflite.OperatorAddOutputs(b, out_offset)
        if options is not None:
            tflite.OperatorAddBuiltinOptionsType(b, tflite.BuiltinOptions.Conv2DOptions)
            tflite.OperatorAddBuiltinOptions(b, options)
        op_offsets.append(tflite.OperatorEnd(b))
    code_offsets = []
    for code in (BuiltinOperator.CONV_2D, BuiltinOperator.DEQUANTIZE):
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, code)
        tflite.OperatorCodeAddBuiltinCode(b, code)
        code_offsets.append(tflite.OperatorCodeEnd(b))

    tensors_vec, ops_vec = vector_of_offsets(tensor_offsets), vector_of_offsets(op_offsets)
    graph_in, graph_out = int_vector([0]), int_vector([previous])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddOperators(b, ops_vec)
    tflite.SubGraphAddInputs(b, graph_in)
    tflite.SubGraphAddOutputs(b, graph_out)
    graph = tflite.SubGraphEnd(b)
    graphs_vec, codes_vec = vector_of_offsets([graph]), vector_of_offsets(code_offsets)
    buffers_vec = vector_of_offsets(buffer_offsets)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, graphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return written


@pytest.mark.parametrize("c, blocks, fp16", [(8, 2, True), (16, 6, False), (4, 0, True)])
def test_width_and_depth_are_inferred(tmp_path, c, blocks, fp16):
    path = tmp_path / "small.tflite"
    written = _write_synthetic_tflite(path, c, blocks, fp16)
    generator = load_whitebox_tflite(path)
    assert (generator.config.base_channels, generator.config.num_residual_blocks) == (c, blocks)
    assert generator.config.tf_compatible and not generator.training
    state = generator.state_dict()
    # OHWI → OIHW: out channel o, row h, column w, in channel i lands at [o, i, h, w]; values exact after fp16.
    np.testing.assert_array_equal(state["stem.weight"].numpy(), written["Conv"][0].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(state["head.bias"].numpy(), written["Conv_9"][1])
    if blocks:
        last = f"block_{blocks - 1}/conv2"
        np.testing.assert_array_equal(state[f"blocks.{blocks - 1}.conv2.weight"].numpy(),
                                      written[last][0].transpose(0, 3, 1, 2))
    with torch.no_grad():
        assert generator(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_wrong_stride_is_refused(tmp_path):
    path = tmp_path / "strided.tflite"
    _write_synthetic_tflite(path, 8, 1, True, stride_of={"Conv_1": 2, "Conv_2": 2, "Conv_3": 2})
    with pytest.raises(WhiteboxImportError, match="Conv_2.*stride"):
        load_whitebox_tflite(path)


def test_missing_bias_is_refused(tmp_path):
    path = tmp_path / "nobias.tflite"
    _write_synthetic_tflite(path, 8, 1, False, drop_bias="Conv_5")
    with pytest.raises(WhiteboxImportError, match="missing biases 'generator/Conv_5/BiasAdd'"):
        load_whitebox_tflite(path)


@needs_reference
def test_truncated_file_is_refused(tmp_path):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(TFLITE_FILE.read_bytes()[:200_000])
    with pytest.raises(WhiteboxImportError, match="damaged TFLite file"):
        load_whitebox_tflite(truncated)
