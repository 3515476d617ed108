"""The documentation and the program agree: every `fortium-metrics ...` command line in README.md
and docs/**/*.md names commands and options that exist (the click tree), every FORTIUM_* variable
the docs name is a setting (config.py) or one the test suite reads, and every command and setting
that exists is documented somewhere."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from fortium_metrics.cli import main
from fortium_metrics.config import Settings
from fortium_metrics.environment import ENV_PREFIX
from fortium_metrics.hook_cli import option_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SETTINGS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
# Variables of the test suite and CI (tests/conftest.py, .ci/run), documented for contributors.
TEST_VARIABLES = {name for path in [*(ROOT / "tests").rglob("*.py"), ROOT / ".ci" / "run"] if path.exists()
                  for name in re.findall(r"\bFORTIUM_TEST_[A-Z0-9_]+\b", path.read_text())}

# `fortium-metrics` as the program (not a path such as ~/.local/share/fortium-metrics, nor an image tag).
PROGRAM = re.compile(r"(?<![\w./$-])(?:fortium-metrics|python3 dev\.py cli)(?![\w.:/-])")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE = re.compile(r"`([^`]+)`")
END_OF_COMMAND = {"#", "&&", "||", ";", "|", ">", ">>", "<", "\\"}
STRIP = "\"'`,;:)([]{}."


@dataclass(frozen=True)
class Mention:
    where: str
    text: str


def code_lines(path: Path) -> list[Mention]:
    """The command lines of a document: each line of a fenced block, each inline code span."""
    text = path.read_text()
    found: list[Mention] = []
    for block in FENCE.findall(text):
        found += [Mention(path.name, line) for line in block.splitlines()[1:-1]]
    for span in INLINE.findall(FENCE.sub("", text)):
        found.append(Mention(path.name, " ".join(span.split())))
    return found


def invoked(before: str) -> bool:
    """Whether `fortium-metrics` after this text is the program being run, not a name (a Kubernetes
    Secret, an MCP server's name in `claude mcp add NAME -- ...`)."""
    before = before.rstrip()
    words = before.split()
    return (not words or before.endswith(("--", "&&", ";", "|", "$", '"', "(")) or words[-1] == "sudo"
            or re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[-1]) is not None
            or re.search(r"\bexec(\s+-\S+)*\s+\S+$", before) is not None)  # docker/kubectl exec CONTAINER


def commands_of(mention: Mention) -> list[list[str]]:
    """The words after each `fortium-metrics` run in a line."""
    matches = list(PROGRAM.finditer(mention.text))
    parts = [mention.text[match.end():following.start() if following else None]
             for match, following in zip(matches, [*matches[1:], None])
             if invoked(mention.text[:match.start()])]
    commands = []
    for part in parts:
        words = []
        for word in part.split():
            if word in END_OF_COMMAND or word.startswith("#"):
                break
            words.append(word)
        commands.append(words)
    return commands


