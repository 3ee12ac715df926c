"""Time series from CSV files as people write them, read with pandas (the ``search`` extra).

:func:`read_series` reads one CSV file into a :class:`SeriesTable`: the chosen numeric columns as a
float64 ``(T, D)`` array, the dates of the rows when the file has a date column, and their
frequency. What it accepts:

- a header row, or none when the first row holds numbers (or dates) only: the columns are then
  named ``"0"``, ``"1"``, ...;
- the index column ``DataFrame.to_csv`` writes (an unnamed first column, or one named
  ``"Unnamed: 0"``, holding 0..n-1) is dropped;
- a date column (``date_column=``, else the first non-numeric column whose values all parse with
  ``pandas.to_datetime``) becomes ``dates``; the dates must increase strictly;
- the targets are ``column=`` (a name or a list of names), else every numeric column but the index
  and the dates; a column is numeric when it holds a number, and then any text in it is an error;
- blank lines are skipped; a ``;`` or tab separator is used when the header has no comma.

Nothing is filled or guessed: a missing value (an empty cell, ``NA``, ``NaN``, ``null``...), a text
cell in a chosen column, a value beyond ±1e150 or an infinity, fewer than 10 rows, dates that do not
increase: each is a ``ValueError`` whose message starts with the path and names the file line
(the header is line 1) and the column. A file that cannot be read as text (missing, a folder, not
UTF-8) is an ``OSError`` whose message starts with the path.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import import_extra

MIN_ROWS = 10  # the fewest rows a series may have
MAX_ABS = 1e150  # the limit of every series (esnkit._checks.MAX_ABS): float64 sums of squares overflow beyond
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>", "nat"})  # lower-cased
SHOWN = 5  # lines quoted in an error about several of them
_UNNAMED = re.compile(r"(Unnamed: \d+(_level_\d+)?)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+([eE][+-]?\d+)?")
_YEAR = re.compile(r"(?i)years?|yr")


@dataclass(frozen=True)
class SeriesTable:
    """A series read from a CSV file.

    ``values``: float64 ``(T, D)``; ``columns``: the names of its D columns; ``dates``: the rows'
    dates as ``datetime64[ns]`` (length T), or None without a date column; ``freq``: their pandas
    offset alias ("MS", "W-SUN", "D", "h", "YS-JAN"...), or None when there are no dates or they
    are irregular; ``path``: the file; ``gaps``: how many times the dates skip steps of ``freq``
    (business days missing holidays, days missing from a daily series): the rows are still taken
    as consecutive steps.
    """

    values: np.ndarray
    columns: list[str]
    dates: np.ndarray | None
    freq: str | None
    path: str
    gaps: int = 0

    def future_dates(self, n: int) -> np.ndarray | None:
        """The ``n`` dates after the last one (see :func:`future_dates`)."""
        return None if self.dates is None else future_dates(self.dates, n, self.freq)


def future_dates(dates: np.ndarray, n: int, freq: str | None = None) -> np.ndarray | None:
    """The ``n`` dates after the last of ``dates`` (datetime64): by the pandas frequency ``freq``
    (inferred from the dates when None: monthly data step by calendar months), else by the constant
    step between the dates; None when the dates are not datetimes or their steps differ."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    dates = np.asarray(dates)
    if not np.issubdtype(dates.dtype, np.datetime64) or len(dates) == 0:
        return None
    pd = import_extra("pandas", "search", "dates of a series")
    if freq is None and len(dates) >= 3:
        freq = _freq(pd, dates)
    last = dates[-1]
    if freq is not None:
        return pd.date_range(last, periods=int(n) + 1, freq=freq)[1:].as_unit("ns").to_numpy()
    steps = np.diff(dates)
    if steps.size == 0 or not np.all(steps == steps[0]):
        return None
    return last + steps[0] * np.arange(1, int(n) + 1)


