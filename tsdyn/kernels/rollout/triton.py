"""Fused AL-RNN teacher-forced loss and its hand-written backward in Triton (CUDA).

Same maths as `cpu.alrnn_forced_loss_grad` (README.md, "Teacher-forced loss and its backward"):
one program per (run, window) in one warp walks the window forwards, then (a second launch)
backwards. The state [M] and W [M, M] stay in registers (M padded to a power of two); the forced
states z_0..z_T and the loss gradients of the observed units go to global memory (they stay in L2
at the preset's sizes) and are read back by the reverse walk. Per step the forward is one mat-vec
W Phi*(z) and the backward one W^T g plus a rank-1 update of dW in registers: the recurrence is
latency-bound, so the loads of the next step (data, forcing weight, loss weights; states in the
backward) are issued one step ahead.

Windows are gathered from the (scaled) series inside the kernel and the observation noise is
drawn there too, by Philox (`tl.randn`) keyed by the run's batch key, at offset (window, step,
unit): a run's noise does not depend on which runs share the batch, as on the CPU (the streams
differ from the CPU kernel's; `noisy_windows` gives this kernel's windows for the reference).
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

__all__ = ["alrnn_forced_loss_grad", "noisy_windows"]


@triton.jit
def _window(data, start, t, n, ok, N, key, noise, woff, NOISE: tl.constexpr):
    """x_t of one window at units n (ok: n < N): the series plus its noise, zeros elsewhere."""
    x = tl.load(data + (start + t) * N + n, mask=ok, other=0.0)
    if NOISE:
        x += noise * tl.randn(key, woff + t * N + n).to(x.dtype)
    return tl.where(ok, x, 0.0)


@triton.jit
def _windows_kernel(
    data, starts, keys, out, S, T1, N, noise, NP: tl.constexpr, NOISE: tl.constexpr
):
    r = tl.program_id(0)
    s = tl.program_id(1)
    n = tl.arange(0, NP)
    ok = n < N
    start = tl.load(starts + r * S + s)
    key = tl.load(keys + r)
    row = out + (r * S + s).to(tl.int64) * T1 * N
    for t in range(T1):
        x = _window(data, start, t, n, ok, N, key, noise, s * T1 * N, NOISE)
        tl.store(row + t * N + n, x, mask=ok)


@triton.jit
def _program(
    a_ptr, W_ptr, Z, E, alpha, S, T, M, N, K, MP: tl.constexpr, NP: tl.constexpr
):  # fmt: skip
    """What both walks start from: this program's run r and window s; unit indices i [MP] and
    observed-unit indices nn [NP]; the masks of observed and ReLU units; a [MP] and W [MP, MP] of
    run r, zero-padded past M; the window's index and its rows of Z, E and alpha."""
    r = tl.program_id(0)
    s = tl.program_id(1)
    i = tl.arange(0, MP)
    unit = i < M
    Wt = tl.load(
        W_ptr + r * M * M + i[:, None] * M + i[None, :], unit[:, None] & unit[None, :], 0.0
    )
    av = tl.load(a_ptr + r * M + i, unit, 0.0)
    seq = (r * S + s).to(tl.int64)
    zrow = Z + seq * (T + 1) * MP
    erow = E + seq * T * NP
    relu = (i >= K) & unit  # Phi* = ReLU on units K..M-1
    return r, s, i, tl.arange(0, NP), i < N, relu, av, Wt, seq, zrow, erow, alpha + r * (T + 1)


