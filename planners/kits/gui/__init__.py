"""The GUI domain kit: tapping, typing, scrolling and keys on a screen (see ``kit.py``)."""
