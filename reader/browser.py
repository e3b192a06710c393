"""Check a built site in a real browser: Debian's headless Chromium, driven by selenium.

    python -m reader.browser build/site [--screenshot-lesson NAME]

Every page is loaded from a local http.server on 127.0.0.1, with every other host unreachable,
and checked for: console errors, requests that left the local server, images that did not load,
math that MathJax left as raw `$...$` or could not typeset, local links that do not resolve, and
(on lesson pages) a solution reveal that opens, within a phone's screen, and closes. A screenshot
of one lesson page, as a phone and as a desktop screen show it, is saved into the site folder.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage",
                  # Any host but the local server fails to resolve, so a stray fetch shows up as an
                  # error.
                  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
PHONE = (412, 915)  # CSS pixels of a common phone screen
DESKTOP = (1280, 1600)
MATH_TIMEOUT = 60  # seconds MathJax may take to typeset one page

# Markdown text still holding TeX delimiters after MathJax has run, and MathJax's error marks.
RAW_MATH_JS = """
const texts = [...document.querySelectorAll('.jp-RenderedMarkdown, .reader-map')].map(e => e.innerText);
const raw = texts.join('\\n').match(/\\$[^$\\n]+\\$|\\\\\\(|\\\\\\[/g) || [];
return {raw: raw, typeset: document.querySelectorAll('.MathJax, .MathJax_Display').length,
        errors: document.querySelectorAll('.MathJax_Error, .merror, .noError').length};
"""  # noqa: E501 - JavaScript the browser runs, kept as written
BROKEN_IMAGES_JS = """
return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80));
"""  # noqa: E501 - JavaScript the browser runs, kept as written
FITS_SCREEN_JS = ("return arguments[0].getBoundingClientRect().right <= "
                  "document.documentElement.clientWidth;")
WAIT_FOR_MATH_JS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.Hub) { done(false); } else { MathJax.Hub.Queue(() => done(true)); }
"""


@dataclass
class PageReport:
    """What one page did in the browser; `problems()` is empty for a good page."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    mathjax_loaded: bool = False
    math_typeset: int = 0
    math_errors: int = 0
    raw_math: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # nav role (previous/home/next) -> page
    broken_links: list[str] = field(default_factory=list)
    reveal: bool | None = None  # None: the page has no solution to reveal

    def problems(self) -> list[str]:
        found = [f"console error: {e}" for e in self.console_errors]
        found += [f"request outside the site: {u}" for u in self.external_requests]
        found += [f"image did not load: {src}" for src in self.broken_images]
        found += [f"raw math left in the text: {m}" for m in self.raw_math]
        found += [f"link does not resolve: {href}" for href in self.broken_links]
        if not self.mathjax_loaded:
            found.append("MathJax did not load")
        if self.math_errors:
            found.append(f"{self.math_errors} formulas MathJax could not typeset")
        if self.reveal is False:
            found.append("the solution reveal did not show the solution within the screen and hide "
                         "it")
        return [f"{self.page}: {p}" for p in found]


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """A static file server for `site` on 127.0.0.1 (a free port); yields its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def handle(self) -> None:  # the browser may drop a connection when it leaves a page
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def missing_browser() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        return (f"missing {', '.join(missing)}: run `make system-deps` (Debian packages chromium, "
                "chromium-driver)")
    return None


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, logging the console and the network."""
    if reason := missing_browser():
        raise RuntimeError(reason)
    profile = tempfile.mkdtemp(prefix="reader-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_script_timeout(MATH_TIMEOUT)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """URLs the page requested since the last call (from Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def link_resolves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_reveal(driver: webdriver.Chrome) -> bool | None:
    """Click the first solution reveal open and closed; None when the page has none.

    Pages are checked at a phone's width: an open solution wider than the screen is cut off."""
    reveals = driver.find_elements(By.CSS_SELECTOR, "details.reader-solution")
    if not reveals:
        return None
    summary = reveals[0].find_element(By.TAG_NAME, "summary")
    body = reveals[0].find_element(By.CSS_SELECTOR, ".reader-solution-body")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
    hidden_at_first = not body.is_displayed()
    summary.click()
    shown = body.is_displayed() and driver.execute_script(FITS_SCREEN_JS, body)
    summary.click()
    return hidden_at_first and shown and not body.is_displayed()


def check_page(driver: webdriver.Chrome, base: str, page: str) -> PageReport:
    report = PageReport(page)
    driver.get_log("browser"), driver.get_log("performance")  # drop what earlier pages left
    driver.get(urljoin(base, page))
    report.mathjax_loaded = bool(driver.execute_async_script(WAIT_FOR_MATH_JS))
    math = driver.execute_script(RAW_MATH_JS)
    report.raw_math, report.math_typeset, report.math_errors = (math["raw"], math["typeset"],
                                                                math["errors"])
    report.images = len(driver.find_elements(By.TAG_NAME, "img"))
    report.broken_images = driver.execute_script(BROKEN_IMAGES_JS)
    for role in ("previous", "home", "next"):
        found = driver.find_elements(By.CSS_SELECTOR, f"nav.reader-nav-top a.reader-{role}")
        if found:
            report.links[role] = found[0].get_attribute("href").removeprefix(base)
    hrefs = {urldefrag(a.get_attribute("href"))[0]
             for a in driver.find_elements(By.CSS_SELECTOR, "a[href]")}
    report.broken_links = sorted(h for h in hrefs if h.startswith(base) and not link_resolves(h))
    report.reveal = check_reveal(driver)
    report.console_errors = [e["message"] for e in driver.get_log("browser")
                             if e["level"] == "SEVERE"]
    local = urlparse(base).netloc
    report.external_requests = [u for u in requested_urls(driver)
                                if not u.startswith("data:") and urlparse(u).netloc != local]
    return report


def screenshot(driver: webdriver.Chrome, base: str, page: str, path: Path,
               size: tuple[int, int]) -> None:
    driver.set_window_size(*size)
    driver.get(urljoin(base, page))
    driver.execute_async_script(WAIT_FOR_MATH_JS)
    driver.save_screenshot(str(path))


def check_site(site: Path, screenshot_lesson: str | None = None) -> list[PageReport]:
    """Load every page of `site` in the browser; save screenshots of one lesson page into `site`.

    The screenshot shows `screenshot_lesson` (default: the first lesson) as `screenshot.png`
    (desktop) and `screenshot-phone.png`."""
    pages = ["index.html", *sorted(p.name for p in site.glob("*.html") if p.name != "index.html")]
    lesson = (f"{screenshot_lesson}.html" if screenshot_lesson else pages[1] if len(pages) > 1
              else None)
    with serve(site) as base, chromium() as driver:
        driver.set_window_size(*PHONE)
        reports = [check_page(driver, base, page) for page in pages]
        if lesson:
            screenshot(driver, base, lesson, site / "screenshot-phone.png", PHONE)
            screenshot(driver, base, lesson, site / "screenshot.png", DESKTOP)
    return reports


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reader.browser",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. build/site")
    parser.add_argument("--screenshot-lesson", help="the lesson to screenshot (default: the first)")
    args = parser.parse_args(argv)
    reports = check_site(args.site.resolve(), args.screenshot_lesson)
    problems = [p for r in reports for p in r.problems()]
    for r in reports:
        print(f"{r.page}: {r.images} images, {r.math_typeset} formulas, reveal "
              f"{'n/a' if r.reveal is None else 'ok' if r.reveal else 'BROKEN'}, links {r.links}")
    print("\n".join(problems) or f"all {len(reports)} pages pass; screenshots in {args.site}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
