"""Institutions in the operator console, through HTTP as an administrator
with a second factor: the list, creating one (and every refusal of its
form), changing its settings (the journal names what changed, never the
contact), suspending and lifting its querying (the API refuses, then
answers again), and its API keys: issued, used, rotated and revoked, each
new token shown once and never again. Nobody else reaches these pages, and
`portal institutions create` calls the same service."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.admin.cli import institutions_cli
from portal.audit.models import OperatorAct
from portal.extensions import session, vault
from portal.institutions.keys import revoke_key
from portal.institutions.models import ApiKey, ApiScope, Institution, InstitutionKind, InstitutionSuspension
from portal.institutions.services import issue_api_key
from portal.models import all_models
from tests import factories as make
from tests.accounts.helpers import where
from tests.api.conftest import bearer, furnish_body, grant, is_problem
from tests.factories import PERSON_A
from tests.officers import as_user, token

URL = "/admin/institutions"
TOKEN = re.compile(r"pk_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}")
CONTACT_NAME, CONTACT_EMAIL = "赵六", "zhao.liu@lender.example"
GOOD = {
    "code": "east-lender",
    "name": "东方贷款公司",
    "name_en": "East Lender",
    "kind": "lender",
    "purposes": ["loan_approval", "post_loan_management"],
    "furnishes": "listed",
    "categories": ["loan", "credit_card"],
    "contact_name": CONTACT_NAME,
    "contact_email": CONTACT_EMAIL,
    "query_hours_from": "8",
    "query_hours_until": "20",
}


# -- helpers ------------------------------------------------------------------------------
def post(client, url, fields=None, prefix=None, csrf=True):
    """A form as the page sends it: field names carry the form's prefix."""
    name = (lambda k: f"{prefix}-{k}") if prefix else (lambda k: k)
    data = {name(k): v for k, v in (fields or {}).items()}
    if csrf:
        data[name("csrf_token")] = token(client)
    return client.post(url, data=data)


def create(client, **changes):
    return post(client, f"{URL}/new", {**GOOD, **changes})


def acts(app, action=None):
    with app.app_context():
        rows = session().scalars(select(OperatorAct).order_by(OperatorAct.at, OperatorAct.id)).all()
        return [a for a in rows if action is None or a.action == action]


def institution(app, code) -> Institution:
    with app.app_context():
        found = session().scalar(select(Institution).where(Institution.code == code))
        if found is not None:
            session().expunge(found)
        return found


def contact(app, code) -> tuple[str, str]:
    with app.app_context():
        s = session()
        inst = s.scalar(select(Institution).where(Institution.code == code))
        cipher = vault().cipher(s, inst.data_key_id)
        return cipher.open_text(inst, "contact_name"), cipher.open_text(inst, "contact_email")


def counts(app) -> dict[str, int]:
    with app.app_context():
        s = session()
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in all_models().sorted_tables}


def page_url(institution_id) -> str:
    return f"{URL}/{institution_id}"


def furnishes(app, tok, **record) -> int:
    body = furnish_body(**{"reference": f"R-{uuid.uuid4().hex[:8]}", **record})
    return app.test_client().post("/api/v1/records", json=body, headers=bearer(tok)).status_code


def issue(client, institution_id, scopes=("furnish", "query")):
    return post(client, f"{page_url(institution_id)}/keys", {"scopes": list(scopes)}, prefix="issue")


