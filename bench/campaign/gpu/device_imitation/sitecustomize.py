"""Hide from this Python the packages the device machine's image lacks, for cpu_test.sh.

Python imports `sitecustomize` at start-up from its path; cpu_test.sh puts this folder on PYTHONPATH, so every
process of the test (DataLoader workers and the target makers' spawned processes too) gets a finder that refuses a
top-level module whose distributions in this venv are all absent from the device's package list, unless it is found
outside the venv's site-packages (the folder run_on_device.sh installs the carried wheels into, the repository).
What the listed packages require here is not hidden: they bring their own requirements there.
The list is KINDS.md's "Python packages already there" for `nvidia-h200` (read 2026-11-17). Versions differ there
(Python 3.12, torch 2.11): this imitates what is missing, not what is different.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import re
import sys

DEVICE_PACKAGES = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy
peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope
triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
"""
OURS = {"cartoonizer"}  # the repository itself: on the device it is on PYTHONPATH


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _with_requirements(names: set[str]) -> set[str]:
    """`names` and what their distributions here require, transitively: a package the device has brings its own
    requirements there (in its own versions), so what it needs here is not missing there."""
    found, queue = set(names), list(names)
    while queue:
        try:
            requirements = importlib.metadata.distribution(queue.pop()).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" in requirement:
                continue
            name = _normalised(re.match(r"[A-Za-z0-9._-]+", requirement).group())
            if name not in found:
                found.add(name)
                queue.append(name)
    return found


def _hidden_modules() -> set[str]:
    present = _with_requirements({_normalised(name) for name in DEVICE_PACKAGES.split()}) | OURS
    hidden = set()
    for module, distributions in importlib.metadata.packages_distributions().items():
        if not any(_normalised(name) in present for name in distributions):
            hidden.add(module)
    return hidden


class DeviceImageFinder(importlib.abc.MetaPathFinder):
    """Finds a hidden top-level module only outside site-packages; refuses it otherwise."""

    def __init__(self, hidden: set[str]):
        self.hidden = hidden

    def find_spec(self, fullname, path=None, target=None):
        if "." in fullname or fullname not in self.hidden:
            return None
        outside = [entry for entry in sys.path if entry and "site-packages" not in entry]
        spec = importlib.machinery.PathFinder.find_spec(fullname, outside)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} (the device image lacks it)", name=fullname)
        return spec


sys.meta_path.insert(0, DeviceImageFinder(_hidden_modules()))
