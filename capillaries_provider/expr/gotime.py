"""Go ``time.Parse`` / ``Time.Format`` / ``Time.String`` with Go reference layouts (``2006-01-02 15:04:05``).

A port of Go's ``time/format.go``: the layout is cut into the same chunks as ``nextStdChunk`` and parsed with the
same leniencies (1-digit hours for ``15``, fractional seconds accepted after ``05`` even when the layout has
none, runs of spaces matching runs of spaces) and the same error texts. Each layout is compiled once and cached
because CSV reading parses every cell.

Differences from Go that cannot be avoided with ``datetime``: sub-microsecond digits are truncated, years
outside 1..9999 are errors, and Go's process-local zone is taken to be UTC (the Capillaries daemon runs in UTC),
so a parsed ``+0000`` offset yields UTC exactly as Go does on such a host. Zones are represented as
``datetime.timezone(offset, name)``; a Go ``FixedZone("", offset)`` is ``timezone(offset, "")``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

_UTC = _dt.UTC
_LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_SHORT_DAYS = tuple(d[:3] for d in _LONG_DAYS)
_LONG_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SHORT_MONTHS = tuple(m[:3] for m in _LONG_MONTHS)
_STRING_LAYOUT = "2006-01-02 15:04:05.999999999 -0700 MST"
_AUTO_ZONE_NAME = re.compile(r"UTC[+-]\d\d:\d\d(:\d\d(\.\d+)?)?")

# Chunk kinds (Go's std* constants).
YEAR, LONG_YEAR, MONTH, LONG_MONTH, NUM_MONTH, ZERO_MONTH = "06", "2006", "Jan", "January", "1", "01"
WEEKDAY, LONG_WEEKDAY, DAY, UNDER_DAY, ZERO_DAY = "Mon", "Monday", "2", "_2", "02"
UNDER_YEAR_DAY, ZERO_YEAR_DAY = "__2", "002"
HOUR, HOUR12, ZERO_HOUR12, MINUTE, ZERO_MINUTE, SECOND, ZERO_SECOND = "15", "3", "03", "4", "04", "5", "05"
PM_UPPER, PM_LOWER, TZ = "PM", "pm", "MST"
ISO_TZ, ISO_COLON_TZ, ISO_SECONDS_TZ, ISO_SHORT_TZ, ISO_COLON_SECONDS_TZ = (
    "Z0700",
    "Z07:00",
    "Z070000",
    "Z07",
    "Z07:00:00",
)
NUM_TZ, NUM_COLON_TZ, NUM_SECONDS_TZ, NUM_SHORT_TZ, NUM_COLON_SECONDS_TZ = (
    "-0700",
    "-07:00",
    "-070000",
    "-07",
    "-07:00:00",
)
FRAC0, FRAC9 = "frac0", "frac9"

_ISO_TZS = (ISO_TZ, ISO_COLON_TZ, ISO_SECONDS_TZ, ISO_SHORT_TZ, ISO_COLON_SECONDS_TZ)
_NUM_TZS = (NUM_TZ, NUM_COLON_TZ, NUM_SECONDS_TZ, NUM_SHORT_TZ, NUM_COLON_SECONDS_TZ)


@dataclass(frozen=True)
class _Chunk:
    """Literal `prefix`, then one layout element (`kind`, spelled `text` in the layout; kind '' = end)."""

    prefix: str
    kind: str
    text: str
    frac_digits: int = 0
    frac_sep: str = "."


def _starts_with_lower(s: str) -> bool:
    return bool(s) and "a" <= s[0] <= "z"


def _next_std_chunk(layout: str) -> tuple[str, str, str, int, str]:
    """Go nextStdChunk: (prefix, kind, suffix, fraction digits, fraction separator)."""
    n = len(layout)
    for i in range(n):
        c = layout[i]
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], LONG_MONTH, layout[i + 7 :], 0, ""
            if not _starts_with_lower(layout[i + 3 :]):
                return layout[:i], MONTH, layout[i + 3 :], 0, ""
        elif c == "M" and n >= i + 3:
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], LONG_WEEKDAY, layout[i + 6 :], 0, ""
                if not _starts_with_lower(layout[i + 3 :]):
                    return layout[:i], WEEKDAY, layout[i + 3 :], 0, ""
            if rest.startswith("MST"):
                return layout[:i], TZ, layout[i + 3 :], 0, ""
        elif c == "0":
            if n >= i + 2 and "1" <= layout[i + 1] <= "6":
                kind = (ZERO_MONTH, ZERO_DAY, ZERO_HOUR12, ZERO_MINUTE, ZERO_SECOND, YEAR)[ord(layout[i + 1]) - 49]
                return layout[:i], kind, layout[i + 2 :], 0, ""
            if rest.startswith("002"):
                return layout[:i], ZERO_YEAR_DAY, layout[i + 3 :], 0, ""
        elif c == "1":
            if rest.startswith("15"):
                return layout[:i], HOUR, layout[i + 2 :], 0, ""
            return layout[:i], NUM_MONTH, layout[i + 1 :], 0, ""
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], LONG_YEAR, layout[i + 4 :], 0, ""
            return layout[:i], DAY, layout[i + 1 :], 0, ""
        elif c == "_":
            if rest.startswith("_2"):
                if rest.startswith("_2006"):
                    return layout[: i + 1], LONG_YEAR, layout[i + 5 :], 0, ""
                return layout[:i], UNDER_DAY, layout[i + 2 :], 0, ""
            if rest.startswith("__2"):
                return layout[:i], UNDER_YEAR_DAY, layout[i + 3 :], 0, ""
        elif c == "3":
            return layout[:i], HOUR12, layout[i + 1 :], 0, ""
        elif c == "4":
            return layout[:i], MINUTE, layout[i + 1 :], 0, ""
        elif c == "5":
            return layout[:i], SECOND, layout[i + 1 :], 0, ""
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], PM_UPPER, layout[i + 2 :], 0, ""
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], PM_LOWER, layout[i + 2 :], 0, ""
        elif c == "-":
            for kind in (NUM_SECONDS_TZ, NUM_COLON_SECONDS_TZ, NUM_TZ, NUM_COLON_TZ, NUM_SHORT_TZ):
                if rest.startswith(kind):
                    return layout[:i], kind, layout[i + len(kind) :], 0, ""
        elif c == "Z":
            for kind in (ISO_SECONDS_TZ, ISO_COLON_SECONDS_TZ, ISO_TZ, ISO_COLON_TZ, ISO_SHORT_TZ):
                if rest.startswith(kind):
                    return layout[:i], kind, layout[i + len(kind) :], 0, ""
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not (j < n and layout[j].isdigit() and layout[j].isascii()):
                return layout[:i], FRAC0 if ch == "0" else FRAC9, layout[j:], j - (i + 1), c
    return layout, "", "", 0, ""


@functools.lru_cache(maxsize=256)
def _compile(layout: str) -> tuple[_Chunk, ...]:
    chunks: list[_Chunk] = []
    rest = layout
    while True:
        prefix, kind, suffix, digits, sep = _next_std_chunk(rest)
        text = rest[len(prefix) : len(rest) - len(suffix)] if kind else ""
        chunks.append(_Chunk(prefix, kind, text, digits, sep))
        if not kind:
            return tuple(chunks)
        rest = suffix


# ---- formatting ------------------------------------------------------------------------------------------------


def _zone(t: _dt.datetime) -> tuple[str, int]:
    """(abbreviation, offset seconds) the way Go's Location reports them."""
    tz = t.tzinfo
    if tz is None or tz is _UTC:
        return "UTC", 0
    delta = t.utcoffset() or _dt.timedelta(0)
    offset = delta.days * 86400 + delta.seconds
    name = t.tzname() or ""
    if isinstance(tz, _dt.timezone) and _AUTO_ZONE_NAME.fullmatch(name):
        name = ""  # timezone(offset) without a name == Go FixedZone("", offset)
    return name, offset


