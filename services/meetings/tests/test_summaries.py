"""Summaries: the local summariser on real transcripts in four languages (subjects as keywords,
quoted sentences attributed and in order, an empty meeting), and the chat-completions summariser
against the local OpenAI-compatible emulator (the request sent, the answer parsed, errors
told apart as retryable or not, the key never in a message)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import stopwordsiso
from aiohttp import web

from meetings.summaries import (
    ChatCompletionsSummariser,
    LocalSummariser,
    MeetingSummary,
    SummaryError,
    SummaryUnavailable,
    Utterance,
    transcript_lines,
)
from provider_emulators.chat_completions import ChatCompletionsEmulator, summary_reply
from provider_emulators.common import BackgroundEmulator

ENGLISH = [
    ("Alice", "Okay, so, um, let's get started. Thanks everyone for joining."),
    ("Alice", "Today we need to agree on the budget for the product launch and on the hiring "
              "plan for the next quarter."),
    ("Bob", "Yeah, so I looked at the launch budget last week. We have about two hundred "
            "thousand euros for the launch campaign."),
    ("Carol", "Um, I think that's, like, not enough if we want the launch event in Berlin and "
              "the online campaign at the same time."),
    ("Bob", "Right. The event alone would eat half of the launch budget."),
    ("Alice", "Okay. What if we move the launch event online and spend the savings on "
              "advertising?"),
    ("Carol", "You know, advertising worked well for the last product. The conversion rate "
              "was great."),
    ("Bob", "I can prepare a new budget with the online event and a bigger advertising line "
            "by Friday."),
    ("Alice", "Great, Bob, please share the revised budget by Friday so that finance can "
              "approve it."),
    ("Alice", "Now, hiring. We planned to hire three engineers and one designer before the "
              "launch."),
    ("Carol", "Yeah, um, hiring is slow. We have interviewed twelve candidates and made only "
              "one offer."),
    ("Bob", "The problem is the salary range. Candidates ask for more than the hiring budget "
            "allows."),
    ("Carol", "I think we should raise the salary range for senior engineers, otherwise we "
              "will not hire anyone before the launch."),
    ("Alice", "Okay, so, raising salaries changes the budget too. Can we afford it?"),
    ("Bob", "If the launch event goes online, the savings could cover higher salaries for "
            "two engineers."),
    ("Alice", "That sounds like a good trade. Carol, can you ask the recruiting agency to "
              "reopen the senior engineer positions?"),
    ("Carol", "Sure, I'll call the recruiting agency tomorrow and update the job "
              "descriptions."),
    ("Bob", "We should also decide on the launch date. Marketing suggested the fifteenth of "
            "March."),
    ("Carol", "Um, March is tight for the designer hiring, but the product itself will be "
              "ready."),
    ("Alice", "Let's keep the fifteenth of March as the launch date and review hiring "
              "progress in two weeks."),
    ("Bob", "Okay, yeah, sounds good."),
    ("Alice", "So, to sum up: Bob revises the launch budget, Carol reopens the engineer "
              "positions, and we meet again in two weeks."),
    ("Carol", "Thanks, bye everyone."),
]

FRENCH = [
    ("Claire", "Bon, euh, on commence. Merci à tous d'être là."),
    ("Claire", "Aujourd'hui il faut parler du budget du lancement du produit et du recrutement "
               "pour le trimestre prochain."),
    ("Julien", "Alors, en fait, le budget du lancement est de deux cent mille euros pour la "
               "campagne."),
    ("Sophie", "Euh, du coup, c'est pas assez si on veut l'événement à Paris et la campagne "
               "en ligne en même temps."),
    ("Julien", "Voilà, l'événement seul prendrait la moitié du budget du lancement."),
    ("Claire", "D'accord. Et si on faisait l'événement de lancement en ligne pour dépenser "
               "les économies en publicité ?"),
    ("Sophie", "Ouais, la publicité a très bien marché pour le dernier produit, le taux de "
               "conversion était excellent."),
    ("Julien", "Je peux préparer un nouveau budget avec l'événement en ligne et plus de "
               "publicité pour vendredi."),
    ("Claire", "Maintenant, le recrutement. On voulait recruter trois ingénieurs et un "
               "designer avant le lancement."),
    ("Sophie", "Euh, le recrutement est lent. On a fait passer douze entretiens et une seule "
               "offre."),
    ("Julien", "Le problème, c'est les salaires. Les candidats demandent plus que le budget "
               "du recrutement."),
    ("Sophie", "Bah, il faudrait augmenter les salaires des ingénieurs, sinon on ne recrutera "
               "personne avant le lancement."),
    ("Claire", "Bon, on garde le quinze mars pour le lancement et on refait le point sur le "
               "recrutement dans deux semaines."),
    ("Julien", "Ouais, d'accord, ça marche."),
]

GERMAN = [
    ("Anna", "Also, ähm, fangen wir an. Heute geht es um das Budget für die Markteinführung."),
    ("Jonas", "Genau. Das Budget für die Markteinführung liegt bei zweihunderttausend Euro."),
    ("Lea", "Ähm, das reicht nicht, wenn wir die Veranstaltung in Berlin und die Werbung "
            "gleichzeitig machen."),
    ("Jonas", "Die Veranstaltung allein kostet die Hälfte vom Budget."),
    ("Anna", "Dann machen wir die Veranstaltung online und geben mehr für Werbung aus."),
    ("Lea", "Ja, die Werbung hat beim letzten Produkt gut funktioniert."),
    ("Jonas", "Ich schreibe bis Freitag ein neues Budget mit mehr Werbung."),
    ("Anna", "Super. Und die Markteinführung bleibt am fünfzehnten März."),
]

SPANISH = [
    ("Lucía", "Bueno, eh, empezamos. Hoy hablamos del presupuesto del lanzamiento y de la "
              "contratación."),
    ("Mateo", "Pues el presupuesto del lanzamiento es de doscientos mil euros para la "
              "campaña."),
    ("Elena", "O sea, no alcanza si hacemos el evento en Madrid y la campaña en línea."),
    ("Mateo", "Vale, el evento solo se lleva la mitad del presupuesto del lanzamiento."),
    ("Lucía", "Y la contratación va lenta: necesitamos tres ingenieros antes del lanzamiento."),
    ("Elena", "Para la contratación hay que subir los salarios de los ingenieros."),
    ("Mateo", "Si el evento es en línea, el presupuesto cubre los salarios."),
    ("Lucía", "Vale, preparo el nuevo presupuesto para el viernes."),
]

FILLERS = {"um", "uh", "yeah", "okay", "ok", "so", "like", "know", "think", "right", "sure",
           "euh", "ouais", "bon", "bah", "voilà", "ähm", "genau", "also", "bueno", "pues", "vale"}
BULLET = re.compile(r"^- \*\*(?P<speaker>[^*]+)\*\*: (?P<text>.+)$")


def meeting(lines: list[tuple[str, str]], *, seconds: float = 300.0) -> list[Utterance]:
    """The lines as utterances spread over ``seconds`` by their length."""
    words = [len(text.split()) for _, text in lines]
    per_word = seconds / sum(words)
    utterances, clock = [], 0.0
    for (speaker, text), count in zip(lines, words, strict=True):
        utterances.append(Utterance(speaker, text, clock, clock + count * per_word))
        clock += count * per_word
    return utterances


def words_of(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W\d_]+", text)]


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(word in remaining for word in part)


def quoted(markdown: str) -> list[tuple[str, str]]:
    """The ``(speaker, text)`` of each ``- **Speaker**: text`` line."""
    found = []
    for line in markdown.splitlines():
        match = BULLET.match(line)
        if match:
            found.append((match["speaker"], match["text"]))
    return found


def source_of(speaker: str, text: str, utterances: list[Utterance]) -> int:
    """Index of the utterance of ``speaker`` that says ``text`` (hesitations aside)."""
    said = words_of(text)
    for index, utterance in enumerate(utterances):
        if utterance.speaker == speaker and is_subsequence(said, words_of(utterance.text)):
            return index
    raise AssertionError(f"{speaker} never said {text!r}")


def keyword_words(summary: MeetingSummary) -> set[str]:
    return {word for keyword in summary.keywords for word in words_of(keyword)}


# --------------------------------------------------------------------------------------------
# LocalSummariser
# --------------------------------------------------------------------------------------------


async def test_english_meeting_keywords_are_its_subjects() -> None:
    summary = await LocalSummariser().summarise(
        title="Launch sync", language="en", context=None, utterances=meeting(ENGLISH))

    assert 5 <= len(summary.keywords) <= 10, summary.keywords
    assert {"budget", "launch", "hiring"} <= {k.lower() for k in summary.keywords[:5]}
    found = keyword_words(summary)
    assert not found & FILLERS, summary.keywords
    assert not found & {"alice", "bob", "carol"}, summary.keywords


async def test_english_summary_quotes_sentences_in_order_with_their_speaker() -> None:
    utterances = meeting(ENGLISH, seconds=300)
    summary = await LocalSummariser().summarise(
        title="Launch sync", language="en", context=None, utterances=utterances)

    overview, _, points = summary.summary.partition("\n\n")
    assert "Participants: Alice, Bob, Carol." in overview
    assert "Duration: 5 min." in overview
    assert "budget" in overview and "launch" in overview
    bullets = quoted(points)
    assert bullets and len(bullets) == len(points.splitlines())
    sentences = sum(len(re.findall(r"[.?!](?:\s|$)", text)) for _, text in bullets)
    assert 3 <= sentences <= 6, points
    sources = [source_of(speaker, text, utterances) for speaker, text in bullets]
    assert sources == sorted(sources), points
    assert not any(words_of(text)[0] in {"um", "uh"} for _, text in bullets)
    said = " ".join(text for _, text in bullets).lower()
    assert "budget" in said and "hir" in said, points


async def test_notes_give_each_speaker_their_points_in_order_of_speaking() -> None:
    utterances = meeting(ENGLISH)
    summary = await LocalSummariser().summarise(
        title="Launch sync", language="en", context=None, utterances=utterances)

    notes = quoted(summary.notes)
    assert len(notes) == len(summary.notes.splitlines())
    speakers = list(dict.fromkeys(speaker for speaker, _ in notes))
    assert speakers == ["Alice", "Bob", "Carol"]
    for speaker, text in notes:
        source_of(speaker, text, utterances)
    assert all(1 <= sum(s == name for s, _ in notes) <= 4 for name in speakers)


async def test_french_meeting_gets_french_keywords_without_french_stop_words() -> None:
    summary = await LocalSummariser().summarise(
        title="Point lancement", language="fr", context=None, utterances=meeting(FRENCH))

    assert {"lancement", "recrutement", "budget"} <= {k.lower() for k in summary.keywords}
    french_stop_words = stopwordsiso.stopwords("fr")
    assert not keyword_words(summary) & (french_stop_words | FILLERS), summary.keywords
    assert "Durée: 5 min." in summary.summary
    for speaker, text in quoted(summary.summary):
        assert speaker in {"Claire", "Julien", "Sophie"}
        assert not text.lower().startswith(("euh", "bah"))


async def test_language_is_detected_when_not_given() -> None:
    summary = await LocalSummariser().summarise(
        title="", language=None, context=None, utterances=meeting(FRENCH))

    assert summary.summary.startswith("Participants: Claire, Julien, Sophie. Durée:")
    assert "lancement" in {k.lower() for k in summary.keywords}


@pytest.mark.parametrize(("language", "lines", "subjects", "label"), [
    ("de", GERMAN, {"Budget", "Markteinführung", "Werbung"}, "Dauer:"),
    ("es", SPANISH, {"presupuesto", "lanzamiento", "contratación"}, "Duración:"),
])
async def test_german_and_spanish_keywords(language: str, lines: list[tuple[str, str]],
                                           subjects: set[str], label: str) -> None:
    summary = await LocalSummariser().summarise(
        title="", language=language, context=None, utterances=meeting(lines, seconds=120))

    assert subjects <= set(summary.keywords), summary.keywords
    assert not keyword_words(summary) & {w.lower() for w in stopwordsiso.stopwords(language)}
    assert label in summary.summary
    assert quoted(summary.summary)


async def test_unknown_language_falls_back_to_the_detected_one() -> None:
    english = await LocalSummariser().summarise(
        title="", language="en", context=None, utterances=meeting(ENGLISH))
    unknown = await LocalSummariser().summarise(
        title="", language="xx-YY", context=None, utterances=meeting(ENGLISH))

    assert unknown == english


async def test_text_in_no_known_language_still_gets_a_summary() -> None:
    lines = [("Aiko", "Purojekuto no yosan o kakunin shimashita. Yosan wa juubun desu."),
             ("Ren", "Yosan to sukejuuru o raishuu mou ichido kakunin shimasu."),
             ("Aiko", "Sukejuuru wa sangatsu made desu.")]
    summary = await LocalSummariser().summarise(
        title="", language="xx", context=None, utterances=meeting(lines, seconds=60))

    assert summary.summary.startswith("Participants: Aiko, Ren. Duration: 1 min.")
    assert "yosan" in [k.lower() for k in summary.keywords][:2]
    for speaker, text in quoted(summary.summary):
        source_of(speaker, text, meeting(lines))


@pytest.mark.parametrize("utterances", [
    [],
    [Utterance("Alice", "", 0, 1), Utterance("Bob", "  ... ", 1, 2), Utterance("Bob", "42", 2, 3)],
])
async def test_a_meeting_where_nobody_spoke(utterances: list[Utterance]) -> None:
    summary = await LocalSummariser().summarise(
        title="Silence", language="en", context=None, utterances=utterances)

    assert summary == MeetingSummary("No one spoke in this meeting.", "", [])
    french = await LocalSummariser().summarise(
        title="Silence", language="fr", context=None, utterances=utterances)
    assert french.summary == "Personne n'a parlé pendant cette réunion."


async def test_a_meeting_of_small_talk_has_an_overview_and_nothing_else() -> None:
    utterances = meeting([("Alice", "Hi! Um, okay."), ("Bob", "Yeah. Yeah, sure.")], seconds=10)
    summary = await LocalSummariser().summarise(
        title="", language="en", context=None, utterances=utterances)

    assert summary.summary == "Participants: Alice, Bob. Duration: < 1 min."
    assert summary.notes == ""
    assert summary.keywords == []


async def test_a_long_meeting_quotes_more_sentences_up_to_a_cap() -> None:
    rounds = [(speaker, f"{text} That was point {n}.") for n in range(6)
              for speaker, text in ENGLISH]
    utterances = meeting(rounds, seconds=30 * 60)
    summary = await LocalSummariser().summarise(
        title="", language="en", context=None, utterances=utterances)

    bullets = quoted(summary.summary.partition("\n\n")[2])
    sentences = sum(len(re.findall(r"[.?!](?:\s|$)", text)) for _, text in bullets)
    assert 7 <= sentences <= 12
    sources = [source_of(speaker, text, utterances) for speaker, text in bullets]
    assert sources == sorted(sources)
    assert "Duration: 30 min." in summary.summary


# --------------------------------------------------------------------------------------------
# ChatCompletionsSummariser against the emulator
# --------------------------------------------------------------------------------------------

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def chat_server() -> Iterator[tuple[BackgroundEmulator, ChatCompletionsEmulator]]:
    emulator = ChatCompletionsEmulator(api_keys=[KEY])
    with BackgroundEmulator(emulator.app()) as server:
        yield server, emulator


@pytest.fixture
def chat(chat_server: tuple[BackgroundEmulator, ChatCompletionsEmulator]
         ) -> Iterator[tuple[str, ChatCompletionsEmulator]]:
    """The emulator's API base URL and the emulator, its knobs put back after the test."""
    server, emulator = chat_server
    emulator.requests.clear()
    yield f"{server.base_url}/v1", emulator
    emulator.api_keys = {KEY}
    emulator.fail_next, emulator.fail_status, emulator.delay = 0, 500, 0.0
    emulator.replies.clear()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def summariser(base_url: str, http: aiohttp.ClientSession, *, key: str | None = KEY,
               model: str = "gpt-4o-mini", timeout_s: float = 30.0,
               max_transcript_chars: int = 48_000) -> ChatCompletionsSummariser:
    return ChatCompletionsSummariser(base_url=base_url, api_key=key, model=model, session=http,
                                     timeout_s=timeout_s,
                                     max_transcript_chars=max_transcript_chars)


