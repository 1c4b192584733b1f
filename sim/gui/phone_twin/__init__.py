"""A phone for tests and demos that the real ``adb`` drives: see :mod:`sim.gui.phone_twin.device`.

    from sim.gui.phone_twin import PhoneTwin, TwinOptions
    with PhoneTwin(TwinOptions(seed=3)) as twin:      # then: adb connect <twin.serial>
        print(twin.serial, twin.state("com.android.settings")["switches"]["wifi"])
"""

from sim.gui.phone_twin.device import PhoneTwin, TwinOptions
from sim.gui.phone_twin.errors import ProtocolError, TwinError

__all__ = ["PhoneTwin", "ProtocolError", "TwinError", "TwinOptions"]
