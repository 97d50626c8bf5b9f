"""Registering by answering questions about one's own records (issue 15,
problem 4): a subject with no e-mail on file could not register at all.
Four questions with decoys, three right pass, a strict attempt limit, and
nothing that tells an outsider whether the identifier is on file."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from portal.accounts.knowledge import ANSWER_INDEX, KnowledgeChallenge
from portal.accounts.models import Role, User
from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.extensions import limiter, session, vault
from portal.institutions.models import InstitutionKind
from portal.records.identifiers import resident_id_check
from portal.records.models import Category, RecordStatus, Subject
from portal.worker import send_codes
from tests import factories as make

from .helpers import NOT_ON_FILE, count, db, english_client, login, outbox, post_form, token, user_for, where

PERSON, PERSON_NAME = "110105198001010016", "李四"  # no contact on file
CONTACT_PERSON, CONTACT_NAME, CONTACT = "11010519491231002X", "张三", "zhang.san@contact.example"
THIN, THIN_NAME = "11010519900101123" + resident_id_check("11010519900101123"), "王五"  # one record only
PASSWORD = "a long and quiet river 42"
LENDERS = ["Bank One", "Bank Two", "Bank Three", "Bank Four", "Bank Five", "Lender Six"]
OTHERS = ["City Court", "Tax Bureau", "Water Works", "Power Grid", "Market Regulator"]


def identifier(n: int) -> str:
    """A well-formed identity number not on file (born on 1985-01-01)."""
    body = f"11010519850101{n:03d}"
    return body + resident_id_check(body)


def shift(app, column: str, delta: timedelta, **where_) -> None:
    """Move a moment of the sets back (a day passed, a set expired)."""
    with db(app) as (s, _v):
        for row in s.scalars(select(KnowledgeChallenge).filter_by(**where_)):
            if getattr(row, column) is not None:
                setattr(row, column, getattr(row, column) - delta)


@pytest.fixture
def files(app):
    """Institutions on file, and persons whose records the questions are
    about: PERSON (a loan from Bank One opened 2015, a card from Bank Two
    opened 2019, water arrears since 2021), the same for CONTACT_PERSON with
    a contact e-mail, and THIN with a single record."""
    with db(app) as (s, v):
        kinds = [InstitutionKind.BANK] * 5 + [InstitutionKind.LENDER]
        kinds += [InstitutionKind.COURT, InstitutionKind.TAX_BUREAU, InstitutionKind.UTILITY]
        kinds += [InstitutionKind.UTILITY, InstitutionKind.REGULATOR]
        inst = {
            name: make.institution(s, v, name.lower().replace(" ", "-"), kind, name=f"{name} 中文", name_en=name)
            for name, kind in zip(LENDERS + OTHERS, kinds, strict=True)
        }
        subjects = {}
        for ident, name, contact in ((PERSON, PERSON_NAME, None), (CONTACT_PERSON, CONTACT_NAME, CONTACT)):
            subject = make.person(s, v, ident, name, contact_email=contact)
            make.record(s, v, inst["Bank One"], subject, f"L-{ident}", details={"opened_on": "2015-03-01"})
            make.record(
                s,
                v,
                inst["Bank Two"],
                subject,
                f"C-{ident}",
                category=Category.CREDIT_CARD,
                details={"opened_on": "2019-06-01", "credit_limit": "20000.00"},
            )
            make.record(
                s,
                v,
                inst["Water Works"],
                subject,
                f"W-{ident}",
                category=Category.UTILITY_ARREARS,
                negative=True,
                status=RecordStatus.OVERDUE,
                details={"since": "2021-02-01", "amount": "300.00"},
            )
            subjects[ident] = subject.id
        thin = make.person(s, v, THIN, THIN_NAME)
        make.record(s, v, inst["Bank One"], thin, "L-THIN", details={"opened_on": "2016-01-01"})
        subjects[THIN] = thin.id
        return SimpleNamespace(person=subjects[PERSON], contact=subjects[CONTACT_PERSON], thin=subjects[THIN])


# What is true of PERSON and CONTACT_PERSON, by the words of each question.
TRUTH = {
    "which of these institutions has reported a loan": {"Bank One", "Bank Two"},
    "oldest loan or credit card account": {"2015"},
    "which of these institutions has reported a record": {"Bank One", "Bank Two", "Water Works"},
    "newest record": {"2021"},
    "oldest record": {"2015"},
    "how many records": {"3 records"},
}
QUESTION_RE = re.compile(r"<legend>(.*?)</legend>(.*?)</fieldset>", re.S)
OPTION_RE = re.compile(r'<input[^>]*name="(q\d)"[^>]*value="(\d+)"[^>]*>\s*<label[^>]*>(.*?)</label>', re.S)


def questions_on(page: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(question, field name, [(value, label)]) as the page shows them."""
    found = []
    for legend, body in QUESTION_RE.findall(page):
        options = [(m[1], html.unescape(m[2]).strip()) for m in OPTION_RE.findall(body)]
        found.append((html.unescape(legend), OPTION_RE.search(body).group(1), options))
    return found


