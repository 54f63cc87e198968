"""Go ``fmt.Sprintf`` / ``strconv`` / ``fmt.Sscanf`` behaviour for Capillaries values.

Golden output files are produced by Go's formatter, so this is a port of Go's ``fmt/print.go`` and
``fmt/format.go`` (same state machine, same flag handling, same ``%!verb(type=value)`` diagnostics) restricted
to the values an expression can produce: int (Go int64), float (float64), Decimal (shopspring decimal.Decimal),
str, bool and datetime (time.Time).

A decimal or a time with a verb its ``String()`` method does not serve is printed by Go as a dump of the struct
(spec 2.5). The dump is reproduced field by field (Go 1.26 layout: ``{%!f(*big.Int=&{false [1230]}) %!f(int32=-2)}``).
Where Go would print a heap address (``%d`` of a decimal, ``%#v``, the location of a non-UTC time) we print
the fixed stand-in address ``_FAKE_POINTER`` instead, so the output is deterministic but not byte-identical.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from capillaries_provider.expr.godecimal import decimal_string
from capillaries_provider.expr.gotime import go_string, time_string

_FAKE_POINTER = 0xC000010000
_MAX_RUNE = 0x10FFFF
_REPLACEMENT = "\ufffd"
_UINT64 = (1 << 64) - 1
_LDIGITS = "0123456789abcdefx"
_UDIGITS = "0123456789ABCDEFX"


# Internal Go values that only appear inside struct dumps.
@dataclass(frozen=True)
class _GoInt:
    """An integer of a specific Go type (int32, uint64, ...) as found in decimal/time struct fields."""

    value: int
    type_name: str
    signed: bool


@dataclass(frozen=True)
class _GoPointer:
    """A pointer field: `target` is what Go would dereference for a top-level dump, None for nil."""

    type_name: str
    target: object | None
    address: int


@dataclass(frozen=True)
class _GoStruct:
    """A struct value printed field by field (`{a b}`, `%+v` names, `%#v` Go syntax)."""

    type_name: str
    fields: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class _GoSlice:
    """A slice value printed as `[a b]`."""

    type_name: str
    items: tuple[object, ...]


def go_type_name(v: object) -> str:
    """The Go type name of a value, as fmt prints it in diagnostics (`%!d(float64=1.5)`)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Decimal):
        return "decimal.Decimal"
    if isinstance(v, _dt.datetime):
        return "time.Time"
    if isinstance(v, _GoInt | _GoPointer | _GoStruct | _GoSlice):
        return v.type_name
    raise TypeError(f"no Go type for {type(v).__name__}")


def _big_int_words(v: int) -> tuple[object, ...]:
    """big.Int's `abs nat`: little-endian 64-bit words."""
    a = abs(v)
    words: list[object] = []
    while a:
        words.append(_GoInt(a & _UINT64, "big.Word", False))
        a >>= 64
    return tuple(words)


def _decimal_struct(d: Decimal) -> _GoStruct:
    """shopspring Decimal{value *big.Int; exp int32} with big.Int{neg bool; abs nat}."""
    sign, digits, exp = d.as_tuple()
    coef = int("".join(map(str, digits)) or "0")
    if not isinstance(exp, int):
        raise ValueError("non-finite decimal")
    big = _GoStruct("big.Int", (("neg", sign == 1 and coef != 0), ("abs", _GoSlice("big.nat", _big_int_words(coef)))))
    return _GoStruct(
        "decimal.Decimal",
        (("value", _GoPointer("*big.Int", big, _FAKE_POINTER)), ("exp", _GoInt(exp, "int32", True))),
    )


def _time_struct(t: _dt.datetime) -> _GoStruct:
    """time.Time{wall uint64; ext int64; loc *Location} of a non-monotonic time (nil loc = UTC)."""
    since_year1 = t.replace(tzinfo=None) - (t.utcoffset() or _dt.timedelta(0)) - _dt.datetime(1, 1, 1)
    seconds = since_year1.days * 86400 + since_year1.seconds
    is_utc = t.tzinfo is _dt.UTC
    loc = _GoPointer("*time.Location", None, 0) if is_utc else _GoPointer("*time.Location", None, _FAKE_POINTER)
    return _GoStruct(
        "time.Time",
        (
            ("wall", _GoInt(t.microsecond * 1000, "uint64", False)),
            ("ext", _GoInt(seconds, "int64", True)),
            ("loc", loc),
        ),
    )


# Longest text one format call may produce. Go bounds each width and precision at 1e6 (BADWIDTH/BADPREC above that)
# but not their number; this bounds the memory one formatted value may take (docs/reliability.md).
MAX_FORMATTED_CHARS = 1 << 24


