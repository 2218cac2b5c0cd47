"""Text from a file's bytes: UTF-8 first, legacy encodings found by charset detection, binary refused."""

from __future__ import annotations

import codecs

import charset_normalizer

# Legacy 8-bit text is read as Windows-1252 (what browsers assume for Western pages) unless charset detection finds
# another reading clearly better: less messy by more than this share of odd characters, or the text's language is
# one 1252 cannot write (Czech, Turkish, Russian, ...); charset_normalizer names languages as below.
_WESTERN = "cp1252"
_MESS_SLACK = 0.1
_WESTERN_LANGUAGES = {
    "Danish", "Dutch", "English", "Estonian", "Finnish", "French", "German", "Indonesian", "Italian", "Norwegian",
    "Portuguese", "Spanish", "Swedish", "Unknown",
}

# UTF-32's little-endian BOM starts with UTF-16's, so it is tried first.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def _western_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode the odd bytes of mostly-UTF-8 text as Windows-1252 (a pasted curly quote) instead of failing."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode(_WESTERN, errors="replace"), error.end


codecs.register_error("qa-western-fallback", _western_fallback)


def decode(data: bytes) -> str | None:
    """Text from a file's bytes: UTF-8, else the encoding charset detection finds; None for binary data."""
    wide = next((codec for bom, codec in _WIDE_BOMS if data.startswith(bom)), None)
    if wide is not None:
        try:
            return data.decode(wide)
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None  # only UTF-16 and UTF-32 text holds NUL bytes, and without a BOM those are guesswork
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    loose = data.decode("utf-8", errors="replace")
    odd = loose.count("\ufffd")
    if len(loose) - len(loose.encode("ascii", errors="ignore")) - odd > odd:
        # Mostly valid multi-byte UTF-8: a few stray bytes pasted in from elsewhere, not another encoding.
        return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="qa-western-fallback")
    # 16 samples of 4 KB judge a news story (under 64 KB) whole: the default 5 x 512 bytes read the BBC corpus's one
    # latin-1 file (a pound sign among 2,600 ASCII bytes) as Japanese.
    found = charset_normalizer.from_bytes(data, steps=16, chunk_size=4096).best()
    if found is None:
        return None
    western = charset_normalizer.from_bytes(data, steps=16, chunk_size=4096, cp_isolation=[_WESTERN]).best()
    # Short English text gives detection little to go on (it picked DOS code pages for curly quotes and Central
    # European ones for a pound sign), so the common Western reading wins unless it is clearly worse.
    plausible = western is not None and western.chaos <= found.chaos + _MESS_SLACK
    if plausible and western.language.rstrip("\u2014") in _WESTERN_LANGUAGES:
        return str(western)
    return str(found)
