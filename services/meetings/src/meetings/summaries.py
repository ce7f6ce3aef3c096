"""A meeting's summary, notes and keywords, made from its transcript.

Two summarisers answer :class:`Summariser`:

* :class:`LocalSummariser` works offline on the CPU, in the meeting's language: sumy's TextRank
  rates the sentences said (the summary and the notes are the best rated ones, attributed to
  their speaker, in meeting order), stopwordsiso's stop words and Snowball stems (through sumy)
  pick the keywords;
* :class:`ChatCompletionsSummariser` asks any OpenAI-compatible chat-completions endpoint in JSON
  mode. It never retries: :class:`SummaryUnavailable` (rate limited, server error, timeout,
  connection) is worth retrying later, any other :class:`SummaryError` is not.

A meeting where nobody said anything (no utterance holds a word) is not an error: both answer
:func:`nothing_said`, a summary saying so in the meeting's language, with empty notes and no
keywords, and the chat-completions endpoint is not called for it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Utterance:
    speaker: str
    text: str
    start: float  # seconds from the start of the meeting
    end: float


@dataclass(frozen=True)
class MeetingSummary:
    summary: str  # Markdown: a short heading-less overview paragraph + key points
    notes: str  # Markdown bullet list, "- **Speaker**: point"; "" when nothing was said
    keywords: list[str]  # the main subjects, most important first, in the meeting's language


class Summariser(Protocol):
    async def summarise(self, *, title: str, language: str | None, context: str | None,
                        utterances: Sequence[Utterance]) -> MeetingSummary: ...


class SummaryError(Exception):
    """The summary could not be made: the endpoint refused the request or answered nonsense.
    The message says why (HTTP status, the provider's own message); it never holds the API key."""


class SummaryUnavailable(SummaryError):
    """The endpoint could not answer now (HTTP 429 or 5xx, timeout, connection failure): the same
    request may succeed later."""


# --------------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wording:
    name: str  # the language's name, in English (for a model's prompt)
    nothing_said: str
    participants: str
    duration: str
    subjects: str


_WORDINGS: dict[str, _Wording] = {
    "en": _Wording("English", "No one spoke in this meeting.", "Participants", "Duration",
                   "Main subjects"),
    "fr": _Wording("French", "Personne n'a parlé pendant cette réunion.", "Participants",
                   "Durée", "Sujets principaux"),
    "de": _Wording("German", "In diesem Meeting hat niemand gesprochen.", "Teilnehmende",
                   "Dauer", "Hauptthemen"),
    "es": _Wording("Spanish", "Nadie habló en esta reunión.", "Participantes", "Duración",
                   "Temas principales"),
    "it": _Wording("Italian", "Nessuno ha parlato in questa riunione.", "Partecipanti",
                   "Durata", "Temi principali"),
    "pt": _Wording("Portuguese", "Ninguém falou nesta reunião.", "Participantes", "Duração",
                   "Temas principais"),
    "nl": _Wording("Dutch", "Niemand heeft gesproken in deze vergadering.", "Deelnemers",
                   "Duur", "Hoofdonderwerpen"),
}

#: Hesitations, by language: never keywords, and dropped from the sentences shown.
_COMMON_HESITATIONS = frozenset("um umm uh uhh uhm hmm hm mm mmm mhm".split())
_HESITATIONS: dict[str, frozenset[str]] = {
    "en": frozenset("er erm ah".split()),
    "fr": frozenset("euh heu bah ben hum".split()),
    "de": frozenset("äh ähm öh".split()),
    "es": frozenset("eh ehm".split()),
    "it": frozenset("eh ehm".split()),
    "pt": frozenset("ahn eh éh".split()),
    "nl": frozenset("eh ehm".split()),
}
#: Words of speech that carry no subject and that stopwordsiso's lists lack, by language.
_FILLERS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "yeah yep yup nope okay ok alright gonna wanna gotta kinda sorta basically literally "
        "actually stuff lot bit guys bye hello hey cool guess sort kind sounds thanks thank "
        "awesome great good fine totally exactly definitely mean know think like right".split()),
    "fr": frozenset(
        "ouais ouai ok okay bon bah ben hein genre quoi coup fait voilà accord merci bonjour "
        "salut truc trucs chose choses faut veut oui non bref parfait super enfin genre "
        "carrément effectivement justement vraiment".split()),
    "de": frozenset(
        "ok okay halt ne naja genau eigentlich quasi sozusagen irgendwie danke tschüss super "
        "klar einfach dinge leute sache sachen ja nee gut mal eben also".split()),
    "es": frozenset(
        "ok okay vale digamos tipo plan gracias osea cosa cosas mira oye perfecto genial venga "
        "bueno pues este sí claro vamos".split()),
    "it": frozenset(
        "ok okay cioè allora insomma tipo ecco boh dai vabbè grazie cosa cose perfetto "
        "praticamente diciamo sì va bene".split()),
    "pt": frozenset(
        "ok okay né tipo então pois bem assim obrigado obrigada coisa coisas perfeito beleza "
        "tá sim".split()),
    "nl": frozenset(
        "ok oké okay nou dus zeg maar gewoon toch ja hoor dank bedankt ding dingen super "
        "prima even eigenlijk zeg".split()),
}


def normalise_language(language: str | None) -> str | None:
    """``"fr-FR"``/``"FR"`` -> ``"fr"``; None or blank -> None."""
    if not language or not language.strip():
        return None
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0] or None


def nothing_said(language: str | None) -> MeetingSummary:
    """The summary of a meeting where nobody said a word, in ``language`` (English if unknown)."""
    wording = _WORDINGS.get(normalise_language(language) or "", _WORDINGS[DEFAULT_LANGUAGE])
    return MeetingSummary(summary=wording.nothing_said, notes="", keywords=[])


_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def _words(text: str) -> list[str]:
    """Word tokens of ``text``; elided articles and contractions split off (``l'événement``
    -> ``l``, ``événement``)."""
    return [part for token in _WORD.findall(text) for part in re.split(r"['’]", token) if part]


# --------------------------------------------------------------------------------------------
# The local summariser
# --------------------------------------------------------------------------------------------


_SUMMARY_SENTENCES_CAP = 12
_NOTES_PER_SPEAKER_CAP = 4
_MIN_CONTENT_WORDS = 3  # a sentence with fewer content words is not a point worth quoting
_REDUNDANT = 0.5  # share of content stems two quoted sentences may have in common, at most
_MIN_KEYWORDS, _MAX_KEYWORDS = 5, 10
_WORDS_PER_MINUTE = 150  # when the utterances carry no usable times
_DETECTION_SHARE = 0.35  # stop words are about 60 % of what people say in these languages

_ABBREVIATIONS: dict[str, set[str]] = {
    "en": {"dr", "mr", "mrs", "ms", "prof", "e.g", "i.e", "etc", "vs", "inc", "ltd", "jr", "sr",
           "st", "approx"},
    "fr": {"m", "mme", "mlle", "dr", "pr", "etc", "cf", "p.ex", "env", "n°"},
    "de": {"z.b", "bzw", "usw", "ca", "dr", "hr", "fr", "u.a", "d.h", "evtl", "ggf", "vgl", "nr"},
    "es": {"sr", "sra", "srta", "dr", "dra", "etc", "p.ej", "ud", "uds", "aprox", "núm"},
    "it": {"sig", "sigg", "dott", "prof", "ecc", "es", "ing", "avv"},
    "pt": {"sr", "sra", "dr", "dra", "etc", "ex", "prof", "aprox"},
    "nl": {"dhr", "mevr", "dr", "bijv", "o.a", "m.b.t", "enz", "ca", "nr"},
}


@dataclass
class _Toolkit:
    """What summarising in one language takes: stop words, a stemmer, a sentence splitter."""

    language: str
    stop_words: frozenset[str]
    stem: Callable[[str], str]
    split_sentences: Callable[[str], list[str]]
    hesitation: re.Pattern[str]  # a hesitation, with the punctuation and space after it

    def tidy(self, text: str) -> str:
        """The sentence as said, without hesitations, starting with a capital."""
        tidied = re.sub(r"\s{2,}", " ", self.hesitation.sub("", text)).strip(" ,;")
        return (tidied[:1].upper() + tidied[1:]) if tidied else text.strip()


def _hesitations(language: str) -> frozenset[str]:
    return _COMMON_HESITATIONS | _HESITATIONS.get(language, frozenset())


@functools.cache
def _stop_words(language: str) -> frozenset[str]:
    import stopwordsiso

    listed = stopwordsiso.stopwords(language) if stopwordsiso.has_lang(language) else set()
    spoken = _FILLERS.get(language, frozenset()) | _hesitations(language)
    return frozenset(w.lower() for w in listed) | spoken


def _has_stop_words(language: str) -> bool:
    """Whether stopwordsiso knows ``language`` (beyond this module's fillers and hesitations)."""
    return bool(_stop_words(language) - _FILLERS.get(language, frozenset())
                - _hesitations(language))


@functools.cache
def _toolkit(language: str) -> _Toolkit:
    """Loaded on first use, in a worker thread: importing nltk (under sumy) takes seconds."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from sumy.nlp.stemmers import Stemmer, null_stemmer

    try:
        stemmer: Callable[[str], str] = Stemmer(language)
    except LookupError:
        stemmer = null_stemmer
    parameters = PunktParameters()
    parameters.abbrev_types = set(_ABBREVIATIONS.get(language, ()))
    splitter = PunktSentenceTokenizer(parameters)
    hesitations = sorted(_hesitations(language), key=len, reverse=True)
    hesitation = re.compile(r"(?i)(?<![\w'’-])(?:" + "|".join(map(re.escape, hesitations)) +
                            r")(?![\w'’-])[,.…]*\s*")
    return _Toolkit(language=language, stop_words=_stop_words(language),
                    stem=functools.lru_cache(maxsize=65536)(lambda word: stemmer(word.lower())),
                    split_sentences=splitter.tokenize, hesitation=hesitation)


def detect_language(text: str, candidates: Sequence[str] = tuple(_WORDINGS)) -> str | None:
    """The candidate whose stop words make up most of ``text``, if they make up a good share of
    it (None otherwise): enough to tell apart the languages the platform names, not a general
    language identifier."""
    words = [w.lower() for w in _words(text)[:3000]]
    if not words:
        return None
    hits = {code: sum(1 for w in words if w in _stop_words(code)) for code in candidates}
    best = max(hits, key=lambda code: (hits[code], code == DEFAULT_LANGUAGE))
    return best if hits[best] >= _DETECTION_SHARE * len(words) else None


def _language_for(language: str | None, utterances: Sequence[Utterance]) -> str:
    """``language`` when stop words are known for it, else the one detected from the text, else
    ``language`` all the same (English when None)."""
    code = normalise_language(language)
    if code is not None and _has_stop_words(code):
        return code
    return detect_language(" ".join(u.text for u in utterances)) or code or DEFAULT_LANGUAGE


@dataclass
class _Sentence:
    position: int  # in the meeting, over all sentences
    utterance: int  # index of the utterance it was said in
    speaker: str
    text: str
    tokens: list[str]
    content: list[str] = field(default_factory=list)  # stems of its content words
    rating: float = 0.0


class _SumyTokenizer:
    """What sumy's ``Sentence`` asks of a tokenizer (its own needs nltk's punkt data)."""

    @staticmethod
    def to_words(text: str) -> list[str]:
        return _words(text)


class LocalSummariser:
    """Extractive summary, notes and keywords on this machine: no network, no key, CPU only.

    ``language`` is an ISO 639-1 code. Languages with stopwordsiso stop words and a Snowball
    stemmer (en, fr, de, es, it, pt, nl, and da, fi, hu, no, ro, ru, sv) are fully handled; with
    stop words but no stemmer, words are not stemmed. None, or a code without stop words, is
    detected among en, fr, de, es, it, pt and nl by their stop words; when that fails too the
    code is kept, with no stemming and no stop words beyond hesitations. The overview's labels
    are in English for languages other than those seven.

    * ``summary``: an overview line (participants, duration, main subjects) and the most
      representative sentences (about 5 for 5 minutes, gently more for longer meetings, at most
      12), in meeting order, each as ``- **Speaker**: sentence`` (hesitations dropped);
    * ``notes``: per speaker, in order of first speaking, their best rated sentences (1 to 4,
      by their share of the words said), ``- **Speaker**: sentence``;
    * ``keywords``: 5 to 10 subjects: the content words (stop words, speech fillers and the
      speakers' names left out) said most often, by the most speakers, grouped by stem and
      shown in their most frequent form; a pair of words that is nearly always said together
      stands as one keyword.

    Utterances without a single word (empty or punctuation) are skipped; with none left the
    answer is :func:`nothing_said`. The work runs in a thread (``asyncio.to_thread``); the first
    call loads nltk, which takes a couple of seconds.
    """

    async def summarise(self, *, title: str, language: str | None, context: str | None,
                        utterances: Sequence[Utterance]) -> MeetingSummary:
        return await asyncio.to_thread(self.summarise_now, language=language,
                                       utterances=utterances)

    def summarise_now(self, *, language: str | None,
                      utterances: Sequence[Utterance]) -> MeetingSummary:
        """The same, in the caller's thread."""
        spoken = [u for u in utterances if _words(u.text)]
        code = _language_for(language, spoken)
        if not spoken:
            return nothing_said(code)
        kit = _toolkit(code)
        sentences = _sentences_of(spoken, kit)
        names = {w.lower() for u in spoken for w in _words(u.speaker)}
        keywords = _keywords(sentences, kit, names)
        quotable = [s for s in sentences if len(set(s.content)) >= _MIN_CONTENT_WORDS] or [
            s for s in sentences if s.content]
        _rate(quotable, kit)
        minutes = _minutes(spoken)
        chosen = _pick(quotable, _summary_size(minutes))
        overview = _overview(code, spoken, minutes, keywords)
        summary = overview + ("\n\n" + _bullets(chosen, kit) if chosen else "")
        return MeetingSummary(summary=summary, notes=_notes(quotable, spoken, kit),
                              keywords=keywords)


def _sentences_of(utterances: Sequence[Utterance], kit: _Toolkit) -> list[_Sentence]:
    sentences: list[_Sentence] = []
    for index, utterance in enumerate(utterances):
        for text in kit.split_sentences(" ".join(utterance.text.split())):
            tokens = _words(text)
            if not tokens:
                continue
            content = [kit.stem(t) for t in tokens if _is_content(t, kit.stop_words)]
            sentences.append(_Sentence(len(sentences), index, utterance.speaker.strip() or "?",
                                       text, tokens, content))
    return sentences


def _is_content(token: str, stop_words: frozenset[str]) -> bool:
    return len(token) > 2 and token.lower() not in stop_words


def _rate(sentences: list[_Sentence], kit: _Toolkit) -> None:
    """sumy's TextRank rating of each sentence (its centrality among all of them)."""
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.summarizers.text_rank import TextRankSummarizer

    if not sentences:
        return
    tokenizer = _SumyTokenizer()
    sumy_sentences = [Sentence(s.text, tokenizer) for s in sentences]
    rater = TextRankSummarizer(kit.stem)
    rater.stop_words = kit.stop_words
    ratings = rater.rate_sentences(ObjectDocumentModel([Paragraph(sumy_sentences)]))
    for sentence, sumy_sentence in zip(sentences, sumy_sentences, strict=True):
        sentence.rating = float(ratings[sumy_sentence])


def _minutes(utterances: Sequence[Utterance]) -> float:
    span = max(u.end for u in utterances) - min(u.start for u in utterances)
    if span > 0:
        return span / 60
    return sum(len(_words(u.text)) for u in utterances) / _WORDS_PER_MINUTE


def _summary_size(minutes: float) -> int:
    """5 sentences for 5 minutes, 9 for 30, 12 from about an hour on; 3 for a minute or less."""
    return max(3, min(_SUMMARY_SENTENCES_CAP, round(5 * (max(minutes, 0.1) / 5) ** 0.35)))


def _pick(sentences: list[_Sentence], count: int) -> list[_Sentence]:
    """The ``count`` best rated sentences that do not repeat one another, in meeting order."""
    chosen: list[_Sentence] = []
    for sentence in sorted(sentences, key=lambda s: (-s.rating, s.position)):
        if len(chosen) >= count:
            break
        stems = set(sentence.content)
        if any(len(stems & set(c.content)) > _REDUNDANT * min(len(stems), len(set(c.content)))
               for c in chosen):
            continue
        chosen.append(sentence)
    return sorted(chosen, key=lambda s: s.position)


def _bullets(sentences: list[_Sentence], kit: _Toolkit) -> str:
    """``- **Speaker**: text`` lines; sentences of one utterance that follow each other share one."""
    lines: list[str] = []
    previous: _Sentence | None = None
    for sentence in sentences:
        text = kit.tidy(sentence.text)
        if previous is not None and previous.utterance == sentence.utterance:
            lines[-1] += " " + text
        else:
            lines.append(f"- **{_escape(sentence.speaker)}**: {text}")
        previous = sentence
    return "\n".join(lines)


def _notes(sentences: list[_Sentence], utterances: Sequence[Utterance], kit: _Toolkit) -> str:
    said: Counter[str] = Counter()
    for utterance in utterances:
        said[utterance.speaker.strip() or "?"] += len(_words(utterance.text))
    total = sum(said.values()) or 1
    by_speaker: dict[str, list[_Sentence]] = defaultdict(list)
    for sentence in sentences:
        by_speaker[sentence.speaker].append(sentence)
    parts: list[str] = []
    for speaker in said:  # in order of first speaking
        own = by_speaker.get(speaker)
        if not own:
            continue
        count = min(_NOTES_PER_SPEAKER_CAP, 1 + int(5 * said[speaker] / total))
        for sentence in _pick(own, count):
            parts.append(f"- **{_escape(speaker)}**: {kit.tidy(sentence.text)}")
    return "\n".join(parts)


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def _overview(language: str, utterances: Sequence[Utterance], minutes: float,
              keywords: list[str]) -> str:
    wording = _WORDINGS.get(language, _WORDINGS[DEFAULT_LANGUAGE])
    speakers = list(dict.fromkeys(u.speaker.strip() or "?" for u in utterances))
    parts = [f"{wording.participants}: {', '.join(_escape(s) for s in speakers)}.",
             f"{wording.duration}: {_duration(minutes)}."]
    if keywords:
        parts.append(f"{wording.subjects}: {', '.join(_escape(k) for k in keywords[:3])}.")
    return " ".join(parts)


def _duration(minutes: float) -> str:
    rounded = round(minutes)
    if rounded < 1:
        return "< 1 min"
    if rounded < 60:
        return f"{rounded} min"
    return f"{rounded // 60} h {rounded % 60:02d} min"


def _keywords(sentences: list[_Sentence], kit: _Toolkit, names: set[str]) -> list[str]:
    """Subjects by how often and by how many speakers they are said (see LocalSummariser)."""
    counts: Counter[str] = Counter()
    speakers: dict[str, set[str]] = defaultdict(set)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    capitalised: Counter[str] = Counter()  # occurrences written with a capital, inside a sentence
    inside: Counter[str] = Counter()  # occurrences not at the start of a sentence
    pairs: Counter[tuple[str, str]] = Counter()
    pair_forms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for sentence in sentences:
        previous: tuple[str, str] | None = None  # (stem, form) of the word just before
        for n, token in enumerate(sentence.tokens):
            lower = token.lower()
            if not _is_content(token, kit.stop_words) or lower in names or not token.isalpha():
                previous = None
                continue
            stem = kit.stem(token)
            counts[stem] += 1
            speakers[stem].add(sentence.speaker)
            forms[stem][lower] += 1
            if n > 0:
                inside[stem] += 1
                capitalised[stem] += token[:1].isupper()
            if previous is not None:
                pair = (previous[0], stem)
                pairs[pair] += 1
                pair_forms[pair][f"{previous[1]} {lower}"] += 1
            previous = (stem, lower)
    if not counts:
        return []

    def score(stem: str) -> float:
        return counts[stem] * (1 + math.log(len(speakers[stem])))

    def shown(stem: str, form: str) -> str:
        proper = inside[stem] > 0 and capitalised[stem] >= 0.8 * inside[stem]
        return form[:1].upper() + form[1:] if proper else form

    repeated = [stem for stem in counts if counts[stem] >= 2]
    ranked = sorted(repeated, key=lambda s: (-score(s), s))
    if len(ranked) < _MIN_KEYWORDS:
        ranked += sorted((s for s in counts if counts[s] < 2), key=lambda s: (-score(s), s))
    phrase_of: dict[str, tuple[str, str]] = {}
    for (first, second), together in pairs.items():
        rarer = min((first, second), key=lambda s: counts[s])
        if first != second and together >= 3 and together >= 2 / 3 * counts[rarer]:
            phrase_of.setdefault(rarer, (first, second))
    keywords: list[str] = []
    seen: set[str] = set()
    for stem in ranked:
        if len(keywords) >= _MAX_KEYWORDS:
            break
        if stem in phrase_of:
            first, second = phrase_of[stem]
            form = pair_forms[(first, second)].most_common(1)[0][0]
            head, tail = form.split(" ", 1)
            keyword = f"{shown(first, head)} {shown(second, tail)}"
        else:
            keyword = shown(stem, forms[stem].most_common(1)[0][0])
        if keyword.lower() not in seen:
            seen.add(keyword.lower())
            keywords.append(keyword)
    return keywords


# --------------------------------------------------------------------------------------------
# The chat-completions summariser
# --------------------------------------------------------------------------------------------


_SYSTEM_PROMPT = """\
You write the minutes of a meeting from its transcript. Answer with one JSON object and nothing \
else, with exactly these keys:
- "summary": Markdown. A short overview paragraph without heading (who met, about what, the \
outcome), then a bullet list of the key points: decisions, open questions, and action items \
with their owner.
- "notes": Markdown. A bullet list of the notes worth keeping, each bullet "- **Speaker**: \
point", grouped by speaker or by subject.
- "keywords": an array of 5 to 10 short strings, the main subjects of the meeting, most \
important first.
Write the summary, the notes and the keywords in {language}. Use only what the transcript says; \
do not invent names, figures or dates. The transcript is one "Speaker: text" line per \
utterance, in order{gap}."""

_GAP_LINE_ROOM = 60  # characters kept for the line that marks a gap in a long transcript
_GAP_NOTE = "; a line in square brackets marks where a part of a long meeting was left out"


class _AnswerMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str | None = None
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: _AnswerMessage
    finish_reason: str | None = None


class _ChatCompletion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    choices: list[_Choice]


class _SummaryAnswer(BaseModel):
    """What the model is asked for; lists of notes and a comma-separated keyword string, which
    some models answer, are taken too."""

    model_config = ConfigDict(extra="ignore")
    summary: str
    notes: str
    keywords: list[str]

    @field_validator("summary")
    @classmethod
    def _has_summary(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the summary is empty")
        return value.strip()

    @field_validator("notes", mode="before")
    @classmethod
    def _notes_as_markdown(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(v if v.lstrip().startswith(("-", "*")) else f"- {v}"
                             for v in value if v.strip())
        return value

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords_as_list(cls, value: Any) -> Any:
        return [part for part in value.split(",")] if isinstance(value, str) else value

    @field_validator("keywords")
    @classmethod
    def _distinct_keywords(cls, value: list[str]) -> list[str]:
        distinct: dict[str, str] = {}
        for keyword in value:
            cleaned = keyword.strip()
            if cleaned and cleaned.lower() not in distinct:
                distinct[cleaned.lower()] = cleaned
        return list(distinct.values())[:_MAX_KEYWORDS]


class ChatCompletionsSummariser:
    """Summaries by an OpenAI-compatible ``POST {base_url}/chat/completions`` in JSON mode.

    ``base_url`` is the API's root, e.g. ``https://api.openai.com/v1`` or
    ``http://127.0.0.1:11434/v1``; ``api_key`` is sent as a bearer token when given; ``session``
    is the HTTP session, or what gives it once the service runs. The request
    holds a system prompt (the JSON wanted, in the meeting's language), a message with the
    meeting's title, language, context, participants and duration, and a last message with the
    transcript, one ``Speaker: text`` line per utterance.

    A transcript longer than ``max_transcript_chars`` (about 4 characters a token: the default
    fits a 16k-token context with room for the answer) keeps its first two thirds and its last
    third of that budget, whole lines only, with one ``[...]`` line between them that says how
    many lines and minutes were left out: the opening and the conclusions survive, the middle
    goes.
    """

    def __init__(self, *, base_url: str, api_key: str | None, model: str,
                 session: aiohttp.ClientSession | Callable[[], aiohttp.ClientSession],
                 timeout_s: float = 120.0, max_transcript_chars: int = 48_000,
                 temperature: float = 0.2) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key or None
        self._model = model
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._max_chars = max_transcript_chars
        self._temperature = temperature

    def request_body(self, *, title: str, language: str | None, context: str | None,
                     utterances: Sequence[Utterance]) -> dict[str, Any]:
        """The JSON body sent for this meeting."""
        code = normalise_language(language)
        wording = _WORDINGS.get(code or "")
        language_name = (wording.name if wording else code) if code else None
        transcript, cut = transcript_lines(utterances, self._max_chars)
        system = _SYSTEM_PROMPT.format(
            language=language_name or "the language of the transcript",
            gap=_GAP_NOTE if cut else "")
        spoken = [u for u in utterances if _words(u.text)]
        speakers = list(dict.fromkeys(u.speaker.strip() or "?" for u in spoken))
        about = [f"Meeting title: {title}",
                 f"Language: {f'{language_name} ({code})' if code else 'unknown'}"]
        if context:
            about.append(f"Context: {context}")
        about += [f"Participants: {', '.join(speakers)}",
                  f"Duration: {_duration(_minutes(spoken))}"]
        return {
            "model": self._model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": "\n".join(about)},
                {"role": "user", "content": "\n".join(transcript)},
            ],
            "temperature": self._temperature,
            "response_format": {"type": "json_object"},
        }

    async def summarise(self, *, title: str, language: str | None, context: str | None,
                        utterances: Sequence[Utterance]) -> MeetingSummary:
        if not any(_words(u.text) for u in utterances):
            return nothing_said(language)
        body = self.request_body(title=title, language=language, context=context,
                                 utterances=utterances)
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            async with self._http().post(self._url, json=body, headers=headers,
                                         timeout=self._timeout) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            raise SummaryUnavailable(
                f"the summary API did not answer within {self._timeout_s:g} s") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise SummaryUnavailable(
                f"the summary API could not be reached: {self._scrub(str(exc))}") from exc
        except aiohttp.ClientError as exc:
            raise SummaryError(f"the summary API request failed: {self._scrub(str(exc))}") from exc
        if not 200 <= status < 300:
            reason = self._scrub(_error_message(raw))
            error = SummaryUnavailable if status == 429 or status >= 500 else SummaryError
            raise error(f"the summary API answered HTTP {status}: {reason}")
        return self._parse(raw, status)

    def _http(self) -> aiohttp.ClientSession:
        session = self._session
        return session if isinstance(session, aiohttp.ClientSession) else session()

    def _parse(self, raw: bytes, status: int) -> MeetingSummary:
        try:
            completion = _ChatCompletion.model_validate_json(raw)
        except ValidationError as exc:
            raise SummaryError(f"the summary API answered HTTP {status} with no chat completion: "
                               f"{_first_error(exc)}") from exc
        if not completion.choices:
            raise SummaryError("the summary API answered no choice")
        choice = completion.choices[0]
        if choice.message.refusal:
            raise SummaryError(f"the model refused: {self._scrub(choice.message.refusal)}")
        if choice.finish_reason == "length":
            raise SummaryError("the model's answer was cut off (finish_reason length)")
        content = (choice.message.content or "").strip()
        if not content:
            raise SummaryError("the model answered an empty message")
        try:
            answer = _SummaryAnswer.model_validate(json.loads(_unfenced(content)))
        except json.JSONDecodeError as exc:
            raise SummaryError(f"the model's answer is not JSON ({exc.msg}): "
                               f"{_excerpt(content)}") from exc
        except ValidationError as exc:
            raise SummaryError(f"the model's answer is not the summary asked for: "
                               f"{_first_error(exc)}") from exc
        return MeetingSummary(summary=answer.summary, notes=answer.notes.strip(),
                              keywords=answer.keywords)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def transcript_lines(utterances: Sequence[Utterance], max_chars: int) -> tuple[list[str], bool]:
    """``Speaker: text`` lines of the utterances that hold words, and whether some were left
    out to stay within ``max_chars`` (see ChatCompletionsSummariser)."""
    spoken = [u for u in utterances if _words(u.text)]
    lines = [f"{u.speaker.strip() or '?'}: {' '.join(u.text.split())}" for u in spoken]
    if sum(len(line) + 1 for line in lines) <= max_chars:
        return lines, False
    room = max(0, max_chars - _GAP_LINE_ROOM)
    head_budget = room * 2 // 3
    head: list[int] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > head_budget:
            break
        head.append(index)
        used += len(line) + 1
    tail: list[int] = []
    used = 0
    for index in range(len(lines) - 1, head[-1] if head else -1, -1):
        if used + len(lines[index]) + 1 > room - head_budget:
            break
        tail.append(index)
        used += len(lines[index]) + 1
    tail.reverse()
    if not head and not tail:  # a budget smaller than one line
        return [lines[0][:max_chars]], True
    left_out = spoken[(head[-1] + 1 if head else 0):(tail[0] if tail else len(lines))]
    minutes = round((left_out[-1].end - left_out[0].start) / 60)
    gap = f"[... {len(left_out)} lines, about {minutes} min, left out ...]"
    return [lines[i] for i in head] + [gap] + [lines[i] for i in tail], True


def _error_message(raw: bytes) -> str:
    """The provider's own words: OpenAI's ``{"error": {"message"}}``, else the body's start."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return body["message"]
    return _excerpt(raw.decode("utf-8", "replace")) or "(empty body)"


def _unfenced(content: str) -> str:
    """The JSON inside a Markdown code fence, which some models add even in JSON mode."""
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", content, flags=re.DOTALL)
    return fenced.group(1) if fenced else content


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"
