"""The GUI primitive API that code policies call: find, tap, type_text, scroll, wait_for, ...

Every target is a description of what a person sees ("Submit", "the username field", "checkbox
next to Remember me", "#e12"), resolved against the current screen by
:class:`perception.ui_query.ElementMatcher`. A description that matches nothing raises
:class:`~sim.gui.errors.ElementNotFound` (category ``not_found``) naming the closest visible texts.

Secrets: ``secret(name)`` returns a configured secret as a :class:`~sim.gui.secrets.Secret`
(recorded as ``***``); text typed into a password field joins the env's secrets; element texts,
``read_text`` results and recorded values pass through the env's redaction, so a password
never reaches a trace, a prompt or a log.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.types import FailureCategory, Observation, UIElement
from perception.screen_predicates import names, visible_text
from perception.ui_query import ROLE_WORDS, ElementMatcher, Embedder, Match, parse_query
from sim.gui.base import GuiEnv
from sim.gui.errors import ElementNotFound
from sim.gui.secrets import MASK, RecordRedactor, Secret

_FIELD_ROLES = ROLE_WORDS["field"]


class UnknownSecret(PrimitiveError):
    """``secret(name)`` named no configured secret."""

    category = FailureCategory.NOT_FOUND


def element_dict(el: UIElement) -> dict[str, Any]:
    """The plain-data view of an element that policies and prompts see."""
    left, top, right, bottom = el.bounds
    return {"id": el.id, "role": el.role, "text": el.text, "description": el.description,
            "bounds": [left, top, right, bottom], "center": list(el.center), "clickable": el.clickable,
            "editable": el.editable, "checked": el.checked, "selected": el.selected}


class GuiSkills:
    """Primitives over one :class:`~sim.gui.base.GuiEnv`.

    ``max_age_s``: an observation is reused by the next lookup when nothing was done to the env
    since (its ``generation`` is unchanged) and it is younger than this (seconds), so ``find``
    then ``tap`` costs one screenshot, not two.
    ``secrets``: name -> value, for ``secret(name)``; the values also join the env's redaction.
    """

    def __init__(self, env: GuiEnv, embedder: Embedder | None = None, secrets: dict[str, str] | None = None,
                 max_age_s: float = 0.5) -> None:
        self.env = env
        self.matcher = ElementMatcher(embedder)
        self.max_age_s = max_age_s
        self._secrets = dict(secrets or {})
        for value in self._secrets.values():
            env.secrets.add(value)
        self._records = RecordRedactor(env.secrets)
        self._obs: Observation | None = None
        self._obs_time = 0.0
        self._obs_generation = -1

    # ------------------------------------------------------------------ plumbing

    def warm(self) -> None:
        """Start loading the semantic matcher's model in the background (when there is one)."""
        warm = getattr(self.matcher.embedder, "warm", None)
        if warm is not None:
            warm()

    def observation(self, fresh: bool = False) -> Observation:
        """The current screen (cached until the env changes or ``max_age_s`` passes)."""
        if (fresh or self._obs is None or self._obs_generation != self.env.generation
                or time.monotonic() - self._obs_time > self.max_age_s):
            self._obs_generation = self.env.generation
            self._obs = self.env.observe()
            self._obs_time = time.monotonic()
        return self._obs

    def locate(self, query: str, prefer_roles: tuple[str, ...] = ()) -> Match:
        """The best element for ``query``; ``prefer_roles`` applies when the query names no role
        (``type_text(..., into="Email")`` prefers a field over the "Email" label)."""
        obs = self.observation()
        q = parse_query(query)
        match = None
        avoid = obs.text  # the screen's own statement of the task (a MiniWoB utterance) is never a target
        if prefer_roles and not q.roles and not q.element_id:
            match = self.matcher.best(replace(q, roles=prefer_roles), obs.elements, avoid)
            if match is not None and match.element.role not in prefer_roles:
                match = None
        match = match or self.matcher.best(q, obs.elements, avoid)
        if match is not None and q.label and not q.element_id and not q.anchor \
                and not names(q, match.element, obs.elements):
            match = None  # an element that is only a fragment of the description is not the one meant
        if match is None:
            raise ElementNotFound(query, self.matcher.closest_texts(q, obs.elements))
        return match

    def redact(self, value: Any) -> Any:
        """``value`` with every known secret masked, and every value a record states as a
        password (see :class:`~sim.gui.secrets.RecordRedactor`): for trace records."""
        return self._records(value)

    # ------------------------------------------------------------------ primitives

    def find(self, query: str) -> dict:
        """Find the visible element best matching a description and return it as a dict with
        id, role, text, description, bounds [left, top, right, bottom] and center [x, y] in pixels,
        clickable, editable, checked, selected. Descriptions: visible text ("Submit"), a role
        ("the username field", "the Submit button"), a position ("checkbox next to Remember me",
        "field below Email", "the second link") or an id ("#e12"). Raises ElementNotFound."""
        return element_dict(self.locate(query).element)

    def tap(self, target: str) -> bool:
        """Tap (click) the element best matching the description. Returns True once tapped;
        raises ElementNotFound when nothing on screen matches."""
        el = self.locate(target).element
        self.env.tap(el)
        return True

    def tap_xy(self, x: int, y: int) -> None:
        """Tap the pixel (x, y) of the screenshot (origin top-left)."""
        self.env.tap(int(x), int(y))

    def long_press(self, target: str) -> bool:
        """Press and hold the element best matching the description (about 0.8 s)."""
        el = self.locate(target).element
        self.env.long_press(el)
        return True

    def type_text(self, text: str, into: str = "") -> bool:
        """Type text. With ``into`` (a field description such as "Email" or "the password field")
        the field is tapped and cleared first; without it the text goes to the focused element.
        Use secret("name") for passwords so the value never shows in records."""
        target: UIElement | None = None
        if into:
            target = self.locate(into, prefer_roles=_FIELD_ROLES).element
        if isinstance(text, Secret) or text in self.env.secrets or (target is not None and target.role == "password"):
            text = text if isinstance(text, Secret) else Secret(text)
        self.env.type_text(text, into=target, clear=target is not None)
        return True

    def key(self, name: str) -> None:
        """Press a key: enter, tab, escape, backspace, delete, space, up, down, left, right, home,
        end, page_up, page_down, back, menu; or a combination like "ctrl+a" where a keyboard exists."""
        self.env.key(name)

    def scroll(self, direction: str = "down") -> None:
        """Scroll the screen content by half a screen so that more of it in ``direction``
        (up, down, left, right) comes into view."""
        self.env.scroll(direction, 0.5)

    def scroll_until(self, text: str, direction: str = "down", max_scrolls: int = 10) -> bool:
        """Scroll in ``direction`` until ``text`` is visible on screen. Returns False
        when it did not appear after ``max_scrolls`` scrolls or the screen stopped moving."""
        if max_scrolls < 0:
            raise ValueError("max_scrolls must be >= 0")
        obs = self.observation(fresh=True)
        for _ in range(max_scrolls):
            if visible_text(text, obs.elements) is not None:
                return True
            before = [(e.text, e.bounds) for e in obs.elements]
            self.env.scroll(direction, 0.5)
            obs = self.observation(fresh=True)
            if [(e.text, e.bounds) for e in obs.elements] == before:
                return False  # the content stopped moving: the end is reached
        return visible_text(text, obs.elements) is not None

    def back(self) -> None:
        """Go back: Android's back button, the browser's history, Escape on a desktop."""
        self.env.key("back")

    def home(self) -> None:
        """Go to the home screen (Android) or the start page (browser)."""
        self.env.go_home()

    def launch(self, app: str) -> None:
        """Start an app: a command line (desktop), a URL (browser), a package name (Android)."""
        self.env.launch(app)

    def wait_for(self, text: str, timeout_s: float = 5.0) -> bool:
        """Wait until ``text`` is visible on screen (contained in an element's text, or nearly
        equal to it); False after ``timeout_s`` seconds."""
        deadline = time.monotonic() + max(0.0, float(timeout_s))
        while True:
            if visible_text(text, self.observation(fresh=True).elements) is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def read_text(self, query: str = "") -> str:
        """The text of the element matching ``query`` (a field's current value), or with no
        query all visible text, one element per line in reading order. Passwords read as ***."""
        obs = self.observation()
        if not query:
            return "\n".join(e.text for e in obs.elements if e.text)
        el = self.locate(query).element
        return MASK if el.role == "password" and el.text else el.text

    def elements(self) -> list[dict]:
        """Every visible element as a dict (see find), in reading order."""
        return [element_dict(e) for e in self.observation().elements]

    def secret(self, name: str) -> str:
        """The configured secret ``name`` (e.g. a password), to pass to type_text. It is
        recorded and printed as ***."""
        if name not in self._secrets:
            known = ", ".join(sorted(self._secrets)) or "none configured"
            raise UnknownSecret(f"no secret named {name!r} (known: {known})")
        return Secret(self._secrets[name])

    def primitive_set(self) -> PrimitiveSet:
        """The primitives as a :class:`~embodied.primitives.PrimitiveSet` (domain "gui")."""
        ps = PrimitiveSet("gui", redact=self.redact)
        for fn in (self.find, self.tap, self.tap_xy, self.long_press, self.type_text, self.key, self.scroll,
                   self.scroll_until, self.back, self.home, self.launch, self.wait_for, self.read_text,
                   self.elements, self.secret):
            ps.add(fn)
        return ps
