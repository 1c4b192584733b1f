"""HTML reports for a single run and for a sweep, built from real traces: the episodes here run the
real agent loop, sandbox and trace writer on a tiny painting world that renders camera images.
One test opens the report in headless Chromium and checks that every image decodes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from paint_world import make_episode

from embodied.executors import EpisodeJob, LocalExecutor
from embodied.report import Highlighter, ReportError, write_report
from embodied.sweep import plan_sweep, run_sweep
from embodied.trace import write_json_atomic


def episode_worker(job: EpisodeJob) -> dict[str, Any]:
    return make_episode(Path(job.run_dir), job.seed, smudges=1 if job.seed % 2 == 0 else 9)


SWEEP = """\
name: paint
task: {instruction: paint, goal: ["on(red block, blue block)"]}
env:
  kind: tabletop
  objects: [{name: red block}, {name: blue block, color: blue}]
sweep:
  seeds: 0..3
  variants: {agent.repair_budget: [1, 2]}
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sweep")
    (base / "paint.yaml").write_text(SWEEP, encoding="utf-8")
    plan = plan_sweep(base / "paint.yaml", run_dir=base / "out")
    outcome = run_sweep(plan, LocalExecutor(2), worker=episode_worker, progress=False)
    assert outcome.count("done") == 8
    return plan.run_dir


def test_single_run_report_has_plan_code_diff_verdicts_images_and_gif(tmp_path: Path) -> None:
    summary = make_episode(tmp_path / "run")
    assert summary["success"] and summary["repairs"] == 1
    html = write_report(tmp_path / "run").read_text(encoding="utf-8")
    assert "SUCCESS" in html and "paint red then blue" in html
    assert html.count("<li>paint red") == 1 and "paint blue" in html  # the plan
    assert 'class="hl code"' in html and 'class="hl diff"' in html  # highlighted policy and repair diff
    assert "+ i + 1" in html  # the repaired line appears in the diff
    assert "grasp_missed" in html and "✓ ok" in html  # a failed and a passed verdict
    assert "Smudged" in html  # the failing primitive call
    images = re.findall(r'<img src="data:image/(\w+);base64,', html)
    assert images.count("gif") == 1
    assert images.count("jpeg") >= 4  # start, checkpoints, final: colour images only
    assert "src=\"images/" not in html  # nothing referenced outside the file


def test_fallback_highlighter_marks_keywords_strings_and_calls() -> None:
    hl = Highlighter(use_pygments=False)
    out = hl.python('for i in range(3):\n    paint("red", i)  # go\n')
    assert '<span class="k">for</span>' in out and '<span class="s">&quot;red&quot;</span>' in out
    assert '<span class="f">paint</span>' in out and '<span class="c"># go</span>' in out
    diff = hl.diff("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new")
    assert '<span class="gd">-old</span>' in diff and '<span class="gi">+new</span>' in diff


def test_sweep_report_has_table_chart_and_failures_first(sweep_dir: Path) -> None:
    html = write_report(sweep_dir, max_episodes=3).read_text(encoding="utf-8")
    assert "Success by variant and task" in html and "95% CI" in html
    assert "repair_budget=1" in html and "repair_budget=2" in html
    assert 'class="chart" src="data:image/png;base64,' in html
    timelines = re.findall(r'<details class="episode" id="([^"]+)"', html)
    assert len(timelines) == 3
    titles = re.findall(r'<details class="episode"[^>]*><summary>(.)', html)
    assert titles[0] == "✗"  # failures first
    assert html.count("<tr class=") == 8  # every episode is listed


def test_report_of_an_unfinished_episode_shows_why(sweep_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    ep = next((copy / "episodes").glob("*/*/seed-1"))
    (ep / "summary.json").unlink()
    write_json_atomic(ep / "failure.json", {"status": "failed", "reason": "worker process 1 was killed by SIGKILL",
                                            "detail": ""})
    (copy / "results.jsonl").unlink()  # rebuilt from the episode directories
    html = write_report(copy).read_text(encoding="utf-8")
    assert html.count("<tr class=") == 7
    single = write_report(ep).read_text(encoding="utf-8")
    assert "unfinished" in single and "killed by SIGKILL" in single


def test_report_refuses_a_directory_without_runs(tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        write_report(tmp_path)


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def test_every_image_renders_in_headless_chromium(sweep_dir: Path, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian chromium and chromium-driver are not installed")
    from selenium.webdriver.chrome.service import Service

    report = write_report(sweep_dir, max_episodes=4)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,2000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(report.as_uri())
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        state = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            Promise.all(Array.from(document.images).map(i => i.decode().then(() => true, () => false)))
              .then(() => done(Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])));
        """)
    finally:
        driver.quit()
    html = report.read_text(encoding="utf-8")
    assert len(state) == html.count("<img ") > 10
    broken = [s for s in state if not (s[1] and s[2] > 0)]
    assert not broken, broken
