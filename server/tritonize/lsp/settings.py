"""Editor settings → `Settings`: `initializationOptions`, then `workspace/configuration` ("tritonize").

Either source may be the bare settings object or one wrapped in {"tritonize": {...}}. The layers
are merged key by key (configuration wins) and validated once; bad keys are reported by name and
their defaults kept, so a typo never silently changes what is verified.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings

SECTION = "tritonize"


def section_of(raw: Any) -> dict[str, Any]:
    """The tritonize settings inside whatever a client sent (None, {...}, {"tritonize": {...}})."""
    if not isinstance(raw, dict):
        return {}
    inner = raw.get(SECTION)
    if isinstance(inner, dict):
        return inner
    return raw


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class SettingsLayers:
    init: dict[str, Any] = field(default_factory=dict)  # initializationOptions
    config: dict[str, Any] = field(default_factory=dict)  # workspace/configuration or didChangeConfiguration
    current: Settings = field(default_factory=Settings)

    def set_init(self, raw: Any) -> list[str]:
        self.init = section_of(raw)
        return self._rebuild()

    def set_config(self, raw: Any) -> list[str]:
        self.config = section_of(raw)
        return self._rebuild()

    def _rebuild(self) -> list[str]:
        self.current, problems = Settings.from_dict(merge(self.init, self.config))
        return problems
