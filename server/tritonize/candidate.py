"""Candidates: self-contained Python modules that define `ModelNew` (DESIGN.md, candidate contract).

Every generator returns `Candidate`s; the verifier only ever sees their `code`. Parsing of raw
language-model output into candidates lives in `parse_model_output` (see generate/llm.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Candidate:
    code: str  # a whole Python module defining ModelNew(nn.Module)
    origin: str  # llm:<model> | inductor:<mode> | template:<pattern>
    candidate_id: str = ""  # unique within one conversion; set by the pipeline when empty
    notes: list[str] = field(default_factory=list)  # e.g. "uses private torch APIs"

    def to_dict(self) -> dict:
        return {"code": self.code, "origin": self.origin, "candidate_id": self.candidate_id, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict) -> Candidate:
        return cls(
            code=data["code"],
            origin=data["origin"],
            candidate_id=data.get("candidate_id", ""),
            notes=list(data.get("notes", [])),
        )
