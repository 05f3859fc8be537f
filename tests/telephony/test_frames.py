"""AMI framing: bytes in, frames out, never losing or corrupting a frame."""

from __future__ import annotations

import hashlib

import pytest

from hotline.telephony.frames import Frame, FrameReader, parse_block, read_stream
from tests.telephony.traces import RELOAD, SHAPES, TRACES

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def test_shapes_capture_is_the_published_one() -> None:
    data = (TRACES / f"{SHAPES}.raw").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "ef64b1de9499ea730144f05ed1a314a2e36e80d68627ce41f4dde70aa2faf5d1"
    )
    banner, frames = read_stream(data)
    assert banner == "Asterisk Call Manager/11.0.0"
    assert len(frames) == 711
    assert frames[15].event == "Newchannel" and frames[15].get("CallerIDNum") == "5550001"


def test_reload_capture_frame_count() -> None:
    _, frames = read_stream((TRACES / f"{RELOAD}.raw").read_bytes())
    assert len(frames) == 360
    assert frames[12].get("timestamp") == "1790633833.357626"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1500])
def test_any_chunking_gives_the_same_frames(chunk: int) -> None:
    data = (TRACES / f"{SHAPES}.raw").read_bytes()
    _, whole = read_stream(data)
    reader = FrameReader()
    frames: list[Frame] = []
    for i in range(0, len(data), chunk):
        frames += reader.feed(data[i : i + chunk])
    assert reader.banner == "Asterisk Call Manager/11.0.0"
    assert frames == whole


def test_chinese_name_split_across_reads_stays_whole() -> None:
    data = BANNER + "Event: Newchannel\r\nCallerIDName: 张三丰\r\n\r\n".encode()
    cut = data.index("张".encode()) + 1  # inside the first character's three bytes
    reader = FrameReader()
    assert reader.feed(data[:cut]) == []
    (frame,) = reader.feed(data[cut:])
    assert frame.get("CallerIDName") == "张三丰"


def test_banner_arriving_in_pieces() -> None:
    reader = FrameReader()
    assert reader.feed(b"Asterisk Call") == []
    assert reader.banner is None
    assert reader.feed(b" Manager/6.0.0\r\nEvent: X\r\n\r\n") == [Frame((("Event", "X"),))]
    assert reader.banner == "Asterisk Call Manager/6.0.0"


def test_stream_without_banner() -> None:
    reader = FrameReader()
    assert reader.feed(b"Event: X\r\nA: 1\r\n\r\n") == [Frame((("Event", "X"), ("A", "1")))]
    assert reader.banner == ""


def test_headers_case_insensitive_repeated_and_in_order() -> None:
    (frame,) = parse_block(
        "Event: Newchannel\r\nChanVariable: a=1\r\nchanvariable: b=2\r\nLinkedid: 1.0\r\n"
    )
    assert frame.get("LINKEDID") == "1.0"
    assert frame.get("missing") is None and frame.get("missing", "d") == "d"
    assert frame.get_all("ChanVariable") == ["a=1", "b=2"]
    assert frame.as_dict()["ChanVariable"] == "a=1"  # first value, key as sent
    assert frame.event == "Newchannel"


def test_values_keep_colons_and_empty_values() -> None:
    (frame,) = parse_block("Event: X\r\nAppData: a:b: c\r\nAccountCode: \r\nEmpty:\r\n")
    assert frame.get("AppData") == "a:b: c"
    assert frame.get("AccountCode") == "" and frame.get("Empty") == ""


def test_glued_events_are_split() -> None:
    frames = parse_block("Event: A\r\nX: 1\r\nEvent: B\r\nX: 2")
    assert [f.event for f in frames] == ["A", "B"]
    assert [f.get("X") for f in frames] == ["1", "2"]


def test_goami2_glued_frames() -> None:
    _, frames = read_stream((TRACES / "goami2" / "call.ami").read_bytes())
    assert len(frames) == 51  # 49 blocks, two of them two events glued by one CRLF
    assert [frames[i].event for i in (28, 29)] == ["Newexten", "DialEnd"]
    assert frames[29].get("DialStatus") == "ANSWER"
    assert frames[28].get_all("ChanVariable")[0] == "realm=okon.ferry.sip.com"
    assert all(f.event for f in frames)


def test_follows_response_keeps_its_text_body() -> None:
    (frame,) = parse_block(
        "Response: Follows\r\nActionID: 1\r\nAsterisk 18.0.0 built by me\r\n--END COMMAND--"
    )
    assert frame.action_id == "1"
    assert frame.body == "Asterisk 18.0.0 built by me\n--END COMMAND--"


def test_tail_without_final_blank_line_is_kept() -> None:
    banner, frames = read_stream(BANNER + b"Event: A\r\n\r\nEvent: B\r\nX: 1")
    assert banner.startswith("Asterisk")
    assert [f.event for f in frames] == ["A", "B"]


def test_extra_blank_lines_between_frames() -> None:
    _, frames = read_stream(BANNER + b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\n")
    assert [f.event for f in frames] == ["A", "B"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    _, frames = read_stream(BANNER + b"Event: A\r\nCallerIDName: \xff\xfe\r\n\r\n")
    assert frames[0].get("CallerIDName") == "\ufffd\ufffd"


def test_events_nobody_uses_are_dropped_unparsed_but_answers_to_actions_are_kept() -> None:
    reader = FrameReader(only_events=frozenset({"hangup"}))
    frames = reader.feed(
        BANNER
        + b"Event: DeviceStateChange\r\nDevice: PJSIP/1001\r\n\r\n"
        + b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n"
        + b"Event: QueueEntry\r\nActionID: resync-2\r\nQueue: q\r\n\r\n"
        + b"Response: Success\r\nActionID: 7\r\n\r\n"
        + b"Event: HANGUP\nUniqueid: 1.2\r\n\r\n"
    )
    assert [(f.event, f.get("Uniqueid")) for f in frames] == [
        ("Hangup", "1.1"),
        ("QueueEntry", None),
        (None, None),
        ("HANGUP", "1.2"),
    ]
    assert reader.dropped == 1


def test_a_frame_that_never_ends_is_dropped_instead_of_filling_memory() -> None:
    reader = FrameReader(max_frame_chars=1000)
    reader.feed(BANNER + b"Event: Huge\r\nData: " + b"x" * 2000)
    assert reader.oversized == 1
    assert [f.event for f in reader.feed(b"\r\n\r\nEvent: Next\r\n\r\n")] == ["Next"]
