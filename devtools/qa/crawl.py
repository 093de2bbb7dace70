"""A QA crawl of the running product as one of its users (see devtools/qa/README.md).

Logs in as a persona, optionally switches the language with the page's own switch, then walks breadth-first the
links under a prefix at one viewport width, recording for each page its HTTP status, its sideways overflow and its
console errors, and keeping the raw HTML for the Nu checker. It only reads: links are opened with GET and no form is
submitted (but the login and the language switch), so no action of the product (all are forms) is taken; downloads,
the logout and hidden links are skipped.

    .venv/bin/python devtools/qa/crawl.py --base http://127.0.0.1:8000 --login gestionnaire.see \\
        --password gestion-demo-2026 --language fr --width 320 --prefix /gestion/ --limit 150 --out var/qa/see-320
"""

import argparse
import json
import os
import re
import sys
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

# The browser tests' launch (ecandidat/tests/plugins/browser.py): Debian's Chromium, headless, no sandbox.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Not plain pages: files (exports, PDFs, ZIPs, the pieces' files, a decision letter), the logout, the language
# switch, the session keep-alive, the theme's stylesheet.
SKIPPED = re.compile(
    r"logout|/i18n/|/session/prolonger/|/export/|download|\.(pdf|zip|csv|xlsx|ods)(\?|$)|[?&]format=(csv|xlsx|ods)"
    r"|/zip/|/fichier/|/lettre/|/theme\.css",
    re.IGNORECASE,
)
# Several objects of one kind say little more than the first few: /gestion/x/12/change/ and /gestion/x/13/change/
# share the pattern /gestion/x/<n>/change/.
IDENTIFIER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+", re.IGNORECASE)
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# Targets smaller than 24 × 24 px with another target within reach (WCAG 2.5.8): the browser test's check
# (applications/tests/test_browser_backoffice_phone.py SMALL_TARGETS_JS), kept in step by hand.
SMALL_TARGETS = """
() => {
  // Out of sight in a box that scrolls sideways (a wide table's last columns): not within a finger's reach.
  const scrolledAway = (e) => { const r = e.getBoundingClientRect();
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX === 'visible') continue;
      const b = p.getBoundingClientRect();
      if (r.right <= b.left || r.left >= b.right) return true;
    }
    return false; };
  const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter((e) => e.getClientRects().length && e.checkVisibility({visibilityProperty: true})
      && !e.closest('[hidden], .visually-hidden') && !scrolledAway(e))
    .map((e) => { const labelled = ['checkbox', 'radio'].includes(e.type) && e.labels && e.labels.length;
      const r = (labelled ? e.labels[0] : e).getBoundingClientRect();
      return {e, r, x: r.x + r.width / 2, y: r.y + r.height / 2, small: r.width && Math.min(r.width, r.height) < 24};
    });
  const inSentence = (e) => e.tagName === 'A' && getComputedStyle(e).display === 'inline'
    && e.parentElement.textContent.trim().length > e.textContent.trim().length + 15;
  const touches = (o, t) => Math.hypot(Math.max(t.r.left, Math.min(o.x, t.r.right)) - o.x,
    Math.max(t.r.top, Math.min(o.y, t.r.bottom)) - o.y) < 12;
  const name = (e) => e.tagName.toLowerCase() + ' "' + (e.textContent || e.value || '').trim().slice(0, 30) + '"';
  return all.filter((o) => o.small && !inSentence(o.e)).flatMap((o) => {
    const other = all.find((t) => t !== o && !t.e.contains(o.e) && !o.e.contains(t.e)
      && (touches(o, t) || (t.small && Math.hypot(t.x - o.x, t.y - o.y) < 24)));
    const size = `${Math.round(o.r.width)}×${Math.round(o.r.height)} px`;
    return other ? [`${name(o.e)} ${size}, beside ${name(other.e)}`] : [];
  });
}
"""
# Links the reader can follow: not a download, not inside something hidden (the "Log in again" link of the session
# warning is only shown once the session has ended).
LINKS = "els => els.filter(e => !e.hasAttribute('download') && !e.closest('[hidden]')).map(e => e.href)"


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="where the server answers")
    parser.add_argument("--login", required=True, help="the persona's username or e-mail address")
    parser.add_argument("--password", required=True)
    parser.add_argument("--language", choices=["fr", "en"], help="switch to this language after logging in")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS pixels (e.g. 320, 375, 1280)")
    parser.add_argument("--prefix", default="/gestion/", help="walk only the links under this path")
    parser.add_argument("--limit", type=int, default=150, help="pages per run")
    parser.add_argument("--per-pattern", type=int, default=3, help="pages per URL pattern (identifiers as <n>)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the HTML files and report.json")
    return parser.parse_args()


