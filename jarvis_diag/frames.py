"""The one place that builds the events DataFrame.

Parsers hand over plain columns (lists or numpy/pyarrow arrays keyed by column name);
this module turns them into a frame with exactly :data:`events.COLUMNS`, in order, with
their dtypes. Times arrive as epoch seconds (float) or epoch nanoseconds (int64) by the
writer's clock, already in UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from jarvis_diag.events import COLUMNS, KIND_NAMES, LEVELS, SOURCES, Event

EVENT_SCHEMA = "jarvis-diag.event/1"
TIME_COLUMNS = ("t", "t_source")
_NS = 1_000_000_000

# Categoricals with a closed set of values get fixed categories, so frames from
# different files concatenate without falling back to object columns.
FIXED_CATEGORIES: dict[str, tuple[str, ...]] = {"source": SOURCES, "level": LEVELS, "kind": KIND_NAMES}


def _dtype(column: str) -> Any:
    name = COLUMNS[column]
    if name == "category" and column in FIXED_CATEGORIES:
        return pd.CategoricalDtype(FIXED_CATEGORIES[column])
    return name


def empty_events() -> pd.DataFrame:
    """A frame with no rows and every events column typed."""
    return pd.DataFrame({c: pd.Series([], dtype=_dtype(c)) for c in COLUMNS})


def seconds_to_ns(values: Any, *, consume: bool = False) -> np.ndarray:
    """Epoch seconds (floats, NaN/None = unknown) as int64 nanoseconds rounded to the
    microsecond; unknown becomes NaT's integer. ``consume``: ``values`` is a float64 array
    the caller gives away (it is used as scratch space instead of new memory)."""
    arr = np.asarray(values, dtype="float64")
    if consume and arr.flags.writeable and arr is values:
        out = np.multiply(arr, 1e6, out=arr)
    else:
        out = arr * 1e6
    np.rint(out, out=out)  # (half to even, as round)
    bad = ~np.isfinite(out)
    any_bad = bool(bad.any())
    if any_bad:
        out[bad] = 0
    ns = out.astype("int64")
    del out
    np.multiply(ns, 1000, out=ns)
    if any_bad:
        ns[bad] = np.iinfo("int64").min
    return ns


def time_column(values: Any, *, unit: str = "s") -> pd.Series:
    """A UTC datetime column from epoch seconds (``unit="s"``) or int64 nanoseconds."""
    ns = seconds_to_ns(values) if unit == "s" else np.asarray(values, dtype="int64")
    try:  # (the nanoseconds as they are: localizing to UTC would copy them)
        utc = pd.arrays.DatetimeArray._simple_new(ns.view("datetime64[ns]"), dtype=pd.DatetimeTZDtype("ns", "UTC"))
    except (AttributeError, TypeError):  # a pandas without it
        return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")
    return pd.Series(utc, copy=False)


def _column(name: str, values: Any, length: int) -> pd.Series:
    """One typed column from a list, a numpy array, a pyarrow array or a pandas array."""
    dtype = _dtype(name)
    if values is None:
        if COLUMNS[name] == "category":
            return pd.Series(pd.Categorical.from_codes(np.full(length, -1, dtype=np.int8),
                                                       dtype=dtype if name in FIXED_CATEGORIES
                                                       else pd.CategoricalDtype(pd.Index([], dtype="string"))))
        return pd.Series(pd.array([None] * length, dtype=dtype))
    if name in TIME_COLUMNS:
        if isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype):
            return values.reset_index(drop=True).astype(COLUMNS[name])
        return time_column(values)
    if isinstance(values, pd.Series):
        values = values.array
    if (isinstance(values, pd.api.extensions.ExtensionArray) and COLUMNS[name] != "category"
            and values.dtype == dtype):
        return pd.Series(values, copy=False)
    if COLUMNS[name] == "category":
        if isinstance(values, pd.Categorical):
            if name in FIXED_CATEGORIES:
                return pd.Series(values.set_categories(FIXED_CATEGORIES[name]) if values.dtype != dtype else values)
            # sorted categories of dtype "string", as astype("category") of a string column gives
            cats = values.categories
            if str(cats.dtype) == "string" and cats.is_monotonic_increasing:
                return pd.Series(values, copy=False)
            order = np.argsort(cats.to_numpy(dtype=object)) if len(cats) else np.zeros(0, dtype=np.int64)
            remap = np.empty(len(cats) + 1, dtype=np.int32)
            remap[order] = np.arange(len(cats))
            remap[-1] = -1
            new_cats = pd.Index(cats.to_numpy(dtype=object)[order], dtype="string")
            return pd.Series(pd.Categorical.from_codes(remap[values.codes], dtype=pd.CategoricalDtype(new_cats)))
        if name in FIXED_CATEGORIES:
            return pd.Series(pd.Categorical(values, dtype=dtype))
        return pd.Series(pd.array(values, dtype="string")).astype("category")
    if dtype == "int64":
        return pd.Series(np.asarray(values, dtype="int64"), copy=False)
    if dtype == "float64":
        if isinstance(values, list):
            values = [math.nan if v is None else v for v in values]
        return pd.Series(np.asarray(values, dtype="float64"), copy=False)
    if isinstance(values, pa.ChunkedArray | pa.Array) and dtype == "Int64":
        return pd.Series(pd.array(values.to_pandas(types_mapper=pd.ArrowDtype), dtype="Int64"))
    return pd.Series(pd.array(values, dtype=dtype), copy=False)


def event_columns(columns: Mapping[str, Any], length: int) -> dict[str, pd.Series]:
    """Every events column, typed, from columns keyed by name; missing columns are all null.

    ``t`` defaults to ``t_source``. Unknown keys are an error (a typo would lose data).
    """
    extra = set(columns) - set(COLUMNS)
    if extra:
        raise ValueError(f"not events columns: {sorted(extra)}")
    cols = dict(columns)
    same_times = cols.get("t") is None and cols.get("t_source") is not None
    data = {name: _column(name, cols.get(name), length) for name in COLUMNS if not (same_times and name == "t")}
    if same_times:
        # t starts equal to t_source; copy-on-write keeps the two apart once either changes
        data["t"] = data["t_source"].copy(deep=False)
    return {name: data[name] for name in COLUMNS}


def events_from_columns(columns: Mapping[str, Any], length: int) -> pd.DataFrame:
    """The events frame from columns keyed by name (see :func:`event_columns`)."""
    return pd.DataFrame(event_columns(columns, length), copy=False)


def events_from_records(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The events frame from one dict per row (keys are column names; ``t_source`` and
    ``t`` in epoch seconds)."""
    rows = list(records)
    if not rows:
        return empty_events()
    columns: dict[str, list[Any]] = {}
    for name in COLUMNS:
        if any(name in r for r in rows):
            columns[name] = [r.get(name) for r in rows]
    return events_from_columns(columns, len(rows))


