"""The GUI instruction grammar: every MiniWoB++ utterance form of the benchmark tasks, common
phone/desktop/web instructions, and instructions it must refuse with a typed error."""

from __future__ import annotations

import pytest

from planners.errors import PlanningError
from planners.gui.grammar import Grammar, Intent


def read(intent: Intent) -> str:
    """A compact, stable rendering of an intent for the expectations below."""
    k = intent.kind
    if k == "key":
        return f"key {intent.key}"
    if k == "type":
        case = f" ({intent.case})" if intent.case else ""
        if intent.pairs:
            into = f" [{intent.into.plural + ' ' if intent.into.plural else ''}{intent.into.query()}]" \
                if intent.into else ""
            return "type " + ", ".join(f"{v!r}->{t.query()}" for t, v in intent.pairs) + into + case
        return f"type {intent.value!r}" + (f"->{intent.into.query()}" if intent.into else "") + case
    if k == "select_option":
        return f"option {intent.targets[0].label!r} from {intent.source.query()}"
    if k == "choose":
        return f"choose {intent.starts_with!r}..{intent.ends_with!r}"
    if k == "similar":
        return "similar " + ",".join(intent.similar_to)
    if k == "login":
        secret = f" secret:{intent.secret}" if intent.secret else ""
        return f"login {intent.user!r} {intent.password!r}{secret}"
    if k in ("search", "wait"):
        return f"{k} {intent.value!r}" if intent.value else f"{k} {intent.seconds:g}s"
    if k == "scroll":
        return f"scroll {intent.direction}"
    if k == "slide":
        return f"slide {intent.into.query() if intent.into else '?'} {intent.value}"
    if k == "scroll_to":
        return f"scroll_to {intent.targets[0].query()} {intent.direction}"
    targets = " + ".join(t.query() for t in intent.targets) or "nothing"
    extra = f" <{intent.purpose}>" if intent.purpose else ""
    return f"{k} {targets}{extra}"


def parse(text: str) -> list[str]:
    return [read(i) for i in Grammar().parse(text)]


# MiniWoB++ utterances: one or more per task of the benchmark (click-checkboxes-soft included).
MINIWOB = [
    ('Click on the "No" button.', ['tap "No" button']),
    ('Click on the "previous" button.', ['tap "previous" button']),
    ("Click button ONE, then click button TWO.", ["tap ONE button", "tap TWO button"]),
    ("Select ZrLIee, RKPgD, 3mJ5 and click Submit.", ["select ZrLIee + RKPgD + 3mJ5", "tap Submit"]),
    ("Select nothing and click Submit.", ["tap Submit"]),  # nothing to select: no step that hunts for a "nothing"
    ("Select YM2l8 and click Submit.", ["select YM2l8", "tap Submit"]),
    ('Click on the link "Neque,".', ['tap "Neque," link']),
    ('Click on the link "In".', ['tap "In" link']),
    ("Select yMbdWAR and click Submit.", ["select yMbdWAR", "tap Submit"]),
    ("Click on Tab #1.", ["tap Tab #1"]),
    ("Click the button.", ["tap button"]),
    ("Click button ONE.", ["tap ONE button"]),
    ('Close the dialog box by clicking the "x".', ['tap "x" <Close the dialog box>']),
    ('Click the button in the dialog box labeled "Cancel".', ['tap "Cancel" button']),
    ('Click the button in the dialog box labeled "x".', ['tap "x" button']),
    ('Enter "Kasie" into the text field and press Submit.', ["type 'Kasie'->text field", "tap Submit"]),
    ('Type "tora" in all upper case letters in the text input and press Submit.',
     ["type 'tora'->text field (upper)", "tap Submit"]),
    ('Type "THADDEUS" in all lower case letters in the text input and press Submit.',
     ["type 'THADDEUS'->text field (lower)", "tap Submit"]),
    ('Enter the password "rUT3X" into both text fields and press submit.',
     ["type 'rUT3X'->password [both text field]", "tap submit"]),
    ("Focus into the textbox.", ["focus text field"]),
    ("Focus into the 3rd input textbox.", ["focus third text field"]),
    ('Enter the username "thaddeus" and the password "UT" into the text fields and press login.',
     ["type 'thaddeus'->username, 'UT'->password [text field]", "tap login"]),
    ("Select Dalila from the list and click Submit.", ["option 'Dalila' from dropdown", "tap Submit"]),
    ("Select Czech Republic from the list and click Submit.", ["option 'Czech Republic' from dropdown",
                                                              "tap Submit"]),
    ("Expand the section below and click submit.", ["expand section", "tap submit"]),
    ('Enter an item that starts with "Sa" and ends with "ino".', ["choose 'Sa'..'ino'"]),
    ('Enter an item that starts with "Par".', ["choose 'Par'..''"]),
    ("Enter 03/15/2016 as the date and hit submit.", ["type '03/15/2016'->date", "tap submit"]),
    ('Select words similar to "huge", "little" and click Submit.', ["similar huge,little", "tap Submit"]),
    ("Select words similar to gigantic, chop, cars and click Submit.", ["similar gigantic,chop,cars",
                                                                        "tap Submit"]),
    ('Type "ab" in the text field and select "abc".', ["type 'ab'->text field", 'select "abc"']),
]

