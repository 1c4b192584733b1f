"""Robots: the Robot protocol, the PyBullet Panda, and the skills a code policy calls."""

from embodied.stdio import import_quietly

import_quietly("pybullet")  # first, before a submodule imports it: it prints its build date
