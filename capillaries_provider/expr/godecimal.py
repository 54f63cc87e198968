"""shopspring/decimal semantics on top of :class:`decimal.Decimal`.

Capillaries keeps decimal2 values as shopspring decimals: an arbitrary-precision coefficient with a base-10
exponent, exact ``+ - *``, division rounded half away from zero to 16 places, ``Round`` half away from zero.
Python's Decimal represents the same (coefficient, exponent) pair, so values are plain ``Decimal`` objects whose
exponent mirrors shopspring's; every operation here works on exact integers, so the process-wide decimal
context is never touched or relied on.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

# shopspring DivisionPrecision.
DIVISION_PRECISION = 16

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+")


# Scaling by a power of ten is exact under this context (a coefficient never has 100,000 digits here); building
# values this way is several times faster than through digit tuples (profiled on the write path).
_EXACT = Context(prec=100_000, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _parts(d: Decimal) -> tuple[int, int]:
    """Return (coefficient, exponent) so that d == coefficient * 10**exponent; specials are rejected."""
    exp = d.as_tuple().exponent
    if not isinstance(exp, int):
        raise ValueError(f"decimal {d} is not finite")
    return int(d.scaleb(-exp, _EXACT)), exp


def _make(coef: int, exp: int) -> Decimal:
    """Build the Decimal coefficient*10**exp, keeping the exponent (shopspring never has a negative zero)."""
    return Decimal(coef).scaleb(exp, _EXACT)


def round_half_away(d: Decimal, places: int) -> Decimal:
    """shopspring Round(places): half away from zero, result exponent is -places."""
    coef, exp = _parts(d)
    if exp == -places:
        return _make(coef, exp)
    target = -places
    if exp >= target:
        return _make(coef * 10 ** (exp - target), target)
    div = 10 ** (target - exp)
    q, r = divmod(abs(coef), div)
    if 2 * r >= div:
        q += 1
    return _make(-q if coef < 0 else q, target)


def decimal_div(a: Decimal, b: Decimal) -> Decimal:
    """shopspring Div: the exact quotient rounded half away from zero to 16 fractional digits."""
    ca, ea = _parts(a)
    cb, eb = _parts(b)
    if cb == 0:
        raise ZeroDivisionError("decimal division by 0")
    # a/b * 10**16 as an exact fraction num/den of integers.
    shift = ea - eb + DIVISION_PRECISION
    num = abs(ca) * 10**shift if shift >= 0 else abs(ca)
    den = abs(cb) if shift >= 0 else abs(cb) * 10**-shift
    q, r = divmod(num, den)
    if 2 * r >= den:
        q += 1
    return _make(-q if (ca < 0) != (cb < 0) else q, -DIVISION_PRECISION)


def _string(d: Decimal, trim: bool) -> str:
    coef, exp = _parts(d)
    if exp >= 0:
        return str(coef * 10**exp)
    digits = str(abs(coef))
    if len(digits) > -exp:
        int_part, frac = digits[:exp], digits[exp:]
    else:
        int_part, frac = "0", "0" * (-exp - len(digits)) + digits
    if trim:
        frac = frac.rstrip("0")
    number = int_part + "." + frac if frac else int_part
    return "-" + number if coef < 0 else number


def decimal_string(d: Decimal) -> str:
    """shopspring String(): plain notation, never an exponent, trailing fractional zeros trimmed."""
    return _string(d, trim=True)


def string_fixed(d: Decimal, places: int) -> str:
    """shopspring StringFixed(places): Round half away from zero, then print exactly `places` decimals."""
    return _string(round_half_away(d, places), trim=False)


def decimal_from_string(s: str) -> Decimal:
    """shopspring NewFromString: optional sign, digits with one '.', optional e/E exponent (int32)."""
    value = s
    exp = 0
    e_index = next((i for i, c in enumerate(value) if c in "eE"), -1)
    if e_index != -1:
        exp_text = value[e_index + 1 :]
        if not _SIGNED_DIGITS.fullmatch(exp_text):
            raise ValueError(f"can't convert {value} to decimal: exponent is not numeric")
        exp = int(exp_text)
        if exp < _INT32_MIN or exp > _INT32_MAX:
            raise ValueError(f"can't convert {value} to decimal: fractional part too long")
        value = value[:e_index]
    if value.count(".") > 1:
        raise ValueError(f"can't convert {value} to decimal: too many .s")
    p_index = value.find(".")
    if p_index == -1:
        int_string = value
    else:
        int_string = value[:p_index] + value[p_index + 1 :]
        exp -= len(value) - p_index - 1
    if not _SIGNED_DIGITS.fullmatch(int_string) or (len(int_string) <= 18 and not _fits_int64(int_string)):
        raise ValueError(f"can't convert {value} to decimal")
    if exp < _INT32_MIN or exp > _INT32_MAX:
        raise ValueError(f"can't convert {s} to decimal: fractional part too long")
    return _make(int(int_string), exp)


def _fits_int64(text: str) -> bool:
    return -(1 << 63) <= int(text) < (1 << 63)


def decimal_from_float(f: float) -> Decimal:
    """shopspring NewFromFloat: the shortest decimal that round-trips, exponent = last significant digit."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"Cannot create a Decimal from {f!r}")
    if f == 0:
        return Decimal(0)
    mantissa, _, exp_text = repr(abs(f)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = (int_part + frac).lstrip("0")
    exp = (int(exp_text) if exp_text else 0) - len(frac)
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    coef = int(stripped)
    return _make(-coef if f < 0 else coef, exp)


def decimal_to_float(d: Decimal) -> float:
    """shopspring InexactFloat64: the nearest float64 (Python's Decimal->float conversion is correctly rounded)."""
    return float(d)


def _go_round(x: float) -> float:
    """Go math.Round: half away from zero (Python's round() is banker's)."""
    if math.isnan(x) or math.isinf(x):
        return x
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return t


def to_cassandra_cents(d: Decimal) -> int:
    """Spec 3.4: float64(d)*100, Go math.Round, as int64: the unscaled value of the scale-2 decimal Go writes.

    1.005 -> 100 (100.4999... in float64). Go converts the rounded float to int64; beyond int64 the result is CPU
    dependent (spec 3.4). We saturate like amd64's conversion does (0x8000000000000000) instead of inventing one.
    """
    product = _go_round(float(d) * 100)
    in_range = -(2.0**63) <= product < 2.0**63  # False for NaN too
    return int(product) if in_range else -(1 << 63)


def to_cassandra_decimal(d: Decimal) -> Decimal:
    """The scale-2 decimal Go stores for `d` (spec 3.4, see `to_cassandra_cents`): 1.005 -> 1.00."""
    return _make(to_cassandra_cents(d), -2)


def parquet_decimal_unscaled(d: Decimal) -> int:
    """Spec 1.8: IntPart(v*100) as int64 (truncation toward zero, no rounding); wraps like big.Int.Int64()."""
    coef, exp = _parts(d)
    exp += 2
    value = coef * 10**exp if exp >= 0 else (abs(coef) // 10**-exp) * (-1 if coef < 0 else 1)
    return ((value + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)
