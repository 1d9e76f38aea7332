"""The shared kernels and HiPPO operators from Python.

python examples/scan_and_hippo.py
"""

import numpy as np
import torch

from tsdyn.kernels import linear_scan
from tsdyn.ssm import HiPPO

# h_t = a_t * h_{t-1} + b_t over [B, T, D]: an exponential moving average with decay 0.9
b = torch.randn(2, 1000, 8)
a = torch.full((8,), 0.9)
h, last = linear_scan(a, 0.1 * b, return_last=True)
print("EMA of the last step:", last[0, :3])

# compress a signal online into 64 Legendre (LegT) coefficients over a 200-sample window
t = np.linspace(0, 10, 2000)
signal = np.sin(2 * np.pi * 0.5 * t) + 0.3 * np.sin(2 * np.pi * 1.3 * t)
hippo = HiPPO("legt", 64, window=200)
coeffs = hippo.project(signal)  # [T, N]
recon = hippo.reconstruct(coeffs[-1], np.arange(200))[::-1]  # the last 200 samples, in time order
print("LegT reconstruction MSE of the last window:", float(np.mean((recon - signal[-200:]) ** 2)))
