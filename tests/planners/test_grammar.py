"""RulePlanner.decompose: instructions as people phrase them -> subgoals and conditions, against
fixed observations (tests/planners/rule_fakes.py); and instructions it must reject, clearly."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from rule_fakes import dupes_scene, main_scene

from embodied.conditions import parse_condition
from embodied.errors import EmbodiedError
from embodied.types import Plan
from planners.errors import PlanningError
from planners.rule import RulePlanner
from planners.rule.grammar import Grammar, Move, Stack
from planners.rule.lexicon import Lexicon, tokenise


def steps(plan: Plan) -> list[str]:
    """Each subgoal as "action: predicate(args); ..." (numbers left out: they are layout)."""
    return [f"{s.action}: " + "; ".join(("not " if c.negated else "") + f"{c.predicate}({', '.join(c.args)})"
                                        for c in s.conditions) for s in plan.subgoals]


@pytest.fixture(scope="module")
def planner() -> RulePlanner:
    return RulePlanner()


MAIN = [
    # put / place / move, every relation
    ("put the red cube onto the blue one", ["place_on: on(red block, blue block)"]),
    ("Could you please place the green block in the blue bowl?", ["place_on: inside(green block, blue bowl)"]),
    ("move red next to blue", ["place_at: near(red block, blue block)"]),
    ("set the yellow block to the left of the green block", ["place_at: left_of(yellow block, green block)"]),
    ("put the red block to the right of the blue block", ["place_at: right_of(red block, blue block)"]),
    ("place the red block in front of the blue block", ["place_at: in_front_of(red block, blue block)"]),
    ("put the yellow block behind the blue one", ["place_at: behind(yellow block, blue block)"]),
    ("drop the red cube into the tray", ["place_on: inside(red block, gray tray)"]),
    ("put the yellow block between the red block and the blue one",
     ["place_at: near(yellow block, red block); near(yellow block, blue block); at(yellow block)"]),
    ("would you kindly put the blue cube in the grey tray thanks", ["place_on: inside(blue block, gray tray)"]),
    ("carefully put the yellow block on the green plate", ["place_on: on(yellow block, green plate)"]),
    ("put the red block in the middle of the table", ["place_at: at(red block); on(red block, table)"]),
    ("put the red block on the left side of the table", ["place_at: at(red block); on(red block, table)"]),
    # word order, pronouns, picks
    ("the red block goes on the blue block", ["place_on: on(red block, blue block)"]),
    ("onto the blue block, put the red one", ["place_on: on(red block, blue block)"]),
    ("pick up the red block and put it on the blue block", ["place_on: on(red block, blue block)"]),
    ("grab the yellow cube, then drop it in the bowl", ["place_on: inside(yellow block, blue bowl)"]),
    ("take the red block and stack it on the green one", ["place_on: on(red block, green block)"]),
    ("pick up the green block", ["pick: grasped(green block)"]),
    # typos in words the grammar knows
    ("plase put the rde block on the bleu block", ["place_on: on(red block, blue block)"]),
    ("put teh green cube in the bowel", ["place_on: inside(green block, blue bowl)"]),
    # several steps, ellipsis
    ("put the red block in the bowl, then put the green block on top of it",
     ["place_on: inside(red block, blue bowl)", "place_on: on(green block, red block)"]),
    ("first put red on blue, after that green on red",
     ["place_on: on(red block, blue block)", "place_on: on(green block, red block)"]),
    ("put red on blue and green on red",
     ["place_on: on(red block, blue block)", "place_on: on(green block, red block)"]),
    ("put the red block on the green plate and the blue block in the bowl",
     ["place_on: on(red block, green plate)", "place_on: inside(blue block, blue bowl)"]),
    ("stack the yellow block on the red block, then put the green block next to it",
     ["place_on: on(yellow block, red block)", "place_at: near(green block, yellow block)"]),
    ("set both the green and the red blocks into the tray",
     ["place_on: inside(green block, gray tray)", "place_on: inside(red block, gray tray)"]),
    # stacking and orders (sizes: yellow 5 cm > blue 4.5 > red 4 > green 3.5)
    ("stack red, green and blue", ["place_on: on(green block, red block)", "place_on: on(blue block, green block)"]),
    ("stack the red block on top of the blue block", ["place_on: on(red block, blue block)"]),
    ("stack red on green on blue", ["place_on: on(green block, blue block)", "place_on: on(red block, green block)"]),
    ("stack the blocks: red on top, blue at the bottom",
     ["place_on: on(yellow block, blue block)", "place_on: on(green block, yellow block)",
      "place_on: on(red block, green block)"]),
    ("make a tower of all the blocks",
     ["place_on: on(blue block, yellow block)", "place_on: on(red block, blue block)",
      "place_on: on(green block, red block)"]),
    ("stack all cubes with the largest at the bottom",
     ["place_on: on(blue block, yellow block)", "place_on: on(red block, blue block)",
      "place_on: on(green block, red block)"]),
    ("stack the blocks from smallest to largest",
     ["place_on: on(red block, green block)", "place_on: on(blue block, red block)",
      "place_on: on(yellow block, blue block)"]),
    ("stack the cubes in the order yellow, red, green from top to bottom",
     ["place_on: on(red block, green block)", "place_on: on(yellow block, red block)",
      "place_on: on(blue block, yellow block)"]),
    ("build a tower with green at the bottom and red on top",
     ["place_on: on(yellow block, green block)", "place_on: on(blue block, yellow block)",
      "place_on: on(red block, blue block)"]),
    ("put the blocks on top of each other",
     ["place_on: on(blue block, yellow block)", "place_on: on(red block, blue block)",
      "place_on: on(green block, red block)"]),
    # sorting
    ("put every block on the plate of the same colour",
     ["place_on: on(red block, red plate)", "place_on: on(green block, green plate)"]),
    ("sort the blocks by colour",
     ["place_on: on(red block, red plate)", "place_on: on(green block, green plate)",
      "place_on: inside(blue block, blue bowl)"]),
    ("put each block on a plate of a different colour",
     ["place_on: on(red block, green plate)", "place_on: on(green block, red plate)",
      "place_on: on(yellow block, green plate)", "place_on: on(blue block, red plate)"]),
    # rows
    ("arrange the cubes in a row from left to right by colour red green blue yellow",
     ["place_at: at(red block)",
      "place_at: right_of(green block, red block); near(green block, red block); at(green block)",
      "place_at: right_of(blue block, green block); near(blue block, green block); at(blue block); "
      "aligned(red block, green block, blue block)",
      "place_at: right_of(yellow block, blue block); near(yellow block, blue block); at(yellow block); "
      "aligned(red block, green block, blue block, yellow block)"]),
    ("put the blocks in a row from smallest to largest",
     ["place_at: at(green block)",
      "place_at: right_of(red block, green block); near(red block, green block); at(red block)",
      "place_at: right_of(blue block, red block); near(blue block, red block); at(blue block); "
      "aligned(green block, red block, blue block)",
      "place_at: right_of(yellow block, blue block); near(yellow block, blue block); at(yellow block); "
      "aligned(green block, red block, blue block, yellow block)"]),
    # pushes and shifts
    ("push the red block left", ["push: moved(red block)"]),
    ("shove the blue cube towards me by 3 cm", ["push: moved(blue block)"]),
    ("nudge the yellow block forward a bit", ["push: moved(yellow block)"]),
    ("push the red block towards the green block", ["push: near(red block, green block)"]),
    ("push all blocks 3 cm to the right",
     ["push: moved(red block)", "push: moved(green block)", "push: moved(yellow block)", "push: moved(blue block)"]),
    ("move the red block to the left by 5 cm", ["place_at: moved(red block)"]),
    ("move the red block away from the green block", ["place_at: not near(red block, green block)"]),
    # clearing into a container, quantifiers
    ("put everything in the tray",
     ["place_on: inside(red block, gray tray)", "place_on: inside(green block, gray tray)",
      "place_on: inside(yellow block, gray tray)", "place_on: inside(blue block, gray tray)"]),
    ("clear the table into the bowl",
     ["place_on: inside(red block, blue bowl)", "place_on: inside(green block, blue bowl)",
      "place_on: inside(blue block, blue bowl)", "place_on: inside(yellow block, blue bowl)"]),
    ("tidy up the blocks into the tray",
     ["place_on: inside(red block, gray tray)", "place_on: inside(green block, gray tray)",
      "place_on: inside(yellow block, gray tray)", "place_on: inside(blue block, gray tray)"]),
    ("put the red block in the bowl and the rest in the tray",
     ["place_on: inside(red block, blue bowl)", "place_on: inside(green block, gray tray)",
      "place_on: inside(yellow block, gray tray)", "place_on: inside(blue block, gray tray)"]),
    ("put the largest block in the tray", ["place_on: inside(yellow block, gray tray)"]),
    ("put the leftmost block on the rightmost block", ["place_on: on(red block, blue block)"]),
]

DUPES = [
    ("put two red blocks in the green bowl",
     ["place_on: inside(red block 1, green bowl)", "place_on: inside(red block 2, green bowl)"]),
    ("put both red blocks on the blue plate",
     ["place_on: on(red block 1, blue plate)", "place_on: on(red block 2, blue plate)"]),
    ("put a red block on the blue block", ["place_on: on(red block 1, blue block)"]),
    ("put red block 2 in the bowl", ["place_on: inside(red block 2, green bowl)"]),
    ("put the left red block on the red plate", ["place_on: on(red block 1, red plate)"]),
    ("put the red block on the right in the bowl", ["place_on: inside(red block 2, green bowl)"]),
    ("put all the red blocks in the bowl and then put the rest on the blue plate",
     ["place_on: inside(red block 1, green bowl)", "place_on: inside(red block 2, green bowl)",
      "place_on: on(blue block, blue plate)", "place_on: on(green block, blue plate)"]),
    ("put each cube in the matching container", ["place_on: inside(green block, green bowl)"]),
    ("sort the cubes onto the plates by colour",
     ["place_on: on(red block 1, red plate)", "place_on: on(red block 2, red plate)",
      "place_on: on(blue block, blue plate)"]),
    ("put the blocks on plates of a different color",
     ["place_on: on(red block 1, blue plate)", "place_on: on(red block 2, blue plate)",
      "place_on: on(blue block, red plate)", "place_on: on(green block, red plate)"]),
    ("stack both red blocks and the blue one",
     ["place_on: on(red block 2, red block 1)", "place_on: on(blue block, red block 2)"]),
    ("pick up a red block and place it on the blue plate", ["place_on: on(red block 1, blue plate)"]),
    ("put the blocks away",
     ["place_on: inside(red block 1, green bowl)", "place_on: inside(red block 2, green bowl)",
      "place_on: inside(blue block, green bowl)", "place_on: inside(green block, green bowl)"]),
]


@pytest.mark.parametrize(("instruction", "expected"), MAIN, ids=[i for i, _ in MAIN])
def test_instructions_on_the_main_scene(planner: RulePlanner, instruction: str, expected: list[str]) -> None:
    assert steps(planner.decompose(instruction, main_scene())) == expected


@pytest.mark.parametrize(("instruction", "expected"), DUPES, ids=[i for i, _ in DUPES])
def test_instructions_with_duplicate_objects(planner: RulePlanner, instruction: str, expected: list[str]) -> None:
    assert steps(planner.decompose(instruction, dupes_scene())) == expected


def test_there_are_enough_cases() -> None:
    assert len(MAIN) + len(DUPES) >= 40
    assert len(REJECTS) >= 10


def test_conditions_round_trip_through_the_condition_syntax(planner: RulePlanner) -> None:
    """Plans speak the config's condition language: str() then parse_condition() gives them back."""
    for instruction, _ in MAIN:
        for subgoal in planner.decompose(instruction, main_scene()).subgoals:
            for cond in subgoal.conditions:
                back = parse_condition(str(cond))
                assert (back.predicate, back.args, back.negated) == (cond.predicate, cond.args, cond.negated)
                assert back.params == pytest.approx(cond.params)


