"""The PyBullet tabletop world."""

from embodied.stdio import import_quietly

import_quietly("pybullet")  # first, before a submodule imports it: it prints its build date
