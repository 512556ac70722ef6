from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from core.generator import GeneratorConfig
from core.model_file import (
    METADATA_KEY, ModelFileError, ModelMetadata, load_model_file, read_metadata, save_model,
)
from tests.conftest import make_tiny_generator


def _outputs(generator, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)
    with torch.no_grad():
        return generator(torch.rand(1, 3, 32, 32) * 2 - 1)


@pytest.mark.parametrize("half", [False, True])
def test_round_trip_rebuilds_the_same_network(tmp_path, half):
    generator = make_tiny_generator(base_channels=8, blocks=2)
    metadata = ModelMetadata(display_name="Round trip", description="test", license="MIT",
                             provenance={"steps": 10, "base_model": None})
    path = save_model(tmp_path / "m.safetensors", generator, metadata, half=half)
    model = load_model_file(path)
    assert model.metadata.config == GeneratorConfig(base_channels=8, num_residual_blocks=2)
    assert model.metadata.display_name == "Round trip" and model.metadata.provenance["steps"] == 10
    assert model.name == "m"
    tolerance = 5e-2 if half else 1e-6  # fp16 weights round the output a little
    torch.testing.assert_close(_outputs(model.generator), _outputs(generator), atol=tolerance, rtol=0)


def test_half_precision_file_is_about_half_the_size(tmp_path):
    generator = make_tiny_generator(base_channels=16, blocks=2)
    metadata = ModelMetadata(display_name="x")
    full = save_model(tmp_path / "full.safetensors", generator, metadata, half=False).stat().st_size
    half = save_model(tmp_path / "half.safetensors", generator, metadata, half=True).stat().st_size
    assert half < 0.6 * full


def test_metadata_can_be_read_without_the_weights(tiny_model_file):
    metadata = read_metadata(tiny_model_file)
    assert metadata.display_name == "tiny test model"
    assert metadata.convention.channel_order == "RGB" and metadata.convention.value_range == (-1.0, 1.0)


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFileError, match="without cartoonizer metadata"):
        load_model_file(path)


def test_unknown_format_version_is_refused(tmp_path, tiny_model):
    data = json.loads(tiny_model.metadata.to_json())
    data["format_version"] = 99
    path = tmp_path / "future.safetensors"
    save_file({k: v for k, v in tiny_model.generator.state_dict().items()}, str(path),
              metadata={METADATA_KEY: json.dumps(data)})
    with pytest.raises(ModelFileError, match="version 99"):
        load_model_file(path)


def test_mismatched_weights_are_refused_with_a_readable_reason(tmp_path, tiny_model):
    state = dict(tiny_model.generator.state_dict())
    state.pop("head.bias")
    path = tmp_path / "broken.safetensors"
    save_file(state, str(path), metadata={METADATA_KEY: tiny_model.metadata.to_json()})
    assert tiny_model.metadata.config == tiny_model.generator.config
    with pytest.raises(ModelFileError, match="missing \\['head.bias'\\]"):
        load_model_file(path)


@pytest.mark.parametrize("name, content", [("model.pt", b"x"), ("model.bin", b"x"), ("garbage.safetensors", b"junk")])
def test_other_files_are_refused_without_unpickling(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_model_file(path)
