"""Tokenizer for Go expression text, following the Go spec's lexical rules closely enough that every Go token is
recognised (so unsupported syntax is reported precisely instead of being mis-tokenised).

Like Go's scanner it inserts an implicit `;` at a newline that follows an identifier, literal or closing bracket;
`go/parser.ParseExpr` accepts one such trailing newline and rejects any other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from capillaries_provider.expr.errors import ExprSyntaxError


class Tok(enum.Enum):
    """Token classes."""

    IDENT = "identifier"
    KEYWORD = "keyword"
    INT = "INT"
    FLOAT = "FLOAT"
    IMAG = "IMAG"
    CHAR = "CHAR"
    STRING = "STRING"
    OP = "operator"
    NEWLINE = "newline"
    EOF = "EOF"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: class, exact source text and 0-based start offset."""

    kind: Tok
    text: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.text)

    def describe(self) -> str:
        """How Go's parser names the token in messages."""
        if self.kind is Tok.EOF:
            return "EOF"
        if self.kind is Tok.NEWLINE:
            return "newline"
        if self.kind in (Tok.OP, Tok.KEYWORD):
            return f"'{self.text}'"
        return f"{self.kind.value} {self.text}"


KEYWORDS = frozenset(
    [
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ]
)

# Longest first so that maximal munch works with a simple prefix scan.
_OPERATORS = sorted(
    [
        "+",
        "-",
        "*",
        "/",
        "%",
        "&",
        "|",
        "^",
        "<<",
        ">>",
        "&^",
        "+=",
        "-=",
        "*=",
        "/=",
        "%=",
        "&=",
        "|=",
        "^=",
        "<<=",
        ">>=",
        "&^=",
        "&&",
        "||",
        "<-",
        "++",
        "--",
        "==",
        "<",
        ">",
        "=",
        "!",
        "~",
        "!=",
        "<=",
        ">=",
        ":=",
        "...",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ".",
        ":",
    ],
    key=len,
    reverse=True,
)

_ESCAPES = frozenset("abfnrtv\\'\"")