def test_numbers_are_metres_in_the_table_frame(planner: RulePlanner) -> None:
    (push,) = planner.decompose("push the green block 5 cm to the right", main_scene()).subgoals
    assert push.args["dx"] == 0.0 and push.args["dy"] == pytest.approx(-0.05)  # right = -y
    (back,) = planner.decompose("push the blue cube towards me by 3 cm", main_scene()).subgoals
    assert back.args["dx"] == pytest.approx(-0.03)  # towards the robot = -x
    (left,) = planner.decompose("put the blue block to the left of the red block", main_scene()).subgoals
    assert left.args["relative_to"] == "red block" and left.args["dy"] > 0.05 and left.args["dx"] == 0.0
    (fwd,) = planner.decompose("slide the green block 0.05 m forward", main_scene()).subgoals
    assert fwd.args["dx"] == pytest.approx(0.05)
    (dflt,) = planner.decompose("push the red block left", main_scene()).subgoals
    assert dflt.args["dy"] == pytest.approx(0.10)


def test_several_things_in_one_container_get_different_slots(planner: RulePlanner) -> None:
    plan = planner.decompose("put everything in the tray", main_scene())
    offsets = {(s.args["dx"], s.args["dy"]) for s in plan.subgoals}
    assert len(offsets) == len(plan.subgoals)
    for dx, dy in offsets:
        assert abs(dx) < 0.08 and abs(dy) < 0.08  # inside the 16 cm tray


