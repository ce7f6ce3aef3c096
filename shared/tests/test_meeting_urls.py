import pytest

from mb_shared.contracts.bot import Platform
from mb_shared.meeting_urls import InvalidMeetingUrl, parse_meeting_url


@pytest.mark.parametrize(
    ("raw", "platform", "canonical"),
    [
        ("https://meet.google.com/abc-defg-hij", Platform.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij"),
        ("meet.google.com/abc-defg-hij?authuser=1", Platform.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij?authuser=1"),
        ("https://www.google.com/url?q=https://meet.google.com/abc-defg-hij&sa=D", Platform.GOOGLE_MEET, "https://meet.google.com/abc-defg-hij"),
        ("https://teams.live.com/meet/9876543210123?p=abc", Platform.MICROSOFT_TEAMS, "https://teams.live.com/meet/9876543210123?p=abc"),
        ("https://us02web.zoom.us/j/12345678901?pwd=xyz", Platform.ZOOM, "https://us02web.zoom.us/j/12345678901?pwd=xyz"),
    ],
)
def test_meeting_urls_are_recognised(raw, platform, canonical):
    parsed = parse_meeting_url(raw)
    assert (parsed.platform, parsed.url) == (platform, canonical)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "https://example.com/abc-defg-hij",
        "https://meet.google.com/",
        "https://meet.google.com/ABC-DEFG-HIJ",
        "https://meet.google.com.evil.com/abc-defg-hij",
        "https://zoom.us.evil.com/j/12345678901",
        "ftp://meet.google.com/abc-defg-hij",
        "not a url",
    ],
)
def test_near_misses_are_refused(raw):
    with pytest.raises(InvalidMeetingUrl):
        parse_meeting_url(raw)