def token_in(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    found = TOKEN.findall(response.get_data(as_text=True))
    assert len(found) == 1, found
    return found[0]


def key_id(tok: str) -> str:
    return tok[3:19]


# -- the list -----------------------------------------------------------------------------
def test_the_list_shows_each_institution_with_its_settings_and_live_keys(app, world, admins, as_admin):
    admin = as_admin()
    with app.app_context():
        s, v = session(), vault()
        court = make.institution(s, v, "city-court", InstitutionKind.COURT, ["court_enforcement"])
        court.allowed_categories = ["court_judgment", "dishonest_debtor"]
        court.suspended_at, court.suspended_reason = court.created_at, "Under review."
        bank = s.get(Institution, world.bank.id)
        issue_api_key(s, bank, [ApiScope.QUERY])
        issue_api_key(s, bank, [ApiScope.FURNISH])
        revoke_key(s, key_id(issue_api_key(s, bank, [ApiScope.FURNISH])), actor_id=None, channel="cli")
        s.commit()
    html = admin.get(URL).get_data(as_text=True)
    rows = dict(re.findall(r'<tr class="institution-row" data-code="([a-z0-9-]+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {"test-bank", "city-court"}
    assert "Test Bank" in rows["test-bank"]
    assert "Any" in rows["test-bank"]
    assert "Suspended" not in rows["test-bank"]
    assert re.search(r'class="number live-keys">2<', rows["test-bank"])
    assert "Court judgments, Dishonest judgment debtor listings" in rows["city-court"]
    assert "Suspended" in rows["city-court"]
    assert re.search(r'class="number live-keys">0<', rows["city-court"])
    assert re.search(r'class="number purposes">1<', rows["city-court"])
    assert f'href="{URL}/new"' in html


def test_an_empty_list_says_so_and_pages_past_the_end_are_404(app, admins, as_admin):
    admin = as_admin()
    html = admin.get(URL).get_data(as_text=True)
    assert "No institution yet" in html
    for page in ("2", "0", "x"):
        assert admin.get(f"{URL}?page={page}").status_code == 404


def test_the_list_is_paged_by_fifty(app, world, admins, as_admin):
    with app.app_context():
        s, v = session(), vault()
        for n in range(50):
            make.institution(s, v, f"inst-{n:02d}")
        s.commit()
    admin = as_admin()
    first, second = admin.get(URL), admin.get(f"{URL}?page=2")
    assert first.status_code == second.status_code == 200
    assert first.get_data(as_text=True).count('class="institution-row"') == 50
    assert second.get_data(as_text=True).count('class="institution-row"') == 1  # test-bank comes last by code
    assert 'data-code="test-bank"' in second.get_data(as_text=True)
    assert admin.get(f"{URL}?page=3").status_code == 404


# -- creating -----------------------------------------------------------------------------
def test_an_administrator_creates_an_institution(app, world, admins, as_admin):
    admin = as_admin()
    assert admin.get(f"{URL}/new").status_code == 200
    response = create(admin)
    assert response.status_code == 302, response.get_data(as_text=True)
    created = institution(app, "east-lender")
    assert where(response) == page_url(created.id)
    assert created.name == "东方贷款公司"
    assert created.name_en == "East Lender"
    assert created.kind is InstitutionKind.LENDER
    assert created.allowed_purposes == ["loan_approval", "post_loan_management"]
    assert created.allowed_categories == ["loan", "credit_card"]
    assert (created.query_hours_from, created.query_hours_until) == (8, 20)
    assert contact(app, "east-lender") == (CONTACT_NAME, CONTACT_EMAIL)
    assert CONTACT_EMAIL.encode() not in created.contact_email_ct  # sealed

    [act] = acts(app, "institution_created")
    assert (act.actor_user_id, act.channel, act.target_kind, act.target) == (
        admins.first.id,
        "web",
        "institution",
        "east-lender",
    )
    assert act.detail["purposes"] == ["loan_approval", "post_loan_management"]
    assert act.detail["categories"] == ["loan", "credit_card"]
    assert CONTACT_NAME not in str(act.detail)
    assert CONTACT_EMAIL not in str(act.detail)

    html = admin.get(where(response)).get_data(as_text=True)
    assert "East Lender" in html
    assert CONTACT_EMAIL in html
    assert "08:00 to 20:00" in html
    assert 'data-code="east-lender"' in admin.get(URL).get_data(as_text=True)


@pytest.mark.parametrize(
    ("furnishes", "categories", "purposes", "stored"),
    [
        ("any", [], ["loan_approval"], None),
        ("none", [], ["loan_approval"], []),
        ("listed", ["tax_arrears"], [], ["tax_arrears"]),
    ],
)
def test_what_it_may_furnish_is_a_deliberate_choice(app, admins, as_admin, furnishes, categories, purposes, stored):
    response = create(as_admin(), furnishes=furnishes, categories=categories, purposes=purposes)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert institution(app, "east-lender").allowed_categories == stored


REFUSALS = [
    ({"code": "East Lender"}, "code", "lowercase letters, digits and hyphens"),
    ({"code": "e"}, "code", "2 to 32 characters"),
    ({"code": "-east"}, "code", "starting and ending with a letter or a digit"),
    ({"code": "test-bank"}, "code", "taken by another institution"),
    ({"name": ""}, "name", "This field is required."),
    ({"name_en": "x" * 201}, "name_en", "200"),
    ({"kind": ""}, "kind", "This field is required."),
    ({"kind": "casino"}, "kind", "Not a valid choice"),
    ({"contact_name": "  "}, "contact_name", "This field is required."),
    ({"contact_email": "not-an-address"}, "contact_email", "Enter a valid e-mail address."),
    ({"purposes": ["self_query"]}, "purposes", "not a valid choice"),
    ({"purposes": ["court_enforcement"]}, "purposes", "Only a court may query for court enforcement."),
    ({"furnishes": ""}, "furnishes", "Choose what it may furnish."),
    ({"furnishes": "listed", "categories": []}, "categories", "Tick the categories it may furnish."),
    ({"furnishes": "any"}, "categories", "Tick categories only when it may furnish only those"),
    ({"categories": ["jewels"]}, "categories", "not a valid choice"),
    ({"purposes": [], "furnishes": "none", "categories": []}, "purposes", "It may neither query nor furnish"),
    ({"query_hours_until": ""}, "query_hours_until", "Give both hours, or neither"),
    ({"query_hours_until": "8"}, "query_hours_until", "The hours must differ"),
    ({"query_hours_from": "24"}, "query_hours_from", "A whole hour from 0 to 23."),
    ({"name": "bad\x07name"}, "name", "control characters"),
]


@pytest.mark.parametrize(("changes", "field", "words"), REFUSALS, ids=[f"{r[1]}-{i}" for i, r in enumerate(REFUSALS)])
def test_every_refusal_of_the_new_institution_form(app, world, admins, as_admin, changes, field, words):
    admin = as_admin()
    before = counts(app)
    response = create(admin, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, (changes, response.status_code)
    assert 'class="error-summary"' in html
    assert f'href="#{field}"' in html, field
    assert words.lower() in html.lower(), words
    assert counts(app) == before
    # What was typed is kept.
    assert 'value="东方贷款公司"' in html or field == "name"
    assert f'value="{CONTACT_EMAIL}"' in html or field == "contact_email"
    assert re.search(r'value="loan"[^>]*checked|checked[^>]*value="loan"', html) or "categories" in changes


def test_a_form_without_its_csrf_token_is_refused(app, world, admins, as_admin):
    admin = as_admin()
    before = counts(app)
    assert post(admin, f"{URL}/new", GOOD, csrf=False).status_code == 400
    assert post(admin, f"{page_url(world.bank.id)}/keys", {"scopes": ["query"]}, "issue", csrf=False).status_code == 400
    assert counts(app) == before


# -- one institution: settings --------------------------------------------------------------
def test_an_unknown_institution_or_key_is_404(app, world, admins, as_admin):
    admin = as_admin()
    assert admin.get(page_url(uuid.uuid4())).status_code == 404
    assert admin.get(f"{URL}/not-a-uuid").status_code == 404
    assert (
        post(admin, f"{page_url(uuid.uuid4())}/suspend", {"reason": "x", "confirm": "y"}, "suspension").status_code
        == 404
    )
    for bad in ("0123456789abcdef", "NOT-A-KEY"):
        assert (
            post(admin, f"{page_url(world.bank.id)}/keys/{bad}/revoke", {"confirm": "y"}, f"revoke-{bad}").status_code
            == 404
        )


def test_settings_change_and_the_journal_names_what_changed_without_the_contact(app, world, admins, as_admin):
    admin = as_admin()
    url = f"{page_url(world.bank.id)}/settings"
    page = admin.get(page_url(world.bank.id)).get_data(as_text=True)
    assert "ops@bank.example" in page  # the form is filled in with what is on file
    fields = {
        "contact_name": "钱七",
        "contact_email": "new.contact@bank.example",
        "purposes": ["loan_approval", "credit_card_approval"],
        "furnishes": "listed",
        "categories": ["loan"],
    }
    response = post(admin, url, fields, "settings")
    assert response.status_code == 302, response.get_data(as_text=True)
    bank = institution(app, "test-bank")
    assert bank.allowed_purposes == ["loan_approval", "credit_card_approval"]
    assert bank.allowed_categories == ["loan"]
    assert contact(app, "test-bank") == ("钱七", "new.contact@bank.example")
    [act] = acts(app, "institution_changed")
    assert act.target == "test-bank"
    assert act.actor_user_id == admins.first.id
    assert act.detail == {
        "changed": ["contact", "purposes", "categories"],
        "contact_changed": True,
        "purposes": ["loan_approval", "credit_card_approval"],
        "categories": ["loan"],
    }
    for value in ("钱七", "new.contact@bank.example", "王五", "ops@bank.example"):
        assert value not in str(act.detail)

    # The same again changes nothing and writes nothing; only categories: only they are named.
    assert post(admin, url, fields, "settings").status_code == 302
    assert len(acts(app, "institution_changed")) == 1
    assert post(admin, url, {**fields, "furnishes": "any", "categories": []}, "settings").status_code == 302
    assert acts(app, "institution_changed")[-1].detail == {"changed": ["categories"], "categories": None}
    assert institution(app, "test-bank").allowed_categories is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"contact_email": "nobody"}, "settings-contact_email", "Enter a valid e-mail address."),
        ({"contact_name": ""}, "settings-contact_name", "This field is required."),
        ({"furnishes": "listed", "categories": []}, "settings-categories", "Tick the categories"),
        ({"purposes": ["court_enforcement"]}, "settings-purposes", "Only a court"),
    ],
)
def test_refused_settings_change_nothing(app, world, admins, as_admin, changes, field, words):
    admin = as_admin()
    fields = {
        "contact_name": "钱七",
        "contact_email": "new.contact@bank.example",
        "purposes": ["loan_approval"],
        "furnishes": "any",
        **changes,
    }
    before = counts(app)
    response = post(admin, f"{page_url(world.bank.id)}/settings", fields, "settings")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'href="#{field}"' in html
    assert words in html
    assert counts(app) == before
    assert contact(app, "test-bank") == ("王五", "ops@bank.example")
    if "contact_name" not in changes:
        assert 'value="钱七"' in html  # typed input kept


# -- suspension -------------------------------------------------------------------------------
def seen_step(client, institution_id) -> str:
    html = client.get(page_url(institution_id)).get_data(as_text=True)
    return re.search(r'name="suspension-seen" type="hidden" value="([^"]*)"', html).group(1)


def test_suspend_then_lift_and_the_api_follows(app, world, admins, as_admin):
    admin = as_admin()
    tok = token_in(issue(admin, world.bank.id, ["query"]))
    consent = grant(app, world.person_a.id, world.bank.id)
    ask = lambda: app.test_client().get(  # noqa: E731
        f"/api/v1/reports/{PERSON_A}?purpose=loan_approval&consent={consent}", headers=bearer(tok)
    )
    assert ask().status_code == 200

    url = f"{page_url(world.bank.id)}/suspend"
    seen = seen_step(admin, world.bank.id)
    # A reason and the confirmation are both needed.
    for fields in ({"reason": "Too many queries at night.", "seen": seen}, {"confirm": "y", "seen": seen}):
        before = counts(app)
        refused = post(admin, url, fields, "suspension")
        assert refused.status_code == 400
        assert "error-summary" in refused.get_data(as_text=True)
        assert counts(app) == before
    done = post(admin, url, {"reason": "Too many queries at night.", "confirm": "y", "seen": seen}, "suspension")
    assert done.status_code == 302
    problem = is_problem(ask(), 403)
    assert problem["type"] == "urn:portal:problem:querying-suspended"
    assert problem["detail"] == "Too many queries at night."
    assert "Suspended" in admin.get(page_url(world.bank.id)).get_data(as_text=True)

    # Suspending again, or with the stale page, changes nothing.
    again = post(admin, url, {"reason": "Again.", "confirm": "y", "seen": seen}, "suspension")
    assert again.status_code == 409
    assert "already suspended" in again.get_data(as_text=True)
    stale = post(admin, f"{page_url(world.bank.id)}/lift", {"reason": "Reviewed.", "seen": seen}, "suspension")
    assert stale.status_code == 409
    assert "changed since you opened the page" in stale.get_data(as_text=True)
    assert is_problem(ask(), 403)

    lifted = post(
        admin,
        f"{page_url(world.bank.id)}/lift",
        {"reason": "Reviewed.", "seen": seen_step(admin, world.bank.id)},
        "suspension",
    )
    assert lifted.status_code == 302
    assert ask().status_code == 200

    steps = [a.action for a in acts(app) if a.target_kind == "institution"]
    assert steps == ["institution_suspended", "institution_lifted"]
    with app.app_context():
        history = (
            session()
            .scalars(select(InstitutionSuspension).where(InstitutionSuspension.institution_id == world.bank.id))
            .all()
        )
        assert sorted((h.action, h.actor_user_id) for h in history) == [
            ("lifted", admins.first.id),
            ("suspended", admins.first.id),
        ]
        assert {a.detail["step"] for a in acts(app) if a.target_kind == "institution"} == {str(h.id) for h in history}