def _two(x: int) -> str:
    return f"{x:02d}"


def _format_zone(kind: str, offset: int) -> str:
    if offset == 0 and kind in _ISO_TZS:
        return "Z"
    zone = offset // 60 if offset >= 0 else -((-offset) // 60)
    absoffset = abs(offset)
    out = "-" if zone < 0 else "+"
    zone = abs(zone)
    out += _two(zone // 60)
    if kind in (ISO_COLON_TZ, NUM_COLON_TZ, ISO_COLON_SECONDS_TZ, NUM_COLON_SECONDS_TZ):
        out += ":"
    if kind not in (NUM_SHORT_TZ, ISO_SHORT_TZ):
        out += _two(zone % 60)
    if kind in (ISO_SECONDS_TZ, NUM_SECONDS_TZ, NUM_COLON_SECONDS_TZ, ISO_COLON_SECONDS_TZ):
        if kind in (NUM_COLON_SECONDS_TZ, ISO_COLON_SECONDS_TZ):
            out += ":"
        out += _two(absoffset % 60)
    return out


def _format_nano(nanosec: int, chunk: _Chunk) -> str:
    trim = chunk.kind == FRAC9
    n = chunk.frac_digits
    if trim and (n == 0 or nanosec == 0):
        return ""
    digits = f"{nanosec:09d}"
    if n < 9:
        digits = digits[:n]
    out = chunk.frac_sep + digits
    if trim:
        out = out.rstrip("0")
        if out.endswith(chunk.frac_sep):
            out = out[:-1]
    return out


def _hour12(t: _dt.datetime) -> int:
    return t.hour % 12 or 12


def _format_abbreviation(t: _dt.datetime, c: _Chunk) -> str:
    name, offset = _zone(t)
    if name:
        return name
    zone = int(offset / 60)  # Go truncates toward zero, then prints the sign of the minutes
    return ("-" if zone < 0 else "+") + _two(abs(zone) // 60) + _two(abs(zone) % 60)


_Formatter = Callable[[_dt.datetime, _Chunk], str]

_FORMATTERS: dict[str, _Formatter] = {
    LONG_YEAR: lambda t, c: f"{t.year:04d}",
    YEAR: lambda t, c: _two(t.year % 100),
    MONTH: lambda t, c: _SHORT_MONTHS[t.month - 1],
    LONG_MONTH: lambda t, c: _LONG_MONTHS[t.month - 1],
    NUM_MONTH: lambda t, c: str(t.month),
    ZERO_MONTH: lambda t, c: _two(t.month),
    WEEKDAY: lambda t, c: _SHORT_DAYS[t.isoweekday() % 7],
    LONG_WEEKDAY: lambda t, c: _LONG_DAYS[t.isoweekday() % 7],
    DAY: lambda t, c: str(t.day),
    UNDER_DAY: lambda t, c: f"{t.day:2d}",
    ZERO_DAY: lambda t, c: _two(t.day),
    UNDER_YEAR_DAY: lambda t, c: f"{t.timetuple().tm_yday:3d}",
    ZERO_YEAR_DAY: lambda t, c: f"{t.timetuple().tm_yday:03d}",
    HOUR: lambda t, c: _two(t.hour),
    HOUR12: lambda t, c: str(_hour12(t)),
    ZERO_HOUR12: lambda t, c: _two(_hour12(t)),
    MINUTE: lambda t, c: str(t.minute),
    ZERO_MINUTE: lambda t, c: _two(t.minute),
    SECOND: lambda t, c: str(t.second),
    ZERO_SECOND: lambda t, c: _two(t.second),
    PM_UPPER: lambda t, c: "PM" if t.hour >= 12 else "AM",
    PM_LOWER: lambda t, c: "pm" if t.hour >= 12 else "am",
    TZ: _format_abbreviation,
    FRAC0: lambda t, c: _format_nano(t.microsecond * 1000, c),
    FRAC9: lambda t, c: _format_nano(t.microsecond * 1000, c),
    **{k: (lambda t, c: _format_zone(c.kind, _zone(t)[1])) for k in _ISO_TZS + _NUM_TZS},
}


def format(t: _dt.datetime, layout: str) -> str:
    """Go Time.Format(layout) (a naive datetime is taken as UTC)."""
    return "".join([c.prefix + _FORMATTERS[c.kind](t, c) if c.kind else c.prefix for c in _compile(layout)])


def time_string(t: _dt.datetime) -> str:
    """Go Time.String(): `2006-01-02 15:04:05.999999999 -0700 MST`."""
    return format(t, _STRING_LAYOUT)


def go_string(t: _dt.datetime) -> str:
    """Go Time.GoString() (what `%#v` prints): `time.Date(2020, time.January, 2, 3, 4, 5, 0, time.UTC)`."""
    utc = t.tzinfo is None or t.tzinfo is _UTC
    loc = "time.UTC" if utc else "time.Location(" + _go_quote(_zone(t)[0]) + ")"
    return (
        f"time.Date({t.year}, time.{_LONG_MONTHS[t.month - 1]}, {t.day}, {t.hour}, {t.minute}, {t.second}, "
        f"{t.microsecond * 1000}, {loc})"
    )


# ---- parsing ---------------------------------------------------------------------------------------------------


class _Bad(Exception):
    """Go's errBad: the chunk did not match (turned into a ParseError text by the caller)."""


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def _parse_error(layout: str, value: str, layout_elem: str, value_elem: str, message: str = "") -> ValueError:
    if message:
        return ValueError(f"parsing time {_go_quote(value)}{message}")
    return ValueError(
        f"parsing time {_go_quote(value)} as {_go_quote(layout)}: cannot parse "
        f"{_go_quote(value_elem)} as {_go_quote(layout_elem)}"
    )


def _is_digit(s: str, i: int) -> bool:
    return i < len(s) and "0" <= s[i] <= "9"


def _getnum(s: str, fixed: bool) -> tuple[int, str]:
    if not _is_digit(s, 0):
        raise _Bad
    if not _is_digit(s, 1):
        if fixed:
            raise _Bad
        return ord(s[0]) - 48, s[1:]
    return (ord(s[0]) - 48) * 10 + ord(s[1]) - 48, s[2:]


def _getnum3(s: str, fixed: bool) -> tuple[int, str]:
    n = 0
    i = 0
    while i < 3 and _is_digit(s, i):
        n = n * 10 + ord(s[i]) - 48
        i += 1
    if i == 0 or (fixed and i != 3):
        raise _Bad
    return n, s[i:]


def _atoi(s: str) -> int:
    """Go's time.atoi: optional sign then digits (leadingInt)."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not all("0" <= ch <= "9" for ch in body):
        raise _Bad
    v = int(body)
    return -v if s[:1] == "-" else v


def _skip(value: str, prefix: str) -> str:
    """Consume the literal prefix (runs of spaces match runs of spaces); _Bad carries what was left, as in Go."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _Bad(value)
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _Bad(value)
        prefix = prefix[1:]
        value = value[1:]
    return value


def _lookup(table: tuple[str, ...], val: str) -> tuple[int, str]:
    for i, v in enumerate(table):
        if len(val) >= len(v) and val[: len(v)].lower() == v.lower():
            return i, val[len(v) :]
    raise _Bad


def _parse_nanoseconds(value: str, nbytes: int) -> tuple[int, str]:
    """(nanoseconds, range error text) from `.ddd` of nbytes characters including the separator."""
    if value[0] not in ".,":
        raise _Bad
    if nbytes > 10:
        value = value[:10]
        nbytes = 10
    ns = _atoi(value[1:nbytes])
    if ns < 0:
        return 0, "fractional second"
    return ns * 10 ** (10 - nbytes), ""


def _leading_int(s: str) -> tuple[int, str]:
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        i += 1
    if i == 0:
        raise _Bad
    return int(s[:i]), s[i:]


def _parse_signed_offset(value: str) -> int:
    if value[0] not in "+-":
        return 0
    try:
        x, rem = _leading_int(value[1:])
    except _Bad:
        return 0
    if x > 23:
        return 0
    return len(value) - len(rem)


def _parse_time_zone(value: str) -> int:
    """Length of a zone abbreviation at the start of value; 0 when there is none."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return 3 if len(value) == 3 else 3 + _parse_signed_offset(value[3:])
    if value[0] in "+-":
        return _parse_signed_offset(value)
    n_upper = 0
    while n_upper < 6 and n_upper < len(value) and "A" <= value[n_upper] <= "Z":
        n_upper += 1
    if n_upper == 3:
        return 3
    if n_upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if n_upper == 5 and value[4] == "T":
        return 5
    return 0


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


@dataclass
class _Fields:
    year: int = 0
    month: int = -1
    day: int = -1
    yday: int = -1
    hour: int = 0
    minute: int = 0
    second: int = 0
    nsec: int = 0
    utc: bool = False
    zone_offset: int = -1
    zone_name: str = ""
    am: bool = False
    pm: bool = False


def _parse_zone_offset(kind: str, value: str, f: _Fields) -> tuple[str, str]:
    """Numeric zone chunk; returns (remaining value, range error text)."""
    if kind in (ISO_COLON_TZ, NUM_COLON_TZ):
        if len(value) < 6 or value[3] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], "00", value[6:]
    elif kind in (NUM_SHORT_TZ, ISO_SHORT_TZ):
        if len(value) < 3:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], "00", "00", value[3:]
    elif kind in (ISO_COLON_SECONDS_TZ, NUM_COLON_SECONDS_TZ):
        if len(value) < 9 or value[3] != ":" or value[6] != ":":
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], value[7:9], value[9:]
    elif kind in (ISO_SECONDS_TZ, NUM_SECONDS_TZ):
        if len(value) < 7:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], value[5:7], value[7:]
    else:
        if len(value) < 5:
            raise _Bad
        sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], "00", value[5:]
    # Like Go: a failed field reads as 0 and stops the others, and a range error wins over a syntax error.
    hr = mi = se = 0
    bad = False
    try:
        hr = _getnum(hh, True)[0]
        mi = _getnum(mm, True)[0]
        se = _getnum(ss, True)[0]
    except _Bad:
        bad = True
    range_err = ""
    if hr > 24:
        range_err = "time zone offset hour"
    if mi > 60:
        range_err = "time zone offset minute"
    if se > 60:
        range_err = "time zone offset second"
    f.zone_offset = (hr * 60 + mi) * 60 + se
    if sign == "-":
        f.zone_offset = -f.zone_offset
    elif sign != "+":
        bad = True
    if bad and not range_err:
        raise _Bad
    return value, range_err


def _parse_chunk(c: _Chunk, value: str, f: _Fields, following: _Chunk | None) -> tuple[str, str]:
    """Consume one layout element from value; returns (rest, range error text)."""
    k = c.kind
    if k == YEAR:
        if len(value) < 2:
            raise _Bad
        f.year = _atoi(value[:2])
        f.year += 1900 if f.year >= 69 else 2000
        return value[2:], ""
    if k == LONG_YEAR:
        if len(value) < 4 or not _is_digit(value, 0):
            raise _Bad
        f.year = _atoi(value[:4])
        return value[4:], ""
    if k in (MONTH, LONG_MONTH):
        idx, value = _lookup(_SHORT_MONTHS if k == MONTH else _LONG_MONTHS, value)
        f.month = idx + 1
        return value, ""
    if k in (NUM_MONTH, ZERO_MONTH):
        f.month, value = _getnum(value, k == ZERO_MONTH)
        return value, "month" if not 0 < f.month <= 12 else ""
    if k in (WEEKDAY, LONG_WEEKDAY):
        return _lookup(_SHORT_DAYS if k == WEEKDAY else _LONG_DAYS, value)[1], ""
    if k in (DAY, UNDER_DAY, ZERO_DAY):
        if k == UNDER_DAY and value[:1] == " ":
            value = value[1:]
        f.day, value = _getnum(value, k == ZERO_DAY)
        return value, ""
    if k in (UNDER_YEAR_DAY, ZERO_YEAR_DAY):
        for _ in range(2):
            if k == UNDER_YEAR_DAY and value[:1] == " ":
                value = value[1:]
        f.yday, value = _getnum3(value, k == ZERO_YEAR_DAY)
        return value, ""
    if k == HOUR:
        f.hour, value = _getnum(value, False)
        return value, "hour" if f.hour >= 24 else ""
    if k in (HOUR12, ZERO_HOUR12):
        f.hour, value = _getnum(value, k == ZERO_HOUR12)
        return value, "hour" if f.hour > 12 else ""
    if k in (MINUTE, ZERO_MINUTE):
        f.minute, value = _getnum(value, k == ZERO_MINUTE)
        return value, "minute" if f.minute >= 60 else ""
    if k in (SECOND, ZERO_SECOND):
        f.second, value = _getnum(value, k == ZERO_SECOND)
        if f.second >= 60:
            return value, "second"
        # Go accepts a fractional second here unless the layout itself has one next.
        if len(value) >= 2 and value[0] in ".," and _is_digit(value, 1):
            if following is not None and following.kind in (FRAC0, FRAC9):
                return value, ""
            n = 2
            while n < len(value) and _is_digit(value, n):
                n += 1
            f.nsec, range_err = _parse_nanoseconds(value, n)
            return value[n:], range_err
        return value, ""
    if k in (PM_UPPER, PM_LOWER):
        if len(value) < 2:
            raise _Bad
        p = value[:2]
        if p == ("PM" if k == PM_UPPER else "pm"):
            f.pm = True
        elif p == ("AM" if k == PM_UPPER else "am"):
            f.am = True
        else:
            raise _Bad
        return value[2:], ""
    if k in _ISO_TZS and value[:1] == "Z":
        f.utc = True
        return value[1:], ""
    if k in _ISO_TZS or k in _NUM_TZS:
        return _parse_zone_offset(k, value, f)
    if k == TZ:
        if value[:3] == "UTC":
            f.utc = True
            return value[3:], ""
        n = _parse_time_zone(value)
        if n == 0:
            raise _Bad
        f.zone_name = value[:n]
        return value[n:], ""
    if k == FRAC0:
        ndigit = 1 + c.frac_digits
        if len(value) < ndigit:
            raise _Bad
        f.nsec, range_err = _parse_nanoseconds(value, ndigit)
        return value[ndigit:], range_err
    # FRAC9: optional fraction of any length.
    if len(value) < 2 or value[0] not in ".," or not _is_digit(value, 1):
        return value, ""
    i = 0
    while i + 1 < len(value) and _is_digit(value, i + 1):
        i += 1
    f.nsec, range_err = _parse_nanoseconds(value, 1 + i)
    return value[1 + i :], range_err


def _resolve_date(f: _Fields, layout: str, original: str, rest: str) -> None:
    if f.pm and f.hour < 12:
        f.hour += 12
    elif f.am and f.hour == 12:
        f.hour = 0
    if f.yday >= 0:
        year = f.year
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        yday = f.yday
        m = d = 0
        if leap:
            if yday == 31 + 29:
                m, d = 2, 29
            elif yday > 31 + 29:
                yday -= 1
        if yday < 1 or yday > 365:
            raise _parse_error(layout, original, "", rest, ": day-of-year out of range")
        if m == 0:
            m = (yday - 1) // 31 + 1
            if _DAYS_BEFORE[m] < yday:
                m += 1
            d = yday - _DAYS_BEFORE[m - 1]
        if f.month >= 0 and f.month != m:
            raise _parse_error(layout, original, "", rest, ": day-of-year does not match month")
        f.month = m
        if f.day >= 0 and f.day != d:
            raise _parse_error(layout, original, "", rest, ": day-of-year does not match day")
        f.day = d
    else:
        if f.month < 0:
            f.month = 1
        if f.day < 0:
            f.day = 1
    if f.day < 1 or f.day > _days_in(f.month, f.year):
        raise _parse_error(layout, original, "", rest, ": day out of range")


def _build(f: _Fields, original: str) -> _dt.datetime:
    if not 1 <= f.year <= 9999:
        raise ValueError(f"parsing time {_go_quote(original)}: year {f.year} is outside the supported range 1..9999")
    try:
        t = _dt.datetime(f.year, f.month, f.day, f.hour, f.minute, f.second, f.nsec // 1000, tzinfo=_UTC)
        if f.utc:
            return t
        if f.zone_offset != -1:
            if f.zone_offset == 0 and f.zone_name in ("", "UTC"):
                return t  # Go picks the (UTC) local zone for a matching offset
            tz = _dt.timezone(_dt.timedelta(seconds=f.zone_offset), f.zone_name)
            return (t - _dt.timedelta(seconds=f.zone_offset)).astimezone(tz)
        if f.zone_name:
            offset = 0
            if len(f.zone_name) > 3 and f.zone_name[:3] == "GMT":
                offset = int(f.zone_name[3:]) * 3600
            # Go keeps the instant of the UTC wall clock and only relabels it: 03:04 GMT+3 becomes 06:04+03:00.
            return t.astimezone(_dt.timezone(_dt.timedelta(seconds=offset), f.zone_name))
        return t
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"parsing time {_go_quote(original)}: {exc}") from exc


def _parse_general(layout: str, value: str) -> _dt.datetime:
    chunks = _compile(layout)
    f = _Fields()
    original = value
    for idx, c in enumerate(chunks):
        try:
            value = _skip(value, c.prefix)
        except _Bad as exc:
            raise _parse_error(layout, original, c.prefix, exc.args[0]) from None
        if not c.kind:
            if value:
                raise _parse_error(layout, original, "", value, ": extra text: " + _go_quote(value))
            break
        hold = value
        following = chunks[idx + 1] if idx + 1 < len(chunks) else None
        try:
            value, range_err = _parse_chunk(c, value, f, following)
        except _Bad:
            raise _parse_error(layout, original, c.text, hold) from None
        if range_err:
            raise _parse_error(layout, original, c.text, value, ": " + range_err + " out of range")
    _resolve_date(f, layout, original, value)
    return _build(f, original)


# Fast path: layouts made only of fixed-width numeric elements compile to one regex. A value it matches is
# parsed exactly as the general parser would; anything else (lenient forms, errors) takes the general path.
_FAST_PATTERNS = {
    LONG_YEAR: "([0-9]{4})",
    ZERO_MONTH: "([0-9]{2})",
    ZERO_DAY: "([0-9]{2})",
    HOUR: "([0-9]{2})",
    ZERO_MINUTE: "([0-9]{2})",
    ZERO_SECOND: "([0-9]{2})",
    NUM_TZ: "([+-])([0-9]{2})([0-9]{2})",
    NUM_COLON_TZ: "([+-])([0-9]{2}):([0-9]{2})",
    ISO_TZ: "(?:(Z)|([+-])([0-9]{2})([0-9]{2}))",
    ISO_COLON_TZ: "(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))",
}


@dataclass(frozen=True)
class _FastLayout:
    regex: re.Pattern[str]
    kinds: tuple[str, ...]


@functools.lru_cache(maxsize=256)
def _compile_fast(layout: str) -> _FastLayout | None:
    parts: list[str] = []
    kinds: list[str] = []
    for c in _compile(layout):
        if any(ch.isdigit() or ch in ".," for ch in c.prefix):
            # Digits could be taken by a lenient element; a "." or "," after the seconds starts a fraction in Go.
            # (A literal space matching exactly one space is a subset of Go's space-run matching.)
            return None
        parts.append(re.escape(c.prefix))
        if not c.kind:
            break
        if c.kind == FRAC0:
            pattern = f"[.,]([0-9]{{{c.frac_digits}}})"
        elif c.kind in _FAST_PATTERNS:
            pattern = _FAST_PATTERNS[c.kind]
        else:
            return None
        parts.append(pattern)
        kinds.append(c.kind)
    return _FastLayout(re.compile("".join(parts)), tuple(kinds))


def _parse_fast(fast: _FastLayout, value: str) -> _dt.datetime | None:
    m = fast.regex.fullmatch(value)
    if m is None:
        return None
    groups = iter(m.groups())
    year, month, day, hour, minute, second, nsec = 0, 1, 1, 0, 0, 0, 0
    offset: int | None = None
    for kind in fast.kinds:
        if kind == LONG_YEAR:
            year = int(next(groups))
        elif kind == ZERO_MONTH:
            month = int(next(groups))
        elif kind == ZERO_DAY:
            day = int(next(groups))
        elif kind == HOUR:
            hour = int(next(groups))
        elif kind == ZERO_MINUTE:
            minute = int(next(groups))
        elif kind == ZERO_SECOND:
            second = int(next(groups))
        elif kind == FRAC0:
            digits = next(groups)
            nsec = int(digits[:9].ljust(9, "0"))
        else:
            if kind in (ISO_TZ, ISO_COLON_TZ) and next(groups) is not None:
                next(groups), next(groups), next(groups)
                offset = 0
                continue
            sign, hh, mm = next(groups), int(next(groups)), int(next(groups))
            if hh > 23 or mm > 59:
                return None
            offset = (hh * 60 + mm) * 60 * (-1 if sign == "-" else 1)
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= _days_in(month, year)):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    t = _dt.datetime(year, month, day, hour, minute, second, nsec // 1000, tzinfo=_UTC)
    if not offset:
        return t
    tz = _dt.timezone(_dt.timedelta(seconds=offset), "")
    try:
        return (t - _dt.timedelta(seconds=offset)).astimezone(tz)
    except OverflowError:
        return None


def parse(layout: str, value: str) -> _dt.datetime:
    """Go time.Parse(layout, value); no zone in the value -> UTC. Errors are ValueError with Go's text."""
    fast = _compile_fast(layout)
    if fast is not None:
        t = _parse_fast(fast, value)
        if t is not None:
            return t
    return _parse_general(layout, value)
