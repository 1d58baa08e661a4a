"""A short, human summary of a User-Agent header: "Chrome 131 · Windows".

Enough for a customer to recognise their own browser in the activity log and in a "new
browser" alert; no fingerprinting beyond what the header says, no dependency.
"""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"(?:OPR|Opera)/(\d+)")),
    ("Yandex Browser", re.compile(r"YaBrowser/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS|HeadlessChrome)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[.\d]* .*Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def summary(user_agent: str | None) -> str:
    """ "Firefox 133 · Linux"; the raw header's start when nothing is recognised."""
    text = (user_agent or "").strip()
    if not text:
        return ""
    browser = next(
        (f"{name} {found.group(1)}" for name, rx in _BROWSERS if (found := rx.search(text))),
        None,
    )
    system = next((name for name, rx in _SYSTEMS if rx.search(text)), None)
    parts = [part for part in (browser, system) if part]
    return " · ".join(parts) if parts else text[:60]