def _is_letter(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _is_digit_of(ch: str, base: int) -> bool:
    if base == 16:
        return ch in "0123456789abcdefABCDEF"
    return "0" <= ch <= "9"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0

    def error(self, message: str, pos: int) -> ExprSyntaxError:
        return ExprSyntaxError(message, self.text, pos)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text, n = self.text, self.n
        while True:
            newline_at = self._skip_space_and_comments()
            if newline_at >= 0 and out and _needs_semicolon(out[-1]):
                out.append(Token(Tok.NEWLINE, "\n", newline_at))
            if self.i >= n:
                out.append(Token(Tok.EOF, "", n))
                return out
            start = self.i
            ch = text[start]
            if _is_letter(ch):
                j = start + 1
                while j < n and (_is_letter(text[j]) or text[j].isdecimal()):
                    j += 1
                word = text[start:j]
                out.append(Token(Tok.KEYWORD if word in KEYWORDS else Tok.IDENT, word, start))
                self.i = j
            elif "0" <= ch <= "9" or (ch == "." and start + 1 < n and "0" <= text[start + 1] <= "9"):
                out.append(self._number())
            elif ch == '"':
                out.append(self._string())
            elif ch == "`":
                out.append(self._raw_string())
            elif ch == "'":
                out.append(self._char())
            else:
                for op in _OPERATORS:
                    if text.startswith(op, start):
                        out.append(Token(Tok.OP, op, start))
                        self.i = start + len(op)
                        break
                else:
                    raise self.error(f"invalid character {ch!r}", start)

    def _skip_space_and_comments(self) -> int:
        """Advance over blanks and comments; return the offset of the first newline crossed, or -1."""
        text, n = self.text, self.n
        newline_at = -1
        while self.i < n:
            ch = text[self.i]
            if ch == "\n":
                if newline_at < 0:
                    newline_at = self.i
                self.i += 1
            elif ch in " \t\r":
                self.i += 1
            elif text.startswith("//", self.i):
                end = text.find("\n", self.i)
                self.i = n if end < 0 else end
            elif text.startswith("/*", self.i):
                end = text.find("*/", self.i + 2)
                if end < 0:
                    raise self.error("comment not terminated", self.i)
                if newline_at < 0 and "\n" in text[self.i : end]:
                    newline_at = self.i
                self.i = end + 2
            else:
                break
        return newline_at

    def _digits(self, base: int) -> None:
        """Consume digits (of `base`, at least decimal so Go's 'invalid digit' errors can be reported) and '_'."""
        text, n = self.text, self.n
        while self.i < n and (_is_digit_of(text[self.i], base) or text[self.i] == "_"):
            self.i += 1

    def _number(self) -> Token:
        text, n = self.text, self.n
        start = self.i
        kind = Tok.INT
        base = 10
        if text[start] == "0" and start + 1 < n and text[start + 1] in "xXbBoO":
            base = {"x": 16, "b": 2, "o": 8}[text[start + 1].lower()]
            self.i = start + 2
            self._digits(16 if base == 16 else 10)
        else:
            self._digits(10)
        if self.i < n and text[self.i] == "." and base in (10, 16):
            kind = Tok.FLOAT
            self.i += 1
            self._digits(base)
        if self.i < n and text[self.i] in ("pP" if base == 16 else "eE") and base in (10, 16):
            kind = Tok.FLOAT
            self.i += 1
            if self.i < n and text[self.i] in "+-":
                self.i += 1
            exp_start = self.i
            self._digits(10)
            if self.i == exp_start:
                raise self.error("exponent has no digits", start)
        elif kind is Tok.FLOAT and base == 16:
            raise self.error("hexadecimal mantissa requires a 'p' exponent", start)
        if self.i < n and text[self.i] == "i":
            kind = Tok.IMAG
            self.i += 1
        lit = text[start : self.i]
        self._validate_number(lit, kind, base, start)
        return Token(kind, lit, start)

    def _validate_number(self, lit: str, kind: Tok, base: int, start: int) -> None:
        body = lit[2:] if base != 10 else lit
        digit_base = 16 if base == 16 else 10
        for k, ch in enumerate(lit):
            if ch != "_":
                continue
            before_ok = (k == 2 and base != 10) or (k > 0 and _is_digit_of(lit[k - 1], digit_base))
            after_ok = k + 1 < len(lit) and _is_digit_of(lit[k + 1], digit_base)
            if not (before_ok and after_ok):
                raise self.error("'_' must separate successive digits", start)
        if base in (2, 8):
            digits = body.rstrip("i").replace("_", "")
            if not digits:
                raise self.error(f"{'binary' if base == 2 else 'octal'} literal has no digits", start)
            bad = next((c for c in digits if int(c) >= base), None)
            if bad is not None:
                raise self.error(f"invalid digit '{bad}' in {'binary' if base == 2 else 'octal'} literal", start)
        elif base == 16 and not body.rstrip("i").replace("_", "").split(".")[0] and "." not in body:
            raise self.error("hexadecimal literal has no digits", start)
        elif base == 10 and kind is Tok.INT and len(lit) > 1 and lit[0] == "0":
            bad = next((c for c in lit.replace("_", "") if c in "89"), None)
            if bad is not None:
                raise self.error(f"invalid digit '{bad}' in octal literal", start)

    def _string(self) -> Token:
        text, n = self.text, self.n
        start = self.i
        j = start + 1
        while True:
            if j >= n or text[j] == "\n":
                raise self.error("string literal not terminated", start)
            ch = text[j]
            if ch == '"':
                break
            if ch == "\\":
                j = self._escape(j, '"')
            else:
                j += 1
        self.i = j + 1
        return Token(Tok.STRING, text[start : self.i], start)

    def _escape(self, j: int, quote: str) -> int:
        """Validate the escape sequence at `j` (the backslash) like Go's scanner; return the offset after it."""
        text, n = self.text, self.n
        if j + 1 >= n:
            raise self.error("escape sequence not terminated", j)
        ch = text[j + 1]
        if ch in _ESCAPES:
            if ch in "'\"" and ch != quote:
                raise self.error("unknown escape sequence", j)
            return j + 2
        spec = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}.get(ch)
        if spec is None and "0" <= ch <= "7":
            spec = (3, 8)
            k = j + 1
        else:
            k = j + 2
        if spec is None:
            raise self.error("unknown escape sequence", j)
        count, base = spec
        digits = text[k : k + count]
        if len(digits) < count or not all(_is_digit_of(c, base) and (base != 8 or c <= "7") for c in digits):
            raise self.error("illegal character in escape sequence", j)
        value = int(digits, base)
        if (base == 8 and value > 255) or value > 0x10FFFF or 0xD800 <= value < 0xE000 and ch in "uU":
            raise self.error("escape sequence is invalid Unicode code point", j)
        return k + count

    def _raw_string(self) -> Token:
        start = self.i
        end = self.text.find("`", start + 1)
        if end < 0:
            raise self.error("raw string literal not terminated", start)
        self.i = end + 1
        return Token(Tok.STRING, self.text[start : self.i], start)

    def _char(self) -> Token:
        text, n = self.text, self.n
        start = self.i
        j = start + 1
        while j < n and text[j] not in "'\n":
            j = j + 2 if text[j] == "\\" else j + 1
        if j >= n or text[j] != "'":
            raise self.error("rune literal not terminated", start)
        self.i = j + 1
        return Token(Tok.CHAR, text[start : self.i], start)


def _needs_semicolon(tok: Token) -> bool:
    if tok.kind in (Tok.IDENT, Tok.INT, Tok.FLOAT, Tok.IMAG, Tok.CHAR, Tok.STRING):
        return True
    if tok.kind is Tok.KEYWORD:
        return tok.text in ("break", "continue", "fallthrough", "return")
    return tok.kind is Tok.OP and tok.text in (")", "]", "}", "++", "--")


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with an EOF token; lexical errors raise ExprSyntaxError with the position."""
    return _Scanner(text).tokens()
