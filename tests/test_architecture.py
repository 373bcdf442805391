"""The core stays headless: vvipe_core never imports Qt or any GUI toolkit."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contract_holds():
    # Through this interpreter, so the venv's bin/ need not be on PATH.
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_importing_the_core_and_cli_loads_no_gui_module():
    code = (
        "import sys, vvipe_core, vvipe_core.api, vvipe_core.cli;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('PySide6','shiboken6','vispy','pyqtgraph','superqt','qtpy','app')];"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_gui_state_loads_no_qt():
    # The static contract (pyproject) sees imports; this sees what importing really loads.
    code = (
        "import sys, app.state, app.history;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('PySide6','shiboken6','vispy','pyqtgraph','superqt','qtpy')];"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
