"""Every command-line subcommand is documented in the README."""

from pathlib import Path

from isodesk.cli import COMMANDS, build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_subcommand_appears_in_the_readme():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    names = sorted(subparsers.choices)
    assert len(names) >= len(COMMANDS)
    missing = [n for n in names if f"isodesk {n}" not in README]
    assert missing == []


def test_readme_has_exactly_the_two_setup_commands():
    setup = README.split("## Set-up", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.startswith("make ")]
    assert commands == ["make run", "make test"]
