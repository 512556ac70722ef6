"""The app's persisted state: settings (options, window layout, recent folders) and the unfinished queue, as JSON
files written atomically in the platformdirs config folder (CARTOONIZER_CONFIG_DIR overrides it, for tests).

A marker file exists while the app runs; finding it at start-up means the last session crashed, so the window
offers to restore the queue instead of restoring it silently. Qt-free: window geometry arrives as base64 text.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from core.atomic_files import atomic_output

from desktop_app.job import Job, JobStatus
from desktop_app.job_options import JobOptions

APP_NAME = "cartoonizer"
SETTINGS_FILE = "settings.json"
QUEUE_FILE = "queue.json"
SESSION_MARKER = "session.running"
MAX_RECENT_FOLDERS = 10
THEME_CHOICES = ("system", "light", "dark")
FORMAT_VERSION = 1
log = logging.getLogger("desktop_app.settings")


def config_dir() -> Path:
    override = os.environ.get("CARTOONIZER_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


@dataclass
class AppSettings:
    """What survives a restart besides the queue. Geometry and dock layout are Qt's own blobs, base64-encoded."""

    options: JobOptions = field(default_factory=JobOptions)
    window_geometry: str = ""
    window_state: str = ""
    splitter_state: str = ""
    recent_folders: list[str] = field(default_factory=list)
    last_dialog_folder: str = ""
    show_log: bool = True
    theme: str = "system"                # system | light | dark (View → Theme)

    def remember_folder(self, folder: str | Path) -> None:
        """Most recent first, no duplicates, at most MAX_RECENT_FOLDERS."""
        folder = str(folder)
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]
        del self.recent_folders[MAX_RECENT_FOLDERS:]

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "options": self.options.to_dict(),
                "window_geometry": self.window_geometry, "window_state": self.window_state,
                "splitter_state": self.splitter_state, "recent_folders": self.recent_folders,
                "last_dialog_folder": self.last_dialog_folder, "show_log": self.show_log, "theme": self.theme}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AppSettings":
        def text(key: str) -> str:
            value = data.get(key, "")
            return value if isinstance(value, str) else ""

        recent = data.get("recent_folders", [])
        return cls(options=JobOptions.from_dict(data.get("options") or {}),
                   window_geometry=text("window_geometry"), window_state=text("window_state"),
                   splitter_state=text("splitter_state"),
                   recent_folders=[f for f in recent if isinstance(f, str)][:MAX_RECENT_FOLDERS]
                   if isinstance(recent, list) else [],
                   last_dialog_folder=text("last_dialog_folder"), show_log=bool(data.get("show_log", True)),
                   theme=text("theme") if text("theme") in THEME_CHOICES else "system")


class SettingsStore:
    """Reads and writes the files in one config folder; a damaged file is logged and treated as absent."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else config_dir()

    # --- settings ------------------------------------------------------------------------------------------
    def load_settings(self) -> AppSettings:
        data = self._read(SETTINGS_FILE)
        return AppSettings.from_dict(data) if isinstance(data, dict) else AppSettings()

    def save_settings(self, settings: AppSettings) -> None:
        self._write(SETTINGS_FILE, settings.to_dict())

    # --- queue ---------------------------------------------------------------------------------------------
    def load_queue(self) -> list[Job]:
        data = self._read(QUEUE_FILE)
        jobs: list[Job] = []
        for entry in data.get("jobs", []) if isinstance(data, dict) else []:
            try:
                jobs.append(Job.from_dict(entry))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("skipped a saved job that could not be read: %s", exc)
        return jobs

    def save_queue(self, jobs: list[Job]) -> None:
        """Only unfinished work is kept: jobs that are done drop out of the saved queue."""
        unfinished = [job.to_dict() for job in jobs if job.status != JobStatus.DONE]
        self._write(QUEUE_FILE, {"format_version": FORMAT_VERSION, "jobs": unfinished})

    # --- crash detection -----------------------------------------------------------------------------------
    def previous_session_crashed(self) -> bool:
        return (self.folder / SESSION_MARKER).exists()

    def mark_session_started(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / SESSION_MARKER).write_text(str(os.getpid()), encoding="utf-8")

    def mark_session_ended(self) -> None:
        (self.folder / SESSION_MARKER).unlink(missing_ok=True)

    # --- files ---------------------------------------------------------------------------------------------
    def _read(self, name: str) -> Any:
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("could not read %s (%s); starting from defaults", path, exc)
            return None

    def _write(self, name: str, data: dict[str, Any]) -> None:
        with atomic_output(self.folder / name) as temp:
            temp.write_text(json.dumps(data, indent=2), encoding="utf-8")

