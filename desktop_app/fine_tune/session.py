"""What the fine-tuning wizard's pages share: the run folder, the pictures chosen, the plan and the result. A plain
dataclass: each page fills its part, later pages read it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.devices import AUTO

from desktop_app.fine_tune.data import FolderScan, PreparedCartoons
from desktop_app.fine_tune.plan import FineTunePlan

CARTOONS_FOLDER = "cartoons"  # key-frames of the user's videos, inside the run folder


@dataclass
class FineTuneSession:
    run_dir: Path                                   # user_data_dir()/runs/<date-time>; created when first needed
    base_model: str | None = None                   # the main window's model, the first choice of base
    device: str = AUTO                              # the main window's device choice
    cartoons: FolderScan | None = None
    prepared_cartoons: PreparedCartoons | None = None
    photos: FolderScan | None = None
    plan: FineTunePlan | None = None
    config_file: Path | None = None
    device_name: str | None = None                  # e.g. "CPU (8 threads)": the key of remembered speeds
    batch_size: int | None = None                   # the trainer's, from the written config
    base_display_name: str = ""
    training_started: bool = False
    model_path: Path | None = None                  # the exported model, from the trainer's "done" event
    last_sample: Path | None = None                 # the newest sample grid
    model_step: int | None = None                   # the training step model_path was made at

    @property
    def cartoons_dir(self) -> Path | None:
        """The folder the trainer reads cartoons from: the prepared one when videos were involved."""
        if self.prepared_cartoons is not None:
            return self.prepared_cartoons.folder
        return self.cartoons.folder if self.cartoons is not None else None

    @property
    def prepared_cartoons_dir(self) -> Path:
        return self.run_dir / CARTOONS_FOLDER