def event_to_record(event: Event) -> dict[str, Any]:
    """An :class:`events.Event` as a row dict for :func:`events_from_records`."""
    record: dict[str, Any] = dict(event.fields)
    record.update(kind=event.kind, source=event.source, text=event.text, t_source=event.t_source,
                  path=event.path, line=event.line, logger=event.logger, level=event.level,
                  tag=event.tag, shape=event.shape)
    return record


def events_from_events(events: Iterable[Event]) -> pd.DataFrame:
    return events_from_records(event_to_record(e) for e in events)


def concat_events(frames: list[pd.DataFrame | Mapping[str, pd.Series]]) -> pd.DataFrame:
    """Concatenate events frames keeping every column's dtype (categories are unioned). A
    part can also be the typed columns of a frame (:func:`event_columns`), which saves
    making a frame per file when there are hundreds."""
    frames = [f for f in frames if _length(f)]
    if not frames:
        return empty_events()
    if len(frames) == 1:
        only = frames[0]
        return only.reset_index(drop=True) if isinstance(only, pd.DataFrame) else pd.DataFrame(only, copy=False)
    out = {}
    for name in COLUMNS:
        parts = [f[name] for f in frames]
        if COLUMNS[name] == "category" and name not in FIXED_CATEGORIES:
            out[name] = _concat_categorical(parts)
        else:
            out[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def _length(part: pd.DataFrame | Mapping[str, pd.Series]) -> int:
    return len(part) if isinstance(part, pd.DataFrame) else len(part["t_source"])


def _concat_categorical(parts: list[pd.Series]) -> pd.Series:
    """Categorical columns as one, over the union of their categories, sorted and of dtype
    "string" as one file's are: each part's codes renumbered into the union, then joined (a
    set with a log per page load makes hundreds of parts, too many to recategorize)."""
    own = [p.array.categories.tolist() for p in parts]
    cats = sorted({c for part in own for c in part})
    where = {c: i for i, c in enumerate(cats)}
    codes = [np.array([where[c] for c in part] + [-1], dtype=np.int64)[p.array.codes]  # (-1, missing, stays)
             for part, p in zip(own, parts, strict=True)]
    dtype = pd.CategoricalDtype(pd.Index(cats, dtype="string"))
    return pd.Series(pd.Categorical.from_codes(np.concatenate(codes), dtype=dtype))


# ---- our own JSONL ------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):  # (always µs: a whole second keeps its ".000000")
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def events_to_jsonl(df: pd.DataFrame, fp: IO[str]) -> int:
    """Write one ``{"schema": "jarvis-diag.event/1", ...}`` object per row (nulls left
    out). Returns the number of rows written."""
    names = list(COLUMNS)
    for row in df[names].itertuples(index=False, name=None):
        obj: dict[str, Any] = {"schema": EVENT_SCHEMA}
        for name, value in zip(names, row, strict=True):
            v = _json_value(value)
            if v is not None:
                obj[name] = v
        fp.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return len(df)


def is_event_json(line: str) -> bool:
    return line.lstrip().startswith("{") and f'"{EVENT_SCHEMA}"' in line


def record_from_json(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A row dict from one JSONL object of :func:`events_to_jsonl` (times back to epoch s)."""
    record = {k: v for k, v in obj.items() if k in COLUMNS}
    for name in TIME_COLUMNS:
        if isinstance(record.get(name), str):
            record[name] = pd.Timestamp(record[name]).timestamp()
    return record


def nan_list(values: list[float | None]) -> list[float]:
    """None as NaN, for float columns built from Python lists."""
    return [math.nan if v is None else v for v in values]