def read_series(path: str | os.PathLike, column: str | list[str] | None = None,
                date_column: str | None = None) -> SeriesTable:
    """Read a time series, one row per time step, from the CSV file ``path`` (see the module docstring).

    ``column``: the target column's name, or a list of names (default: every numeric column but the
    index and the dates). ``date_column``: the name of the column holding the dates (default: the
    first column of dates, if any).
    """
    pd = import_extra("pandas", "search", "reading CSV files")
    path = os.fspath(path)
    text = _read_text(path)
    lines = text.splitlines()
    lead = next((i for i, line in enumerate(lines) if line.strip()), None)  # blank lines before the first row
    if lead is None:
        raise ValueError(f"{path}: the file is empty: give a CSV with a header row and one time step per row")
    first, lines = lines[lead], lines[lead:]
    text = "".join(text.splitlines(keepends=True)[lead:])
    sep = "," if "," in first else next((s for s in (";", "\t") if s in first), ",")
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                          skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        detail = str(exc).split("error: ")[-1].strip()  # "Expected 2 fields in line 5, saw 3"
        raise ValueError(f"{path}: every row must have as many cells as the header ({detail})") from None
    cells = raw.fillna("").map(str.strip).to_numpy(dtype=object)
    line_of = np.arange(1, len(cells) + 1) + lead
    if len(cells) == len(lines):  # (not when a quoted cell spans lines) blank lines are skipped
        keep = np.array([bool(line.strip()) for line in lines])
        cells, line_of = cells[keep], line_of[keep]
    filled = np.array([any(c for c in row) for row in cells], dtype=bool)  # a spreadsheet's trailing ",,"
    cells, line_of = cells[filled], line_of[filled]
    if sep == ";":
        # the European convention: ';' between cells, ',' as the decimal mark ("316,1")
        cells = np.vectorize(lambda c: c.replace(",", ".") if _DECIMAL_COMMA.fullmatch(c) else c,
                             otypes=[object])(cells)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": such a column is not one of dates
        header = not all(_is_number(c) or _is_date(pd, c) for c in cells[0] if c) or not any(cells[0])
    if header:
        names = [c if c else f"Unnamed: {i}" for i, c in enumerate(cells[0])]
        cells, line_of = cells[1:], line_of[1:]
    else:
        names = [str(i) for i in range(cells.shape[1])]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{path}: the header names column(s) {repeated} more than once; rename them")
    if len(cells) < MIN_ROWS:
        raise ValueError(f"{path}: {len(cells)} rows of data; a series needs at least {MIN_ROWS} "
                         "(one time step per row)")
    missing = np.vectorize(lambda c: c.lower() in MISSING, otypes=[bool])(cells)
    numbers = np.array([pd.to_numeric(pd.Series(cells[:, j]), errors="coerce").to_numpy(np.float64)
                        for j in range(cells.shape[1])]).T
    numeric = [bool(np.any(~np.isnan(numbers[:, j]) & ~missing[:, j])) for j in range(len(names))]

    skip = set()
    if header and _UNNAMED.fullmatch(names[0]) and numeric[0] and not missing[:, 0].any() \
            and np.array_equal(numbers[:, 0], np.arange(len(cells))):
        skip.add(names[0])  # the index DataFrame.to_csv writes
    dates, date_name = _dates(pd, path, names, cells, missing, numeric, line_of, date_column)
    if date_name is None and date_column is None:
        dates, date_name = _years(names, numbers, missing, skip)
    if date_name is not None:
        skip.add(date_name)

    available = [n for j, n in enumerate(names) if numeric[j] and n not in skip]
    if column is None:
        chosen = available
        if not chosen:
            raise ValueError(f"{path}: no column of numbers (columns: {', '.join(names)})")
    else:
        chosen = [column] if isinstance(column, str) else list(column) if isinstance(column, (list, tuple)) else None
        if not chosen or not all(isinstance(c, str) for c in chosen):
            raise TypeError(f"column must be a column name or a non-empty list of names, got {column!r}")
        for c in chosen:
            if c not in names or c in skip:
                what = (f"{c!r} is the date column, not a series to read" if c == date_name
                        else f"{c!r} is the index column, not a series to read" if c in skip
                        else f"there is no column {c!r}")
                raise ValueError(f"{path}: {what}; the numeric columns are "
                                 f"{', '.join(available) or 'none'}")
        if len(set(chosen)) < len(chosen):
            raise ValueError(f"{path}: column {chosen!r} names a column twice")
    idx = [names.index(c) for c in chosen]
    values, gaps, text_cells = numbers[:, idx], missing[:, idx], cells[:, idx]

    bad = np.argwhere(np.isnan(values) & ~gaps)
    if bad.size:
        r, c = bad[0]
        raise ValueError(f"{path}: line {line_of[r]}, column {chosen[c]!r}: {text_cells[r, c]!r} is not a number"
                         + (f" ({len(bad)} such cells)" if len(bad) > 1 else ""))
    rows = np.flatnonzero(gaps.any(axis=1))
    if rows.size:
        where = ", ".join(str(line_of[r]) for r in rows[:SHOWN]) + (", ..." if rows.size > SHOWN else "")
        cols = [chosen[c] for c in np.flatnonzero(gaps.any(axis=0))]
        raise ValueError(f"{path}: {int(gaps.sum())} missing value(s) in column(s) {', '.join(map(repr, cols))} "
                         f"(line(s) {where}): impute or drop them first; esnkit does not fill gaps")
    far = np.argwhere(~(np.abs(values) <= MAX_ABS))
    if far.size:
        r, c = far[0]
        v = values[r, c]
        what = "not a finite number; clean" if not np.isfinite(v) else \
            "beyond ±1e150, where the readout's float64 sums of squares overflow; rescale"
        raise ValueError(f"{path}: line {line_of[r]}, column {chosen[c]!r} is {v:g}, {what} the series first")
    freq = _freq(pd, dates) if dates is not None else None
    gaps = 0
    if dates is not None and freq is None:
        freq, gaps = _freq_with_gaps(pd, dates)
    return SeriesTable(np.ascontiguousarray(values, dtype=np.float64), chosen, dates, freq, path, gaps)


