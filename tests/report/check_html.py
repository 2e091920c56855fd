#!/usr/bin/python3
"""Checks a report page (ketenctl report --format html) strictly.

    /usr/bin/python3 tests/report/check_html.py FILE.html

Parses FILE with html.parser and checks that:
- it starts with <!DOCTYPE html> and declares <meta charset="utf-8">;
- every element that is not void is closed, in order; no end tag for a void
  element; "<x/>" only for void elements or inside <svg> (where the HTML
  parser honours it);
- every character reference is known and every "&" starts one (in text and
  in attribute values), so no unescaped text reached the page;
- there is no <script>, no on* event attribute, no javascript: URL, no
  <iframe>/<object>/<embed>/<link>/<base>, and no reference to anything outside
  the file: src/href (and the like) may only be "#fragment" or "data:", and
  the CSS has no @import and no url() but url(#id);
- each <section class="chart"> holds exactly one <svg>, other sections none.

Prints one JSON line {"ok", "svg", "sections", "problems"} and exits 0, or 1
when there are problems (2 when the file cannot be read). Standard library
only.
"""
import html.entities
import json
import re
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}
FORBIDDEN = {"script", "iframe", "object", "embed", "link", "base", "frame", "frameset",
             "applet", "noscript"}
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "srcset", "poster",
             "data", "background", "cite", "longdesc", "manifest", "ping"}
# "&" followed by a valid reference: named (with ;), decimal or hex.
REF = re.compile(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I)


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack = []  # (tag, line)
        self.problems = []
        self.svg = 0
        self.sections = []  # {"id", "chart", "svg", "title"}
        self.section_depth = None
        self.in_h2 = False
        self.doctype = None
        self.charset = False

    def problem(self, text):
        where = "line %d" % self.getpos()[0]
        self.problems.append("%s: %s" % (where, text))

    def in_svg(self):
        return any(t == "svg" for t, _ in self.stack)

    # -- declarations

    def handle_decl(self, decl):
        if decl.strip().lower() == "doctype html" and self.doctype is None:
            self.doctype = decl
        elif decl.lower().startswith("doctype"):
            self.problem("a second or wrong doctype <!%s>" % decl)
        else:
            self.problem("unexpected declaration <!%s>" % decl)

    def handle_pi(self, data):
        self.problem("processing instruction <?%s>" % data)

    def unknown_decl(self, data):
        self.problem("unknown declaration %r" % data)

    # -- tags

    def check_attrs(self, tag, attrs):
        raw = self.get_starttag_text() or ""
        for m in re.finditer(r"&", raw):
            if not REF.match(raw, m.start()):
                self.problem("<%s>: unescaped & in an attribute" % tag)
                break
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problem("<%s>: event handler attribute %s" % (tag, name))
            v = value.strip().lower()
            if v.startswith("javascript:") or v.startswith("vbscript:"):
                self.problem("<%s %s>: script URL" % (tag, name))
            if name in URL_ATTRS:
                if v.startswith("http://") or v.startswith("https://") or v.startswith("//"):
                    self.problem("<%s %s=%r>: external reference" % (tag, name, value))
                elif not (v.startswith("#") or v.startswith("data:")):
                    self.problem("<%s %s=%r>: not self-contained" % (tag, name, value))
            if name == "style":
                self.check_css(value, "<%s style>" % tag)
            for m in CSS_URL.finditer(value):
                if not m.group(2).startswith("#"):
                    self.problem("<%s %s>: url(%s) outside the page" % (tag, name, m.group(2)))

    def check_css(self, css, where):
        if "@import" in css.lower():
            self.problem("%s: @import" % where)
        for m in CSS_URL.finditer(css):
            if not m.group(2).startswith("#"):
                self.problem("%s: url(%s) outside the page" % (where, m.group(2)))

    def handle_starttag(self, tag, attrs):
        self.check_attrs(tag, attrs)
        if tag in FORBIDDEN:
            self.problem("<%s> is not allowed" % tag)
        a = dict(attrs)
        if tag == "meta" and (a.get("charset") or "").lower() == "utf-8":
            self.charset = True
        if tag == "svg":
            self.svg += 1
            if self.section_depth is not None:
                self.sections[-1]["svg"] += 1
        if tag == "section":
            if self.section_depth is not None:
                self.problem("<section> inside <section>")
            classes = (a.get("class") or "").split()
            self.sections.append({"id": a.get("id"), "chart": "chart" in classes, "svg": 0,
                                  "title": ""})
            self.section_depth = len(self.stack)
        if tag == "h2" and self.section_depth is not None:
            self.in_h2 = True
        if tag in VOID:
            return
        self.stack.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag, attrs):
        if tag in VOID:
            self.handle_starttag(tag, attrs)
            return
        if not self.in_svg():
            self.problem("<%s/> is not void: the HTML parser leaves it open" % tag)
        self.check_attrs(tag, attrs)
        if tag in FORBIDDEN:
            self.problem("<%s> is not allowed" % tag)
        if tag == "svg":
            self.svg += 1

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problem("</%s>: end tag for a void element" % tag)
            return
        if not self.stack:
            self.problem("</%s> with nothing open" % tag)
            return
        top, line = self.stack[-1]
        if top != tag:
            self.problem("</%s> closes <%s> of line %d" % (tag, top, line))
            # Recover: pop up to the matching tag when there is one.
            if any(t == tag for t, _ in self.stack):
                while self.stack and self.stack[-1][0] != tag:
                    self.stack.pop()
                self.stack.pop()
        else:
            self.stack.pop()
        if tag == "h2":
            self.in_h2 = False
        if tag == "section" and self.section_depth is not None \
                and len(self.stack) <= self.section_depth:
            self.section_depth = None

    # -- text

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "style":
            self.check_css(data, "<style>")
            return
        if self.stack and self.stack[-1][0] == "script":
            return
        if "&" in data:
            self.problem("unescaped & in text: %r" % data[:40])
        if self.in_h2 and self.sections:
            self.sections[-1]["title"] += data

    def handle_entityref(self, name):
        if name + ";" not in html.entities.html5:
            self.problem("unknown character reference &%s;" % name)
        elif self.in_h2 and self.sections:
            self.sections[-1]["title"] += html.entities.html5[name + ";"]

    def handle_charref(self, name):
        try:
            n = int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            self.problem("bad character reference &#%s;" % name)
            return
        if n == 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
            self.problem("invalid character reference &#%s;" % name)
        elif self.in_h2 and self.sections:
            self.sections[-1]["title"] += chr(n)

    def handle_comment(self, data):
        pass


