"""The `tsdyn` command line: one Typer app, one module per subcommand.

Each subcommand module exposes `register(app)`; heavy imports happen inside the command functions so
that `tsdyn --help` stays instant. Errors are mapped here, once: `InputError` and usage errors print
one line and exit 2; anything else prints one line and exits 1 (the traceback only with
`TSDYN_DEBUG=1`).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # recent typer vendors click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older typer with click installed
    from click.exceptions import ClickException, UsageError
from typer import Abort

from tsdyn import __version__
from tsdyn.cli import _common, datasets, forecast, reconstruct, ssm, summarize

__all__ = ["app", "main"]


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


class TsdynGroup(TyperGroup):
    """The root group: runs the command and maps every failure to one line and an exit code."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from tsdyn.errors import InputError

        args = list(sys.argv[1:] if args is None else args)
        if not args:
            args = ["--help"]
        _common.INVOCATION[:] = args  # config.json records these, not the host process's argv
        try:
            code = super().main(
                args, prog_name or "tsdyn", complete_var, standalone_mode=False, **extra
            )
        except InputError as exc:
            _fail(exc.one_line(), 2)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # typer printed the help already
                _fail(
                    f"'{exc.ctx.command_path}' needs a command: pick one of those listed above", 2
                )
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(f"{exc.format_message()}{where}", 2)
        except ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (Abort, KeyboardInterrupt):
            _fail("interrupted; nothing was written", 130)
        except BrokenPipeError:
            sys.exit(1)
        except Exception as exc:  # the last line of defence: one line, exit 1
            if os.environ.get("TSDYN_DEBUG"):
                traceback.print_exc()
            hint = (
                ""
                if os.environ.get("TSDYN_DEBUG")
                else " (rerun with TSDYN_DEBUG=1 for the traceback)"
            )
            _fail(f"unexpected failure: {type(exc).__name__}: {exc}{hint}", 1)
        if code == 130:  # typer turns KeyboardInterrupt into Exit(130) itself
            _fail("interrupted; nothing was written", 130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="tsdyn",
    cls=TsdynGroup,
    help="Time series and dynamical systems: forecasting (LTSF-Linear, OLinear), state-space models "
    "(HiPPO, LSSL, S4D), reconstruction of chaotic systems (AL-RNN) and visual summaries (TiVy).",
    epilog="Example: tsdyn forecast ETTh1.csv --model dlinear --pred-len 96 --out runs/etth1",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tsdyn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Time series and dynamical systems toolkit."""


for _module in (forecast, ssm, reconstruct, summarize, datasets):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