def walk(command: click.Command, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found = {path: command}
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found.update(walk(sub, (*path, name)))
    return found


TREE = walk(main)


def option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    if command is TREE[("hook",)]:  # a stand-in: the hook parses its own options with argparse
        return names | {option for action in option_parser()._actions for option in action.option_strings}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    return names


def resolve(words: list[str]) -> tuple[list[tuple[str, ...]], list[str]]:
    """(the command paths the words name, the problems found). `a|b` names alternatives."""
    path: tuple[str, ...] = ()
    problems: list[str] = []
    named: list[tuple[str, ...]] = []
    complete = False  # past the command's name: the rest are its arguments and options
    for index, raw in enumerate(words):
        word = raw.strip(STRIP)
        command = TREE[path]
        if word.startswith("-"):
            problems += check_options([raw], [command], path)
            continue
        if complete or not isinstance(command, click.Group) or not re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", word):
            complete = True
            continue
        alternatives = word.split("|")
        unknown = [name for name in alternatives if name not in command.commands]
        if unknown:
            problems.append(f"`{' '.join(('fortium-metrics',) + path)}` has no command {', '.join(unknown)}")
            break
        if len(alternatives) > 1:
            named += [(*path, name) for name in alternatives]
            return named, problems + check_options(words[index + 1:], [TREE[(*path, a)] for a in alternatives], path)
        path = (*path, word)
    if path:
        named.append(path)
    return named, problems


def check_options(words: list[str], commands: list[click.Command], parent: tuple[str, ...]) -> list[str]:
    known = set.intersection(*(option_names(command) for command in commands))
    return [f"`{' '.join(('fortium-metrics', *parent))}{' ...' if len(commands) > 1 else ''}` has no option {option}"
            for raw in words if raw.startswith("-")
            for option in re.findall(r"--?[A-Za-z][\w-]*", raw.split("=")[0]) if option not in known]


def documented() -> tuple[set[tuple[str, ...]], list[str]]:
    paths: set[tuple[str, ...]] = set()
    problems: list[str] = []
    for doc in DOCS:
        for mention in code_lines(doc):
            for words in commands_of(mention):
                named, found = resolve(words)
                paths.update(named)
                problems += [f"{mention.where}: {problem} (in `{mention.text}`)" for problem in found]
    return paths, problems


def variables_in_docs() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in DOCS:
        for name in re.findall(r"\bFORTIUM_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()):
            found.setdefault(name, set()).add(str(doc.relative_to(ROOT)))
    return found


def test_every_command_line_in_the_docs_names_commands_and_options_that_exist():
    _, problems = documented()
    assert not problems, "\n".join(problems)


def test_every_command_is_documented():
    paths, _ = documented()
    # A group is documented by its commands; every command people run is named with the program.
    missing = [" ".join(path) for path, command in TREE.items()
               if path and not isinstance(command, click.Group) and path not in paths]
    assert not missing, f"not in README.md or docs/: {missing}"


def test_every_variable_in_the_docs_is_a_setting_or_a_test_variable():
    unknown = {name: where for name, where in variables_in_docs().items() if name not in SETTINGS | TEST_VARIABLES}
    assert not unknown, unknown


def test_every_setting_is_documented():
    missing = sorted(SETTINGS - set(variables_in_docs()))
    assert not missing, f"not in README.md or docs/: {missing}"


@pytest.mark.parametrize("line, problem", [
    ("fortium-metrics user list --org acme --jsn", "no option --jsn"),
    ("fortium-metrics usr list", "no command usr"),
    ("fortium-metrics db upgrade|sideways", "no command sideways"),
    ("python3 dev.py cli team create --org acme --colour red", "no option --colour"),
    ("fortium-metrics hook --drainn", "no option --drainn"),
    ("docker exec -it fortium fortium-metrics org create X --slug x --colour red", "no option --colour"),
    ("FORTIUM_DATA_DIR=/x fortium-metrics servee", "no command servee"),
    ("claude mcp add fm -- fortium-metrics mcp --flush-intervall 5", "no option --flush-intervall"),
])
def test_the_checker_finds_a_wrong_command_or_option(line, problem):
    problems = [p for words in commands_of(Mention("x", line)) for p in resolve(words)[1]]
    assert any(problem in p for p in problems), problems


def test_the_checker_reads_arguments_paths_and_alternatives_as_such():
    for line in ("fortium-metrics import legacy ~/ --org acme --dry-run", "~/.local/share/fortium-metrics",
                 "docker build -t fortium-metrics:0.1.0 .", "fortium-metrics db upgrade|downgrade",
                 "FORTIUM_DATA_DIR=/path fortium-metrics serve --port 8765  # comment --nothing",
                 '"command": "fortium-metrics hook --linger 5"',
                 "kubectl create secret generic fortium-metrics --from-literal=A=b",
                 "claude mcp add fortium-metrics -- fortium-metrics mcp --flush-interval 5"):
        problems = [p for words in commands_of(Mention("x", line)) for p in resolve(words)[1]]
        assert not problems, (line, problems)
    assert resolve(["db", "upgrade|downgrade"])[0] == [("db", "upgrade"), ("db", "downgrade")]


REPO_PATH = re.compile(r"^(?:docs|examples|deploy|tests|src|frontend|bench|migrations)/[\w./-]*[\w/]$|^(?:Dockerfile|\.dockerignore|dev\.py|requirements\.lock|pyproject\.toml)$")


def test_every_file_of_the_repository_the_docs_name_exists():
    missing = [f"{mention.where}: {mention.text}" for doc in DOCS for mention in code_lines(doc)
               if REPO_PATH.match(mention.text) and not (ROOT / mention.text).exists()]
    assert not missing, missing
