from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from core.model_registry import import_model
from tests.conftest import WHITEBOX_TFLITE, gradient_image, requires_shared


def _huge_png(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 99))
                     + chunk(b"IEND", b""))


@pytest.fixture
def done_when_folder(tmp_path) -> Path:
    """The issue's acceptance folder: good images beside a 0-byte file, text named .jpg, a truncated JPEG and a
    huge-dimension PNG."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    good = Image.fromarray((gradient_image(120, 160) * 255).astype(np.uint8))
    good.save(folder / "good.jpg", quality=90)
    good.save(folder / "sub" / "good.png")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("definitely not a JPEG\n")
    whole = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    _huge_png(folder / "huge.png")
    return folder


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_acceptance_batch_with_bad_files(tmp_path, done_when_folder, tiny_model_file, capsys):
    before = _hashes(done_when_folder)
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = main([str(done_when_folder), "-o", str(out), "--model", str(tiny_model_file), "--quiet",
                 "--report", str(report)])
    assert code == EXIT_SOME_FAILED
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["good.jpg", "sub", "sub/good.png"]
    stderr = capsys.readouterr().err
    for name, reason in [("zero.jpg", "empty file"), ("text.jpg", "not an image"),
                         ("truncated.jpg", "truncated"), ("huge.png", "safety limit")]:
        line = next(line for line in stderr.splitlines() if line.startswith("failed:") and name in line)
        assert reason in line, line
    assert _hashes(done_when_folder) == before
    assert not [p for p in tmp_path.rglob("*") if ".cartoonize-partial" in p.name]
    assert json.loads(report.read_text())["failed"] == 4


def test_all_good_exits_zero_and_rerun_skips(tmp_path, tiny_model_file):
    Image.fromarray((gradient_image(40, 40) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    args = [str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--model", str(tiny_model_file), "--quiet"]
    assert main(args) == EXIT_OK
    assert main(args) == EXIT_OK and (tmp_path / "out" / "p.png").exists()


@pytest.mark.parametrize("args", [
    [],                                   # no input
    ["x.jpg"],                            # no -o
    ["x.jpg", "-o", "o", "--quality", "0"],
    ["x.jpg", "-o", "o", "--overwrite", "--skip-existing"],
    ["--import-model", "m.safetensors"],  # no --name
])
def test_usage_errors_exit_2(args):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == EXIT_USAGE


def test_no_model_installed_says_how_to_get_one(tmp_path, empty_resources, capsys):
    assert main([str(tmp_path), "-o", str(tmp_path / "out")]) == EXIT_USAGE
    assert "--import-whitebox" in capsys.readouterr().err


def test_unavailable_device_is_an_error_not_a_fallback(tmp_path, tiny_model_file, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main([str(tmp_path), "-o", str(tmp_path / "o"), "--model", str(tiny_model_file),
                 "--device", "cuda"]) == EXIT_USAGE
    assert "CUDA is not available" in capsys.readouterr().err


def test_list_devices_and_models(tiny_model_file, capsys):
    assert main(["--list-devices"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("cpu")
    assert main(["--import-model", str(tiny_model_file), "--name", "tiny"]) == EXIT_OK
    assert main(["--list-models"]) == EXIT_OK
    assert "tiny [user]" in capsys.readouterr().out


@requires_shared(WHITEBOX_TFLITE)
def test_import_whitebox_then_cartoonize(tmp_path, capsys):
    assert main(["--import-whitebox", str(WHITEBOX_TFLITE), "--name", "wb"]) == EXIT_OK
    Image.fromarray((gradient_image(50, 70) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    assert main([str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--model", "wb", "--quiet"]) == EXIT_OK
    with Image.open(tmp_path / "out" / "p.png") as result:
        assert result.size == (70, 50)
