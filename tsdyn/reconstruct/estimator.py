"""`ALRNNReconstructor`: the estimator a notebook user (and `tsdyn reconstruct`) calls.

rec = ALRNNReconstructor(preset="lorenz63", runs=10).fit(train_values, dt=0.01)
report = rec.evaluate(test_values)          # D_stsp, D_H, PE(20), Lyapunov, regions per run
code = rec.symbolic_code(run=0)             # regions, transition matrix, fixed points, cycles
rec.save("model_dir");  ALRNNReconstructor.load("model_dir")
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from tsdyn.errors import InputError, NotFittedError
from tsdyn.reconstruct import metrics as M_
from tsdyn.reconstruct import symbolic
from tsdyn.reconstruct.training import PRESETS, ReconstructConfig, TrainResult, train_alrnn
from tsdyn.runtime import Progress, null_progress

__all__ = ["ALRNNReconstructor", "mean_sem"]


def mean_sem(values) -> dict[str, float]:
    """Mean and standard error of the mean over the finite entries (SEM = sd(ddof 1) / sqrt(n))."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": float("nan"), "sem": float("nan"), "n": 0}
    sem = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "sem": sem, "n": len(v)}


class ALRNNReconstructor:
    """Dynamical-systems reconstruction with almost-linear RNNs (Brenner et al., NeurIPS 2024).

    Parameters
    ----------
    preset : {"lorenz63", "lorenz63-paper", "rossler", "lorenz96"} or None
        The authors' recipe for that system (M, P, window, tau, learning rates, epochs);
        "lorenz63-paper" pins the authors' Lorenz-63 recipe (`training.PRESETS`).
    **settings
        Any `ReconstructConfig` field (M, P, epochs, runs, seed, forcing, alpha, ...); they override
        the preset.

    Attributes (after `fit`)
    ------------------------
    model_ : ALRNN  the selected checkpoint of every run
    mean_, scale_ : [N]  z-scoring of the training data (models work in z-scored units)
    dt_ : float  sampling step (time units per map step)
    train_ : TrainResult
    """

    def __init__(self, preset: str | None = None, **settings: Any):
        self.preset = preset
        self.settings = settings

    @property
    def config(self) -> ReconstructConfig:
        base: dict[str, Any] = {}
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise InputError(
                    f"unknown preset '{self.preset}'", f"use one of {', '.join(PRESETS)}"
                )
            base.update(PRESETS[self.preset])
        unknown = set(self.settings) - {f.name for f in dataclasses.fields(ReconstructConfig)}
        if unknown:
            raise InputError(f"unknown settings {sorted(unknown)}")
        base.update({k: v for k, v in self.settings.items() if v is not None})
        return ReconstructConfig(**base)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(
        self,
        values: np.ndarray,
        dt: float = 1.0,
        progress: Progress = null_progress,
        device: str = "cpu",
        validation: np.ndarray | None = None,
        on_checkpoint=None,
    ) -> ALRNNReconstructor:
        """Train on a trajectory `values` [T, N] (data units; z-scored inside). Model selection
        uses `validation` [T_val, N] (data units) when given, else the training series;
        `on_checkpoint` is passed to `train_alrnn`."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or not np.all(np.isfinite(values)):
            raise InputError("the training trajectory must be a finite [T, N] array")
        self.mean_ = values.mean(axis=0)
        sd = values.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        self.dt_ = float(dt)
        self.config_ = self.config
        val = None if validation is None else self.scale(validation)
        self.train_: TrainResult = train_alrnn(
            (values - self.mean_) / self.scale_, self.config_, progress, device, val, on_checkpoint
        )
        self.model_ = self.train_.model
        return self

    def _check(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("ALRNNReconstructor is not fitted; call fit(values) or load(dir)")

    def _params(self, dtype=np.float64):
        p = self.model_.numpy_params(dtype)
        return p["a"], p["W"], p["h"], p["L"]

    def scale(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.mean_) / self.scale_

    def unscale(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values) * self.scale_ + self.mean_

    # ---- simulation -------------------------------------------------------------------------
    def simulate_states(
        self, n_steps: int, x0: np.ndarray | None = None, transient: int = 0
    ) -> np.ndarray:
        """Latent free run of every run: z_1 = [x0; L x0] (x0 in data units; default the training
        mean), `transient` steps dropped, then `n_steps` states: [R, n_steps, M] (float64)."""
        from tsdyn.kernels.rollout.cpu import alrnn_free_run

        self._check()
        if x0 is None:
            x0 = self.mean_
        a, W, h, L = self._params()
        x0s = self.scale(np.asarray(x0, dtype=np.float64).reshape(-1))
        z0 = np.concatenate([np.broadcast_to(x0s, (len(a), len(x0s))), L @ x0s], axis=1)
        total = transient + n_steps
        states = alrnn_free_run(a, W, h, z0[:, None, :], total - 1, self.model_.P)[:, 0]
        states = np.concatenate([z0[:, None, :], states], axis=1)
        return states[:, transient:]

    def simulate(
        self, n_steps: int, x0: np.ndarray | None = None, transient: int = 0
    ) -> np.ndarray:
        """Free run in data units: [R, n_steps, N] (the observed units, unscaled)."""
        z = self.simulate_states(n_steps, x0, transient)
        return self.unscale(z[..., : self.model_.N])

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate(
        self,
        test: np.ndarray,
        transient: int = 1000,
        pe_steps: int = 20,
        lyapunov_steps: int = 30_000,
        data_lyapunov: bool = True,
    ) -> dict[str, Any]:
        """Metrics of every run on a held-out trajectory `test` [T, N] (data units).

        `regions` counts the subregions a run's free run visits at all, `regions_1pct` those
        holding at least 1% of its steps.

        Protocol: each run free-runs from the test's first point, drops `transient` steps and keeps
        T steps (equal length); D_stsp and D_H compare that with the z-scored test series, PE(n)
        starts from every test point, the model's Lyapunov spectrum comes from QR along its own
        free run, the data's from `metrics.lyapunov_from_data`. Returns per-run lists, mean +- SEM,
        the free runs (z-scored) and their symbols.
        """
        from tsdyn.kernels.rollout.cpu import alrnn_lyapunov_spectrum, alrnn_prediction_error

        self._check()
        cfg = self.config_
        xs = self.scale(test)
        T, N = xs.shape
        P = self.model_.P
        Z = self.simulate_states(T, test[0], transient)  # [R, T, M]
        gen = Z[..., :N]
        R = len(Z)
        ds = [M_.dstsp(xs, g, cfg.n_bins, cfg.gmm_sigma2) for g in gen]
        dh = [M_.hellinger_spectrum(xs, g, cfg.dh_sigma) for g in gen]
        a, W, h, L = self._params()
        pe = alrnn_prediction_error(a, W, h, L, xs, pe_steps, P)
        finite = np.all(np.isfinite(Z), axis=(1, 2))
        lyap = np.full((R, self.model_.M), np.nan)
        if finite.any():
            steps = min(lyapunov_steps, T)
            lyap[finite] = alrnn_lyapunov_spectrum(
                a[finite], W[finite], h[finite], Z[finite, 0], steps, P, transient=0
            )
        lyap /= self.dt_
        codes = symbolic.symbols(Z, P)
        regions, regions_1pct = [], []
        for c, f in zip(codes, finite, strict=True):
            _, counts = np.unique(c, return_counts=True)
            regions.append(len(counts) if f else 0)
            regions_1pct.append(int(np.sum(counts >= 0.01 * len(c))) if f else 0)
        result: dict[str, Any] = {
            "per_run": {
                "dstsp": ds,
                "dh": dh,
                "pe": pe.tolist(),
                "lyapunov_max": lyap[:, 0].tolist(),
                "regions": regions,
                "regions_1pct": regions_1pct,
                "selection_dstsp": self.train_.best_dstsp.tolist()
                if hasattr(self, "train_")
                else None,
            },
            "lyapunov_spectrum": lyap[:, :N].tolist(),
        }
        result["mean"] = {
            k: mean_sem(v) for k, v in result["per_run"].items() if k != "selection_dstsp"
        }
        if data_lyapunov:
            try:
                result["data_lyapunov"] = M_.lyapunov_from_data(xs, self.dt_).tolist()
            except InputError:  # too short a test series for neighbour statistics
                result["data_lyapunov"] = [float("nan")] * N
        self.last_eval_ = {"states": Z, "codes": codes, "test_scaled": xs}
        return result

    # ---- symbolic code ----------------------------------------------------------------------
    def symbolic_code(
        self,
        run: int = 0,
        states: np.ndarray | None = None,
        steps: int = 100_000,
        x0: np.ndarray | None = None,
        max_period: int = 4,
    ) -> dict[str, Any]:
        """Regions, shares, transition matrix, fixed points and cycles of run `run`.

        `states` [T, M] is the free run to code (default: `steps` steps from x0 after a 1000-step
        transient; x0 defaults to the training mean).
        """
        self._check()
        P = self.model_.P
        if states is None:
            start = self.mean_ if x0 is None else x0
            states = self.simulate_states(steps, start, transient=1000)[run]
        a, W, h, _ = self._params()
        a, W, h = a[run], W[run], h[run]
        codes = symbolic.symbols(states, P)
        regions = symbolic.region_stats(codes, P)
        order = np.array([r["code"] for r in regions])
        _, Pm, C = symbolic.transition_matrix(codes, order)
        visited = [r["code"] for r in regions]
        # all 2^P regions for small P (virtual fixed points of unvisited regions too), else the
        # visited ones; cycles only over few visited regions (the enumeration grows as K^k)
        fps = symbolic.fixed_points(a, W, h, P, None if P <= 6 else visited)
        N = self.model_.N
        for fp in fps:
            if fp.get("exists"):
                fp["x"] = self.unscale(np.array(fp["z"][:N])).tolist()
        cyc = (
            symbolic.cycles(a, W, h, P, max_period=max_period, regions=visited, budget=5000)
            if len(visited) <= 16
            else []
        )
        for c in cyc:
            c["x"] = [self.unscale(np.array(z[:N])).tolist() for z in c["z"]]
        return {
            "run": run,
            "P": P,
            "steps": len(codes),
            "regions": regions,
            "used_regions": len(regions),
            "possible_regions": 2**P,
            "transition_matrix": {
                "symbols": [r["symbol"] for r in regions],
                "probabilities": Pm.tolist(),
                "counts": C.tolist(),
            },
            "fixed_points": fps,
            "cycles": cyc,
        }

    # ---- persistence ------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """`config.json` + `model.safetensors` (all runs' parameters and the scaler)."""
        from safetensors.numpy import save_file

        self._check()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.astype(np.float32) for k, v in self.model_.numpy_params().items()}
        tensors["mean"] = self.mean_.astype(np.float64)
        tensors["scale"] = self.scale_.astype(np.float64)
        save_file(tensors, str(folder / "model.safetensors"))
        with open(folder / "config.json", "w", encoding="utf-8") as f:
            json.dump({"model": self.model_config()}, f, indent=2)

    def model_config(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.config_),
            "N": self.model_.N,
            "dt": self.dt_,
            "preset": self.preset,
        }

    @classmethod
    def load(cls, folder: str | Path) -> ALRNNReconstructor:
        import torch
        from safetensors.numpy import load_file

        from tsdyn.reconstruct.alrnn import ALRNN

        folder = Path(folder)
        if not (folder / "model.safetensors").is_file():
            raise InputError(
                f"{folder} has no model.safetensors", "pass a run folder of tsdyn reconstruct"
            )
        with open(folder / "config.json", encoding="utf-8") as f:
            conf = json.load(f)
        conf = conf.get("model", conf)
        tensors = load_file(str(folder / "model.safetensors"))
        fields = {f.name for f in dataclasses.fields(ReconstructConfig)}
        rec = cls(preset=conf.get("preset"), **{k: v for k, v in conf.items() if k in fields})
        rec.config_ = rec.config
        rec.dt_ = float(conf["dt"])
        rec.mean_, rec.scale_ = tensors["mean"], tensors["scale"]
        R, M = tensors["a"].shape
        model = ALRNN(M, int(conf["N"]), int(conf["P"]), runs=R)
        with torch.no_grad():
            for k in "aWhL":
                getattr(model, k).copy_(torch.from_numpy(tensors[k]))
        rec.model_ = model
        return rec
