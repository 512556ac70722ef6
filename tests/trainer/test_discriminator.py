"""PatchGAN discriminator: patch-map shape, spectral norm on every conv but the last, config round trip."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator


def _convs(disc: nn.Module) -> list[nn.Conv2d]:
    return [m for m in disc.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("in_channels", [3, 1])
@pytest.mark.parametrize("size", [(32, 32), (64, 48), (36, 44)])
def test_patch_map_is_one_eighth_resolution(in_channels, size):
    disc = PatchDiscriminator(DiscriminatorConfig(in_channels=in_channels, base_channels=4))
    scores = disc(torch.randn(2, in_channels, *size))
    assert scores.shape == (2, 1, -(-size[0] // 8), -(-size[1] // 8))


def test_three_stages_of_two_convs_at_doubling_widths_then_1x1_head():
    disc = PatchDiscriminator(DiscriminatorConfig(in_channels=1, base_channels=8))
    convs = _convs(disc)
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32, 1]
    assert [c.stride[0] for c in convs] == [2, 1, 2, 1, 2, 1, 1]
    assert [c.kernel_size[0] for c in convs] == [3, 3, 3, 3, 3, 3, 1]
    slopes = {m.negative_slope for m in disc.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_spectral_norm_on_every_conv_except_the_last():
    convs = _convs(PatchDiscriminator(DiscriminatorConfig(base_channels=4)))
    for conv in convs[:-1]:
        assert parametrize.is_parametrized(conv, "weight")
        assert any("SpectralNorm" in type(p).__name__ for p in conv.parametrizations.weight)
    assert not parametrize.is_parametrized(convs[-1])


def test_spectral_norm_drives_each_normalised_weight_to_unit_norm():
    torch.manual_seed(0)
    disc = PatchDiscriminator(DiscriminatorConfig(base_channels=4)).train()
    for _ in range(30):  # one power iteration per training forward
        disc(torch.randn(1, 3, 16, 16))
    disc.eval()
    for conv in _convs(disc)[:-1]:
        sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_config_round_trip_and_unknown_keys():
    config = DiscriminatorConfig(in_channels=1, base_channels=16)
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        DiscriminatorConfig.from_dict({"in_channels": 3, "width": 2})


def test_state_dict_reloads_into_a_fresh_discriminator():
    config = DiscriminatorConfig(base_channels=4)
    first, second = PatchDiscriminator(config).eval(), PatchDiscriminator(config).eval()
    second.load_state_dict(first.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(first(x), second(x))
