"""The twin's apps: package, label, page, and the seeded initial state of each.

A seed changes what the apps hold (which switches are on, the order of the Settings sections,
who the conversations are with, the contact list) so that a task cannot be solved by replaying
taps at fixed pixels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPS_DIR = Path(__file__).resolve().parent / "apps"
LAUNCHER = "com.android.launcher3"


@dataclass(frozen=True)
class AppSpec:
    package: str
    label: str
    page: str  # file in apps/
    main_activity: str
    tint: str = "#6750a4"
    on_home: bool = True

    @property
    def component(self) -> str:
        return f"{self.package}/.{self.main_activity}"


APPS = (
    AppSpec(LAUNCHER, "Launcher", "launcher.html", "Launcher", on_home=False),
    AppSpec("com.android.settings", "Settings", "settings.html", "Settings", "#5f6368"),
    AppSpec("com.embodied.messages", "Messages", "messages.html", "ConversationListActivity", "#1a73e8"),
    AppSpec("com.embodied.contacts", "Contacts", "contacts.html", "ContactsActivity", "#188038"),
    AppSpec("com.embodied.bank", "Bank", "bank.html", "LoginActivity", "#b06000"),
)
SWITCHES = ("wifi", "mobile_data", "airplane", "hotspot", "bluetooth", "nfc", "dark_theme", "auto_rotate",
            "adaptive_brightness", "do_not_disturb", "vibrate_calls", "battery_saver", "battery_percentage", "location")
SECTIONS = ("NetworkActivity", "ConnectedDevicesActivity", "DisplayActivity", "SoundActivity", "BatteryActivity",
            "LocationActivity")
_FIRST = ("Ada", "Alan", "Barbara", "Claude", "Dana", "Edsger", "Frances", "Grace", "Hedy", "Ivan", "Joan", "Ken",
          "Linus", "Margaret", "Niklaus", "Olga", "Per", "Radia", "Sophie", "Tim", "Ursula", "Vint",
          "Whitfield", "Yukihiro")
_LAST = ("Allen", "Berners", "Cerf", "Diffie", "Engelbart", "Floyd", "Goldberg", "Hopper", "Iverson", "Jones",
         "Kay", "Lamarr", "Liskov", "Moore", "Naur", "Perlman", "Ritchie", "Sammet", "Thompson", "Wilson", "Zuse")
LANGUAGES = ("English (United Kingdom)", "Deutsch (Deutschland)", "Français (France)", "Español (España)",
             "Italiano (Italia)", "Nederlands (Nederland)", "Polski (Polska)", "Svenska (Sverige)")
_SNIPPETS = ("See you at six?", "Thanks!", "The build is green again", "Can you call me back?", "Lunch tomorrow?",
             "I sent the slides", "Running late, sorry", "Happy birthday!")


def initial_state(seed: int, bank_user: str) -> dict[str, dict[str, Any]]:
    """Every app's persistent data for ``seed`` (the launcher's is filled in by the twin)."""
    rng = random.Random(seed)
    switches = {name: rng.random() < 0.5 for name in SWITCHES}
    order = list(SECTIONS)
    rng.shuffle(order)
    people = sorted({f"{f} {last}" for f in _FIRST for last in _LAST})
    contacts = sorted(rng.sample(people, 60))
    chats = rng.sample(contacts, 5)
    conversations = [{"name": name, "messages": [{"from": "them", "text": rng.choice(_SNIPPETS)}]} for name in chats]
    contact_list = [{"name": n, "phone": f"+44 7700 9{rng.randrange(10**5):05d}", "favourite": rng.random() < 0.2}
                    for n in contacts]
    balance = rng.randrange(20_000, 500_000)
    # drawn last, so the data above is what it was before this list existed
    languages = rng.sample(LANGUAGES, 4)
    return {
        # Languages (reordered by dragging) is the last section, as System is on a phone
        "com.android.settings": {"switches": switches, "order": [*order, "LanguagesActivity"],
                                 "languages": languages},
        "com.embodied.messages": {"conversations": conversations, "sent": [], "deleted": []},
        "com.embodied.contacts": {"contacts": contact_list, "deleted": [], "calls": []},
        "com.embodied.bank": {"user": bank_user, "logged_in": False, "balance": balance,
                              "payments": [], "failed_logins": 0},
    }
