"""V-VIPE Studio: the Qt desktop app. Thin: all computation comes from vvipe_core."""
