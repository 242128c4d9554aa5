"""The documentation: a short README whose links reach every guide, a configuration reference generated from the
code (it cannot drift), and every `oger-trl` command shown in the README or the docs accepted by that command's own
parser, so that no command in the docs names a flag, a recipe field or a recipe file that does not exist.

`make docs` builds the site itself with `--strict` (broken links and anchors fail it); CI runs it."""

import dataclasses
import importlib.util
import os
import re
import shlex

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
README = os.path.join(ROOT, "README.md")
PAGES = sorted(os.path.join(DOCS, p) for p in os.listdir(DOCS) if p.endswith(".md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")

pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", os.path.join(DOCS, "hooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def nav_pages() -> list[str]:
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as f:
        config = yaml.load(f, Loader=yaml.BaseLoader)  # no tags to resolve: the nav is plain strings

    def leaves(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from leaves(item)
        else:
            for value in node.values():
                yield from leaves(value)

    return list(leaves(config["nav"]))


def test_the_readme_is_a_short_front_door():
    assert len(read(README).splitlines()) <= 200


def test_the_readme_links_every_page_of_the_site_and_every_link_resolves():
    targets = LINK.findall(read(README))
    local = {t.split("#")[0] for t in targets if not t.startswith("http")}
    for target in local:
        assert os.path.exists(os.path.join(ROOT, target)), target
    linked = {os.path.relpath(os.path.join(ROOT, t), DOCS) for t in local if t.startswith("docs/")}
    top_level = {p for p in nav_pages() if "/" not in p}
    assert top_level <= linked, top_level - linked


def test_every_page_is_in_the_navigation():
    assert {os.path.relpath(p, DOCS) for p in PAGES} <= set(nav_pages())


def test_the_api_page_lists_every_config_field_with_its_docstring_text():
    from oger_trl.config import OGERConfig, declared_fields

    names = [f.name for f in declared_fields(OGERConfig)]
    reference = load_hooks().fields_reference("oger_trl.config.OGERConfig")
    for name in names:
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{name}` |"))
        assert len(row) > 40, row  # a type and a description, not an empty cell
    assert "exploration_coef" in names
    assert "learning_rate" not in names and "gradient_checkpointing" not in names  # TRL's to document
    assert "<!-- fields: oger_trl.config.OGERConfig -->" in read(os.path.join(DOCS, "api.md"))


@dataclasses.dataclass
class Documented:
    """A config.

    Args:
        > Group one

        alpha (`int`, *optional*, defaults to `1`):
            The first
            field.
        beta (`str`):
            The second.
    """

    alpha: int = 1
    beta: str = "b"


def test_the_reference_parser_reads_groups_entries_and_wrapped_descriptions():
    groups = load_hooks().documented_parameters(Documented.__doc__)
    assert groups == [
        (
            "Group one",
            [("alpha", "`int`, *optional*, defaults to `1`", "The first field."), ("beta", "`str`", "The second.")],
        )
    ]


def test_a_field_without_a_docstring_entry_fails_the_build(monkeypatch):
    @dataclasses.dataclass
    class Undocumented(Documented):
        gamma: float = 0.5

    hooks = load_hooks()
    monkeypatch.setattr(importlib.import_module(__name__), "Undocumented", Undocumented, raising=False)
    with pytest.raises(hooks.PluginError, match=r"fields without a docstring entry: \['gamma'\]"):
        hooks.fields_reference(f"{__name__}.Undocumented")


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, argv after `oger-trl`) of every `oger-trl COMMAND ...` (or `-m oger_trl.cli COMMAND ...`) line in a bash
    block of the README or the docs; `<placeholders>` become one word."""
    found = []
    for path in [README, *PAGES]:
        for block in re.findall(r"```bash\n(.*?)```", read(path), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(re.sub(r"<[^>]+>", "PLACEHOLDER", line), comments=True)
                for start, word in enumerate(words):
                    if word == "oger-trl" or (word == "-m" and words[start + 1 : start + 2] == ["oger_trl.cli"]):
                        argv = words[start + (1 if word == "oger-trl" else 2) :]
                        if argv and not argv[0].startswith("-"):
                            found.append((os.path.relpath(path, ROOT), argv))
                        break
    return found


COMMANDS = shown_commands()


def parse(argv: list[str]) -> None:
    from oger_trl import cli
    from oger_trl.train import make_parser

    command, rest = argv[0], argv[1:]
    if command in ("train", "embed"):  # `use_cpu`: this machine has no GPU, the recipes' bf16 is then accepted
        make_parser().parse_args_and_config(args=[*rest, "--use_cpu", "true"])
    else:
        parser = {"prepare": cli.prepare_parser, "generate": cli.generate_parser, "evaluate": cli.evaluate_parser}
        parser[command]().parse_args(rest)


def test_the_docs_show_every_command():
    assert {argv[0] for _, argv in COMMANDS} == {"prepare", "generate", "embed", "train", "evaluate"}


@pytest.mark.parametrize(("page", "argv"), COMMANDS, ids=[f"{p}:{' '.join(a)[:60]}" for p, a in COMMANDS])
def test_every_command_in_the_docs_is_accepted_by_its_parser(page, argv, monkeypatch):
    monkeypatch.chdir(ROOT)  # recipe paths are relative to the repository root
    try:
        parse(argv)
    except SystemExit as err:
        pytest.fail(f"{page}: `oger-trl {' '.join(argv)}` is refused by its parser (exit {err.code})")
