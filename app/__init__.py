"""V-VIPE Studio: the Qt desktop app. Thin: all computation comes from vvipe_core."""
from app.compat import immortalize_singletons

immortalize_singletons()  # before any Qt call: see app/compat.py