def true_labels(question: str) -> set[str]:
    return next(labels for words, labels in TRUTH.items() if words in question.lower())


def answers(page: str, wrong: int = 0) -> dict[str, str]:
    """The right option of each question, but for the first `wrong` ones."""
    chosen = {}
    for i, (question, name, options) in enumerate(questions_on(page)):
        truth = true_labels(question)
        pick = [value for value, label in options if (label in truth) != (i < wrong)]
        assert pick, (question, options)
        chosen[name] = pick[0]
    return chosen


def ask(client, ident=PERSON, name=PERSON_NAME, kind="person", prepare=True):
    """Ask for questions, let the worker prepare them, and return the page."""
    response = post_form(client, "/register/questions", {"kind": kind, "identifier": ident, "name": name})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert where(response) == "/register/questions/answer"
    if prepare:
        send_codes(client.application)
    return client.get("/register/questions/answer")


def answer(client, chosen):
    return post_form(client, "/register/questions/answer", chosen)


def open_account(client, email="li.si@mail.example"):
    return post_form(
        client,
        "/register/questions/account",
        {"display_name": "Li Si", "email": email, "password": PASSWORD, "confirm": PASSWORD},
    )


def attempts(app, subject_id):
    """The attempts written on the subject's file, oldest first: (outcome,
    detail)."""
    send_codes(app)  # the worker writes them
    with app.app_context():
        cipher = vault().cipher(session(), session().get(Subject, subject_id).data_key_id)
        events = session().scalars(
            select(AccessEvent)
            .where(AccessEvent.subject_id == subject_id, AccessEvent.kind == EventKind.REGISTRATION)
            .order_by(AccessEvent.occurred_at)
        )
        return [(e.outcome, open_detail(cipher, e)[0]) for e in events]


@pytest.fixture(autouse=True)
def _no_request_limits(monkeypatch):
    """The attempt limit under test is the portal's own, not the per-hour
    request limit in front of it."""
    monkeypatch.setattr(limiter, "enabled", False)


# -- the journey ---------------------------------------------------------------------
def test_subject_with_no_contact_registers_by_answering_questions(app, browser, files):
    """As a user meets it: the register page offers the questions, which
    come from their own records; three right answers of four open the same
    account-opening step as a code, and they sign in."""
    page = browser.get("/register").get_data(as_text=True)
    assert 'href="/register/questions"' in page
    assert "Fill in this form" in page

    response = post_form(browser, "/register/questions", {"kind": "person", "identifier": PERSON, "name": PERSON_NAME})
    assert where(response) == "/register/questions/answer"
    waiting = browser.get("/register/questions/answer")  # the worker has not prepared them yet
    assert waiting.status_code == 200
    assert waiting.headers["Refresh"] == "2"
    assert "Preparing your questions" in waiting.get_data(as_text=True)

    send_codes(app)
    page = browser.get("/register/questions/answer").get_data(as_text=True)
    shown = questions_on(page)
    assert len(shown) == 4
    assert all(len(options) == 5 for _q, _n, options in shown)
    # The real institution is among decoys that did not lend to this person.
    lender = next(options for q, _n, options in shown if "reported a loan" in q)
    assert len({label for _v, label in lender} & {"Bank One", "Bank Two"}) == 1

    # Two wrong: not enough. They try again and get the same questions.
    failed = answer(browser, answers(page, wrong=2))
    assert failed.status_code == 200
    assert "Your answers do not match our records" in failed.get_data(as_text=True)
    page = ask(browser).get_data(as_text=True)
    assert questions_on(page) == shown
    response = answer(browser, answers(page, wrong=1))
    assert response.status_code == 302
    assert where(response) == "/register/questions/account"
    assert "Create your account" in browser.get("/register/questions/account").get_data(as_text=True)
    response = open_account(browser)
    assert response.status_code == 302
    assert where(response) == "/login"
    assert where(browser.get("/register/questions/account")) == "/register/questions"  # used up

    user = user_for(app, "li.si@mail.example")
    assert (user.role, user.subject_id) == (Role.PERSON, files.person)
    assert login(browser, "li.si@mail.example", PASSWORD).status_code == 302
    assert browser.get("/me").status_code == 200
    # Each set is on the file, the failed one as refused, and the opening
    # says how the subject proved who it is.
    logged = attempts(app, files.person)
    assert logged == [
        (Outcome.REFUSED, {"proof": "questions", "answered": True, "correct": 2, "questions": 4, "passed": False}),
        (Outcome.SERVED, {"role": "person", "proof": "questions"}),  # the account opened
        (Outcome.SERVED, {"proof": "questions", "answered": True, "correct": 3, "questions": 4, "passed": True}),
    ]
    log_page = browser.get(f"/subjects/{files.person}/access").get_data(as_text=True)
    assert "Refused" in log_page  # the subject sees the failed attempt on their file


