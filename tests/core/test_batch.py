from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.atomic_files import PARTIAL_PREFIX
from core.batch import (
    BatchFinished, BatchOptions, BatchRequestError, BatchStarted, ItemFinished, ItemStarted, TileProgress, plan_batch,
    run_batch, write_report,
)
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from tests.conftest import gradient_image


def _photo(path: Path, height: int = 48, width: int = 64, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((gradient_image(height, width, seed) * 255).astype(np.uint8)).save(path)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(inputs, options, model, cancel=None, **cartoonizer_options):
    cartoonizer = Cartoonizer(model, "cpu", **cartoonizer_options)
    events = list(run_batch(plan_batch(inputs, options), cartoonizer, options, cancel))
    assert isinstance(events[-1], BatchFinished)
    return events, events[-1].summary


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    _photo(folder / "a.jpg", seed=1)
    _photo(folder / "nested" / "deeper" / "b.png", seed=2)
    _photo(folder / "c.webp", seed=3)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    (folder / ".hidden.jpg").write_text("ignored: hidden")
    return folder


def test_outputs_mirror_the_layout_and_bad_files_do_not_stop_the_batch(tmp_path, mixed_folder, tiny_model):
    before = _digest(mixed_folder)
    out = tmp_path / "out"
    events, summary = _run([mixed_folder], BatchOptions(out), tiny_model)
    assert (summary.done, summary.failed, summary.skipped) == (3, 2, 1)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a.jpg", "c.webp", "nested/deeper/b.png"]
    errors = {r.item.source.name: r.error for r in summary.results if r.status == "failed"}
    assert "empty file" in errors["empty.jpg"] and "not an image" in errors["notes.jpg"]
    (skipped,) = [r for r in summary.results if r.status == "skipped"]
    assert skipped.item.source.name == "readme.txt" and "not a picture or video" in skipped.note
    assert _digest(mixed_folder) == before  # inputs untouched
    assert not list(tmp_path.rglob(f"{PARTIAL_PREFIX}*"))


def test_progress_events_are_ordered_with_a_rising_fraction_and_an_eta(tmp_path, mixed_folder, tiny_model):
    events, _ = _run([mixed_folder], BatchOptions(tmp_path / "out"), tiny_model, tile_size=32, tile_overlap=8)
    fractions = [e.progress.fraction for e in events if hasattr(e, "progress")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(isinstance(e, TileProgress) and e.tiles_total > 1 for e in events)
    finished = [e for e in events if isinstance(e, ItemFinished)]
    assert len(finished) == 6 and finished[0].progress.eta_s is not None


def test_the_total_counts_the_photos_not_a_readme_beside_them(tmp_path, tiny_model):
    """BatchStarted's total is the batch's files; an entry it only names is reported (skipped, with its reason) but
    counted apart, so the progress runs over the photos alone."""
    folder = tmp_path / "in"
    _photo(folder / "a.jpg", seed=1)
    _photo(folder / "b.png", seed=2)
    (folder / "README.md").write_text("Where these photos come from.\n")
    plan = plan_batch([folder], BatchOptions(tmp_path / "out"))
    assert [item.source.name for item in plan.counted] == ["a.jpg", "b.png"] and len(plan.items) == 3
    events, summary = _run([folder], BatchOptions(tmp_path / "out"), tiny_model)
    started = events[0]
    assert isinstance(started, BatchStarted) and (started.total, started.named) == (2, 1)
    assert started.progress.files_total == 2
    assert {e.progress.files_total for e in events} == {2}
    finished = [e for e in events if isinstance(e, ItemFinished)]
    assert [(e.result.item.source.name, e.progress.files_done) for e in finished] == [
        ("a.jpg", 1), ("b.png", 2), ("README.md", 2)]
    assert finished[1].progress.fraction == 1.0 and events[-1].progress.files_done == 2
    assert (summary.done, summary.skipped) == (2, 1) and "not a picture or video" in finished[2].result.note


def test_rerun_skips_finished_outputs_and_overwrite_redoes_them(tmp_path, mixed_folder, tiny_model):
    out = tmp_path / "out"
    _run([mixed_folder], BatchOptions(out), tiny_model)
    (out / "a.jpg").unlink()
    stamp = (out / "c.webp").stat().st_mtime_ns
    _, summary = _run([mixed_folder], BatchOptions(out), tiny_model)
    assert (summary.done, summary.skipped) == (1, 3) and (out / "a.jpg").exists()
    assert (out / "c.webp").stat().st_mtime_ns == stamp
    _, summary = _run([mixed_folder], BatchOptions(out, existing="overwrite"), tiny_model)
    assert summary.done == 3


def test_output_over_an_input_is_refused(tmp_path, tiny_model):
    folder = tmp_path / "photos"
    photo = _photo(folder / "p.png")
    before = photo.read_bytes()
    for inputs in ([folder], [photo]):  # the output folder is the input folder, or the folder of an input file
        with pytest.raises(BatchRequestError, match="name pattern"):
            plan_batch(inputs, BatchOptions(folder))
    assert photo.read_bytes() == before


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, tiny_model):
    folder = tmp_path / "photos"
    _photo(folder / "p.jpg")
    _run([folder], BatchOptions(folder / "cartoons"), tiny_model)
    _, summary = _run([folder], BatchOptions(folder / "cartoons"), tiny_model)
    assert [r.item.source.name for r in summary.results] == ["p.jpg"]  # not cartoons/p.jpg


def test_two_inputs_claiming_one_output_are_reported(tmp_path, tiny_model):
    first, second = _photo(tmp_path / "x" / "same.png"), _photo(tmp_path / "y" / "same.png", seed=4)
    _, summary = _run([first, second], BatchOptions(tmp_path / "out"), tiny_model)
    assert summary.done == 1 and summary.failed == 1
    assert "already the output of" in [r for r in summary.results if r.status == "failed"][0].error


def test_missing_input_is_reported(tmp_path, tiny_model):
    _, summary = _run([tmp_path / "nope"], BatchOptions(tmp_path / "out"), tiny_model)
    assert summary.failed == 1 and "no such file" in summary.results[0].error


def test_cancel_mid_batch_leaves_no_partial_file(tmp_path, tiny_model):
    folder = tmp_path / "in"
    for index in range(4):
        _photo(folder / f"{index}.png", 96, 96, seed=index)
    options = BatchOptions(tmp_path / "out")
    cartoonizer = Cartoonizer(tiny_model, "cpu", tile_size=32, tile_overlap=8)
    cancel = CancelToken()
    events = []
    for event in run_batch(plan_batch([folder], options), cartoonizer, options, cancel):
        events.append(event)
        if isinstance(event, TileProgress) and event.index == 1 and event.tiles_done == 2:
            cancel.cancel()  # in the middle of the second picture
    summary = events[-1].summary
    assert summary.cancelled and summary.done == 1
    written = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["0.png"]


def test_stale_partial_files_from_a_killed_run_are_cleaned(tmp_path, tiny_model):
    folder = tmp_path / "in"
    _photo(folder / "p.png")
    stale = tmp_path / "out" / f"{PARTIAL_PREFIX}dead-p.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    _run([folder], BatchOptions(tmp_path / "out"), tiny_model)
    assert not stale.exists() and (tmp_path / "out" / "p.png").exists()


def test_max_side_and_format_options(tmp_path, tiny_model):
    photo = _photo(tmp_path / "big.png", 100, 200)
    options = BatchOptions(tmp_path / "out", output_format="jpeg", quality=80, max_side=50)
    _run([photo], options, tiny_model)
    with Image.open(tmp_path / "out" / "big.jpg") as result:
        assert result.format == "JPEG" and result.size == (50, 25)


def test_report_lists_every_file(tmp_path, mixed_folder, tiny_model):
    _, summary = _run([mixed_folder], BatchOptions(tmp_path / "out"), tiny_model)
    report = json.loads(write_report(summary, tmp_path / "report.json").read_text())
    assert (report["done"], report["failed"], report["skipped"]) == (3, 2, 1) and len(report["files"]) == 6
    assert {f["status"] for f in report["files"]} == {"done", "failed", "skipped"}


def test_item_started_precedes_each_finish(tmp_path, mixed_folder, tiny_model):
    events, _ = _run([mixed_folder], BatchOptions(tmp_path / "out"), tiny_model)
    kinds = [type(e).__name__ for e in events if isinstance(e, (ItemStarted, ItemFinished))]
    assert kinds == ["ItemStarted", "ItemFinished"] * 6


def test_an_input_given_twice_is_one_item(tmp_path):
    folder = tmp_path / "in"
    photo = _photo(folder / "p.png")
    items = plan_batch([folder, photo, folder], BatchOptions(tmp_path / "out")).items
    assert [(item.source, item.refusal) for item in items] == [(photo, None)]
