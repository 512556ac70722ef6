"""One way to start a batch (`core.batch_setup`) and the kinds that failures carry (`core.failures`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.batch import BatchFinished, BatchOptions
from core.batch_setup import BatchRequest, BatchSetupError, EngineSettings, NoModelError, prepare_batch
from core.cartoonizer import Cartoonizer, DeviceOutOfMemory
from core.failures import FailureKind, failure_kind, failure_message
from core.image_io import ImageReadError, write_image
from core.video import VideoOptions
from tests.conftest import gradient_image


def _photo(path: Path) -> Path:
    return write_image(path, gradient_image(24, 32), fmt="png")


def _request(inputs, out: Path, model: Path | None, **engine) -> BatchRequest:
    return BatchRequest(tuple(inputs), BatchOptions(out), EngineSettings(str(model) if model else None, "cpu",
                                                                          **engine))


def _setup_error(request: BatchRequest) -> BatchSetupError:
    with pytest.raises(BatchSetupError) as raised:
        prepare_batch(request)
    return raised.value


def test_a_ready_batch_runs_and_its_results_carry_kinds(tmp_path, tiny_model_file):
    good = _photo(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "bad.png").write_bytes(b"not a picture")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "theirs.png").write_bytes(b"someone else's file")
    _photo(tmp_path / "in" / "theirs.png")
    batch = prepare_batch(_request([tmp_path / "in"], tmp_path / "out", tiny_model_file))
    assert batch.model.source == tiny_model_file and batch.cartoonizer.device.type == "cpu"
    summary = list(batch.run())[-1].summary
    kinds = {result.item.source.name: (result.status, result.error_kind) for result in summary.results}
    assert kinds == {good.name: ("done", None), "bad.png": ("failed", FailureKind.INPUT),
                     "theirs.png": ("failed", FailureKind.OUTPUT)}


def test_setup_failures_say_their_kind(tmp_path, tiny_model_file):
    photo = _photo(tmp_path / "p.png")
    (tmp_path / "file").write_text("a file, not a folder")
    assert _setup_error(_request([photo], tmp_path / "file", tiny_model_file)).kind is FailureKind.REQUEST
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    assert _setup_error(_request([photo], tmp_path / "out", broken)).kind is FailureKind.MODEL
    assert _setup_error(_request([photo], tmp_path / "out", tiny_model_file, strength=2.0)).kind \
        is FailureKind.REQUEST


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_missing_device_is_a_device_failure(tmp_path, tiny_model_file):
    request = BatchRequest((_photo(tmp_path / "p.png"),), BatchOptions(tmp_path / "out"),
                           EngineSettings(str(tiny_model_file), "cuda"))
    error = _setup_error(request)
    assert error.kind is FailureKind.DEVICE and "CUDA is not available" in str(error)


def test_no_model_is_a_model_failure(tmp_path, empty_resources):
    with pytest.raises(NoModelError) as raised:
        prepare_batch(_request([_photo(tmp_path / "p.png")], tmp_path / "out", None))
    assert raised.value.kind is FailureKind.MODEL


def test_the_encoder_is_checked_only_when_a_video_is_encoded(tmp_path, tiny_model_file):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"planned by its suffix")
    options = BatchOptions(tmp_path / "out", video=VideoOptions(codec="no-such-encoder"))
    request = BatchRequest((clip,), options, EngineSettings(str(tiny_model_file), "cpu"))
    assert _setup_error(request).kind is FailureKind.ENCODER
    frames_only = BatchOptions(tmp_path / "out", video=VideoOptions(codec="no-such-encoder", frames_only=True))
    prepare_batch(BatchRequest((clip,), frames_only, EngineSettings(str(tiny_model_file), "cpu")))
    animation = tmp_path / "moving.gif"   # written by Pillow: no video encoder involved
    pictures = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(3)]
    pictures[0].save(animation, save_all=True, append_images=pictures[1:], duration=[50] * 3)
    prepare_batch(BatchRequest((animation,), options, EngineSettings(str(tiny_model_file), "cpu")))


def test_an_out_of_memory_item_is_a_device_failure(tmp_path, tiny_model, monkeypatch):
    def out_of_memory(self, rgb, cancel=None, history=None):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, as the real one

    monkeypatch.setattr(Cartoonizer, "cartoonize_steps", out_of_memory)
    request = BatchRequest((_photo(tmp_path / "p.png"),), BatchOptions(tmp_path / "out"), EngineSettings(device="cpu"))
    batch = prepare_batch(request, model=tiny_model)
    finished = list(batch.run())[-1]
    assert isinstance(finished, BatchFinished)
    (result,) = finished.summary.results
    assert result.error_kind is FailureKind.DEVICE and result.error.startswith("OutOfMemoryError: CUDA out of memory")


@pytest.mark.parametrize("exc, kind", [
    (ImageReadError("truncated"), FailureKind.INPUT),
    (DeviceOutOfMemory("out of memory on cuda:0 even with 256px tiles"), FailureKind.DEVICE),
    (RuntimeError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED"), FailureKind.DEVICE),
    (RuntimeError("MPS backend out of memory"), FailureKind.DEVICE),
    (RuntimeError("shapes do not match"), FailureKind.OTHER),
    (KeyError("x"), FailureKind.OTHER),
])
def test_failure_kinds_come_from_types(exc, kind):
    assert failure_kind(exc) is kind


def test_failure_messages_keep_the_type_of_unknown_errors():
    assert failure_message(ImageReadError("truncated")) == "truncated"
    assert failure_message(KeyError("x")) == "KeyError: 'x'"
