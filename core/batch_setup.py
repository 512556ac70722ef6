"""The one way to start a batch, for the CLI and the desktop app alike: a request (inputs, batch options and the
engine's settings) becomes a ready batch (its plan, the video encoder checked, the model loaded onto its device), or
a `BatchSetupError` whose `kind` says what failed (`core.failures.FailureKind`: the request itself, the model, the
device, the encoder). Cheap checks come first, so a wrong request costs no model load."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from core.batch import BatchEvent, BatchOptions, BatchPlan, BatchRequestError, ItemKind, plan_batch, run_batch
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.devices import AUTO, DeviceError
from core.failures import FailureKind, failure_kind, failure_message
from core.model_file import CartoonModel, ModelFileError
from core.model_registry import default_model_name, load_model
from core.region_strength import MaskFunction, RegionStrength
from core.segmenter import SegmenterFileError
from core.video import EncoderUnavailable, VideoOptions, check_video_encoder, output_is_frame_folder

# what setting up the engine may raise for a reason a person can act on (anything else is a bug and stays one)
_SETUP_ERRORS = (ModelFileError, SegmenterFileError, DeviceError, torch.OutOfMemoryError, torch.AcceleratorError)


class BatchSetupError(Exception):
    """A batch that cannot start; `kind` says why (request, model, device or encoder), the message says it to a
    person."""

    def __init__(self, kind: FailureKind, message: str):
        super().__init__(message)
        self.kind = kind


class NoModelError(BatchSetupError):
    """No model was chosen and none is installed (each face says how to get one in its own words)."""

    def __init__(self) -> None:
        super().__init__(FailureKind.MODEL, "no model was chosen and none is installed")


@dataclass(frozen=True)
class EngineSettings:
    """How the engine is set up: the model (a name or a .safetensors path; None for the default), device,
    precision, tile size (None: from the device's memory), global strength and per-region strength."""

    model: str | None = None
    device: str = AUTO
    precision: str = "auto"
    tile_size: int | None = None
    strength: float = 1.0
    region_strength: RegionStrength = RegionStrength()

    def model_name(self) -> str:
        """The chosen model, or the default one; NoModelError when there is neither."""
        name = self.model or default_model_name()
        if name is None:
            raise NoModelError()
        return name


@dataclass(frozen=True)
class BatchRequest:
    """What to cartoonize, where and how: everything a batch needs, as the CLI's arguments or a GUI job give it."""

    inputs: tuple[Path, ...]
    options: BatchOptions
    engine: EngineSettings = EngineSettings()


@dataclass
class ReadyBatch:
    """A batch ready to run: `run()` yields the engine's events (`core.batch.run_batch`)."""

    request: BatchRequest
    plan: BatchPlan
    cartoonizer: Cartoonizer

    @property
    def model(self) -> CartoonModel:
        return self.cartoonizer.model

    def run(self, cancel: CancelToken | None = None) -> Iterator[BatchEvent]:
        return run_batch(self.plan, self.cartoonizer, self.request.options, cancel)


def prepare_batch(request: BatchRequest, *, model: CartoonModel | None = None,
                  mask_function: MaskFunction | None = None) -> ReadyBatch:
    """Plan the request, check the video encoder its videos need, load the model (unless given, e.g. a cached
    one) and place it on the device. Raises BatchSetupError with the kind of what failed."""
    plan = plan_request(request.inputs, request.options)
    check_encoder_for(plan, request.options.video)
    return ReadyBatch(request, plan, build_cartoonizer(request.engine, model, mask_function))


def plan_request(inputs: Sequence[str | Path], options: BatchOptions) -> BatchPlan:
    """`core.batch.plan_batch`, its usage errors as BatchSetupError of kind REQUEST."""
    try:
        return plan_batch(list(inputs), options)
    except BatchRequestError as exc:
        raise BatchSetupError(FailureKind.REQUEST, str(exc)) from exc


def check_encoder_for(plan: BatchPlan, video: VideoOptions) -> None:
    """Open the video encoder once if an item will encode a video, so that a missing one (NVENC without an NVIDIA
    GPU) is one clear error before the batch rather than one failure per video."""
    encodes = any(item.kind in (ItemKind.VIDEO, ItemKind.FRAMES)
                  and not output_is_frame_folder(item.kind is ItemKind.FRAMES, video) for item in plan.runnable)
    if encodes:
        try:
            check_video_encoder(video.codec)
        except EncoderUnavailable as exc:
            raise BatchSetupError(FailureKind.ENCODER, str(exc)) from exc


def build_cartoonizer(engine: EngineSettings, model: CartoonModel | None = None,
                      mask_function: MaskFunction | None = None) -> Cartoonizer:
    """The engine as `engine` says: `model` (or the chosen or default one, loaded here) on the device, with the
    segmenter loaded when the region strengths differ (unless `mask_function` stands in for it)."""
    try:
        model = model if model is not None else load_model(engine.model_name())
        return Cartoonizer(model, engine.device, engine.precision, tile_size=engine.tile_size,
                           strength=engine.strength, region_strength=engine.region_strength,
                           mask_function=mask_function)
    except _SETUP_ERRORS as exc:
        raise BatchSetupError(failure_kind(exc), failure_message(exc)) from exc
    except ValueError as exc:   # a setting out of range
        raise BatchSetupError(FailureKind.REQUEST, str(exc)) from exc
