"""Set-based SQL that grows the demo database to a province: `bench/admin.py` runs it on a `_bench` database.

For `people` N it adds, in one transaction and a few dozen statements (no row goes through Python):

- N persons, 30% of them in 宁波 (the demo reviewers' region), the rest spread over the other regions; every
  tenth a resident without a personal account;
- an active enrolment each, and for 30% an earlier one in another region, left by a transfer (1.3 N);
- a personal account per employee enrolment (1.2 N), the old ones transferred out;
- 1.0 N withdrawal and 0.3 N transfer applications in every state, about four review events each (5.2 N);
- five monthly credits for each active account and one for each old account, each a balanced journal
  transaction of two entries against the region's credit source (4.8 N transactions, 9.6 N entries) with the
  running balance after each entry, so `audit_ledger --full` passes;
- two notices per person (2 N).

Ids are computed (offset + sequence), not returned, so that rows can refer to each other without a lookup.
"""

STATEMENTS = [
    # Working tables: the regions in a fixed order, the demo staff as review actors.
    """
    CREATE TEMP TABLE bench_region AS
    SELECT id, row_number() OVER (ORDER BY id) AS idx FROM accounts_region
    """,
    """
    CREATE TEMP TABLE bench_base AS SELECT
        (SELECT coalesce(max(id), 0) FROM accounts_person) AS person,
        (SELECT coalesce(max(id), 0) FROM accounts_enrolment) AS enrolment,
        (SELECT coalesce(max(id), 0) FROM accounts_account) AS account,
        (SELECT coalesce(max(id), 0) FROM withdrawals_withdrawalapplication) AS withdrawal,
        (SELECT coalesce(max(id), 0) FROM transfers_transferapplication) AS transfer,
        (SELECT coalesce(max(id), 0) FROM accounts_journaltransaction) AS journal,
        (SELECT coalesce(max(id), 0) FROM accounts_ledgerentry) AS entry,
        (SELECT id FROM accounts_region WHERE code = '330200') AS ningbo,
        (SELECT count(*) FROM accounts_region) AS regions,
        (SELECT array_agg(id ORDER BY id) FROM withdrawals_withdrawalreason) AS reasons,
        (SELECT array_agg(id ORDER BY id) FROM accounts_user WHERE is_staff) AS staff,
        (SELECT id FROM django_content_type
          WHERE app_label = 'withdrawals' AND model = 'withdrawalapplication') AS withdrawal_type,
        (SELECT id FROM django_content_type
          WHERE app_label = 'transfers' AND model = 'transferapplication') AS transfer_type
    """,
    # One row per new person: where they are insured now and, for g % 10 in (3, 4, 5), where they were before.
    """
    CREATE TEMP TABLE bench_people AS
    SELECT g,
           CASE WHEN g % 10 < 3 THEN b.ningbo
                ELSE (SELECT id FROM bench_region WHERE idx = 1 + (g / 10) % b.regions) END AS region_id,
           g % 10 = 9 AS resident,
           g % 10 IN (3, 4, 5) AS moved
    FROM generate_series(1, %(people)s) AS g, bench_base AS b
    """,
    """
    ALTER TABLE bench_people ADD COLUMN old_region_id bigint
    """,
    """
    UPDATE bench_people p SET old_region_id = CASE WHEN r1.id <> p.region_id THEN r1.id ELSE r2.id END
    FROM bench_base b, bench_region r1, bench_region r2
    WHERE p.moved AND r1.idx = 1 + (p.g / 7) % b.regions AND r2.idx = 1 + (p.g / 7 + 1) % b.regions
    """,
    # Persons: valid 18-character ID numbers (GB 11643 check character), names for the name search.
    """
    INSERT INTO accounts_person (id, name, id_number, phone, card_number, created_at)
    SELECT b.person + p.g,
           (ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','林','罗','高'])
               [1 + p.g % 20]
           || (ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','秀英',
                     '霞','平','刚','桂英','建华','文','华','金凤','玉兰','海燕','志强','晓东'])[1 + (p.g / 20) % 30],
           n.first17 || substr('10X98765432', 1 + (
               SELECT sum(substr(n.first17, i, 1)::int
                          * (ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2])[i])::int % 11
               FROM generate_series(1, 17) AS i), 1),
           '139' || lpad((p.g % 100000000)::text, 8, '0'),
           'C' || n.first17 || lpad((p.g % 10)::text, 1, '0'),
           now() - (p.g % 730) * interval '1 day'
    FROM bench_people p, bench_base b,
         LATERAL (SELECT '339901' || to_char(date '1950-01-01' + p.g / 1000, 'YYYYMMDD')
                         || lpad((p.g % 1000)::text, 3, '0') AS first17) AS n
    """,
    # Enrolments: the active one (id offset g) and the earlier one of a moved person (offset N + g).
    """
    INSERT INTO accounts_enrolment (id, person_id, region_id, insurance_type, status, employment,
                                    contribution_base, contribution_months, started_on, ended_on,
                                    personal_account_id)
    SELECT b.enrolment + p.g, b.person + p.g, p.region_id,
           CASE WHEN p.resident THEN 'resident' ELSE 'employee' END, 'active',
           CASE WHEN p.resident THEN '' WHEN p.g % 10 = 8 THEN 'retired' ELSE 'in_service' END,
           CASE WHEN p.resident OR p.g % 10 = 8 THEN NULL ELSE 6000 + (p.g % 50) * 100 END,
           12 + p.g % 300, date '2015-01-01' + (p.g % 3000), NULL,
           CASE WHEN p.resident THEN NULL ELSE b.account + p.g END
    FROM bench_people p, bench_base b
    UNION ALL
    SELECT b.enrolment + %(people)s + p.g, b.person + p.g, p.old_region_id, 'employee', 'transferred_out',
           'in_service', 6000, 24 + p.g % 100, date '2008-01-01' + (p.g % 2000), date '2014-12-31',
           b.account + %(people)s + p.g
    FROM bench_people p, bench_base b WHERE p.moved
    """,
    """
    INSERT INTO accounts_account (id, kind, status, balance, hold, hold_reference, created_at, enrolment_id,
                                  region_id)
    SELECT b.account + p.g, 'personal', 'active', 5 * (100 + p.g % 200), '', '', now() - interval '3 years',
           b.enrolment + p.g, p.region_id
    FROM bench_people p, bench_base b WHERE NOT p.resident
    UNION ALL
    SELECT b.account + %(people)s + p.g, 'personal', 'transferred_out', 100 + p.g % 200, '', '',
           now() - interval '10 years', b.enrolment + %(people)s + p.g, p.old_region_id
    FROM bench_people p, bench_base b WHERE p.moved
    """,
    # A credit source for every region that has none yet.
    """
    INSERT INTO accounts_account (id, kind, status, balance, hold, hold_reference, created_at, region_id)
    SELECT b.account + 2 * %(people)s + row_number() OVER (ORDER BY r.id), 'credit_source', 'active', 0, '', '',
           now(), r.id
    FROM accounts_region r, bench_base b
    WHERE NOT EXISTS (SELECT 1 FROM accounts_account a WHERE a.region_id = r.id AND a.kind = 'credit_source')
    """,
    # Monthly credits: month m (0..4) of every active account, and one (m = 5) for every old account.
    """
    CREATE TEMP TABLE bench_source AS
    SELECT region_id, id AS source_id FROM accounts_account WHERE kind = 'credit_source'
    """,
    """
    CREATE TEMP TABLE bench_credit AS
    SELECT b.journal + m * (2 * %(people)s + 1) + p.g AS journal_id, b.account + p.g AS account_id,
           s.source_id, m, (100 + p.g % 200)::numeric(14, 2) AS amount,
           ((m + 1) * (100 + p.g % 200))::numeric(14, 2) AS balance_after
    FROM bench_people p JOIN bench_source s ON s.region_id = p.region_id, bench_base b,
         generate_series(0, 4) AS m
    WHERE NOT p.resident
    UNION ALL
    SELECT b.journal + 5 * (2 * %(people)s + 1) + p.g, b.account + %(people)s + p.g, s.source_id, 5,
           (100 + p.g % 200)::numeric(14, 2), (100 + p.g % 200)::numeric(14, 2)
    FROM bench_people p JOIN bench_source s ON s.region_id = p.old_region_id, bench_base b WHERE p.moved
    """,
    """
    INSERT INTO accounts_journaltransaction (id, kind, description, created_at)
    SELECT c.journal_id, 'credit', '每月划入',
           date_trunc('month', now()) - (6 - c.m) * interval '1 month' + (c.account_id % 86400) * interval '1 second'
    FROM bench_credit c
    """,
    # Entries: the personal side (id 2k + 1) and the source side (id 2k + 2) of journal k; the source's running
    # balance starts from what the demo already put on it.
    """
    INSERT INTO accounts_ledgerentry (id, transaction_id, account_id, amount, balance_after)
    SELECT b.entry + 2 * (c.journal_id - b.journal) - 1, c.journal_id, c.account_id, c.amount, c.balance_after
    FROM bench_credit c, bench_base b
    UNION ALL
    SELECT b.entry + 2 * (c.journal_id - b.journal), c.journal_id, c.source_id, -c.amount,
           a.balance - sum(c.amount) OVER (PARTITION BY c.source_id ORDER BY c.journal_id)
    FROM bench_credit c JOIN accounts_account a ON a.id = c.source_id, bench_base b
    """,
    """
    UPDATE accounts_account a SET balance = a.balance - s.total
    FROM (SELECT source_id, sum(amount) AS total FROM bench_credit GROUP BY source_id) s
    WHERE a.id = s.source_id
    """,
    # Withdrawals: one per active account and one per old account of every third moved person.
    """
    CREATE TEMP TABLE bench_withdrawal AS
    SELECT row_number() OVER (ORDER BY x.g, x.old) AS k, x.*,
           (ARRAY['draft','submitted','submitted','first_reviewed','approved','paid','paid','paid','paid','paid',
                  'paid','paid','paid','paid','returned','refused','refused','cancelled','cancelled',
                  'bank_returned'])[1 + (x.g * 7 + x.old::int) % 20] AS status
    FROM (
        SELECT p.g, false AS old, b.account + p.g AS account_id, p.region_id FROM bench_people p, bench_base b
        WHERE NOT p.resident
        UNION ALL
        SELECT p.g, true, b.account + %(people)s + p.g, p.old_region_id FROM bench_people p, bench_base b
        WHERE p.moved AND p.g % 10 = 3
    ) AS x
    """,
    """
    ALTER TABLE bench_withdrawal ADD COLUMN created_at timestamptz
    """,
    # Closed applications spread over two years; open ones are from the last 30 days, so that their deadlines
    # (28 and 42 days) have passed for a few of them, as at a desk that keeps up.
    """
    UPDATE bench_withdrawal SET created_at = now() - (
        CASE WHEN status IN ('draft', 'submitted', 'first_reviewed', 'approved', 'returned')
             THEN (g * 13) % 30 ELSE (g * 13) % 730 END) * interval '1 day' - (g % 86400) * interval '1 second'
    """,
    """
    INSERT INTO withdrawals_withdrawalapplication (
        id, number, created_at, submitted_at, clock_started_on, status, heir_relation, bank_name,
        bank_account_number, bank_account_holder, amount, first_review_due, payment_due, missing_kinds,
        return_note, refusal_reason, declaration_accepted, declaration_accepted_at, account_id, applicant_id,
        holder_id, region_id, reason_id, material_kinds, proxy_id_number, proxy_name, next_due, voucher_number,
        bank_return_reason)
    SELECT b.withdrawal + w.k, 'W' || to_char(w.created_at, 'YYYYMMDD') || lpad(w.k::text, 10, '0'),
           w.created_at,
           CASE WHEN w.status = 'draft' THEN NULL ELSE w.created_at + interval '1 hour' END,
           CASE WHEN w.status = 'draft' THEN NULL ELSE w.created_at::date END,
           w.status, '', '中国工商银行', '6222' || lpad(w.k::text, 15, '0'), pe.name,
           CASE WHEN w.status IN ('approved', 'paid', 'bank_returned') THEN 100 + w.g % 200 END,
           CASE WHEN w.status = 'draft' THEN NULL ELSE w.created_at::date + 28 END,
           CASE WHEN w.status IN ('first_reviewed', 'approved', 'paid', 'bank_returned')
                THEN w.created_at::date + 42 END,
           '[]', '', CASE WHEN w.status = 'refused' THEN '不符合提取条件' ELSE '' END,
           w.status <> 'draft', CASE WHEN w.status = 'draft' THEN NULL ELSE w.created_at END,
           w.account_id, pe.id, pe.id, w.region_id, b.reasons[1 + w.g % array_length(b.reasons, 1)], '[]', '', '',
           -- the stored deadline of the step waiting on staff (WithdrawalApplication.DEADLINE_FIELDS)
           CASE WHEN w.status = 'submitted' THEN w.created_at::date + 28
                WHEN w.status IN ('first_reviewed', 'approved') THEN w.created_at::date + 42 END,
           CASE WHEN w.status IN ('paid', 'bank_returned') THEN 'V' || lpad(w.k::text, 12, '0') ELSE '' END, ''
    FROM bench_withdrawal w, bench_base b, accounts_person pe WHERE pe.id = b.person + w.g
    """,
    # Transfers: one per moved person, lodged with the new region.
    """
    INSERT INTO transfers_transferapplication (
        id, number, created_at, submitted_at, clock_started_on, status, reason, reason_note, province_wide,
        declaration_accepted_at, accepted_at, transfer_out_due, transferred_out_at, transfer_in_due,
        transferred_in_at, completed_at, amount, contribution_months, returned_by, return_note, returned_at,
        id_card_to_replace, refused_by, refusal_reason, applicant_id, new_account_id, new_enrolment_id,
        new_region_id, old_account_id, old_enrolment_id, old_region_id, region_id, next_due)
    SELECT b.transfer + t.g, 'T' || to_char(t.created_at, 'YYYYMMDD') || lpad(t.g::text, 10, '0'),
           t.created_at, t.created_at, t.created_at::date, t.status, 'work', '', false, t.created_at,
           CASE WHEN t.status IN ('accepted', 'transferred_out', 'transferred_in', 'completed')
                THEN t.created_at + interval '1 day' END,
           CASE WHEN t.status <> 'submitted' THEN t.created_at::date + 21 END,
           CASE WHEN t.status IN ('transferred_out', 'transferred_in', 'completed')
                THEN t.created_at + interval '5 days' END,
           CASE WHEN t.status IN ('transferred_out', 'transferred_in', 'completed') THEN t.created_at::date + 35 END,
           CASE WHEN t.status IN ('transferred_in', 'completed') THEN t.created_at + interval '9 days' END,
           CASE WHEN t.status = 'completed' THEN t.created_at + interval '10 days' END,
           CASE WHEN t.status IN ('transferred_in', 'completed') THEN 100 + t.g % 200 END,
           CASE WHEN t.status IN ('transferred_in', 'completed') THEN 24 + t.g % 100 END,
           CASE WHEN t.status = 'returned' THEN 'new' ELSE '' END, '', NULL, false,
           CASE WHEN t.status = 'refused' THEN 'old' ELSE '' END,
           CASE WHEN t.status = 'refused' THEN '不符合转移条件' ELSE '' END,
           b.person + t.g, b.account + t.g, b.enrolment + t.g, t.region_id,
           b.account + %(people)s + t.g, b.enrolment + %(people)s + t.g, t.old_region_id, t.region_id,
           -- the stored deadline of the step waiting on staff (TransferApplication.DEADLINE_FIELDS)
           CASE WHEN t.status = 'accepted' THEN t.created_at::date + 21
                WHEN t.status = 'transferred_out' THEN t.created_at::date + 35 END
    FROM (SELECT p.*, s.status,
                 now() - (CASE WHEN s.status IN ('submitted', 'accepted', 'transferred_out', 'returned')
                               THEN (p.g * 11) % 30 ELSE (p.g * 11) % 700 END) * interval '1 day'
                     - (p.g % 86400) * interval '1 second' AS created_at
          FROM bench_people p,
               LATERAL (SELECT (ARRAY['completed','completed','completed','completed','completed','completed',
                                      'completed','submitted','accepted','transferred_out','returned','refused',
                                      'cancelled'])[1 + (p.g * 3) % 13] AS status) AS s
          WHERE p.moved) AS t, bench_base b
    """,
    # Four review events per application, the citizen's first and the clerks' after it.
    """
    INSERT INTO review_event (content_type_id, object_id, from_status, to_status, note, created_at, actor_id)
    SELECT b.withdrawal_type, b.withdrawal + w.k,
           (ARRAY['', 'draft', 'submitted', 'first_reviewed'])[s],
           (ARRAY['draft', 'submitted', 'first_reviewed', w.status])[s], '',
           w.created_at + s * interval '1 hour',
           CASE WHEN s > 2 THEN b.staff[1 + w.k % array_length(b.staff, 1)] END
    FROM bench_withdrawal w, bench_base b, generate_series(1, 4) AS s
    UNION ALL
    SELECT b.transfer_type, t.id, (ARRAY['', 'submitted', 'accepted', 'transferred_out'])[s],
           (ARRAY['submitted', 'accepted', 'transferred_out', t.status])[s], '', t.created_at + s * interval '1 day',
           CASE WHEN s > 1 THEN b.staff[1 + t.id % array_length(b.staff, 1)] END
    FROM transfers_transferapplication t, bench_base b, generate_series(1, 4) AS s WHERE t.id > b.transfer
    """,
    """
    INSERT INTO accounts_notice (person_id, title, body, link, created_at, read_at, needs_action)
    SELECT b.person + p.g, (ARRAY['个人账户每月划入已到账', '您的申请有新进展'])[s],
           '请登录查看详情。', '/account/',
           now() - ((p.g * 5 + s * 17) % 365) * interval '1 day',
           CASE WHEN (p.g + s) % 2 = 0 THEN now() END, false
    FROM bench_people p, bench_base b, generate_series(1, 2) AS s
    """,
]

SEQUENCES = [
    "accounts_person", "accounts_enrolment", "accounts_account", "accounts_journaltransaction",
    "accounts_ledgerentry", "withdrawals_withdrawalapplication", "transfers_transferapplication",
]


def grow(connection, people):
    """Run every statement for `people` persons in one transaction; return seconds per statement."""
    import time

    timings = []
    with connection.transaction():
        connection.execute("SET LOCAL work_mem = '256MB'")
        for statement in STATEMENTS:
            started = time.perf_counter()
            connection.execute(statement.replace("%(people)s", str(int(people))))
            timings.append((statement.split()[0:3], time.perf_counter() - started))
        for table in SEQUENCES:
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    connection.execute("ANALYZE")
    return timings