def test_the_questions_way_is_offered_whether_or_not_a_code_was_sent(app, browser, files):
    """Offering the questions only to files without a contact would tell
    who has one: both ways are offered to everyone, and the code page
    says a code goes out only if a contact is on file."""
    for path in ("/register", "/register/sent", "/register/activate"):
        assert 'href="/register/questions"' in browser.get(path).get_data(as_text=True), path
    sent = browser.get("/register/sent").get_data(as_text=True)
    assert "If the identifier and name match a credit file we hold, we have sent an activation code" in sent


@pytest.mark.parametrize(("wrong", "passes"), [(0, True), (1, True), (2, False), (4, False)])
def test_three_of_four_right_pass(app, browser, files, wrong, passes):
    page = ask(browser).get_data(as_text=True)
    response = answer(browser, answers(page, wrong=wrong))
    if passes:
        assert (response.status_code, where(response)) == (302, "/register/questions/account")
    else:
        assert response.status_code == 200
        assert "Your answers do not match our records" in response.get_data(as_text=True)
        assert where(browser.get("/register/questions/account")) == "/register/questions"
    # One try a set: answering it again leads back to asking.
    again = post_form(browser, "/register/questions/answer", answers(page), page="/register/questions")
    assert again.status_code == 302
    assert where(again) == ("/register/questions/account" if passes else "/register/questions")


def test_a_file_with_a_contact_is_told_when_questions_open_its_account(app, browser, files):
    page = ask(browser, CONTACT_PERSON, CONTACT_NAME).get_data(as_text=True)
    assert where(answer(browser, answers(page))) == "/register/questions/account"
    assert where(open_account(browser, "zs@mail.example")) == "/login"
    told = [m for m in outbox(app, CONTACT) if m.title == "An account was opened for your credit file"]
    assert len(told) == 1


def test_a_file_that_has_an_account_says_so_after_the_questions(app, browser, files):
    page = ask(browser).get_data(as_text=True)
    assert where(answer(browser, answers(page))) == "/register/questions/account"
    with db(app) as (s, v):
        make.user(s, v, Role.PERSON, "first@mail.example", s.get(Subject, files.person))
    response = open_account(browser)
    assert response.status_code == 200
    assert "This credit file already has an account" in response.get_data(as_text=True)
    assert user_for(app, "li.si@mail.example") is None


# -- the attempt limit -------------------------------------------------------------------
def fail(client, ident=PERSON, name=PERSON_NAME):
    """Ask for a set and answer it wrong (all wrong for a file whose records
    the test knows, the first options for any other)."""
    page = ask(client, ident, name).get_data(as_text=True)
    if (ident, name) in ((PERSON, PERSON_NAME), (CONTACT_PERSON, CONTACT_NAME)):
        chosen = answers(page, wrong=4)
    else:
        chosen = {n: options[0][0] for _q, n, options in questions_on(page)}
    response = answer(client, chosen)
    assert response.status_code == 200
    assert "Your answers do not match our records" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["on file", "not on file"])
def test_three_failed_sets_lock_the_identifier_for_a_day(app, files, who):
    ident, name = (PERSON, PERSON_NAME) if who == "on file" else (NOT_ON_FILE, PERSON_NAME)
    for _ in range(3):
        fail(english_client(app), ident, name)  # a new browser each time: the count is the identifier's
    locked = post_form(
        english_client(app), "/register/questions", {"kind": "person", "identifier": ident, "name": name}
    )
    assert locked.status_code == 429
    assert "too many attempts for this credit file" in locked.get_data(as_text=True)
    assert count(app, KnowledgeChallenge) == 3  # nothing asked
    # A day after the last failure it can be tried again.
    shift(app, "answered_at", timedelta(hours=24))
    page = ask(english_client(app), ident, name)
    assert page.status_code == 200
    assert len(questions_on(page.get_data(as_text=True))) == 4


def test_a_set_shown_before_the_lock_cannot_be_answered_after_it(app, files):
    early = english_client(app)
    page = ask(early).get_data(as_text=True)  # shown, kept for later
    for _ in range(3):
        fail(english_client(app))
    response = answer(early, answers(page))
    assert response.status_code == 429
    assert user_for(app, "li.si@mail.example") is None
    assert where(early.get("/register/questions/account")) == "/register/questions"


def test_six_failed_sets_in_a_month_lock_the_identifier_for_the_month(app, files):
    for _round in range(2):
        for _ in range(3):
            fail(english_client(app))
        shift(app, "answered_at", timedelta(days=2))  # the day's lock is over
    locked = post_form(
        english_client(app), "/register/questions", {"kind": "person", "identifier": PERSON, "name": PERSON_NAME}
    )
    assert locked.status_code == 429


def test_ten_failed_sets_lock_the_client_address_whatever_the_identifier(app, files):
    def at(address):
        client = english_client(app)
        client.environ_base["REMOTE_ADDR"] = address
        return client

    for n in range(10):
        fail(at("198.51.100.7"), identifier(n), "某人")  # ten identifiers, one try each
    data = {"kind": "person", "identifier": PERSON, "name": PERSON_NAME}
    assert post_form(at("198.51.100.7"), "/register/questions", data).status_code == 429
    assert post_form(at("203.0.113.9"), "/register/questions", data).status_code == 302


# -- nothing to learn ----------------------------------------------------------------------
PROBES = {
    "on file": (PERSON, PERSON_NAME),
    "not on file": (NOT_ON_FILE, PERSON_NAME),
    "the name does not match": (PERSON, "王五"),
    "too little on file": (THIN, THIN_NAME),
}


def shape(page: str) -> str:
    """The page with the questions' options and the token taken out."""
    page = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", page)
    page = re.sub(r"(<label[^>]*for=\"q\d-\d\"[^>]*>).*?(</label>)", r"\1\2", page, flags=re.S)
    for words in TRUTH:
        page = re.sub(re.escape(words), "", page, flags=re.I)
    return re.sub(r"<legend>.*?</legend>", "<legend></legend>", page, flags=re.S)


@pytest.mark.parametrize("who", [w for w in PROBES if w != "on file"])
def test_an_identifier_not_on_file_gets_plausible_questions_the_same_way(app, files, who):
    ident, name = PROBES[who]
    real, probe = english_client(app), english_client(app)
    real_page, probe_page = ask(real), ask(probe, ident, name)
    assert probe_page.status_code == real_page.status_code == 200
    probe_html = probe_page.get_data(as_text=True)
    assert shape(probe_html) == shape(real_page.get_data(as_text=True))
    shown = questions_on(probe_html)
    assert len(shown) == 4
    assert all(len(options) >= 4 for _q, _n, options in shown)
    # Institutions on file, plausible years.
    labels = {label for _q, _n, options in shown for _v, label in options}
    assert labels <= set(LENDERS + OTHERS) | {str(y) for y in range(1990, date.today().year + 1)} | {
        f"{n} record" + ("s" if n > 1 else "") for n in range(1, 5)
    } | {"5 or more records"}
    # Asking again shows the very same questions.
    assert questions_on(ask(english_client(app), ident, name).get_data(as_text=True)) == shown
    # Answered, it fails like a wrong answer, and no option could have passed.
    with app.app_context():
        row = session().scalar(select(KnowledgeChallenge).order_by(KnowledgeChallenge.requested_at.desc()))
        stored = row.answer_hashes
        for i, question in enumerate(row.questions):
            for option in question["options"]:
                assert vault().blind_index(ANSWER_INDEX, f"{row.id}:{i}:{option}") != stored[32 * i : 32 * (i + 1)]
    failed = answer(probe, {n: options[0][0] for _q, n, options in shown})
    wrong = answer(real, answers(real_page.get_data(as_text=True), wrong=4))
    assert failed.status_code == wrong.status_code == 200
    assert failed.get_data() == wrong.get_data()


