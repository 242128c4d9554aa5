"""MkDocs hook: the configuration reference is rendered from the classes themselves, so it cannot drift.

A page line `<!-- fields: oger_trl.config.OGERConfig -->` becomes one table per parameter group of that dataclass's
docstring (TRL's documentation style: `> group` lines, then `name (`type`, *optional*, defaults to ...):` entries).
The build fails when a field the class declares has no docstring entry, or an entry names no field.
"""

import importlib
import re

from mkdocs.exceptions import PluginError

from oger_trl.config import declared_fields

MARKER = re.compile(r"^<!-- fields: ([\w.]+) -->$", re.MULTILINE)
ENTRY = re.compile(r"^(\w+) \((.+)\):$")


def documented_parameters(docstring: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(group title, [(name, type and default, description)]) from the docstring's `Parameters:` or `Args:` section."""
    lines = docstring.expandtabs().split("\n")
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() in ("Parameters:", "Args:")), len(lines))
    groups: list[tuple[str, list]] = [("", [])]
    entry_indent = None
    for line in lines[start:]:
        text, indent = line.strip(), len(line) - len(line.lstrip())
        if not text:
            continue
        if entry_indent is None:
            entry_indent = indent
        if indent < entry_indent:
            break  # the section ended
        if indent == entry_indent and text.startswith("> "):
            groups.append((text[2:], []))
        elif indent == entry_indent and (match := ENTRY.match(text)):
            groups[-1][1].append([match[1], match[2], ""])
        elif groups[-1][1]:
            entry = groups[-1][1][-1]
            entry[2] = f"{entry[2]} {text}".strip()
    return [(title, [tuple(e) for e in entries]) for title, entries in groups if entries]


def fields_reference(path: str) -> str:
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    groups = documented_parameters(cls.__doc__)
    documented = [entry[0] for _, entries in groups for entry in entries]
    declared = [f.name for f in declared_fields(cls)]
    if missing := [f for f in declared if f not in documented]:
        raise PluginError(f"{path}: fields without a docstring entry: {missing}")
    if unknown := [f for f in documented if f not in declared]:
        raise PluginError(f"{path}: docstring entries that name no field: {unknown}")
    parts = []
    for title, entries in groups:
        rows = [
            f"| `{n}` | {kind.replace('|', '&#124;')} | {text.replace('|', '&#124;')} |" for n, kind, text in entries
        ]
        parts.append(
            "\n".join(
                [
                    f"### {title[0].upper()}{title[1:]}" if title else "",
                    "",
                    "| field | type, default | meaning |",
                    "|---|---|---|",
                    *rows,
                ]
            )
        )
    return "\n\n".join(parts)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return MARKER.sub(lambda m: fields_reference(m[1]), markdown)
