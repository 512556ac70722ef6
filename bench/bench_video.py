"""Video throughput (end-to-end beside model-only, same frames, same run) and flicker with and without smoothing.

    .venv/bin/python bench/bench_video.py [--model NAME] [--frames N] [--size WxH] [--device cpu] [--batch N]

Makes its own clips from a scene photo (../shared/data/photos/scenes when present, a synthetic picture otherwise):
a moving one (slow pan and zoom, with an AAC sine track) for throughput, and a still-camera one with mild sensor
noise for flicker. Model-only times `Cartoonizer.cartoonize_batch` on the moving clip's frames, decoded beforehand,
in batches of the same size as the pipeline's; end-to-end times the whole video job (decode thread, batched inference,
encode thread, audio copy). Both after a warm-up, with device sync. Without --model the default architecture with
random (Kaiming-initialised) weights runs: speed does not depend on the weights, and unlike the nearly flat default
initialisation these give a varied picture whose flicker means something; a real model's flicker is what counts.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cartoonizer import Cartoonizer  # noqa: E402
from core.generator import UNetGenerator  # noqa: E402
from core.model_file import CartoonModel, ModelMetadata  # noqa: E402
from core.model_registry import load_model  # noqa: E402
from core.steps import drain  # noqa: E402
from core.temporal_smoothing import TemporalSmoother, flicker_figure  # noqa: E402
from core.video import VideoOptions, cartoonize_video  # noqa: E402

SCENES = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "scenes"
RATE = Fraction(25)


def scene_picture(width: int, height: int) -> tuple[np.ndarray, str]:
    """A photo twice the clip's size (room to pan and zoom), or a synthetic one when the shared photos are absent."""
    photos = sorted(SCENES.glob("*.jpg")) if SCENES.is_dir() else []
    if photos:
        picture = np.asarray(Image.open(photos[0]).convert("RGB"))
        name = f"scene photo {photos[0].name}"
    else:
        y, x = np.mgrid[0:height * 2, 0:width * 2].astype(np.float32)
        picture = np.stack([x / x.max(), y / y.max(), 0.5 + 0.4 * np.sin(x / 11 + y / 17)], 2) * 255
        name = "synthetic picture (no shared scene photos found)"
    picture = cv2.resize(picture.astype(np.uint8), (width * 2, height * 2), interpolation=cv2.INTER_AREA)
    return picture, name


