"""tsdyn.ssm: the research note's reference checks, layer throughput, and S4D on ETTh1.

Parts (``--parts``, comma-separated):

- ``checks``: C1-C12 of ../shared/research/ssm.md, measured (CPU, float64) beside the expected values.
- ``throughput``: S4D and LSSL layers, forward + backward, convolution (FFT) vs recurrent mode, as
  time per step and tokens/s, with an ``nn.Linear(H, H)`` on the same tensor as the in-run baseline.
- ``etth1``: S4D (the `tsdyn forecast --model s4d` model) on ETTh1, L=336, H=96, features M, the
  ett-hour split, beside DLinear and the Repeat baseline (standardized MSE/MAE, all test windows).

    python benchmarks/ssm.py --parts checks                    # CPU, ~1 min
    python benchmarks/ssm.py --parts throughput,etth1 --device cuda --json-out ssm_gpu.json

ETTh1 is read from ../shared/data (or --data); without polars (the GPU machine) a plain CSV reader
builds the same table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tsdyn.ssm import (  # noqa: E402
    LSSL,
    S4D,
    HiPPO,
    diag_init,
    discretize,
    discretize_diag,
    dplr_kernel,
    dplr_step,
    krylov,
    log_discrete_diag,
    nplr,
    rank_correction,
    transition,
    vandermonde,
    white_signal,
)


# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def checks() -> list[dict]:
    from scipy.linalg import expm
    from scipy.signal import cont2discrete

    from tsdyn.ssm import basis
    from tsdyn.ssm.layers import DiagonalSSM

    rows = []

    def add(cid, what, measured, expected):
        rows.append({"id": cid, "check": what, "measured": measured, "expected": expected})

    A, _ = transition("legs", 64)
    add(
        "C1",
        "LegS eigenvalues - (-1..-N), N=64",
        float(np.abs(np.sort(np.linalg.eigvals(A).real) + np.arange(64, 0, -1)).max()),
        "0",
    )
    errs = []
    for m in ("legs", "legt", "lagt", "fout"):
        A, _ = transition(m, 64)
        P = rank_correction(m, 64)
        AP = A + P.T @ P
        off = AP - np.diag(np.diag(AP))
        errs.append(float(np.abs(off + off.T).max()))
    add("C2", "normal part skew error (legs, legt, lagt, fout), N=64", max(errs), "<= 3e-14")
    conds = [float(np.linalg.cond(np.linalg.eig(transition("legs", n)[0])[1])) for n in (16, 32)]
    add(
        "C3",
        "cond(eigvecs LegS) N=16, 32; cond(V NPLR) N=64",
        [*conds, float(np.linalg.cond(nplr("legs", 64).V))],
        "8.3e10, 1.3e19; 1.00",
    )
    im = np.sort(np.abs(diag_init("legs", 64)[0].imag))
    add(
        "C4",
        "S4D-LegS Im, N=64: 6 smallest, largest",
        [round(float(v), 5) for v in im[:6]] + [round(float(im[-1]), 2)],
        "0.26386 0.90586 1.70297 2.62566 3.66481 4.81914; 1303.27",
    )
    im = np.sort(diag_init("inv", 64)[0].imag)
    add(
        "C4b",
        "S4D-Inv Im, N=64: 6 smallest, largest",
        [round(float(v), 5) for v in im[:6]] + [round(float(im[-1]), 2)],
        "0.32336 1.00189 1.72643 2.50180 3.33357 4.22812; 1283.43",
    )
    e = []
    for m, N in (("legs", 16), ("lagt", 16)):
        A, B = transition(m, N)
        t = np.array([0.1, 0.5, 1, 2.5])
        e.append(float(np.abs(np.stack([expm(ti * A) @ B for ti in t]) - basis(m, N, t)).max()))
    add("C5", "closed-form basis error LegS, LagT (N=16)", e, "<= 2e-14, 4e-15")
    spikes = {}
    N = 256
    for m, C in (
        ("fout", transition("fout", N)[1]),
        ("legt", np.sqrt(2 * np.arange(N) + 1) * (-1.0) ** np.arange(N)),
    ):
        A, B = transition(m, N, window=2.0)
        for method in ("zoh", "bilinear"):
            for dt in (0.002, 0.004):
                dA, dB = discretize(torch.tensor(A), torch.tensor(B), dt, method)
                K = krylov(1200, dA, dB, torch.tensor(C)[None])[0].numpy()
                spikes[f"{m} {method} {dt}"] = int(20 + np.argmax(np.abs(K[20:])))
    add(
        "C6",
        "delay spike lag, window=2 (s4 convention)",
        spikes,
        "fout zoh 998/499, bilinear 1005/504; legt zoh 999/499, bilinear 1005/505",
    )
    Nd, L, dt = 64, 1024, 0.01
    A, B = transition("legs", Nd)
    P = rank_correction("legs", Nd)
    C = np.random.default_rng(0).normal(size=Nd)
    d = nplr("legs", Nd)
    c7 = {}
    for method in ("bilinear", "zoh"):
        dA, dB = discretize(torch.tensor(A + P.T @ P), torch.tensor(B), dt, method)
        Kd = krylov(L, dA, dB, torch.tensor(C)[None])[0]
        lam = torch.tensor(d.Lambda)
        _, dBd = discretize_diag(lam, torch.tensor(d.B), dt, method)
        Kv = vandermonde(
            L,
            log_discrete_diag(lam, dt, method),
            (torch.tensor(C).to(torch.complex128) @ torch.tensor(d.V)) * dBd,
        )
        c7[method] = float((Kd - Kv).abs().max())
    add(
        "C7a",
        "dense Krylov vs diagonal Vandermonde (S4D-LegS normal part), N=64, L=1024",
        c7,
        "1e-10",
    )
    Vf = np.concatenate([d.V, d.V.conj()], 1)
    lam_f = torch.tensor(np.concatenate([d.Lambda, d.Lambda.conj()]))
    P_e = torch.tensor(Vf.conj().T @ P.T)
    B_e = torch.tensor(Vf.conj().T @ B)
    K_dplr = dplr_kernel(L, lam_f, P_e, B_e, torch.tensor(C @ Vf), 0.01)
    dA, dB = discretize(torch.tensor(A), torch.tensor(B), 0.01, "bilinear")
    K_dense = krylov(L, dA, dB, torch.tensor(C)[None])[0]
    add(
        "C7",
        "DPLR generating function (LegS itself) vs dense bilinear Krylov, N=64, L=1024",
        float((K_dplr - K_dense).abs().max()),
        "2.7e-15",
    )
    A_e = torch.diag(lam_f) - P_e @ P_e.conj().T
    dA_e, dB_e = discretize(A_e, B_e, 0.05, "bilinear")
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3, Nd)) + 1j * rng.normal(size=(3, Nd)))
    u7 = torch.full((3,), 0.7, dtype=torch.float64)
    err = (dplr_step(x, u7, lam_f, P_e, B_e, 0.05) - (x @ dA_e.T + dB_e * u7[:, None])).abs().max()
    add(
        "C7b",
        "O(N) DPLR bilinear step vs dense bilinear step, LegS N=64, dt=0.05",
        float(err),
        "9e-16 (N=32)",
    )
    c8 = {}
    torch.manual_seed(0)
    for disc in ("zoh", "bilinear"):
        ssm = DiagonalSSM(8, 64, "lin", disc, dt_min=0.01, dt_max=0.01).double()
        u = torch.randn(2, 1024, 8, dtype=torch.float64)
        with torch.no_grad():
            y_conv = ssm(u)
            y_rec = ssm(u, mode="recurrent")
        c8[disc] = float((y_conv - y_rec).abs().max() / y_conv.abs().max())
        ssm32 = DiagonalSSM(8, 64, "lin", disc, dt_min=0.01, dt_max=0.01)
        ssm32.load_state_dict({k: v.float() for k, v in ssm.state_dict().items()})
        c8[disc + " float32"] = float(
            (ssm32(u.float()).double() - y_conv).abs().max() / y_conv.abs().max()
        )
    add(
        "C8",
        "S4D-Lin conv vs recurrent scan, rel. error, N/2=32, L=1024",
        c8,
        "1e-10 (f64), 1e-4 (f32); note 3.3e-14/1.7e-14",
    )
    lam = torch.tensor(-0.5 + 1j * np.pi * np.arange(32))
    ell = torch.arange(16384, dtype=torch.float64)
    exact = torch.exp((1e-3 * lam)[:, None] * ell)
    fast = torch.exp((1e-3 * lam).to(torch.complex64)[:, None] * ell.float())
    add(
        "C9",
        "complex64 exp(l dt Lambda) error, L=16384",
        float((fast.to(torch.complex128) - exact).abs().max()),
        "5.8e-6",
    )
    A, B = transition("legs", 32)
    c10 = {}
    for m, s in (
        ("forward_euler", "euler"),
        ("backward_euler", "backward_diff"),
        ("bilinear", "bilinear"),
        ("zoh", "zoh"),
    ):
        dA, dB = discretize(A, B, 0.01, m)
        ref = cont2discrete((A, B[:, None], np.eye(32), np.zeros((32, 1))), 0.01, method=s)
        c10[m] = float(max(np.abs(dA - ref[0]).max(), np.abs(dB - ref[1][:, 0]).max()))
    add(
        "C10",
        "discretize vs scipy cont2discrete, LegS N=32",
        c10,
        "<= 8e-17 (ours: <= 2e-15 for zoh)",
    )
    c11 = {}
    for freq in (3, 10):
        u = white_signal(3000, 1e-3, freq, seed=0)
        for m in ("legt", "fout", "legs"):
            h = HiPPO(m, 64, window=1000, method="zoh")
            x = h.project(u, return_all=False)
            c11[f"{m} N=64 {freq}Hz zoh"] = float(
                np.mean((h.reconstruct(x, np.arange(1000)) - u[::-1][:1000]) ** 2)
            )
        h = HiPPO("legs", 64)
        x = h.project(u, return_all=False)
        c11[f"scaled legs N=64 {freq}Hz bilinear"] = float(
            np.mean((h.reconstruct(x, np.arange(3000), length=3000) - u[::-1]) ** 2)
        )
    add(
        "C11",
        "online reconstruction MSE (last 1000 samples / whole history)",
        c11,
        "legt 10Hz zoh 9.5e-9 (< 1e-6); scaled legs 3Hz 6.7e-6 (< 1e-4); fout 10Hz 2.9e-3; legs 10Hz 2.0e-3",
    )
    c12 = {}
    for m, win in (("fout", 2.0), ("legs", 1.0)):
        A, B = transition(m, 256, window=win)
        dA, dB = discretize(torch.tensor(A), torch.tensor(B), 0.002, "zoh")
        K = krylov(4000, dA, dB).numpy()
        u = white_signal(4000, 1e-3, 100, batch=1280, seed=0)
        X = np.concatenate([u @ K[:, ::-1].T, np.ones((1280, 1))], 1)
        Y = u[:, -1000:]
        W = np.linalg.lstsq(X[:1024], Y[:1024], rcond=None)[0]
        c12[f"{m} test"] = float(np.mean((X[1024:] @ W - Y[1024:]) ** 2))
        c12[f"{m} train"] = float(np.mean((X[:1024] @ W - Y[:1024]) ** 2))
    add(
        "C12",
        "frozen SSM + least-squares readout, N=256, dt=0.002, zoh",
        c12,
        "fout test 7.5e-3 (train 4.6e-3); legs 9.2e-2",
    )
    return rows


# ---------------------------------------------------------------------------------------------
def _time(fn, device, repeat: int) -> float:
    """Median seconds of fn() over `repeat` runs after 2 warm-ups."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def throughput(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    if device.type == "cuda":
        configs = [
            ("s4d", 16, 1024, 256, 64),
            ("s4d", 16, 4096, 256, 64),
            ("s4d", 4, 16384, 256, 64),
            ("lssl", 16, 1024, 128, 64),
        ]
    else:
        configs = [("s4d", 4, 1024, 64, 64), ("lssl", 4, 256, 32, 32)]
    if quick:
        configs = [("s4d", 2, 128, 16, 16), ("lssl", 2, 64, 8, 8)]
    for layer, B, L, H, N in configs:
        torch.manual_seed(0)
        net = (S4D(H, N) if layer == "s4d" else LSSL(H, N)).to(device)
        lin = torch.nn.Linear(H, H).to(device)
        u = torch.randn(B, L, H, device=device, requires_grad=True)

        def base(lin=lin, u=u):
            lin(u).sum().backward()

        t_base = _time(base, device, 5)
        row = {"layer": layer, "B": B, "L": L, "H": H, "N": N, "linear_s": t_base}
        for mode in ("conv", "recurrent"):

            def step(mode=mode, net=net, u=u):
                net(u, mode=mode).sum().backward()

            reps = 2 if (layer == "lssl" and mode == "recurrent") else 5
            t = _time(step, device, reps)
            row[f"{mode}_s"] = t
            row[f"{mode}_tokens_per_s"] = B * L / t
            row[f"{mode}_x_linear"] = t / t_base
        row["recurrent_over_conv"] = row["recurrent_s"] / row["conv_s"]
        rows.append(row)
        print(
            f"{layer:<5} B={B:<3} L={L:<6} H={H:<4} N={N:<3} conv {row['conv_s'] * 1e3:8.2f} ms "
            f"({row['conv_tokens_per_s'] / 1e6:6.2f} Mtok/s, {row['conv_x_linear']:5.1f}x Linear)  "
            f"recurrent {row['recurrent_s'] * 1e3:8.2f} ms ({row['recurrent_tokens_per_s'] / 1e6:6.2f} "
            f"Mtok/s, {row['recurrent_x_linear']:5.1f}x Linear)  recurrent/conv {row['recurrent_over_conv']:.2f}",
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------------------------
def _load_etth1(path: Path):
    try:
        import polars  # noqa: F401

        from tsdyn.datasets import load_table

        return load_table(path)
    except ImportError:
        from tsdyn.datasets import Table

        with open(path) as f:
            header = f.readline().strip().split(",")
        values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, len(header)))
        return Table(values=values, columns=tuple(header[1:]), name=path.stem, source=str(path))


