"""JSON files of the SMPD release as columns, whichever way the release laid them out.

Most SMPD files are a list of records (`[{"Uid": ..., "Pid": ..., ...}, ...]`); the user data is
column-oriented, as pandas `to_json` writes it (`{"Uid": {"0": ..., "1": ...}, ...}`). Both,
and a dict of lists, come out here as one list per field in row order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wrcr.errors import DataError


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; malformed JSON is a `DataError` naming the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text at byte {err.start}", file=path) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"malformed JSON at line {err.lineno}, column {err.colno} (char {err.pos}): {err.msg}",
            file=path,
        ) from err


def _index_order(keys: Sequence[str]) -> list[str]:
    # pandas writes the row index as "0", "1", ...: sort numerically, else keep file order
    if all(k.lstrip("-").isdigit() for k in keys):
        return sorted(keys, key=int)
    return list(keys)


def _from_records(
    data: list, path: Path, fields: Sequence[str], optional: Sequence[str]
) -> dict[str, list]:
    for row, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise DataError(f"expected a JSON object, got {type(rec).__name__}", file=path, row=row)
    columns: dict[str, list] = {}
    for field in fields:
        try:
            columns[field] = [rec[field] for rec in data]
        except KeyError:
            row = next(i for i, rec in enumerate(data) if field not in rec)
            raise DataError("missing field", file=path, row=row, field=field) from None
    for field in optional:
        columns[field] = [rec.get(field) for rec in data]
    return columns


def _from_columns(
    data: dict, path: Path, fields: Sequence[str], optional: Sequence[str]
) -> dict[str, list]:
    for field in fields:
        if field not in data:
            raise DataError(
                f"missing field (the file has {', '.join(map(str, data)) or 'no fields'})",
                file=path,
                field=field,
            )
    wanted = [*fields, *(f for f in optional if f in data)]
    first = data[wanted[0]] if wanted else {}

    # dict of lists: every column the same length
    if isinstance(first, list):
        columns = {}
        for field in wanted:
            values = data[field]
            if not isinstance(values, list) or len(values) != len(first):
                raise DataError(
                    f"column has {len(values) if isinstance(values, list) else 'no list of'} "
                    f"values, '{wanted[0]}' has {len(first)}",
                    file=path,
                    field=field,
                )
            columns[field] = values
    else:
        # dict of dicts keyed by the row index: every column holds every index
        if not isinstance(first, dict):
            raise DataError("expected a list of records or a mapping of columns", file=path)
        order = _index_order(list(first))
        columns = {}
        for field in wanted:
            col = data[field]
            if not isinstance(col, dict):
                raise DataError("expected a mapping of row index to value", file=path, field=field)
            try:
                columns[field] = [col[k] for k in order]
            except KeyError:
                row = next(i for i, k in enumerate(order) if k not in col)
                raise DataError(
                    f"missing value for row index {order[row]!r}", file=path, row=row, field=field
                ) from None
            if len(col) != len(order):
                raise DataError(
                    f"column has {len(col)} values, '{wanted[0]}' has {len(order)}",
                    file=path,
                    field=field,
                )

    n = len(next(iter(columns.values()))) if columns else 0
    for field in optional:
        columns.setdefault(field, [None] * n)
    return columns


def json_columns(
    path: str | Path, fields: Sequence[str], optional: Sequence[str] = ()
) -> tuple[dict[str, list], str]:
    """Read `path` into {field: values}; `fields` must be present, `optional` become None.

    Returns the columns and the layout found ("records" or "columns").
    """
    path = Path(path)
    data = load_json(path)
    if isinstance(data, list):
        return _from_records(data, path, fields, optional), "records"
    if isinstance(data, dict):
        return _from_columns(data, path, fields, optional), "columns"
    raise DataError(
        f"expected a list of records or a mapping of columns, got {type(data).__name__}", file=path
    )


def json_length(path: str | Path) -> int:
    """Number of rows in a records or column-oriented JSON file."""
    data = load_json(path)
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict) and data:
        first = next(iter(data.values()))
        if isinstance(first, (list, dict)):
            return len(first)
    raise DataError("expected a list of records or a mapping of columns", file=path)
