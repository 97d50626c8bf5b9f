"""Helpers shared by the account tests: forms with their CSRF token, signing
in, users and subjects, the outbox, and a database context."""

from __future__ import annotations

import re
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.accounts.services import create_user, find_user
from portal.extensions import session, vault
from portal.notifications import services as notifications
from portal.records.identifiers import resident_id_check
from portal.records.models import SubjectKind
from portal.records.services import create_subject
from portal.worker import send_codes

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CODE_RE = re.compile(r"activation code is (\d{8})")
LINK_RE = re.compile(r"https?://[^/\s]+/invitations/([A-Za-z0-9_\-]+)")
PASSWORD, NEW_PASSWORD = "a sturdy passphrase 42", "another fine passphrase 7"
PERSON, PERSON_NAME, PERSON_CONTACT = "11010519491231002X", "张三", "zhang.san@contact.example"
NOT_ON_FILE = "11010519900101123" + resident_id_check("11010519900101123")  # well formed, no such subject


# -- the database -----------------------------------------------------------------
@contextmanager
def db(app):
    """An app context yielding (session, vault); commits at the end."""
    with app.app_context():
        vault().register_versions(session())
        yield session(), vault()
        session().commit()


def count(app, model, *where_):
    with app.app_context():
        return session().scalar(select(func.count()).select_from(model).where(*where_))


def new_user(app, email, *, password=PASSWORD, role=Role.PERSON, secret=None, firm=False):
    """Create a user (with a firm subject if `firm`) and return its id."""
    with db(app) as (s, v):
        subject_id = None
        if firm:
            subject_id = create_subject(s, v, SubjectKind.FIRM, "91350100M000100Y43", "福州示例科技有限公司").id
        return create_user(
            s,
            v,
            role=role,
            email=email,
            display_name=email.split("@")[0],
            password=password,
            totp_secret=secret,
            subject_id=subject_id,
        ).id


def user_for(app, email):
    """The user with this e-mail address (id, role, subject_id), or None."""
    with app.app_context():
        user = find_user(session(), vault(), email)
        return None if user is None else SimpleNamespace(id=user.id, role=user.role, subject_id=user.subject_id)


def person_on_file(app):
    """Put PERSON on file with PERSON_CONTACT as contact e-mail."""
    with db(app) as (s, v):
        return create_subject(s, v, SubjectKind.PERSON, PERSON, PERSON_NAME, contact_email=PERSON_CONTACT).id


def outbox(app, to=None):
    with app.app_context():
        return [m for m in notifications.outbox(session(), vault()) if to is None or m.email == to]


def invitation_token(app, email):
    for m in outbox(app, email):
        if LINK_RE.search(m.body):
            return LINK_RE.search(m.body).group(1)
    raise AssertionError(f"no invitation e-mail to {email}")


# -- the browser --------------------------------------------------------------------
def english_client(app):
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


def token(client, url):
    """Load a page and return its form's CSRF token."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.headers.get("Location"))
    return TOKEN_RE.search(response.get_data(as_text=True)).group(1)


def post_form(client, url, data, page=None):
    """As a browser does: load the page (or `page`), then post with its token."""
    return client.post(url, data={**data, "csrf_token": token(client, page or url)})


def where(response):
    """The path a redirect leads to ("" if none)."""
    return urlsplit(response.headers.get("Location", "")).path


def login(client, email, password=PASSWORD, next_=None):
    url = "/login" if next_ is None else "/login?" + urlencode({"next": next_})
    return post_form(client, url, {"email": email, "password": password}, page="/login")


def register(client, identifier=PERSON, name=PERSON_NAME, kind="person"):
    """Ask for a code, and let the worker answer the request."""
    response = post_form(client, "/register", {"kind": kind, "identifier": identifier, "name": name})
    send_codes(client.application)
    return response


def signed_in(client) -> bool:
    """Whether /me opens; if not, it must send the browser to /login."""
    response = client.get("/me")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert where(response) == "/login"
    return False
