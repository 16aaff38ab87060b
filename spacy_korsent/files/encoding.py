"""Decode files as Korean offices write them: UTF-8 (with or without a BOM), UTF-16, CP949.

Excel saves "CSV (comma delimited)" in the Windows code page, which is CP949 (a superset of
EUC-KR) on Korean Windows, and "CSV UTF-8" with a byte order mark; "Unicode text" is UTF-16 with a
byte order mark. The encoding is found while streaming, without reading the whole file: a byte
order mark decides at once; otherwise lines are passed on as ASCII until the first line with other
bytes, and from there the first lines that tell UTF-8 and CP949 apart decide (usually that one
line, so a pipe is not held back; a broken file is sampled up to :data:`SAMPLE_BYTES`). An
encoding that is given (or that a UTF-8 byte order mark names) is checked on the same lines.
Anything that does not fit is an :class:`EncodingError` (an InputError to the reader), never a run
over U+FFFD.

After the decision, a line whose bytes do not decode has them replaced with U+FFFD and is reported
through ``warn`` with its line number: one broken line does not cost the file.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Callable

DETECTED = ("utf-8", "cp949")
"""The encodings told apart without a byte order mark."""

SAMPLE_BYTES = 1 << 16
"""Bytes of non-ASCII lines that decide between UTF-8 and CP949."""

AMBIGUOUS_BYTES = 32
"""Non-ASCII bytes after which text that decodes both as UTF-8 and CP949 is taken as UTF-8."""

TOLERATED_BAD_LINES = 0.1
"""Share of a sample's lines that may fail to decode (and be reported) in the chosen encoding."""

Report = Callable[[str], None]


class EncodingError(ValueError):
    """The bytes are none of the encodings this package reads; the message says what to do."""


def check_encoding(name: str) -> str:
    """The codec's canonical name; an :class:`EncodingError` for a name Python does not know."""
    try:
        return codecs.lookup(name).name
    except LookupError as err:
        raise EncodingError(
            f"--encoding {name!r} is not an encoding Python knows (try utf-8, cp949, utf-16)."
        ) from err


def decode_lines(
    chunks: Iterable[bytes],
    source: str,
    *,
    encoding: str | None = None,
    warn: Report | None = None,
    note: Report | None = None,
) -> Iterator[str]:
    """The text lines (line ends kept) of the byte ``chunks`` of a file, e.g. its binary lines.

    ``encoding`` overrides the detection; ``note`` hears which encoding was detected when it is
    not UTF-8. Raises :class:`EncodingError` for bytes that are none of the supported encodings.
    """
    chunks = iter(chunks)
    first = next(chunks, b"")
    if encoding is not None:
        codec = check_encoding(encoding)
    elif first.startswith(codecs.BOM_UTF8):
        codec = "utf-8"
    elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    else:
        codec = None
    if codec == "utf-8":  # a UTF-8 BOM is not part of the first line
        first = first.removeprefix(codecs.BOM_UTF8)
    lines = _prepend(first, chunks)
    if codec is not None and not _ascii_compatible(codec):
        yield from _incremental(lines, codec, source, warn)
    else:
        yield from _checked_lines(lines, source, (codec,) if codec else DETECTED, warn, note)


def _checked_lines(
    lines: Iterator[bytes],
    source: str,
    candidates: tuple[str, ...],
    warn: Report | None,
    note: Report | None,
) -> Iterator[str]:
    """Pass ASCII lines on; from the first line with other bytes, decide (or check) the encoding.

    The decision is made as soon as the lines seen tell the ``candidates`` apart or show that the
    one given fits (for ordinary files, on the first such line), so a pipe is not held back.
    """
    numbered = enumerate(lines, start=1)
    for number, raw in numbered:
        if raw.isascii() and b"\x00" not in raw:
            yield raw.decode("ascii")
            continue
        sample = [(number, raw)]
        codec = _choose(sample, source, candidates, final=False)
        while codec is None:
            item = next(numbered, None)
            if item is not None:
                sample.append(item)
            final = item is None or sum(len(raw) for _, raw in sample) >= SAMPLE_BYTES
            codec = _choose(sample, source, candidates, final=final)
        if len(candidates) > 1 and codec != "utf-8" and note is not None:
            note(f"{source}: read as {codec.upper()} (EUC-KR); --encoding overrides this.")
        yield from _by_line(_prepend_all(sample, numbered), codec, source, warn)
        return


