"""Reading and writing still images: any common format and mode in, RGB float pixels plus alpha and ICC out.

Reading honours EXIF orientation, refuses decompression bombs and names the reason for every unreadable file.
Writing is atomic (see `core.atomic_files`), keeps alpha where the format allows it, carries the ICC profile and
marks the file as ours (`core.output_marker`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.atomic_files import atomic_output
from core.output_marker import OUTPUT_MARKER, carries_marker

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".apng", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
OUTPUT_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "gif": ".gif"}
DEFAULT_MAX_PIXELS = 150_000_000  # below Pillow's hard bomb limit; a 6000×4000 photo is 24 MP
_SUFFIX_TO_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif"}
_EXIF_SOFTWARE = 0x0131


class ImageReadError(Exception):
    """An input that cannot be cartoonized; the message is the reason a person reads."""


@dataclass
class LoadedImage:
    """Pixels ready for the engine: `rgb` (H, W, 3) float32 in [0, 1]; `alpha` (H, W) float32 or None. `pages` is
    how many pages the file holds (a multi-page TIFF); only the first is read."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None
    pages: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image file fully; every failure becomes an ImageReadError with a reason."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("empty file (0 bytes)")
        Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check follows our limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageReadError(_too_large_message(width, height, max_pixels))
                image.load()
                pages = int(getattr(image, "n_frames", 1) or 1) if image.format == "TIFF" else 1
                icc = image.info.get("icc_profile")
                image = ImageOps.exif_transpose(image)
                rgb, alpha = _to_rgb_and_alpha(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow refused it in the header, before our own check
        raise ImageReadError(f"image dimensions are far above the {max_pixels / 1e6:.0f} MP safety limit "
                             "(raise it with --max-pixels if you trust the file)") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError("not an image, or an image format this app cannot read") from exc
    except FileNotFoundError as exc:
        raise ImageReadError("file not found") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's truncated/corrupt data errors
        raise ImageReadError(f"corrupt or truncated image data ({exc})") from exc
    return LoadedImage(rgb, alpha, icc if is_rgb_profile(icc) else None, pages)


def _too_large_message(width: int, height: int, max_pixels: int) -> str:
    return (f"image is {width}×{height} ({width * height / 1e6:.0f} MP), above the "
            f"{max_pixels / 1e6:.0f} MP safety limit (raise it with --max-pixels if you trust the file)")


def _to_rgb_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode → float RGB in [0, 1] and optional alpha; 16-bit greys keep their precision."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.asarray(image, dtype=np.float32)
        scale = 65535.0 if mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        if mode == "F":
            scale = max(1.0, float(grey.max(initial=0)))
        grey = np.clip(grey / scale, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0, None


def is_rgb_profile(icc: bytes | None) -> bool:
    """Only an RGB profile describes our RGB output (a CMYK or grey profile would mislabel it)."""
    return bool(icc) and len(icc) >= 20 and icc[16:20] == b"RGB "


def output_format_for(source: Path, requested: str, has_alpha: bool = False) -> str:
    """Resolve 'same' to the input's format where we can write it (PNG otherwise); JPEG cannot hold alpha."""
    fmt = _SUFFIX_TO_FORMAT.get(source.suffix.lower(), "png") if requested == "same" else requested
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {requested!r}: use same, png, jpeg, webp or gif")
    return "png" if has_alpha and fmt == "jpeg" else fmt


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, fmt: str = "png",
                quality: int = 95, icc_profile: bytes | None = None) -> Path:
    """Write float RGB in [0, 1] (and alpha) atomically; `quality` applies to JPEG and WebP."""
    path = Path(path)
    pixels = _to_uint8(rgb)
    if alpha is not None and fmt != "jpeg":
        pixels = np.concatenate([pixels, _to_uint8(alpha)[:, :, None]], axis=2)
    image = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
    options: dict = {"icc_profile": icc_profile} if icc_profile and fmt != "gif" else {}
    if fmt == "gif":
        options["comment"] = OUTPUT_MARKER.encode("utf-8")   # GIF holds no EXIF
    else:
        options["exif"] = marker_exif()
    if fmt == "jpeg":
        options.update(quality=int(quality), subsampling=0 if quality >= 90 else 2, optimize=True)
    elif fmt == "webp":
        options.update(quality=int(quality), method=4)
    elif fmt == "png":
        options.update(compress_level=6)
    with atomic_output(path) as temp:
        image.save(temp, format=fmt.upper(), **options)
    return path


def marker_exif() -> Image.Exif:
    """EXIF holding only our marker as `Software` (JPEG, PNG and WebP carry EXIF)."""
    exif = Image.Exif()
    exif[_EXIF_SOFTWARE] = OUTPUT_MARKER
    return exif


def image_is_ours(path: str | Path) -> bool:
    """Whether a picture file carries our marker (EXIF `Software` or a GIF comment); False if unreadable."""
    try:
        with Image.open(path) as image:
            return carries_marker(image.getexif().get(_EXIF_SOFTWARE)) or carries_marker(image.info.get("comment"))
    except Exception:  # any unreadable or odd file is simply not one of ours (so it is never replaced)
        return False


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def downscale_to_max_side(image: LoadedImage, max_side: int | None) -> LoadedImage:
    """Shrink (area-averaged) so the longer side is at most `max_side`; never enlarges."""
    height, width = image.rgb.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = cv2.resize(image.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = None if image.alpha is None else cv2.resize(image.alpha, size, interpolation=cv2.INTER_AREA)
    return LoadedImage(rgb, alpha, image.icc_profile, image.pages)
