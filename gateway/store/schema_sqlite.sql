-- Schema version 1 (SQLite). Times are UTC ISO 8601 text, money is integer cents.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- The journal: every message the broker delivered, in arrival order (first come first served).
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    message_key TEXT NOT NULL,
    message_id TEXT,
    content_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('original', 'resend', 'conflict', 'part')),
    part_index INTEGER,
    original_id INTEGER REFERENCES inbox (id),
    kind TEXT NOT NULL,
    syntax TEXT NOT NULL,
    payload BLOB,
    payload_bytes INTEGER NOT NULL,
    topic TEXT NOT NULL,
    correlation_data BLOB,
    response_topic TEXT,
    received_at TEXT NOT NULL,
    respond_by TEXT NOT NULL,
    clock_stopped_at TEXT,
    clock_paused_s INTEGER NOT NULL DEFAULT 0,
    escalated_at TEXT,
    missed_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'deferred')),
    attempts INTEGER NOT NULL DEFAULT 0,
    instance TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS inbox_key ON inbox (sender, message_key) WHERE role = 'original';
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (status, id);
-- re-sends and conflicts by their original: a broker's redelivery of a DUP002 message, and an
-- arrival whose commit reply was lost, are looked for among them
DROP INDEX IF EXISTS inbox_conflicts;
CREATE INDEX IF NOT EXISTS inbox_copies ON inbox (original_id)
    WHERE role IN ('resend', 'conflict');
-- open deadlines (heartbeat, escalation, status) without scanning the whole journal
CREATE INDEX IF NOT EXISTS inbox_open_clock ON inbox (instance, respond_by)
    WHERE clock_stopped_at IS NULL;
-- the escalation scan: only clocks old enough to have reached their escalation point
CREATE INDEX IF NOT EXISTS inbox_open_received ON inbox (instance, received_at)
    WHERE clock_stopped_at IS NULL;

-- One current outcome per journalled message (a deferred one is superseded by its replay).
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY,
    inbox_id INTEGER NOT NULL REFERENCES inbox (id),
    acknowledgement_id TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT,
    facts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    superseded INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS outcomes_current ON outcomes (inbox_id) WHERE superseded = 0;

-- The transactional outbox: one row per channel and recipient of each outcome.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    outcome_id INTEGER REFERENCES outcomes (id),
    purpose TEXT NOT NULL DEFAULT 'outcome' CHECK (purpose IN ('outcome', 'alert', 'case-step', 'statement')),
    channel TEXT NOT NULL CHECK (channel IN ('mqtt', 'email')),
    recipient TEXT NOT NULL,
    payload BLOB NOT NULL,
    correlation_data BLOB,
    header_message_id TEXT,
    final INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    instance TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, channel, instance, id);

-- Posted declaration versions.
CREATE TABLE IF NOT EXISTS declarations (
    transaction_number TEXT NOT NULL,
    version INTEGER NOT NULL,
    importer_account TEXT NOT NULL,
    release_date TEXT NOT NULL,
    purpose TEXT NOT NULL,
    inbox_id INTEGER NOT NULL REFERENCES inbox (id),
    duty_cents INTEGER NOT NULL,
    excise_cents INTEGER NOT NULL,
    gst_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    period TEXT NOT NULL,
    due_date TEXT NOT NULL,
    lines TEXT NOT NULL,
    posted_at TEXT NOT NULL,
    PRIMARY KEY (transaction_number, version)
);

-- The append-only ledger: each entry's legs sum to zero.
CREATE TABLE IF NOT EXISTS ledger_entries (
    id INTEGER PRIMARY KEY,
    importer_account TEXT NOT NULL,
    entry_type TEXT NOT NULL,
    reference TEXT NOT NULL,
    inbox_id INTEGER REFERENCES inbox (id),
    period TEXT,
    due_date TEXT,
    effective_on TEXT NOT NULL,
    posted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (importer_account, id);

CREATE TABLE IF NOT EXISTS ledger_legs (
    entry_id INTEGER NOT NULL REFERENCES ledger_entries (id),
    book TEXT NOT NULL,
    importer_account TEXT NOT NULL,
    item TEXT NOT NULL,
    amount_cents INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_legs_entry ON ledger_legs (entry_id);
CREATE INDEX IF NOT EXISTS ledger_legs_account ON ledger_legs (importer_account, book, item);

-- What each importer account owes, per item (a transaction number, or '' for a credit).
CREATE TABLE IF NOT EXISTS balances (
    importer_account TEXT NOT NULL,
    item TEXT NOT NULL,
    due_date TEXT,
    posted_at TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    PRIMARY KEY (importer_account, item)
);
CREATE INDEX IF NOT EXISTS balances_sign ON balances (importer_account, amount_cents);
CREATE INDEX IF NOT EXISTS balances_age ON balances (importer_account, due_date, posted_at, item);

-- What each importer account owes in all (the sum of its balances, kept with every move).
CREATE TABLE IF NOT EXISTS account_totals (
    importer_account TEXT PRIMARY KEY,
    amount_cents BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS payments (
    importer_account TEXT NOT NULL,
    payment_reference TEXT NOT NULL,
    inbox_id INTEGER NOT NULL REFERENCES inbox (id),
    amount_cents INTEGER NOT NULL,
    method TEXT NOT NULL,
    received_on TEXT NOT NULL,
    PRIMARY KEY (importer_account, payment_reference)
);

-- Appeals and account requests.
CREATE TABLE IF NOT EXISTS cases (
    case_number TEXT PRIMARY KEY,
    case_type TEXT NOT NULL CHECK (case_type IN ('appeal', 'account-request')),
    subtype TEXT NOT NULL,
    importer_account TEXT NOT NULL,
    sender TEXT NOT NULL,
    reference TEXT,
    decision_date TEXT,
    amount_cents INTEGER,
    inbox_id INTEGER NOT NULL REFERENCES inbox (id),
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    respond_by TEXT NOT NULL,
    clock_stopped_at TEXT,
    info_requested_at TEXT,
    decided_at TEXT,
    outcome TEXT,
    decided_amount_cents INTEGER
);
CREATE INDEX IF NOT EXISTS cases_reference ON cases (importer_account, subtype, reference);
-- a message's case: the SLA report and the escalation scan look it up by inbox row
CREATE INDEX IF NOT EXISTS cases_inbox ON cases (inbox_id);

CREATE TABLE IF NOT EXISTS case_steps (
    id INTEGER PRIMARY KEY,
    case_number TEXT NOT NULL REFERENCES cases (case_number),
    step TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS statements_issued (
    importer_account TEXT NOT NULL,
    period TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    closing_cents BIGINT NOT NULL,
    PRIMARY KEY (importer_account, period)
);

-- Interest charged per debt and statement, and the day it was charged through.
CREATE TABLE IF NOT EXISTS interest_charges (
    importer_account TEXT NOT NULL,
    item TEXT NOT NULL,
    period TEXT NOT NULL,
    through_date TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (importer_account, item, period)
);

CREATE TABLE IF NOT EXISTS dead_letters (
    inbox_id INTEGER PRIMARY KEY REFERENCES inbox (id),
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution TEXT
);

-- Every failed attempt of a dead-lettered message, with its error, kept across replays.
CREATE TABLE IF NOT EXISTS dead_letter_attempts (
    inbox_id BIGINT NOT NULL REFERENCES inbox (id),
    attempt INTEGER NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL
);
