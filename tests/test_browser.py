"""The built book in a real browser: headless Chromium reads every page off 127.0.0.1.

A reader's browser, not the HTML source, decides whether the equations show, the solutions
stay hidden and the links go somewhere. The built ``_build/html`` (tests/conftest.py's one
build of the session, or ``--book-html DIR`` to read a build made before) is served by a
``http.server`` thread; Debian's ``chromium``, driven by Playwright (never Playwright's own
browser download), visits every page once, then the search page, then three pages in the
light and the dark theme for screenshots. Host names other than 127.0.0.1 do not resolve in
that browser, so a page that needs the network fails here as it would offline.

The screenshots and ``summary.json`` (pages visited, equations typeset, requests seen) go to
``_build/browser/`` of the repository; the paths are printed at the end of the run.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml
from conftest import BROWSER_SUMMARY
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
ARTEFACTS = ROOT / "_build" / "browser"
HOST = "127.0.0.1"
SCREENSHOT_PAGES = ("book/intro.html", "book/memory.html", "book/rules_of_thumb.html")
THEMES = ("light", "dark")
SEARCH_TERM = "receptive field"
SEARCH_HIT = "book/receptive_fields.html"
RAW_TEX = ("\\[", "\\(", "$$")
NOT_PAGES = ("_static", "_sources", "_images", "jupyter_execute")


# -- what the browser runs on each page ---------------------------------------------------

WAIT_FOR_MATHJAX = """async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; return true; }
  return false;
}"""

READ_PAGE = """() => {
  const article = document.querySelector('article') || document.body;
  const maths = [...document.querySelectorAll('.math.notranslate')];
  const visible = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: true})
      && el.getBoundingClientRect().height > 0;
  return {
    url: location.href,
    ids: [...document.querySelectorAll('[id]')].map(e => e.id)
        .concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
    links: [...document.querySelectorAll('a[href], link[rel=next], link[rel=prev]')]
        .map(a => a.href),
    math: maths.length,
    math_untypeset: maths.filter(m => !m.querySelector('mjx-container'))
        .map(m => m.textContent.trim().slice(0, 80)),
    typeset: document.querySelectorAll('mjx-container').length,
    math_errors: [...document.querySelectorAll('mjx-merror')]
        .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120)),
    images: [...article.querySelectorAll('img')].map(img => ({
        src: img.getAttribute('src'), url: img.src, alt: img.getAttribute('alt'),
        loaded: img.complete && img.naturalWidth > 0})),
    solutions: [...document.querySelectorAll('.solution')].map(s => ({
        id: s.id,
        shown: [...s.children].filter(c => !c.classList.contains('admonition-title'))
            .some(visible)})),
    theme: document.documentElement.dataset.theme || '',
  };
}"""

SOLUTION_SHOWN = """(index) => {
  const s = document.querySelectorAll('.solution')[index];
  const visible = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: true})
      && el.getBoundingClientRect().height > 0;
  return [...s.children].filter(c => !c.classList.contains('admonition-title')).some(visible);
}"""

RAW_TEX_IN_TEXT = """(marks) => {
  const skip = 'pre, code, kbd, samp, script, style, textarea, mjx-container, .highlight';
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility()) continue;
    const text = node.textContent;
    if (marks.some(m => text.includes(m))) found.push(text.trim().slice(0, 120));
  }
  return found;
}"""


# -- fixtures -------------------------------------------------------------------------------


BROWSERS = ("chromium", "google-chrome", "google-chrome-stable")  # Debian's first
INSTALL = "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium"


def chromium_executable() -> str:
    """Debian's chromium (or a Chrome already there); when neither is, apt-get installs
    chromium as root (CI on a fresh machine) or through passwordless sudo."""
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None and shutil.which("apt-get"):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command = ["bash", "-c", INSTALL]
        elif shutil.which("sudo"):
            command = ["sudo", "-n", "bash", "-c", INSTALL]
        else:
            command = None
        if command:
            subprocess.run(command, check=False, capture_output=True, timeout=1200)
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("the browser test needs Debian's chromium: sudo apt-get install -y chromium")
    return found


@pytest.fixture(scope="module")
def html(request) -> Path:
    given = request.config.getoption("book_html", default=None)
    if given:
        folder = Path(given)
    else:
        folder = request.getfixturevalue("book_build").html
    if not (folder / "index.html").exists():
        pytest.fail(f"no built book in {folder} (see tests/test_book_build.py)")
    return folder


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log on the test's output
        pass


@pytest.fixture(scope="module")
def site(html):
    """The built book served on 127.0.0.1: its base URL."""
    server = http.server.ThreadingHTTPServer(
        (HOST, 0), functools.partial(QuietHandler, directory=str(html))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            # every host but ours fails to resolve: the page reads as it would offline
            args=[f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {HOST}"],
        )
        yield launched
        launched.close()


class Recorder:
    """Everything one page asked of the network and said on its console.

    One request is the browser's, not the book's: ``/favicon.ico`` at the host's root, which
    Chromium asks for when a page names no icon (online that is pathcost.github.io's root,
    outside the book). It is counted apart, never as a failure.
    """

    def __init__(self, page, site: str):
        self.favicon = site + "favicon.ico"
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[str] = []
        self.browser_own = 0
        self.pending: set = set()
        page.on("request", self._started)
        page.on("requestfinished", lambda r: self.pending.discard(r))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))

    def _started(self, request):
        if request.url == self.favicon:
            self.browser_own += 1
            return
        self.requests.append(request.url)
        self.pending.add(request)

    def _failed(self, request):
        self.pending.discard(request)
        if request.url != self.favicon:
            self.failed.append(f"{request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400 and response.url != self.favicon:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def _console(self, message):
        if message.type == "error" and message.location.get("url") != self.favicon:
            self.console_errors.append(f"{message.text} @ {message.location.get('url')}")

    def settle(self, page, quiet_ms: int = 300, at_most_ms: int = 10000) -> None:
        """Wait until no request has been in flight for quiet_ms (what a click started)."""
        quiet = waited = 0
        while quiet < quiet_ms and waited < at_most_ms:
            page.wait_for_timeout(50)
            waited += 50
            quiet = 0 if self.pending else quiet + 50

    def take(self) -> dict:
        taken = {
            "requests": self.requests[:],
            "failed": self.failed[:],
            "console_errors": self.console_errors[:],
            "browser_own": self.browser_own,
        }
        self.requests.clear()
        self.failed.clear()
        self.console_errors.clear()
        self.browser_own = 0
        return taken


def page_names(html: Path) -> list[str]:
    """Every HTML page of the build, as paths relative to its root."""
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*.html")
        if p.relative_to(html).parts[0] not in NOT_PAGES
    )


def static_math_count(text: str) -> int:
    """Elements the HTML marks as math (Sphinx: class "math notranslate ..."), by parsing."""

    count = 0

    class Counter(HTMLParser):
        def handle_starttag(self, tag, attrs):
            nonlocal count
            classes = (dict(attrs).get("class") or "").split()
            count += "math" in classes and "notranslate" in classes

    Counter().feed(text)
    return count


def read_one(page, recorder, url: str) -> dict:
    page.goto(url, wait_until="networkidle")
    page.evaluate(WAIT_FOR_MATHJAX)
    seen = page.evaluate(READ_PAGE)
    # each solution: hidden until its title is clicked, shown after
    for index, solution in enumerate(seen["solutions"]):
        # the toggle button sphinx-togglebutton puts in the title (the title's own link
        # to the exercise would navigate instead)
        button = (
            page.locator(".solution")
            .nth(index)
            .locator(":scope > .admonition-title button.toggle-button")
        )
        try:
            button.click(timeout=5000)
            page.wait_for_function(SOLUTION_SHOWN, arg=index, timeout=3000)
            solution["shown_after_click"] = True
        except PlaywrightError:
            solution["shown_after_click"] = False
    seen["raw_tex"] = page.evaluate(RAW_TEX_IN_TEXT, list(RAW_TEX))  # solutions open now
    recorder.settle(page)
    seen.update(recorder.take())
    return seen


@dataclass
class Reading:
    """What every page showed and requested, read once in the light theme."""

    pages: dict  # page name -> what the browser saw there (redirects included)
    seconds: float

    @property
    def content(self) -> dict:
        """The pages that show something themselves (not index.html's forward to the intro)."""
        return {name: v for name, v in self.pages.items() if not v["redirected_to"]}


@pytest.fixture(scope="module")
def visits(html, site, browser) -> Reading:
    context = browser.new_context(color_scheme="light", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    recorder = Recorder(page, site)
    started = time.monotonic()
    read = {}
    for name in page_names(html):
        seen = read_one(page, recorder, site + name)
        final = unquote(urlsplit(seen["url"]).path).removeprefix("/")
        seen["redirected_to"] = final if final != name else None
        seen["static_math"] = static_math_count((html / name).read_text(encoding="utf8"))
        read[name] = seen
    context.close()
    return Reading(read, time.monotonic() - started)


# -- the checks -----------------------------------------------------------------------------


def test_no_console_error_on_any_page(visits):
    errors = {name: v["console_errors"] for name, v in visits.pages.items() if v["console_errors"]}
    assert not errors, f"console errors: {json.dumps(errors, indent=1)}"


def test_every_request_is_local_and_succeeds(visits, site):
    off_site = {
        name: sorted({u for u in v["requests"] if urlsplit(u).hostname not in (HOST, None)})
        for name, v in visits.pages.items()
    }
    off_site = {name: urls for name, urls in off_site.items() if urls}
    assert not off_site, (
        f"requests leaving 127.0.0.1 at read time: {json.dumps(off_site, indent=1)}"
    )
    failed = {name: v["failed"] for name, v in visits.pages.items() if v["failed"]}
    assert not failed, f"failed requests: {json.dumps(failed, indent=1)}"


def test_the_front_page_forwards_to_a_page_that_exists(visits, html):
    forwards = {name: v["redirected_to"] for name, v in visits.pages.items() if v["redirected_to"]}
    assert set(forwards) <= {"index.html"}, f"unexpected redirects: {forwards}"
    missing = {name: to for name, to in forwards.items() if to not in visits.content}
    assert not missing, f"redirects to pages the build does not have: {missing}"


def test_every_equation_is_typeset(visits):
    problems = {}
    for name, v in visits.content.items():
        if v["static_math"] and not v["typeset"]:
            problems[name] = f"{v['static_math']} math elements, nothing typeset"
        elif v["math_untypeset"]:
            problems[name] = f"not typeset: {v['math_untypeset'][:5]}"
        elif v["math_errors"]:
            problems[name] = f"MathJax errors: {v['math_errors'][:5]}"
        elif v["raw_tex"]:
            problems[name] = f"raw TeX in the visible text: {v['raw_tex'][:5]}"
    assert not problems, json.dumps(problems, indent=1)
    assert sum(v["typeset"] for v in visits.content.values()) > 0, "no page has any equation"


def test_every_internal_link_and_anchor_resolves(visits, site, html):
    ids = {name: set(v["ids"]) for name, v in visits.content.items()}
    broken = {}
    for name, v in visits.content.items():
        for link in sorted(set(v["links"])):
            if not link.startswith(site):
                continue
            parts = urlsplit(link)
            target = unquote(parts.path).removeprefix("/") or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (html / target).is_file():
                broken.setdefault(name, []).append(f"{link} (no such file)")
            elif parts.fragment and target.endswith(".html"):
                if target not in ids:
                    ids[target] = static_ids((html / target).read_text(encoding="utf8"))
                if unquote(parts.fragment) not in ids[target]:
                    broken.setdefault(name, []).append(f"{link} (no such anchor)")
    assert not broken, f"links that do not resolve: {json.dumps(broken, indent=1)}"


def static_ids(text: str) -> set:
    """The anchors a page's HTML defines (ids, and names of <a>), for pages not visited."""
    found = set()

    class Ids(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            found.update(attrs[key] for key in ("id", "name") if attrs.get(key))

    Ids().feed(text)
    return found


def test_solutions_hidden_until_clicked(visits):
    problems = []
    total = 0
    for name, v in visits.content.items():
        for solution in v["solutions"]:
            total += 1
            if solution["shown"]:
                problems.append(f"{name}#{solution['id']}: visible before it is clicked")
            if not solution["shown_after_click"]:
                problems.append(f"{name}#{solution['id']}: not visible after a click")
    assert not problems, "\n".join(problems)
    assert total > 0, "no solution found on any page"


def chapters(html: Path) -> list[str]:
    """Built pages whose source is a chapter with a committed .ipynb twin."""
    return [
        name
        for name in page_names(html)
        if (ROOT / name).with_suffix(".ipynb").is_file()
        and (ROOT / name).with_suffix(".md").is_file()
    ]


def expected_launch_links(name: str) -> dict:
    """The Colab and Binder addresses of a chapter's .ipynb twin, from _config.yml."""
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/").strip("/")
    branch = CONFIG["repository"].get("branch", "main")
    path = (CONFIG["repository"].get("path_to_book") or "").strip("/")
    notebook = "/".join(p for p in (path, name.removesuffix(".html") + ".ipynb") if p)
    launch = CONFIG["launch_buttons"]
    colab = launch["colab_url"].rstrip("/")
    binder = launch["binderhub_url"].rstrip("/")
    tree = "lab/tree" if launch.get("notebook_interface") == "jupyterlab" else "tree"
    return {
        "colab": f"{colab}/github/{repo}/blob/{branch}/{notebook}",
        "binder": f"{binder}/v2/gh/{repo}/{branch}?urlpath={tree}/{notebook}",
        "notebook": notebook,
    }


def test_launch_links_open_the_chapters_ipynb(visits, html):
    launch = CONFIG["launch_buttons"]
    problems = []
    names = chapters(html)
    assert names, "no chapter with an .ipynb twin was built"
    for name, v in visits.content.items():
        colab = sorted({u for u in v["links"] if u.startswith(launch["colab_url"])})
        binder = sorted({u for u in v["links"] if u.startswith(launch["binderhub_url"])})
        if name not in names:
            if colab or binder:
                problems.append(f"{name} has no .ipynb twin but launch links {colab + binder}")
            continue
        expected = expected_launch_links(name)
        if colab != [expected["colab"]]:
            problems.append(f"{name}: Colab {colab}, expected {expected['colab']}")
        urlpaths = [parse_qs(urlsplit(u).query).get("urlpath", [""])[0] for u in binder]
        if binder != [expected["binder"]] or not all(
            p.endswith(expected["notebook"]) for p in urlpaths
        ):
            problems.append(f"{name}: Binder {binder}, expected {expected['binder']}")
    assert not problems, "\n".join(problems)


def test_search_finds_receptive_field(site, browser):
    context = browser.new_context()
    page = context.new_page()
    recorder = Recorder(page, site)
    page.goto(site + "search.html?q=" + SEARCH_TERM.replace(" ", "+"), wait_until="load")
    try:
        page.wait_for_function(
            f"document.querySelector('#search-results a[href*=\"{SEARCH_HIT}\"]') !== null",
            timeout=20000,
        )
        hits = page.eval_on_selector_all(
            "#search-results ul.search li a", "a => a.map(x => x.href)"
        )
    except PlaywrightError:
        hits = page.eval_on_selector_all("#search-results a", "a => a.map(x => x.href)")
        pytest.fail(f"searching {SEARCH_TERM!r} does not find {SEARCH_HIT}; results: {hits}")
    finally:
        taken = recorder.take()
        context.close()
    assert any(SEARCH_HIT in h for h in hits)
    assert not taken["console_errors"], taken["console_errors"]


def looks_like_a_path(alt: str, src: str) -> bool:
    """myst-nb's default alt for a figure without one is its file path: not alt text."""
    alt = alt.strip()
    return alt == src or alt.endswith(Path(src).name) or bool(re.search(r"\.(png|svg|jpe?g)$", alt))


def test_every_figure_has_alt_text_and_an_opaque_background(visits, html):
    problems = []
    for name, v in visits.content.items():
        for image in v["images"]:
            alt, src = image["alt"] or "", image["src"] or ""
            if not alt.strip() or looks_like_a_path(alt, src):
                problems.append(f"{name}: {src} has no alt text (alt={alt!r})")
            if not image["loaded"]:
                problems.append(f"{name}: {src} does not load")
            path = (html / name).parent / unquote(src)
            if path.suffix == ".png" and path.is_file():
                with Image.open(path) as picture:
                    if "A" in picture.getbands() and picture.getchannel("A").getextrema()[0] < 255:
                        problems.append(f"{name}: {src} is transparent: unreadable on a dark page")
    assert not problems, "\n".join(problems)


def test_screenshots_in_light_and_dark_and_summary(visits, site, browser, html, request):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shots = []
    for theme in THEMES:
        context = browser.new_context(color_scheme=theme, viewport={"width": 1280, "height": 900})
        context.add_init_script(
            f"localStorage.setItem('mode', '{theme}'); localStorage.setItem('theme', '{theme}');"
        )
        page = context.new_page()
        for name in SCREENSHOT_PAGES:
            assert (html / name).is_file(), f"{name} was not built"
            page.goto(site + name, wait_until="networkidle")
            page.evaluate(WAIT_FOR_MATHJAX)
            assert page.evaluate("document.documentElement.dataset.theme") == theme, name
            # the first figure (else table) in view: does it read on this background?
            shown = page.locator("article img:visible")
            if not shown.count():
                shown = page.locator("article table:visible")
            if shown.count():
                shown.first.evaluate("e => { e.scrollIntoView(); window.scrollBy(0, -120); }")
            path = ARTEFACTS / f"{Path(name).stem}-{theme}.png"
            page.screenshot(path=str(path))
            shots.append(str(path))
        context.close()
    every, content = visits.pages, visits.content
    requests = [u for v in every.values() for u in v["requests"]]
    summary = {
        "pages_visited": len(every),
        "math_elements": sum(v["static_math"] for v in content.values()),
        "equations_typeset": sum(v["typeset"] for v in content.values()),
        "requests_seen": len(requests),
        "requests_off_site": sum(urlsplit(u).hostname not in (HOST, None) for u in requests),
        "requests_failed": sum(len(v["failed"]) for v in every.values()),
        "requests_browser_own_favicon": sum(v["browser_own"] for v in every.values()),
        "console_errors": sum(len(v["console_errors"]) for v in every.values()),
        "solutions_clicked": sum(len(v["solutions"]) for v in content.values()),
        "links_on_pages": sum(len(set(v["links"])) for v in content.values()),
        "figures": sum(len(v["images"]) for v in content.values()),
        "seconds_reading_pages": round(visits.seconds, 1),
        "screenshots": shots,
        "pages": {
            name: {
                "math": v["static_math"],
                "typeset": v["typeset"],
                "requests": len(v["requests"]),
                "solutions": len(v["solutions"]),
                "redirected_to": v["redirected_to"],
            }
            for name, v in every.items()
        },
    }
    summary_file = ARTEFACTS / "summary.json"
    summary_file.write_text(json.dumps(summary, indent=1))
    summary["summary_file"] = str(summary_file)
    request.config.stash[BROWSER_SUMMARY] = summary
    print(json.dumps({k: v for k, v in summary.items() if k != "pages"}, indent=1))
    assert all(Path(shot).stat().st_size > 0 for shot in shots)
