"""Screenshots of what a student sees, with headless Chromium and the network off.

    python docs/screenshots.py [--demo demo-out] [--docs docs/_build/html] [--out screenshots]

Takes the demo page (``make demo``) at 400 px (a phone) and 1280 px wide, and the derivatives page
of the built docs (``make docs``) at the same widths, full length, into ``--out``. Look at them:
the tests check what can be checked (no sideways scrolling, rendered math, no request leaving the
machine); only a look shows whether a page reads well. ``make screenshots`` runs it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

WIDTHS = (400, 1280)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path():
    """The system's Chromium (Debian's package), or None: Playwright's own download is not used."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright):
    """A headless Chromium from `playwright.sync_api.sync_playwright()`."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def offline(page):
    """Abort every request that is not a local file or localhost; return the list of aborted URLs."""
    blocked = []

    def route(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "about:", "http://localhost", "http://127.0.0.1")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    return blocked


def shoot(browser, url, path, width):
    """A full-length screenshot of `url` at `width` px; returns the URLs it tried to fetch from outside."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    blocked = offline(page)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # math typesetting and lazy images settle
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return blocked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", default="demo-out", help="folder of the demo page (make demo)")
    parser.add_argument("--docs", default="docs/_build/html", help="built docs (make docs)")
    parser.add_argument("--out", default="screenshots", help="folder for the PNGs")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if chromium_path() is None:
        print("screenshots: Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    pages = {
        "demo": Path(args.demo) / "index.html",
        "derivatives": Path(args.docs) / "derivatives.html",
    }
    missing = [str(p) for p in pages.values() if not p.is_file()]
    if missing:
        print(f"screenshots: build these first: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for name, page in pages.items():
            for width in WIDTHS:
                path = out / f"{name}-{width}.png"
                blocked = shoot(browser, page.resolve().as_uri(), path, width)
                note = f" (blocked: {', '.join(blocked)})" if blocked else ""
                print(f"{path}{note}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
