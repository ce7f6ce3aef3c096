"""Every subject's golden example round-trips through its contract unchanged."""

import json
from pathlib import Path

import pytest

import mb_shared.contracts as contracts
from mb_shared.contracts.bot import LEGAL_TRANSITIONS, BotStatus, is_legal_transition

GOLDEN = Path(contracts.__file__).parent / "golden"
ALL = {**contracts.EVENTS, **contracts.QUERIES}


def test_every_subject_has_a_golden_example():
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(ALL)


@pytest.mark.parametrize("subject", sorted(ALL))
def test_golden_example_round_trips(subject):
    golden = json.loads((GOLDEN / f"{subject}.json").read_text())
    model = ALL[subject].model_validate(golden)
    assert model.model_dump(mode="json") == golden


@pytest.mark.parametrize("subject", sorted(contracts.EVENTS))
def test_events_carry_id_time_and_version(subject):
    golden = json.loads((GOLDEN / f"{subject}.json").read_text())
    assert {"event_id", "occurred_at", "schema_version"} <= golden.keys()


@pytest.mark.parametrize("subject", sorted(ALL))
def test_consumers_ignore_unknown_fields(subject):
    golden = json.loads((GOLDEN / f"{subject}.json").read_text())
    model = ALL[subject].model_validate({**golden, "field_from_the_future": 1})
    assert "field_from_the_future" not in model.model_dump()


def test_terminal_statuses_have_no_way_out():
    for status in BotStatus:
        assert (not LEGAL_TRANSITIONS[status]) == status.is_terminal


def test_a_bot_cannot_go_back_into_the_call():
    assert not is_legal_transition(BotStatus.CALL_ENDED, BotStatus.IN_CALL_RECORDING)
    assert not is_legal_transition(BotStatus.FAILED, BotStatus.JOINING_CALL)
    assert is_legal_transition(BotStatus.IN_WAITING_ROOM, BotStatus.IN_CALL_NOT_RECORDING)
