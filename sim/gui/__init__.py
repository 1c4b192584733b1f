"""GUI environments: one :class:`~sim.gui.base.GuiEnv` interface over a desktop (X11/Xvfb), a
browser (Chromium, optionally a phone viewport), MiniWoB++ tasks and Android devices; the GUI
primitive API (:mod:`sim.gui.skills`) and the Environment adapter (:mod:`sim.gui.env`)."""
