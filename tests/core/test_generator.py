"""The generator's shapes, determinism, TF-legacy upsampling, size formula and memory-format independence."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from core.generator import GeneratorConfig, UNetGenerator, _FewOutputsConv, _upsample2x_tf_legacy
from core.inference_graph import FusedCPUGenerator, prepare_for_inference

SMALL = dict(base_channels=8, num_residual_blocks=2)


def make(seed: int = 0, **config) -> UNetGenerator:
    torch.manual_seed(seed)
    return UNetGenerator(GeneratorConfig(**{**SMALL, **config})).eval()


def image(*shape: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator) * 2 - 1


@pytest.mark.parametrize("tf_compatible", [False, True])
@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (2, 3, 12, 20), (1, 3, 36, 16)])
def test_output_shape_matches_input(shape: tuple[int, ...], tf_compatible: bool) -> None:
    with torch.no_grad():
        assert make(tf_compatible=tf_compatible)(image(*shape)).shape == shape


def test_default_architecture_output_shape() -> None:
    with torch.no_grad():
        assert UNetGenerator().eval()(image(1, 3, 16, 24)).shape == (1, 3, 16, 24)


def test_eval_is_deterministic() -> None:
    model, x = make(), image(2, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_input_is_not_modified() -> None:
    model, x = make(), image(1, 3, 16, 16)
    before = x.clone()
    with torch.no_grad():
        model(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_tf_legacy_upsample_formula(memory_format: torch.memory_format) -> None:
    # two channels of 2×3: out[2k] = in[k], out[2k+1] = mean(in[k], in[k+1]), the last one repeating the edge
    x = torch.tensor([[[1.0, 2.0, 4.0], [3.0, 6.0, 8.0]],
                      [[0.0, -2.0, 2.0], [4.0, 4.0, 0.0]]])[None].contiguous(memory_format=memory_format)
    rows = torch.tensor([[1.0, 1.5, 2.0, 3.0, 4.0, 4.0],
                         [2.0, 3.0, 4.0, 5.0, 6.0, 6.0],
                         [3.0, 4.5, 6.0, 7.0, 8.0, 8.0],
                         [3.0, 4.5, 6.0, 7.0, 8.0, 8.0]])
    second = torch.tensor([[0.0, -1.0, -2.0, 0.0, 2.0, 2.0],
                           [2.0, 1.5, 1.0, 1.0, 1.0, 1.0],
                           [4.0, 4.0, 4.0, 2.0, 0.0, 0.0],
                           [4.0, 4.0, 4.0, 2.0, 0.0, 0.0]])
    out = _upsample2x_tf_legacy(x)
    assert torch.equal(out, torch.stack([rows, second])[None])
    assert out.is_contiguous(memory_format=memory_format)


def expected_parameters(c: int, blocks: int) -> int:
    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + c_out

    return (conv(3, c, 7) + conv(c, c, 3) + conv(c, 2 * c, 3) + conv(2 * c, 2 * c, 3) + conv(2 * c, 4 * c, 3)
            + blocks * 2 * conv(4 * c, 4 * c, 3)
            + conv(4 * c, 2 * c, 3) + conv(2 * c, 2 * c, 3) + conv(2 * c, c, 3) + conv(c, c, 3) + conv(c, 3, 7))


@pytest.mark.parametrize("c, blocks", [(8, 0), (8, 3), (16, 1), (32, 4)])
def test_width_and_blocks_set_the_parameter_count(c: int, blocks: int) -> None:
    model = UNetGenerator(GeneratorConfig(base_channels=c, num_residual_blocks=blocks))
    assert sum(p.numel() for p in model.parameters()) == expected_parameters(c, blocks)


def test_state_dict_keys_are_stable() -> None:
    # the keys of saved models and of the White-box importer: renaming a module breaks every stored model
    keys = set(UNetGenerator(GeneratorConfig(num_residual_blocks=1)).state_dict())
    names = ["stem", "down1", "down1_expand", "down2", "down2_expand", "blocks.0.conv1", "blocks.0.conv2",
             "bottleneck_reduce", "up1", "up1_reduce", "up2", "head"]
    assert keys == {f"{name}.{kind}" for name in names for kind in ("weight", "bias")}


@pytest.mark.parametrize("tf_compatible", [False, True])
def test_channels_last_input_gives_the_contiguous_output(tf_compatible: bool) -> None:
    model, x = make(tf_compatible=tf_compatible), image(2, 3, 16, 24)
    with torch.no_grad():
        expected = model(x)
        channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
        got = channels_last(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tf_compatible", [False, True])
def test_gradients_do_not_depend_on_memory_format(tf_compatible: bool) -> None:
    # the forward's in-place ops and the repacked head must leave autograd intact in both layouts
    grads = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        model = make(tf_compatible=tf_compatible).train().to(memory_format=memory_format)
        x = image(1, 3, 12, 16).contiguous(memory_format=memory_format).requires_grad_()
        model(x).square().sum().backward()
        grads.append([x.grad] + [p.grad for p in model.parameters()])
    for contiguous, channels_last in zip(*grads):
        torch.testing.assert_close(channels_last, contiguous, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_repacked_few_outputs_conv_equals_the_plain_conv(bias: bool) -> None:
    torch.manual_seed(0)
    conv = _FewOutputsConv(8, 3, 7, padding=3, bias=bias)
    plain = nn.Conv2d(8, 3, 7, padding=3, bias=bias)
    plain.load_state_dict(conv.state_dict())
    x = image(2, 8, 10, 12).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        got = conv(x)
        expected = plain(x.contiguous())
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tf_compatible", [False, True])
def test_prepared_cpu_model_gives_the_model_output(tf_compatible: bool) -> None:
    model, x = make(tf_compatible=tf_compatible), image(2, 3, 16, 20)
    with torch.no_grad():
        expected = model(x)
    prepared = prepare_for_inference(copy.deepcopy(model), "cpu")
    if torch.backends.mkldnn.is_available():
        assert isinstance(prepared, FusedCPUGenerator)
    with torch.inference_mode():
        got = prepared(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
