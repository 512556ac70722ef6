from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from core.cancel import CancelToken, Cancelled
from trainer.keyframes import (
    KeyframeOptions, colour_histogram, difference_hash, extract_keyframes, extract_keyframes_steps,
    hamming_distance, histogram_distance,
)

WIDTH, HEIGHT, FPS = 96, 64, 10


def scene_picture(kind: str) -> np.ndarray:
    """(H, W, 3) uint8: three clearly different scenes (gradient, stripes, checks) in different colours."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    if kind == "gradient":
        grey = x / WIDTH
        tint = (230, 90, 60)
    elif kind == "stripes":
        grey = ((x // 8) % 2).astype(np.float32)
        tint = (60, 110, 230)
    else:
        grey = (((x // 16) + (y // 16)) % 2).astype(np.float32)
        tint = (80, 220, 90)
    picture = 30 + grey[..., None] * (np.array(tint, np.float32) - 30)
    return picture.astype(np.uint8)


def write_video(path: Path, scenes: list[str], frames_per_scene: int = 10, noise: float = 3.0,
                codec: str = "libx264") -> Path:
    """Each scene `frames_per_scene` frames at FPS, every frame with fresh Gaussian noise of `noise` levels."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        index = 0
        for kind in scenes:
            for _ in range(frames_per_scene):
                picture = scene_picture(kind) + rng.normal(0.0, noise, (HEIGHT, WIDTH, 3))
                frame = av.VideoFrame.from_ndarray(np.clip(picture, 0, 255).astype(np.uint8), format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, FPS)
                container.mux(stream.encode(frame))
                index += 1
        container.mux(stream.encode())
    return path


def test_three_scenes_give_three_keyframes(tmp_path):
    video = write_video(tmp_path / "episode 1.mp4", ["gradient", "stripes", "checks"])
    summary = extract_keyframes([video], tmp_path / "frames")
    record = summary.videos[0]
    assert record.error is None and record.scenes == 3
    assert len(summary.kept) == 3
    times_ms = [int(path.stem.rsplit("_", 1)[1]) for path in summary.kept]
    assert [t // 1000 for t in times_ms] == [0, 1, 2]                      # one per scene, inside it
    assert all(path.name.startswith("episode 1_") and path.suffix == ".png" for path in summary.kept)
    for path, kind in zip(summary.kept, ["gradient", "stripes", "checks"]):
        kept = np.asarray(Image.open(path).convert("RGB"), np.float32)
        assert kept.shape == (HEIGHT, WIDTH, 3)
        assert np.abs(kept - scene_picture(kind)).mean() < 12.0             # the right scene, at full size
    assert not [p for p in (tmp_path / "frames").iterdir() if p.name.startswith(".")]   # no partial files


def test_near_duplicates_are_dropped_across_videos(tmp_path):
    first = write_video(tmp_path / "a.mp4", ["gradient", "stripes", "gradient"])
    second = write_video(tmp_path / "b.mkv", ["stripes", "checks"], codec="mpeg4")
    summary = extract_keyframes([first, second], tmp_path / "frames",
                                KeyframeOptions(image_format="jpeg"))
    a, b = summary.videos
    assert (len(a.kept), a.near_duplicates) == (2, 1)                      # the gradient comes back
    assert (len(b.kept), b.near_duplicates) == (1, 1)                      # the stripes were seen in a.mp4
    assert [path.suffix for path in summary.kept] == [".jpg"] * 3


def test_max_count_min_spacing_and_short_scenes(tmp_path):
    video = write_video(tmp_path / "clip.mp4", ["gradient", "stripes", "checks"])
    limited = extract_keyframes([video], tmp_path / "one", KeyframeOptions(max_per_video=1))
    assert len(limited.kept) == 1
    spaced = extract_keyframes([video], tmp_path / "spaced", KeyframeOptions(min_spacing_s=1.5))
    # scene starts at 0, 1 and 2 s: the second is too close to the first, the third is 2 s after the first
    assert len(spaced.kept) == 2 and spaced.videos[0].too_close == 1
    flashes = extract_keyframes([video], tmp_path / "long", KeyframeOptions(min_scene_s=1.5))
    assert flashes.kept == [] and flashes.videos[0].too_short == 3


def test_unreadable_videos_are_reported_not_raised(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    good = write_video(tmp_path / "good.mp4", ["checks"])
    summary = extract_keyframes([bogus, tmp_path / "missing.mkv", good], tmp_path / "frames")
    assert set(summary.failed) == {bogus, tmp_path / "missing.mkv"}
    assert "not a readable video" in summary.failed[bogus]
    assert len(summary.kept) == 1


def test_progress_and_cancel(tmp_path):
    video = write_video(tmp_path / "clip.mp4", ["gradient", "stripes"])
    steps = extract_keyframes_steps([video], tmp_path / "frames")
    progress = next(steps)
    assert progress.videos_total == 1 and progress.position_s == 0.0
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        extract_keyframes([video], tmp_path / "cancelled", cancel=cancel)


def test_signatures_ignore_noise_but_not_content():
    rng = np.random.default_rng(1)
    clean = scene_picture("gradient")
    noisy = np.clip(clean + rng.normal(0, 3, clean.shape), 0, 255).astype(np.uint8)
    other = scene_picture("stripes")
    assert histogram_distance(colour_histogram(clean), colour_histogram(noisy)) < 0.1
    assert histogram_distance(colour_histogram(clean), colour_histogram(other)) > 0.5
    assert hamming_distance(difference_hash(clean), difference_hash(noisy)) <= 4
    assert hamming_distance(difference_hash(clean), difference_hash(other)) > KeyframeOptions().hash_distance
