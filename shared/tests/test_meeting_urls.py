import base64
import json
from urllib.parse import quote

import pytest

from mb_shared.contracts.bot import Platform
from mb_shared.meeting_urls import InvalidMeetingUrl, parse_meeting_url

MEET, TEAMS, ZOOM = Platform.GOOGLE_MEET, Platform.MICROSOFT_TEAMS, Platform.ZOOM

THREAD = "19:meeting_NjQ5ZjY4ZTEtYzU4Ni00ZDk0LWI3YTItODJhYjQ2ZmQ2NzQ3@thread.v2"
THREAD_ENC = "19%3ameeting_NjQ5ZjY4ZTEtYzU4Ni00ZDk0LWI3YTItODJhYjQ2ZmQ2NzQ3%40thread.v2"
TENANT, ORGANIZER = "72f988bf-86f1-41af-91ab-2d7cd011db47", "a1b2c3d4-0000-4000-8000-000000000001"
CTX = f"%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{ORGANIZER}%22%7d"
JOIN = f"/l/meetup-join/{THREAD_ENC}/0"
V2 = f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?context={CTX}&anon=true"
BUILT_CTX = f"%7B%22Tid%22%3A%22{TENANT}%22%2C%22Oid%22%3A%22{ORGANIZER}%22%7D"
LAUNCHER = "https://teams.microsoft.com/dl/launcher/launcher.html"


def coords(data, *, urlsafe=False) -> str:
    raw = json.dumps(data).encode()
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe else base64.b64encode(raw)
    return encoded.decode()


COORDS_IDS = coords({"conversationId": THREAD, "messageId": "0", "tenantId": TENANT,
                     "organizerId": ORGANIZER, "isBroadcast": False})
COORDS_URL = coords({"meetingUrl": f"https://teams.microsoft.com{JOIN}?context={CTX}"},
                    urlsafe=True)


