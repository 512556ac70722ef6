"""One executable, every entry point: what the packaged `Cartoonizer` and `python -m desktop_app` run.

    Cartoonizer [PATHS…]                 the desktop app (paths are added to the queue)
    Cartoonizer --version                the version (core.__version__, the package's one source of truth)
    Cartoonizer cartoonize ARGS…         exactly the `cartoonize` CLI
    Cartoonizer cartoonize-train ARGS…   exactly `cartoonize-train`; the fine-tuning wizard starts its trainer process
                                         this way when frozen, since a frozen app has no `python -m trainer`
    Cartoonizer --self-test [OPTIONS]    checks this installation (see desktop_app.self_test)

Each branch imports only what it needs, so `--version` and the CLIs start without loading Qt. The imports are plain
`from … import` statements inside the branches, which PyInstaller's analysis follows (no hidden imports to list).
"""
from __future__ import annotations

import multiprocessing
import sys
from typing import Sequence

from core import __version__

APP_NAME = "Cartoonizer"
USAGE = f"""usage: {APP_NAME} [PATHS…]                 open the desktop app (paths are added to the queue)
       {APP_NAME} --version                print the version
       {APP_NAME} cartoonize ARGS…         the cartoonize command line (cartoonize --help)
       {APP_NAME} cartoonize-train ARGS…   the trainer's command line (cartoonize-train --help)
       {APP_NAME} --self-test [--help]     check this installation: window, samples, optionally fine-tuning"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch on the first argument; returns the exit code of whatever ran."""
    multiprocessing.freeze_support()  # a frozen app's spawned workers (Windows, macOS) must not open the GUI
    args = list(sys.argv[1:] if argv is None else argv)
    first = args[0] if args else None
    if first == "cartoonize":
        from core.cli import main as cartoonize_main
        return cartoonize_main(args[1:])
    if first == "cartoonize-train":
        from trainer.cli import main as train_main
        return train_main(args[1:])
    if first == "--version":
        print(f"{APP_NAME} {__version__}")
        return 0
    if first in ("-h", "--help"):
        print(USAGE)
        return 0
    if first == "--self-test":
        from desktop_app.self_test import main as self_test_main
        return self_test_main(args[1:])
    from desktop_app.__main__ import main as open_desktop_app
    return open_desktop_app(args)
