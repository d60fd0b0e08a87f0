"""Every shell command that README.md and the documentation give a user is run
somewhere, as written: the `fastbp ...` lines of the command-line guide by
tests/test_cli.py, and every `pip`, `python` and `pytest` command by a step of
.ci/run (each part of a `a && b` line appears there verbatim). The exceptions:
an install of what a CI line installs (the same build of fastbp with more extras
beside it, or packages of the test and integration extras, which CI installs), and
the commands a test runs as written (RUN_BY_TESTS), and those listed in NOT_RUN with
the reason CI cannot run them.
"""
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "docs" / "guide").glob("*.md"))]
CI = ROOT / ".ci" / "run"
CLI_GUIDE = ROOT / "docs" / "guide" / "cli.md"

# What .ci/run cannot run as written, and why.
NOT_RUN = {
    "pip install torch --index-url https://download.pytorch.org/whl/cpu":
        "PyTorch's own index is not reachable from CI; CI installs the same CPU-only "
        "build (torch==2.13.0) from the registry it reaches",
    "pip install torch": "named as what not to do (it brings CUDA's libraries)",
    "python -m pytest": "named as what not to do (it imports the unbuilt source tree)",
    "pip install jax": "a benchmark peer: CI checks that it resolves (pip install --dry-run jax)",
    'pip install "fastbp[sklearn]"': "how the extras will read once fastbp is on PyPI",
}
# Commands that a test runs as written (reading them from their page), and the test.
RUN_BY_TESTS = {
    "python benchmarks/reproduce_book.py --mnist DIR --runs 3":
        "test_book.py::test_the_guides_reproduction_of_the_book_gives_the_pages_figures",
}
# A user-facing command that starts with one of these is a command to run; other
# inline code in the prose (`fastbp predict MODEL DATA`, `fastbp train --plot`) names
# a command or an option without giving one to type.
RUNNABLE = ("pip ", "python ", "pytest", "sphinx-build")


def split_commands(text):
    """The commands of `text`, as written (runs of blanks made one): each line of its
    bash blocks, line continuations joined and comments dropped, and each inline
    code span that starts with RUNNABLE."""
    found = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang in ("bash", "sh", "shell"):
            for line in body.replace("\\\n", " ").splitlines():
                line = " ".join(re.sub(r"(^|\s)#.*", "", line).split())
                if line:
                    found.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S).replace("\n", " ")
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        if span.startswith(RUNNABLE):
            found.append(span)
    return found


def documented():
    return sorted({(page.relative_to(ROOT).as_posix(), command)
                   for page in PAGES for command in split_commands(page.read_text("utf-8"))})


def ci_lines():
    """The lines of .ci/run, comments dropped and runs of blanks made one, each with
    a blank at either end."""
    text = CI.read_text("utf-8").replace("\\\n", " ")
    return [f" {' '.join(line.split())} " for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_pages_give_commands():
    commands = [c for _, c in documented()]
    for expected in ("pip install . && fastbp train", 'pip install ".[test]" && pytest',
                     'pip install -e ".[test]"'):
        assert expected in commands
    assert len(commands) >= 20


def test_split_commands_reads_blocks_continuations_and_inline_spans():
    text = ("Run `pip install \".[x]\"` first, not `fastbp COMMAND`.\n\n```bash\n"
            "fastbp train --a 1 \\\n    --b 2   # comment\n# only a comment\n```\n"
            "```python\npip = 1\n```\n")
    assert split_commands(text) == ["fastbp train --a 1 --b 2", 'pip install ".[x]"']


def extras():
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))[
        "project"]["optional-dependencies"]


def requirement_name(requirement):
    return re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower()


# The extras whose packages CI installs (.[test] and .[integration]) and those it
# installs each in a step of its own.
CI_EXTRAS = ("test", "integration")
OWN_STEP_EXTRAS = ("docs", "bench")


def covered_install(command):
    """Whether `command` installs, from a checkout, only extras or packages that CI
    installs (so the tests that need them ran): `pip install ".[dask]"`,
    `pip install matplotlib` and the like."""
    tested = {requirement_name(r) for e in CI_EXTRAS for r in extras()[e]}
    match = re.fullmatch(r'pip install "\.\[([\w,-]+)\]"', command)
    if match:
        return all({requirement_name(r) for r in extras()[e]} <= tested
                   for e in match.group(1).split(","))
    match = re.fullmatch(r"pip install ([\w -]+)", command)
    return bool(match) and set(match.group(1).lower().split()) <= tested


def covered_build(command):
    """Whether `command` installs fastbp from the checkout (`pip install [-e] ".[...]"`)
    as a line of .ci/run does with these extras and more: the same build, more
    packages beside it."""
    match = re.fullmatch(r'pip install (-e )?"\.\[([\w,-]+)\]"', command)
    if not match:
        return False
    for line in ci_lines():
        for found in re.finditer(r' pip install (-e )?"\.\[([\w,-]+)\]" ', line):
            if (found.group(1) == match.group(1)
                    and set(match.group(2).split(",")) <= set(found.group(2).split(","))):
                return True
    return False


@pytest.mark.parametrize("page, command", documented())
def test_each_command_is_run(page, command):
    if command.startswith("fastbp "):
        # The command-line guide's examples run in tests/test_cli.py; a page that
        # shows a `fastbp` command gives one of them.
        guide = split_commands(CLI_GUIDE.read_text("utf-8"))
        assert command in guide, f"{page}: {command!r} is not among the guide's examples"
        return
    if command in NOT_RUN or covered_install(command) or covered_build(command):
        return
    if command in RUN_BY_TESTS:
        path, name = RUN_BY_TESTS[command].split("::")
        assert f"def {name}(" in (ROOT / "tests" / path).read_text("utf-8")
        return
    lines = ci_lines()
    for part in command.split(" && "):
        assert any(f" {part.strip()} " in line for line in lines), (
            f"{page}: {part.strip()!r} (of {command!r}) is run by no line of .ci/run")


def test_not_run_commands_are_documented_and_checked():
    commands = {c for _, c in documented()}
    for command in NOT_RUN:
        assert command in commands, f"{command!r} is no longer documented: drop it"
    assert any(" pip install --dry-run jax " in line for line in ci_lines())


def test_the_extras_the_pages_name_exist_and_ci_installs_their_packages():
    named = set()
    for page in PAGES:
        named.update(re.findall(r'"(?:fastbp)?\.?\[([\w,-]+)\]"', page.read_text("utf-8")))
    named = {e for group in named for e in group.split(",")}
    assert {"test", "integration", "docs", "bench", "sklearn"} <= named
    for extra in named:
        assert extra in extras(), f"the pages name an extra {extra!r} that pyproject lacks"
        if extra not in OWN_STEP_EXTRAS:
            assert covered_install(f'pip install ".[{extra}]"'), (
                f"the {extra} extra has packages that no CI step installs")
    assert not covered_install('pip install ".[docs]"')   # sphinx: the docs step's own
    assert not covered_install("pip install jax")
    assert covered_build('pip install -e ".[test]"') and not covered_build('pip install -e ".[docs]"')


def test_no_message_tells_users_to_install_fastbp_from_pypi():
    """fastbp is not on PyPI: hints name the packages a part needs, which install
    anywhere (the pages may say how the extras will read once it is)."""
    for path in [*sorted((ROOT / "fastbp").glob("*.py")), *PAGES]:
        for line in path.read_text("utf-8").splitlines():
            if re.search(r"fastbp\[\w+\]", line):
                assert "PyPI" in line, f"{path.relative_to(ROOT)}: {line.strip()}"
