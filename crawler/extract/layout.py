"""Layout tables unwrapped before extraction, data tables kept.

Older sites (Japanese government, local-paper and trade-press sites above all) lay the page out
with a ``<table>``: the article sits in one ``<td>`` beside a menu cell. trafilatura takes such
a cell for a data table and returns the article as one ``| …`` row: paragraphs, headline, date
line and byline run together, and the byline is never found. A layout table is told from a
data table with Readability's ``_markDataTables`` test, in its order (the first that answers
decides):

1. ``role="presentation"`` → layout; ``datatable="0"`` → layout;
2. a ``summary`` attribute, a non-empty ``<caption>`` → data;
3. a table nested inside → layout (data tables do not hold tables);
4. cells holding block content (a heading, paragraphs, lists, block ``<div>``s) → layout: a
   data cell holds a value, not a text (this one is not Readability's; it is what the
   article cell of a layout table always shows);
5. ``<th>``, ``<thead>``, ``<tfoot>``, ``<col>``/``<colgroup>`` → data;
6. size: at least 10 rows, more than 4 columns or more than 10 cells → data, else layout.

A layout table is unwrapped in place: its cells become ``<div>`` block containers, its rows
and row groups disappear (their children stay, in order). Tables are looked at from the
innermost out, so a data table inside a layout cell stays a table.
"""
from __future__ import annotations

from lxml.html import HtmlElement

__all__ = ["is_layout_table", "unwrap_layout_tables"]

_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "article",
           "section")
_DATA_PARTS = ("th", "thead", "tfoot", "col", "colgroup")
_ROW_GROUPS = ("tbody", "thead", "tfoot")


def _own(table: HtmlElement, xpath: str) -> list[HtmlElement]:
    """Elements matching ``xpath`` below ``table`` but not inside a table nested in it."""
    return [el for el in table.xpath(xpath) if _owner(el) is table]


def _owner(el: HtmlElement) -> HtmlElement | None:
    for anc in el.iterancestors("table"):
        return anc
    return None


def _rows(table: HtmlElement) -> list[HtmlElement]:
    return _own(table, ".//tr")


def _has_blocks(cells: list[HtmlElement]) -> bool:
    for cell in cells:
        if next(cell.iterdescendants(*_BLOCKS), None) is not None:
            return True
        # a cell of several block <div>s (headline, date line, byline, text) is a page column
        if sum(1 for d in cell.iterdescendants("div") if (d.text_content() or "").strip()) >= 2:
            return True
    return False


def is_layout_table(table: HtmlElement) -> bool:
    """Whether ``table`` lays the page out (True) or holds data (False); see the module doc."""
    if (table.get("role") or "").strip().lower() == "presentation":
        return True
    if (table.get("datatable") or "").strip() == "0":
        return True
    if (table.get("summary") or "").strip():
        return False
    caption = table.find("caption")
    if caption is not None and (caption.text_content() or "").strip():
        return False
    if table.xpath(".//table"):
        return True
    rows = _rows(table)
    cells = [c for r in rows for c in r if isinstance(c.tag, str) and c.tag in ("td", "th")]
    if _has_blocks(cells):
        return True
    if any(_owner(el) is table for el in table.iterdescendants(*_DATA_PARTS)):
        return False
    columns = max((sum(int(c.get("colspan") or 1) if (c.get("colspan") or "1").isdigit() else 1
                       for c in r if isinstance(c.tag, str) and c.tag in ("td", "th"))
                   for r in rows), default=0)
    return not (len(rows) >= 10 or columns > 4 or len(rows) * columns > 10)


def unwrap_layout_tables(tree: HtmlElement) -> int:
    """Unwrap the layout tables of ``tree`` in place (innermost first); returns how many."""
    tables = list(tree.iter("table"))
    # deepest first: a table's verdict looks at what is nested in it as it is at that moment
    tables.sort(key=lambda t: -sum(1 for _ in t.iterancestors()))
    done = 0
    for table in tables:
        if table.getparent() is None or not is_layout_table(table):
            continue
        _unwrap(table)
        done += 1
    return done


def _unwrap(table: HtmlElement) -> None:
    for cell in _own(table, ".//td|.//th"):
        cell.tag = "div"
        for attr in ("colspan", "rowspan", "width", "valign", "align", "nowrap"):
            cell.attrib.pop(attr, None)
    for row in _rows(table):
        row.drop_tag()
    for group in [el for el in table if isinstance(el.tag, str) and el.tag in _ROW_GROUPS]:
        group.drop_tag()
    caption = table.find("caption")
    if caption is not None:
        caption.tag = "div"
    table.tag = "div"
    for attr in ("border", "cellpadding", "cellspacing", "width", "align", "role", "summary"):
        table.attrib.pop(attr, None)
