"""The page's own files: nothing that could turn text into markup, nothing loaded from elsewhere, KaTeX vendored."""

from __future__ import annotations

import re

from reports.view.server import STATIC_DIR

KATEX_VERSION = "0.19.1"


def test_the_page_never_parses_strings_as_html():
    js = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", js, flags=re.S)  # the header comment names the sinks it avoids
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setTimeout(\"", "srcdoc", "DOMParser", "createContextualFragment", ".src =", "window.open"):
        assert sink not in code, sink
    assert "trust: false" in code  # KaTeX never renders \href, \url or \html*


def test_index_html_has_no_inline_script_style_or_handler():
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/katex/katex.min.js" defer>',
                                                     '<script src="/static/app.js" defer>']
    assert "<style" not in html and not re.search(r"\s(on\w+|style)=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another origin


def test_katex_is_vendored_with_its_license_and_fonts():
    katex = STATIC_DIR / "katex"
    assert f'version:"{KATEX_VERSION}"' in (katex / "katex.min.js").read_text(encoding="utf-8")
    assert "MIT License" in (katex / "LICENSE").read_text() and KATEX_VERSION in (katex / "README.md").read_text()
    css = (katex / "katex.min.css").read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css))
    assert len(fonts) == 20 and all((katex / f).is_file() for f in fonts)
    assert "http" not in css


def test_the_page_styles_no_class_of_katex_by_accident():
    """A page rule for `.text` once restyled KaTeX's own `.text` spans (\\text{and} broke over two lines)."""
    ours = set(re.findall(r"\.([A-Za-z][\w-]*)", (STATIC_DIR / "app.css").read_text()))
    katex_css = (STATIC_DIR / "katex" / "katex.min.css").read_text()
    theirs = set(re.findall(r"\.([A-Za-z][\w-]*)", katex_css))
    js = (STATIC_DIR / "katex" / "katex.min.js").read_text()
    theirs |= {name for name in ours if f'"{name}"' in js}  # classes KaTeX sets from its code
    assert ours & theirs == {"katex", "katex-display"}  # the two styled on purpose (no wrapping inside math)
