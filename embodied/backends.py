"""Every backend name, in one place. Config validation and the factories both read these
registries, so a name is written exactly once. A backend with options registers their typed config
(``config=``), validated when a config is loaded; ``needs`` names the shared objects of a run it is
built with (``model``, ``kit``, ``policy``)."""

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
ENVS.register("robot", "robots.real_env:RobotEnv", config="robots.real_env:RobotEnvConfig",
              summary="a real (or stand-in) arm through SafeRobot, locally or at a robot server, with cameras")

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

DRIVERS = _make("driver")
DRIVERS.register("sim_panda", "robots.sim_arm:RealtimeSimPanda",
                 summary="the PyBullet Panda in real time as a stand-in arm (for the robot server)")
DRIVERS.register("xarm", "robots.drivers.xarm:XArmDriver",
                 summary="UFACTORY xArm + xArm Gripper via xarm-python-sdk (extra: xarm; not tested on hardware)")

CAMERAS = _make("camera")
CAMERAS.register("remote", "robots.cameras:RemoteCamera", summary="a camera attached to the robot server")
CAMERAS.register("opencv", "robots.cameras:OpenCVCamera", summary="any cv2.VideoCapture device (RGB)")
CAMERAS.register("realsense", "robots.cameras:RealSenseCamera",
                 summary="Intel RealSense RGB-D via pyrealsense2 (extra: realsense)")
CAMERAS.register("pybullet", "robots.cameras:PyBulletCamera", summary="a rendered camera on a PyBullet client")

DETECTORS = _make("detector")
DETECTORS.register("rgbd", "perception.detection:RGBDDetector",
                   summary="colour + depth segmentation of camera images, back-projected to 3-D")

DOMAINS = _make("domain")
DOMAINS.register("tabletop", "planners.kits.tabletop.kit:KIT",
                 summary="a robot arm over a table: pick, place, push objects seen by cameras")
DOMAINS.register("gui", "planners.kits.gui.kit:KIT", summary="a screen operated by tapping, typing, scrolling and keys")

PLANNERS = _make("planner")
PLANNERS.register("rule", "embodied.domain:rule_planner", needs=("kit",),
                  summary="the domain kit's model-free planner (tabletop grammar; GUI grammar revised per screen)")
PLANNERS.register("fixed", "planners.fixed:FixedPlanner", needs=("policy",), summary="one subgoal running task.policy")
PLANNERS.register("llm", "planners.llm:LLMPlanner", needs=("model", "kit"),
                  config="planners.llm.config:LLMPlannerConfig",
                  summary="a language model decomposes and revises (D-PoT)")
PLANNERS.register("hybrid", "planners.hybrid:HybridPlanner", needs=("model", "kit"),
                  config="planners.llm.config:HybridPlannerConfig",
                  summary="the grammar first; a language model reads what it cannot, and replans when it gives up")

WRITERS = _make("writer")
WRITERS.register("rule", "embodied.domain:rule_writer", needs=("kit",),
                 summary="the domain kit's policy templates per action")
WRITERS.register("fixed", "planners.fixed:FixedWriter", needs=("policy",), summary="returns task.policy unchanged")
WRITERS.register("llm", "planners.llm:LLMWriter", needs=("model", "kit"),
                 config="planners.llm.config:LLMWriterConfig", summary="a language model writes the code policy")
WRITERS.register("rule_or_llm", "planners.hybrid:TemplateOrModelWriter", needs=("model", "kit"),
                 config="planners.llm.config:LLMWriterConfig",
                 summary="the kit's templates for typed steps, a language model for steps the domain has no action for")

REPAIRERS = _make("repairer")
REPAIRERS.register("rule", "embodied.domain:rule_repairer", needs=("kit",),
                   summary="the domain kit's repairs keyed by failure category")
REPAIRERS.register("fixed", "planners.fixed:NoRepair", summary="never repairs")
REPAIRERS.register("llm", "planners.llm:LLMRepairer", needs=("model", "kit"),
                   config="planners.llm.config:LLMRepairerConfig", summary="a language model repairs the failing code")
REPAIRERS.register("rule_or_llm", "planners.hybrid:RuleOrModelRepairer", needs=("model", "kit"),
                   config="planners.llm.config:LLMRepairerConfig",
                   summary="the kit's repairs for template policies, a language model for the rest")

MONITORS = _make("monitor")
MONITORS.register("trace", "perception.monitors:TraceMonitor", config="perception.config:TraceMonitorConfig",
                  summary="exceptions, failed primitives, budgets")
MONITORS.register("geometric", "perception.monitors:GeometricMonitor",
                  config="perception.config:GeometricMonitorConfig",
                  summary="subgoal predicates on object poses estimated from images")
MONITORS.register("screen", "perception.screen_monitor:ScreenMonitor",
                  config="perception.config:ScreenMonitorConfig",
                  summary="GUI predicates (text_visible, checked, field_value, ...) on the checkpoint screen")
MONITORS.register("conditions", "perception.kit_monitor:ConditionMonitor", needs=("kit",),
                  summary="the subgoal's conditions judged by its domain kit's own predicate evaluator")
MONITORS.register("vlm", "perception.vlm:VLMMonitor", needs=("model",), config="perception.config:VLMMonitorConfig",
                   summary="a vision-language model judges checkpoint images")

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

COMMANDS = _make("command")
COMMANDS.register("robot", "robots.cli:main",
                  summary="real robots: serve a driver, run an episode, calibrate cameras (embodied robot --help)")