@triton.jit
def _forced_fwd(
    a_ptr, W_ptr, h_ptr, L_ptr, data, starts, keys, alpha, wts, Z, E, loss,
    S, T, M, N, K, noise,
    MP: tl.constexpr, NP: tl.constexpr, NOISE: tl.constexpr,
):  # fmt: skip
    # E = w (zhat - x) on the observed units: dloss/dzhat up to the factor 2 / (S T N), which
    # the caller applies to the summed gradients (they are linear in E; a float scalar argument
    # would be float32 in a float64 kernel)
    r, s, i, nn, obs, relu, av, Wt, seq, zrow, erow, arow = _program(
        a_ptr, W_ptr, Z, E, alpha, S, T, M, N, K, MP, NP
    )
    nok = nn < N
    hv = tl.load(h_ptr + r * M + i, i < M, 0.0)
    hid = (i >= N) & (i < M)
    Lt = tl.load(L_ptr + r * (M - N) * N + (i[:, None] - N) * N + nn[None, :],
                 hid[:, None] & nok[None, :], 0.0)  # fmt: skip
    start = tl.load(starts + r * S + s)
    key = tl.load(keys + r)
    T1 = T + 1
    woff = s * T1 * N
    wrow = wts + r * T1 * N
    # z_0 = [x_0; L x_0]
    x0 = _window(data, start, 0, nn, nok, N, key, noise, woff, NOISE)
    z = tl.where(obs, _window(data, start, 0, i, obs, N, key, noise, woff, NOISE),
                 tl.sum(Lt * x0[None, :], axis=1))  # fmt: skip
    tl.store(zrow + i, z)
    lsum = tl.sum(tl.zeros([MP], dtype=av.dtype), axis=0)
    # zhat_t = a z + W Phi*(z) + h; loss terms; forcing. Step t + 1's inputs load ahead.
    xn = _window(data, start, 1, i, obs, N, key, noise, woff, NOISE)
    aln = tl.load(arow + 1)
    wn = tl.load(wrow + N + i, obs, 0.0)
    for t in range(1, T1):
        xt, al, wt = xn, aln, wn
        tn = tl.minimum(t + 1, T)
        xn = _window(data, start, tn, i, obs, N, key, noise, woff, NOISE)
        aln = tl.load(arow + tn)
        wn = tl.load(wrow + tn * N + i, obs, 0.0)
        phi = tl.where(relu, tl.maximum(z, 0.0), z)
        zhat = av * z + tl.sum(Wt * phi[None, :], axis=1) + hv
        e = tl.where(obs, zhat - xt, 0.0)
        lsum += tl.sum(wt * e * e, axis=0)
        tl.store(erow + (t - 1) * NP + i, wt * e, mask=i < NP)
        z = tl.where(obs, (1.0 - al) * zhat + al * xt, zhat)
        tl.store(zrow + t * MP + i, z)
    tl.store(loss + seq, lsum)


@triton.jit
def _forced_bwd(
    a_ptr, W_ptr, data, starts, keys, alpha, Z, E, ga, gW, gh, gL,
    S, T, M, N, K, noise,
    MP: tl.constexpr, NP: tl.constexpr, NOISE: tl.constexpr,
):  # fmt: skip
    # README: g = (1 - alpha) d + dloss/dzhat on observed units, d on the others;
    # d_{t-1} = a g + D_t W^T g; dW += g Phi*(z_{t-1})^T, da += g z_{t-1}, dh += g.
    # Step t - 1's states, loss gradients and forcing weight load ahead.
    r, s, i, nn, obs, relu, av, Wt, seq, zrow, erow, arow = _program(
        a_ptr, W_ptr, Z, E, alpha, S, T, M, N, K, MP, NP
    )
    T1 = T + 1
    d = tl.zeros([MP], dtype=av.dtype)
    acc_W = tl.zeros([MP, MP], dtype=av.dtype)
    acc_a = tl.zeros([MP], dtype=av.dtype)
    acc_h = tl.zeros([MP], dtype=av.dtype)
    zpn = tl.load(zrow + (T - 1) * MP + i)
    en = tl.load(erow + (T - 1) * NP + i, obs, 0.0)
    aln = tl.load(arow + T)
    for k in range(T):
        t = T - k
        zp, et, al = zpn, en, aln
        tp = tl.maximum(t - 1, 1)
        zpn = tl.load(zrow + (tp - 1) * MP + i)
        en = tl.load(erow + (tp - 1) * NP + i, obs, 0.0)
        aln = tl.load(arow + tp)
        g = tl.where(obs, (1.0 - al) * d + et, d)
        phi = tl.where(relu, tl.maximum(zp, 0.0), zp)
        acc_W += g[:, None] * phi[None, :]
        acc_a += g * zp
        acc_h += g
        wtg = tl.sum(Wt * g[:, None], axis=0)
        d = av * g + tl.where(relu & (zp <= 0.0), 0.0, wtg)
    # per-window partial gradients, summed over windows by the caller; dL = d_0[N:] x_0^T
    x0 = _window(
        data, tl.load(starts + r * S + s), 0, nn, nn < N, N, tl.load(keys + r), noise, s * T1 * N,
        NOISE,
    )  # fmt: skip
    gbase = seq * MP
    tl.store(ga + gbase + i, acc_a)
    tl.store(gh + gbase + i, acc_h)
    tl.store(gW + gbase * MP + i[:, None] * MP + i[None, :], acc_W)
    tl.store(gL + gbase * NP + i[:, None] * NP + nn[None, :], d[:, None] * x0[None, :])


