"""Device selection, seeding, threads, environment facts and progress reporting.

Library code reports progress through a `Progress` callback and never prints; the CLI passes one
that draws a rich progress bar on stderr.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from collections.abc import Callable
from typing import Any

from tsdyn.errors import InputError

__all__ = [
    "Progress",
    "environment",
    "null_progress",
    "resolve_device",
    "seed_everything",
    "set_threads",
]

#: progress(task, completed, total, info): `task` names the bar, `info` holds values to show
#: beside it (loss, metric). `total` may be None when unknown.
Progress = Callable[[str, int, int | None, dict[str, Any]], None]


def null_progress(task: str, completed: int, total: int | None, info: dict[str, Any]) -> None:
    """A progress callback that ignores everything."""


def resolve_device(spec: str = "auto"):
    """Turn `auto`, `cpu`, `cuda` or `cuda:N` into a `torch.device`.

    `auto` picks the first CUDA device when one is available, otherwise the CPU.
    """
    import torch

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(
                f"device '{spec}' asked for but CUDA is not available", "use --device cpu or auto"
            )
        index = spec.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise InputError(
                    f"device '{spec}' does not exist ({torch.cuda.device_count()} CUDA devices)",
                    "use --device cuda:0 .. cuda:N-1",
                )
        return torch.device(spec)
    raise InputError(f"unknown device '{spec}'", "use --device auto, cpu, cuda or cuda:N")


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's global generator and torch (all devices)."""
    import numpy as np
    import torch

    if not 0 <= seed < 2**32:
        raise InputError(f"seed {seed} is out of range", "use a seed in [0, 2**32)")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeds legacy global users such as tslearn)
    torch.manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """Limit torch's intra-op threads (None keeps the default: one per core)."""
    if threads is None:
        return
    if threads < 1:
        raise InputError(f"--threads {threads} must be at least 1", "pass a positive thread count")
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))


def environment(device: Any = None) -> dict[str, Any]:
    """Versions and machine facts recorded in every run folder's config.json."""
    import numpy as np
    import torch

    import tsdyn

    facts: dict[str, Any] = {
        "tsdyn": tsdyn.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    for name in ("polars", "scipy"):
        try:
            facts[name] = __import__(name).__version__
        except ImportError:  # pragma: no cover - both are dependencies
            facts[name] = None
    if device is not None:
        facts["device"] = str(device)
        if getattr(device, "type", None) == "cuda":
            facts["cuda"] = torch.version.cuda
            facts["gpu"] = torch.cuda.get_device_name(device)
    return facts
