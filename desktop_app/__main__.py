"""`cartoonize-gui`: start the desktop application. `python -m desktop_app` and the packaged `Cartoonizer` run
`desktop_app.launcher` instead, which opens the same window or dispatches to the CLIs and the self-test."""
from __future__ import annotations

import sys
from typing import Sequence

from PySide6.QtWidgets import QApplication

from core import __version__

from desktop_app.app_icon import load_app_icon
from desktop_app.main_window import MainWindow


def main(argv: Sequence[str] | None = None) -> int:
    """Open the main window; paths given on the command line are added to the queue."""
    args = list(sys.argv if argv is None else [sys.argv[0], *argv])
    app = QApplication.instance()
    if app is None:
        app = QApplication(args)
        args = app.arguments()  # without the options Qt took for itself (-platform, -style …)
    configure_application(app)
    window = MainWindow()
    window.show()
    paths = [a for a in args[1:] if not a.startswith("-")]
    if paths:
        window.add_paths(paths)
    return app.exec()


def configure_application(app: QApplication) -> None:
    """Name, version, icon and desktop entry (resources/cartoonizer.desktop) of the running application."""
    app.setApplicationName("Cartoonizer")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("cartoonizer")
    app.setDesktopFileName("cartoonizer")
    app.setWindowIcon(load_app_icon())


if __name__ == "__main__":  # also the PyInstaller entry script (packaging/cartoonizer.spec)
    from desktop_app.launcher import main as launch

    sys.exit(launch())
