"""Source text → Problem: the selected nn.Module class, what it needs from its file, its input recipe.

Runs in the server/CLI process, so it is pure `ast` work: nothing from the user's file is executed
here. Running the recipe (and finding that it raises) happens in a verify worker (`probe`).

SKELETON: the full extraction is being written; the API below is the contract.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Range:
    """0-based, end-exclusive character positions, as in LSP."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        if (line, col) < (self.start_line, self.start_col):
            return False
        return (line, col) <= (self.end_line, self.end_col)

    def to_dict(self) -> dict:
        return {"start_line": self.start_line, "start_col": self.start_col, "end_line": self.end_line, "end_col": self.end_col}


@dataclass
class ModuleClass:
    """An nn.Module subclass found in a file."""

    name: str
    range: Range  # whole class statement, decorators included
    name_range: Range  # the class name token
    bases: list[str] = field(default_factory=list)


@dataclass
class Problem:
    name: str  # the selected class's name
    source: str  # standalone module: defines Model, get_inputs, get_init_inputs
    class_range: Range
    name_range: Range
    path: str | None = None
    recipe: str = "get_inputs"  # get_inputs | comment | settings
    dependencies: list[str] = field(default_factory=list)  # names pulled in from the file

    def key(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "class_range": self.class_range.to_dict(),
            "name_range": self.name_range.to_dict(),
            "path": self.path,
            "recipe": self.recipe,
            "dependencies": list(self.dependencies),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        return cls(
            name=d["name"],
            source=d["source"],
            class_range=Range(**d["class_range"]),
            name_range=Range(**d["name_range"]),
            path=d.get("path"),
            recipe=d.get("recipe", "get_inputs"),
            dependencies=list(d.get("dependencies", [])),
        )


class ProblemError(Exception):
    """Bad input, reported to the user with a kind, a message and a source range."""

    KINDS = ("syntax", "not_found", "not_module", "no_recipe", "recipe_error", "no_classes", "read_error")

    def __init__(self, kind: str, message: str, range: Range | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.range = range


def list_modules(text: str) -> list[ModuleClass]:
    """Every nn.Module subclass in `text` (direct, via aliases, or via other module classes)."""
    raise NotImplementedError


def module_at(text: str, line: int, col: int, end_line: int | None = None, end_col: int | None = None) -> ModuleClass | None:
    """The module class containing the position (or overlapping the range), innermost first."""
    raise NotImplementedError


def extract(
    text: str,
    class_name: str | None = None,
    *,
    line: int | None = None,
    col: int | None = None,
    path: str | None = None,
    inputs: str | None = None,
    init_inputs: str | None = None,
) -> Problem:
    """Build the Problem for one class, chosen by name or by position. Raises ProblemError."""
    raise NotImplementedError
