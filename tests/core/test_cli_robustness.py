"""The CLI on odd inputs (issue 11): one-line errors naming the path and reason, usage errors before any work,
no silent skip, no file replaced that this tool did not write."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from core.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from core.model_file import METADATA_KEY, read_metadata_json
from core.model_registry import user_models_dir
from tests.conftest import gradient_image


def _photo(path: Path, height: int = 40, width: int = 48, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((gradient_image(height, width, seed) * 255).astype(np.uint8)).save(path)
    return path


def _run(capsys, *args: str) -> tuple[int, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _model_with_architecture(tmp_path: Path, source: Path, architecture: str) -> Path:
    meta = json.loads(read_metadata_json(source))
    meta["architecture"] = architecture
    path = tmp_path / "odd-arch.safetensors"
    save_file(load_file(str(source)), str(path), metadata={METADATA_KEY: json.dumps(meta)})
    return path


# --- crashes become one-line errors ---------------------------------------------------------------------------
def test_a_symlink_loop_argument_is_one_failure_naming_it(tmp_path, tiny_model_file, capsys):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    code, err = _run(capsys, loop, "-o", tmp_path / "out", "--model", tiny_model_file, "--quiet")
    assert code == EXIT_SOME_FAILED
    assert f"failed: {loop}: symbolic link loop" in err


def test_fifo_and_dangling_symlink_arguments_say_what_they_are(tmp_path, tiny_model_file, capsys):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    link = tmp_path / "gone.jpg"
    os.symlink(tmp_path / "deleted.jpg", link)
    code, err = _run(capsys, fifo, link, "-o", tmp_path / "out", "--model", tiny_model_file, "--quiet")
    assert code == EXIT_SOME_FAILED
    assert f"failed: {fifo}: not a regular file: a FIFO" in err
    assert f"failed: {link}: broken symbolic link: its target {tmp_path / 'deleted.jpg'} does not exist" in err


def test_unknown_architecture_is_a_clear_error_everywhere(tmp_path, tiny_model_file, capsys):
    odd = _model_with_architecture(tmp_path, tiny_model_file, "os.system")
    photo = _photo(tmp_path / "p.png")
    code, err = _run(capsys, "--import-model", odd, "--name", "odd")
    assert code == EXIT_USAGE and f"{odd}: unknown architecture 'os.system'" in err
    code, err = _run(capsys, photo, "-o", tmp_path / "out", "--model", odd)
    assert code == EXIT_USAGE and "unknown architecture 'os.system'" in err and str(odd) in err

    user_models_dir().mkdir(parents=True, exist_ok=True)
    (user_models_dir() / "odd.safetensors").write_bytes(odd.read_bytes())
    (user_models_dir() / "garbage.safetensors").write_bytes(b"not a safetensors file")
    assert main(["--import-model", str(tiny_model_file), "--name", "fine"]) == EXIT_OK
    capsys.readouterr()
    assert main(["--list-models"]) == EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("fine [user]") for line in listed)
    assert any(line.startswith("odd [broken]") and "unknown architecture 'os.system'" in line for line in listed)
    assert any(line.startswith("garbage [broken]") and "not a readable safetensors file" in line for line in listed)
    code, err = _run(capsys, photo, "-o", tmp_path / "out", "--model", "odd")   # by name: the reason, not "unknown"
    assert code == EXIT_USAGE and "unknown architecture 'os.system'" in err


def test_report_pointing_at_a_folder_is_a_usage_error_before_work(tmp_path, tiny_model_file, capsys):
    photo = _photo(tmp_path / "in" / "p.png")
    (tmp_path / "reports").mkdir()
    code, err = _run(capsys, photo, "-o", tmp_path / "out", "--model", tiny_model_file,
                     "--report", tmp_path / "reports")
    assert code == EXIT_USAGE and "is a folder" in err and str(tmp_path / "reports") in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("output", ["file.txt", "file.txt/sub"])
def test_output_at_or_under_a_file_is_a_usage_error_before_work(tmp_path, tiny_model_file, capsys, output):
    photo = _photo(tmp_path / "in" / "p.png")
    (tmp_path / "file.txt").write_text("a file, not a folder")
    code, err = _run(capsys, photo, "-o", tmp_path / output, "--model", tiny_model_file)
    assert code == EXIT_USAGE and "not a folder" in err and str(tmp_path / "file.txt") in err
    assert (tmp_path / "file.txt").read_text() == "a file, not a folder"


# --- lost data ------------------------------------------------------------------------------------------------
def test_an_unrelated_original_beside_the_input_is_never_replaced(tmp_path, tiny_model_file, capsys):
    folder = tmp_path / "IN"
    photo = _photo(folder / "x.jpg")
    original = _photo(folder / "x.png", seed=7)
    before = original.read_bytes()
    code, err = _run(capsys, photo, "-o", folder, "--format", "png", "--overwrite", "--model", tiny_model_file)
    assert code == EXIT_USAGE and "--name-pattern" in err
    assert original.read_bytes() == before
    code, err = _run(capsys, photo, "-o", folder, "--format", "png", "--overwrite", "--model", tiny_model_file,
                     "--name-pattern", "{stem}_cartoon", "--quiet")
    assert code == EXIT_OK and (folder / "x_cartoon.png").is_file() and original.read_bytes() == before
    # the next run over the folder does not take the cartoon for an input, and says so
    code, err = _run(capsys, folder, "-o", folder, "--model", tiny_model_file, "--name-pattern", "{stem}_cartoon")
    assert f"skipped: {folder / 'x_cartoon.png'}: an output of an earlier run" in err
    assert not (folder / "x_cartoon_cartoon.png").exists()


def test_overwrite_replaces_only_what_this_tool_wrote(tmp_path, tiny_model_file, capsys):
    folder = tmp_path / "in"
    _photo(folder / "a.png")
    _photo(folder / "b.png", seed=1)
    out = tmp_path / "out"
    foreign = _photo(out / "b.png", seed=9)
    before = foreign.read_bytes()
    code, err = _run(capsys, folder, "-o", out, "--overwrite", "--model", tiny_model_file, "--quiet")
    assert code == EXIT_SOME_FAILED and f"failed: {folder / 'b.png'}: {foreign} already exists" in err
    assert foreign.read_bytes() == before
    ours = (out / "a.png").stat().st_mtime_ns
    code, _ = _run(capsys, folder / "a.png", "-o", out, "--overwrite", "--model", tiny_model_file, "--quiet")
    assert code == EXIT_OK and (out / "a.png").stat().st_mtime_ns != ours


def test_skip_existing_counts_only_our_non_empty_file_as_done(tmp_path, tiny_model_file, capsys):
    folder = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        _photo(folder / name)
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)                      # a folder named like the output
    (out / "b.png").write_text("twelve bytes")               # a small text file named like it
    code, err = _run(capsys, folder, "-o", out, "--model", tiny_model_file, "--report", tmp_path / "r.json")
    report = {Path(f["source"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert code == EXIT_SOME_FAILED
    assert report["a.png"]["status"] == "failed" and "is a folder this tool did not write" in report["a.png"]["error"]
    assert report["b.png"]["status"] == "failed" and "is a file this tool did not write" in report["b.png"]["error"]
    assert report["c.png"]["status"] == "done"
    assert (out / "b.png").read_text() == "twelve bytes"
    code, err = _run(capsys, folder / "c.png", "-o", out, "--model", tiny_model_file, "--quiet")
    assert code == EXIT_OK and "0 done, 1 skipped" in err


# --- no silent skip -------------------------------------------------------------------------------------------
def test_every_entry_of_a_walked_folder_is_processed_or_named(tmp_path, tiny_model_file, capsys):
    folder = tmp_path / "in"
    _photo(folder / "p.png")
    frames = [Image.fromarray((gradient_image(24, 32, seed) * 255).astype(np.uint8)) for seed in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    os.symlink(folder / "loop.jpg", folder / "loop.jpg")
    os.symlink(folder / "deleted.jpg", folder / "gone.jpg")
    os.mkfifo(folder / "pipe.png")
    (folder / "notes.txt").write_text("not media")
    _photo(tmp_path / "elsewhere" / "q.png")
    os.symlink(tmp_path / "elsewhere", folder / "linked")
    code, err = _run(capsys, folder, "-o", tmp_path / "out", "--model", tiny_model_file,
                     "--report", tmp_path / "r.json")
    report = {Path(f["source"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert sorted(report) == ["anim.gif", "gone.jpg", "linked", "loop.jpg", "notes.txt", "p.png", "pipe.png"]
    assert report["linked"]["status"] == "skipped" and "not followed" in report["linked"]["note"]
    assert report["p.png"]["status"] == report["anim.gif"]["status"] == "done"
    assert "symbolic link loop" in report["loop.jpg"]["error"]
    assert "broken symbolic link" in report["gone.jpg"]["error"]
    assert "FIFO" in report["pipe.png"]["error"]
    assert report["notes.txt"]["status"] == "skipped" and report["notes.txt"]["note"]
    assert code == EXIT_SOME_FAILED
    for name in ("loop.jpg", "gone.jpg", "pipe.png"):
        assert f"failed: {folder / name}:" in err


def test_help_describes_names_frames_region_strength_and_animations(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needed in ("--name-pattern", "{stem}_cartoon", "--frames-as-video", "--foreground-strength",
                   "--background-strength", "animated GIF", "Region strength", "only files this tool wrote"):
        assert needed in text, needed
