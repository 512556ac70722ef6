from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from core.cartoonizer import Cartoonizer
from core.model_file import ModelFileError, ModelMetadata, save_model
from core.model_registry import (
    default_model_name, import_model, is_valid_model_name, list_models, load_model, remove_model, resolve_model_path,
    user_models_dir,
)
from tests.conftest import WHITEBOX_TFLITE, gradient_image, make_tiny_generator, requires_shared


def test_nothing_installed_means_no_default(empty_resources):
    assert list_models() == [] and default_model_name() is None
    with pytest.raises(ModelFileError, match="known models: none yet"):
        resolve_model_path("missing")


def test_bundled_default_and_user_models_are_listed(empty_resources, tiny_model_file):
    generator = make_tiny_generator()
    save_model(empty_resources / "models" / "alpha.safetensors", generator, ModelMetadata(display_name="A"))
    save_model(empty_resources / "models" / "beta.safetensors", generator,
               ModelMetadata(display_name="B", provenance={"default": True}))
    import_model(tiny_model_file, "mine")
    entries = {e.name: e for e in list_models()}
    assert set(entries) == {"alpha", "beta", "mine"}
    assert entries["beta"].bundled and not entries["mine"].bundled
    assert default_model_name() == "beta"
    assert load_model("mine").metadata.display_name == "tiny test model"


def test_import_of_our_own_file_and_removal(empty_resources, tiny_model_file):
    entry = import_model(tiny_model_file, "my-style", display_name="My style")
    assert entry.path.parent == user_models_dir() and entry.metadata.display_name == "My style"
    with pytest.raises(ModelFileError, match="already exists"):
        import_model(tiny_model_file, "my-style")
    remove_model("my-style")
    assert not entry.path.exists()
    with pytest.raises(ModelFileError, match="no user model"):
        remove_model("my-style")


def test_bundled_models_cannot_be_removed(empty_resources):
    save_model(empty_resources / "models" / "shipped.safetensors", make_tiny_generator(),
               ModelMetadata(display_name="S"))
    with pytest.raises(ModelFileError, match="bundled"):
        remove_model("shipped")


@pytest.mark.parametrize("name", ["", "../escape", "a b", "x" * 65, ".hidden"])
def test_bad_names_are_refused(tiny_model_file, name):
    assert not is_valid_model_name(name)
    with pytest.raises(ModelFileError, match="invalid model name"):
        import_model(tiny_model_file, name)


@pytest.mark.parametrize("name", ["cartoon-v0", "my_style.2", "A", "x" * 64])
def test_good_names_pass_the_public_check(name):
    assert is_valid_model_name(name)


def test_state_dict_import_infers_width_and_blocks(tmp_path, empty_resources):
    generator = make_tiny_generator(base_channels=8, blocks=3)
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": generator.state_dict()}, path)
    model = load_model(import_model(path, "from-pth").name)
    assert model.metadata.config.base_channels == 8 and model.metadata.config.num_residual_blocks == 3


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_never_unpickled(tmp_path, empty_resources):
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump(_Exploit(), handle)
    with pytest.raises(ModelFileError, match="not a weights-only PyTorch file"):
        import_model(path, "evil")


def test_unsupported_formats_are_refused(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    with pytest.raises(ModelFileError, match="unsupported model format"):
        import_model(path, "onnx")


@requires_shared(WHITEBOX_TFLITE)
def test_imported_whitebox_model_keeps_its_convention_and_licence(empty_resources):
    entry = import_model(WHITEBOX_TFLITE, "whitebox")
    model = load_model("whitebox")
    assert model.metadata.convention.channel_order == "BGR"
    assert "non-commercial" in entry.metadata.license
    cartoon = Cartoonizer(model, "cpu").cartoonize(gradient_image(64, 96))
    assert cartoon.shape == (64, 96, 3) and np.isfinite(cartoon).all()
