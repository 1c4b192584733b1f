"""Every backend name, in one place. Config validation and the factories both read these
registries, so a name is written exactly once."""

from __future__ import annotations

from embodied.registry import Registry

_REGISTRIES: dict[str, Registry] = {}


def _make(kind: str) -> Registry:
    reg = Registry(kind)
    _REGISTRIES[kind] = reg
    return reg


ENVS = _make("env")
ENVS.register("tabletop", "sim.tabletop.env:TabletopEnv", config="sim.tabletop.config:TabletopConfig",
              summary="PyBullet table with a Franka Panda and configurable objects")
ENVS.register("gui", "sim.gui.env:GuiAgentEnv", config="sim.gui.config:GuiConfig",
              summary="a screen (desktop, browser, MiniWoB++, Android) driven through GUI primitives")

GUIS = _make("gui")
GUIS.register("desktop", "sim.gui.desktop:DesktopEnv", config="sim.gui.desktop:DesktopOptions",
              summary="X11 desktop (own Xvfb when headless): xdotool input, OCR + OpenCV elements")
GUIS.register("browser", "sim.gui.browser:BrowserEnv", config="sim.gui.browser:BrowserOptions",
              summary="headless Chromium via Selenium, DOM elements, optional phone viewport with touch")
GUIS.register("miniwob", "sim.gui.miniwob:MiniWobEnv", config="sim.gui.miniwob:MiniWobOptions",
              summary="MiniWoB++ tasks from the miniwob package, rewarded by the task's own JavaScript")
GUIS.register("android", "sim.gui.android:AndroidEnv", config="sim.gui.android:AndroidOptions",
              summary="Android device or emulator over adb: screencap, uiautomator dump, input events")

ROBOTS = _make("robot")
ROBOTS.register("panda", "robots.panda:PandaArm", summary="Franka Panda in PyBullet")

DETECTORS = _make("detector")
DETECTORS.register("rgbd", "perception.detection:RGBDDetector",
                   summary="colour + depth segmentation of camera images, back-projected to 3-D")

PLANNERS = _make("planner")
PLANNERS.register("rule", "planners.domains:rule_planner",
                  summary="model-free grammar planner (tabletop or GUI, by the env's domain)")
PLANNERS.register("fixed", "planners.fixed:FixedPlanner", summary="one subgoal running task.policy")
PLANNERS.register("llm", "planners.llm:LLMPlanner", summary="a language model decomposes and revises (D-PoT)")
PLANNERS.register("hybrid", "planners.hybrid:HybridPlanner",
                  summary="the grammar first; a language model reads what it cannot, and replans when it gives up")
PLANNERS.register("gui_rule", "planners.gui:GuiRulePlanner",
                  summary="model-free GUI grammar planner, revised from each new screen (D-PoT) with loop detection")

WRITERS = _make("writer")
WRITERS.register("rule", "planners.domains:rule_writer", summary="policy templates per action (by domain)")
WRITERS.register("fixed", "planners.fixed:FixedWriter", summary="returns task.policy unchanged")
WRITERS.register("llm", "planners.llm:LLMWriter", summary="a language model writes the code policy")
WRITERS.register("gui_rule", "planners.gui:GuiTemplateWriter", summary="GUI policy templates per action")

REPAIRERS = _make("repairer")
REPAIRERS.register("rule", "planners.domains:rule_repairer",
                   summary="repairs keyed by failure category (by domain)")
REPAIRERS.register("fixed", "planners.fixed:NoRepair", summary="never repairs")
REPAIRERS.register("llm", "planners.llm:LLMRepairer", summary="a language model repairs the failing code")
REPAIRERS.register("gui_rule", "planners.gui:GuiRepairer",
                   summary="GUI repairs by failure category: re-match, scroll, wait, act another way")

MONITORS = _make("monitor")
MONITORS.register("trace", "perception.monitors:TraceMonitor", summary="exceptions, failed primitives, budgets")
MONITORS.register("geometric", "perception.monitors:GeometricMonitor",
                  summary="subgoal predicates on object poses estimated from images")
MONITORS.register("screen", "perception.screen_monitor:ScreenMonitor",
                  summary="GUI predicates (text_visible, checked, field_value, ...) on the checkpoint screen")
MONITORS.register("vlm", "perception.vlm:VLMMonitor", summary="a vision-language model judges checkpoint images")

MODELS = _make("model")
MODELS.register("openai", "embodied.models.openai_compat:OpenAIChatModel",
                summary="any OpenAI-compatible /v1/chat/completions endpoint (vLLM, Ollama, transformers serve, APIs)")
MODELS.register("transformers", "embodied.models.transformers_backend:TransformersChatModel",
                summary="a local transformers checkpoint or GGUF file, text or vision-language, in process")
MODELS.register("llamacpp", "embodied.models.llamacpp:LlamaCppChatModel",
                summary="a GGUF model (catalog name or path) on llama.cpp, JSON-schema decoding, one shared server")
MODELS.register("replay", "embodied.models.replay:ReplayChatModel",
                summary="records requests/responses to a JSONL cassette and replays them bit-exactly")

EXECUTORS = _make("executor")
EXECUTORS.register("local", "embodied.executors:LocalExecutor", summary="worker processes on this machine")
EXECUTORS.register("ray", "embodied.executors:RayExecutor", summary="Ray tasks on a local or remote cluster")


def registry(kind: str) -> Registry:
    return _REGISTRIES[kind]


def kinds() -> list[str]:
    return sorted(_REGISTRIES)
