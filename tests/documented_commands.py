"""The `python -m fcnseg.*` commands the repository's Markdown files show, as argument lists.

Commands are read from fenced code blocks (a backslash at a line's end continues it) and from
inline code spans in prose (which may wrap across lines). A command ends at a shell operator
(`|`, `&&`, `;`, `>`) or a comment; `...` stands for more flags and is dropped; an optional
`[--flag]` is checked as `--flag`; `<name>` placeholders and the words in `PLACEHOLDERS` are
replaced by a value of the right kind, and a flagfile that is not in the repository (a
placeholder, or a run's own `flags.txt`) by `STAND_IN_FLAGFILE`. A mention of a command with
no flags (`python -m fcnseg.evaluate` in prose) is not a command.
"""

import dataclasses
import re
import shlex

COMMAND = re.compile(r"python -m (fcnseg(?:\.[a-z_]+)+)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]*(?:\n[^`\n]+)*)`")
SHELL_END = {"|", "&&", "||", ";", ">", ">>", "2>&1", "&"}
# Words the documents use for "a path or value of your own".
PLACEHOLDERS = {"FILE": "placeholder.json", "FIXED": "fixed_copy", "DIR": "placeholder_dir"}
SKIPPED_FOLDERS = {".venv", "node_modules", ".git", "runs"}
STAND_IN_FLAGFILE = "configs/quickstart.flags"


@dataclasses.dataclass(frozen=True)
class DocumentedCommand:
    path: str  # the Markdown file, relative to the repository
    line: int  # where the command starts
    module: str  # e.g. fcnseg.train
    arguments: tuple  # the flags, as a shell would pass them

    def __str__(self):
        return f"{self.path}:{self.line}: python -m {self.module} {shlex.join(self.arguments)}"


def markdown_files(root):
    """Every Markdown file under `root`, but virtual environments, packages and run folders."""
    return sorted(path for path in root.rglob("*.md") if not SKIPPED_FOLDERS & set(path.relative_to(root).parts[:-1]))


def documented_commands(root):
    """Every `python -m fcnseg.*` command of every Markdown file under `root`, in order, once each."""
    found = []
    for path in markdown_files(root):
        text = path.read_text()
        name = str(path.relative_to(root))
        fenced_spans = []
        for block in FENCE.finditer(text):
            fenced_spans.append(block.span())
            first = text.count("\n", 0, block.start(1)) + 1
            logical, start = "", first
            for number, line in enumerate(block.group(1).splitlines(), start=first):
                if not logical:
                    start = number
                logical += line
                if line.endswith("\\"):
                    logical = logical[:-1] + " "
                    continue
                found += _commands_in(logical, name, start)
                logical = ""
        for span in INLINE.finditer(text):
            if any(start <= span.start() < end for start, end in fenced_spans):
                continue
            found += _commands_in(span.group(1).replace("\n", " "), name, text.count("\n", 0, span.start()) + 1)
    unique = {}
    for command in found:
        unique.setdefault((command.module, command.arguments), _with_flagfiles(command, root))
    return [command for command in unique.values() if command.arguments]


def _commands_in(text, path, line):
    commands = []
    for match in COMMAND.finditer(text):
        try:
            words = shlex.split(text[match.end() :], comments=True)
        except ValueError:  # an unclosed quote: not a command a reader can run
            continue
        arguments = []
        for word in words:
            if word in SHELL_END or word.startswith(("python", "#")):
                break
            word = word.strip("[]")
            if word in ("...", "", "\\", "--flag=value"):  # "[--flag=value ...]": any more flags
                continue
            arguments.append(_substituted(word))
        commands.append(DocumentedCommand(path, line, match.group(1), tuple(arguments)))
    return commands


def _with_flagfiles(command, root):
    arguments = tuple(
        f"--flagfile={STAND_IN_FLAGFILE}"
        if word.startswith("--flagfile=") and not (root / word.partition("=")[2]).is_file()
        else word
        for word in command.arguments
    )
    return dataclasses.replace(command, arguments=arguments)


def _substituted(word):
    word = re.sub(r"<[^<>]+>", "placeholder", word)
    name, equals, value = word.partition("=")
    if equals and value in PLACEHOLDERS:
        return f"{name}={PLACEHOLDERS[value]}"
    return word
