"""Write-then-rename, so a reader (or a crash) never sees a half-written output file."""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

PARTIAL_PREFIX = ".cartoonize-partial-"


@contextlib.contextmanager
def atomic_output(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; it replaces `destination` only if the block succeeds.

    The temporary name keeps the destination's suffix so that writers which pick a format from the extension work.
    On any exception (cancel included) the temporary file is removed and `destination` is left as it was.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(4)}-{destination.name}")
    try:
        yield temp
        os.replace(temp, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def is_partial_file(path: Path) -> bool:
    """True for the temporary files `atomic_output` creates (left behind only if the process was killed)."""
    return path.name.startswith(PARTIAL_PREFIX)


def remove_stale_partials(folder: Path) -> int:
    """Delete partial files a killed run left under `folder`; returns how many were removed."""
    removed = 0
    if folder.is_dir():
        for path in folder.rglob(f"{PARTIAL_PREFIX}*"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed
