"""The topics every organisation can give a meeting: each sets the meeting's language (what its
transcript and summary are made in) and a context for the summary."""

from __future__ import annotations

from mb_shared.contracts.meetings import Topic

LANGUAGES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}

_CONTEXTS = (
    ("sales", "Sales call", "A call between a seller and a prospective customer: needs, "
     "objections, pricing and next steps."),
    ("interview", "Job interview", "An interview of a candidate: experience, skills, questions "
     "asked and the impression left."),
    ("standup", "Team stand-up", "A short team meeting: what each person did, will do, and what "
     "blocks them."),
    ("support", "Customer support", "A customer's problem, what was tried, and how it was or "
     "will be solved."),
)


def _catalogue() -> list[Topic]:
    topics = [Topic(id=n, name=f"General ({name})", alias=f"general-{code}", language=code)
              for n, (code, name) in enumerate(LANGUAGES.items(), start=1)]
    topics += [Topic(id=len(topics) + n, name=name, alias=alias, language="en", context=context)
               for n, (alias, name, context) in enumerate(_CONTEXTS, start=1)]
    return topics


TOPICS = _catalogue()
BY_ID = {topic.id: topic for topic in TOPICS}
DEFAULT_LANGUAGE = "en"
