"""Persisted settings and queue: round trips, damaged files, crash detection."""
from __future__ import annotations

import json
from pathlib import Path

from core.batch import ItemKind

from desktop_app.job import Job, JobKind, JobStatus
from desktop_app.job_options import JobOptions
from desktop_app.settings_store import MAX_RECENT_FOLDERS, AppSettings, SettingsStore
from desktop_app.settings_store import config_dir as configured_dir


def test_config_dir_follows_the_environment(config_dir):
    assert SettingsStore().folder == config_dir == configured_dir()


def test_settings_round_trip_and_recent_folders_stay_short(tmp_path):
    store = SettingsStore(tmp_path)
    settings = AppSettings(options=JobOptions(model="tiny", strength=0.3), window_geometry="AAAA")
    for index in range(MAX_RECENT_FOLDERS + 3):
        settings.remember_folder(f"/photos/{index}")
    settings.remember_folder("/photos/5")
    store.save_settings(settings)
    loaded = store.load_settings()
    assert loaded.options == settings.options and loaded.window_geometry == "AAAA"
    assert loaded.recent_folders[0] == "/photos/5" and len(loaded.recent_folders) == MAX_RECENT_FOLDERS
    assert len(set(loaded.recent_folders)) == MAX_RECENT_FOLDERS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cartoonize-partial-")]


def test_damaged_files_give_defaults(tmp_path):
    store = SettingsStore(tmp_path)
    (tmp_path / "settings.json").write_text("{ not json")
    (tmp_path / "queue.json").write_text(json.dumps({"jobs": [{"inputs": ["/a"]}, "junk"]}))
    assert store.load_settings() == AppSettings()
    assert store.load_queue() == []


def test_only_unfinished_jobs_are_saved(tmp_path):
    store = SettingsStore(tmp_path)
    jobs = [Job([Path(f"/in/{s.value}")], JobKind.PHOTOS, Path("/out"), status=s) for s in JobStatus]
    store.save_queue(jobs)
    restored = store.load_queue()
    assert [job.inputs[0].name for job in restored] == [s.value for s in JobStatus if s != JobStatus.DONE]


def test_a_session_that_did_not_end_is_a_crash(tmp_path):
    store = SettingsStore(tmp_path / "new")
    assert not store.previous_session_crashed()
    store.mark_session_started()
    assert SettingsStore(tmp_path / "new").previous_session_crashed()
    store.mark_session_ended()
    assert not store.previous_session_crashed()


def test_a_saved_queue_keeps_its_kinds_as_plain_words(tmp_path):
    """Queues hold a job's kind as a word ("photos", "video", "frames"): a file written before `JobKind` existed
    loads, a saved one holds the same words, and a kind no version wrote skips that job only."""
    store = SettingsStore(tmp_path)
    saved = {"jobs": [{"inputs": [f"/in/{word}"], "kind": word, "output_dir": "/out"}
                      for word in ("photos", "video", "frames", "hologram")]}
    (tmp_path / "queue.json").write_text(json.dumps(saved))
    jobs = store.load_queue()
    assert [job.kind for job in jobs] == [JobKind.PHOTOS, JobKind.VIDEO, JobKind.FRAMES]
    assert all(isinstance(job.kind, JobKind) for job in jobs)
    store.save_queue(jobs)
    written = json.loads((tmp_path / "queue.json").read_text())
    assert [job["kind"] for job in written["jobs"]] == ["photos", "video", "frames"]
    assert (JobKind.VIDEO, JobKind.FRAMES) == (ItemKind.VIDEO, ItemKind.FRAMES)  # one item of the engine's kind
