"""The deploy commands the documentation shows, read as a shell and SAM CLI 1.170 read them.

* ``documented_commands``: every ``sam ...`` and ``aws cloudformation ...`` command of the README and
  the docs pages a newcomer follows, from their shell blocks (fenced ``bash`` and indented) and their
  inline code, with the ``$(...)`` commands inside others;
* ``shell_words``: a command's words as bash expands them under a given environment (so
  ``${AWS_REGION:+--region "$AWS_REGION"}`` is tested by the shell itself, not by a copy of its rules);
* ``effective_parameters``: the template parameters ``sam deploy`` sends. SAM CLI takes
  ``parameter_overrides`` of the command line *instead of* the config environment's (click's
  default_map: a config value is only an option's default), and reads each entry in order, later
  keys replacing earlier ones: ``KEY=VALUE`` words and ``file://PATH.yaml`` mappings
  (samcli/cli/types.py, ``CfnParameterOverridesType.convert``, SAM CLI 1.170.0).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from tools.sam_translate import REPO_ROOT

# The pages a newcomer deploys from (docs/organization.md has its own tests).
PAGES = tuple(REPO_ROOT / name for name in ("README.md", "docs/operations.md", "docs/sources.md", "docs/development.md"))
_MARKDOWN = MarkdownIt("commonmark")
_COMMAND = re.compile(r"^(?:\.venv-sam/bin/)?sam (?:deploy|delete)\b|^aws cloudformation\b")
_OPTION = re.compile(r"^--[a-z][a-z-]*$")


@dataclass(frozen=True)
class Command:
    page: str
    text: str  # as the page writes it, continuation lines joined

    @property
    def program(self) -> str:
        return "aws cloudformation" if self.text.startswith("aws ") else "sam " + shlex.split(self.text)[1]


def _shell_lines(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comment lines and prompts dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _substitutions(text: str) -> list[str]:
    """The commands inside ``$(...)`` of ``text`` (balanced parentheses)."""
    found = []
    start = text.find("$(")
    while start != -1:
        depth, index = 0, start + 1
        for index in range(start + 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            if depth == 0:
                break
        found.append(text[start + 2:index].strip())
        start = text.find("$(", index)
    return found


def documented_commands(pages: tuple[Path, ...] = PAGES) -> list[Command]:
    """Every ``sam deploy``, ``sam delete`` and ``aws cloudformation`` command the pages show."""
    commands = []
    for page in pages:
        for token in _MARKDOWN.parse(page.read_text()):
            if token.type in ("fence", "code_block") and token.info.strip() in ("", "bash", "sh", "shell"):
                lines = _shell_lines(token.content)
            elif token.type == "inline":
                lines = [child.content.strip() for child in token.children or [] if child.type == "code_inline"]
            else:
                continue
            for line in lines:
                for text in (line, *_substitutions(line)):
                    if _COMMAND.match(text):
                        commands.append(Command(page.relative_to(REPO_ROOT).as_posix(), text))
    return commands


def shell_words(text: str, environment: dict[str, str]) -> list[str]:
    """The words bash makes of ``text`` (expansions, quotes, comments) with only ``environment`` set."""
    if "$(" in text or "`" in text:
        raise ValueError(f"a command substitution would run: {text}")
    script = 'printf "%s\\0" ' + text
    result = subprocess.run(["bash", "-c", script], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment},
                            capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return result.stdout.split("\0")[:-1]


def option_values(words: list[str], option: str) -> list[str] | None:
    """The words after ``option`` up to the next option; None when the option is not given."""
    if option not in words:
        return None
    values = []
    for word in words[words.index(option) + 1:]:
        if _OPTION.match(word):
            break
        values.append(word)
    return values


def samconfig() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())


def config_environment(words: list[str]) -> str:
    values = option_values(words, "--config-env")
    return values[0] if values else "default"


def _entries(value: Any) -> list[Any]:
    """A parameter_overrides value as SAM CLI flattens it: strings are split into their KEY=VALUE words."""
    if value is None:
        return []
    if isinstance(value, list):
        return [entry for item in value for entry in _entries(item)]
    if isinstance(value, dict):
        return [value]
    return shlex.split(str(value))


def read_overrides(entries: list[Any]) -> dict[str, str]:
    """``KEY=VALUE`` words and ``file://`` YAML mappings (relative to the repository, where sam runs), in order."""
    parameters: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, bool) or value is None:
                    # SAM CLI writes str(True) = "True" and unsets None: neither is a template value here.
                    raise ValueError(f"parameter {key}: {value!r} is not a string or number; quote it")
                parameters[str(key)] = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        elif entry.startswith("file://"):
            path = REPO_ROOT / entry[len("file://"):]
            parameters.update(read_overrides([yaml.safe_load(path.read_text())]))
        elif entry.startswith("ParameterKey="):
            raise ValueError(f"use KEY=VALUE, not {entry}")
        else:
            key, separator, value = entry.partition("=")
            if not separator:
                raise ValueError(f"{entry!r} is not KEY=VALUE or file://PATH")
            parameters[key] = value
    return parameters


def effective_parameters(words: list[str]) -> dict[str, str]:
    """The template parameters ``sam deploy`` sends for ``words``: the command line's overrides, else its environment's."""
    given = option_values(words, "--parameter-overrides")
    if given is not None:
        return read_overrides(given)
    deploy = samconfig().get(config_environment(words), {}).get("deploy", {}).get("parameters", {})
    return read_overrides(_entries(deploy.get("parameter_overrides")))


def parameter_problems(parameters: dict[str, str], template_parameters: dict[str, Any], guided: bool = False) -> list[str]:
    """What CloudFormation would refuse of ``parameters`` (unknown names, values outside the constraints, missing ones)."""
    problems = []
    for name, value in parameters.items():
        spec = template_parameters.get(name)
        if spec is None:
            problems.append(f"{name}: no such parameter")
            continue
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"{name}: {value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problems.append(f"{name}: {value!r} does not match {spec['AllowedPattern']}")
        if not int(spec.get("MinLength", 0)) <= len(value) <= int(spec.get("MaxLength", 1 << 30)):
            problems.append(f"{name}: {len(value)} characters, outside {spec.get('MinLength')}..{spec.get('MaxLength')}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name}: {value!r} is not a number")
            else:
                if not float(spec.get("MinValue", "-inf")) <= number <= float(spec.get("MaxValue", "inf")):
                    problems.append(f"{name}: {value} outside {spec.get('MinValue')}..{spec.get('MaxValue')}")
    if not guided:
        problems += [f"{name}: required (no default) and not given" for name, spec in template_parameters.items()
                     if "Default" not in spec and name not in parameters]
    return problems


def with_defaults(template_text: str, parameters: dict[str, str]) -> str:
    """``template_text`` with each parameter's Default set to the given value (what CloudFormation would evaluate)."""
    for name, value in parameters.items():
        block = re.search(rf"^  {name}:\n    Type: (String|Number)\n(    Default: .*\n)?", template_text, re.M)
        if block is None:
            raise ValueError(f"parameter {name} is not declared as '  {name}:' with its Type on the next line")
        kind = block.group(1)
        # A Number's Default is a number (cfn-lint compares it with the AllowedValues as numbers).
        default = value if kind == "Number" else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        template_text = template_text.replace(block.group(0), f"  {name}:\n    Type: {kind}\n    Default: {default}\n", 1)
    return template_text
