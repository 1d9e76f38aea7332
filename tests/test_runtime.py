"""Device choice, seeding, threads and the environment facts of config.json."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tsdyn.errors import InputError
from tsdyn.runtime import environment, null_progress, resolve_device, seed_everything, set_threads


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(InputError, match="cuda"):
        resolve_device("cuda:99")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_says_so():
    with pytest.raises(InputError, match="CUDA is not available; use --device cpu or auto"):
        resolve_device("cuda")


def test_seed_everything_repeats_python_numpy_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    seed_everything(124)
    assert draw() != first
    for bad in (-1, 2**32):
        with pytest.raises(InputError, match="out of range"):
            seed_everything(bad)


def test_set_threads():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(None)
        assert torch.get_num_threads() == 1  # None keeps the current setting
    finally:
        torch.set_num_threads(before)
    with pytest.raises(InputError, match="--threads 0 must be at least 1"):
        set_threads(0)


def test_environment_facts():
    import polars
    import scipy

    import tsdyn

    facts = environment(torch.device("cpu"))
    assert facts["tsdyn"] == tsdyn.__version__
    assert facts["torch"] == torch.__version__ and facts["numpy"] == np.__version__
    assert facts["polars"] == polars.__version__ and facts["scipy"] == scipy.__version__
    assert facts["device"] == "cpu"
    assert facts["torch_threads"] == torch.get_num_threads()
    assert "device" not in environment()
    assert null_progress("train", 1, None, {"loss": 0.5}) is None
