"""embodied: closed-loop code-policy agents for robots and GUIs."""

__version__ = "0.1.0"
