"""The About box: what this build is made of (versions of the app, Python, Qt, PyTorch and the imaging libraries)
and the licence of every installed model, since model licences differ (some are non-commercial)."""
from __future__ import annotations

import html
import platform
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from core import __version__ as app_version
from core.model_registry import list_models

LIBRARIES = ("torch", "numpy", "pillow", "opencv-python-headless", "safetensors", "av", "platformdirs")


def version_lines() -> list[tuple[str, str]]:
    """(component, version) for the app and what it runs on; missing optional packages say so."""
    lines = [("Cartoonizer", app_version), ("Python", platform.python_version()),
             ("Qt", qVersion()), ("PySide6", pyside_version)]
    for package in LIBRARIES:
        try:
            lines.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            lines.append((package, "not installed"))
    try:
        import torch

        lines.append(("CUDA (PyTorch build)", torch.version.cuda or "none (CPU build)"))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return lines


def about_html() -> str:
    versions = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in version_lines())
    models = list_models()
    if models:
        rows = "".join(
            f"<tr><td><b>{html.escape(e.metadata.display_name)}</b> ({html.escape(e.name)}, "
            f"{'bundled' if e.bundled else 'yours'})</td><td>{html.escape(e.metadata.license)}</td></tr>"
            for e in models)
    else:
        rows = "<tr><td colspan=2>No model installed.</td></tr>"
    return (
        "<p>Turns photos, folders and videos into cartoons with a small GAN generator, on the CPU or a GPU. "
        "Your input files are never modified.</p>"
        f"<h4>Versions</h4><table cellspacing=4>{versions}</table>"
        f"<h4>Models and their licences</h4><table cellspacing=4>{rows}</table>"
        "<p>The app itself is MIT-licensed. A model's licence governs what you may do with its outputs: "
        "White-box Cartoonization weights are CC BY-NC-SA 4.0 (non-commercial only).</p>")


class AboutDialog(QDialog):
    def __init__(self, icon: QIcon, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About Cartoonizer")
        self.resize(540, 520)
        header = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(icon.pixmap(64, 64))
        title = QLabel(f"<h2>Cartoonizer {html.escape(app_version)}</h2>")
        title.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(logo)
        header.addWidget(title, 1)
        self.body = QTextBrowser()
        self.body.setOpenExternalLinks(True)
        self.body.setHtml(about_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.body, 1)
        layout.addWidget(buttons)
