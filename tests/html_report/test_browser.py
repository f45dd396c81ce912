"""The report in a real browser: Debian's headless Chromium driven by Playwright (never Playwright's own
downloaded browsers). The page is opened from its file; the test checks the rendered DOM (health score,
worst issue, class names), that nothing was requested from the network and nothing logged an error,
that search and sorting work, that dark mode applies, and saves a 1400-pixel-wide screenshot."""

from __future__ import annotations

import os
import shutil

import pytest
from helpers import NAMES, NAMES_FILE, L, P, run

import labelaudit as la

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="needs Debian's chromium (.ci/run installs it: apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory, cifar):
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("browser") / "report.html"
    run(CliRunner(), "report", "-l", L, "-p", P, "--class-names", NAMES_FILE, "-o", out, "--quiet")
    return out


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_page(browser, path, scheme="light"):
    """The page at `path` loaded in a fresh 1400-px-wide context: (page, requests, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    requests: list[str] = []
    problems: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.goto(path.as_uri(), wait_until="load")
    # Polled from Python: the page's Content-Security-Policy forbids the eval of wait_for_function.
    expect(page.locator("#shown")).to_contain_text("matching rows")
    return page, requests, problems


def test_report_in_chromium(browser, page_file, cifar, capsys):
    page, requests, problems = open_page(browser, page_file)
    assert requests == [page_file.as_uri()]  # the page itself, nothing from the network or disk besides
    assert problems == []
    score = la.overall_label_health_score(*cifar)
    assert page.inner_text("#health-score") == f"{score:.4f}" == "0.9756"
    worst = la.find_label_issues(*cifar, return_indices_ranked_by="self_confidence")[0]
    first = page.locator("#issues-body tr").first.locator("td").all_inner_texts()
    y, p = cifar
    assert (
        first[:3]
        == [str(worst), NAMES[y[worst]], NAMES[p[worst].argmax()]]
        == ["3828", "automobile", "airplane"]
    )
    assert page.locator("#issues-body tr").count() == 200  # one page of the 284 rows, drawn by the script
    assert page.inner_text("#shown") == "showing 200 of 284 matching rows"
    classes = page.locator("#classes tbody tr td:first-child").all_inner_texts()
    assert sorted(classes) == sorted(NAMES)
    text = page.inner_text("body")
    assert all(name in text for name in NAMES)
    assert page.locator("svg.heatmap #cell-3-5 text").text_content() == "3.9"  # cats labelled dog, 3.9%
    shot = page_file.with_name("report-1400.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(shot.read_bytes()[16:20], "big")
    assert width == 1400
    with capsys.disabled():  # shown even when pytest captures output
        print(f"\nscreenshot of the report (1400 px wide): {shot}")
    page.context.close()


def test_search_sort_and_show_more(browser, page_file):
    page, _, problems = open_page(browser, page_file)
    page.fill("#q", "frog")
    expect(page.locator("#shown")).not_to_contain_text(" of 284 ")
    rows = page.locator("#issues-body tr")
    n = rows.count()
    assert 0 < n < 284
    for i in range(n):
        assert "frog" in rows.nth(i).inner_text()
    page.fill("#q", "")
    expect(page.locator("#shown")).to_contain_text(" of 284 ")
    page.click("#more")
    assert page.locator("#issues-body tr").count() == 284 and page.locator("#more").is_hidden()
    quality = page.locator("#classes thead th").last
    quality.click()  # ascending: the report's own order (most problematic first)
    first = page.locator("#classes tbody tr td:first-child").first.inner_text()
    quality.click()  # then descending
    assert page.locator("#classes tbody tr td:first-child").first.inner_text() == "horse" and first == "cat"
    assert problems == []
    page.context.close()


def test_dark_mode(browser, page_file):
    colours = {}
    for scheme in ("light", "dark"):
        page, _, problems = open_page(browser, page_file, scheme)
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert problems == []
        page.context.close()
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}
