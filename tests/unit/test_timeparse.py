"""Typed playback positions (the `g` key): forms, ranges, one-line errors."""

from __future__ import annotations

import pytest

from progdemix_tui.formatting import fmt_time
from progdemix_tui.tui.timeparse import PositionError, parse_position

LONG = 4 * 3600.0


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0),
    ("7", 7.0),
    ("83", 83.0),  # plain seconds may exceed 59
    ("83.5", 83.5),
    (".5", 0.5),
    ("5.", 5.0),
    ("1:23", 83.0),
    ("1:05", 65.0),
    ("1:5", 65.0),
    ("0:59.9", 59.9),
    ("12:00", 720.0),
    ("75:00", 4500.0),  # minutes may exceed 59 without hours
    ("1:23.25", 83.25),
    ("1:02:03", 3723.0),
    ("1:02:03.5", 3723.5),
    ("0:00:00", 0.0),
    ("  1:23 ", 83.0),
    ("50%", LONG / 2),
    ("12.5 %", LONG / 8),
    ("0%", 0.0),
    ("100%", LONG),
])
def test_valid_positions(text, seconds):
    assert parse_position(text, LONG) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "says"), [
    ("", "type a position"),
    ("   ", "type a position"),
    ("abc", "'abc' is not a position"),
    ("1::2", "is not a position"),
    ("1:2:3:4", "is not a position"),
    (":30", "is not a position"),
    ("1:", "is not a position"),
    ("1,5", "is not a position"),
    ("1e3", "is not a position"),
    ("nan", "is not a position"),
    ("inf", "is not a position"),
    ("50%%", "is not a position"),
    ("%50", "is not a position"),
    ("1 : 20", "is not a position"),
    ("١٢", "is not a position"),  # non-ASCII digits
    ("-5", "absolute position"),
    ("+5", "absolute position"),
    ("-5%", "absolute position"),
    ("1:60", "seconds must be below 60"),
    ("1:59.99:00", "is not a position"),
    ("0:60.0", "seconds must be below 60"),
    ("1:60:00", "minutes must be below 60"),
    ("1:00:60", "seconds must be below 60"),
    # a paste gone wrong: int() refuses more than 4300 digits
    pytest.param("1" * 5000 + ":00", "is not a position", id="5000-digit-minutes"),
    pytest.param("1" * 5000 + ":00:00", "is not a position", id="5000-digit-hours"),
])
def test_invalid_positions(text, says):
    with pytest.raises(PositionError, match=says) as info:
        parse_position(text, LONG)
    assert "\n" not in str(info.value)


def test_past_the_end():
    with pytest.raises(PositionError, match=r"^position 4:10 is past the end \(3:12\)$"):
        parse_position("4:10", 192.0)
    with pytest.raises(PositionError, match=r"past the end \(100%\)"):
        parse_position("100.5%", 192.0)
    with pytest.raises(PositionError, match=r"past the end \(0:02\)"):
        parse_position("2.1", 2.0)


def test_the_end_as_displayed_is_accepted_and_clamped():
    # a 192.27 s clip shows as 3:12.3: typing that goes to the very end
    assert fmt_time(192.27, trim=True) == "3:12.3"
    assert parse_position("3:12.3", 192.27) == 192.27
    assert parse_position("192.27", 192.27) == 192.27


def test_without_a_length():
    assert parse_position("99:00") == 5940.0  # no range check
    with pytest.raises(PositionError, match="percentage needs a loaded length"):
        parse_position("50%")


def test_long_input_is_cut_to_one_line():
    with pytest.raises(PositionError) as info:
        parse_position("x" * 500, LONG)
    assert len(str(info.value)) <= 60  # the go-to screen's line
    with pytest.raises(PositionError) as info:
        parse_position("9" * 300, LONG)
    assert len(str(info.value)) <= 60 and "past the end" in str(info.value)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0:00"), (1.5, "0:01.5"), (59.96, "1:00"), (192.0, "3:12"), (3723.0, "1:02:03"),
    (-1.0, "0:00"),
])
def test_format_time(seconds, text):
    assert fmt_time(seconds, trim=True) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-:--.-"), (0.0, "0:00.0"), (10.0, "0:10.0"), (83.5, "1:23.5"), (59.96, "1:00.0"),
    (3700.0, "61:40.0"), (-1.0, "0:00.0"),
])
def test_format_time_in_the_player_bar(seconds, text):
    assert fmt_time(seconds) == text  # fixed tenths, minutes past 59: the bar keeps its width


def test_format_time_round_trips():
    for seconds in (0.0, 0.1, 9.9, 61.2, 599.9, 3600.0, 3723.4):
        assert parse_position(fmt_time(seconds, trim=True)) == pytest.approx(seconds)
