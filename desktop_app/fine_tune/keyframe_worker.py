"""Builds the cartoon folder from the user's videos on a `GeneratorWorker` (`data.prepare_cartoon_folder`):
each progress it yields becomes `yielded` (a trainer.keyframes.KeyframeProgress), its `PreparedCartoons` arrives as
`returned`, and `cancel()` sets the CancelToken the extractor checks between frames."""
from __future__ import annotations

from pathlib import Path

from desktop_app.fine_tune.data import FolderScan, prepare_cartoon_folder
from desktop_app.generator_worker import GeneratorWorker


class KeyframeWorker(GeneratorWorker):
    def __init__(self, scan: FolderScan, output_dir: Path):
        super().__init__(lambda: prepare_cartoon_folder(scan, output_dir, cancel=self.cancel_token))
        self.scan, self.output_dir = scan, output_dir
