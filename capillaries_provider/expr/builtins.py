"""Runtime helpers for compiled expressions: Go arithmetic semantics and the built-in functions of spec 2.5.

Generated code calls these only where Python's native operation differs from Go's (integer wrap-around and
truncating division, float division by zero, exact decimals, Go conversions); everything else is inlined.
Go formatting, time layouts and shopspring decimal rounding live in gofmt / gotime / godecimal.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from decimal import Decimal

import re2

from capillaries_provider.expr import godecimal
from capillaries_provider.expr.types import INT64_MAX, INT64_MIN, wrap_int64

# Exact decimal + - * (shopspring decimals are arbitrary precision; the default 28-digit context would round).
DECIMAL_CONTEXT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_dadd = DECIMAL_CONTEXT.add
_dsub = DECIMAL_CONTEXT.subtract
_dmul = DECIMAL_CONTEXT.multiply

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_SECOND = _dt.timedelta(seconds=1)
_MILLI = _dt.timedelta(milliseconds=1)
_MICRO = _dt.timedelta(microseconds=1)
_ROUND_PLACES = 2


def int_div(a: int, b: int) -> int:
    """Go int64 `/`: truncates toward zero; MinInt64 / -1 wraps to MinInt64."""
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    q = abs(a) // abs(b)
    return wrap_int64(-q if (a < 0) != (b < 0) else q)


def int_mod(a: int, b: int) -> int:
    """Go int64 `%`: the result has the sign of the dividend."""
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def float_div(a: float, b: float) -> float:
    """Go float64 `/`: division by (signed) zero gives ±Inf or NaN instead of an error."""
    if b:
        return a / b
    if a == 0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _norm(d: Decimal) -> Decimal:
    # shopspring has no negative zero.
    return d.copy_abs() if not d and d.is_signed() else d


def dec_add(a: Decimal, b: Decimal) -> Decimal:
    return _norm(_dadd(a, b))


def dec_sub(a: Decimal, b: Decimal) -> Decimal:
    return _norm(_dsub(a, b))


def dec_mul(a: Decimal, b: Decimal) -> Decimal:
    return _norm(_dmul(a, b))


def dec_div(a: Decimal, b: Decimal) -> Decimal:
    """shopspring Div: 16 fractional digits, half away from zero; raises 'decimal division by 0'."""
    return godecimal.decimal_div(a, b)


def dec_add_r(a: Decimal, b: Decimal) -> Decimal:
    """`+` in a round-dec-2 context (spec 2.3)."""
    return godecimal.round_half_away(_norm(_dadd(a, b)), _ROUND_PLACES)


def dec_sub_r(a: Decimal, b: Decimal) -> Decimal:
    return godecimal.round_half_away(_norm(_dsub(a, b)), _ROUND_PLACES)


def dec_mul_r(a: Decimal, b: Decimal) -> Decimal:
    return godecimal.round_half_away(_norm(_dmul(a, b)), _ROUND_PLACES)


def dec_div_r(a: Decimal, b: Decimal) -> Decimal:
    """Division in a round-dec-2 context: rounded twice, to 16 places then to 2 (spec 2.3)."""
    return godecimal.round_half_away(godecimal.decimal_div(a, b), _ROUND_PLACES)


def dec_neg(d: Decimal) -> Decimal:
    return d.copy_negate() if d else d


def float_to_int(f: float) -> int:
    """Go int64(f): truncation; NaN and out-of-range values give MinInt64 (amd64 behaviour)."""
    if f != f or not -9.223372036854775808e18 <= f < 9.223372036854775808e18:
        return INT64_MIN
    return int(f)


def decimal_to_int(d: Decimal) -> int:
    """shopspring IntPart(): integer part (truncated), low 64 bits of the big integer."""
    return wrap_int64(int(d))


def decimal_to_float(d: Decimal) -> float:
    return float(d)


def byte_len(s: str) -> int:
    """Go len(string): UTF-8 byte count."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogateescape"))


def iif(cond: bool, a: object, b: object) -> object:
    """`*.iif`: both branches were already evaluated by the caller (Go evaluates all arguments)."""
    return a if cond else b


def sqrt(f: float) -> float:
    """Go math.Sqrt: NaN for negative input instead of an error."""
    return math.sqrt(f) if f >= 0 else math.nan


def go_round(f: float) -> float:
    """Go math.Round: half away from zero, keeps the sign of zero, passes Inf/NaN through."""
    if not math.isfinite(f):
        return f
    t = math.trunc(f)
    if abs(f - t) >= 0.5:
        t += 1 if f > 0 else -1
    return math.copysign(float(t), f)


def time_date(y: int, month: int, d: int, h: int, mi: int, s: int, ns: int, loc: _dt.tzinfo) -> _dt.datetime:
    """Go time.Date: out-of-range month/day/hour/... values are normalised by carrying (Oct 32 -> Nov 1)."""
    y += (month - 1) // 12
    month = (month - 1) % 12 + 1
    try:
        base = _dt.datetime(y, month, 1, tzinfo=loc)
        return base + _dt.timedelta(days=d - 1, hours=h, minutes=mi, seconds=s, microseconds=ns // 1000)
    except OverflowError:
        raise ValueError(
            f"time.Date: the date falls outside years 1..9999 (year {y}, month {month}, day {d})"
        ) from None
    except ValueError:
        raise ValueError(f"time.Date: year {y} is outside 1..9999") from None


def time_now() -> _dt.datetime:
    """Go time.Now(): current local time."""
    return _dt.datetime.now(_dt.UTC).astimezone()


def unix(t: _dt.datetime) -> int:
    """Go t.Unix(): whole seconds since the epoch, floored."""
    return (t - _EPOCH) // _SECOND


def unix_milli(t: _dt.datetime) -> int:
    """Go t.UnixMilli(): whole milliseconds since the epoch, floored."""
    return (t - _EPOCH) // _MILLI


def diff_milli(a: _dt.datetime, b: _dt.datetime) -> int:
    """Go a.Sub(b).Milliseconds(): the Duration saturates at ±(2^63-1) ns, then truncates to ms."""
    ns = ((a - b) // _MICRO) * 1000
    ns = max(INT64_MIN, min(INT64_MAX, ns))
    ms = abs(ns) // 1_000_000
    return -ms if ns < 0 else ms


def fixed_zone(name: str, offset: int) -> _dt.tzinfo:
    """Go time.FixedZone(name, offsetSeconds); Python zones are limited to offsets strictly within ±24 h."""
    if not -86400 < offset < 86400:
        raise ValueError(f"time.FixedZone: offset {offset} s is outside the supported ±86399 s")
    return _dt.timezone(_dt.timedelta(seconds=offset), name)


_REGEX_CACHE: dict[str, re2._Regexp] = {}
_REGEX_OPTIONS = re2.Options()
_REGEX_OPTIONS.log_errors = False


def compile_regex(pattern: str) -> re2._Regexp:
    """RE2 pattern, compiled once per process; errors read like Go's regexp.MustCompile panic text."""
    rx = _REGEX_CACHE.get(pattern)
    if rx is None:
        try:
            rx = re2.compile(pattern, options=_REGEX_OPTIONS)
        except re2.error as e:
            detail = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
            raise ValueError(f"error parsing regexp: {detail}") from None
        if len(_REGEX_CACHE) > 10_000:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[pattern] = rx
    return rx


def match_string(pattern: str, s: str) -> bool:
    """Go regexp.MatchString: unanchored search."""
    return compile_regex(pattern).search(s) is not None
