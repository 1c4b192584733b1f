"""The GUI primitive API that code policies call: find, tap, type_text, scroll, wait_for, ...

Every target is a description of what a person sees ("Submit", "the username field", "checkbox
next to Remember me", "#e12"), resolved against the current screen by
:class:`perception.ui_query.ElementMatcher`. A description that matches nothing raises
:class:`~sim.gui.errors.ElementNotFound` (category ``not_found``) naming the closest visible texts.

Secrets: ``secret(name)`` returns a configured secret as a :class:`~sim.gui.secrets.Secret`
(recorded as ``***``); text typed into a password field joins the env's secrets; element texts,
``read_text`` results and recorded values pass through the env's redaction, so a password
never reaches a trace, a prompt or a log.

Arguments are checked before any input reaches the screen: pixels must be finite and on screen,
waits finite and bounded, descriptions at most :data:`MAX_QUERY_CHARS` characters (a longer one
matches nothing: :class:`ElementNotFound`), typed text at most :data:`MAX_TYPED_CHARS`. Waits and
scrolling loops end at the running policy's deadline (:meth:`PrimitiveSet.time_left`) with
:class:`~embodied.errors.DeadlineExceeded`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace
from typing import Any

from embodied.errors import DeadlineExceeded, PrimitiveError
from embodied.primitives import PolicyDeadline, PrimitiveSet
from embodied.types import FailureCategory, Observation, UIElement
from perception.screen_predicates import names, switch_of, visible_text
from perception.ui_query import ROLE_WORDS, ElementMatcher, Embedder, Match, parse_query
from sim.gui.base import GuiEnv
from sim.gui.errors import ElementNotFound, GuiActionError, InvalidGuiArgument, TextEntryError
from sim.gui.secrets import MASK, RecordRedactor, Secret

_FIELD_ROLES = ROLE_WORDS["field"]
MAX_QUERY_CHARS = 200  # a description of an on-screen element, not a document
MAX_TYPED_CHARS = 10_000  # typing is a keystroke per character on some backends
MAX_WAIT_S = 600.0
MAX_SCROLLS = 100


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidGuiArgument(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidGuiArgument(f"{name} is {len(value)} characters; at most {limit}")
    return value


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0.0 <= value <= MAX_WAIT_S:
        raise InvalidGuiArgument(f"{name} must be a number of seconds in [0, {MAX_WAIT_S:g}], got {value!r}")
    return float(value)


_BOX_ROLES = ("switch", "checkbox", "radio")
MAX_SLIDER_KEYS = 200  # arrow-key nudges after the drag (each reads the value back)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def _slider_point(slider: UIElement, value: float) -> tuple[int, int]:
    """The pixel of ``value`` along a slider's track: left to right, or bottom to top when the
    slider is taller than wide. The thumb's own size keeps its centre off the very ends: half
    the track's thickness in from each end."""
    left, top, right, bottom = slider.bounds
    low, high, _ = slider.value_range or (0.0, 1.0, 0.0)
    frac = min(1.0, max(0.0, (value - low) / (high - low))) if high > low else 0.0
    if bottom - top > right - left:
        inset = (right - left) / 2
        return (left + right) // 2, round(bottom - inset - frac * (bottom - top - 2 * inset))
    inset = (bottom - top) / 2
    return round(left + inset + frac * (right - left - 2 * inset)), (top + bottom) // 2


class NotCheckable(PrimitiveError):
    """``set_checked``/``is_checked`` named an element with no on/off state and no switch,
    checkbox or radio button in its row."""

    category = FailureCategory.NOT_FOUND


class StateUnchanged(PrimitiveError):
    """A switch was tapped but reads the same state afterwards (disabled, or the tap missed)."""

    category = FailureCategory.WRONG_STATE


class NotASlider(PrimitiveError):
    """``set_slider`` named an element that is not a slider (a range input or ARIA slider)."""

    category = FailureCategory.NOT_FOUND


class SliderMissed(PrimitiveError):
    """A slider was dragged and nudged with its arrow keys but does not read the wanted value."""

    category = FailureCategory.WRONG_STATE


class UnknownSecret(PrimitiveError):
    """``secret(name)`` named no configured secret."""

    category = FailureCategory.NOT_FOUND


