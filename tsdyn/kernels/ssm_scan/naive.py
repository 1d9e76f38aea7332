"""Reference: the diagonal SSM scan as the unfused composition of `linear_scan`.

Materialises the [B, T, H, N] complex state, so it is only for tests and small shapes.
"""

from __future__ import annotations

import torch


def naive_ssm_scan(u, dt, A, B, C, D, h0=None, *, return_last=False, scan_backend="naive"):
    """Same contract as `tsdyn.kernels.ssm_scan`; differentiable by autograd through the scan."""
    from ..scan import linear_scan

    Bn, T, H = u.shape
    N = A.shape[-1]
    a = torch.exp(dt[:, None] * A)  # [H, N]
    Bt = dt[:, None] * B  # [H, N]
    b = (u[..., None] * Bt).reshape(Bn, T, H * N)  # [B, T, H*N]
    h0f = None if h0 is None else h0.reshape(Bn, H * N)
    h, last = linear_scan(a.reshape(H * N), b, h0f, return_last=True, backend=scan_backend)
    y = (h.view(Bn, T, H, N) * C).real.sum(-1) + D * u  # [B, T, H]
    return (y, last.view(Bn, H, N)) if return_last else y