def _read_text(path: str) -> str:
    """The file's text; OSError (its message starting with the path) when it is not a readable UTF-8 file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: a folder, not a file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise OSError(f"{path}: not a text file (not UTF-8): give a CSV file") from None
    except OSError as exc:
        raise OSError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise OSError(f"{path}: not a text file (it holds NUL bytes): give a CSV file")
    return text


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _is_date(pd, cell: str) -> bool:
    if not any(ch.isdigit() for ch in cell):
        return False
    try:
        pd.to_datetime(cell)
        return True
    except (ValueError, TypeError, OverflowError):
        return False


def _dates(pd, path, names, cells, missing, numeric, line_of, date_column):
    """(dates as datetime64[ns], the date column's name), or (None, None) without one."""
    def read(j, dayfirst):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": each cell parsed on its own
            try:
                return pd.DatetimeIndex(pd.to_datetime(pd.Series(cells[~missing[:, j], j]),
                                                       dayfirst=dayfirst)).as_unit("ns")
            except (ValueError, TypeError, OverflowError):
                return None

    def parse(j):
        # month first, unless only day first reads the dates ("25/01/2022"), or reads them as a series
        # that increases at a regular frequency where month first does not ("01/03/1958" monthly)
        first, dayfirst = read(j, False), read(j, True)
        if first is None or dayfirst is None:
            return first if first is not None else dayfirst

        def quality(d):
            rising = bool(np.all(np.diff(d.asi8) > 0))
            return rising, rising and len(d) > 2 and _freq(pd, d.to_numpy()) is not None

        return dayfirst if quality(dayfirst) > quality(first) else first

    if date_column is not None:
        if date_column not in names:
            raise ValueError(f"{path}: no column {date_column!r} to read the dates from; the columns are "
                             f"{', '.join(names)}")
        j = names.index(date_column)
        parsed = None if numeric[j] else parse(j)
        if parsed is None:
            ok = [_is_date(pd, c) for c in cells[:, j]]
            r = ok.index(False) if False in ok else 0
            raise ValueError(f"{path}: line {line_of[r]}, column {date_column!r}: {cells[r, j]!r} is not a date")
    else:
        j = next((j for j in range(len(names)) if not numeric[j] and not missing[:, j].all()
                  and parse(j) is not None), None)
        if j is None:
            return None, None
        parsed = parse(j)
    name = names[j]
    if missing[:, j].any():
        rows = np.flatnonzero(missing[:, j])
        raise ValueError(f"{path}: the date column {name!r} has no date on line(s) "
                         f"{', '.join(str(line_of[r]) for r in rows[:SHOWN])}{', ...' if rows.size > SHOWN else ''}")
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    dates = parsed.to_numpy(dtype="datetime64[ns]")
    steps = np.diff(dates)
    if np.any(steps <= np.timedelta64(0)):
        r = int(np.argmax(steps <= np.timedelta64(0))) + 1
        what = "repeats the date of" if dates[r] == dates[r - 1] else "comes before that of"
        raise ValueError(f"{path}: the dates in column {name!r} must increase: line {line_of[r]} "
                         f"({cells[r, j]}) {what} line {line_of[r - 1]} ({cells[r - 1, j]}); sort the file or "
                         "drop the duplicates")
    return dates, name


# Dates with gaps keep a frequency when this share of their steps is one step of it.
REGULAR_SHARE = 0.8


def _freq_with_gaps(pd, dates: np.ndarray) -> tuple[str | None, int]:
    """(frequency, gaps) of dates that skip some steps: business days missing holidays ("B"), or the
    step most of the dates advance by; (None, 0) when there is no such step."""
    index = pd.DatetimeIndex(dates)
    if len(index) > 2 and (index.dayofweek < 5).all() and (index == index.normalize()).all():
        business = len(pd.bdate_range(index[0], index[-1]))
        if business <= len(index) / REGULAR_SHARE:
            return "B", business - len(index)
    steps = np.diff(dates)
    values, counts = np.unique(steps, return_counts=True)
    if steps.size and counts.max() >= REGULAR_SHARE * steps.size:
        step = values[counts.argmax()]
        units = (("D", "D"), ("h", "h"), ("m", "min"), ("s", "s"))
        for unit, alias in ((np.timedelta64(1, u), a) for u, a in units):
            if step % unit == np.timedelta64(0) and step >= unit:
                k = int(step // unit)
                return (alias if k == 1 else f"{k}{alias}"), int(np.sum(steps // step - 1))
    return None, 0


def _years(names, numbers, missing, skip):
    """A column named "year" of whole, consecutive years as the dates (January 1st of each)."""
    for j, name in enumerate(names):
        col = numbers[:, j]
        if name in skip or not _YEAR.fullmatch(name) or missing[:, j].any() or np.isnan(col).any():
            continue
        if np.all(col == np.round(col)) and 1000 <= col[0] and col[-1] <= 3000 and np.all(np.diff(col) == 1):
            return col.astype(int).astype(str).astype("datetime64[Y]").astype("datetime64[ns]"), name
    return None, None


def _freq(pd, dates: np.ndarray) -> str | None:
    """The pandas offset alias of the dates' frequency, or None when there is none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infer_freq announces it will return an offset one day
        try:
            freq = pd.infer_freq(pd.DatetimeIndex(dates))
        except (ValueError, TypeError):
            return None
    return None if freq is None else str(getattr(freq, "freqstr", freq))


# Seasonal periods of the calendar frequencies (pandas offset aliases, their business-day "B" prefix and
# start/end "S"/"E" suffix taken off).
_PERIODS = {"Q": 4, "M": 12, "W": 52, "D": 7, "B": 5, "C": 5, "h": 24, "H": 24}


def seasonal_period(freq: str | None) -> int:
    """The usual seasonal period of data at frequency ``freq`` (a pandas offset alias): 12 for
    monthly, 4 for quarterly, 52 for weekly, 7 for daily, 5 for business days, 24 for hourly;
    1 (no season) for yearly, other or unknown frequencies."""
    if not freq:
        return 1
    base = freq.split("-")[0]
    if base[:1].isdigit():
        return 1  # every 2 days, 3 months...: no usual period
    if len(base) > 1 and base[0] == "B":
        base = base[1:]  # business quarters and months ("BQE", "BMS") keep their period
    if len(base) > 1 and base[-1] in "SE":
        base = base[:-1]  # "QS", "QE", "MS", "ME"
    return _PERIODS.get(base, 1)

