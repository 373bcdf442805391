"""`python -m vvipe_core.cli`: the `vvipe` command without the console script (e.g. torchrun)."""
from vvipe_core.cli import app

app()
