"""A small Tk form: Name and Email fields, an "I agree" checkbox and a Submit button.

On Submit it writes its state as JSON to the file named by ``--out`` and shows "Submitted", so a
test (or an env's success check) can read what the agent entered::

    python -m sim.gui.apps.form_app --out /tmp/form.json

Fonts are large and the window sits at the top-left corner so that OCR reads it reliably on a
bare Xvfb display (no window manager).
"""

from __future__ import annotations

import argparse
import json
import tkinter as tk
from pathlib import Path

FONT = ("DejaVu Sans", 16)


class FormApp:
    def __init__(self, root: tk.Tk, out: Path) -> None:
        self.root, self.out = root, out
        root.title("Sign up")
        root.geometry("+0+0")
        root.configure(padx=24, pady=16)
        self.name = tk.StringVar()
        self.email = tk.StringVar()
        self.agree = tk.BooleanVar(value=False)
        self.status = tk.StringVar(value="Please fill in the form")

        tk.Label(root, text="Sign up", font=("DejaVu Sans", 20, "bold")).grid(row=0, column=0, columnspan=2,
                                                                             sticky="w", pady=(0, 16))
        tk.Label(root, text="Name", font=FONT).grid(row=1, column=0, sticky="w", padx=(0, 16), pady=8)
        tk.Entry(root, textvariable=self.name, font=FONT, width=22).grid(row=1, column=1, pady=8)
        tk.Label(root, text="Email", font=FONT).grid(row=2, column=0, sticky="w", padx=(0, 16), pady=8)
        tk.Entry(root, textvariable=self.email, font=FONT, width=22).grid(row=2, column=1, pady=8)
        tk.Checkbutton(root, text="I agree", variable=self.agree, font=FONT).grid(row=3, column=1, sticky="w",
                                                                                  pady=8)
        tk.Button(root, text="Submit", font=FONT, command=self.submit).grid(row=4, column=1, sticky="w", pady=8)
        tk.Label(root, textvariable=self.status, font=FONT).grid(row=5, column=0, columnspan=2, sticky="w",
                                                                 pady=(16, 0))

    def state(self) -> dict[str, object]:
        return {"name": self.name.get(), "email": self.email.get(), "agree": bool(self.agree.get())}

    def submit(self) -> None:
        data = {**self.state(), "submitted": True}
        tmp = self.out.with_suffix(self.out.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.out)  # atomic: a reader never sees half a file
        self.status.set("Submitted")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="JSON file written on Submit")
    args = parser.parse_args(argv)
    root = tk.Tk()
    FormApp(root, args.out)
    root.mainloop()


if __name__ == "__main__":
    main()