def test_slow_words_set_a_speed(planner: RulePlanner) -> None:
    (sub,) = planner.decompose("carefully put the yellow block on the green plate", main_scene()).subgoals
    assert sub.args["speed"] == 0.5


def test_corrections_are_noted(planner: RulePlanner) -> None:
    plan = planner.decompose("plase put the rde block on the bleu block", main_scene())
    assert "'bleu' as 'blue'" in plan.note and "'rde' as 'red'" in plan.note


def test_what_already_holds_is_not_planned(planner: RulePlanner) -> None:
    plan = planner.decompose("put the green block to the right of the red block", main_scene())
    assert plan.subgoals == [] and "already" in plan.note
    assert [str(c) for c in plan.goal] == ["right_of(green block, red block)"]  # still what the run is scored on


def test_the_object_to_pick_is_cleared_first(planner: RulePlanner) -> None:
    obs = main_scene()
    red = obs.objects[0]
    obs.objects[1].position = (red.position[0], red.position[1], 0.04 + 0.0175)  # green sits on red
    plan = planner.decompose("put the red block in the tray", obs)
    assert [s.action for s in plan.subgoals] == ["place_at", "place_on"]
    assert plan.subgoals[0].args["object"] == "green block" and "out of the way" in plan.subgoals[0].description
    assert "inserted" in plan.note


