"""`python -m trainer` is `cartoonize-train` (and what `torchrun ... -m trainer` runs)."""
from __future__ import annotations

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
