"""How an output says that this tool wrote it: one short text in the file's own metadata (EXIF `Software` in
pictures, the GIF comment, the container's `comment` tag in videos), so `--overwrite` replaces only our own
outputs and a re-run can tell a finished output from an unrelated file of the same name. The marker travels with the
file (no manifest to get out of step) and costs a few bytes."""
from __future__ import annotations

from core import __version__

OUTPUT_MARKER = f"cartoonize (cartoonizer {__version__})"
_MARKER_PREFIX = "cartoonize (cartoonizer "


def carries_marker(text: object) -> bool:
    """Whether a metadata value (str or bytes) holds our marker, from any version of this tool."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return isinstance(text, str) and _MARKER_PREFIX in text
