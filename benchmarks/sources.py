"""Reading benchmark rows from local files or the Hugging Face hub, with one clear error either way."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.base import DataError

DATA_DIR_HINT = "pass --data-dir DIR (or set EVALKIT_DATA_DIR) to a folder laid out like shared/data"


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a JSONL (or .jsonl.gz) file; DataError names the file and line of any bad row."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}; {DATA_DIR_HINT}")
    rows: list[dict[str, Any]] = []
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                rows.append(_parse_row(line, path, lineno, required))
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise DataError(f"data file is empty: {path}")
    return rows


def read_json_list(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a JSON file holding one list of objects."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}; {DATA_DIR_HINT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"malformed JSON in {path}: {exc}") from None
    if not isinstance(data, list) or not data:
        raise DataError(f"{path} must hold a non-empty JSON list of objects")
    for i, row in enumerate(data):
        _check_row(row, path, f"item {i}", required)
    return data


def _parse_row(line: str, path: Path, lineno: int, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON at {path}:{lineno}: {exc.msg}") from None
    _check_row(row, path, f"line {lineno}", required)
    return row


def _check_row(row: Any, path: Path, where: str, required: tuple[str, ...]) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{path} {where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in required if k not in row]
    if missing:
        raise DataError(f"{path} {where}: missing field(s) {', '.join(missing)}")


def load_hub(dataset: str, config: str | None, split: str, *, benchmark: str,
             local_hint: str) -> Iterator[dict[str, Any]]:
    """Rows of a hub dataset split through `datasets`; offline or missing gives one DataError."""
    try:
        import datasets

        ds = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # datasets raises many types for "offline" / "not found"
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load {benchmark} from the Hugging Face hub ({dataset}: {reason}); "
            f"either connect to the hub, or {DATA_DIR_HINT} (needs {local_hint})"
        ) from None
    yield from ds


#: The file formats `read_table` reads, by extension (a `.gz` suffix is allowed for the text formats).
TABLE_FORMATS = ("jsonl", "json", "parquet", "csv")


def table_format(path: Path) -> str | None:
    """The format a file's name says (`problems.jsonl.gz` is jsonl), or None."""
    suffixes = [s.lstrip(".").lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == "gz":
        suffixes.pop()
    fmt = suffixes[-1] if suffixes else ""
    return {"ndjson": "jsonl"}.get(fmt, fmt) if fmt in (*TABLE_FORMATS, "ndjson") else None


def read_table(path: Path, fmt: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a jsonl / json / parquet / csv file as dicts; DataError (one line) for a missing or bad file.

    A json file holds a list of objects, or an object with one list of objects under `data`, `rows` or
    `examples`. csv cells are strings (a number is the grader's to read).
    """
    if fmt == "jsonl":
        return read_jsonl(path, required=required)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if fmt == "json":
        try:
            with _open_text(path) as f:
                data = json.load(f)
        except (OSError, UnicodeDecodeError, EOFError, json.JSONDecodeError) as exc:
            raise DataError(f"malformed JSON in {path}: {exc}") from None
        if isinstance(data, dict):
            data = next((data[k] for k in ("data", "rows", "examples") if isinstance(data.get(k), list)), data)
        if not isinstance(data, list) or not data:
            raise DataError(f"{path} must hold a non-empty JSON list of objects")
        rows = data
    elif fmt == "csv":
        import csv

        try:
            with _open_text(path) as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None
    elif fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises its own error types for a file that is not parquet
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise DataError(f"cannot read {path} as parquet: {reason}") from None
    else:
        raise DataError(f"cannot read {path}: unknown format {fmt!r} (one of {', '.join(TABLE_FORMATS)})")
    if not rows:
        raise DataError(f"data file is empty: {path}")
    for i, row in enumerate(rows):
        _check_row(row, path, f"row {i + 1}", required)
    return rows