# -- API keys ---------------------------------------------------------------------------------
def test_a_key_is_issued_shown_once_and_works(app, world, admins, as_admin):
    admin = as_admin()
    response = issue(admin, world.bank.id, ["furnish"])
    tok = token_in(response)
    html = response.get_data(as_text=True)
    assert "not shown again" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert furnishes(app, tok) == 201

    secret = tok.split(".")[1]
    later = admin.get(page_url(world.bank.id)).get_data(as_text=True)
    assert secret not in later
    assert tok not in later
    assert key_id(tok) in later  # listed by its id
    assert not TOKEN.search(later)
    with app.app_context():
        key = session().scalar(select(ApiKey).where(ApiKey.key_id == key_id(tok)))
        assert key.scopes == ["furnish"]
        assert key.last_used_at is not None

    [act] = acts(app, "api_key_issued")
    assert (act.target_kind, act.target, act.channel, act.actor_user_id) == (
        "api_key",
        key_id(tok),
        "web",
        admins.first.id,
    )
    assert act.detail == {"institution": "test-bank", "scopes": ["furnish"]}
    assert secret not in str(act.detail)


def test_issuing_needs_a_scope_it_can_use(app, world, admins, as_admin):
    admin = as_admin()
    with app.app_context():
        s, v = session(), vault()
        furnisher = make.institution(s, v, "furnisher-only", purposes=[])
        s.commit()
        furnisher_id = furnisher.id
    before = counts(app)
    for institution_id, scopes, words in (
        (world.bank.id, [], "Tick at least one."),
        (world.bank.id, ["admin"], "not a valid choice"),
        (furnisher_id, ["query"], "It may not query for any purpose"),
    ):
        refused = issue(admin, institution_id, scopes)
        assert refused.status_code == 400, scopes
        assert words in refused.get_data(as_text=True)
        assert not TOKEN.search(refused.get_data(as_text=True))
    assert counts(app) == before


