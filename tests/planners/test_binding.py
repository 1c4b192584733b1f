"""Rebinding a verified program to another subgoal of the same typed action: names and numbers
swapped where the program spells them, refused wherever something cannot be accounted for."""

from __future__ import annotations

import ast

from planners.llm.binding import rebind

PLACE = 'pick("red block")\nplace_on("green plate")\nhome()\ncheckpoint("red block on green plate")'
ROW = ('x, y, z = get_pose("red block")\npick("blue block")\nplace_at(x, y - 0.091)\nhome()\n'
       'checkpoint("blue block right of red block")')
OLD_ROW = {"object": "blue block", "relative_to": "red block", "dy": -0.091}


def _calls(code: str) -> list[str]:
    return [ast.unparse(n) for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)]


def test_names_are_swapped_at_once_in_calls_and_labels() -> None:
    code = rebind(PLACE, {"object": "red block", "target": "green plate"},
                  {"object": "green plate", "target": "red block"})  # a swap, not two replacements in turn
    assert code is not None
    assert _calls(code) == ["pick('green plate')", "place_on('red block')", "home()",
                            "checkpoint('green plate on red block')"]


def test_an_offset_is_rebound_with_its_sign_where_the_program_subtracts_it() -> None:
    code = rebind(ROW, OLD_ROW, {"object": "green block", "relative_to": "red block", "dy": -0.182})
    assert code is not None and "place_at(x, y - 0.182)" in code and "pick('green block')" in code
    flipped = rebind(ROW, OLD_ROW, {"object": "green block", "relative_to": "blue block", "dy": 0.05})
    assert flipped is not None and "place_at(x, y + 0.05)" in flipped and "get_pose('blue block')" in flipped
    fixed = rebind('pick("red block")\nplace_at(0.41, -0.01)', {"object": "red block", "x": 0.41, "y": -0.01},
                   {"object": "blue block", "x": 0.5, "y": 0.2})
    assert fixed is not None and "place_at(0.5, 0.2)" in fixed


def test_bookkeeping_fields_are_ignored_when_told_which_are_shown() -> None:
    old = {**OLD_ROW, "relation": "right_of", "start": [0.5, 0.1, 0.02]}
    new = {"object": "green block", "relative_to": "red block", "dy": -0.182, "relation": "right_of",
           "start": [0.4, 0.0, 0.02]}
    assert rebind(ROW, old, new) is None  # the start pose is nowhere in the program
    shown = ["object", "relative_to", "dy", "dx", "x", "y"]
    assert rebind(ROW, old, new, shown=shown) is not None


def test_what_cannot_be_accounted_for_is_refused() -> None:
    old = {"object": "red block", "target": "gray tray"}
    new = {"object": "blue block", "target": "gray tray"}
    # a free spot the model computed from the old scene: no argument says where it is now
    assert rebind('pick("red block")\nplace_on("gray tray", dx=-0.029, dy=0)', old, new) is None
    # another shape of the action (an offset given): the program has no place for it
    assert rebind(PLACE, {"object": "red block", "target": "green plate"},
                  {"object": "red block", "target": "green plate", "dx": 0.03}) is None
    # a changed argument the program never spells
    assert rebind('pick("red block")\nplace_on("tray")', old, new) is None
    # a call given a name that is none of the new subgoal's arguments
    assert rebind('pick("red block")\nx, y, z = get_pose("purple block")\nplace_at(x, y)', old, new) is None
    # one old value that changes two ways: which constant is which cannot be told
    assert rebind('push("red block", 0.1, 0.1)', {"object": "red block", "dx": 0.1, "dy": 0.1},
                  {"object": "red block", "dx": 0.2, "dy": -0.1}) is None
    # a label naming something in the scene that is no argument of the new subgoal
    assert rebind('pick("red block")\nplace_on("gray tray")\nlabel = "blue bowl"', old, new,
                  perceived=["blue bowl", "blue block", "gray tray"]) is None


def test_indexes_and_whole_numbers_stay_as_they_are() -> None:
    code = rebind('p = get_pose("red block")\npush("red block", 0.0, 0.1 + p[0] * 0)',
                  {"object": "red block", "dx": 0.0, "dy": 0.1}, {"object": "red block", "dx": 0.05, "dy": 0.1})
    # 0.0 is dx (changed) and p[0] an index: only the constant is dx
    assert code is not None and "push('red block', 0.05, 0.1 + p[0] * 0)" in code