def element_dict(el: UIElement) -> dict[str, Any]:
    """The plain-data view of an element that policies and prompts see."""
    left, top, right, bottom = el.bounds
    return {"id": el.id, "role": el.role, "text": el.text, "description": el.description,
            "bounds": [left, top, right, bottom], "center": list(el.center), "clickable": el.clickable,
            "editable": el.editable, "checked": el.checked, "selected": el.selected,
            "resource_id": el.resource_id, "enabled": el.enabled, "focused": el.focused, "scrollable": el.scrollable}


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
        self.policy_deadline = PolicyDeadline()  # shared with every primitive set built here

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
        if not isinstance(query, str):
            raise InvalidGuiArgument(f"an element description must be a string, got {type(query).__name__}")
        obs = self.observation()
        if len(query) > MAX_QUERY_CHARS:  # matching cost grows with its length; no element reads like this
            texts = [e.text for e in obs.elements if e.text][:5]
            raise ElementNotFound(query[:60] + f"... ({len(query)} characters; descriptions are at most "
                                  f"{MAX_QUERY_CHARS})", texts)
        q = parse_query(query)
        match = None
        avoid = obs.task  # the screen's own statement of the task (a MiniWoB utterance) is never a target
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

    def _time_left(self, what: str) -> float | None:
        left = self.policy_deadline.time_left()
        if left is not None and left <= 0.0:
            raise DeadlineExceeded(f"{what}: the policy's time budget is spent")
        return left

    def pixel(self, x: object, y: object) -> tuple[int, int]:
        """(x, y) as a pixel of the current screen, or InvalidGuiArgument (NaN, off screen, not a number)."""
        width, height = self.env.screen_size()
        for name, value, size in (("x", x, width), ("y", y, height)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or not 0 <= value < size:
                raise InvalidGuiArgument(f"{name} must be a pixel in [0, {size}) of the {width}x{height} screen, "
                                         f"got {value!r}")
        return int(x), int(y)  # type: ignore[call-overload]  # checked above

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
        self.env.tap(*self.pixel(x, y))

    def long_press(self, target: str) -> bool:
        """Press and hold the element best matching the description (about 0.8 s)."""
        el = self.locate(target).element
        self.env.long_press(el)
        return True

    def type_text(self, text: str, into: str = "") -> bool:
        """Type text. With ``into`` (a field description such as "Email" or "the password field")
        the field is tapped and cleared first; without it the text goes to the focused element.
        Use secret("name") for passwords so the value never shows in records."""
        if not isinstance(text, Secret):
            _text("text", text, MAX_TYPED_CHARS)
        elif len(text) > MAX_TYPED_CHARS:
            raise InvalidGuiArgument(f"text is {len(text)} characters; at most {MAX_TYPED_CHARS}")
        _text("into", into, MAX_QUERY_CHARS)
        target: UIElement | None = None
        if into:
            target = self.locate(into, prefer_roles=_FIELD_ROLES).element
        if isinstance(text, Secret) or text in self.env.secrets or (target is not None and target.role == "password"):
            text = text if isinstance(text, Secret) else Secret(text)
        self.env.type_text(text, into=target, clear=target is not None)
        return True

    def is_checked(self, target: str) -> bool:
        """Whether the switch, checkbox or radio button described (or the one in the row of the
        described label) is on. Raises NotCheckable when there is none."""
        return bool(self._box(target).checked)

    def set_checked(self, target: str, on: bool = True) -> bool:
        """Turn the switch/checkbox described (or the one in the described label's row) on or
        off, tapping the widget itself and only when needed; the state is read back after the
        tap. Returns True when it tapped, False when the state already held. Raises
        NotCheckable, or StateUnchanged when the tap did not change the state."""
        box = self._box(target)
        if bool(box.checked) == bool(on):
            return False
        self.env.tap(box)
        after = self._same_box(box, self.observation(fresh=True).elements)
        if after is None or bool(after.checked) != bool(on):
            state = "gone" if after is None else ("on" if after.checked else "off")
            raise StateUnchanged(f"tapped the {box.role} {box.text or box.description!r} at {box.center} to turn it "
                                 f"{'on' if on else 'off'}, but it is {state} afterwards")
        return True

    def set_slider(self, target: str, value: float) -> float:
        """Set the slider described (a range input or ARIA slider) to ``value`` the way a person
        does: drag its thumb to the value's place along the track, then nudge it with the arrow
        keys one step at a time until it reads ``value``. Returns the value it reads afterwards.
        Raises NotASlider, InvalidGuiArgument (a value outside its range), or SliderMissed when
        it does not read ``value`` at the end."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidGuiArgument(f"a slider value must be a finite number, got {value!r}")
        slider = self.locate(target, prefer_roles=("slider",)).element
        if slider.role != "slider":
            raise NotASlider(f"{target!r} matches {slider.text or slider.description!r} ({slider.role}), "
                             "not a slider")
        now = _number(slider.text)
        if slider.value_range is not None:
            low, high, _ = slider.value_range
            if not low <= value <= high:
                raise InvalidGuiArgument(f"{value:g} is outside the slider's range [{low:g}, {high:g}]")
            if now is not None and high > low and not math.isclose(now, value):
                self.env.swipe(*_slider_point(slider, now), *_slider_point(slider, value), 0.2)
                slider = self._same_slider(slider)
                now = _number(slider.text)
        vertical = slider.bounds[3] - slider.bounds[1] > slider.bounds[2] - slider.bounds[0]
        up, down = ("up", "down") if vertical else ("right", "left")
        for _ in range(MAX_SLIDER_KEYS):
            if now is None or math.isclose(now, value, abs_tol=1e-9):
                break
            self._time_left("set_slider")
            self.env.key(up if now < value else down)
            before, slider = now, self._same_slider(slider)
            now = _number(slider.text)
            if now == before or (now is not None and (now - value) * (before - value) < 0):
                break  # it does not move, or it stepped over the value: the value is not on its steps
        if now is None or not math.isclose(now, value, abs_tol=1e-9):
            raise SliderMissed(f"the slider {slider.description or target!r} reads {slider.text!r} after dragging "
                               f"and nudging it, wanted {value:g}")
        return now

    def _same_slider(self, slider: UIElement) -> UIElement:
        """``slider`` on the screen now (by id, else the slider under its centre)."""
        elements = self.observation(fresh=True).elements
        same = [e for e in elements if e.id == slider.id and e.role == "slider"]
        if not same:
            x, y = slider.center
            same = [e for e in elements if e.role == "slider" and e.bounds[0] <= x <= e.bounds[2]
                    and e.bounds[1] <= y <= e.bounds[3]]
        if not same:
            raise SliderMissed(f"the slider {slider.description!r} is gone from the screen")
        return same[0]

    def _box(self, target: str) -> UIElement:
        match = self.locate(target, prefer_roles=_BOX_ROLES)
        box = switch_of(match.element, list(self.observation().elements))
        if box is None:
            el = match.element
            raise NotCheckable(f"{target!r} matches {el.text or el.description!r} ({el.role}), which has no on/off "
                               "state and no switch, checkbox or radio button in its row")
        return box

    @staticmethod
    def _same_box(box: UIElement, elements: list[UIElement]) -> UIElement | None:
        """``box`` on a newer screen: the widget of its role under its centre (ids may change)."""
        x, y = box.center
        hits = [e for e in elements if e.role == box.role and e.bounds[0] <= x <= e.bounds[2]
                and e.bounds[1] <= y <= e.bounds[3]]
        return hits[0] if hits else None

    def open_target(self, target: str) -> bool:
        """Open what ``target`` names: tap the element that matches on screen; where nothing
        does and the device starts apps by name (a phone), start the installed app of that name,
        else scroll the screen for it (a row further down a list), else look for a launcher icon
        of that name. Returns True once done; raises ElementNotFound (or AppNotFound) when none
        exists."""
        try:
            element = self.locate(target).element
        except ElementNotFound:
            if not self.env.launches_by_name:
                raise
            quoted = re.search(r'"([^"]+)"', target)  # the grammar quotes the name: 'the "Bank" button'
            name = quoted.group(1) if quoted else target.strip()
            if not self.env.has_app(name) and self.scroll_until(name):  # stops when the content does not move
                element = self.locate(target).element
            else:
                self.env.launch(name)
                return True
        self.env.tap(element)
        return True

    def swipe(self, direction: str, target: str = "") -> None:
        """Swipe a finger across the described element (or the screen centre) towards
        ``direction`` (up, down, left, right): "left" moves the finger right to left, as when
        paging a carousel. For scrolling content into view use scroll or scroll_until."""
        direction = _text("direction", direction, 10).strip().lower()
        if direction not in ("up", "down", "left", "right"):
            raise InvalidGuiArgument(f"swipe direction {direction!r} is not one of up, down, left, right")
        w, h = self.env.screen_size()
        if target:
            left, top, right, bottom = self.locate(target).element.bounds
        else:
            left, top, right, bottom = 0, 0, w, h
        cx, cy = (left + right) // 2, (top + bottom) // 2
        half_w, half_h = max(1, (right - left) * 2 // 5), max(1, (bottom - top) * 2 // 5)
        dx = {"left": -half_w, "right": half_w}.get(direction, 0)
        dy = {"up": -half_h, "down": half_h}.get(direction, 0)
        self.env.swipe(cx - dx, cy - dy, cx + dx, cy + dy, 0.3)

    def drag(self, source: str, target: str) -> None:
        """Press and hold the element ``source``, move it onto ``target`` and let go (about 1 s)."""
        a = self.locate(source).element
        b = self.locate(target).element
        self.env.drag(*a.center, *b.center, 1.0)

    def wait_idle(self, timeout_s: float = 5.0, quiet_s: float = 0.3) -> bool:
        """Wait until the screen stops changing: by the backend's own signals where it has them
        (a web page: no DOM change, animation or timer its input set off), else until the
        elements (texts, states, places) read the same for ``quiet_s`` seconds. False when it
        was still changing after ``timeout_s``."""
        deadline = time.monotonic() + _seconds("timeout_s", timeout_s)
        _seconds("quiet_s", quiet_s)
        settled = self.env.wait_settled(timeout_s)
        if settled is not None:  # the backend knows when its screen is idle (a page's DOM and timers)
            return settled
        last = self._signature(self.observation(fresh=True).elements)
        stable_since = time.monotonic()
        while True:
            if time.monotonic() - stable_since >= quiet_s:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.1, quiet_s))
            now = self._signature(self.observation(fresh=True).elements)
            if now != last:
                last, stable_since = now, time.monotonic()

    @staticmethod
    def _signature(elements: list[UIElement]) -> list[tuple]:
        return [(e.role, e.text, e.description, e.bounds, e.checked, e.selected, e.focused) for e in elements]

    def foreground(self) -> str:
        """The app and screen in front: ``package/activity`` on Android, the page or window
        title elsewhere."""
        package, activity = self.env.foreground()
        return f"{package}/{activity}" if activity else package

    def key(self, name: str) -> None:
        """Press a key: enter, tab, escape, backspace, delete, space, up, down, left, right, home,
        end, page_up, page_down, back, menu, app_switch (recent apps on a phone); or a combination
        like "ctrl+a" where a keyboard exists."""
        self.env.key(_text("key name", name, 40))

    def scroll(self, direction: str = "down") -> None:
        """Scroll the screen content by half a screen so that more of it in ``direction``
        (up, down, left, right) comes into view."""
        self.env.scroll(direction, 0.5)

    def scroll_until(self, text: str, direction: str = "down", max_scrolls: int = 25) -> bool:
        """Scroll in ``direction`` until ``text`` is visible on screen. Returns False
        when it did not appear after ``max_scrolls`` scrolls or the screen stopped moving."""
        _text("text", text, MAX_QUERY_CHARS)
        if isinstance(max_scrolls, bool) or not isinstance(max_scrolls, int) or not 0 <= max_scrolls <= MAX_SCROLLS:
            raise InvalidGuiArgument(f"max_scrolls must be an integer in [0, {MAX_SCROLLS}], got {max_scrolls!r}")
        obs = self.observation(fresh=True)
        for _ in range(max_scrolls):
            self._time_left("scroll_until")
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
        """Start an app: a command line (desktop), a URL (browser); on Android its label
        ("Settings"), package ("com.android.settings") or "package/.Activity"."""
        self.env.launch(_text("app", app, 2000))

    def wait_for(self, text: str, timeout_s: float = 5.0) -> bool:
        """Wait until ``text`` is visible on screen (contained in an element's text, or nearly
        equal to it), or an element described by role or id shows ("the Send button", "#e4");
        False after ``timeout_s`` seconds."""
        _text("text", text, MAX_QUERY_CHARS)
        deadline = time.monotonic() + _seconds("timeout_s", timeout_s)
        query = parse_query(text)
        while True:
            elements = self.observation(fresh=True).elements
            if visible_text(text, elements) is not None:
                return True
            if (query.roles or query.element_id) and self.matcher.best(query, elements) is not None:
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            left = self._time_left(f"wait_for({text[:40]!r})")
            pause = min(0.1, deadline - now) if left is None else min(0.1, deadline - now, left)
            time.sleep(pause)

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
        _text("secret name", name, MAX_QUERY_CHARS)
        if name not in self._secrets:
            known = ", ".join(sorted(self._secrets)) or "none configured"
            raise UnknownSecret(f"no secret named {name!r} (known: {known})")
        return Secret(self._secrets[name])

    def primitive_set(self) -> PrimitiveSet:
        """The primitives as a :class:`~embodied.primitives.PrimitiveSet` (domain "gui")."""
        ps = PrimitiveSet("gui", redact=self.redact, policy_deadline=self.policy_deadline,
                          errors=(GuiActionError, ElementNotFound, TextEntryError, UnknownSecret, NotCheckable,
                                  StateUnchanged, NotASlider, SliderMissed, InvalidGuiArgument, DeadlineExceeded))
        for fn in (self.find, self.tap, self.tap_xy, self.long_press, self.type_text, self.key, self.scroll,
                   self.scroll_until, self.back, self.home, self.launch, self.wait_for, self.read_text,
                   self.elements, self.secret, self.set_checked, self.is_checked, self.set_slider,
                   self.open_target, self.swipe,
                   self.drag,
                   self.wait_idle, self.foreground):
            ps.add(fn)
        return ps