async def ask(target: ChatCompletionsSummariser, lines: list[tuple[str, str]] = ENGLISH,
              language: str | None = "en") -> MeetingSummary:
    return await target.summarise(title="Launch sync", language=language,
                                  context="Team stand-up", utterances=meeting(lines))


async def test_llm_request_and_answer(chat: tuple[str, ChatCompletionsEmulator],
                                      http: aiohttp.ClientSession) -> None:
    base_url, emulator = chat
    summary = await ask(summariser(base_url, http), FRENCH, "fr")

    [request] = emulator.requests.matching("POST", "/v1/chat/completions")
    assert request.api_key == KEY and request.status == 200
    body = request.json
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {"type": "json_object"}
    system, about, transcript = body["messages"]
    assert system["role"] == "system" and "French" in system["content"]
    assert all(key in system["content"] for key in ('"summary"', '"notes"', '"keywords"'))
    assert about["role"] == "user"
    assert "Meeting title: Launch sync" in about["content"]
    assert "Context: Team stand-up" in about["content"]
    assert transcript == {"role": "user",
                          "content": "\n".join(f"{s}: {t}" for s, t in FRENCH)}

    expected = summary_reply(FRENCH)
    assert summary == MeetingSummary(summary=expected["summary"], notes=expected["notes"],
                                     keywords=expected["keywords"])
    assert summary.summary == "14 transcript lines from Claire, Julien, Sophie."
    assert summary.notes.splitlines()[0] == "- **Claire**: Bon, euh, on commence. Merci à tous d'être là."