def _keys(keys, R, device):
    if keys is None:
        return torch.zeros(R, dtype=torch.int64, device=device)
    if not isinstance(keys, torch.Tensor):  # numpy uint64 (the CPU kernel's keys)
        keys = torch.from_numpy(np.ascontiguousarray(keys).view(np.int64))
    return (keys.to(device, torch.int64) & (2**62 - 1)).contiguous()  # tl.randn: a signed seed


def noisy_windows(data, starts, window: int, noise_sd: float = 0.0, keys=None) -> torch.Tensor:
    """The windows the fused kernel trains on, `[R, S, window + 1, N]` (for the reference)."""
    R, S = starts.shape
    N = data.shape[1]
    out = torch.empty(R, S, window + 1, N, dtype=data.dtype, device=data.device)
    _windows_kernel[(R, S)](
        data.contiguous(), starts.to(torch.int64).contiguous(), _keys(keys, R, data.device), out,
        S, window + 1, N, float(noise_sd),
        NP=triton.next_power_of_2(N), NOISE=noise_sd > 0, num_warps=1,
    )  # fmt: skip
    return out


def alrnn_forced_loss_grad(
    a, W, h, L, data, starts, alpha, P: int, noise_sd=0.0, keys=None, weights=None
):
    """Per-run teacher-forced MSE and its gradients in one fused pass (CUDA tensors).

    Arguments as `cpu.alrnn_forced_loss_grad`, as torch tensors on one CUDA device (a, W, h, L,
    data, alpha, weights of one float dtype; starts [R, S] integer; keys [R] integer). The noise
    is this kernel's (see the module docstring); `noisy_windows` returns the same windows.

    Returns
    -------
    loss [R], (ga [R, M], gW [R, M, M], gh [R, M], gL [R, M - N, N]), Z [R, S, T + 1, M]
    (the forced states z_0 .. z_T).
    """
    R, M = a.shape
    N = data.shape[1]
    S = starts.shape[1]
    T1 = alpha.shape[1]
    T = T1 - 1
    dt, dev = a.dtype, a.device
    MP, NP = max(16, triton.next_power_of_2(M)), triton.next_power_of_2(N)
    if weights is None:
        weights = torch.ones(R, T1, N, dtype=dt, device=dev)
    Z = torch.empty(R, S, T1, MP, dtype=dt, device=dev)
    E = torch.empty(R, S, T, NP, dtype=dt, device=dev)
    loss = torch.empty(R, S, dtype=dt, device=dev)
    ga, gh = (torch.empty(R, S, MP, dtype=dt, device=dev) for _ in range(2))
    gW = torch.empty(R, S, MP, MP, dtype=dt, device=dev)
    gL = torch.empty(R, S, MP, NP, dtype=dt, device=dev)
    a, W, data = a.contiguous(), W.contiguous(), data.contiguous()
    starts, keys = starts.to(torch.int64).contiguous(), _keys(keys, R, dev)
    alpha = alpha.to(dt).contiguous()
    meta = dict(MP=MP, NP=NP, NOISE=noise_sd > 0, num_warps=1)
    _forced_fwd[(R, S)](
        a, W, h.contiguous(), L.contiguous(), data, starts, keys, alpha,
        weights.to(dt).expand(R, T1, N).contiguous(), Z, E, loss,
        S, T, M, N, M - P, float(noise_sd), **meta,
    )  # fmt: skip
    _forced_bwd[(R, S)](
        a, W, data, starts, keys, alpha, Z, E, ga, gW, gh, gL,
        S, T, M, N, M - P, float(noise_sd), **meta,
    )  # fmt: skip
    scale = 2.0 / (S * T * N)
    grads = (
        ga.sum(1)[:, :M] * scale,
        gW.sum(1)[:, :M, :M] * scale,
        gh.sum(1)[:, :M] * scale,
        gL.sum(1)[:, N:M, :N] * scale,
    )
    return loss.sum(1) / (S * T * N), grads, Z[..., :M]
