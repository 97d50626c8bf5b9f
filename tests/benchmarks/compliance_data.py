"""A registry's worth of cases and access events for the compliance
console's benchmark, built inside PostgreSQL (INSERT … SELECT over
generate_series: 10 million events in a few minutes, where rows sent from
Python would take an hour).

The subjects, institutions, records and staff are the demo's, made by the
portal's own services; the disputes, their steps, the furnishers' answers,
correction notices and access events are generated around them with the
shapes the console reads: dates spread over 13 months, most cases resolved
(some late, some paused or extended), most queries served, a few refused
for the reasons monitoring counts. The events' sealed detail is a
placeholder: the console never opens it, and these events are not in the
log (nothing here runs `audit verify`)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

EVENT_BATCH = 1_000_000


def _pick(array: str) -> str:
    """SQL for a random element of `array`."""
    return f"({array})[1 + floor(random() * array_length({array}, 1))::int]"


def _registry_subject(k: str) -> str:
    """SQL for the id of the k-th generated subject: computed, so events
    name one without looking it up."""
    return f"md5('bench-subject-' || ({k})::text)::uuid"


def build(session: Session, *, disputes: int, events: int, subjects: int, progress=print) -> None:
    """Add `subjects` placeholder subjects (a registry's sparse shape: a
    few events each, as a billion subjects with two billion queries a year
    have), `disputes` cases and `events` access events to a database that
    holds the demo and some staff (PostgreSQL only). The placeholders have
    no readable name or identifier: nothing here decrypts them."""
    if session.get_bind().dialect.name != "postgresql":
        raise SystemExit("the compliance benchmark's data is built in PostgreSQL: give a postgresql URL")
    run = session.execute
    run(
        text(
            "INSERT INTO data_keys (id, version, wrapped, created_at) "
            "SELECT md5('bench-key-' || k::text)::uuid, 1, '\\x00'::bytea, now() FROM generate_series(1, :n) k"
        ),
        {"n": subjects},
    )
    run(
        text(
            "INSERT INTO subjects (id, kind, data_key_id, identifier_bidx, identifier_ct, name_ct, created_at) "
            f"SELECT {_registry_subject('k')}, 'person', md5('bench-key-' || k::text)::uuid, "
            "decode(md5('bench-bidx-' || k::text), 'hex'), '\\x00'::bytea, '\\x00'::bytea, now() "
            "FROM generate_series(1, :n) k"
        ),
        {"n": subjects},
    )
    session.commit()
    progress(f"  {subjects:,} placeholder subjects")
    run(
        text(
            "CREATE TEMP TABLE bench_pick AS SELECT "
            # the demo's subjects, who have records to dispute (an array of the
            # million placeholders would be copied for every row that picks one)
            "(SELECT array_agg(DISTINCT subject_id) FROM credit_records) AS subjects, "
            "(SELECT array_agg(id) FROM institutions) AS institutions, "
            "(SELECT array_agg(id) FROM users WHERE role IN ('officer', 'supervisor')) AS staff, "
            "(SELECT array_agg(id) FROM users) AS users, "
            "(SELECT array_agg(id) FROM credit_records) AS records"
        )
    )
    kinds = (
        "ARRAY['institution_query','institution_query','institution_query','institution_query',"
        "'institution_query','institution_query','self_query','record_furnished','case_viewed',"
        "'identity_revealed']"
    )
    purposes = "ARRAY['loan_approval','credit_card_approval','post_loan_management','guarantee_review']"
    refusals = "ARRAY['consent_required','consent_expired','file_locked','no_existing_contract','purpose_not_allowed']"
    served = "ARRAY['consent','written_authorisation','existing_contract']"
    done = 0
    while done < events:
        n = min(EVENT_BATCH, events - done)
        run(
            text(
                f"""
                INSERT INTO access_events (id, subject_id, occurred_at, kind, outcome, purpose, channel,
                                           actor_user_id, institution_id, basis, detail_ct)
                SELECT gen_random_uuid(), {_registry_subject(f"1 + floor(random() * {subjects})::int")},
                       now() - random() * interval '400 days', e.kind,
                       CASE WHEN e.kind = 'institution_query' AND e.r < 0.08 THEN 'refused' ELSE 'served' END,
                       CASE WHEN e.kind = 'institution_query' THEN {_pick(purposes)} END,
                       CASE WHEN e.kind IN ('case_viewed', 'identity_revealed') THEN 'staff'
                            WHEN e.kind = 'self_query' THEN 'web' ELSE 'api' END,
                       CASE WHEN e.kind IN ('case_viewed', 'identity_revealed') THEN {_pick("p.staff")} END,
                       CASE WHEN e.kind IN ('institution_query', 'record_furnished')
                            THEN {_pick("p.institutions")} END,
                       CASE WHEN e.kind <> 'institution_query' THEN NULL
                            WHEN e.r < 0.08 THEN {_pick(refusals)} ELSE {_pick(served)} END,
                       '\\x00'::bytea
                FROM bench_pick p,
                     LATERAL (SELECT g, {_pick(kinds)} AS kind, random() AS r
                              FROM generate_series(1, :n) g) e
                """
            ),
            {"n": n},
        )
        session.commit()
        done += n
        progress(f"  {done:,} access events")
    # Cases: 85% closed (80% resolved, 5% withdrawn), the rest open in every
    # status; filed over 13 months; a fifth paused or extended.
    run(
        text(
            f"""
            CREATE TEMP TABLE bench_cases AS
            SELECT gen_random_uuid() AS id, {_pick("p.subjects")} AS subject_id, {_pick("p.users")} AS filer,
                   {_pick("p.records")} AS record_id, {_pick("p.staff")} AS officer,
                   now() - random() * interval '395 days' AS filed_at, random() AS r, random() AS r2,
                   (ARRAY['cn_20_days','cn_20_days','fcra_30_days','gdpr_one_month'])[1 + floor(random() * 4)::int]
                       AS regime,
                   (ARRAY['wrong_amount','wrong_dates','not_mine','outdated','identity_theft','paid_or_settled',
                          'other'])[1 + floor(random() * 7)::int] AS reason
            FROM bench_pick p, generate_series(1, :n)
            """
        ),
        {"n": disputes},
    )
    run(
        text(
            """
            INSERT INTO disputes (id, subject_id, filed_by_user_id, kind, reason, statement_ct, status, outcome,
                                  regime, filed_at, due_on, paused_days, extended_days, lock_version,
                                  assigned_officer_id)
            SELECT id, subject_id, filer,
                   CASE WHEN r2 < 0.03 THEN 'credit_repair' ELSE 'objection' END,
                   CASE WHEN r2 < 0.03 THEN 'credit_repair' ELSE reason END, '\\x00'::bytea,
                   CASE WHEN r < 0.80 THEN 'resolved' WHEN r < 0.85 THEN 'withdrawn'
                        ELSE (ARRAY['submitted','acknowledged','under_review','waiting_for_furnisher',
                                    'waiting_for_subject'])[1 + floor(r2 * 5)::int] END,
                   CASE WHEN r >= 0.80 THEN NULL
                        WHEN r2 < 0.03 THEN (ARRAY['repaired','repair_refused'])[1 + floor(r * 2)::int]
                        ELSE (ARRAY['corrected','deleted','verified_accurate','unverifiable'])
                             [1 + floor(r / 0.8 * 4)::int] END,
                   regime, filed_at,
                   (filed_at::date + CASE regime WHEN 'cn_20_days' THEN 20 WHEN 'fcra_30_days' THEN 30 ELSE 31 END
                    + CASE WHEN r2 BETWEEN 0.5 AND 0.6 THEN 5 ELSE 0 END
                    + CASE WHEN r2 BETWEEN 0.6 AND 0.7 THEN 10 ELSE 0 END),
                   CASE WHEN r2 BETWEEN 0.5 AND 0.6 THEN 5 ELSE 0 END,
                   CASE WHEN r2 BETWEEN 0.6 AND 0.7 THEN 10 ELSE 0 END,
                   1, officer
            FROM bench_cases
            """
        )
    )
    run(
        text(
            "INSERT INTO dispute_items (id, dispute_id, record_id, outcome) "
            "SELECT gen_random_uuid(), c.id, c.record_id, d.outcome FROM bench_cases c JOIN disputes d ON d.id = c.id"
        )
    )
    # The timeline: filed; sent to the furnisher two days later; resolved
    # or withdrawn 1 to 35 days after filing (some past their deadline).
    run(
        text(
            """
            INSERT INTO dispute_steps (id, dispute_id, at, actor_user_id, step)
            SELECT gen_random_uuid(), id, filed_at, filer, 'filed' FROM bench_cases
            UNION ALL
            SELECT gen_random_uuid(), id, filed_at + interval '2 days', officer, 'waiting_for_furnisher'
            FROM bench_cases WHERE r < 0.80 OR r2 >= 0.6
            UNION ALL
            SELECT gen_random_uuid(), id, filed_at + (1 + r2 * 34) * interval '1 day', officer,
                   CASE WHEN r < 0.80 THEN 'resolved' ELSE 'withdrawn' END
            FROM bench_cases WHERE r < 0.85
            """
        )
    )
    run(
        text(
            """
            INSERT INTO dispute_responses (id, dispute_id, item_id, institution_id, answer, reviewed_ct, created_at)
            SELECT gen_random_uuid(), c.id, i.id, r.furnisher_id,
                   (ARRAY['verified_accurate','corrected','cannot_verify'])[1 + floor(c.r2 * 3)::int],
                   '\\x00'::bytea, c.filed_at + interval '2 days' + (c.r2 * 12) * interval '1 day'
            FROM bench_cases c JOIN dispute_items i ON i.dispute_id = c.id
            JOIN credit_records r ON r.id = c.record_id
            WHERE c.r < 0.80
            """
        )
    )
    run(
        text(
            """
            INSERT INTO correction_notices (id, dispute_id, institution_id, record_id, received_event_id, body_ct,
                                            created_at, acknowledged_at)
            SELECT gen_random_uuid(), c.id, {inst}, c.record_id,
                   (SELECT id FROM access_events LIMIT 1), '\\x00'::bytea,
                   c.filed_at + interval '20 days',
                   CASE WHEN c.r2 < 0.7 THEN c.filed_at + interval '20 days' + c.r2 * interval '9 days' END
            FROM bench_cases c, bench_pick p
            WHERE c.r < 0.30
            """.replace("{inst}", _pick("p.institutions"))
        )
    )
    session.commit()
    run(text("ANALYZE"))
    session.commit()
    progress(f"  {disputes:,} disputes with their items, steps, answers and notices")


def prepare(url: str, key_dir, *, subjects: int, disputes: int, events: int, progress=print):
    """A fresh database at `url` (wiped: its name must contain "bench") with
    the demo (2,000 subjects with records), ten staff, `subjects`
    placeholder subjects and the generated cases and events; the app."""
    import time

    from sqlalchemy import create_engine

    from portal import create_app
    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.crypto import init_keys
    from portal.demo import load_demo
    from portal.extensions import session, vault
    from portal.migrations import upgrade
    from portal.transparency.notes import create_key_file

    engine = create_engine(url)
    if "bench" not in (engine.url.database or ""):
        raise SystemExit(f"refusing to wipe {engine.url.database!r}: the benchmark database name must contain 'bench'")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    init_keys(key_dir)
    create_key_file(key_dir)
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "KEY_DIR": str(key_dir)})
    start = time.perf_counter()
    with app.app_context():
        s, v = session(), vault()
        upgrade(app.extensions["portal.db"].engine)
        v.register_versions(s)
        load_demo(s, v, subjects=2_000, seed=13)
        for n in range(10):
            role = Role.SUPERVISOR if n < 2 else Role.OFFICER
            create_user(s, v, role=role, email=f"staff{n}@bench.example", display_name=f"staff {n}")
        s.commit()
        build(s, disputes=disputes, events=events, subjects=subjects, progress=progress)
    progress(f"  built in {time.perf_counter() - start:.0f} s")
    return app
