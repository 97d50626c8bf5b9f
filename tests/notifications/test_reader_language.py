"""What the portal sends later (query notices, alerts, letters) is in the
language its reader reads the portal in: saved when they sign in, and when
they switch language while signed in. (Found by a walk through the portal:
nothing ever saved it, so every message was in Chinese.)"""

from __future__ import annotations

from portal import worker
from portal.accounts.models import User
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.notifications import services as notifications
from tests.accounts.helpers import login, new_user


def saved_locale(app, user_id):
    with app.app_context():
        return session().get(User, user_id).locale


def test_signing_in_saves_the_language_and_switching_changes_it(app, world):
    user_id = new_user(app, "reader@test.example")
    client = app.test_client()
    client.set_cookie("lang", "en")
    assert login(client, "reader@test.example").status_code == 302
    assert saved_locale(app, user_id) == "en"
    chinese = app.test_client()
    chinese.set_cookie("lang", "zh_CN")
    assert login(chinese, "reader@test.example").status_code == 302
    assert saved_locale(app, user_id) == "zh_CN"  # a code that fits the column, whatever Babel calls it
    client.get("/language/en?next=/")
    assert saved_locale(app, user_id) == "en"
    client.get("/language/zh_CN?next=/")
    assert saved_locale(app, user_id) == "zh_CN"
    client.get("/language/xx?next=/")  # not a language: nothing changes
    assert saved_locale(app, user_id) == "zh_CN"


def test_a_query_notice_follows_the_language_the_reader_signed_in_with(app, world, sign_in):
    english = app.test_client()
    english.set_cookie("lang", "en")
    sign_in(english, world.user_a)
    english.get("/language/en?next=/")  # as the language menu does
    with app.app_context():
        s = session()
        token = issue_api_key(s, s.get(Institution, world.bank.id), [ApiScope.QUERY])
        name_en = s.get(Institution, world.bank.id).name_en
        s.commit()
    app.test_client().get(
        "/api/v1/reports/11010519491231002X?purpose=loan_approval", headers={"Authorization": f"Bearer {token}"}
    )
    worker.integrate_log(app)
    worker.tell_of_queries(app)
    with app.app_context():
        messages, _total = notifications.inbox(session(), vault(), session().get(User, world.user_a.id))
    assert [m.title for m in messages] == [f"{name_en} was refused your credit report"]


def test_the_invitation_e_mail_writes_its_date_as_chinese_text_does(app, world, sign_in):
    """Found by a walk: the invitation said `2027-01-31` inside Chinese text."""
    from datetime import timedelta

    from babel.dates import format_date

    from portal.localtime import today as portal_today
    from tests.accounts.helpers import outbox
    from tests.accounts.test_delegation import invite

    rep = sign_in(app.test_client(), world.rep_f)
    rep.set_cookie("lang", "zh_CN")
    until = portal_today() + timedelta(days=90)
    assert invite(rep, world.firm_f.id, email="agent.zh@test.example", until=until).status_code == 302
    (mail,) = outbox(app, "agent.zh@test.example")
    assert until.isoformat() not in mail.body
    assert format_date(until, "medium", locale="zh_CN") in mail.body
