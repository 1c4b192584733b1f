"""Serve a phone twin until Ctrl-C: ``python -m sim.gui.phone_twin [--port 5555] [--seed 0]``.

Then ``adb connect 127.0.0.1:5555`` lists it as a device, and every adb client drives it.
"""

from __future__ import annotations

import argparse
import signal
import threading

from sim.gui.phone_twin import PhoneTwin, TwinOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a phone twin that adb connects to")
    parser.add_argument("--port", type=int, default=5555, help="TCP port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--seed", type=int, default=0, help="varies the apps' state")
    parser.add_argument("--bank-password", default="", help="the Bank app's password (default: a random one)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with PhoneTwin(TwinOptions(port=args.port, seed=args.seed, bank_password=args.bank_password)) as twin:
        print(f"phone twin listening on {twin.serial} (seed {args.seed})", flush=True)
        print(f"  adb connect {twin.serial}", flush=True)
        print(f"  Bank app: user {twin.options.bank_user}, password {twin.bank_password}", flush=True)
        print("Ctrl-C stops it.", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
