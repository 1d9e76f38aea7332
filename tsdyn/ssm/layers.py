"""State-space layers: the diagonal S4D and the dense-HiPPO LSSL (research note 1.6, 1.7, 1.9).

`DiagonalSSM` and `DenseSSM` are the linear SSMs alone (one per channel, kernel + recurrence +
streaming step); `S4D` and `LSSL` add the activation and the position-wise output map, as in the
papers. Every parameter is real (complex values as trailing (re, im) pairs, built into complex in
`forward`), so every optimizer works; `ssm_parameters()` names the ones that belong in the
optimizer group with lr <= 1e-3 and no weight decay (note 1.10).

Modes (all agree; tests check them against each other, note C7/C8):

- ``mode="conv"``: build the length-L kernel (Vandermonde for S4D, Krylov by squaring for LSSL) and
  convolve through the FFT. The fast mode for training.
- ``mode="recurrent"``: run the recurrence over the whole sequence. S4D uses the fused diagonal
  scan `tsdyn.kernels.ssm_scan`. LSSL's Ā is dense and non-normal (LegS's eigenvectors have a
  condition number above 1e19, note C3), so it cannot be diagonalized for `linear_scan`; it runs the
  dense recurrence ``x_k = Ā x_{k-1} + B̄ u_k`` a chunk of steps at a time (exact; L/64 sequential
  steps).
- `step`: one sample at a time for streaming inference, from `default_state` or a carried state.

Shapes: ``B`` batch, ``L`` length, ``H`` channels (d_model), ``N`` state size, ``M`` LSSL output
channels per feature.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tsdyn.errors import InputError
from tsdyn.ssm.discretize import _expm1_over, _method, discretize, discretize_diag
from tsdyn.ssm.hippo import DIAG_INITS, MEASURES, diag_init, transition
from tsdyn.ssm.kernel import diag_state_kernels, fft_conv, krylov, vandermonde

__all__ = ["LSSL", "S4D", "DenseSSM", "DiagonalSSM", "log_uniform_dt"]

MODES = ("conv", "recurrent")


def log_uniform_dt(H: int, dt_min: float, dt_max: float, generator=None) -> torch.Tensor:
    """``log Δ`` [H], log-uniform in [dt_min, dt_max] (LSSL App. B.3)."""
    if not 0 < dt_min <= dt_max:
        raise InputError(
            f"dt range [{dt_min}, {dt_max}] is invalid",
            "pass 0 < dt_min <= dt_max, e.g. 1e-3, 1e-1",
        )
    r = torch.rand(H, generator=generator, dtype=torch.float64)
    return (r * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).float()


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"unknown mode '{mode}'", f"use one of {', '.join(MODES)}")
    return mode


class DiagonalSSM(nn.Module):
    """H independent diagonal SSMs with N/2 conjugate-pair modes each (S4D, arXiv 2206.11893).

    ``K̄_l = 2 Re Σ_n C_n B̄_n Ā_n^l``, ``y = K̄ * u + D u``; ``Λ = -exp(A_log_re) + i A_im``.

    Parameters
    ----------
    d_model : int
        H, the number of channels.
    d_state : int
        N, the full (even) state size; N/2 complex modes are stored.
    init : {"legs", "inv", "lin"}
        S4D-LegS, S4D-Inv or S4D-Lin eigenvalues (`tsdyn.ssm.hippo.diag_init`).
    disc : {"zoh", "bilinear"}
    dt_min, dt_max : float
        Range of the log-uniform Δ init, one Δ per channel.
    learn_B : bool
        Train B (else B is a fixed buffer).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        init: str = "legs",
        disc: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        learn_B: bool = True,
    ):
        super().__init__()
        if init not in DIAG_INITS:
            raise InputError(f"unknown S4D init '{init}'", f"use one of {', '.join(DIAG_INITS)}")
        self.disc = _method(disc)
        if self.disc not in ("zoh", "bilinear"):
            raise InputError(f"S4D supports zoh and bilinear, not '{disc}'", "pass disc='zoh'")
        self.H, self.N = d_model, d_state
        self.init = init
        lam, b = diag_init(init, d_state)  # [N/2]
        H = d_model
        self.log_dt = nn.Parameter(log_uniform_dt(H, dt_min, dt_max))  # [H]
        self.register_buffer("log_dt_init", self.log_dt.detach().clone())
        re = torch.as_tensor(np.log(-lam.real), dtype=torch.float32)
        self.A_log_re = nn.Parameter(re.expand(H, -1).clone())  # [H, N/2]
        self.A_im = nn.Parameter(
            torch.as_tensor(lam.imag, dtype=torch.float32).expand(H, -1).clone()
        )
        B = torch.view_as_real(torch.as_tensor(b, dtype=torch.complex64)).expand(H, -1, -1).clone()
        if learn_B:
            self.B = nn.Parameter(B)  # [H, N/2, 2]
        else:
            self.register_buffer("B", B)
        C = torch.randn(H, d_state // 2, 2) * math.sqrt(0.5)  # complex normal [H, N/2, 2]
        self.C = nn.Parameter(C)
        self.D = nn.Parameter(torch.randn(H))

    def ssm_parameters(self) -> list[nn.Parameter]:
        """Parameters for the slow, no-weight-decay optimizer group (Δ, Λ, B)."""
        return [
            p
            for p in (self.log_dt, self.A_log_re, self.A_im, self.B)
            if isinstance(p, nn.Parameter)
        ]

    # -- continuous and discrete parameters --------------------------------------------------
    def continuous(self):
        """``Δ`` [H], ``Λ`` [H, N/2], ``B`` [H, N/2], ``C`` [H, N/2] (complex)."""
        dt = self.log_dt.exp()
        lam = torch.complex(-self.A_log_re.exp(), self.A_im)
        return dt, lam, _complex(self.B), _complex(self.C)

    def discrete(self):
        """``Ā``, ``B̄`` [H, N/2] and ``log Ā`` (for powers), with C [H, N/2]."""
        dt, lam, B, C = self.continuous()
        dtc = dt[:, None]
        if self.disc == "zoh":
            log_dA = dtc * lam
            dA = torch.exp(log_dA)
            dB = B * dtc * _expm1_over(log_dA)
        else:
            dA, dB = discretize_diag(lam, B, dtc, "bilinear")
            log_dA = torch.log(dA)
        return dA, dB, log_dA, C

    def kernel(self, L: int) -> torch.Tensor:
        """Convolution kernel K̄ [H, L]."""
        _, dB, log_dA, C = self.discrete()
        return vandermonde(L, log_dA, C * dB)  # [H, L]

    def default_state(self, batch: int) -> torch.Tensor:
        """Zero state [batch, H, N/2] (complex)."""
        dtype = torch.complex128 if self.C.dtype == torch.float64 else torch.complex64
        return torch.zeros(batch, self.H, self.N // 2, dtype=dtype, device=self.C.device)

    # -- modes -------------------------------------------------------------------------------
    def forward(self, u: torch.Tensor, state=None, mode: str = "conv", return_state: bool = False):
        """Apply the SSM to u [B, L, H] -> y [B, L, H] (and the final state [B, H, N/2])."""
        _check_mode(mode)
        L = u.shape[1]
        if mode == "conv":
            _, dB, log_dA, C = self.discrete()
            K = vandermonde(L, log_dA, C * dB)  # [H, L]
            ut = u.transpose(1, 2)  # [B, H, L]
            y = fft_conv(ut, K, self.D)  # [B, H, L]
            next_state = None
            if state is not None or return_state:
                y_state, next_state = diag_state_kernels(L, log_dA, C, dB, ut, state)
                if y_state is not None:
                    y = y + y_state
            y = y.transpose(1, 2)
            return (y, next_state) if return_state else y
        from tsdyn.kernels import ssm_scan

        dt, lam, B, C = self.continuous()
        if self.disc == "zoh":
            A_eff = lam
            B_eff = B * _expm1_over(dt[:, None] * lam)  # Δ·B_eff is the ZOH input matrix
        else:
            _, dB, log_dA, _ = self.discrete()
            A_eff = log_dA / dt[:, None]
            B_eff = dB / dt[:, None]
        out = ssm_scan(u, dt, A_eff, B_eff, 2 * C, self.D, state, return_last=return_state)
        return out

    def step(self, u: torch.Tensor, state: torch.Tensor):
        """One sample: u [B, H], state [B, H, N/2] -> (y [B, H], next state)."""
        dA, dB, _, C = self.discrete()
        state = dA * state + dB * u.unsqueeze(-1)
        y = 2 * (C * state).sum(-1).real + self.D * u
        return y, state

    def timescales(self) -> dict[str, torch.Tensor]:
        """Δ [H], per-sample decay ``-Re(λ)Δ`` and frequency ``Im(λ)Δ/2π`` [H, N/2] (note 4.3)."""
        with torch.no_grad():
            dt, lam, _, _ = self.continuous()
            decay = -lam.real * dt[:, None]
            freq = lam.imag * dt[:, None] / (2 * math.pi)
        return {"dt": dt, "decay": decay, "freq": freq}


class DenseSSM(nn.Module):
    """H SSMs sharing a dense HiPPO (A, B), each with its own Δ and M output channels (LSSL).

    Bilinear discretization; kernel ``K̄_l = C Ā^l B̄`` [H, M, L] by Krylov squaring.

    Parameters
    ----------
    d_model : int
        H.
    d_state : int
        N.
    channels : int
        M, output channels per feature (C is [H, M, N], D is [H, M]).
    measure : {"legs", "legt", "lagt", "fout", "foud", "lmu"}
    window : float
        θ of `transition` (continuous time; with Δ the window is θ/Δ samples).
    dt_min, dt_max : float
        Range of the log-uniform Δ init.
    learn_A : bool
        Train A and B (LSSL); False keeps them fixed.
    learn_dt : bool
        Train Δ; ``learn_A=False, learn_dt=False`` is LSSL-fixed.
    chunk : int
        Steps per chunk of the recurrent mode (1: the plain step-by-step loop).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        channels: int = 1,
        measure: str = "legs",
        window: float = 1.0,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        learn_A: bool = False,
        learn_dt: bool = True,
        chunk: int = 64,
    ):
        super().__init__()
        if measure not in MEASURES:
            raise InputError(f"unknown measure '{measure}'", f"use one of {', '.join(MEASURES)}")
        self.H, self.N, self.M = d_model, d_state, channels
        self.measure = measure
        self.chunk = chunk
        A, B = transition(measure, d_state, window)
        A = torch.as_tensor(A, dtype=torch.float32)
        B = torch.as_tensor(B, dtype=torch.float32)
        if learn_A:
            self.A, self.B = nn.Parameter(A), nn.Parameter(B)
        else:
            self.register_buffer("A", A)
            self.register_buffer("B", B)
        log_dt = log_uniform_dt(d_model, dt_min, dt_max)
        self.log_dt = (
            nn.Parameter(log_dt) if learn_dt else nn.Parameter(log_dt, requires_grad=False)
        )
        self.register_buffer("log_dt_init", log_dt.clone())
        self.C = nn.Parameter(torch.randn(d_model, channels, d_state))  # [H, M, N]
        self.D = nn.Parameter(torch.randn(d_model, channels))  # [H, M]

    def ssm_parameters(self) -> list[nn.Parameter]:
        return [
            p
            for p in (self.log_dt, self.A, self.B)
            if isinstance(p, nn.Parameter) and p.requires_grad
        ]

    def discrete(self):
        """Bilinear ``Ā`` [H, N, N] and ``B̄`` [H, N]."""
        return discretize(self.A, self.B, self.log_dt.exp(), "bilinear")

    def kernel(self, L: int) -> torch.Tensor:
        """K̄ [H, M, L]."""
        dA, dB = self.discrete()
        return krylov(L, dA, dB, self.C)

    def default_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.H, self.N, dtype=self.C.dtype, device=self.C.device)

    def forward(self, u: torch.Tensor, state=None, mode: str = "conv", return_state: bool = False):
        """u [B, L, H] -> y [B, L, H, M] (and the final state [B, H, N])."""
        _check_mode(mode)
        if mode == "conv" and state is None and not return_state:
            K = self.kernel(u.shape[1])  # [H, M, L]
            y = fft_conv(u.transpose(1, 2), K, self.D)  # [B, H, M, L]
            return y.permute(0, 3, 1, 2)
        # the dense recurrence (also used in conv mode when a state is carried)
        dA, dB = self.discrete()
        x = self.default_state(u.shape[0]) if state is None else state
        y, x = _chunked_dense_recurrence(dA, dB, self.C, u, x, self.chunk)
        y = y + self.D * u.unsqueeze(-1)  # [B, L, H, M]
        return (y, x) if return_state else y

    def step(self, u: torch.Tensor, state: torch.Tensor):
        """u [B, H], state [B, H, N] -> (y [B, H, M], next state)."""
        dA, dB = self.discrete()
        state = torch.einsum("hnm,bhm->bhn", dA, state) + dB * u.unsqueeze(-1)
        return torch.einsum("hcn,bhn->bhc", self.C, state) + self.D * u.unsqueeze(-1), state

    def timescales(self) -> dict[str, torch.Tensor]:
        """Δ [H], and per-sample decay/frequency of the eigenvalues of ΔA [H, N]."""
        with torch.no_grad():
            dt = self.log_dt.exp()
            lam = torch.linalg.eigvals(self.A.double()).to(torch.complex64)  # [N]
            return {
                "dt": dt,
                "decay": -lam.real * dt[:, None],
                "freq": lam.imag * dt[:, None] / (2 * math.pi),
            }


def _chunked_dense_recurrence(dA, dB, C, u, x, chunk: int):
    """``x_k = Ā x_{k-1} + B̄ u_k``, ``y_k = C x_k`` over u [B, L, H], ``chunk`` steps at a time.

    Within a chunk of T steps, ``y_j = Σ_{i<=j} C Ā^{j-i} B̄ u_i + C Ā^{j+1} x`` (a small causal
    Toeplitz product plus the carried state's response) and the state moves on as
    ``x ← Ā^T x + Σ_i Ā^{T-1-i} B̄ u_i``: L/T sequential steps instead of L. Leftover steps run one
    by one. Returns y [B, L, H, M] (without D) and the final state [B, H, N].
    """
    L = u.shape[1]
    T = max(1, min(chunk, L))
    n_full = L // T
    ys = []
    if n_full:
        K = krylov(T, dA, dB)  # [H, N, T]: Ā^j B̄
        k = C @ K  # [H, M, T]: kernel
        idx = torch.arange(T, device=u.device)
        lag = idx[:, None] - idx[None, :]  # [T, T]: j - i
        toeplitz = k[..., lag.clamp(min=0)] * (lag >= 0)  # [H, M, T, T]
        CA = [C @ dA]  # C Ā^{j+1}, j = 0..T-1
        for _ in range(T - 1):
            CA.append(CA[-1] @ dA)
        CA = torch.stack(CA)  # [T, H, M, N]
        AT = torch.linalg.matrix_power(dA, T)  # [H, N, N]
        Krev = K.flip(-1)  # [H, N, T]: Ā^{T-1-i} B̄
        for c in range(n_full):
            uc = u[:, c * T : (c + 1) * T]  # [B, T, H]
            y = torch.einsum("hmji,bih->bjhm", toeplitz, uc)
            y = y + torch.einsum("jhmn,bhn->bjhm", CA, x)
            x = torch.einsum("hnm,bhm->bhn", AT, x) + torch.einsum("hnt,bth->bhn", Krev, uc)
            ys.append(y)
    for k in range(n_full * T, L):
        x = torch.einsum("hnm,bhm->bhn", dA, x) + dB * u[:, k, :, None]  # [B, H, N]
        ys.append(torch.einsum("hcn,bhn->bhc", C, x).unsqueeze(1))
    return torch.cat(ys, 1), x


def _complex(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(x.contiguous())


class S4D(nn.Module):
    """S4D layer: diagonal SSM per channel, GELU, dropout, then a position-wise linear map with GLU.

    u [B, L, H] -> [B, L, H]. See `DiagonalSSM` for the SSM parameters.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        init: str = "legs",
        disc: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.ssm = DiagonalSSM(d_model, d_state, init, disc, dt_min, dt_max)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 2 * d_model)

    def _mix(self, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.glu(self.out(self.dropout(nn.functional.gelu(y))), dim=-1)

    def forward(self, u, state=None, mode: str = "conv", return_state: bool = False):
        out = self.ssm(u, state, mode=mode, return_state=return_state)
        if return_state:
            return self._mix(out[0]), out[1]
        return self._mix(out)

    def step(self, u, state):
        y, state = self.ssm.step(u, state)
        return self._mix(y), state

    def default_state(self, batch: int):
        return self.ssm.default_state(batch)


class LSSL(nn.Module):
    """LSSL layer: dense HiPPO SSM with M channels per feature, GELU, then Linear(H·M -> H).

    u [B, L, H] -> [B, L, H]. See `DenseSSM` for the SSM parameters.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        channels: int = 1,
        measure: str = "legs",
        window: float = 1.0,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        learn_A: bool = False,
        learn_dt: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.ssm = DenseSSM(
            d_model, d_state, channels, measure, window, dt_min, dt_max, learn_A, learn_dt
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model * channels, d_model)

    def _mix(self, y: torch.Tensor) -> torch.Tensor:
        y = nn.functional.gelu(y).flatten(-2)  # [..., H*M]
        return self.out(self.dropout(y))

    def forward(self, u, state=None, mode: str = "conv", return_state: bool = False):
        out = self.ssm(u, state, mode=mode, return_state=return_state)
        if return_state:
            return self._mix(out[0]), out[1]
        return self._mix(out)

    def step(self, u, state):
        y, state = self.ssm.step(u, state)
        return self._mix(y), state

    def default_state(self, batch: int):
        return self.ssm.default_state(batch)
