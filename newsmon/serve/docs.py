"""The API docs page at /docs: the OpenAPI schema written out as one plain HTML page, made on
the server, with no script, style sheet or font from elsewhere (FastAPI's own docs pages load
theirs from a CDN, which an offline or locked-down install cannot reach, and which the page's
Content-Security-Policy forbids)."""
from __future__ import annotations

import html
import json
from typing import Any

STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
         "code,pre{background:#f4f4f4;padding:1px 4px}table{border-collapse:collapse}"
         "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
         "h2{margin-top:2em;border-top:1px solid #ddd;padding-top:.5em}")


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items') or {})}"
    return str(schema.get("type") or schema.get("$ref", "").rsplit("/", 1)[-1] or "any")


def _parameter_row(p: dict[str, Any]) -> str:
    e = html.escape
    schema = p.get("schema") or {}
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "minLength", "maxLength",
                                            "pattern") if k in schema]
    default = f"default {json.dumps(schema['default'], ensure_ascii=False)}" \
        if "default" in schema else ""
    notes = "; ".join(x for x in (p.get("description") or schema.get("description") or "",
                                  default, *limits) if x)
    return (f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p.get('in', ''))}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td><td>{e(_type(schema))}</td>"
            f"<td>{e(notes)}</td></tr>")


def docs_page(schema: dict[str, Any]) -> str:
    """The page for an OpenAPI schema: each path and method with its parameters and answers."""
    e = html.escape
    info = schema.get("info") or {}
    title = f"{info.get('title', 'API')} {info.get('version', '')} API".strip()
    out = [f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{e(title)}</title></head><body>",
           f"<h1>{e(title)}</h1>",
           "".join(f"<p>{e(par)}</p>" for par in str(info.get("description") or "").split("\n\n")
                   if par.strip()),
           '<p>The machine-readable schema: <a href="/openapi.json">/openapi.json</a> '
           "(OpenAPI). The search page: <a href=\"/\">/</a>.</p>",
           "<ul>"]
    operations = [(path, method, op) for path, methods in (schema.get("paths") or {}).items()
                  for method, op in methods.items() if isinstance(op, dict)]
    out += [f'<li><a href="#{e(op.get("operationId", path))}"><code>{e(method.upper())} '
            f"{e(path)}</code></a> {e(op.get('summary') or '')}</li>"
            for path, method, op in operations]
    out.append("</ul>")
    for path, method, op in operations:
        out.append(f'<h2 id="{e(op.get("operationId", path))}"><code>{e(method.upper())} '
                   f"{e(path)}</code></h2>")
        if op.get("summary"):
            out.append(f"<p><strong>{e(op['summary'])}</strong></p>")
        if op.get("description"):
            out.append(f"<p>{e(op['description'])}</p>")
        params = op.get("parameters") or []
        if params:
            out.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
                       "<th>notes</th></tr>" + "".join(map(_parameter_row, params))
                       + "</table>")
        answers = op.get("responses") or {}
        if answers:
            out.append("<p>Answers: " + ", ".join(
                f"<code>{e(str(code))}</code> {e(str(r.get('description', '')))}"
                for code, r in answers.items()) + "</p>")
    out.append(f"<style>{STYLE}</style></body></html>")
    return "".join(out)


__all__ = ["docs_page"]
