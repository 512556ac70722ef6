"""Output names: the `--name-pattern` that turns an input's stem into its output's (`{stem}` → `photo`,
`{stem}_cartoon` → `photo_cartoon`), so that outputs can sit beside their inputs without taking their names."""
from __future__ import annotations

import string
from pathlib import Path

DEFAULT_NAME_PATTERN = "{stem}"


class NamePatternError(ValueError):
    """A name pattern that cannot name files; the message says why."""


def check_name_pattern(pattern: str) -> str:
    """The pattern if it names one file per input: it uses `{stem}` (and no other field), has no folder separator and
    does not make hidden files; NamePatternError otherwise."""
    try:
        fields = [name for _, name, spec, conversion in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise NamePatternError(f"name pattern {pattern!r} is not valid ({exc})") from None
    if "stem" not in fields:
        raise NamePatternError(f"name pattern {pattern!r} must contain {{stem}}, e.g. {{stem}}_cartoon")
    unknown = sorted({name for name in fields if name != "stem"})
    if unknown:
        raise NamePatternError(f"name pattern {pattern!r} uses unknown fields {unknown}: only {{stem}} is known")
    sample = pattern.format(stem="x")
    if "/" in sample or "\\" in sample or sample.startswith(".") or "\0" in sample:
        raise NamePatternError(f"name pattern {pattern!r} must name a file in the output folder (no '/', '\\' "
                               "or leading '.')")
    return pattern


def output_stem(pattern: str, stem: str) -> str:
    return pattern.format(stem=stem)


def keeps_names_apart(pattern: str) -> bool:
    """Whether outputs named by `pattern` never take their input's stem (so they may share its folder)."""
    return output_stem(pattern, "x") != "x"


def renamed(relative: Path, pattern: str, is_folder: bool = False) -> Path:
    """`relative` with its stem (a folder's whole name) passed through the pattern, suffix kept."""
    if is_folder:
        return relative.with_name(output_stem(pattern, relative.name))
    return relative.with_name(output_stem(pattern, relative.stem) + relative.suffix)