def camera_frame(picture: np.ndarray, index: int, frames: int, width: int, height: int, moving: bool,
                 noise: float, rng: np.random.Generator) -> np.ndarray:
    """One (H, W, 3) uint8 view of `picture`: panning and zooming in slowly when `moving`, fixed otherwise."""
    t = index / max(1, frames - 1) if moving else 0.0
    zoom = 1.6 - 0.4 * t                                  # view covers 1.6 → 1.2 of the clip's size
    view_w, view_h = width * zoom, height * zoom
    left = (picture.shape[1] - view_w) * (0.1 + 0.6 * t)
    top = (picture.shape[0] - view_h) * (0.3 + 0.2 * t)
    scale = np.float32([[width / view_w, 0, -left * width / view_w], [0, height / view_h, -top * height / view_h]])
    frame = cv2.warpAffine(picture, scale, (width, height), flags=cv2.INTER_AREA).astype(np.float32)
    if noise:
        frame += rng.normal(0.0, noise * 255.0, frame.shape)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def write_clip(path: Path, picture: np.ndarray, frames: int, width: int, height: int, moving: bool,
               noise: float, crf: int) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=RATE, options={"crf": str(crf)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "mono"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(camera_frame(picture, index, frames, width, height, moving, noise, rng),
                                               format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples_total = int(frames / RATE * 48000)
        for start in range(0, samples_total, 1024):
            t = np.arange(start, min(start + 1024, samples_total)) / 48000
            block = av.AudioFrame.from_ndarray((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                               format="fltp", layout="mono")
            block.sample_rate, block.pts = 48000, start
            out.mux(sound.encode(block))
        out.mux(sound.encode())


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_only_fps(cartoonizer: Cartoonizer, frames: np.ndarray, batch: int) -> float:
    sync(cartoonizer.device)
    started = time.perf_counter()
    for start in range(0, len(frames), batch):
        cartoonizer.cartoonize_batch(frames[start:start + batch])
    sync(cartoonizer.device)
    return len(frames) / (time.perf_counter() - started)


def end_to_end_fps(cartoonizer: Cartoonizer, source: Path, destination: Path, options: VideoOptions) -> float:
    destination.unlink(missing_ok=True)
    started = time.perf_counter()
    frames = drain(cartoonize_video(source, destination, cartoonizer, options)).frames
    sync(cartoonizer.device)
    return frames / (time.perf_counter() - started)


def random_model() -> CartoonModel:
    torch.manual_seed(0)
    generator = UNetGenerator()
    for module in generator.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, a=0.2)
            torch.nn.init.normal_(module.bias, std=0.05)
    return CartoonModel(generator.eval(), ModelMetadata(display_name="random weights"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or path (default: default architecture, random weights)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240", help="WxH (even numbers)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=4, help="frames per generator pass")
    parser.add_argument("--noise", type=float, default=0.012, help="sensor noise of the still clip, in [0, 1] units")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (the best is reported)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    model = load_model(args.model) if args.model else random_model()
    cartoonizer = Cartoonizer(model, args.device)
    picture, picture_name = scene_picture(width, height)
    model_name = (f"{args.model} ({model.metadata.display_name})" if args.model else
                  "NO --model given: default architecture with random weights (speed is real, flicker only a sketch)")
    threads = torch.get_num_threads() if cartoonizer.device.type == "cpu" else None
    print(f"device {cartoonizer.device}{f' ({threads} torch threads)' if threads else ''}, {cartoonizer.dtype}; "
          f"model: {model_name}")
    print(f"clips: {width}x{height}, {args.frames} frames at {RATE} fps, AAC sine track; from {picture_name}")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        moving, still = scratch / "moving.mp4", scratch / "still.mp4"
        write_clip(moving, picture, args.frames, width, height, moving=True, noise=0.0, crf=18)
        write_clip(still, picture, args.frames, width, height, moving=False, noise=args.noise, crf=12)
        frames = np.stack(decode(moving))
        options = VideoOptions(batch_frames=args.batch)

        cartoonizer.cartoonize_batch(frames[:args.batch])   # warm-up (allocator, kernels, fp16 check)
        end_to_end_fps(cartoonizer, moving, scratch / "warm.mp4", options)
        model_runs, e2e_runs = [], []
        for _ in range(args.repeats):   # interleaved, so that drifting clocks or background load hit both alike
            model_runs.append(model_only_fps(cartoonizer, frames, args.batch))
            e2e_runs.append(end_to_end_fps(cartoonizer, moving, scratch / "out.mp4", options))
        model_fps, e2e_fps = max(model_runs), max(e2e_runs)   # best of each: the run least disturbed
        smoothed_fps = end_to_end_fps(cartoonizer, moving, scratch / "smoothed.mp4",
                                      VideoOptions(batch_frames=args.batch, temporal_smoothing=True))
        smoother = TemporalSmoother()   # ghosting check: with the input as its own "cartoon", output must = input
        smear = float(np.mean([np.abs(smoother.smooth(f, f).astype(np.float32) - f).mean() for f in frames]))

        still_in = decode(still)
        flicker = {}
        for smoothing in (False, True):
            destination = scratch / f"still-{smoothing}.mp4"
            end_to_end_fps(cartoonizer, still, destination,
                           VideoOptions(batch_frames=args.batch, temporal_smoothing=smoothing, crf=12))
            flicker[smoothing] = flicker_figure(still_in, decode(destination))

    print(f"model-only   {model_fps:7.2f} fps  (cartoonize_batch on pre-decoded frames, batch {args.batch}; best of "
          f"{', '.join(f'{v:.2f}' for v in model_runs)})")
    print(f"end-to-end   {e2e_fps:7.2f} fps  (decode → batched inference → H.264 encode + audio copy; best of "
          f"{', '.join(f'{v:.2f}' for v in e2e_runs)})")
    print(f"ratio end-to-end / model-only: {e2e_fps / model_fps:.3f}  (target ≥ 0.90)")
    print(f"with --temporal-smoothing: {smoothed_fps:.2f} fps end-to-end "
          f"(ratio to model-only {smoothed_fps / model_fps:.3f})")
    print(f"flicker, still camera, noise {args.noise * 255:.1f}/255 (mean |Δ output| / mean |Δ input|, lower is "
          f"steadier): without smoothing {flicker[False]:.3f}, with {flicker[True]:.3f} "
          f"(ratio {flicker[True] / flicker[False]:.2f})")
    print(f"smearing on the moving clip (smoothing the input as its own cartoon; 0 = motion followed exactly): "
          f"mean |output - input| {smear:.2f}/255")


if __name__ == "__main__":
    main()