def etth1(device: torch.device, data: Path, epochs: int, budget_s: float) -> list[dict]:
    from tsdyn.forecast import Forecaster

    table = _load_etth1(data)
    runs = [
        ("dlinear", {}, 0.005),
        ("s4d", {}, 0.005),  # the `tsdyn forecast --model s4d` defaults
        ("s4d", {"d_model": 128, "init": "inv"}, 0.002),
    ]
    rows = []
    started = time.perf_counter()
    for model, kwargs, lr in runs:
        if time.perf_counter() - started > budget_s:
            print(f"skipped {model} {kwargs}: time budget of {budget_s} s spent", flush=True)
            continue
        f = Forecaster(
            model,
            336,
            96,
            epochs=epochs,
            lr=lr,
            model_kwargs=kwargs or None,
            seed=2021,
            device=device,
        )
        f.fit(table)
        ev = f.evaluate()
        tr = f.train_result_
        row = {
            "model": model,
            "kwargs": kwargs,
            "lr": lr,
            "mse": ev["mse"],
            "mae": ev["mae"],
            "repeat_mse": ev["repeat"]["mse"],
            "repeat_mae": ev["repeat"]["mae"],
            "windows": ev["windows"],
            "epochs_run": len(tr.history),
            "best_epoch": tr.best_epoch,
            "seconds": tr.seconds,
            "params": sum(p.numel() for p in f.model_.parameters()),
        }
        rows.append(row)
        print(
            f"ETTh1 L=336 H=96 M  {model:<8} {json.dumps(kwargs):<32} MSE {row['mse']:.4f} MAE {row['mae']:.4f}  "
            f"(Repeat {row['repeat_mse']:.4f}/{row['repeat_mae']:.4f})  epochs {row['epochs_run']} "
            f"best {row['best_epoch']}  {row['seconds']:.1f} s",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="checks,throughput")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ETTh1.csv")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds for the ETTh1 part")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument(
        "--json-out", type=Path, default=REPO / "benchmarks" / "results" / "ssm.json"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    parts = args.parts.split(",")
    out = {
        "machine": platform.platform(),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    if "checks" in parts:
        rows = checks()
        for r in rows:
            print(
                f"{r['id']:<4} {r['check']:<62} {json.dumps(r['measured'])}\n{'':<5}expected {r['expected']}"
            )
        out["checks"] = rows
    if "throughput" in parts:
        out["throughput"] = throughput(device, args.quick)
    if "etth1" in parts:
        out["etth1"] = etth1(device, args.data, args.epochs, args.budget)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps(
            out,
            indent=2,
            default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else str(v),
        )
    )
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
