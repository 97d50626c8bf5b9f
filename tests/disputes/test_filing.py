import pytest

from portal.audit.models import AccessEvent, EventKind
from portal.disputes import services
from portal.disputes.evidence import EvidenceRejected, Upload
from portal.disputes.lifecycle import advance
from portal.disputes.models import (
    Dispute,
    DisputeItem,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    Evidence,
    Regime,
    StepKind,
)
from portal.disputes.services import DuplicateDispute, file_dispute, is_disputed

from .conftest import EXE, PDF, PNG, count, events_of


def _file(db, v, cast, records=None, reason=DisputeReason.WRONG_AMOUNT, **kw):
    kw.setdefault("statement", "The balance is wrong: I repaid it in 2024.")
    return file_dispute(db, v, cast.a, cast.user_a, records or [cast.loan_a.id], reason, **kw)


def test_filing_writes_dispute_items_step_evidence_and_event(db, the_vault, cast):
    from datetime import date

    before = events_of(db, cast.a)
    d = _file(
        db,
        the_vault,
        cast,
        [cast.loan_a.id, cast.card_a.id],
        files=[Upload("receipt.pdf", PDF)],
        today=date(2026, 3, 1),
    )
    db.commit()
    assert d.status is DisputeStatus.SUBMITTED
    assert d.regime is Regime.CN_20_DAYS
    assert d.due_on == date(2026, 3, 21)
    assert d.lock_version == 1
    assert {i.record_id for i in d.items} == {cast.loan_a.id, cast.card_a.id}
    assert services.statement(db, the_vault, d) == "The balance is wrong: I repaid it in 2024."
    assert b"repaid" not in d.statement_ct
    assert [s.step for s in d.steps] == [StepKind.FILED]
    assert d.steps[0].actor_user_id == cast.user_a.id
    assert len(d.evidence) == 1
    assert d.evidence[0].media_type == "application/pdf"
    assert events_of(db, cast.a) == before + 1
    event = db.get(AccessEvent, d.steps[0].event_id)
    assert event.kind is EventKind.DISPUTE_FILED
    assert event.actor_user_id == cast.user_a.id
    assert is_disputed(db, cast.loan_a.id)
    assert is_disputed(db, cast.card_a.id)
    assert not is_disputed(db, cast.loan_b.id)
    assert services.disputed_records(db, [cast.loan_a.id, cast.loan_b.id]) == {cast.loan_a.id}


def test_other_regimes(db, the_vault, cast):
    from datetime import date

    d = _file(db, the_vault, cast, regime="gdpr_one_month", today=date(2026, 1, 31))
    assert d.due_on == date(2026, 2, 28)


def test_duplicate_open_dispute_refused_with_its_id(db, the_vault, cast):
    first = _file(db, the_vault, cast, [cast.loan_a.id, cast.card_a.id])
    db.commit()
    with pytest.raises(DuplicateDispute) as refused:
        _file(db, the_vault, cast, [cast.card_a.id])
    assert refused.value.open_id == first.id
    db.rollback()
    # A new reason on the same record is allowed.
    second = _file(db, the_vault, cast, [cast.card_a.id], reason=DisputeReason.OUTDATED)
    db.commit()
    assert second.id != first.id
    assert count(db, Dispute, Dispute.subject_id == cast.a.id) == 2


def test_same_reason_allowed_again_once_the_first_is_closed(db, the_vault, cast):
    first = _file(db, the_vault, cast)
    advance(db, the_vault, first, DisputeStatus.WITHDRAWN, cast.user_a, "sorted out with the bank")
    db.commit()
    assert not is_disputed(db, cast.loan_a.id)
    again = _file(db, the_vault, cast)
    db.commit()
    assert again.id != first.id
    assert is_disputed(db, cast.loan_a.id)


def test_record_of_another_subject_refused(db, the_vault, cast):
    before = events_of(db, cast.a)
    with pytest.raises(ValueError, match="your own report"):
        _file(db, the_vault, cast, [cast.loan_a.id, cast.loan_b.id])
    with pytest.raises(ValueError, match="your own report"):
        _file(db, the_vault, cast, ["not-a-uuid"])
    db.rollback()
    assert count(db, Dispute) == 0
    assert events_of(db, cast.a) == before


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"statement": ""}, "statement"),
        ({"statement": "x" * 2001}, "at most 2000"),
        ({"reason": "made_up"}, "reason"),
        ({"regime": "forever"}, "regime"),
    ],
)
def test_bad_input_refused(db, the_vault, cast, kw, message):
    with pytest.raises(ValueError, match=message):
        _file(db, the_vault, cast, **kw)
    assert count(db, Dispute) == 0


def test_statement_at_the_limit_accepted(db, the_vault, cast):
    d = _file(db, the_vault, cast, statement="字" * 2000)
    assert services.statement(db, the_vault, d) == "字" * 2000


def test_nothing_written_when_a_file_is_bad(db, the_vault, cast):
    before = events_of(db, cast.a)
    with pytest.raises(EvidenceRejected, match="not a PDF, PNG or JPEG"):
        _file(db, the_vault, cast, files=[Upload("a.pdf", PDF), Upload("setup.pdf", EXE)])
    with pytest.raises(EvidenceRejected, match="at most 5"):
        _file(db, the_vault, cast, files=[Upload(f"{i}.png", PNG) for i in range(6)])
    db.commit()
    for model in (Dispute, DisputeItem, DisputeStep, Evidence):
        assert count(db, model) == 0
    assert events_of(db, cast.a) == before


def test_dispute_of_an_access_event(db, the_vault, cast):
    from portal.audit.events import record_event

    event = record_event(db, the_vault, cast.a, EventKind.INSTITUTION_QUERY, channel="api")
    d = file_dispute(
        db,
        the_vault,
        cast.a,
        cast.user_a,
        [],
        DisputeReason.UNAUTHORISED_ACCESS,
        "I never asked this bank for a loan.",
        access_event_id=event.id,
    )
    assert d.access_event_id == event.id
    assert d.items == []
    with pytest.raises(DuplicateDispute) as refused:
        file_dispute(
            db, the_vault, cast.a, cast.user_a, [], DisputeReason.UNAUTHORISED_ACCESS, "again", access_event_id=event.id
        )
    assert refused.value.open_id == d.id
    other = record_event(db, the_vault, cast.b, EventKind.INSTITUTION_QUERY, channel="api")
    with pytest.raises(ValueError, match="your own log"):
        file_dispute(
            db,
            the_vault,
            cast.a,
            cast.user_a,
            [],
            DisputeReason.UNAUTHORISED_ACCESS,
            "not mine",
            access_event_id=other.id,
        )
    with pytest.raises(ValueError, match="at least one"):
        file_dispute(db, the_vault, cast.a, cast.user_a, [], DisputeReason.OTHER, "nothing chosen")


def test_statement_sealed_for_its_row(db, the_vault, cast):
    from portal.crypto.errors import DecryptionFailed

    one = _file(db, the_vault, cast)
    two = _file(db, the_vault, cast, [cast.card_a.id])
    two.statement_ct = one.statement_ct  # moved to another row: does not open
    with pytest.raises(DecryptionFailed):
        services.statement(db, the_vault, two)