def _choose(
    sample: list[tuple[int, bytes]], source: str, candidates: tuple[str, ...], *, final: bool
) -> str | None:
    """The candidate that decodes the sample cleanly (nearly, when ``final``); None while the
    sample cannot tell yet. Among UTF-8 and CP949, CP949 must also give mostly Hangul. NUL bytes
    mean UTF-16 without a byte order mark. Anything else is an EncodingError.
    """
    joined = b"".join(raw for _, raw in sample)
    if joined.count(0) > len(joined) // 10:
        raise EncodingError(
            f"{source}:{sample[0][0]}: the file holds NUL bytes: UTF-16 without a byte order mark? "
            "Name the encoding with --encoding utf-16-le (or utf-16-be), or save it as UTF-8."
        )
    detecting = len(candidates) > 1
    bad = {
        codec: [n for n, raw in sample if not _decodes(raw, codec)]
        for codec in candidates
        if not (detecting and codec == "cp949") or _looks_korean(joined.decode("cp949", "replace"))
    }
    clean = [codec for codec, lines in bad.items() if not lines]
    if len(clean) == 1:
        return clean[0]  # it decodes (and the other does not, or gives no Korean)
    other_bytes = sum(not byte < 128 for byte in joined)
    if len(clean) == 2 and (other_bytes >= AMBIGUOUS_BYTES or final):
        return "utf-8"  # a few syllables can be valid in both; more cannot
    if not final:
        return None
    best = min(bad, key=lambda codec: len(bad[codec]))
    if len(bad[best]) <= TOLERATED_BAD_LINES * len(sample):
        return best
    first_bad = min(min(lines) for lines in bad.values())
    if detecting:
        raise EncodingError(
            f"{source}:{first_bad}: the file is neither UTF-8, UTF-16 with a byte order mark, "
            "nor CP949/EUC-KR. Save it as UTF-8, or name its encoding with --encoding."
        )
    raise EncodingError(
        f"{source}:{first_bad}: the file is not {best.upper()}; name its encoding with --encoding "
        "(Korean files are usually UTF-8 or CP949)."
    )


def _looks_korean(text: str) -> bool:
    """True when most non-ASCII characters are Hangul, as in a real CP949 file.

    Other double-byte encodings (Shift-JIS, GBK) often decode as CP949 without an error, but
    into rare syllables and hanja: the share of common Hangul (those in EUC-KR) tells them apart.
    """
    other = [char for char in text if not char.isascii()]
    hangul = sum(1 for char in other if _is_common_hangul(char))
    return hangul * 2 >= len(other)


def _is_common_hangul(char: str) -> bool:
    """A Hangul syllable or letter of KS X 1001, the 2,350 syllables ordinary text uses."""
    try:
        code = char.encode("cp949")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and (0xB0 <= code[0] <= 0xC8 or code[0] == 0xA4) and code[1] >= 0xA1


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _by_line(
    numbered: Iterable[tuple[int, bytes]], codec: str, source: str, warn: Report | None
) -> Iterator[str]:
    """Decode line by line; a line that does not decode gets U+FFFD and a warning."""
    for number, raw in numbered:
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError:
            if warn is not None:
                warn(_replaced(source, number, codec))
            yield raw.decode(codec, "replace")


def _incremental(
    chunks: Iterable[bytes], codec: str, source: str, warn: Report | None
) -> Iterator[str]:
    """Decode an encoding whose line ends are not single bytes (UTF-16, UTF-32) as a stream."""
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    pending = ""
    number = 0
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            number += 1
            yield _checked(line + "\n", number, codec, source, warn)
    pending += decoder.decode(b"", final=True)
    if pending:
        yield _checked(pending, number + 1, codec, source, warn)


def _checked(line: str, number: int, codec: str, source: str, warn: Report | None) -> str:
    if number == 1:
        line = line.removeprefix("\ufeff")
    if "\ufffd" in line and warn is not None:
        warn(_replaced(source, number, codec))
    return line


def _replaced(source: str, number: int, codec: str) -> str:
    return f"{source}:{number}: bytes that are not {codec.upper()} were replaced with U+FFFD."


def _ascii_compatible(codec: str) -> bool:
    """Whether every newline byte is a line end (so the file can be split into binary lines)."""
    return "\n".encode(codec) == b"\n"


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _prepend_all(items: list[tuple[int, bytes]], rest: Iterator[tuple[int, bytes]]) -> Iterator:
    yield from items
    yield from rest