# Phone, desktop and web instructions in the forms the brief lists.
GENERAL = [
    ("slide the bass slider to 12, then hit Apply", ["slide bass slider 12", "tap Apply"]),
    ("move the zoom level all the way to -3", ["slide zoom level -3"]),
    ("drag the slider to 40 %", ["slide slider 40"]),
    ("type Ada Lovelace into Name, type ada@example.com into Email, tick I agree, then click Submit",
     ["type 'Ada Lovelace'->Name", "type 'ada@example.com'->Email", "check I agree", "tap Submit"]),
    ("enter 'bob' as the username", ["type 'bob'->username"]),
    ("fill in Email with a@b.c", ["type 'a@b.c'->Email"]),
    ("Fill in the Name field with Grace Hopper and the Email field with grace@navy.mil",
     ["type 'Grace Hopper'->Name text field", "type 'grace@navy.mil'->Email text field"]),
    ("fill in Notes with bread and butter", ["type 'bread and butter'->Notes"]),
    ("write hello world in the search box", ["type 'hello world'->text field"]),
    ("log in as alice with the configured password", ["login 'alice' None secret:password"]),
    ("sign in with username bob and password hunter2", ["login 'bob' 'hunter2'"]),
    ('login as "carol" using password "p@ss w0rd"', ["login 'carol' 'p@ss w0rd'"]),
    ("open Settings then Wi-Fi", ["open Settings", "open Wi-Fi"]),
    ("turn on Wi-Fi", ["turn_on Wi-Fi"]),
    ("turn Bluetooth off", ["turn_off Bluetooth"]),
    ("turn on Wi-Fi and Bluetooth", ["turn_on Wi-Fi + Bluetooth"]),
    ("toggle Dark mode", ["toggle Dark mode"]),
    ("check the box next to Remember me", ["check box next to Remember me"]),
    ("untick Newsletter and Offers", ["uncheck Newsletter + Offers"]),
    ("search for cats", ["search 'cats'"]),
    ("scroll down to Privacy", ["scroll_to Privacy down"]),
    ("scroll until Terms of use is visible", ["scroll_to Terms of use down"]),
    ("scroll to the bottom", ["scroll down"]),
    ("wait for Done", ["wait 'Done'"]),
    ("wait 2 seconds", ["wait 2s"]),
    ("go back", ["back nothing"]),
    ("go to the home screen", ["home nothing"]),
    ("press enter", ["key enter"]),
    ("hit the return key", ["key enter"]),
    ("submit the form", ["submit nothing"]),
    ("choose Large", ["select Large"]),
    ("select Medium from the size dropdown", ["option 'Medium' from size dropdown"]),
    ("click the second link", ["tap second link"]),
    ("press the OK button and then go back", ["tap OK button", "back nothing"]),
    ("set Volume to 5", ["type '5'->Volume"]),
    ("set Airplane mode to on", ["turn_on Airplane mode"]),
    ("long press the Photos icon", ["long_press Photos icon"]),
    ("close the dialog", ["close dialog"]),
    ("Please click Save. Then press enter.", ["tap Save", "key enter"]),
    ("log in as alice with the configured password and tick Remember me first",
     ["check Remember me", "login 'alice' None secret:password"]),
    ("type hello and press enter", ["type 'hello'", "key enter"]),
    ("click on the Terms and Conditions link", ["tap Terms link + Conditions link"]),  # the planner may re-join
    ("select Red, Green or Blue", ["select Red + Green + Blue"]),
    ('Use the textbox to enter "Jerald" and press "Search", then find and click the 5th search result.',
     ["type 'Jerald'->text field", 'tap "Search"', "tap fifth search result"]),
    ('Click the "Menu" button, and then find and click on the item labeled "Prev".', ['tap "Menu" button',
                                                                                      'tap "Prev"']),
]

REJECTS = [
    "",
    "hello there",
    "click",
    "make me a sandwich",
    "type into the box",
    "select from the list",
    "drag the photo onto the album",  # dragging something somewhere: not a slider set to a number
    "book a flight to Paris",
    "search",
    "wait",
    "check",
    "submit the spaceship",
    "fill in",
    "press",
    "find",
]


@pytest.mark.parametrize(("text", "expected"), MINIWOB, ids=[t for t, _ in MINIWOB])
def test_miniwob_utterances(text: str, expected: list[str]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), GENERAL, ids=[t for t, _ in GENERAL])
def test_general_instructions(text: str, expected: list[str]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", REJECTS)
def test_rejects_with_typed_error(text: str) -> None:
    with pytest.raises(PlanningError) as info:
        Grammar().parse(text)
    err = info.value
    assert err.forms, "the error lists the forms the grammar understands"
    if text:
        assert err.not_understood, "the error names the part it could not read"


def test_partial_reject_names_what_was_understood() -> None:
    with pytest.raises(PlanningError) as info:
        Grammar().parse("click Submit, then juggle three balls")
    assert info.value.understood == ["tap Submit"]
    assert info.value.not_understood == ["juggle three balls"]


def test_quoted_text_is_kept_verbatim() -> None:
    (intent,) = Grammar().parse('type "Then, and. Click" into Notes')
    assert intent.value == "Then, and. Click"
    assert intent.into is not None and intent.into.label == "Notes"


def test_pronoun_refers_to_the_previous_target() -> None:
    tap, long_press = Grammar().parse("scroll down to Product 20 and long press it")
    assert tap.kind == "scroll_to"
    assert [t.label for t in long_press.targets] == ["Product 20"]


def test_counts() -> None:
    assert len(MINIWOB) + len(GENERAL) >= 40
    assert len(REJECTS) >= 10
