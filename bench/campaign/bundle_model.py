"""Make a campaign model the app's bundled default: resources/models/NAME.safetensors, marked default, with the
other bundled models' default mark removed (their weights untouched), and the machine's own paths in its provenance
replaced by `<user data>` so the file names nothing that exists only here.

    .venv/bin/python bench/campaign/bundle_model.py SOURCE.safetensors --name cartoon-v1 \\
        --display-name "Cartoon v1 (CPU warm start)" --description "…"

Write the model's card (resources/models/NAME.md) by hand: what it was trained on, how far, and how it scores.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.model_file import ModelMetadata, save_model  # noqa: E402
from core.model_registry import (  # noqa: E402
    DEFAULT_MODEL_MARKER, bundled_models_dir, is_valid_model_name, list_models, load_model, user_data_dir,
)


def without_local_paths(provenance: dict) -> dict:
    """The provenance with this machine's user data folder written as `<user data>`."""
    text = json.dumps(provenance).replace(str(user_data_dir()), "<user data>")
    return json.loads(text)


def mark_default(metadata: ModelMetadata, is_default: bool) -> ModelMetadata:
    provenance = {key: value for key, value in metadata.provenance.items() if key != DEFAULT_MODEL_MARKER}
    if is_default:
        provenance[DEFAULT_MODEL_MARKER] = True
    return replace(metadata, provenance=provenance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a model file exported by the campaign (cartoonize-train export)")
    parser.add_argument("--name", required=True, help="the bundled model's name (its file name)")
    parser.add_argument("--display-name", required=True)
    parser.add_argument("--description", required=True)
    args = parser.parse_args()
    if not is_valid_model_name(args.name):
        raise SystemExit(f"{args.name!r} is not a valid model name")
    model = load_model(args.source)
    metadata = replace(model.metadata, display_name=args.display_name, description=args.description,
                       provenance=without_local_paths(model.metadata.provenance))
    for entry in list_models():
        if entry.bundled and entry.name != args.name and entry.metadata.provenance.get(DEFAULT_MODEL_MARKER):
            other = load_model(entry.path)
            save_model(entry.path, other.generator, mark_default(other.metadata, False), half=True)
            print(f"{entry.name}: no longer the default")
    target = bundled_models_dir() / f"{args.name}.safetensors"
    save_model(target, model.generator, mark_default(metadata, True), half=True)
    print(f"{target}: the bundled default")


if __name__ == "__main__":
    main()
