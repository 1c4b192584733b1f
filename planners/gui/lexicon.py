"""Words of the GUI instruction grammar: verbs and their classes, element nouns, keys, and the
small synonym tables used to ground a description on the screen ("x" is a close button).

Everything here is data; :mod:`planners.gui.grammar` reads instructions with it and
:mod:`planners.gui.ground` matches the result against the visible elements.
"""

from __future__ import annotations

import re

# Verb classes (the canonical meaning of a verb phrase).
TAP, SELECT, TYPE, SET, CHECK, UNCHECK, TURN_ON, TURN_OFF, TOGGLE = (
    "tap", "select", "type", "set", "check", "uncheck", "turn_on", "turn_off", "toggle")
SCROLL, SEARCH, LOGIN, SUBMIT, WAIT, BACK, HOME, OPEN, EXPAND, CLOSE, FOCUS, LONG_PRESS, FIND, CLEAR = (
    "scroll", "search", "login", "submit", "wait", "back", "home", "open", "expand", "close", "focus",
    "long_press", "find", "clear")
SLIDE = "slide"  # move a slider's thumb to a number

#: Verb phrases -> class. Multi-word phrases are matched before single words.
VERBS: dict[str, str] = {
    "click": TAP, "click on": TAP, "tap": TAP, "tap on": TAP, "press": TAP, "press on": TAP, "hit": TAP,
    "push": TAP, "touch": TAP, "activate": TAP, "follow": TAP,
    "select": SELECT, "choose": SELECT, "pick": SELECT,
    "type": TYPE, "type in": TYPE, "enter": TYPE, "write": TYPE, "input": TYPE, "key in": TYPE, "insert": TYPE,
    "put": TYPE, "fill in": TYPE, "fill out": TYPE, "fill": TYPE, "provide": TYPE,
    "set": SET, "change": SET, "adjust": SET,
    "slide": SLIDE, "drag": SLIDE, "move": SLIDE,
    "check": CHECK, "tick": CHECK, "mark": CHECK, "check off": CHECK,
    "uncheck": UNCHECK, "untick": UNCHECK, "unmark": UNCHECK, "deselect": UNCHECK, "unselect": UNCHECK,
    "clear": CLEAR, "empty": CLEAR,
    "turn on": TURN_ON, "switch on": TURN_ON, "enable": TURN_ON,
    "turn off": TURN_OFF, "switch off": TURN_OFF, "disable": TURN_OFF,
    "toggle": TOGGLE, "flip": TOGGLE,
    "scroll": SCROLL, "scroll down": SCROLL, "scroll up": SCROLL, "scroll to": SCROLL, "swipe": SCROLL,
    "search": SEARCH, "search for": SEARCH, "look up": SEARCH, "look for": FIND, "find": FIND, "locate": FIND,
    "log in": LOGIN, "login": LOGIN, "log into": LOGIN, "log on": LOGIN, "sign in": LOGIN, "signin": LOGIN,
    "sign into": LOGIN, "sign on": LOGIN,
    "submit": SUBMIT,
    "wait": WAIT, "wait for": WAIT, "wait until": WAIT,
    "go back": BACK, "navigate back": BACK,
    "go home": HOME,
    "open": OPEN, "launch": OPEN, "start": OPEN, "go to": OPEN, "navigate to": OPEN, "visit": OPEN,
    "switch to": OPEN,
    "expand": EXPAND, "unfold": EXPAND, "collapse": EXPAND, "fold": EXPAND,
    "close": CLOSE, "dismiss": CLOSE, "exit": CLOSE,
    "focus": FOCUS, "focus on": FOCUS, "focus into": FOCUS, "focus in": FOCUS, "click into": FOCUS,
    "click in": FOCUS, "tap into": FOCUS, "tap in": FOCUS,
    "long press": LONG_PRESS, "long-press": LONG_PRESS, "press and hold": LONG_PRESS,
}
#: Gerunds ("by clicking the x") -> the verb phrase they stand for.
GERUNDS = {"clicking": "click", "tapping": "tap", "pressing": "press", "hitting": "hit", "selecting": "select",
           "choosing": "choose", "picking": "pick", "typing": "type", "entering": "enter", "writing": "write",
           "checking": "check", "ticking": "tick", "opening": "open", "scrolling": "scroll", "pushing": "push",
           "touching": "touch"}
#: Words that open a clause but carry no meaning.
ADVERBS = ("please", "now", "also", "then", "first", "firstly", "finally", "next", "lastly", "just", "and",
           "after that", "afterwards", "afterward", "once done", "once that is done", "kindly", "go ahead and",
           "try to", "you should", "i want you to", "can you", "could you", "would you")

