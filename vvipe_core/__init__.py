"""V-VIPE core library: canonical poses, the variational view-invariant pose embedding, and its uses.

Headless by design (no Qt): the GUI, the CLI and notebooks all go through :class:`VVIPE`.
"""
__all__ = ["VVIPE"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that light modules (skeleton, canonical, cameras) import without torch.
    if name == "VVIPE":
        from vvipe_core.api import VVIPE

        return VVIPE
    raise AttributeError(name)