def test_a_blocker_with_its_own_subgoal_goes_first(planner: RulePlanner) -> None:
    obs = main_scene()
    red = obs.objects[0]
    obs.objects[1].position = (red.position[0], red.position[1], 0.04 + 0.0175)
    plan = planner.decompose("put the red block and the green block in the tray", obs)
    assert [s.args["object"] for s in plan.subgoals] == ["green block", "red block"]


def test_grammar_reads_structure_not_sentences() -> None:
    lex = Lexicon.default()
    intents = Grammar().parse(tokenise("stack the blocks: red on top, blue at the bottom", lex).tokens)
    (stack,) = intents
    assert isinstance(stack, Stack)
    assert [(np.colors, pos) for np, pos in stack.positions] == [(["red"], "top"), (["blue"], "bottom")]
    (move,) = Grammar().parse(tokenise("put the block on the plate in the bowl", lex).tokens)
    assert isinstance(move, Move) and move.relation == "in" and move.filters[0][0] == "on"


REJECTS = [
    ("", "empty", main_scene),
    ("please", "no action", main_scene),
    ("asdf qwer zxcv", "no action found", main_scene),
    ("yeet the red block into the bowl", "do not know the action 'yeet'", main_scene),
    ("put the banana in the bowl", "'banana'", main_scene),
    ("put the purple block on the red plate", "no visible object matches", main_scene),
    ("click the OK button", "GUI instruction", main_scene),
    ("type hello into the search box", "GUI instruction", main_scene),
    ("scroll down", "GUI instruction", main_scene),
    ("stack red, green and blue with red at the bottom and red on top", "contradictory", main_scene),
    ("stack the blocks with red at the bottom and blue at the bottom", "contradictory", main_scene),
    ("stack the blocks in the order red, green, blue with green at the bottom", "contradictory", main_scene),
    ("stack the blocks largest first with the green block at the bottom", "contradictory", main_scene),
    ("put the red block", "where should", main_scene),
    ("put the red block on the red block", "itself", main_scene),
    ("push the red block up", "along the table", main_scene),
    ("push the green block", "which way", main_scene),
    ("pick up the blue bowl", "cannot pick up", main_scene),
    ("stack the red block", "at least two", main_scene),
    ("put it in the bowl", "does not refer", main_scene),
    ("clear the table", "several containers", main_scene),
    ("put the red block on the blue block", "ambiguous", dupes_scene),
    ("put three red blocks in the bowl", "only 2", dupes_scene),
]


