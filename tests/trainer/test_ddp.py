from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.model_registry import load_model
from tests.conftest import REPO_ROOT
from tests.trainer.conftest import ONE_THREAD_ENV, TINY_SETTINGS, write_toml
from trainer.checkpoint import list_checkpoints, load_checkpoint

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.slow  # two torchrun processes
@pytest.mark.skipif(not TORCHRUN.exists() and shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_gloo_processes_train_and_only_rank_0_writes(tmp_path, training_folders, random_segmenter_file):
    photos, cartoons = training_folders
    config = write_toml(tmp_path / "ddp.toml", {**TINY_SETTINGS, "photos_dir": photos, "cartoons_dir": cartoons,
                                                "segmenter_path": random_segmenter_file, "run_dir": tmp_path / "run",
                                                "pretrain_steps": 1, "adversarial_steps": 2, "sample_every": 3})
    torchrun = str(TORCHRUN) if TORCHRUN.exists() else shutil.which("torchrun")
    finished = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "trainer", "train", "--config", str(config)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, **ONE_THREAD_ENV})
    assert finished.returncode == 0, finished.stderr[-3000:]

    events = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    kinds = [event["event"] for event in events]
    assert kinds.count("start") == 1 and kinds.count("done") == 1 and kinds.count("log") == 3  # rank 0 only
    assert events[0]["world_size"] == 2

    run_dir = tmp_path / "run"
    checkpoints = list_checkpoints(run_dir)
    assert [path.name for path in checkpoints] == ["step_00000003.pt"]
    assert sorted(path.name for path in run_dir.iterdir()) == ["checkpoints", "run.safetensors", "samples"]
    assert [path.name for path in (run_dir / "samples").iterdir()] == ["step_00000003.png"]
    assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()) == ["latest", "step_00000003.pt"]
    checkpoint = load_checkpoint(checkpoints[0])
    # each rank reads its own half of every epoch (3 of 6 photos): 3 steps × batch 2 = 2 whole epochs
    photos_state = checkpoint["data"]["photos"]
    assert (photos_state["world_size"], photos_state["epoch"], photos_state["index"]) == (2, 2, 0)
    load_model(run_dir / "run.safetensors")
