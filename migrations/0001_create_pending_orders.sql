-- closeorderd schema, version 1.
-- pending_orders is the contract with the merchant's app: the app inserts one row per unpaid order
-- (mch_id, appid, out_trade_no, optional sub_mch_id/sub_appid, created_at, timeout_seconds) and may
-- set status to 'paid'; closeorderd writes every other status and the outcome columns.
-- Times the merchant writes are unix seconds; times closeorderd writes end in _ms (unix milliseconds).

CREATE TABLE pending_orders (
    id               INTEGER PRIMARY KEY,
    mch_id           TEXT    NOT NULL CHECK (length(mch_id) BETWEEN 1 AND 32 AND mch_id = trim(mch_id)),
    appid            TEXT    NOT NULL CHECK (length(appid) BETWEEN 1 AND 32 AND appid = trim(appid)),
    out_trade_no     TEXT    NOT NULL CHECK (length(out_trade_no) BETWEEN 1 AND 32
                                             AND out_trade_no NOT GLOB '*[^0-9A-Za-z_|*@-]*'),
    sub_mch_id       TEXT    CHECK (sub_mch_id IS NULL OR length(sub_mch_id) <= 32),
    sub_appid        TEXT    CHECK (sub_appid IS NULL OR length(sub_appid) <= 32),
    created_at       INTEGER NOT NULL CHECK (created_at > 0),
    timeout_seconds  INTEGER NOT NULL CHECK (timeout_seconds >= 0),
    status           TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'closing', 'closed', 'paid', 'failed')),

    -- Outcome, written by closeorderd.
    outcome          TEXT    CHECK (outcome IS NULL OR outcome IN ('closed', 'already_closed', 'not_exist', 'paid')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       TEXT,
    last_err_code    TEXT,
    transaction_id   TEXT,
    in_doubt         INTEGER NOT NULL DEFAULT 0 CHECK (in_doubt IN (0, 1)),
    conflict         TEXT,
    first_attempt_ms INTEGER,
    last_attempt_ms  INTEGER,
    finished_ms      INTEGER,

    -- Scheduling and leasing, written by closeorderd.
    retry_at_ms      INTEGER,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_expires_ms INTEGER,
    -- When the order may next be tried: its due time (WeChat's 5-minute floor included) until a retry is set.
    next_attempt_ms  INTEGER GENERATED ALWAYS AS
                     (coalesce(retry_at_ms, (created_at + max(timeout_seconds, 300)) * 1000)) STORED,

    UNIQUE (mch_id, out_trade_no)
) STRICT;

-- Finding due work touches only pending rows, however many finished rows there are.
CREATE INDEX pending_orders_due ON pending_orders (next_attempt_ms) WHERE status = 'pending';
-- Finding expired leases touches only rows being closed.
CREATE INDEX pending_orders_leased ON pending_orders (lease_expires_ms) WHERE status = 'closing';
-- Operators look orders up by out_trade_no alone (closeorderd show).
CREATE INDEX pending_orders_out_trade_no ON pending_orders (out_trade_no);

-- The audit log: one row per call to WeChat Pay.
CREATE TABLE close_attempts (
    id             INTEGER PRIMARY KEY,
    order_id       INTEGER NOT NULL REFERENCES pending_orders (id) ON DELETE CASCADE,
    mch_id         TEXT    NOT NULL,
    out_trade_no   TEXT    NOT NULL,
    attempt        INTEGER NOT NULL CHECK (attempt >= 1),
    operation      TEXT    NOT NULL CHECK (operation IN ('closeorder', 'orderquery')),
    started_ms     INTEGER NOT NULL,
    finished_ms    INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL GENERATED ALWAYS AS (finished_ms - started_ms) STORED,
    endpoint       TEXT,
    http_status    INTEGER,
    return_code    TEXT,
    return_msg     TEXT,
    result_code    TEXT,
    err_code       TEXT,
    err_code_des   TEXT,
    outcome        TEXT    NOT NULL,
    error          TEXT
) STRICT;

CREATE INDEX close_attempts_order ON close_attempts (order_id);

-- What the daemon knows that operators ask about (merchant circuits, endpoint in use, heartbeat),
-- so `closeorderd status` can report it from another process.
CREATE TABLE daemon_state (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
