"""Time a labelaudit report page in headless Chromium: `python bench/report_render.py PAGE.html OUT.json`.

Chromium (Debian's /usr/bin/chromium, driven by playwright) is started once, outside the timed region;
each of --loads fresh pages then times `goto` until the page's script has drawn the issue table (the
"showing ... matching rows" line is set last). OUT.json: {"call_s": best load, "loads": [...],
"dom_content_loaded_ms", "load_event_ms"} (the navigation timing of the best load), so bench/harness
reads it like a bench/call.py result.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def main(argv: list[str]) -> int:
    from playwright.sync_api import expect, sync_playwright

    page_path, out = Path(argv[0]).resolve(), Path(argv[1])
    loads = int(argv[2]) if len(argv) > 2 else 3
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    times, timings, problems = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            t0 = time.perf_counter()
            page.goto(page_path.as_uri(), wait_until="load", timeout=60_000)
            expect(page.locator("#shown")).to_contain_text("matching rows", timeout=60_000)
            times.append(time.perf_counter() - t0)
            nav = page.evaluate(
                "(() => { const e = performance.getEntriesByType('navigation')[0];"
                " return [e.domContentLoadedEventEnd, e.loadEventEnd]; })()"
            )
            timings.append(nav)
            context.close()
        browser.close()
    best = min(range(loads), key=times.__getitem__)
    doc = {
        "call_s": times[best],
        "loads": times,
        "dom_content_loaded_ms": timings[best][0],
        "load_event_ms": timings[best][1],
        "console_errors": problems,
        "page_bytes": page_path.stat().st_size,
    }
    out.write_text(json.dumps(doc) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
