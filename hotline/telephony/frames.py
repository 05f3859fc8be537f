"""AMI wire framing: bytes in, frames out. The one rule: never lose or corrupt a frame.

A frame is the block of `Key: Value` lines Asterisk ends with an empty line. The reader
decodes UTF-8 incrementally, so a Chinese caller name split across two TCP reads stays
whole (panoramisk 1.4 decodes each read on its own and drops the split character). A
header may repeat (`ChanVariable`, `Variable`); all values are kept in order. Two events
glued together by a single CRLF (seen in the wild) are split at the second `Event:` line.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

BANNER_PREFIX = "Asterisk Call Manager/"


@dataclass(frozen=True, slots=True)
class Frame:
    headers: tuple[tuple[str, str], ...]
    body: str = ""  # free text of a `Response: Follows` (old `Command` output)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of a header, compared without case."""
        wanted = key.lower()
        for k, v in self.headers:
            if k.lower() == wanted:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.headers if k.lower() == wanted]

    def as_dict(self) -> dict[str, str]:
        """First value per header, keys as sent."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


def parse_block(block: str) -> list[Frame]:
    """Parse one blank-line-delimited block into frames (usually one)."""
    headers: list[tuple[str, str]] = []
    body: list[str] = []
    frames: list[Frame] = []
    for raw in block.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            body.append(line)  # free text, e.g. the output of an old `Command`
            continue
        key = key.strip()
        value = value[1:] if value.startswith(" ") else value
        if key.lower() == "event" and any(k.lower() == "event" for k, _ in headers):
            frames.append(Frame(tuple(headers), "\n".join(body)))
            headers, body = [], []
        headers.append((key, value))
    if headers or body:
        frames.append(Frame(tuple(headers), "\n".join(body)))
    return frames


class FrameReader:
    """Feed it bytes as they arrive; it returns the complete frames so far."""

    def __init__(self, encoding: str = "utf-8", max_frame_chars: int = 1_000_000) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._buffer = ""
        self._scanned = 0  # the buffer before this holds no frame end
        self.max_frame_chars = max_frame_chars
        self.oversized = 0  # frames thrown away for never ending
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += self._decoder.decode(data)
        if self.banner is None:
            arriving = BANNER_PREFIX.startswith(self._buffer[: len(BANNER_PREFIX)])
            if arriving and "\n" not in self._buffer:
                return []  # the banner line is still arriving
            if self._buffer.startswith(BANNER_PREFIX):
                line, _, self._buffer = self._buffer.partition("\n")
                self.banner = line.rstrip("\r")
            else:
                self.banner = ""
        frames: list[Frame] = []
        for block in self._blocks():
            frames.extend(parse_block(block))
        return frames

    def _blocks(self) -> Iterator[str]:
        buf = self._buffer
        start = 0
        end = buf.find("\r\n\r\n", max(0, self._scanned - 3))
        while end >= 0:
            yield buf[start:end]
            start = end + 4
            end = buf.find("\r\n\r\n", start)
        self._buffer = buf[start:]
        self._scanned = len(self._buffer)
        if self._scanned > self.max_frame_chars:  # a frame that never ends: drop, don't grow
            self.oversized += 1
            self._buffer, self._scanned = "", 0


def read_stream(data: bytes) -> tuple[str, list[Frame]]:
    """Parse a whole captured stream (banner + frames), e.g. a recorded `.raw` file."""
    reader = FrameReader()
    frames = reader.feed(data)
    tail = reader._buffer.strip()
    if tail:
        frames.extend(parse_block(tail))
    return reader.banner or "", frames