@pytest.mark.parametrize(("raw", "platform", "url", "meeting_id"), [
    # Google Meet
    ("https://meet.google.com/abc-defg-hij", MEET, "https://meet.google.com/abc-defg-hij",
     "abc-defg-hij"),
    (" meet.google.com/abc-defg-hij?authuser=1\n", MEET,
     "https://meet.google.com/abc-defg-hij?authuser=1", "abc-defg-hij"),
    ("http://meet.google.com/abc-defg-hij/", MEET, "https://meet.google.com/abc-defg-hij",
     "abc-defg-hij"),
    ("HTTPS://MEET.GOOGLE.COM/ABC-Defg-HIJ", MEET, "https://meet.google.com/abc-defg-hij",
     "abc-defg-hij"),
    ("https://meet.google.com/abc-defg-hij?pli=1&authuser=0#top", MEET,
     "https://meet.google.com/abc-defg-hij?pli=1&authuser=0", "abc-defg-hij"),
    ("https://meet.google.com/abc-defg-hij?hs=122&authuser=2", MEET,
     "https://meet.google.com/abc-defg-hij?hs=122&authuser=2", "abc-defg-hij"),
    ("https://meet.google.com/abc-defg-hij?", MEET, "https://meet.google.com/abc-defg-hij",
     "abc-defg-hij"),
    ("https://meet.google.com/abc-defg-hij?x=é\"", MEET,
     "https://meet.google.com/abc-defg-hij?x=%C3%A9%22", "abc-defg-hij"),
    ("https://www.google.com/url?q=https://meet.google.com/abc-defg-hij&sa=D&usg=AOvVaw1", MEET,
     "https://meet.google.com/abc-defg-hij", "abc-defg-hij"),
    ("https://www.google.com/url?q=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij%3Fauthuser%3D1"
     "&sa=D", MEET, "https://meet.google.com/abc-defg-hij?authuser=1", "abc-defg-hij"),
    ("google.com/url?sa=D&url=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij", MEET,
     "https://meet.google.com/abc-defg-hij", "abc-defg-hij"),
    ("https://www.google.com/url?q=https://us02web.zoom.us/j/12345678901&sa=D", ZOOM,
     "https://app.zoom.us/wc/12345678901/join", "12345678901"),
    # Microsoft Teams: meetup-join forms become the v2 web form with anon=true
    (f"https://teams.microsoft.com{JOIN}?context={CTX}", TEAMS, V2, THREAD),
    (f"teams.microsoft.com{JOIN.replace('%3a', '%3A')}?context={CTX}", TEAMS, V2, THREAD),
    (f"https://teams.microsoft.com/l/meetup-join/{THREAD}/0?context={CTX}", TEAMS, V2, THREAD),
    (V2, TEAMS, V2, THREAD),
    (f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?context={CTX}", TEAMS, V2, THREAD),
    (f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?anon=false&context={CTX}", TEAMS,
     f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?anon=true&context={CTX}", THREAD),
    (f"https://teams.microsoft.com/_#{JOIN}?context={CTX}", TEAMS, V2, THREAD),
    (f"{V2}#more", TEAMS, V2, THREAD),
    (f"https://teams.microsoft.com{JOIN}?context={CTX}&btype=a&role=a", TEAMS,
     f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?context={CTX}&btype=a&role=a"
     "&anon=true", THREAD),
    (f"{LAUNCHER}?url=" + quote(f"/_#/l/meetup-join/{THREAD}/0?context={CTX}&anon=true", safe="")
     + "&type=meetup-join&deeplinkId=d1&directDl=true&msLaunch=true&suppressPrompt=true",
     TEAMS, V2, THREAD),
    (f"{LAUNCHER}?url=/_#{JOIN}?context={CTX}&type=meetup-join", TEAMS,
     f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?context={CTX}&type=meetup-join"
     "&anon=true", THREAD),
    (f"https://teams.microsoft.com{JOIN}?context=" + '{"Tid":"t1","Oid":"o1"}', TEAMS,
     f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}"
     "?context=%7B%22Tid%22:%22t1%22,%22Oid%22:%22o1%22%7D&anon=true", THREAD),
    (f"https://teams.microsoft.com/l/meetup-join/19%3a0a1b2c3d4e5f%40thread.tacv2/1612345678901"
     f"?context={CTX}", TEAMS,
     "https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/19%3a0a1b2c3d4e5f"
     f"%40thread.tacv2/1612345678901?context={CTX}&anon=true", "19:0a1b2c3d4e5f@thread.tacv2"),
    (f"https://teams.live.com{JOIN}?context={CTX}", TEAMS,
     f"https://teams.live.com/v2/?meetingjoin=true#{JOIN}?context={CTX}&anon=true", THREAD),
    (f"https://teams.microsoft.com/light-meetings/launch?agent=web&version=23&coords={COORDS_IDS}"
     "&deeplinkId=d1", TEAMS,
     f"https://teams.microsoft.com/v2/?meetingjoin=true#{JOIN}?context={BUILT_CTX}&anon=true",
     THREAD),
    (f"https://teams.microsoft.com/light-meetings/launch?coords={COORDS_URL}", TEAMS, V2, THREAD),
    # Microsoft Teams: short links are kept
    ("https://teams.live.com/meet/9876543210123?p=AbCdEf12", TEAMS,
     "https://teams.live.com/meet/9876543210123?p=AbCdEf12", "9876543210123"),
    ("http://TEAMS.MICROSOFT.COM/meet/1234567890/?p=x#top", TEAMS,
     "https://teams.microsoft.com/meet/1234567890?p=x", "1234567890"),
    ("teams.live.com/meet/123456789012345", TEAMS, "https://teams.live.com/meet/123456789012345",
     "123456789012345"),
    # Zoom: join links become the web client
    ("https://zoom.us/j/12345678901?pwd=abcDEF.1", ZOOM,
     "https://app.zoom.us/wc/12345678901/join?pwd=abcDEF.1", "12345678901"),
    ("https://us02web.zoom.us/j/123456789", ZOOM, "https://app.zoom.us/wc/123456789/join",
     "123456789"),
    ("company.zoom.us/j/1234567890?uname=Bob&pwd=xyz&from=addon#success", ZOOM,
     "https://app.zoom.us/wc/1234567890/join?pwd=xyz", "1234567890"),
    ("https://zoom.us/j/12345678901?pwd=", ZOOM, "https://app.zoom.us/wc/12345678901/join",
     "12345678901"),
    ("https://zoom.us/s/12345678901?pwd=x", ZOOM, "https://app.zoom.us/wc/12345678901/join?pwd=x",
     "12345678901"),
    ("https://zoom.us/j/12345678901/join?pwd=x", ZOOM,
     "https://app.zoom.us/wc/12345678901/join?pwd=x", "12345678901"),
    ("https://us06web.zoom.us/w/98765432101?pwd=x", ZOOM,
     "https://app.zoom.us/wc/98765432101/join?pwd=x", "98765432101"),
    # Zoom: web client, registrant and events links are kept
    ("https://zoom.us/j/12345678901?tk=Tok-en.1&pwd=x", ZOOM,
     "https://zoom.us/j/12345678901?tk=Tok-en.1&pwd=x", "12345678901"),
    ("https://us06web.zoom.us/w/98765432101?tk=abc.def", ZOOM,
     "https://us06web.zoom.us/w/98765432101?tk=abc.def", "98765432101"),
    ("https://app.zoom.us/wc/12345678901/join?pwd=x", ZOOM,
     "https://app.zoom.us/wc/12345678901/join?pwd=x", "12345678901"),
    ("https://zoom.us/wc/join/12345678901?pwd=x", ZOOM,
     "https://zoom.us/wc/join/12345678901?pwd=x", "12345678901"),
    ("http://ZOOM.US/wc/12345678901#x", ZOOM, "https://zoom.us/wc/12345678901", "12345678901"),
    ("https://events.zoom.us/ejl/AbCdEf-123?id=5", ZOOM,
     "https://events.zoom.us/ejl/AbCdEf-123?id=5", "AbCdEf-123"),
])
def test_accepted_forms_are_normalized(raw, platform, url, meeting_id):
    parsed = parse_meeting_url(raw)
    assert (parsed.platform, parsed.url, parsed.meeting_id) == (platform, url, meeting_id)
    assert parse_meeting_url(parsed.url) == parsed  # the normalized URL is a fixed point


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"),
    ("  \t", "empty"),
    ("not a url", "white space"),
    ("https://meet.google.com/abc-defg-hij (join)", "white space"),
    ("https://meet.google.com/abc-defg-hij?x=" + "a" * 2048, "longer than 2048"),
    ("javascript:alert(1)", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("ftp://meet.google.com/abc-defg-hij", "scheme"),
    ("data:text/html,meet.google.com", "scheme"),
    (f"msteams:{JOIN}?context={CTX}", "https://teams.microsoft.com"),
    (f"msteams://teams.microsoft.com{JOIN}?context={CTX}", "https://teams.microsoft.com"),
    ("https:///abc-defg-hij", "no host"),
    ("https://[::1/abc-defg-hij", "not a URL"),
    ("https://mееt.google.com/abc-defg-hij", "not a host name"),  # Cyrillic е
    ("https://example.com/abc-defg-hij", "not a Google Meet, Microsoft Teams or Zoom host"),
    ("https://meet.google.com.evil.com/abc-defg-hij", "not a Google Meet"),
    ("https://evilzoom.us/j/12345678901", "not a Google Meet"),
    ("https://zoom.us.evil.com/j/12345678901", "not a Google Meet"),
    ("https://teams.microsoft.com.evil.com/meet/1234567890", "not a Google Meet"),
    (f"https://teams.microsoft.com@evil.com{JOIN}?context={CTX}", "user name"),
    ("https://meet.google.com@evil.com/abc-defg-hij", "user name"),
    ("https://meet.google.com\\@evil.com/abc-defg-hij", "user name"),
    ("https://meet.google.com:8443/abc-defg-hij", "port"),
    ("meet.google.com:443/abc-defg-hij", "port"),
    ("https://meet.google.com/", "abc-defg-hij"),
    ("https://meet.google.com/abcdefghij", "abc-defg-hij"),
    ("https://meet.google.com/abc-defg-hijk", "abc-defg-hij"),
    ("https://meet.google.com/ab1-defg-hij", "abc-defg-hij"),
    ("https://meet.google.com/lookup/teamstandup", "abc-defg-hij"),
    ("https://www.google.com/url?sa=D", "q= target"),
    ("https://www.google.com/url?q=https://evil.com/abc-defg-hij", "not a Google Meet"),
    ("https://www.google.com/search?q=meet.google.com/abc-defg-hij", "not a Google Meet"),
    ("https://zoom.us/j/12345678", "9 to 11 digit"),
    ("https://zoom.us/j/123456789012", "9 to 11 digit"),
    ("https://zoom.us/j/123-456-7890", "9 to 11 digit"),
    ("https://zoom.us/my/johnsmith", "9 to 11 digit"),
    ("https://zoom.us/", "9 to 11 digit"),
    ("https://events.zoom.us/", "event"),
    ("https://teams.live.com/meet/123456789", "meeting join link"),
    ("https://teams.microsoft.com/", "meeting join link"),
    ("https://teams.microsoft.com/l/channel/19%3aabc%40thread.tacv2/General", "meeting join link"),
    (f"https://teams.microsoft.com{JOIN}", "context="),
    (f"https://teams.microsoft.com{JOIN}?context=%7b%22Tid%22%7d", "Tid"),
    (f"https://teams.microsoft.com{JOIN}?context=%5b%5d", "Tid"),
    (f"https://teams.microsoft.com/l/meetup-join/abc/0?context={CTX}", "thread id"),
    (f"https://teams.microsoft.com/l/meetup-join/{THREAD_ENC}/x1?context={CTX}", "message id"),
    (f"{LAUNCHER}?type=meetup-join", "url="),
    (f"{LAUNCHER}?url=https%3A%2F%2Fzoom.us%2Fj%2F12345678901", "another platform"),
    (f"{LAUNCHER}?url=%2F%2Fevil.com{quote(JOIN)}", "not a Google Meet"),
    ("https://teams.microsoft.com/light-meetings/launch?agent=web", "coords="),
    ("https://teams.microsoft.com/light-meetings/launch?coords=!!!", "base64"),
    ("https://teams.microsoft.com/light-meetings/launch?coords=bm90IGpzb24", "base64-encoded JSON"),
    ("https://teams.microsoft.com/light-meetings/launch?coords=" + coords([1]), "JSON object"),
    ("https://teams.microsoft.com/light-meetings/launch?coords="
     + coords({"conversationId": THREAD}), "tenantId"),
    ("https://teams.microsoft.com/light-meetings/launch?coords="
     + coords({"conversationId": "x", "tenantId": TENANT}), "thread id"),
    ("https://teams.microsoft.com/light-meetings/launch?coords="
     + coords({"meetingUrl": "https://zoom.us/j/12345678901"}), "another platform"),
])
def test_near_misses_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidMeetingUrl) as refused:
        parse_meeting_url(raw)
    assert reason in str(refused.value)
