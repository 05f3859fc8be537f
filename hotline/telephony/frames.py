"""AMI wire framing: bytes in, frames out. The one rule: never lose or corrupt a frame.

A frame is the block of `Key: Value` lines Asterisk ends with an empty line. The reader
decodes UTF-8 incrementally, so a Chinese caller name split across two TCP reads stays
whole (panoramisk 1.4 decodes each read on its own and drops the split character). A
header may repeat (`ChanVariable`, `Variable`); all values are kept in order. Two events
glued together by a single CRLF (seen in the wild) are split at the second `Event:` line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

BANNER_PREFIX = "Asterisk Call Manager/"


@dataclass(frozen=True, slots=True)
class Frame:
    headers: tuple[tuple[str, str], ...]
    body: str = ""  # free text of a `Response: Follows` (old `Command` output)
    # first value per lower-cased header name; built once, so lookups cost a dict hit
    index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.index and self.headers:
            for k, v in self.headers:
                self.index.setdefault(k.lower(), v)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of a header, compared without case."""
        return self.index.get(key.lower(), default)

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
        return self.index.get("event")

    @property
    def action_id(self) -> str | None:
        return self.index.get("actionid")


_HEADER = re.compile(r"^([^\r\n: ]+): ?([^\r\n]*)\r?$", re.MULTILINE)


def parse_block(block: str) -> list[Frame]:
    """Parse one blank-line-delimited block into frames (usually one)."""
    if block.count("Event:") < 2:
        # the common case, in C: every line a `Key: value`, one event
        pairs = _HEADER.findall(block)
        if pairs and len(pairs) == block.count("\n") + 1:
            index: dict[str, str] = {}
            for key, value in pairs:
                index.setdefault(key.lower(), value)
            return [Frame(tuple(pairs), "", index)]
    return _parse_block_slowly(block)


def _parse_block_slowly(block: str) -> list[Frame]:
    headers: list[tuple[str, str]] = []
    index: dict[str, str] = {}
    body: list[str] = []
    frames: list[Frame] = []
    for line in block.split("\n"):
        if line[-1:] == "\r":
            line = line[:-1]
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            body.append(line)  # free text, e.g. the output of an old `Command`
            continue
        lower = key.lower()
        if lower == "event" and "event" in index:  # two events glued by a single CRLF
            frames.append(Frame(tuple(headers), "\n".join(body), index))
            headers, index, body = [], {}, []
        if key[-1] == " " or key[0] == " ":
            key, lower = key.strip(), lower.strip()
        if value[:1] == " ":
            value = value[1:]
        headers.append((key, value))
        if lower not in index:
            index[lower] = value
    if headers or body:
        frames.append(Frame(tuple(headers), "\n".join(body), index))
    return frames


class FrameReader:
    """Feed it bytes as they arrive; it returns the complete frames so far."""

    def __init__(
        self,
        encoding: str = "utf-8",
        max_frame_chars: int = 1_000_000,
        only_events: frozenset[str] | None = None,
    ) -> None:
        # `only_events` (lower-case names): other unsolicited events are dropped unparsed;
        # responses and events answering an action (with an ActionID) are always kept
        self.only_events = only_events
        self.dropped = 0
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
        only = self.only_events
        for block in self._blocks():
            if only is not None and block.startswith("Event: ") and block.count("Event:") == 1:
                end = block.find("\n", 7)
                name = block[7 : end if end > 0 else None].rstrip("\r ").lower()
                if name not in only and "ActionID:" not in block:
                    self.dropped += 1
                    continue
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
