"""Run folders and atomic writes.

Every file is written to a temporary name in its target folder and renamed into place, so an
interrupted or failed run never leaves a half-written file. A `RunFolder` remembers what it wrote and
`discard()` removes it again (and the folder itself if this run created it), which the CLI calls when
a command fails. With `--overwrite`, a file that an earlier run left under the same name is kept
(hard-linked, else copied) in a hidden `.tsdyn-replaced/` folder until the run ends: `discard()` puts
it back, `commit()` drops the copy.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tsdyn.errors import InputError

__all__ = [
    "RunFolder",
    "atomic_write",
    "default_run_dir",
    "save_figure",
    "to_jsonable",
    "write_json",
]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
        open_kwargs.setdefault("newline", "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` for writers that want a file name (savefig, parquet)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays, paths, dates and dataclasses to plain JSON values.

    Non-finite floats become None (JSON has no NaN).
    """
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return str(obj)
    if isinstance(obj, _dt.datetime | _dt.date | _dt.timedelta):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    return str(obj)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    with atomic_write(path) as f:
        json.dump(to_jsonable(obj), f, indent=2, allow_nan=False)
        f.write("\n")
    return Path(path)


def save_figure(fig: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    kwargs.setdefault("dpi", 120)
    kwargs.setdefault("bbox_inches", "tight")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    finally:
        plt.close(fig)
    return Path(path)


def default_run_dir(command: str, root: str | os.PathLike = "runs") -> Path:
    """`runs/<command>-<YYYYmmdd-HHMMSS>`, with a counter appended if that exists already."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{command}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


class RunFolder:
    """The `--out` folder of one run: created on demand, written atomically, discarded on failure.

    Parameters
    ----------
    path : path-like
        The folder. It must not exist or be empty, unless `overwrite` is true.
    overwrite : bool
        Allow writing into an existing non-empty folder (files of the same name are replaced).
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        self.created = False
        self.created_parents: list[Path] = []  # folders above `path` that ensure() made
        self.written: list[Path] = []
        self.replaced: dict[Path, Path] = {}  # target -> kept copy of the file it replaces
        if self.path.exists():
            if not self.path.is_dir():
                raise InputError(
                    f"--out {self.path} is a file, not a folder", "choose a folder path for --out"
                )
            if any(self.path.iterdir()) and not overwrite:
                raise InputError(
                    f"run folder {self.path} exists and is not empty",
                    "pass --overwrite or choose another --out",
                )

    def ensure(self) -> Path:
        """Create the folder (and parents) if needed; return its path."""
        if not self.path.exists():
            missing = [p for p in self.path.absolute().parents if not p.exists()]
            try:
                self.path.mkdir(parents=True)
            except OSError as exc:
                raise InputError(
                    f"cannot create run folder {self.path}: {exc.strerror}", "choose another --out"
                ) from exc
            self.created = True
            self.created_parents = missing  # innermost first
        return self.path

    def file(self, name: str) -> Path:
        """Path of `name` inside the folder (folder created), recorded as written by this run."""
        target = self.ensure() / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target not in self.written:
            if target.is_file():
                self._keep(target)
            self.written.append(target)
        return target

    _KEEP = ".tsdyn-replaced"

    def _keep(self, target: Path) -> None:
        """Keep the earlier run's `target` so that `discard()` can put it back."""
        keep = self.path / self._KEEP / f"{len(self.replaced)}-{target.name}"
        keep.parent.mkdir(exist_ok=True)
        try:
            os.link(target, keep)  # the atomic rename onto `target` leaves this inode alone
        except OSError:
            shutil.copy2(target, keep)
        self.replaced[target] = keep

    def commit(self) -> None:
        """The run succeeded: drop the kept copies of the files it replaced."""
        if self.replaced:
            shutil.rmtree(self.path / self._KEEP, ignore_errors=True)
            self.replaced = {}

    @contextlib.contextmanager
    def open(self, name: str, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
        """Atomically write `name` inside the folder."""
        with atomic_write(self.file(name), mode, **kwargs) as handle:
            yield handle

    @contextlib.contextmanager
    def temp_path(self, name: str) -> Iterator[Path]:
        """A temporary path that is renamed to `name` when the block succeeds."""
        with atomic_path(self.file(name)) as tmp:
            yield tmp

    def write_json(self, name: str, obj: Any) -> Path:
        return write_json(self.file(name), obj)

    def write_text(self, name: str, text: str) -> Path:
        with self.open(name) as f:
            f.write(text)
        return self.path / name

    def save_figure(self, name: str, fig: Any, **kwargs: Any) -> Path:
        return save_figure(fig, self.file(name), **kwargs)

    def discard(self) -> None:
        """Undo the run: remove the folder if this run created it, else only the files it wrote
        (putting back the files of the same name that were there before)."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            for parent in self.created_parents:  # e.g. `runs/` made for the default --out
                with contextlib.suppress(OSError):  # kept if something else is in it now
                    parent.rmdir()
            return
        for target in self.written:
            if target in self.replaced:
                os.replace(self.replaced[target], target)
                continue
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                target.unlink()
        if self.replaced:
            shutil.rmtree(self.path / self._KEEP, ignore_errors=True)
            self.replaced = {}
