"""The `vvipe` command line. Each command group lives in its own module with a `register(app)`."""
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="V-VIPE: view-invariant 3D pose.")


@app.callback()
def _main() -> None:
    """V-VIPE: view-invariant 3D human pose from the command line."""


def _register_all() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register_all()