def test_rotate_retires_the_old_token_and_revoke_ends_the_new(app, world, admins, as_admin):
    admin = as_admin()
    old = token_in(issue(admin, world.bank.id, ["furnish", "query"]))
    base = f"{page_url(world.bank.id)}/keys"

    # Rotation needs its confirmation.
    before = counts(app)
    assert post(admin, f"{base}/{key_id(old)}/rotate", {}, f"rotate-{key_id(old)}").status_code == 400
    assert counts(app) == before
    assert furnishes(app, old) == 201

    rotated = post(admin, f"{base}/{key_id(old)}/rotate", {"confirm": "y"}, f"rotate-{key_id(old)}")
    new = token_in(rotated)
    assert new != old
    assert "not shown again" in rotated.get_data(as_text=True)
    assert is_problem(app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(old)), 401)
    assert furnishes(app, new) == 201
    with app.app_context():
        assert session().scalar(select(ApiKey.scopes).where(ApiKey.key_id == key_id(new))) == ["furnish", "query"]
    [act] = acts(app, "api_key_rotated")
    assert act.target == key_id(old)
    assert act.detail == {"institution": "test-bank", "new_key": key_id(new), "scopes": ["furnish", "query"]}
    assert not TOKEN.search(admin.get(page_url(world.bank.id)).get_data(as_text=True))

    # A revoked key is not rotated, with a clear error, and nothing is written.
    before = counts(app)
    again = post(admin, f"{base}/{key_id(old)}/rotate", {"confirm": "y"}, f"rotate-{key_id(old)}")
    assert again.status_code == 409
    assert "revoked: it cannot be rotated" in again.get_data(as_text=True)
    assert not TOKEN.search(again.get_data(as_text=True))
    assert counts(app) == before

    # Revocation needs its confirmation, then the key is refused.
    assert post(admin, f"{base}/{key_id(new)}/revoke", {}, f"revoke-{key_id(new)}").status_code == 400
    assert furnishes(app, new) == 201
    revoked = post(admin, f"{base}/{key_id(new)}/revoke", {"confirm": "y"}, f"revoke-{key_id(new)}")
    assert revoked.status_code == 302
    assert "was revoked" in admin.get(where(revoked)).get_data(as_text=True)
    assert is_problem(app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(new)), 401)
    assert post(admin, f"{base}/{key_id(new)}/revoke", {"confirm": "y"}, f"revoke-{key_id(new)}").status_code == 409
    [act] = acts(app, "api_key_revoked")
    assert (act.target, act.actor_user_id, act.detail) == (key_id(new), admins.first.id, {"institution": "test-bank"})


