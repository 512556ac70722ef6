from __future__ import annotations

import pytest
import torch
from torch import nn

from core.strict_load import check_format, load_weights_strictly


class _Refused(Exception):
    pass


def test_format_marker_and_version_are_checked():
    check_format({"format": "ours", "format_version": 2}, "ours", 2, "test file", _Refused)
    with pytest.raises(_Refused, match="^a.bin: not a test file"):
        check_format({"format": "theirs", "format_version": 2}, "ours", 2, "test file", _Refused, "a.bin")
    with pytest.raises(_Refused, match="not a test file"):
        check_format(["not", "a", "dict"], "ours", 2, "test file", _Refused)
    with pytest.raises(_Refused, match=r"test file format version 3 is not supported \(this build reads 2\)"):
        check_format({"format": "ours", "format_version": 3}, "ours", 2, "test file", _Refused)


def test_weights_load_only_when_every_key_and_shape_fits():
    network = nn.Linear(3, 2)
    good = {"weight": torch.ones(2, 3), "bias": torch.zeros(2)}
    load_weights_strictly(network, good, "net", _Refused)
    assert torch.equal(network.weight, torch.ones(2, 3))
    with pytest.raises(_Refused, match=r"net: weights do not match.*missing \['bias'\]"):
        load_weights_strictly(network, {"weight": torch.ones(2, 3)}, "net", _Refused)
    with pytest.raises(_Refused, match=r"unexpected \['extra'\]"):
        load_weights_strictly(network, {**good, "extra": torch.ones(1)}, "net", _Refused)
    with pytest.raises(_Refused, match=r"wrong shape \['weight'\]"):
        load_weights_strictly(network, {**good, "weight": torch.ones(3, 3)}, "net", _Refused)
    assert torch.equal(network.weight, torch.ones(2, 3))     # nothing was loaded from a refused state