def log_in(page, base, login, password):
    page.goto(urljoin(base, "/accounts/login/"))
    page.fill("#id_login", login)
    page.fill("#id_password", password)
    page.click("form:has(#id_login) [type=submit]")
    page.wait_for_load_state()
    if urlsplit(page.url).path.startswith("/accounts/login/"):
        sys.exit(f"Login refused for {login} (still on {page.url}).")


def switch_language(page, base, prefix, language):
    page.goto(urljoin(base, prefix))
    page.select_option("form.lang-switch select[name=language]", language)
    page.click("form.lang-switch [type=submit]")
    page.wait_for_load_state()


def keep(url, base, prefix):
    """The link's URL without its fragment when it is a plain page of the walk, else None."""
    url = urldefrag(url).url
    parts, origin = urlsplit(url), urlsplit(base)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc) or not parts.path.startswith(prefix):
        return None
    return None if SKIPPED.search(parts.path + "?" + parts.query) else url


def file_name(index, url):
    slug = re.sub(r"[^A-Za-z0-9]+", "-", urlsplit(url).path + "-" + urlsplit(url).query).strip("-")
    return f"{index:03d}-{slug[:80] or 'root'}.html"


def crawl(page, options):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = urljoin(options.base, options.prefix)
    queue, seen, patterns, report = deque([start]), {start}, {}, []
    while queue and len(report) < options.limit:
        url = queue.popleft()
        errors.clear()
        try:
            response = page.goto(url)
        except PlaywrightError as error:  # a download the patterns missed, a timeout...
            report.append({"url": url, "status": None, "error": str(error).splitlines()[0]})
            continue
        entry = {"url": url, "status": response.status if response else None}
        if page.url != url:
            entry["landed"] = page.url
        if response and "text/html" in (response.headers.get("content-type") or ""):
            entry["overflow"] = page.evaluate(OVERFLOW)
            entry["small_targets"] = page.evaluate(SMALL_TARGETS)
            entry["file"] = file_name(len(report), url)
            (options.out / entry["file"]).write_bytes(response.body())
            for link in page.eval_on_selector_all("a[href]", LINKS):
                link = keep(link, options.base, options.prefix)
                pattern = link and IDENTIFIER.sub("<n>", urlsplit(link).path)
                if link and link not in seen and patterns.get(pattern, 0) < options.per_pattern:
                    seen.add(link)
                    patterns[pattern] = patterns.get(pattern, 0) + 1
                    queue.append(link)
        entry["console"] = list(errors)
        report.append(entry)
        print(f"{entry['status']} {url}", file=sys.stderr)
    return report


def summary(report, width):
    statuses = [e for e in report if e["status"] != 200]
    redirected = [e for e in report if "landed" in e]
    overflows = [e for e in report if e.get("overflow", 0) > 0]
    console = [e for e in report if e.get("console")]
    small = [e for e in report if e.get("small_targets")]
    print(
        f"{len(report)} pages at {width} px: {len(statuses)} not 200, {len(redirected)} redirected, "
        f"{len(overflows)} overflowing, {len(console)} with console errors, {len(small)} with small targets"
    )
    for e in statuses:
        print(f"  status {e['status']}: {e['url']} {e.get('error', '')}")
    for e in redirected:  # a link to the login page, or one the persona may not follow, lands elsewhere
        print(f"  redirected: {e['url']} -> {e['landed']}")
    for e in overflows:
        print(f"  overflow +{e['overflow']} px: {e['url']} ({e['file']})")
    for e in console:
        for text in e["console"]:
            print(f"  console: {e['url']}: {text}")
    for e in small:
        for text in e["small_targets"]:
            print(f"  small target: {e['url']}: {text}")


def main():
    options = arguments()
    options.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="fr-FR", viewport={"width": options.width, "height": 800})
        page = context.new_page()
        log_in(page, options.base, options.login, options.password)
        if options.language:
            switch_language(page, options.base, options.prefix, options.language)
        report = crawl(page, options)
        browser.close()
    (options.out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    summary(report, options.width)


if __name__ == "__main__":
    main()