def test_another_institutions_key_is_404_here(app, world, admins, as_admin):
    admin = as_admin()
    with app.app_context():
        s, v = session(), vault()
        other = make.institution(s, v, "other-bank")
        s.commit()
        other_id = other.id
    tok = token_in(issue(admin, other_id, ["furnish"]))
    before = counts(app)
    for act in ("rotate", "revoke"):
        url = f"{page_url(world.bank.id)}/keys/{key_id(tok)}/{act}"
        assert post(admin, url, {"confirm": "y"}, f"{act}-{key_id(tok)}").status_code == 404
    assert counts(app) == before
    assert furnishes(app, tok) == 201


# -- the door -----------------------------------------------------------------------------------
ROUTES = [
    ("GET", "{url}"),
    ("GET", "{url}/new"),
    ("POST", "{url}/new"),
    ("GET", "{url}/{id}"),
    ("POST", "{url}/{id}/settings"),
    ("POST", "{url}/{id}/suspend"),
    ("POST", "{url}/{id}/lift"),
    ("POST", "{url}/{id}/keys"),
    ("POST", "{url}/{id}/keys/{key}/rotate"),
    ("POST", "{url}/{id}/keys/{key}/revoke"),
]


@pytest.mark.parametrize("role", ["person", "officer", "supervisor"])
def test_nobody_else_reaches_these_pages(app, world, admins, sign_in, role):
    with app.app_context():
        s, v = session(), vault()
        supervisor = make.user(s, v, Role.SUPERVISOR, "supervisor@staff.example", second_factor=True)
        the_key = key_id(issue_api_key(s, s.get(Institution, world.bank.id), [ApiScope.FURNISH]))
        s.commit()
    who = {"person": world.user_a, "officer": admins.officer, "supervisor": supervisor}[role]
    client = as_user(app, sign_in, who)
    csrf = token(client)
    before = counts(app)
    for method, pattern in ROUTES:
        path = pattern.format(url=URL, id=world.bank.id, key=the_key)
        data = {**GOOD, "csrf_token": csrf, "issue-scopes": "furnish", "suspension-reason": "x"}
        response = client.open(path, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, (role, method, path, response.status_code)
    assert counts(app) == before


# -- the command line ---------------------------------------------------------------------------
def cli(app, *args):
    return app.test_cli_runner().invoke(institutions_cli, args)


def test_the_command_line_creates_an_institution_through_the_same_service(app, world):
    result = cli(
        app,
        "create",
        "west-court",
        "--name",
        "西区法院",
        "--name-en",
        "West Court",
        "--kind",
        "court",
        "--purpose",
        "court_enforcement",
        "--category",
        "court_judgment",
        "--contact-name",
        CONTACT_NAME,
        "--contact-email",
        "clerk@court.example",
        "--query-hours",
        "9-17",
    )
    assert result.exit_code == 0, result.output
    assert "created west-court" in result.output
    created = institution(app, "west-court")
    assert created.allowed_purposes == ["court_enforcement"]
    assert created.allowed_categories == ["court_judgment"]
    assert (created.query_hours_from, created.query_hours_until) == (9, 17)
    assert contact(app, "west-court") == (CONTACT_NAME, "clerk@court.example")
    [act] = acts(app, "institution_created")
    assert (act.channel, act.actor_user_id, act.target) == ("cli", None, "west-court")
    assert CONTACT_NAME not in str(act.detail)

    # Omitting --category: any category.
    any_ = cli(app, "create", "any-bank", "--name", "银行", "--name-en", "Bank", "--kind", "bank", "--purpose",
               "loan_approval", "--contact-name", "A", "--contact-email", "a@bank.example")  # fmt: skip
    assert any_.exit_code == 0, any_.output
    assert institution(app, "any-bank").allowed_categories is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("test-bank",), "taken by another institution"),
        (("Bad Code",), "lowercase letters"),
        (("new-bank", "--purpose", "court_enforcement"), "Only a court"),
        (("new-bank", "--contact-email", "nope"), "valid e-mail"),
        (("new-bank", "--no-furnishing"), "neither query nor furnish"),
        (("new-bank", "--query-hours", "9"), "FROM-UNTIL"),
        (("new-bank", "--query-hours", "9-9"), "two different whole hours"),
    ],
)
def test_the_command_line_refuses_what_the_console_refuses(app, world, args, words):
    code, *rest = args
    base = {
        "--name": "银行",
        "--name-en": "Bank",
        "--kind": "bank",
        "--contact-name": "A",
        "--contact-email": "a@b.example",
    }
    for option, value in zip(rest[::2], rest[1::2], strict=False):
        base[option] = value
    flags = [r for r in rest if r == "--no-furnishing"]
    argv = [code, *[x for kv in base.items() for x in kv if kv[0] != "--no-furnishing"], *flags]
    before = counts(app)
    result = cli(app, "create", *argv)
    assert result.exit_code != 0, result.output
    assert words in result.output, result.output
    assert counts(app) == before


