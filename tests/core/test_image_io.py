from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from core.atomic_files import PARTIAL_PREFIX
from core.image_io import (
    ImageReadError, LoadedImage, downscale_to_max_side, output_format_for, read_image, write_image,
)
from tests.conftest import gradient_image


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def _rgb_image(width: int = 40, height: int = 30) -> Image.Image:
    return Image.fromarray((gradient_image(height, width) * 255).astype(np.uint8), "RGB")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".bmp", ".tif"])
def test_reads_common_formats_as_float_rgb(tmp_path, suffix):
    path = _save(_rgb_image(), tmp_path / f"photo{suffix}")
    image = read_image(path)
    assert image.rgb.shape == (30, 40, 3) and image.rgb.dtype == np.float32
    assert 0.0 <= image.rgb.min() and image.rgb.max() <= 1.0
    assert image.alpha is None


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(_rgb_image(40, 30), tmp_path / "rotated.jpg", exif=exif)
    assert read_image(path).size == (30, 40)  # (width, height) swapped


def test_grayscale_palette_cmyk_and_16_bit_inputs_work(tmp_path):
    grey = _save(_rgb_image().convert("L"), tmp_path / "grey.png")
    palette = _save(_rgb_image().convert("P"), tmp_path / "palette.png")
    cmyk = _save(_rgb_image().convert("CMYK"), tmp_path / "cmyk.jpg")
    deep = tmp_path / "deep.png"
    Image.fromarray((np.linspace(0, 65535, 1200).reshape(30, 40)).astype(np.uint16)).save(deep)
    for path in (grey, palette, cmyk, deep):
        image = read_image(path)
        assert image.rgb.shape == (30, 40, 3), path.name
    deep_rgb = read_image(deep).rgb
    assert deep_rgb[0, 0, 0] == 0.0 and deep_rgb[-1, -1, 0] == pytest.approx(1.0)
    assert len(np.unique(deep_rgb[:, :, 0])) > 256  # 16-bit precision survives


def test_alpha_is_kept_through_read_and_write(tmp_path):
    rgba = _rgb_image().convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.arange(40, dtype=np.uint8) * 6, (30, 1))))
    image = read_image(_save(rgba, tmp_path / "alpha.png"))
    assert image.alpha is not None and image.alpha.shape == (30, 40)
    out = write_image(tmp_path / "out.png", image.rgb, image.alpha, "png")
    assert np.array_equal(np.asarray(Image.open(out))[:, :, 3], np.asarray(rgba)[:, :, 3])


def test_palette_transparency_becomes_alpha(tmp_path):
    palette = _rgb_image().convert("P")
    palette.info["transparency"] = 0
    assert read_image(_save(palette, tmp_path / "p.png", transparency=0)).alpha is not None


def test_rgb_icc_profile_is_kept_and_cmyk_profile_dropped(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = read_image(_save(_rgb_image(), tmp_path / "icc.jpg", icc_profile=srgb))
    assert image.icc_profile == srgb
    out = write_image(tmp_path / "out.jpg", image.rgb, fmt="jpeg", icc_profile=image.icc_profile)
    assert Image.open(out).info.get("icc_profile") == srgb
    fake_cmyk_profile = srgb[:16] + b"CMYK" + srgb[20:]
    assert read_image(_save(_rgb_image().convert("CMYK"), tmp_path / "c.jpg",
                            icc_profile=fake_cmyk_profile)).icc_profile is None


def test_jpeg_quality_option_changes_the_file(tmp_path):
    rgb = gradient_image(120, 160, seed=3)
    low = write_image(tmp_path / "low.jpg", rgb, fmt="jpeg", quality=20)
    high = write_image(tmp_path / "high.jpg", rgb, fmt="jpeg", quality=95)
    assert low.stat().st_size < high.stat().st_size


def _huge_png(path: Path, width: int, height: int) -> Path:
    """A tiny file whose header claims enormous dimensions (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not a picture"), "not an image"),
    (lambda p: p.write_bytes(_rgb_image(200, 150).tobytes()[:10]), "not an image"),
])
def test_unreadable_files_give_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageReadError, match=reason):
        read_image(path)


def test_truncated_jpeg_gives_a_reason(tmp_path):
    whole = _save(Image.fromarray((gradient_image(300, 400) * 255).astype(np.uint8)), tmp_path / "w.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(cut)


@pytest.mark.parametrize("side", [13_000, 20_000, 100_000])  # our check, Pillow's, far beyond
def test_decompression_bombs_are_refused_before_decoding(tmp_path, side):
    with pytest.raises(ImageReadError, match="safety limit"):
        read_image(_huge_png(tmp_path / "huge.png", side, side))


def test_write_is_atomic_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")
    with pytest.raises(Exception):
        write_image(target, np.zeros((4, 4, 3), np.float32), fmt="not-a-format")
    assert target.read_bytes() == b"previous result"
    assert not list(tmp_path.glob(f"{PARTIAL_PREFIX}*"))


def test_output_format_resolution():
    assert output_format_for(Path("a.JPG"), "same") == "jpeg"
    assert output_format_for(Path("a.tif"), "same") == "png"
    assert output_format_for(Path("a.png"), "jpeg", has_alpha=True) == "png"
    assert output_format_for(Path("a.gif"), "same") == "gif"     # a still GIF stays a GIF
    with pytest.raises(ValueError):
        output_format_for(Path("a.png"), "bmp")


def test_downscale_to_max_side_keeps_aspect_and_never_enlarges():
    image = LoadedImage(gradient_image(300, 400), np.ones((300, 400), np.float32))
    small = downscale_to_max_side(image, 200)
    assert small.size == (200, 150) and small.alpha.shape == (150, 200)
    assert downscale_to_max_side(image, 1000) is image
