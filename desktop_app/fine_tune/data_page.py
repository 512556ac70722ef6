"""The wizard's first page: the user's cartoons (pictures, or videos to take key-frames from) and photos, with
counts, thumbnails and, until there are enough, the reason why Next is not possible yet.

Folders are scanned and thumbnails decoded on the thread pool; key-frames are extracted by a `KeyframeWorker` into
the run folder, with progress and Cancel.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget,
    QWizardPage,
)

from desktop_app.fine_tune.data import (
    MIN_CARTOONS, MIN_PHOTOS, FolderScan, PreparedCartoons, cartoons_problem, photos_problem, scan_folder,
)
from desktop_app.fine_tune.keyframe_worker import KeyframeWorker
from desktop_app.fine_tune.session import FineTuneSession
from desktop_app.fine_tune.thumbnails import ThumbnailStrip
from desktop_app.function_worker import run_in_background
from desktop_app.log_panel import details

log = logging.getLogger("desktop_app.fine_tune")
PROBLEM_STYLE = "color: #b3261e;"
NOTE_STYLE = "color: palette(placeholder-text);"


class FolderField(QWidget):
    """A folder path with a Browse… button; `chosen` fires when the path is set or edited."""

    chosen = Signal(object)  # Path, or None when cleared

    def __init__(self, dialog_title: str, placeholder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._dialog_title = dialog_title
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.browse = QPushButton("Browse…")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.browse.clicked.connect(self._ask)
        self.edit.editingFinished.connect(self._edited)
        self._last: str | None = None

    def set_path(self, path: Path | None) -> None:
        self.edit.setText(str(path) if path else "")
        self._edited()

    def _ask(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self._dialog_title, self.edit.text())
        if folder:
            self.set_path(Path(folder))

    def _edited(self) -> None:
        text = self.edit.text().strip()
        if text == self._last:
            return
        self._last = text
        self.chosen.emit(Path(text).expanduser() if text else None)


class DataPage(QWizardPage):
    extraction_finished = Signal()

    def __init__(self, session: FineTuneSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setTitle("Your cartoons and your photos")
        self.setSubTitle("The model learns the look of your cartoons and how to apply it to photos like yours. At "
                         f"least {MIN_CARTOONS} cartoons and {MIN_PHOTOS} photos; a few hundred of each is better.")
        self._scan_generation = {"cartoons": 0, "photos": 0}
        self._scanning: set[str] = set()
        self._worker: KeyframeWorker | None = None

        self.cartoon_field = FolderField("Folder of your cartoons", "A folder of cartoon pictures or cartoon videos")
        self.cartoon_status = QLabel()
        self.cartoon_status.setWordWrap(True)
        self.extract_button = QPushButton("Extract key-frames")
        self.extract_button.setToolTip("One sharp picture per scene of each video; near-duplicates are skipped")
        self.extract_progress = QProgressBar()
        self.extract_progress.setRange(0, 1000)
        self.cancel_extract_button = QPushButton("Cancel")
        self.cartoon_thumbnails = ThumbnailStrip()
        extract_row = QHBoxLayout()
        extract_row.addWidget(self.cartoon_status, 1)
        extract_row.addWidget(self.extract_progress)
        extract_row.addWidget(self.cancel_extract_button)
        extract_row.addWidget(self.extract_button)
        cartoons_box = QGroupBox("Cartoons: the style to learn")
        cartoons_layout = QVBoxLayout(cartoons_box)
        cartoons_layout.addWidget(self.cartoon_field)
        cartoons_layout.addLayout(extract_row)
        cartoons_layout.addWidget(self.cartoon_thumbnails)

        self.photo_field = FolderField("Folder of photos", "A folder of photos like the ones you will cartoonize")
        self.photo_status = QLabel()
        self.photo_status.setWordWrap(True)
        self.photo_thumbnails = ThumbnailStrip()
        photos_box = QGroupBox("Photos: what the model will be used on")
        photos_layout = QVBoxLayout(photos_box)
        photos_layout.addWidget(self.photo_field)
        photos_layout.addWidget(self.photo_status)
        photos_layout.addWidget(self.photo_thumbnails)

        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(PROBLEM_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(cartoons_box)
        layout.addWidget(photos_box)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)

        self.cartoon_field.chosen.connect(self.set_cartoon_folder)
        self.photo_field.chosen.connect(self.set_photo_folder)
        self.extract_button.clicked.connect(self.extract_keyframes)
        self.cancel_extract_button.clicked.connect(self.cancel_extraction)
        self._refresh()

    # --- choosing folders ----------------------------------------------------------------------------------------
    def set_cartoon_folder(self, folder: Path | None) -> None:
        if self.cartoon_field.edit.text().strip() != (str(folder) if folder else ""):
            self.cartoon_field.set_path(folder)  # comes back here through `chosen`
            return
        self.cancel_extraction()
        self.session.cartoons, self.session.prepared_cartoons = None, None
        self.cartoon_thumbnails.thumbnails.set_paths([])
        self._scan("cartoons", folder)

    def set_photo_folder(self, folder: Path | None) -> None:
        if self.photo_field.edit.text().strip() != (str(folder) if folder else ""):
            self.photo_field.set_path(folder)
            return
        self.session.photos = None
        self.photo_thumbnails.thumbnails.set_paths([])
        self._scan("photos", folder)

    def _scan(self, side: str, folder: Path | None) -> None:
        self._scan_generation[side] += 1
        generation = self._scan_generation[side]
        if folder is None:
            self._scanning.discard(side)
            self._refresh()
            return
        self._scanning.add(side)
        self._refresh()
        run_in_background(scan_folder, folder,
                          on_returned=lambda scan: self._scanned(side, generation, scan),
                          on_errored=lambda message, _trace: self._scanned(
                              side, generation, FolderScan(folder, error=f"{folder}: {message}")))

    def _scanned(self, side: str, generation: int, scan: FolderScan) -> None:
        if generation != self._scan_generation[side]:
            return  # another folder was chosen meanwhile
        self._scanning.discard(side)
        if side == "cartoons":
            self.session.cartoons = scan
            self.cartoon_thumbnails.thumbnails.set_paths(scan.images)
        else:
            self.session.photos = scan
            self.photo_thumbnails.thumbnails.set_paths(scan.images)
        self._refresh()

    # --- key-frames ----------------------------------------------------------------------------------------------
    @property
    def extracting(self) -> bool:
        return self._worker is not None

    def extract_keyframes(self) -> None:
        scan = self.session.cartoons
        if scan is None or not scan.videos or self._worker is not None:
            return
        worker = KeyframeWorker(scan, self.session.prepared_cartoons_dir)
        worker.signals.yielded.connect(self._extract_progress)
        worker.signals.returned.connect(lambda prepared: self._extracted(worker, prepared))
        worker.signals.errored.connect(lambda message, trace: self._extract_failed(worker, message, trace))
        worker.signals.cancelled.connect(lambda: log.info("key-frame extraction cancelled"))
        worker.signals.finished.connect(lambda: self._extract_finished(worker))
        self._worker = worker
        self.extract_progress.setValue(0)
        log.info("extracting key-frames from %d video(s) into %s", len(scan.videos), self.session.prepared_cartoons_dir)
        worker.start()
        self._refresh()

    def cancel_extraction(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait_for_workers(self, timeout_ms: int = 30_000) -> None:
        """For closing: stop an extraction and let the pool settle."""
        self.cancel_extraction()
        QThreadPool.globalInstance().waitForDone(timeout_ms)

    def _extract_progress(self, progress) -> None:
        within = (progress.position_s / progress.duration_s) if progress.duration_s else 0.0
        fraction = (progress.video_index + min(1.0, within)) / max(1, progress.videos_total)
        self.extract_progress.setValue(round(1000 * fraction))
        self.cartoon_status.setText(f"Video {progress.video_index + 1} of {progress.videos_total} "
                                    f"({progress.video.name}): {progress.kept_total} key-frames so far…")

    def _extracted(self, worker: KeyframeWorker, prepared: PreparedCartoons) -> None:
        if worker is not self._worker:
            return
        self.session.prepared_cartoons = prepared
        self.cartoon_thumbnails.thumbnails.set_paths(prepared.images)
        for video, reason in prepared.failed_videos.items():
            log.warning("no key-frames from %s: %s", video, reason)

    def _extract_failed(self, worker: KeyframeWorker, message: str, trace: str) -> None:
        log.error("key-frame extraction failed: %s", message, extra=details(trace))
        self.problem_label.setText(f"Key-frames could not be extracted: {message}")

    def _extract_finished(self, worker: KeyframeWorker) -> None:
        if worker is self._worker:
            self._worker = None
            self._refresh()
            self.extraction_finished.emit()

    # --- state ---------------------------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why Next is not possible yet, in a sentence; None when the pictures are ready."""
        if "cartoons" in self._scanning or "photos" in self._scanning:
            return "Counting pictures…"
        if self._worker is not None:
            return "Extracting key-frames…"
        session = self.session
        return (cartoons_problem(session.cartoons, session.prepared_cartoons)
                or photos_problem(session.photos, session.cartoons.folder if session.cartoons else None))

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.problem() is None

    def _refresh(self) -> None:
        session = self.session
        self.cartoon_status.setText(_cartoon_summary(session.cartoons, session.prepared_cartoons,
                                                     "cartoons" in self._scanning))
        self.photo_status.setText(_photo_summary(session.photos, "photos" in self._scanning))
        videos = bool(session.cartoons and session.cartoons.videos)
        self.extract_button.setVisible(videos and self._worker is None)
        if session.prepared_cartoons is not None:
            self.extract_button.setText("Extract key-frames again")
        elif videos:
            self.extract_button.setText(f"Extract key-frames from {_plural(len(session.cartoons.videos), 'video')}")
        self.extract_progress.setVisible(self._worker is not None)
        self.cancel_extract_button.setVisible(self._worker is not None)
        problem = self.problem()
        self.problem_label.setText(problem if problem and not problem.endswith("…") else "")
        self.completeChanged.emit()


def _cartoon_summary(scan: FolderScan | None, prepared: PreparedCartoons | None, scanning: bool) -> str:
    if scanning:
        return "Counting…"
    if scan is None or scan.error:
        return ""
    if prepared is not None:
        failed = (f"; {_plural(len(prepared.failed_videos), 'video')} could not be read"
                  if prepared.failed_videos else "")
        return (f"{_plural(len(prepared.images), 'cartoon picture')}: key-frames of "
                f"{_plural(len(scan.videos), 'video')}"
                + (f" and {_plural(len(scan.images), 'picture')}" if scan.images else "") + failed)
    parts = [_plural(len(scan.images), "cartoon picture")]
    if scan.videos:
        parts.append(f"{_plural(len(scan.videos), 'video')} to take key-frames from")
    return ", ".join(parts)


def _photo_summary(scan: FolderScan | None, scanning: bool) -> str:
    if scanning:
        return "Counting…"
    if scan is None or scan.error:
        return ""
    return _plural(len(scan.images), "photo")


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