def test_asking_and_answering_run_the_same_statements_whoever_is_on_file(app, files):
    """The request never looks the subject up: it inserts, reads and
    updates a set the same way; the worker does the rest."""
    with app.app_context():
        engine = session().get_bind()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    asked, answered = {}, {}
    for who, (ident, name) in PROBES.items():
        client = english_client(app)
        token(client, "/register/questions")
        event.listen(engine, "before_cursor_execute", seen)
        try:
            ask(client, ident, name, prepare=False)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        asked[who], statements[:] = list(statements), []
        send_codes(app)
        page = client.get("/register/questions/answer").get_data(as_text=True)
        chosen = {n: options[0][0] for _q, n, options in questions_on(page)}
        csrf = token(client, "/register/questions/answer")
        event.listen(engine, "before_cursor_execute", seen)
        try:
            response = client.post("/register/questions/answer", data={**chosen, "csrf_token": csrf})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert response.status_code in (200, 302)
        answered[who], statements[:] = list(statements), []
    assert any(s.lstrip().upper().startswith("INSERT INTO KNOWLEDGE_CHALLENGES") for s in asked["on file"])
    assert not any("credit_records" in s or "FROM subjects" in s for s in asked["on file"] + answered["on file"])
    for who in PROBES:
        assert asked[who] == asked["on file"], who
        assert answered[who] == answered["on file"], who


def test_the_page_shows_only_the_options_and_the_browser_holds_only_a_token(app, browser, files):
    response = ask(browser)
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    shown = questions_on(page)
    # Each option's value is its place; no input but the radios and the CSRF token.
    for _q, _n, options in shown:
        assert [value for value, _label in options] == [str(i) for i in range(len(options))]
    inputs = re.findall(r"<input[^>]*>", page)
    assert all('type="radio"' in i or 'name="csrf_token"' in i or 'type="submit"' in i for i in inputs), inputs
    # The real lender's name is on the page once, as one option among others.
    lender = next(options for q, _n, options in shown if "reported a loan" in q)
    real = next(label for _v, label in lender if label in {"Bank One", "Bank Two"})
    assert page.count(real) == 1
    assert not re.search(r"correct|right answer|data-answer|checked", page, re.I)
    # The session cookie holds the set's token, not the questions.
    cookie = browser.get_cookie("session")
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert set(data) <= {"knowledge", "_fresh", "csrf_token", "_flashes"}
    assert re.fullmatch(r"[A-Za-z0-9_\-]{43}", data["knowledge"])
    assert real not in str(data)
    assert "2015" not in str(data)


def test_each_attempt_is_logged_on_the_subjects_file(app, files):
    fail(english_client(app))
    fail(english_client(app), PERSON, "王五")  # the wrong name: the file's identifier was tried all the same
    ask(english_client(app))  # shown, never answered
    shift(app, "prepared_at", timedelta(minutes=21))
    ask(english_client(app), NOT_ON_FILE, PERSON_NAME)
    logged = attempts(app, files.person)
    assert [(o, d["answered"], d["passed"]) for o, d in logged] == [
        (Outcome.REFUSED, True, False),
        (Outcome.REFUSED, True, False),
        (Outcome.REFUSED, False, False),
    ]
    assert all(d["proof"] == "questions" for _o, d in logged)
    assert logged[0][1]["correct"] == 0
    # Answered and expired sets keep no questions.
    with app.app_context():
        rows = session().scalars(select(KnowledgeChallenge).where(KnowledgeChallenge.subject_id == files.person))
        assert all(r.questions is None and r.answer_hashes is None for r in rows)


def test_expired_questions_cannot_be_answered(app, browser, files):
    page = ask(browser).get_data(as_text=True)
    shift(app, "prepared_at", timedelta(minutes=21))
    response = post_form(browser, "/register/questions/answer", answers(page), page="/register/questions")
    assert response.status_code == 302
    assert where(response) == "/register/questions"
    assert count(app, User) == 0


def test_a_file_with_too_little_on_it_cannot_pass(app, browser, files):
    """One record cannot carry four independent questions: such a file gets
    invented ones, like an identifier not on file."""
    page = ask(browser, THIN, THIN_NAME).get_data(as_text=True)
    assert len(questions_on(page)) == 4
    with app.app_context():
        row = session().scalar(select(KnowledgeChallenge))
        assert row.subject_id == files.thin
        for i, question in enumerate(row.questions):
            for option in question["options"]:
                assert (
                    vault().blind_index(ANSWER_INDEX, f"{row.id}:{i}:{option}")
                    != row.answer_hashes[32 * i : 32 * i + 32]
                )
