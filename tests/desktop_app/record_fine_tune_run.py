"""Record a real short fine-tune for the wizard's screenshot: the trainer's JSON lines and one sample grid, into
tests/desktop_app/data/fine-tune-run/. Run by hand (a few minutes on a 2-core CPU); the screenshot test replays the
recording, so that it needs neither minutes of training nor luck in timing.

    .venv/bin/python tests/desktop_app/record_fine_tune_run.py [--cartoons ../shared/data/cartoons/anime]

The run is what the wizard runs (`FineTunePlan` → the finetune preset → `python -m trainer finetune --config`):
base model the bundled default model (resources/models, as the wizard proposes it), photos 24 crops of the
public-domain / CC0 sample photos in resources/samples (the sample grid shows only those), cartoons a folder of
cartoon pictures (by default the shared anime key-frames beside the checkout, used for training only), the bundled
semantic module with the default region weights, 128 px crops, batch 4, EfficientNet-Lite0 features, on the CPU.
Paths in the recorded events are relative to the run folder.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT))

from PIL import Image, ImageOps  # noqa: E402

from core.model_registry import default_model_name, resolve_model_path  # noqa: E402
from desktop_app.fine_tune.plan import FineTunePlan, bundled_segmenter, trainer_arguments, write_config  # noqa: E402

OUT = HERE / "data" / "fine-tune-run"
STEPS, REPLAY_STEP = 200, 150  # the screenshot shows the run at REPLAY_STEP of STEPS
EXTRA = ("batch_size=4", "num_workers=1", "log_every=5", "sample_every=50", "checkpoint_every=100")


def sample_photos(folder: Path) -> Path:
    """Six versions of each sample photo (three sizes, mirrored or not): 24 photos, all from resources/samples."""
    folder.mkdir(parents=True)
    for source in sorted((REPO_ROOT / "resources" / "samples").glob("*.jpg")):
        with Image.open(source) as image:
            image = image.convert("RGB")
            for index, (short_side, mirrored) in enumerate((s, m) for s in (160, 200, 256) for m in (False, True)):
                scale = short_side / min(image.size)
                resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
                (ImageOps.mirror(resized) if mirrored else resized).save(folder / f"{source.stem}_{index}.jpg",
                                                                          quality=92)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cartoons", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "cartoons" / "anime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        base = resolve_model_path(default_model_name())
        run_dir = root / "run"
        plan = FineTunePlan(base_model=base, photos_dir=sample_photos(root / "photos"),
                            cartoons_dir=args.cartoons.resolve(), run_dir=run_dir, steps=STEPS, crop_size_px=128,
                            device="cpu", backbone="efficientnet_lite0", segmenter_path=bundled_segmenter(),
                            extra_overrides=EXTRA)
        config = write_config(plan.train_config(), run_dir)
        command = [sys.executable, "-m", "trainer", *trainer_arguments(config)]
        print("running", " ".join(command), file=sys.stderr)
        lines = []
        with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as process:
            for line in process.stdout:
                lines.append(line)
                print(line, end="", file=sys.stderr, flush=True)  # progress for the person waiting
        if process.returncode != 0:
            return 1
        events = [json.loads(line) for line in lines if line.strip()]
        for event in events:
            for key in ("path", "model", "run_dir"):
                if isinstance(event.get(key), str) and event[key].startswith(str(run_dir)):
                    event[key] = str(Path(event[key]).relative_to(run_dir)) if event[key] != str(run_dir) else "."
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        sample = next(e["path"] for e in events if e["event"] == "sample" and e["step"] == REPLAY_STEP)
        shutil.copy(run_dir / sample, OUT / Path(sample).name)
        print(f"{len(events)} events and {Path(sample).name} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
