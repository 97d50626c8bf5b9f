"""Who accessed my data, split: what others did (institutions' queries,
officers opening the file) comes first, the subject's own activity (views,
authorities granted, the lock, their disputes' steps) apart, each paged on
its own. "I did not authorise this" only where someone else acted unasked;
the filter's end date is not an authority's "valid until"."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from portal.access import consents, lock
from portal.accounts.models import FirmDelegation, User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.compliance import assignment
from portal.compliance.reveal import reveal
from portal.disputes.lifecycle import advance
from portal.disputes.models import Dispute, DisputeStatus
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import today as portal_today
from portal.records.models import Subject

from ..factories import integrate
from ..officers import file_case, staff  # noqa: F401  # the fixture
from .test_pages import english, queries

S = DisputeStatus
NOT_MINE = "I did not authorise this"


def sections(html: str) -> tuple[str, str]:
    """The two lists of the page: (queries by others, your own activity)."""
    others = html.index('id="by-others"')
    own = html.index('id="own-activity"')
    assert others < own, "the others' list comes first"
    return html[others:own], html[own:]


def rows(section: str) -> list[str]:
    return re.findall(r"<tr class=\"outcome-.*?</tr>", section, re.S)


def a_busy_session(app, world, staff):  # noqa: F811
    """What one session of person A leaves: the bank's query, A's own grant
    to the bank, lock and unlock, a dispute an officer moves along, forwards
    to the bank and, with a reason, reveals the name of."""
    queries(app, world, 1)
    dispute_id = file_case(app, world)
    with app.app_context():
        s, v = session(), vault()
        a, user_a = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        bank = s.get(Institution, world.bank.id)
        consents.grant(s, v, a, bank, "loan_approval", portal_today() + timedelta(days=30), user_a)
        lock.set_lock(s, v, a, user_a)
        lock.release_lock(s, v, a, user_a)
        dispute, officer = s.get(Dispute, dispute_id), s.get(User, staff.officer.id)
        assignment.assign(s, v, dispute, officer)
        for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER):
            advance(s, v, dispute, to, officer, "Asked the bank." if to is S.WAITING_FOR_FURNISHER else None)
        reveal(s, v, dispute, officer, "To match the statement against the bank's file.")
        s.commit()
        integrate(s)
    return dispute_id


def test_others_come_first_and_the_link_is_only_where_someone_else_acted(app, world, sign_in, staff):  # noqa: F811
    a_busy_session(app, world, staff)
    client = english(sign_in(app.test_client(), world.user_a))
    others, own = sections(client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True))

    assert "Queries by others" in others
    by_others = rows(others)
    query = [r for r in by_others if "Report requested by an institution" in r]
    revealed = [r for r in by_others if "Name and identifier shown to an officer" in r]
    assert len(query) == len(revealed) == 1
    assert "Test Bank" in query[0]
    assert NOT_MINE in query[0]  # an institution's query
    assert NOT_MINE in revealed[0]  # an officer's reveal
    assert "To match the statement" in revealed[0]
    for kind in ("Authority granted", "File locked", "File unlocked", "Dispute filed", "Dispute updated"):
        assert kind not in others, kind

    mine = rows(own)
    granted = [r for r in mine if "Authority granted" in r]
    forwarded = [r for r in mine if "Dispute sent to the furnisher" in r]
    assert len(granted) == len(forwarded) == 1
    # The grant is A's own act, naming the bank as whom it authorises, never as who acted.
    who = re.search(r'data-label="Who">(.*?)<br>', granted[0], re.S).group(1).strip()
    assert who == "You"
    assert "Institution: Test Bank" in granted[0]
    assert "Portal staff (compliance officer)" in forwarded[0]
    for kind in ("File locked", "File unlocked", "Dispute filed"):
        assert kind in own, kind
    assert NOT_MINE not in own  # nothing of A's own, nor A's dispute being forwarded, offers it


def test_own_views_do_not_push_the_institutions_queries_off_the_first_page(app, world, sign_in):
    """The flood of the walk: the bank's query, then thirty views of A's
    own. The query stays on the first page; A's activity pages on its own."""
    queries(app, world, 1)
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/access"
    for _ in range(30):
        assert client.get(f"/subjects/{world.person_a.id}/report").status_code == 200
    html = client.get(url).get_data(as_text=True)
    others, own = sections(html)
    assert len(rows(others)) == 1
    assert "Test Bank" in rows(others)[0]
    assert len(rows(own)) == 25  # a full page of A's own views
    assert "Page 1 of 2" in own
    assert f"{url}?own=2#own-activity-list" in own

    second = client.get(url, query_string={"own": "2"}).get_data(as_text=True)
    others2, own2 = sections(second)
    assert "Test Bank" in rows(others2)[0]  # the others' list stays on its first page
    assert "Page 2 of 2" in own2
    assert 0 < len(rows(own2)) < 25
    assert client.get(url, query_string={"own": "9"}).status_code == 404
    assert client.get(url, query_string={"own": "x"}).status_code == 404


def test_filters_apply_to_both_lists_and_fold_away_until_used(app, world, sign_in):
    queries(app, world, 2)
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/access"
    html = client.get(url).get_data(as_text=True)
    assert re.search(r'<details class="filter-panel">\s*<summary>', html)  # folded: no filter applied
    refused = client.get(url, query_string={"outcome": "refused"}).get_data(as_text=True)
    assert '<details class="filter-panel" open>' in refused
    others, own = sections(refused)
    assert rows(others) == []
    assert rows(own) == []
    assert others.count("Nothing matches these filters.") == own.count("Nothing matches these filters.") == 1


def test_the_filters_end_date_is_not_an_authoritys_valid_until(app, world, sign_in):
    """The msgid "Until" is an authority's end in the consents' table, which
    Chinese renders as 有效期至 (valid until): the filter has its own."""
    client = english(sign_in(app.test_client(), world.user_a))
    html = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    label = re.search(r'<label for="until">(.*?)</label>', html).group(1)
    assert label == "Up to and including"
    client.set_cookie("lang", "zh_CN")
    html = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert re.search(r'<label for="until">(.*?)</label>', html).group(1) != "有效期至"


def test_an_agent_sees_the_firms_split_log_without_the_link_when_it_cannot_dispute(app, world, sign_in):
    with app.app_context():
        s, v = session(), vault()
        s.scalar(select(FirmDelegation).where(FirmDelegation.agent_id == world.agent_f.id)).scopes = ["view_report"]
        record_event(
            s,
            v,
            s.get(Subject, world.firm_f.id),
            EventKind.INSTITUTION_QUERY,
            channel="api",
            institution_id=world.bank.id,
            purpose="loan_approval",
            detail={"basis": "consent"},
        )
        s.commit()
    agent = english(sign_in(app.test_client(), world.agent_f))
    assert agent.get(f"/subjects/{world.firm_f.id}/report").status_code == 200
    html = agent.get(f"/subjects/{world.firm_f.id}/access").get_data(as_text=True)
    others, own = sections(html)
    assert "Test Bank" in others
    assert NOT_MINE not in html  # viewing only: filing a dispute is not theirs
    own_views = [r for r in rows(own) if "Viewed on the portal" in r]
    assert own_views
    assert all('data-label="Who">You' in r for r in own_views)  # the agent's own views