def check(text):
    p = Checker()
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith("<!DOCTYPE html>"):
        p.problems.append("the page does not start with <!DOCTYPE html>")
    if re.search(r"<\s*script", text, re.I):
        p.problems.append("the page contains <script")
    # Control characters other than tab, LF, CR are parse errors in HTML.
    bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if bad:
        p.problems.append("control character U+%04X in the page" % ord(bad.group()))
    p.feed(text)
    p.close()
    for tag, line in p.stack:
        p.problems.append("<%s> of line %d is never closed" % (tag, line))
    if p.doctype is None and stripped.startswith("<!DOCTYPE html>"):
        p.problems.append("no <!DOCTYPE html>")
    if not p.charset:
        p.problems.append('no <meta charset="utf-8">')
    for s in p.sections:
        want = 1 if s["chart"] else 0
        if s["svg"] != want:
            p.problems.append("section %s has %d <svg>, expected %d"
                              % (s["id"], s["svg"], want))
    sections = [{"id": s["id"], "title": s["title"].strip(), "chart": s["chart"],
                 "svg": s["svg"]} for s in p.sections]
    return {"ok": not p.problems, "svg": p.svg, "sections": sections,
            "problems": p.problems}


def main(argv):
    if len(argv) != 2:
        print("usage: check_html.py FILE.html", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except OSError as e:
        print(json.dumps({"ok": False, "svg": 0, "sections": [],
                          "problems": ["cannot read %s: %s" % (argv[1], e.strerror)]}))
        return 2
    except UnicodeDecodeError as e:
        print(json.dumps({"ok": False, "svg": 0, "sections": [],
                          "problems": ["not UTF-8: %s" % e]}))
        return 1
    result = check(text)
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
