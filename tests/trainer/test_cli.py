from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.image_io import write_image
from tests.conftest import REPO_ROOT, gradient_image
from tests.trainer.conftest import ONE_THREAD_ENV, TINY_SETTINGS, write_toml
from trainer import backbones
from trainer.checkpoint import list_checkpoints
from trainer.cli import main, preset_names, resolve_config_file
from trainer.config import load_config
from trainer.events import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from trainer.segmenter_training import load_segmenter_config


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def json_lines(text: str) -> list[dict]:
    """Every stdout line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def tiny_toml(tmp_path, training_folders) -> Path:
    photos, cartoons = training_folders
    return write_toml(tmp_path / "tiny.toml", {**TINY_SETTINGS, "photos_dir": photos, "cartoons_dir": cartoons,
                                               "run_dir": tmp_path / "run", "pretrain_steps": 2,
                                               "adversarial_steps": 0})


def test_pretrain_prints_json_lines_and_exports(tmp_path, tiny_toml, capsys):
    assert main(["pretrain", "--config", str(tiny_toml), "pretrain_steps=3", "sample_every=3"]) == EXIT_OK
    events = json_lines(capsys.readouterr().out)
    assert [event["event"] for event in events] == ["start", "log", "log", "log", "sample", "checkpoint", "done"]
    assert all(event["phase"] == "pretrain" and event["reconstruction"] > 0 for event in events if
               event["event"] == "log")
    assert Path(events[-1]["model"]).is_file()


def test_console_mode_is_for_people(tmp_path, tiny_toml, capsys):
    assert main(["pretrain", "--config", str(tiny_toml), "--console", "--device", "cpu"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "training on cpu" in out and "reconstruction" in out and "img/s" in out and "done → " in out
    assert not out.lstrip().startswith("{")


@pytest.mark.parametrize("arguments, message", [
    (["pretrain", "lr=fast"], "lr must be a number"),
    (["pretrain", "learning_rate=1e-4"], "unknown config key 'learning_rate'"),
    (["finetune"], "finetune needs base_model"),  # and no bundled default (empty_resources)
    (["train", "--config", "no-such-preset"], "neither a file nor a preset"),
    (["pretrain", "--device", "quantum"], "unknown device"),
])
def test_usage_errors_exit_2_with_an_error_event(tiny_toml, empty_resources, capsys, arguments, message):
    config = [] if "--config" in arguments else ["--config", str(tiny_toml)]
    assert main([*arguments[:1], *config, *arguments[1:]]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err
    assert json_lines(captured.out)[-1] == {"event": "error", "message": json_lines(captured.out)[-1]["message"]}
    assert message in json_lines(captured.out)[-1]["message"]


def test_argparse_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exited:
        main(["no-such-command"])
    assert exited.value.code == EXIT_USAGE


def test_missing_vgg_weights_name_the_offline_alternatives(tmp_path, tiny_toml, capsys, monkeypatch):
    def offline(_weights):
        raise backbones.BackboneUnavailableError("torchvision's ImageNet VGG19 weights are not cached")

    monkeypatch.setattr(backbones, "_download_torchvision_vgg19", offline)
    assert main(["train", "--config", str(tiny_toml), "backbone=vgg19", "adversarial_steps=1"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "backbone=efficientnet_lite0" in err
    assert "backbone_weights=../shared/weights/vgg19_conv1_1-conv3_4_caffe.safetensors" in err


def test_bundled_presets_are_valid_configs():
    assert set(preset_names()) == {"pretrain", "train", "finetune"}  # nothing that reads the development data
    for name in preset_names():
        load_config(resolve_config_file(name))
    development = REPO_ROOT / "bench" / "configs"
    assert set(load_segmenter_config(development / "segmenter.toml").image_dirs) == {"selfies", "scenes", "anime"}
    load_config(development / "shared-cpu-128.toml")
    assert load_config(resolve_config_file("pretrain")).adversarial_steps == 0
    assert load_config(resolve_config_file("finetune")).pretrain_steps == 0


@pytest.mark.slow  # the CLI in two subprocesses, interrupted and resumed
def test_sigint_saves_a_checkpoint_and_resume_finishes(tmp_path, tiny_toml):
    """Ctrl-C after the first log line: the step finishes, a checkpoint is written, the exit code is 130."""
    command = [sys.executable, "-m", "trainer", "pretrain", "--config", str(tiny_toml), "pretrain_steps=100000"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **ONE_THREAD_ENV, "PYTHONUNBUFFERED": "1"})
    lines = []
    for line in process.stdout:
        lines.append(line)
        if json.loads(line)["event"] == "log":
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=60)
    events = json_lines("".join(lines) + out)
    assert process.returncode == EXIT_INTERRUPTED, err
    stopped = events[-1]
    assert stopped["event"] == "stopped" and stopped["reason"] == "SIGINT"
    checkpoint = next(event for event in events if event["event"] == "checkpoint")
    assert checkpoint["step"] == stopped["step"] and Path(checkpoint["path"]).is_file()
    assert [path.name for path in list_checkpoints(tmp_path / "run")] == [Path(checkpoint["path"]).name]

    resumed = subprocess.run([*command[:-1], f"pretrain_steps={stopped['step'] + 1}", "--resume"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120, env={**os.environ, **ONE_THREAD_ENV})
    assert resumed.returncode == EXIT_OK, resumed.stderr
    events = json_lines(resumed.stdout)
    assert events[0]["step"] == stopped["step"] and events[-1]["event"] == "done"


def test_evaluate_wraps_the_fid_kid_evaluation(tmp_path, capsys, monkeypatch):
    """The CLI's part: models and baselines through in order, one event per row, the reports and the sheet written
    (the scores themselves are tested in test_evaluate.py)."""
    from trainer import evaluate

    calls = []

    def fake_evaluate_contenders(contenders, photos_dir, cartoons_dir, device, limit, **options):
        calls.append(([c.name for c in contenders], str(device), limit, options["short_side_px"]))
        scores = {"fid": 12.5, "kid": 0.01, "kid_std": 0.001}
        return [{"model": c.name, "photos": 4, "cartoons": 4, "photos_dir": str(photos_dir),
                 "cartoons_dir": str(cartoons_dir), "short_side_px": options["short_side_px"],
                 "to_cartoons": scores, "to_photos": scores, "photos_to_cartoons": scores} for c in contenders]

    monkeypatch.setattr(evaluate, "load_inception", lambda device: None)
    monkeypatch.setattr(evaluate, "evaluate_contenders", fake_evaluate_contenders)
    monkeypatch.setattr(evaluate, "model_contender",
                        lambda name, device: evaluate.Contender(name, lambda rgb: 1.0 - rgb))
    photos = tmp_path / "photos"
    for i in range(3):
        write_image(photos / f"p{i}.png", gradient_image(40, 60, seed=i))
    arguments = ["evaluate", "--model", "a", "--model", "b", "--baseline", "stylization", "--photos", str(photos),
                 "--cartoons", str(tmp_path / "cartoons"), "--limit", "50", "--short-side", "32", "--device", "cpu",
                 "--sheet-rows", "2", "--json", str(tmp_path / "scores.json"),
                 "--markdown", str(tmp_path / "scores.md")]
    assert main(arguments) == EXIT_OK
    events = json_lines(capsys.readouterr().out)
    assert [event["event"] for event in events] == ["sheet", "evaluation", "evaluation", "evaluation", "done"]
    assert calls == [(["a", "b", "baseline: stylization"], "cpu", 50, 32)]
    assert [result["model"] for result in json.loads((tmp_path / "scores.json").read_text())][:2] == ["a", "b"]
    assert "| b | 12.50 |" in (tmp_path / "scores.md").read_text()
    with Image.open(tmp_path / "scores-sheet.jpg") as sheet:  # beside the markdown: 2 rows, photo + 3 columns
        assert sheet.size == (4 * 32, evaluate.SHEET_HEADER_PX + 2 * 32)


def test_evaluate_needs_a_model_or_a_baseline(tmp_path, capsys):
    assert main(["evaluate", "--photos", str(tmp_path), "--cartoons", str(tmp_path)]) == EXIT_USAGE
    assert "--baseline" in capsys.readouterr().err


def test_make_targets_caches_and_resumes(tmp_path, capsys):
    photos = tmp_path / "photos"
    for i in range(3):
        write_image(photos / "sub" / f"p{i}.jpg", gradient_image(40, 48, seed=i))
    arguments = ["make-targets", f"photos_dir={photos}", f"target_cache_dir={tmp_path / 'targets'}"]
    assert main(arguments) == EXIT_OK
    done = json_lines(capsys.readouterr().out)[-1]
    assert (done["event"], done["made"], done["reused"]) == ("done", 3, 0)
    assert sorted(p.name for p in (tmp_path / "targets" / "sub").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert main(arguments) == EXIT_OK
    done = json_lines(capsys.readouterr().out)[-1]
    assert (done["made"], done["reused"]) == (0, 3)


def test_extract_keyframes_wraps_the_keyframe_extractor(tmp_path, capsys):
    av = pytest.importorskip("av")
    video = tmp_path / "videos" / "clip.mp4"
    video.parent.mkdir()
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for index in range(20):  # two scenes of one second each
            picture = (gradient_image(48, 64, seed=index // 10) * 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert main(["extract-keyframes", str(video.parent), "-o", str(tmp_path / "frames")]) == EXIT_OK
    events = json_lines(capsys.readouterr().out)
    assert events[0]["event"] == "keyframes" and events[0]["kept"] >= 1
    assert events[-1] == {"event": "done", "output": str(tmp_path / "frames"), "kept": events[0]["kept"],
                          "failed": 0}
    assert len(list((tmp_path / "frames").glob("clip_*.png"))) == events[0]["kept"]


def test_finetune_defaults_to_the_bundled_model_and_semantic_module(tmp_path, training_folders, capsys):
    from core.model_file import read_metadata
    from core.model_registry import default_model_name
    from core.segmenter import bundled_segmenter_path

    photos, cartoons = training_folders
    common = [f"photos_dir={photos}", f"cartoons_dir={cartoons}", "adversarial_steps=1", "crop_size=32",
              "batch_size=2", "num_workers=0", "device=cpu", "discriminator_base_channels=8"]
    assert main(["finetune", *common, f"run_dir={tmp_path / 'tuned'}"]) == EXIT_OK
    provenance = read_metadata(tmp_path / "tuned" / "tuned.safetensors").provenance
    assert provenance["base_model"] == default_model_name()
    assert provenance["segmenter"]["path"] == str(bundled_segmenter_path())
    assert provenance["backbone"]["name"] == "efficientnet_lite0"  # the preset's: no VGG19 on users' machines
    assert "bundled default model" in capsys.readouterr().err
    assert main(["finetune", *common, "segmenter_path=none", f"run_dir={tmp_path / 'plain'}"]) == EXIT_OK
    assert read_metadata(tmp_path / "plain" / "plain.safetensors").provenance["segmenter"] is None


def test_the_training_commands_start_without_pyav():
    """A GPU box may lack PyAV: only extract-keyframes needs it, so importing the CLI must not."""
    code = "import sys; sys.modules['av'] = None; import trainer.cli"  # None: `import av` raises
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=ONE_THREAD_ENV, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
