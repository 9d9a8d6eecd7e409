"""Load one `params.yaml` section into a frozen dataclass.

Each stage module defines the dataclass of the section it reads; this module only turns YAML
into that dataclass and rejects unknown or missing keys, so a typo in `params.yaml` or in
`dvc exp run -S` fails before any heavy work instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError):
    """A missing, unknown or invalid parameter; the message names it."""


def read_params(path: Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read the whole params file as a dict."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    with path.open() as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert YAML values to the dataclass field type (tuples for lists, floats for ints)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(name, value, inner[0]) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ParamsError(f"{name}: expected a mapping, got {value!r}")
        return from_dict(hint, value, name)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{name}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(f"{name}[{i}]", v, item) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{name}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ParamsError(f"{name}: expected {hint.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str) -> T:
    """Build dataclass `cls` from `data`, naming `prefix.key` in every error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamsError(
            f"unknown parameter(s) {', '.join(f'{prefix}.{k}' for k in unknown)}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _coerce(f"{prefix}.{name}", data[name], hints[name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ParamsError(f"missing parameter {prefix}.{name}")
    try:
        return cls(**kwargs)
    except ValueError as err:  # __post_init__ validation
        raise ParamsError(f"{prefix}: {err}") from err


def load_section(cls: type[T], section: str, path: Path = DEFAULT_PARAMS) -> T:
    """Load `section` of the params file into `cls` (a frozen dataclass)."""
    data = read_params(path)
    if section not in data:
        raise ParamsError(f"{path}: missing section '{section}'")
    return from_dict(cls, data[section] or {}, section)


def save_resolved(out_path: Path, **sections: Any) -> None:
    """Write the resolved config of a stage next to its outputs (JSON)."""
    payload = {
        k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in sections.items()
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
