"""Figures of a run, by name: written to target/reliability/<name>.md (the reliability report
the README links to) and printed after the results, so that documented numbers come from a
command anyone can re-run."""

from __future__ import annotations

from kit.paths import RELIABILITY

#: name -> text, for the terminal summary.
REPORTS: dict[str, str] = {}


def report(name: str, text: str) -> None:
    REPORTS[name] = text
    RELIABILITY.mkdir(parents=True, exist_ok=True)
    (RELIABILITY / f"{name}.md").write_text(text + "\n")


def print_reports(terminalreporter) -> None:
    for name, text in REPORTS.items():
        terminalreporter.write_sep("=", f"{name} (target/reliability/{name}.md)")
        terminalreporter.write_line(text)
