"""The proof checks of "who accessed my data", run where the subject runs
them: in the browser. The JavaScript verifiers must accept exactly what the
RFC 9162 known-answer vectors accept; the page must say "verified" for a
true log and what failed for a rewritten event."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, text

from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.extensions import session, vault

from ..factories import integrate
from .people import PASSWORD
from .test_journeys import accessible, sign_in

VECTORS = Path(__file__).resolve().parents[1] / "transparency" / "vectors"


def load(kind: str) -> list[dict]:
    return [
        json.loads(p.read_text()) | {"name": str(p.relative_to(VECTORS))}
        for p in sorted((VECTORS / kind).rglob("*.json"))
    ]


def test_the_browser_verifiers_agree_with_every_known_answer(page, live_server):
    page.goto("/")
    page.add_script_tag(url="/static/js/verify.js")
    verdicts = page.evaluate(
        """async ({inclusion, consistency}) => {
      const L = window.PortalLog, b = (s) => s ? L.b64(s) : new Uint8Array();
      const out = {};
      for (const v of inclusion)
        out[v.name] = await L.verifyInclusion(v.leafIdx, v.treeSize, b(v.leafHash), (v.proof || []).map(b), b(v.root));
      for (const v of consistency)
        out[v.name] = await L.verifyConsistency(v.size1, v.size2, b(v.root1), b(v.root2), (v.proof || []).map(b));
      return out;
    }""",
        {"inclusion": load("inclusion"), "consistency": load("consistency")},
    )
    expected = {v["name"]: not v["wantErr"] for v in load("inclusion") + load("consistency")}
    assert len(verdicts) == len(expected) > 150
    wrong = {name: verdicts[name] for name in expected if verdicts[name] != expected[name]}
    assert wrong == {}


def add_queries(live_app, n=3):
    from portal.institutions.models import Institution
    from portal.records.models import SubjectKind
    from portal.records.services import find_subject

    with live_app.app_context():
        s, v = session(), vault()
        person = find_subject(s, v, SubjectKind.PERSON, "11010519491231002X")
        bank = s.scalar(select(Institution))
        for i in range(n):
            record_event(
                s,
                v,
                person,
                EventKind.INSTITUTION_QUERY,
                channel="api",
                outcome=Outcome.SERVED if i % 2 == 0 else Outcome.REFUSED,
                institution_id=bank.id,
                purpose="loan_approval",
                detail={"basis": "consent"},
            )
        s.commit()
        integrate(s)  # as the server's job thread does moments later
        return person.id


def a_person_with_an_account(live_app):
    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.records.models import SubjectKind
    from portal.records.services import find_subject

    with live_app.app_context():
        s, v = session(), vault()
        person = find_subject(s, v, SubjectKind.PERSON, "11010519491231002X")
        create_user(
            s,
            v,
            role=Role.PERSON,
            email="zhang@example.com",
            display_name="张三",
            password=PASSWORD,
            subject_id=person.id,
        )
        s.commit()


def test_the_page_verifies_each_entry_and_remembers_the_log(page, live_app, on_file):
    a_person_with_an_account(live_app)
    subject_id = add_queries(live_app)
    sign_in(page, "zhang@example.com")
    page.goto(f"/subjects/{subject_id}/access")
    status = page.locator("#log-status")
    status.filter(has_text="本页每条记录均已核验").wait_for()
    assert page.locator(".verify.ok").count() == page.locator(".verify").count() >= 3
    assert page.locator(".verify.bad").count() == 0
    accessible(page, "who accessed my data")

    add_queries(live_app, 2)  # the log grows; the browser remembers what it saw
    page.reload()
    status.filter(has_text="只有新增").wait_for()
    assert "警告" not in status.inner_text()


def test_a_rewritten_event_is_shown_as_not_verified(page, live_app, on_file):
    a_person_with_an_account(live_app)
    subject_id = add_queries(live_app, 1)
    with live_app.app_context():  # someone with database access changes the recorded purpose
        event_id = session().scalar(select(AccessEvent.id).where(AccessEvent.kind == EventKind.INSTITUTION_QUERY))
        session().execute(
            text("UPDATE access_events SET purpose = 'post_loan_management' WHERE id = :id"),
            {"id": event_id.hex if live_app.extensions["portal.db"].engine.dialect.name == "sqlite" else event_id},
        )
        session().commit()
    sign_in(page, "zhang@example.com")
    page.goto(f"/subjects/{subject_id}/access")
    page.locator("#log-status").filter(has_text="部分记录未能通过核验").wait_for()
    tampered = page.locator(".verify.bad")
    assert tampered.count() == 1
    assert "该记录不在日志中" in tampered.inner_text()


def test_a_line_that_differs_from_its_logged_event_is_flagged(page, live_app, on_file):
    """The page cannot show one thing and prove another: the script compares
    each line with the event whose bytes it verified."""
    a_person_with_an_account(live_app)
    subject_id = add_queries(live_app, 1)
    sign_in(page, "zhang@example.com")
    # A server that lies about the outcome in the page, but serves the true proof:
    page.route(
        f"**/subjects/{subject_id}/access",
        lambda route: route.fulfill(
            response=route.fetch(), body=route.fetch().text().replace('data-outcome="served"', 'data-outcome="refused"')
        ),
    )
    page.goto(f"/subjects/{subject_id}/access")
    page.locator("#log-status").filter(has_text="部分记录未能通过核验").wait_for()
    assert "显示的内容与日志中的事件不一致" in page.locator(".verify.bad").first.inner_text()


def test_the_browser_requires_the_witnesses_quorum(page, live_server):
    """The in-browser check accepts a checkpoint only with enough valid
    cosignatures by the witnesses it was given: an unknown witness's, a
    quorum short by one, or a cosignature over another size do not count."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from portal.transparency.cosign import Cosigner
    from portal.transparency.notes import Signer

    origin = "log.example/credit"
    log = Signer(origin, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    w1, w2, stranger = (
        Cosigner(n, Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32))
        for i, n in ((1, "w.example/one"), (2, "w.example/two"), (3, "w.example/three"))
    )
    note = log.sign_checkpoint(origin, 5, bytes(range(32)))
    text_ = note[: note.rindex("\n\n") + 1]
    other = log.sign_checkpoint(origin, 6, bytes(range(32)))
    other_text = other[: other.rindex("\n\n") + 1]
    t = 1_780_000_000
    cases = {
        "both": note + w1.cosign(text_, t) + w2.cosign(text_, t),
        "short by one": note + w1.cosign(text_, t),
        "one and a stranger": note + w1.cosign(text_, t) + stranger.cosign(text_, t),
        "one over another size": note + w1.cosign(text_, t) + w2.cosign(other_text, t),
        "none": note,
    }
    policy = {"quorum": 2, "witnesses": [{"name": w.name, "key": w.vkey} for w in (w1, w2)]}
    page.goto("/")
    page.add_script_tag(url="/static/js/verify.js")
    verdicts = page.evaluate(
        """async ({cases, policy, vkey}) => {
      const L = window.PortalLog, out = {};
      for (const [name, note] of Object.entries(cases)) {
        try {
          const cp = await L.openCheckpoint(note, vkey);
          const vouched = await L.requireQuorum(cp, policy);
          out[name] = vouched === null ? "unchecked" : Object.keys(vouched).sort().join(",");
        } catch (e) { out[name] = "refused"; }
      }
      return out;
    }""",
        {"cases": cases, "policy": policy, "vkey": log.vkey},
    )
    assert verdicts == {
        "both": "w.example/one,w.example/two",
        "short by one": "refused",
        "one and a stranger": "refused",
        "one over another size": "refused",
        "none": "refused",
    }


def test_the_page_catches_a_portal_that_drops_its_witnesses(page, live_app, on_file):
    """The witnesses are pinned in the browser on first use: a portal that
    later asks for fewer (here none) is caught, whatever its proofs say."""
    a_person_with_an_account(live_app)
    subject_id = add_queries(live_app, 1)
    sign_in(page, "zhang@example.com")
    page.goto(f"/subjects/{subject_id}/access")
    page.evaluate(
        """() => localStorage.setItem("portal.witnesses." + document.getElementById("log-status").dataset.keyUrl,
             JSON.stringify({quorum: 1, keys: ["BGdAS6eZ/QXuN0uA8pa6i7iBGQZx9UR/kwLHyFuHA/qY"]}))"""
    )
    page.reload()
    status = page.locator("#log-status")
    status.filter(has_text="本平台现在列出的见证方与您上次核验时不同").wait_for()
    assert "bad" in (status.get_attribute("class") or "")