class _Output(list[str]):
    """The pieces of one format call's result; refuses to grow past MAX_FORMATTED_CHARS."""

    size = 0

    def append(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > MAX_FORMATTED_CHARS:
            raise ValueError(f"formatted value is longer than the limit of {MAX_FORMATTED_CHARS:,} characters")
        super().append(piece)


class _Printer:
    """Port of Go's `pp` + `fmt` pair: one format call, flags reset per verb."""

    def __init__(self) -> None:
        self.buf: list[str] = _Output()
        self.clear_flags()
        self.erroring = False
        self.arg: object | None = None
        self.value: object | None = None  # the reflect.Value being printed (struct dump fields)

    def clear_flags(self) -> None:
        self.wid_present = False
        self.prec_present = False
        self.minus = False
        self.plus = False
        self.sharp = False
        self.space = False
        self.zero = False
        self.plus_v = False
        self.sharp_v = False
        self.wid = 0
        self.prec = 0

    # ---- format.go -------------------------------------------------------------------------------------------

    def write_padding(self, n: int) -> None:
        if n <= 0:
            return
        self.buf.append(("0" if self.zero and not self.minus else " ") * n)

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if not self.minus:
            self.write_padding(width)
            self.buf.append(s)
        else:
            self.buf.append(s)
            self.write_padding(width)

    def fmt_boolean(self, v: bool) -> None:
        self.pad("true" if v else "false")

    def fmt_unicode(self, u: int) -> None:
        prec = 4
        if self.prec_present and self.prec > 4:
            prec = self.prec
        digits = format(u, "X").rjust(prec, "0")
        s = "U+" + digits
        if self.sharp and u <= _MAX_RUNE and _is_print(chr(u)):
            s += " '" + chr(u) + "'"
        old_zero = self.zero
        self.zero = False
        self.pad(s)
        self.zero = old_zero

    def fmt_integer(self, u: int, base: int, is_signed: bool, verb: str, digits: str) -> None:
        u &= _UINT64
        negative = is_signed and u >= 1 << 63
        if negative:
            u = (1 << 64) - u
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                old_zero = self.zero
                self.zero = False
                self.write_padding(self.wid)
                self.zero = old_zero
                return
        elif self.zero and not self.minus and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        if base == 10:
            s = str(u)
        elif base == 16:
            s = format(u, "x") if digits is _LDIGITS else format(u, "X")
        elif base == 8:
            s = format(u, "o")
        else:
            s = format(u, "b")
        if len(s) < prec:
            s = "0" * (prec - len(s)) + s
        if self.sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8:
                if s[0] != "0":
                    s = "0" + s
            elif base == 16:
                s = "0" + digits[16] + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        old_zero = self.zero
        self.zero = False
        self.pad(s)
        self.zero = old_zero

    def truncate_string(self, s: str) -> str:
        if self.prec_present and self.prec < len(s):
            return s[: self.prec]
        return s

    def fmt_s(self, s: str) -> None:
        self.pad(self.truncate_string(s))

    def fmt_sx(self, s: str, digits: str) -> None:
        b = s.encode("utf-8", "surrogateescape")
        length = len(b)
        if self.prec_present and self.prec < length:
            length = self.prec
        width = 2 * length
        if width > 0:
            if self.space:
                if self.sharp:
                    width *= 2
                width += length - 1
            elif self.sharp:
                width += 2
        else:
            if self.wid_present:
                self.write_padding(self.wid)
            return
        if self.wid_present and self.wid > width and not self.minus:
            self.write_padding(self.wid - width)
        out: list[str] = []
        if self.sharp:
            out.append("0" + digits[16])
        for i in range(length):
            if self.space and i > 0:
                out.append(" ")
                if self.sharp:
                    out.append("0" + digits[16])
            c = b[i]
            out.append(digits[c >> 4] + digits[c & 0xF])
        self.buf.append("".join(out))
        if self.wid_present and self.wid > width and self.minus:
            self.write_padding(self.wid - width)

    def fmt_q(self, s: str) -> None:
        s = self.truncate_string(s)
        if self.sharp and _can_backquote(s):
            self.pad("`" + s + "`")
            return
        self.pad(go_quote(s, ascii_only=self.plus))

    def fmt_c(self, c: int) -> None:
        self.pad(_rune(c))

    def fmt_qc(self, c: int) -> None:
        r = _rune(c)
        self.pad(_quote_rune(r, ascii_only=self.plus))

    def fmt_float(self, v: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old_zero = self.zero
            self.zero = False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old_zero
            return
        if self.sharp and verb != "b":
            num = self._sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and not self.minus and self.wid_present and self.wid > len(num):
                self.buf.append(num[0])
                self.write_padding(self.wid - len(num))
                self.buf.append(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    @staticmethod
    def _sharp_float(num: str, verb: str, prec: int) -> str:
        digits = 0
        if verb in "vgGx":
            digits = prec if prec != -1 else 6
        tail = ""
        body = num
        has_point = False
        saw_nonzero = False
        i = 1
        while i < len(body):
            ch = body[i]
            if ch == ".":
                has_point = True
            elif ch in "pP" or (ch in "eE" and verb not in "xX"):
                tail = body[i:]
                body = body[:i]
                break
            else:
                if ch != "0":
                    saw_nonzero = True
                if saw_nonzero:
                    digits -= 1
            i += 1
        if not has_point:
            if len(body) == 2 and body[1] == "0":
                digits -= 1
            body += "."
        if digits > 0:
            body += "0" * digits
        return body + tail

    # ---- print.go --------------------------------------------------------------------------------------------

    def bad_verb(self, verb: str) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if self.arg is not None:
            self.buf.append(go_type_name(self.arg) + "=")
            self.print_arg(self.arg, "v")
        elif self.value is not None:
            self.buf.append(go_type_name(self.value) + "=")
            self.print_value(self.value, "v", 0)
        else:
            self.buf.append("<nil>")
        self.buf.append(")")
        self.erroring = False

    def fmt_bool(self, v: bool, verb: str) -> None:
        if verb in "tv":
            self.fmt_boolean(v)
        else:
            self.bad_verb(verb)

    def fmt_0x64(self, v: int, leading0x: bool) -> None:
        sharp = self.sharp
        self.sharp = leading0x
        self.fmt_integer(v, 16, False, "v", _LDIGITS)
        self.sharp = sharp

    def fmt_int(self, v: int, is_signed: bool, verb: str) -> None:
        if verb == "v":
            if self.sharp_v and not is_signed:
                self.fmt_0x64(v, True)
            else:
                self.fmt_integer(v, 10, is_signed, verb, _LDIGITS)
        elif verb == "d":
            self.fmt_integer(v, 10, is_signed, verb, _LDIGITS)
        elif verb == "b":
            self.fmt_integer(v, 2, is_signed, verb, _LDIGITS)
        elif verb in "oO":
            self.fmt_integer(v, 8, is_signed, verb, _LDIGITS)
        elif verb == "x":
            self.fmt_integer(v, 16, is_signed, verb, _LDIGITS)
        elif verb == "X":
            self.fmt_integer(v, 16, is_signed, verb, _UDIGITS)
        elif verb == "c":
            self.fmt_c(v & _UINT64)
        elif verb == "q":
            self.fmt_qc(v & _UINT64)
        elif verb == "U":
            self.fmt_unicode(v & _UINT64)
        else:
            self.bad_verb(verb)

    def fmt_float_verb(self, v: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float(v, "g", -1)
        elif verb in "bgGxX":
            self.fmt_float(v, verb, -1)
        elif verb in "feE":
            self.fmt_float(v, verb, 6)
        elif verb == "F":
            self.fmt_float(v, "f", 6)
        else:
            self.bad_verb(verb)

    def fmt_string(self, v: str, verb: str) -> None:
        if verb == "v":
            if self.sharp_v:
                self.fmt_q(v)
            else:
                self.fmt_s(v)
        elif verb == "s":
            self.fmt_s(v)
        elif verb == "x":
            self.fmt_sx(v, _LDIGITS)
        elif verb == "X":
            self.fmt_sx(v, _UDIGITS)
        elif verb == "q":
            self.fmt_q(v)
        else:
            self.bad_verb(verb)

    def fmt_pointer(self, p: _GoPointer, verb: str) -> None:
        u = p.address
        if verb == "v":
            if self.sharp_v:
                self.buf.append("(" + p.type_name + ")(")
                if u == 0:
                    self.buf.append("nil")
                else:
                    self.fmt_0x64(u, True)
                self.buf.append(")")
            elif u == 0:
                self.pad("<nil>")
            else:
                self.fmt_0x64(u, not self.sharp)
        elif verb == "p":
            self.fmt_0x64(u, not self.sharp)
        elif verb in "bodxX":
            self.fmt_int(u, False, verb)
        else:
            self.bad_verb(verb)

    def handle_methods(self, verb: str) -> bool:
        """Method dispatch: decimal.Decimal and time.Time have String(), time.Time also GoString()."""
        if self.erroring:
            return False
        arg = self.arg
        if self.sharp_v and isinstance(arg, _dt.datetime):  # time.Time implements GoStringer
            self.fmt_s(go_string(arg))
            return True
        if not isinstance(arg, Decimal | _dt.datetime) or self.sharp_v:
            return False
        if verb not in "vsxXq":
            return False
        self.fmt_string(decimal_string(arg) if isinstance(arg, Decimal) else time_string(arg), verb)
        return True

    def print_arg(self, arg: object, verb: str) -> None:
        self.arg = arg
        self.value = None
        if verb == "T":
            self.fmt_s(go_type_name(arg))
            return
        if verb == "p":  # none of our values is a Go pointer
            self.bad_verb("p")
            return
        if isinstance(arg, bool):
            self.fmt_bool(arg, verb)
        elif isinstance(arg, int):
            self.fmt_int(arg, True, verb)
        elif isinstance(arg, float):
            self.fmt_float_verb(arg, verb)
        elif isinstance(arg, str):
            self.fmt_string(arg, verb)
        elif isinstance(arg, _GoInt):
            self.fmt_int(arg.value, arg.signed, verb)
        elif not self.handle_methods(verb):
            if isinstance(arg, Decimal):
                self.print_value(_decimal_struct(arg), verb, 0)
            elif isinstance(arg, _dt.datetime):
                self.print_value(_time_struct(arg), verb, 0)
            else:
                self.print_value(arg, verb, 0)

    def print_value(self, value: object, verb: str, depth: int) -> None:
        self.arg = None
        self.value = value
        if isinstance(value, bool):
            self.fmt_bool(value, verb)
        elif isinstance(value, _GoInt):
            self.fmt_int(value.value, value.signed, verb)
        elif isinstance(value, _GoStruct):
            if self.sharp_v:
                self.buf.append(value.type_name)
            self.buf.append("{")
            for i, (name, field) in enumerate(value.fields):
                if i > 0:
                    self.buf.append(", " if self.sharp_v else " ")
                if self.plus_v or self.sharp_v:
                    self.buf.append(name + ":")
                self.print_value(field, verb, depth + 1)
            self.buf.append("}")
        elif isinstance(value, _GoSlice):
            if self.sharp_v:
                self.buf.append(value.type_name + "{")
                sep = ", "
            else:
                self.buf.append("[")
                sep = " "
            for i, item in enumerate(value.items):
                if i > 0:
                    self.buf.append(sep)
                self.print_value(item, verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
        elif isinstance(value, _GoPointer):
            if depth == 0 and value.target is not None:
                self.buf.append("&")
                self.print_value(value.target, verb, depth + 1)
                return
            self.fmt_pointer(value, verb)
        else:
            raise TypeError(f"cannot print {type(value).__name__}")

    def do_printf(self, fmt: str, a: Sequence[object]) -> None:
        end = len(fmt)
        arg_num = 0
        after_index = False
        reordered = False
        i = 0
        while i < end:
            good_arg_num = True
            lasti = i
            while i < end and fmt[i] != "%":
                i += 1
            if i > lasti:
                self.buf.append(fmt[lasti:i])
            if i >= end:
                break
            i += 1
            self.clear_flags()
            simple_done = False
            while i < end:
                c = fmt[i]
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = True
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus = True
                elif c == " ":
                    self.space = True
                else:
                    if "a" <= c <= "z" and arg_num < len(a):
                        if c == "v":
                            self.sharp_v = self.sharp
                            self.sharp = False
                            self.plus_v = self.plus
                            self.plus = False
                        self.print_arg(a[arg_num], c)
                        arg_num += 1
                        i += 1
                        simple_done = True
                    break
                i += 1
            if simple_done:
                continue

            arg_num, i, after_index, reordered, good_arg_num = self._arg_number(
                arg_num, fmt, i, len(a), reordered, good_arg_num
            )
            if i < end and fmt[i] == "*":
                i += 1
                self.wid, self.wid_present, arg_num = _int_from_arg(a, arg_num)
                if not self.wid_present:
                    self.buf.append("%!(BADWIDTH)")
                if self.wid < 0:
                    self.wid = -self.wid
                    self.minus = True
                    self.zero = False
                after_index = False
            else:
                self.wid, self.wid_present, i = _parse_num(fmt, i, end)
                if after_index and self.wid_present:
                    good_arg_num = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    good_arg_num = False
                arg_num, i, after_index, reordered, good_arg_num = self._arg_number(
                    arg_num, fmt, i, len(a), reordered, good_arg_num
                )
                if i < end and fmt[i] == "*":
                    i += 1
                    self.prec, self.prec_present, arg_num = _int_from_arg(a, arg_num)
                    if self.prec < 0:
                        self.prec = 0
                        self.prec_present = False
                    if not self.prec_present:
                        self.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    self.prec, self.prec_present, i = _parse_num(fmt, i, end)
                    if not self.prec_present:
                        self.prec = 0
                        self.prec_present = True
            if not after_index:
                arg_num, i, after_index, reordered, good_arg_num = self._arg_number(
                    arg_num, fmt, i, len(a), reordered, good_arg_num
                )
            if i >= end:
                self.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                self.buf.append("%")
            elif not good_arg_num:
                self.buf.append("%!" + verb + "(BADINDEX)")
            elif arg_num >= len(a):
                self.buf.append("%!" + verb + "(MISSING)")
            else:
                if verb == "v":
                    self.sharp_v = self.sharp
                    self.sharp = False
                    self.plus_v = self.plus
                    self.plus = False
                self.print_arg(a[arg_num], verb)
                arg_num += 1
        if not reordered and arg_num < len(a):
            self.clear_flags()
            self.buf.append("%!(EXTRA ")
            for k, arg in enumerate(a[arg_num:]):
                if k > 0:
                    self.buf.append(", ")
                self.buf.append(go_type_name(arg) + "=")
                self.print_arg(arg, "v")
            self.buf.append(")")

    @staticmethod
    def _arg_number(
        arg_num: int, fmt: str, i: int, num_args: int, reordered: bool, good: bool
    ) -> tuple[int, int, bool, bool, bool]:
        """Go's argNumber: an explicit `[n]` index; returns (argNum, i, found, reordered, goodArgNum)."""
        if len(fmt) <= i or fmt[i] != "[":
            return arg_num, i, False, reordered, good
        reordered = True
        index, wid, ok = _parse_arg_number(fmt[i:])
        if ok and 0 <= index < num_args:
            return index, i + wid, True, reordered, good
        return arg_num, i + wid, ok, reordered, False


def _parse_num(s: str, start: int, end: int) -> tuple[int, bool, int]:
    if start >= end:
        return 0, False, end
    num = 0
    isnum = False
    newi = start
    while newi < end and "0" <= s[newi] <= "9":
        if num > 1_000_000 or num < -1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[newi]) - 48
        isnum = True
        newi += 1
    return num, isnum, newi


def _parse_arg_number(fmt: str) -> tuple[int, int, bool]:
    if len(fmt) < 3:
        return 0, 1, False
    for i in range(1, len(fmt)):
        if fmt[i] == "]":
            width, ok, newi = _parse_num(fmt, 1, i)
            if not ok or newi != i:
                return 0, i + 1, False
            return width - 1, i + 1, True
    return 0, 1, False


def _int_from_arg(a: Sequence[object], arg_num: int) -> tuple[int, bool, int]:
    num, is_int, new_arg_num = 0, False, arg_num
    if arg_num < len(a):
        v = a[arg_num]
        if isinstance(v, int) and not isinstance(v, bool):
            num, is_int = v, True
        new_arg_num = arg_num + 1
        if num > 1_000_000 or num < -1_000_000:
            num, is_int = 0, False
    return num, is_int, new_arg_num


# ---- strconv: float formatting ---------------------------------------------------------------------------------


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip digits of |v| (no trailing zeros) and the decimal point position."""
    if v == 0:
        return "", 0
    mantissa, _, exp_text = repr(abs(v)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    dp = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    return stripped.rstrip("0"), dp


def _precise_digits(v: float, ndigits: int) -> tuple[str, int]:
    """|v| correctly rounded to `ndigits` significant digits (trailing zeros trimmed, like Go's digit buffer)."""
    if v == 0:
        return "", 0
    text = f"{abs(v):.{ndigits - 1}e}"
    mantissa, _, exp_text = text.partition("e")
    digits = mantissa.replace(".", "").rstrip("0")
    return digits, int(exp_text) + 1


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, verb: str) -> str:
    out = ["-" if neg else "", digits[0] if digits else "0"]
    if prec > 0:
        out.append(".")
        frac = digits[1 : prec + 1]
        out.append(frac + "0" * (prec - len(frac)))
    exp = dp - 1 if digits else 0
    out.append(verb)
    out.append("-" if exp < 0 else "+")
    out.append(f"{abs(exp):02d}")
    return "".join(out)


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    out = ["-" if neg else ""]
    if dp > 0:
        head = digits[:dp]
        out.append(head + "0" * (dp - len(head)))
    else:
        out.append("0")
    if prec > 0:
        out.append(".")
        out.append("".join(digits[j] if 0 <= j < len(digits) else "0" for j in range(dp, dp + prec)))
    return "".join(out)


def _format_digits(neg: bool, digits: str, dp: int, prec: int, verb: str, shortest: bool) -> str:
    if verb in "eE":
        return _fmt_e(neg, digits, dp, prec, verb)
    if verb == "f":
        return _fmt_f(neg, digits, dp, prec)
    eprec = prec
    nd = len(digits)
    if eprec > nd and nd >= dp:
        eprec = nd
    if shortest:
        eprec = 6
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        if prec > nd:
            prec = nd
        return _fmt_e(neg, digits, dp, prec - 1, "e" if verb == "g" else "E")
    if prec > dp:
        prec = nd
    return _fmt_f(neg, digits, dp, max(prec - dp, 0))


def _float_bits(v: float) -> tuple[bool, int, int]:
    """(negative, mantissa with implicit bit, unbiased binary exponent) as Go's genericFtoa computes them."""
    bits = struct.unpack("<Q", struct.pack("<d", v))[0]
    neg = bits >> 63 != 0
    exp = (bits >> 52) & 0x7FF
    mant = bits & ((1 << 52) - 1)
    if exp == 0:
        exp += 1
    else:
        mant |= 1 << 52
    return neg, mant, exp - 1023


def _fmt_x(v: float, prec: int, verb: str) -> str:
    neg, mant, exp = _float_bits(v)
    if mant == 0:
        exp = 0
    mant <<= 60 - 52
    while mant != 0 and mant & (1 << 60) == 0:
        mant = (mant << 1) & _UINT64
        exp -= 1
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mant << shift) & ((1 << 60) - 1)
        mant >>= 60 - shift
        if extra | (mant & 1) > 1 << 59:
            mant += 1
        mant <<= 60 - shift
        if mant & (1 << 61):
            mant >>= 1
            exp += 1
    hexdigits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
    out = ["-" if neg else "", "0", verb, str((mant >> 60) & 1)]
    mant = (mant << 4) & _UINT64
    if prec < 0 and mant != 0:
        out.append(".")
        while mant != 0:
            out.append(hexdigits[(mant >> 60) & 15])
            mant = (mant << 4) & _UINT64
    elif prec > 0:
        out.append(".")
        for _ in range(prec):
            out.append(hexdigits[(mant >> 60) & 15])
            mant = (mant << 4) & _UINT64
    out.append("p" if verb == "x" else "P")
    out.append("-" if exp < 0 else "+")
    out.append(f"{abs(exp):02d}")
    return "".join(out)


def format_float(v: float, verb: str, prec: int) -> str:
    """Go strconv.FormatFloat(v, verb, prec, 64) for verbs e E f g G b x X (prec -1 = shortest)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if verb == "b":
        neg, mant, exp = _float_bits(v)
        e = exp - 52
        return ("-" if neg else "") + f"{mant}p{'+' if e >= 0 else ''}{e}"
    if verb in "xX":
        return _fmt_x(v, prec, verb)
    neg = math.copysign(1.0, v) < 0
    shortest = prec < 0
    if shortest:
        digits, dp = _shortest_digits(v)
        nd = len(digits)
        if verb in "eE":
            prec = max(nd - 1, 0)
        elif verb == "f":
            prec = max(nd - dp, 0)
        else:
            prec = nd
        return _format_digits(neg, digits, dp, prec, verb, True)
    if verb == "f":
        return ("-" if neg else "") + f"{abs(v):.{prec}f}"
    if verb in "eE":
        return ("-" if neg else "") + f"{abs(v):.{prec}{verb}}"
    if prec == 0:
        prec = 1
    digits, dp = _precise_digits(v, prec)
    return _format_digits(neg, digits, dp, prec, verb, False)


# ---- strconv: quoting ------------------------------------------------------------------------------------------


def _is_print(ch: str) -> bool:
    """Go unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def _rune(c: int) -> str:
    if c > _MAX_RUNE or 0xD800 <= c <= 0xDFFF:
        return _REPLACEMENT
    return chr(c)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _escape_rune(r: str, quote: str, ascii_only: bool) -> str:
    if r == quote or r == "\\":
        return "\\" + r
    code = ord(r)
    if ascii_only:
        if code < 0x80 and _is_print(r):
            return r
    elif _is_print(r):
        return r
    if r in _ESCAPES:
        return _ESCAPES[r]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (or QuoteToASCII): Go escapes, printable runes kept."""
    return '"' + "".join(_escape_rune(r, '"', ascii_only) for r in s) + '"'


def _quote_rune(r: str, ascii_only: bool) -> str:
    return "'" + _escape_rune(r, "'", ascii_only) + "'"


def _can_backquote(s: str) -> bool:
    for r in s:
        if r == "`" or r == "\ufeff" or (0xDC80 <= ord(r) <= 0xDCFF):
            return False
        if (ord(r) < 0x20 and r != "\t") or r == "\x7f":
            return False
    return True


# ---- public formatting API -------------------------------------------------------------------------------------


def sprintf(fmt: str, args: Sequence[object]) -> str:
    """Go fmt.Sprintf(fmt, args...) for Capillaries values (int=int64, float=float64, Decimal, str, bool, datetime)."""
    p = _Printer()
    p.do_printf(fmt, args)
    return "".join(p.buf)


def format_v(v: object) -> str:
    """Go fmt.Sprint(v) / `%v`: what `string(x)` returns in expressions."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v, "g", -1)
    if isinstance(v, Decimal):
        return decimal_string(v)
    if isinstance(v, _dt.datetime):
        return time_string(v)
    return sprintf("%v", [v])


# ---- strconv: parsing ------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT_RE = re.compile(r"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))[pP]([+-]?[0-9]+)")
_INF_NAN_RE = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)


def _num_error(func: str, s: str, reason: str) -> ValueError:
    return ValueError(f"strconv.{func}: parsing {go_quote(s)}: {reason}")


def parse_int(s: str) -> int:
    """strconv.ParseInt(s, 10, 64): optional sign and ASCII digits only (no spaces, no `_`, no prefixes)."""
    if not _INT_RE.fullmatch(s):
        # Go reports overflow as soon as the digits seen so far exceed uint64, before a later bad character.
        digits = re.match(r"[+-]?([0-9]*)", s)
        if digits is not None and digits.group(1) and int(digits.group(1)) > _UINT64:
            raise _num_error("ParseInt", s, "value out of range")
        raise _num_error("ParseInt", s, "invalid syntax")
    v = int(s)
    if not -(1 << 63) <= v < 1 << 63:
        raise _num_error("ParseInt", s, "value out of range")
    return v


def _underscore_ok(s: str) -> bool:
    saw = "^"
    i = 0
    if s[:1] in ("-", "+"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        ch = s[i]
        if "0" <= ch <= "9" or (hexa and "a" <= ch.lower() <= "f"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64): decimal or hex (`0x1.8p1`) forms, `_` separators, Inf/Infinity/NaN.

    Out of range -> error; no surrounding spaces.
    """
    if _INF_NAN_RE.fullmatch(s):
        return float(s.lower().replace("infinity", "inf"))
    text = s
    m = None
    if "_" in text:  # Go syntax digit separators are accepted (unlike ParseInt with base 10)
        if not _underscore_ok(text):
            raise _num_error("ParseFloat", s, "invalid syntax")
        text = text.replace("_", "")
    if _DEC_FLOAT_RE.fullmatch(text):
        v = float(text)
    else:
        m = _HEX_FLOAT_RE.fullmatch(text)
        if m is None:
            raise _num_error("ParseFloat", s, "invalid syntax")
        try:
            v = float.fromhex(text)
        except OverflowError:
            v = math.inf if m.group(1) != "-" else -math.inf
    if math.isinf(v):
        raise _num_error("ParseFloat", s, "value out of range")
    return v


def parse_bool(s: str) -> bool:
    """strconv.ParseBool."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise _num_error("ParseBool", s, "invalid syntax")


# ---- fmt.Sscanf (CSV col_format) -------------------------------------------------------------------------------

_GO_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)
_INT_VERBS = "bcdoUxXv"
_FLOAT_VERBS = "beEfFgGv"


class _Scanner:
    """The subset of Go's fmt `ss` that Sscanf with one numeric operand exercises."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.limit = len(text)
        self.token: list[str] = []

    def peek_rune(self) -> str:
        return self.text[self.pos] if self.pos < self.limit else ""

    def accept(self, chars: str) -> bool:
        r = self.peek_rune()
        if r and r in chars:
            self.token.append(r)
            self.pos += 1
            return True
        return False

    def skip_space(self) -> None:
        while self.pos < len(self.text):
            r = self.text[self.pos]
            if r == "\r" and self.text[self.pos + 1 : self.pos + 2] == "\n":
                self.pos += 1
                continue
            if r == "\n":
                raise ValueError("unexpected newline")
            if r not in _GO_SPACES:
                return
            self.pos += 1

    def not_eof(self) -> None:
        if self.pos >= self.limit:
            raise ValueError("unexpected EOF")

    def advance(self, fmt: str, i: int) -> int:
        """Match literal format text (and format spaces) against the input; -1 on a mismatch."""
        start = i
        while i < len(fmt):
            c = fmt[i]
            if c in _GO_SPACES:
                newlines = 0
                trailing_space = False
                while i < len(fmt) and fmt[i] in _GO_SPACES:
                    if fmt[i] == "\n":
                        newlines += 1
                        trailing_space = False
                    else:
                        trailing_space = True
                    i += 1
                for _ in range(newlines):
                    while self.pos < len(self.text) and self.text[self.pos] in _GO_SPACES - {"\n"}:
                        self.pos += 1
                    if self.pos < len(self.text):
                        if self.text[self.pos] != "\n":
                            raise ValueError("newline in format does not match input")
                        self.pos += 1
                if trailing_space:
                    if newlines == 0 and self.pos < len(self.text):
                        if self.text[self.pos] == "\n":
                            raise ValueError("newline in input does not match format")
                        if self.text[self.pos] not in _GO_SPACES:
                            raise ValueError("expected space in input to match format")
                    while self.pos < len(self.text) and self.text[self.pos] in _GO_SPACES - {"\n"}:
                        self.pos += 1
                continue
            if c == "%":
                if i + 1 == len(fmt):
                    raise ValueError("missing verb: % at end of format string")
                if fmt[i + 1] != "%":
                    return i - start
                i += 1
            if self.pos >= len(self.text):
                raise ValueError("unexpected EOF")
            if self.text[self.pos] != c:
                return -1
            self.pos += 1
            i += 1
        return i - start

    def scan_int(self, verb: str) -> int:
        if verb not in _INT_VERBS:
            raise ValueError(f"bad verb '%{verb}' for integer")
        if verb == "c":  # the code point of the next rune, spaces included
            self.not_eof()
            self.pos += 1
            return ord(self.text[self.pos - 1])
        self.skip_space()
        self.not_eof()
        base, digits = {"b": (2, "01"), "o": (8, "01234567"), "x": (16, _HEX), "X": (16, _HEX), "U": (16, _HEX)}.get(
            verb, (10, _DEC)
        )
        have_digits = False
        if verb == "U":
            if self.text[self.pos : self.pos + 2] != "U+":
                raise ValueError("bad unicode format ")
            self.pos += 2
        else:
            self.accept("+-")
        if verb == "v":
            base, digits, have_digits = self._base_prefix()
        if not have_digits:
            self.not_eof()
            if not self.accept(digits):
                raise ValueError("expected integer")
        while self.accept(digits):
            pass
        tok = "".join(self.token)
        v = _parse_int_base(tok, base)
        if v is None:
            raise _num_error("ParseInt", tok, "invalid syntax")
        if not -(1 << 63) <= v < 1 << 63:
            raise _num_error("ParseInt", tok, "value out of range")
        return v

    def _base_prefix(self) -> tuple[int, str, bool]:
        if self.peek_rune() != "0":
            return 0, _DEC + "_", False
        self.accept("0")
        for prefix, digits in (("bB", "01"), ("oO", "01234567"), ("xX", _HEX)):
            if self.accept(prefix):
                return 0, digits + "_", True
        return 0, "01234567_", True

    def scan_float(self, verb: str) -> float:
        if verb not in _FLOAT_VERBS:
            raise ValueError(f"bad verb '%{verb}' for float64")
        self.skip_space()
        self.not_eof()
        tok = self._float_token()
        p = tok.find("p")
        if p >= 0 and "x" not in tok and "X" not in tok:  # decimal mantissa with a binary exponent
            mantissa = parse_float(tok[:p])
            exp = _parse_int_base(tok[p + 1 :], 10)
            if exp is None:
                raise _num_error("Atoi", tok, "invalid syntax")
            return math.ldexp(mantissa, exp)
        return parse_float(tok)

    def _float_token(self) -> str:
        self.token = []
        if self.accept("nN") and self.accept("aA") and self.accept("nN"):
            return "".join(self.token)
        self.accept("+-")
        if self.accept("iI") and self.accept("nN") and self.accept("fF"):
            return "".join(self.token)
        digits, exp = _DEC + "_", "eEpP"
        if self.accept("0") and self.accept("xX"):
            digits, exp = _HEX + "_", "pP"
        while self.accept(digits):
            pass
        if self.accept("."):
            while self.accept(digits):
                pass
        if self.accept(exp):
            self.accept("+-")
            while self.accept(_DEC + "_"):
                pass
        return "".join(self.token)


_DEC = "0123456789"
_HEX = "0123456789aAbBcCdDeEfF"


def _parse_int_base(tok: str, base: int) -> int | None:
    """strconv.ParseInt digits check for base 2/8/10/16, or base 0 (prefixes, `_` separators); None = syntax."""
    sign = -1 if tok[:1] == "-" else 1
    body = tok[1:] if tok[:1] in "+-" else tok
    if base == 0:
        if not body or ("_" in body and not _underscore_ok(body)):
            return None
        body = body.replace("_", "")
        base = 10
        if body[:2].lower() in ("0b", "0o", "0x"):
            base = {"b": 2, "o": 8, "x": 16}[body[1].lower()]
            body = body[2:]
        elif body[:1] == "0" and len(body) > 1:
            base = 8
            body = body[1:]
    allowed = "0123456789abcdef"[:base]
    if not body or any(ch.lower() not in allowed for ch in body):
        return None
    return sign * int(body, base)


def _sscan(text: str, fmt: str, scan: str) -> float:
    s = _Scanner(text)
    i = 0
    processed = 0
    result: float = 0
    end = len(fmt) - 1
    while i <= end:
        w = s.advance(fmt, i)
        if w > 0:
            i += w
            continue
        if fmt[i] != "%":
            if w < 0:
                raise ValueError("input does not match format")
            break
        i += 1
        max_wid, wid_present, i = _parse_num(fmt, i, end)
        if i >= len(fmt):
            raise ValueError("missing verb: % at end of format string")
        c = fmt[i]
        i += 1
        if c != "c":
            s.skip_space()
        if c == "%":
            if s.peek_rune() != "%":
                raise ValueError("missing literal %")
            s.pos += 1
            continue
        if processed >= 1:
            raise ValueError(f"too few operands for format '%{fmt[i - 1 :]}'")
        s.limit = min(len(text), s.pos + max_wid) if wid_present else len(text)
        s.token = []
        result = s.scan_int(c) if scan == "int" else s.scan_float(c)
        s.limit = len(text)
        processed += 1
    if processed < 1:
        raise ValueError("too many operands")
    return result


def sscanf_int(text: str, fmt: str) -> int:
    """fmt.Sscanf(text, fmt, &int64): literal text must match, leading spaces skipped, trailing input ignored."""
    return int(_sscan(text, fmt, "int"))


def sscanf_float(text: str, fmt: str) -> float:
    """fmt.Sscanf(text, fmt, &float64): verbs %f %g %e %v (and %b %E %F %G); anything else is an error."""
    return float(_sscan(text, fmt, "float"))