@pytest.mark.parametrize(("instruction", "fragment", "scene"), REJECTS, ids=[r[0] or "<empty>" for r in REJECTS])
def test_rejects_with_a_clear_message(planner: RulePlanner, instruction: str, fragment: str, scene) -> None:
    with pytest.raises(PlanningError) as info:
        planner.decompose(instruction, scene())
    err = info.value
    assert isinstance(err, EmbodiedError)
    assert fragment in err.problem
    text = str(err)
    assert "instructions I understand" in text and "stack" in text  # the list of forms it knows


def test_unknown_object_suggests_visible_names(planner: RulePlanner) -> None:
    with pytest.raises(PlanningError) as info:
        planner.decompose("put the purple block on the red plate", main_scene())
    assert "red block" in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_ambiguity_lists_the_candidates(planner: RulePlanner) -> None:
    with pytest.raises(PlanningError) as info:
        planner.decompose("put the red block on the blue block", dupes_scene())
    assert info.value.suggestions == ["red block 1", "red block 2"]


def test_a_later_clause_error_says_what_was_understood(planner: RulePlanner) -> None:
    with pytest.raises(PlanningError) as info:
        planner.decompose("put the red block in the bowl, then put the banana on the plate", main_scene())
    assert any("red block" in u for u in info.value.understood)
    assert info.value.not_understood == ["banana"]


def test_a_turned_block_is_not_bigger(planner: RulePlanner) -> None:
    obs = main_scene()
    green = obs.objects[1]
    obs.objects[1] = replace(green, yaw=0.7)  # 3.5 cm, turned: its axis-aligned extent is ~4.9 cm
    plan = planner.decompose("stack all cubes with the largest at the bottom", obs)
    assert [s.args["object"] for s in plan.subgoals] == ["blue block", "red block", "green block"]


def test_random_word_salad_never_crashes(planner: RulePlanner) -> None:
    """Any sequence of known words either plans or raises PlanningError: nothing else escapes."""
    lex = Lexicon.default()
    vocab = sorted({" ".join(words) for entries in lex.phrases.values() for words, _, _ in entries})
    vocab += ["red", "blue", "block", "bowl", "it", "them", "and", ",", "then", "5", "cm", "apple"]
    rng = random.Random(7)
    planned = 0
    for _ in range(300):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 8)))
        try:
            plan = planner.decompose(text, main_scene())
        except PlanningError as err:
            assert err.problem
            continue
        planned += 1
        assert all(s.action in ("pick", "place_on", "place_at", "push") for s in plan.subgoals)
    assert planned > 0