def test_apikeys_on_the_command_line_write_the_journal(app, world):
    runner = app.test_cli_runner()
    issued = runner.invoke(args=["apikeys", "issue", "test-bank", "--scope", "furnish"])
    assert issued.exit_code == 0, issued.output
    tok = issued.stdout.strip().splitlines()[0]
    rotated = runner.invoke(args=["apikeys", "rotate", key_id(tok)])
    new = rotated.stdout.strip().splitlines()[0]
    assert runner.invoke(args=["apikeys", "revoke", key_id(new)]).exit_code == 0
    assert runner.invoke(args=["apikeys", "revoke", key_id(new)]).exit_code == 0  # again: nothing more written
    rows = [(a.action, a.target, a.channel, a.actor_user_id) for a in acts(app) if a.target_kind == "api_key"]
    assert rows == [
        ("api_key_issued", key_id(tok), "cli", None),
        ("api_key_rotated", key_id(tok), "cli", None),
        ("api_key_revoked", key_id(new), "cli", None),
    ]
    with app.app_context():
        furnisher = make.institution(session(), vault(), "furnisher-only", purposes=[])
        session().commit()
    refused = runner.invoke(args=["apikeys", "issue", furnisher.code, "--scope", "query"])
    assert refused.exit_code != 0
    assert "may query for no purpose" in refused.output