async def test_llm_without_a_key_sends_no_authorization_and_session_given_late(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, emulator = chat
    emulator.api_keys = None
    keyless = ChatCompletionsSummariser(base_url=base_url, api_key=None, model="local",
                                        session=lambda: http)
    summary = await ask(keyless)

    assert summary.summary.startswith("23 transcript lines")
    assert emulator.requests.keys_used() == {None}


async def test_llm_wrong_key_is_a_permanent_error_without_the_key(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, _ = chat
    wrong = "sk-wrong-key-that-must-not-leak"
    with pytest.raises(SummaryError) as raised:
        await ask(summariser(base_url, http, key=wrong))

    assert not isinstance(raised.value, SummaryUnavailable)
    assert "HTTP 401" in str(raised.value)
    assert "Incorrect API key provided" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in repr(raised.value)


async def test_llm_error_echoing_the_key_is_told_without_it(http: aiohttp.ClientSession) -> None:
    async def echo_key(request: web.Request) -> web.Response:
        said = f"Key {request.headers['Authorization'].removeprefix('Bearer ')} is revoked"
        return web.json_response({"error": {"message": said, "type": "invalid_request_error",
                                            "code": "invalid_api_key"}}, status=403)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo_key)
    with BackgroundEmulator(app) as server:
        with pytest.raises(SummaryError) as raised:
            await ask(summariser(f"{server.base_url}/v1", http))

    assert str(raised.value) == "the summary API answered HTTP 403: Key *** is revoked"


@pytest.mark.parametrize("status", [500, 429])
async def test_llm_server_errors_are_retryable(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession,
        status: int) -> None:
    base_url, emulator = chat
    emulator.fail_next, emulator.fail_status = 1, status
    target = summariser(base_url, http)
    with pytest.raises(SummaryUnavailable, match=f"HTTP {status}") as raised:
        await ask(target)
    assert KEY not in str(raised.value)

    again = await ask(target)
    assert again.summary.startswith("23 transcript lines")
    assert [r.status for r in emulator.requests.all()] == [status, 200]


async def test_llm_bad_request_is_permanent(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, _ = chat
    with pytest.raises(SummaryError, match="HTTP 400: you must provide a model") as raised:
        await ask(summariser(base_url, http, model=""))
    assert not isinstance(raised.value, SummaryUnavailable)


@pytest.mark.parametrize(("content", "reason"), [
    ("Here is your summary: the team met.", "not JSON"),
    ('{"summary": "The team met.", "keywords": ["budget"]}', "notes"),
    ('{"summary": "", "notes": "", "keywords": []}', "summary"),
    ('{"summary": "The team met.", "notes": "- x", "keywords": 7}', "keywords"),
    ('["budget", "launch"]', "not the summary asked for"),
    ("", "empty"),
])
async def test_llm_malformed_answers_are_permanent_errors(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession,
        content: str, reason: str) -> None:
    base_url, emulator = chat
    emulator.replies.append(content)
    with pytest.raises(SummaryError, match=reason) as raised:
        await ask(summariser(base_url, http))
    assert not isinstance(raised.value, SummaryUnavailable)


async def test_llm_lenient_about_fences_and_keyword_shapes(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, emulator = chat
    emulator.replies.append('```json\n{"summary": " The team met. ", "notes": ["- **Bob**: '
                            'budget by Friday", "hire faster"], "keywords": "Budget, launch, '
                            'budget, , hiring"}\n```')
    summary = await ask(summariser(base_url, http))

    assert summary == MeetingSummary(
        summary="The team met.", notes="- **Bob**: budget by Friday\n- hire faster",
        keywords=["Budget", "launch", "hiring"])


async def test_llm_timeout_and_unreachable_are_retryable(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, emulator = chat
    emulator.delay = 1.0
    with pytest.raises(SummaryUnavailable, match="within 0.2 s"):
        await ask(summariser(base_url, http, timeout_s=0.2))
    for _ in range(100):  # the emulator still answers the abandoned request: let it finish
        if len(emulator.requests):
            break
        await asyncio.sleep(0.05)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(SummaryUnavailable, match="could not be reached") as raised:
        await ask(summariser(f"http://127.0.0.1:{closed_port}/v1", http))
    assert KEY not in str(raised.value)


async def test_llm_is_not_asked_about_a_silent_meeting(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, emulator = chat
    summary = await summariser(base_url, http).summarise(
        title="", language="de", context=None, utterances=[Utterance("Anna", " ", 0, 1)])

    assert summary == MeetingSummary("In diesem Meeting hat niemand gesprochen.", "", [])
    assert len(emulator.requests) == 0


async def test_long_transcript_keeps_its_opening_and_end(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    rounds = [(speaker, f"{text} (round {n})") for n in range(40) for speaker, text in ENGLISH]
    utterances = meeting(rounds, seconds=3 * 3600)
    lines, cut = transcript_lines(utterances, 6000)

    assert cut and sum(len(line) + 1 for line in lines) <= 6000
    gaps = [line for line in lines if line.startswith("[")]
    assert len(gaps) == 1 and re.fullmatch(r"\[\.\.\. \d+ lines, about \d+ min, left out \.\.\.\]",
                                           gaps[0])
    assert lines[0] == f"Alice: {ENGLISH[0][1]} (round 0)"
    assert lines[-1] == f"Carol: {ENGLISH[-1][1]} (round 39)"
    kept = len(lines) - 1
    left_out = int(re.search(r"\d+", gaps[0]).group())  # type: ignore[union-attr]
    assert kept + left_out == len(rounds)

    base_url, emulator = chat
    summary = await summariser(base_url, http, max_transcript_chars=6000).summarise(
        title="Marathon", language="en", context=None, utterances=utterances)
    [request] = emulator.requests.all()
    assert request.json["messages"][-1]["content"] == "\n".join(lines)
    assert "left out" in request.json["messages"][0]["content"]
    assert summary.summary.startswith(f"{kept} transcript lines")


async def test_emulator_speaks_openai_errors_and_plain_replies(
        chat: tuple[str, ChatCompletionsEmulator], http: aiohttp.ClientSession) -> None:
    base_url, _ = chat
    url = f"{base_url}/chat/completions"
    request = {"model": "m", "messages": [{"role": "user", "content": "Ann: budget review"}]}
    async with http.post(url, json=request) as response:
        assert response.status == 401
        error = (await response.json())["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert "didn't provide an API key" in error["message"]

    auth = {"Authorization": f"Bearer {KEY}"}
    json_mode = {**request, "response_format": {"type": "json_object"}}
    async with http.post(url, json=json_mode, headers=auth) as response:
        assert response.status == 400
        assert "must contain the word 'json'" in (await response.json())["error"]["message"]

    async with http.post(url, json=request, headers=auth) as response:
        assert response.status == 200
        completion = await response.json()
    assert completion["object"] == "chat.completion" and completion["model"] == "m"
    assert completion["choices"] == [{
        "index": 0, "message": {"role": "assistant", "content": "1 transcript lines from Ann.",
                                "refusal": None},
        "logprobs": None, "finish_reason": "stop"}]
    assert completion["usage"]["total_tokens"] > 0
