"""The `vvipe` command line. Each command group lives in its own module with a `register(app)`.

`vvipe --help` lists the commands from COMMANDS without importing their modules (torch,
MediaPipe and faiss take seconds to import); a module is imported when one of its commands
runs or shows its own help. A module missing from COMMANDS still works, imported whenever
the commands are listed; tests/test_cli_lazy.py keeps COMMANDS equal to the real commands.
"""
import importlib
import pkgutil

import click
import typer
from typer.core import TyperCommand, TyperGroup

# command -> (module, first paragraph of its help), in the order `vvipe --help` lists them
COMMANDS = {
    "classify": ("classify", ("Recognise the activity of the main person: top labels with scores "
                 "for a picture,\nlabels over time (segments) for a video or a pose sequence.")),
    "classify-train": ("classify", ("Train an activity classifier on labelled 3D poses (and "
                       "their 2D projections).")),
    "eval": ("eval", ("Hit@1/10/20 across views and lifting error (MPJPE, PA-MPJPE, NP-MPJPE) on "
             "virtual cameras.")),
    "gallery": ("gallery", ("Build a retrieval gallery: diverse canonical poses, their embeddings "
                "and their sources.")),
    "index": ("library", ("Add every person of new or changed pictures and videos to a pose "
              "library.")),
    "search": ("library", ("The poses of a library nearest to a picture's pose, from any camera "
               "angle.")),
    "live": ("live", ("Detect, track and lift people live; print the frame rate and each stage's "
             "latency.")),
    "lift": ("lift", ("Find the main person (or everyone) in each picture or frame, lift them "
             "to 3D and save\nthe poses (nominal millimetres, canonical frame: pelvis at the "
             "origin, +z up, facing +y).")),
    "train": ("train", ("Train V-VIPE: the 3D pose VAE, then the 2D mapping network on random "
              "virtual cameras.")),
    "train-baseline": ("train", ("Train an evaluation baseline on the same data and cameras as "
                       "V-VIPE.")),
}


def module_commands(module: str) -> dict[str, click.Command]:
    """The click commands that `vvipe_core.cli.<module>` registers."""
    sub = typer.Typer()
    importlib.import_module(f"{__name__}.{module}").register(sub)
    return typer.main.get_group(sub).commands


def unlisted_modules() -> list[str]:
    listed = {module for module, _ in COMMANDS.values()}
    return [info.name for info in pkgutil.iter_modules(__path__)
            if info.name not in listed and not info.name.startswith("_")]


class LazyGroup(TyperGroup):
    """Lists commands from COMMANDS; imports a command's module only to run it."""

    _listing = False  # while the group's own help is drawn: placeholders with the help line

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [name for module in unlisted_modules() for name in module_commands(module)]
        return [*COMMANDS, *extra]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, help_text = COMMANDS[name]
            if self._listing:
                return TyperCommand(name, help=help_text)
            return module_commands(module)[name]
        for module in unlisted_modules():
            found = module_commands(module).get(name)
            if found is not None:
                return found
        return None

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, add_completion=False,
                  help="V-VIPE: view-invariant 3D pose.")


@app.callback()
def _main() -> None:
    """V-VIPE: view-invariant 3D human pose from the command line."""
