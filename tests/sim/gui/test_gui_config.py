"""GUI env configs: registry names, backend options validated at load time, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied import backends
from embodied.config import load_config, resolved_dict
from embodied.errors import ConfigError
from sim.gui.browser import BrowserOptions
from sim.gui.config import GuiConfig
from sim.gui.desktop import DesktopOptions

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, env: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("task: {instruction: tap OK}\nenv:\n" + env, encoding="utf-8")
    return path


def test_registries_list_gui_backends_and_monitor() -> None:
    assert {"desktop", "browser", "miniwob", "android"} <= set(backends.registry("gui").names())
    assert "gui" in backends.registry("env") and "screen" in backends.registry("monitor")
    for entry in backends.registry("gui"):
        assert backends.registry("gui").config_model(entry.name) is not None


@pytest.mark.parametrize("name", ["form.yaml", "miniwob_click_button.yaml", "browser_login.yaml"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(ROOT / "configs" / "gui" / name)
    assert cfg.env.kind == "gui"
    assert cfg.env.backend_options() is not None


def test_viewport_and_options_fold_into_backend_options() -> None:
    cfg = GuiConfig(backend="browser", viewport={"width": 390, "height": 844, "mobile": True},
                    options={"device_scale": 2.0})
    opts = cfg.backend_options()
    assert isinstance(opts, BrowserOptions)
    assert (opts.width, opts.height, opts.mobile, opts.device_scale) == (390, 844, True, 2.0)
    desk = GuiConfig(viewport={"width": 640, "height": 480}).backend_options()
    assert isinstance(desk, DesktopOptions) and (desk.width, desk.height) == (640, 480)


def test_config_errors_are_located(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'browser'"):
        load_config(write(tmp_path, "  kind: gui\n  backend: browsr\n"))
    with pytest.raises(ConfigError, match=r"options\.widht"):
        load_config(write(tmp_path, "  kind: gui\n  backend: browser\n  options: {widht: 300}\n"))
    with pytest.raises(ConfigError, match="mobile"):
        load_config(write(tmp_path, "  kind: gui\n  backend: desktop\n  viewport: {mobile: true}\n"))
    with pytest.raises(ConfigError, match="GUI predicates"):
        load_config(write(tmp_path, "  kind: gui\n  success: {conditions: ['on(a, b)']}\n"))
    with pytest.raises(ConfigError, match="task is for backend miniwob"):
        load_config(write(tmp_path, "  kind: gui\n  task: click-test\n"))


def test_secrets_stay_out_of_the_resolved_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUI_TEST_PW", "from-env-pw")
    cfg = load_config(write(tmp_path, "  kind: gui\n  backend: browser\n"
                                      "  secrets: {password: hunter22, pin: 'env:GUI_TEST_PW'}\n"))
    assert cfg.env.secret_values() == {"password": "hunter22", "pin": "from-env-pw"}
    dumped = str(resolved_dict(cfg))
    assert "hunter22" not in dumped and "GUI_TEST_PW" not in dumped
    monkeypatch.delenv("GUI_TEST_PW")
    with pytest.raises(KeyError, match="GUI_TEST_PW"):
        cfg.env.secret_values()


def test_env_adapter_satisfies_the_environment_protocol() -> None:
    from embodied.protocols import Environment
    from sim.gui.env import GuiAgentEnv

    env = GuiAgentEnv(GuiConfig(backend="browser", semantic=False, secrets={"pw": "s3cret-value"}))
    try:
        assert isinstance(env, Environment) and env.domain == "gui"
        api = env.primitives()
        assert api.domain == "gui" and "tap" in api
        assert api.redact(["typed s3cret-value"]) == ["typed ***"]
        assert env.stats()["sim_steps"] == 0
        assert env.expand("{apps}/login.html").endswith("sim/gui/apps/login.html")
    finally:
        env.close()
    assert not env.workdir.exists()
