"""`vvipe --help` lists every command without importing torch or MediaPipe; the listing
matches the commands themselves."""
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from vvipe_core import cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mediapipe", "cv2", "faiss")


def test_the_listing_matches_every_modules_commands():
    modules = sorted({module for module, _ in cli.COMMANDS.values()} | set(cli.unlisted_modules()))
    real = {name: (module, command) for module in modules
            for name, command in cli.module_commands(module).items()}
    assert sorted(real) == sorted(cli.COMMANDS), "update COMMANDS in vvipe_core/cli/__init__.py"
    for name, (module, help_text) in cli.COMMANDS.items():
        assert real[name][0] == module, name
        assert real[name][1].help.split("\n\n")[0].strip() == help_text, name


def test_help_lists_the_commands_without_importing_heavy_modules():
    code = ("import sys; from vvipe_core.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert "train-baseline" in result.stdout and "classify-train" in result.stdout
    assert result.stdout.strip().endswith("[]"), result.stdout[-200:]


def test_a_command_still_runs_and_shows_its_own_help():
    result = CliRunner().invoke(cli.app, ["lift", "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and "lift" in result.output
    result = CliRunner().invoke(cli.app, ["no-such-command"])
    assert result.exit_code == 2