#: Element nouns -> the word the element matcher understands (perception.ui_query.ROLE_WORDS).
ROLE_NOUNS: dict[str, str] = {
    "button": "button", "buttons": "button", "btn": "button",
    "text field": "text field", "text fields": "text field", "textfield": "text field", "field": "text field",
    "fields": "text field", "textbox": "text field", "textboxes": "text field", "text box": "text field",
    "text boxes": "text field", "input textbox": "text field", "input text box": "text field",
    "text input": "text field", "text inputs": "text field", "input field": "text field",
    "input fields": "text field", "input box": "text field", "input": "text field", "inputs": "text field",
    "entry": "text field", "text area": "text field", "textarea": "text field", "search box": "text field",
    "search field": "text field", "search bar": "text field",
    "checkbox": "checkbox", "checkboxes": "checkbox", "check box": "checkbox", "check boxes": "checkbox",
    "tick box": "checkbox", "tickbox": "checkbox",
    "radio button": "radio button", "radio buttons": "radio button", "radio": "radio button",
    "option": "option", "options": "option", "menu item": "option", "menu items": "option",
    "link": "link", "links": "link", "hyperlink": "link",
    "tab": "tab", "tabs": "tab",
    "dropdown": "dropdown", "drop-down": "dropdown", "drop down": "dropdown", "dropdown list": "dropdown",
    "drop-down list": "dropdown", "drop down list": "dropdown", "dropdown menu": "dropdown", "list": "dropdown",
    "select box": "dropdown", "selector": "dropdown", "combo box": "dropdown", "combobox": "dropdown",
    "picker": "dropdown", "list box": "dropdown", "listbox": "dropdown",
    "slider": "slider", "sliders": "slider", "range slider": "slider", "slider bar": "slider",
    "switch": "switch", "toggle": "switch", "toggle switch": "switch", "box": "box", "boxes": "box",
    "icon": "icon", "icons": "icon",
}
#: Nouns of a box that holds other elements: "the button in the dialog box".
CONTAINERS = ("dialog box", "dialog", "popup", "pop-up", "pop up", "modal", "window", "form", "page", "screen",
              "panel", "toolbar", "menu bar", "sidebar", "app")
#: Words after a noun that only say where it is, with nothing to anchor ("the section below").
PLACE_FILLERS = ("below", "above", "here", "there", "again", "on the page", "on the screen", "on screen",
                 "on this page", "on the right", "on the left", "at the bottom", "at the top", "please")
#: Nouns for "any element" that add nothing to a description.
EMPTY_NOUNS = ("item", "element", "thing", "entry", "word", "value")

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
            "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1}
ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}

#: Keys by the names people use -> canonical names of sim.gui.base.KEYS.
KEY_NAMES = {"enter": "enter", "return": "enter", "the enter key": "enter", "the return key": "enter",
             "enter key": "enter", "return key": "enter", "tab": "tab", "the tab key": "tab", "tab key": "tab",
             "escape": "escape", "esc": "escape", "the escape key": "escape", "escape key": "escape",
             "backspace": "backspace", "the backspace key": "backspace", "delete key": "delete",
             "the delete key": "delete", "space": "space", "spacebar": "space", "the space bar": "space",
             "space bar": "space", "the spacebar": "space", "the up arrow": "up", "up arrow": "up",
             "the down arrow": "down", "down arrow": "down", "the left arrow": "left", "left arrow": "left",
             "the right arrow": "right", "right arrow": "right", "page down": "page_down", "page up": "page_up"}
BACK_PHRASES = ("back", "the back button", "back button", "the back key")
HOME_PHRASES = ("home", "the home button", "home button", "the home screen", "home screen", "the home key")

#: Label synonyms for grounding a description on the screen when its own words are not shown.
#: Each group is one meaning; any member may stand for any other.
LABEL_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("x", "×", "✕", "✖", "close", "close dialog", "dismiss"),
    ("ok", "okay", "o.k."),
    ("log in", "login", "sign in", "signin", "log on"),
    ("log out", "logout", "sign out", "signout"),
    ("sign up", "signup", "register", "create account"),
    ("settings", "preferences", "options"),
    ("next", "continue", "forward"),
    ("previous", "prev", "back"),
    ("wi-fi", "wifi", "wlan", "wireless"),
    ("search", "find", "look up"),
    ("email", "e-mail", "mail address", "email address"),
    ("username", "user name", "user", "login name", "user id"),
    ("password", "passcode", "pass word"),
    ("submit", "send form"),
)
#: Buttons that dismiss a dialog, most specific first.
DISMISS_LABELS = ("close", "x", "×", "✕", "✖", "dismiss", "no thanks", "not now", "got it", "maybe later",
                  "later", "cancel", "ok", "okay")
#: Buttons that commit a form, most specific first.
SUBMIT_LABELS = ("submit", "done", "save", "ok", "okay", "continue", "next", "confirm", "apply", "go", "send",
                 "search", "log in", "login", "sign in")
#: Words for "commit this form" in instructions ("press login"), whatever the button says.
COMMIT_WORDS = ("submit", "log in", "login", "sign in", "signin", "sign up", "continue", "go", "done", "send",
                "confirm", "save", "next", "ok", "okay", "enter")
#: Field nouns that name a value ("enter the username X"), for unquoted values.
FIELD_NOUNS = ("username", "user name", "password", "email", "e-mail", "email address", "name", "first name",
               "last name", "full name", "phone", "phone number", "address", "city", "zip", "zip code",
               "postcode", "date", "time", "amount", "comment", "message", "title", "subject", "query",
               "search term", "code", "pin", "text", "number", "age", "company", "country", "url", "website")
#: Phrases meaning "the secret configured for this run" instead of a literal password.
SECRET_WORDS = ("the configured", "configured", "my", "the saved", "saved", "the stored", "stored", "the given",
                "the", "our", "your")

#: Case requests: "in all upper case letters" -> "upper".
CASE_PATTERNS = (
    (re.compile(r"\b(?:in\s+)?(?:all\s+)?(?:upper[\s-]?case|all\s+caps|capital\s+letters|capitals|block\s+letters)"
                r"(?:\s+letters?)?\b", re.I), "upper"),
    (re.compile(r"\b(?:in\s+)?(?:all\s+)?(?:lower[\s-]?case|small\s+letters)(?:\s+letters?)?\b", re.I), "lower"),
    (re.compile(r"\b(?:in\s+)?title[\s-]?case\b", re.I), "title"),
)


def synonyms_of(label: str) -> list[str]:
    """Other words for a label ("x" -> "close", ...), from :data:`LABEL_SYNONYMS`; [] when none."""
    key = " ".join(label.lower().split())
    for group in LABEL_SYNONYMS:
        if key in group:
            return [w for w in group if w != key]
    return []
