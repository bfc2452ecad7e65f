"""`evalkit view` in a real browser: Debian's headless Chromium driven by Playwright over real run directories.

The walk a user takes: the runs list (with a training run's curves), filter a run to its wrong answers, open a
sample and see its math typeset and the grader's reason, compare two runs and open a problem of the "only B"
cell side by side. Hostile samples (<script>, javascript: links, HTML, a million characters) must show as text
and run nothing. Screenshots of each view are saved in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from view_runs import HOSTILE_COMPLETIONS, HOSTILE_ID, snapshot

from reports.stats import mcnemar_exact

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000


def chromium() -> str:
    path = os.environ.get("EVALKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no Chromium installed (apt-get install chromium; tests/install_and_run.sh does it as root); "
                    "the browser tests of evalkit view are skipped")
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


class Page:
    """A browser tab that records what must never happen: script errors, dialogs, CSP violations."""

    def __init__(self, context, base: str, shots: Path) -> None:
        self.page = context.new_page()
        self.base = base
        self.shots = shots
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)

    def open(self, fragment: str, ready: str = "main h1") -> None:
        self.page.goto(self.base + fragment)
        self.page.wait_for_selector(ready)

    def text(self, selector: str = "main") -> str:
        return self.page.inner_text(selector)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def assert_clean(self) -> None:
        assert self.page.evaluate("window.__pwned") is None
        assert self.problems == []


@pytest.fixture
def tab(browser, server, tmp_path) -> Iterator[Page]:
    page = Page(browser, server.url, tmp_path)
    yield page
    page.assert_clean()
    page.page.close()


def samples_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def route(*segments: str) -> str:
    return "#/" + "/".join(quote(s, safe="") for s in segments)


def test_runs_list_shows_every_run_and_the_training_curves(tab, view_root):
    tab.open("#/", ready="table.runs")
    metrics = json.loads((view_root / "runs" / "qwen-n8" / "metrics.json").read_text())["math"]
    row = tab.page.locator("table.runs tr", has_text="qwen-n8").first.inner_text()
    lo, hi = metrics["accuracy_ci95"]
    assert f"{100 * metrics['accuracy']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" in row
    assert f"pass@8 {100 * metrics['pass@8']:.1f}%" in row and f"maj@8 {100 * metrics['maj@8']:.1f}%" in row
    assert "complete" in row and "0.7" in row  # the temperature, a setting that differs between runs
    assert "Training runs" in tab.text() and "train-grpo" in tab.text("table.training")
    titles = tab.page.locator("figure.chart .ev-title").all_inner_texts()
    assert {"reward", "entropy", "held-out accuracy", "KL to start"} <= set(titles)
    assert tab.page.locator("figure.chart polyline").count() == len(titles)
    tab.shot("runs")


def test_filter_to_wrong_answers_and_open_a_sample(tab, view_root):
    tab.open("#/", ready="table.runs")
    tab.page.locator("table.runs tr", has_text="ckpt/step-100").get_by_role("link", name="math").click()
    tab.page.wait_for_selector("table.samples")
    tab.page.get_by_label("verdict").select_option("wrong")
    tab.page.wait_for_function("location.hash.includes('verdict=wrong')")
    tab.page.wait_for_selector("text=samples match")
    wrong = [s for s in samples_of(view_root / "runs" / "ckpt" / "step-100") if not s["correct"]]
    assert f"{len(wrong)} samples match" in tab.text(".summary")
    marks = tab.page.locator("table.samples tbody tr td:nth-child(3)").all_inner_texts()
    assert marks == ["✗"] * len(wrong)
    tab.shot("wrong-answers")
    tab.page.get_by_role("link", name="test/prealgebra/795.json").click()
    tab.page.wait_for_selector(".panel .verdict")
    sample = next(s for s in wrong if s["problem_id"] == "test/prealgebra/795.json")
    assert "wrong" in tab.text(".verdict") and sample["reason"] in tab.text("dd.reason")
    extracted, gold = tab.page.locator(".ev-box.extracted"), tab.page.locator(".ev-box.gold")
    assert extracted.locator(".katex").count() == 1 and gold.locator(".katex").count() == 1  # typeset, not raw
    assert "\\frac" not in gold.inner_text()
    question = tab.page.locator(".panel", has_text="Problem").first
    assert question.locator(".katex").count() == 1  # $.0\overline{3} \div .\overline{03}$, typeset
    assert "\\overline" not in question.inner_text()
    gold.get_by_role("button", name="raw text").click()
    assert "1\\frac{1}{10}" in gold.inner_text()
    turns = tab.page.locator(".turn .role").all_inner_texts()
    assert turns == ["SYSTEM", "USER"]
    tab.page.get_by_role("button", name="exact text sent").click()
    assert "<|im_start|>user" in tab.text(".panel:has-text('Prompt')")
    tab.shot("sample")


def test_hostile_samples_show_as_text_and_run_nothing(tab, view_root):
    for index, completion in enumerate(HOSTILE_COMPLETIONS):
        tab.open(route("sample", "qwen-n8", "math", HOSTILE_ID, str(index)), ready=".panel .verdict")
        main = tab.page.locator("main")
        assert main.locator("script, img, iframe, object, embed, svg[onload], [onerror], [onload]").count() == 0
        assert tab.page.locator("a[href^='javascript'], a[href^='http'], a[href^='data']").count() == 0
        assert "<script>window.__pwned" in tab.text(".panel:has-text('Problem')")
        assert "<img src=x onerror=" in tab.text(".panel:has-text('Problem')")
        if index == 0:
            assert "<script>window.__pwned" in tab.text(".panel:has-text('Completion')")
            assert "<iframe src=\"javascript:" in tab.text(".panel:has-text('Completion')")
        if index == 1:
            assert "[click](javascript:" in tab.text(".panel:has-text('Completion')")
            assert "\\href{javascript:" in tab.text(".ev-box.extracted")  # not typeset into a link
        if index == 2:
            think = tab.page.locator("details.think")
            assert think.get_attribute("open") is None and "reasoning" in think.locator("summary").inner_text()
            think.locator("summary").click()
            assert "<img src=x onerror=" in think.inner_text()
            assert "<svg onload=" in tab.text(".ev-box.extracted")
        if index == 3:
            completion_panel = tab.page.locator(".panel", has_text="Completion")
            shown = completion_panel.locator(".longtext > .ev-text, .longtext > .ev-raw").first
            assert len(shown.inner_text()) == 20_000
            completion_panel.get_by_role("button", name="show all").click()
            tab.page.wait_for_function(f"e => e.textContent.length === {len(completion)}", arg=shown.element_handle())
            assert completion_panel.get_by_role("button", name="show all").count() == 0
            assert shown.evaluate("e => e.textContent") == completion
        tab.page.wait_for_timeout(200)  # anything that could run has had its chance
        assert tab.page.evaluate("window.__pwned") is None
    tab.shot("hostile")


def test_compare_two_runs_and_open_a_problem_from_only_b(tab, view_root):
    tab.open("#/", ready="form.compareform")
    tab.page.get_by_label("run A").select_option("ckpt/step-100")
    tab.page.get_by_label("run B").select_option("ckpt/step-200")
    tab.page.get_by_role("button", name="Compare").click()
    tab.page.wait_for_selector(".cells")
    a = {s["problem_id"]: s["correct"] for s in samples_of(view_root / "runs" / "ckpt" / "step-100")}
    b = {s["problem_id"]: s["correct"] for s in samples_of(view_root / "runs" / "ckpt" / "step-200")}
    only_b = sorted(p for p in a if b[p] and not a[p])
    only_a = [p for p in a if a[p] and not b[p]]
    cells = dict(zip(tab.page.locator(".cells a.cell").all_inner_texts(), range(4), strict=True))
    assert {text.split("\n")[1]: int(text.split("\n")[0]) for text in cells} == {
        "both right": sum(a[p] and b[p] for p in a), "only A right": len(only_a), "only B right": len(only_b),
        "both wrong": sum(not a[p] and not b[p] for p in a)}
    test_line = tab.text("p.test")
    assert "exact McNemar" in test_line and f"p = {mcnemar_exact(len(only_b), len(only_a)):.4f}" in test_line
    assert "not significant" in test_line
    tab.page.locator(".cells a.cell", has_text="only B right").click()
    tab.page.wait_for_function("location.hash.includes('cell=only_b')")
    tab.page.wait_for_selector("h2:has-text('only B right')")
    listed = tab.page.locator("table.cell-problems tbody tr td:first-child").all_inner_texts()
    assert sorted(listed) == only_b
    tab.shot("compare")
    tab.page.get_by_role("link", name=listed[0]).click()
    tab.page.wait_for_selector(".pair .side-B .panel")
    assert "✗" in tab.text(".side-A .panel .head") and "✓" in tab.text(".side-B .panel .head")
    assert tab.page.locator(".panel", has_text="gold:").locator(".katex").count() >= 1 or \
        "gold:" in tab.text(".panel")
    tab.shot("pair")


def test_every_view_reopens_from_its_link(browser, server, tmp_path):
    first = Page(browser, server.url, tmp_path)
    first.open(route("run", "qwen-n8", "math") + "?view=problems&verdict=wrong&label.level=5&sort=accuracy",
               ready="table.problems")
    link = first.page.url
    shown = first.text("table.problems")
    second = Page(browser, server.url, tmp_path)  # a colleague opening the shared link
    second.page.goto(link)
    second.page.wait_for_selector("table.problems")
    assert second.text("table.problems") == shown
    assert second.page.get_by_label("level").input_value() == "5"
    assert second.page.get_by_label("verdict").input_value() == "wrong"
    for fragment in (route("sample", "ckpt/step-100", "math", "test/prealgebra/795.json", "0"),
                     route("compare", "ckpt/step-100", "ckpt/step-200", "math") + "?cell=only_a",
                     route("pair", "ckpt/step-100", "ckpt/step-200", "math", "test/prealgebra/795.json")):
        second.open(fragment)
        assert "error" not in (second.page.locator("main p.ev-error").all_inner_texts() or ["fine"])[0]
    second.open("#/nonsense/route", ready="main p.ev-error")
    assert "matches no view" in second.text()
    for page in (first, second):
        page.assert_clean()
        page.page.close()


def test_a_code_sample_shows_the_code_and_the_tests(tab, code_run, server):
    tab.open(route("sample", "code", "humanevalplus", "HumanEval/9", "0"), ready="table.tests")
    tests = tab.page.locator("table.tests tbody tr").all_inner_texts()
    assert tests[0].startswith("base") and "failed" in tests[0] and "input 0 failed" in tests[0]
    assert "IndexError" in tests[0] and tests[1].startswith("plus") and "all inputs passed" in tests[1]
    assert "def rolling_max" in tab.text(".ev-box.extracted pre")
    tab.shot("code")


def test_the_browser_session_wrote_nothing(view_root, browser, server):
    before = snapshot(view_root / "runs")
    page = Page(browser, server.url, view_root)
    page.open(route("run", "qwen-n8", "math") + "?q=composite", ready="table.samples")
    page.open(route("sample", "qwen-n8", "math", HOSTILE_ID, "3"), ready=".panel .verdict")
    page.page.close()
    assert snapshot(view_root / "runs") == before


@pytest.fixture(scope="module")
def smollm_run(tmp_path_factory, smollm2_gguf, shared_data) -> Path:
    """A real `evalkit run` of SmolLM2-135M through llama.cpp: two MATH-500 problems, 32 tokens, one thread
    (on a shared 2-core machine, llama.cpp's threads wait on each other)."""
    pytest.importorskip("llama_cpp")
    from evalkit.engines import EngineOptions
    from evalkit.runner import RunSettings, run
    from evalkit.schema import SamplingConfig

    out = tmp_path_factory.mktemp("smollm") / "runs" / "smollm2"
    run(RunSettings(model="smollm2-135m", benchmarks=["math500"], engine="llamacpp", limit=2,
                    sampling=SamplingConfig(max_tokens=32), data_dir=shared_data, output=out,
                    engine_options=EngineOptions(threads=1, max_model_len=1024)))
    return out


def test_a_real_smollm2_run_opens_in_the_browser(browser, smollm_run, tmp_path):
    from reports.view.discover import discover
    from reports.view.server import start

    server = start(discover([str(smollm_run)]))
    page = Page(browser, server.url, tmp_path)
    try:
        page.open("#/", ready="table.runs")
        row = page.text("table.runs")
        assert "smollm2" in row and "SmolLM2-135M-Instruct" in row and "math500" in row
        page.page.get_by_role("link", name="math500").click()
        page.page.wait_for_selector("table.samples")
        assert "2 samples match" in page.text(".summary")
        link = page.page.locator("table.samples tbody tr a").first
        first = next(s for s in samples_of(smollm_run)
                     if s["benchmark"] == "math500" and s["problem_id"] == link.inner_text())
        link.click()
        page.page.wait_for_selector(".panel .verdict")
        assert page.page.locator(".turn .role").all_inner_texts() == ["SYSTEM", "USER"]  # SmolLM2's own template
        completion = page.page.locator(".panel", has_text="Completion").locator(".longtext").first
        raw = completion.get_by_role("button", name="raw text")
        if raw.count():
            raw.click()
        assert completion.locator(".ev-raw, .ev-text").first.text_content() == first["completion"]
        assert first["reason"] in page.text("dd.reason")
        page.shot("smollm2")
        page.assert_clean()
    finally:
        page.page.close()
        server.stop()
