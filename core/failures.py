"""What kind of failure an exception is, decided once in the engine so that callers act on the kind (offer a retry
on the CPU after a device failure, say) instead of searching messages, and the message a person reads for it."""
from __future__ import annotations

from enum import Enum

import torch

from core.cancel import Cancelled
from core.cartoonizer import DeviceOutOfMemory
from core.devices import DeviceError
from core.image_io import ImageReadError
from core.model_file import ModelFileError
from core.segmenter import SegmenterFileError
from core.video import EncoderUnavailable, VideoError, VideoReadError, VideoWriteError

# PyTorch raises its cuDNN, cuBLAS and MPS backend failures as plain RuntimeErrors: these words in the message are
# all that tells them apart (CUDA errors and out-of-memory have their own types, checked first).
_BACKEND_ERROR_MARKERS = ("cudnn", "cublas", "cuda error", "device-side assert", "mps backend")


# the engine's own errors, whose messages are written for people
_SENTENCES = (ImageReadError, VideoError, ModelFileError, SegmenterFileError, DeviceError, DeviceOutOfMemory)


class FailureKind(str, Enum):
    """Why a batch, or one of its items, failed."""

    REQUEST = "request"        # a batch that must not start (a usage error: output folder, name pattern …)
    INPUT = "input"            # an input that cannot be read: missing, not a picture or video, damaged, too large
    OUTPUT = "output"          # an output that cannot be written, or a file there that is not ours
    MODEL = "model"            # no model, or a model (or segmenter) file that cannot be used
    DEVICE = "device"          # the device is missing, out of memory or failing: the CPU or smaller tiles may do
    ENCODER = "encoder"        # the chosen video encoder cannot be opened on this machine
    CANCELLED = "cancelled"
    OTHER = "other"            # anything else (a bug, most likely: the message keeps the exception's type)


def failure_kind(exc: BaseException) -> FailureKind:
    """The kind of `exc`, by its type (see `FailureKind`)."""
    if isinstance(exc, Cancelled):
        return FailureKind.CANCELLED
    if isinstance(exc, (ImageReadError, VideoReadError)):
        return FailureKind.INPUT
    if isinstance(exc, EncoderUnavailable):
        return FailureKind.ENCODER
    if isinstance(exc, VideoWriteError):
        return FailureKind.OUTPUT
    if isinstance(exc, (ModelFileError, SegmenterFileError)):
        return FailureKind.MODEL
    if isinstance(exc, (DeviceError, DeviceOutOfMemory, torch.OutOfMemoryError, torch.AcceleratorError)):
        return FailureKind.DEVICE
    if isinstance(exc, RuntimeError) and any(marker in str(exc).lower() for marker in _BACKEND_ERROR_MARKERS):
        return FailureKind.DEVICE
    return FailureKind.OTHER


def failure_message(exc: BaseException) -> str:
    """What a person reads: the engine's own errors already read as sentences; anything else keeps its type's name,
    so that it can be looked up."""
    if isinstance(exc, _SENTENCES):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"
