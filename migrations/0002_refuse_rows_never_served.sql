-- closeorderd schema, version 2: rows that version 1 accepted but closeorderd could never serve
-- correctly are refused when they are written, with a message naming the column and the rule.
--
-- | rule                                                    | on                                   |
-- |---------------------------------------------------------|--------------------------------------|
-- | created_at in [1388534400, 4102444800): unix seconds,   | INSERT, UPDATE OF created_at         |
-- |   2014-01-01 to 2100-01-01 (milliseconds are refused)   |                                      |
-- | no NUL or control character (U+0001-U+001F,             | INSERT, UPDATE OF those columns      |
-- |   U+007F-U+009F) in out_trade_no, mch_id, appid,        |                                      |
-- |   sub_mch_id, sub_appid                                 |                                      |
-- | status is 'pending' or 'paid' at INSERT                 | INSERT                               |
-- | status 'closing' has lease_token and lease_expires_ms   | UPDATE OF status, lease columns      |
--
-- Triggers rather than a rebuilt table: a rebuild would have to copy (or drop) the bad rows that
-- version 1 let in; rows already stored are handled once, below, and never rejected later.
-- The checks run AFTER the row is written (and its STRICT types and CHECKs passed), so they compare
-- integers with integers; RAISE(ABORT) undoes the statement.
--
-- Why each rule:
-- * created_at in milliseconds is never due (about 50,000 years away), so the order is never closed
--   and nothing says so.
-- * SQLite's text functions (length, GLOB, trim) stop at a NUL byte, so version 1's CHECKs passed
--   'A' || char(0) || 'B', and closeorderd read it back as 'A' and closed a different order.
--   The NUL test is done on the bytes (CAST AS BLOB), the other control characters with GLOB.
-- * A row written as 'closing' without a lease is in flight for no one: no daemon holds it and the
--   rescue of expired leases never finds it. closeorderd's claim sets status, lease_token and
--   lease_expires_ms in one UPDATE, so it passes.
--
-- next_attempt_ms (version 1) is kept as it is: `coalesce(retry_at_ms, due at the 300 s floor)`.
-- It is only the index's lower bound for "due"; the store keeps the one SQL definition of due
-- (min_age_seconds and margin_seconds included) in its queries, and uses next_attempt_ms to find
-- candidates through pending_orders_due. Do not read it as the due time.

-- Whether the signature of the answer recorded in this row was checked (1) or not (0): an unsigned
-- or badly signed answer is recorded for the audit, never trusted as WeChat's words.
-- NULL for rows written before version 2.
ALTER TABLE close_attempts ADD COLUMN verified INTEGER CHECK (verified IS NULL OR verified IN (0, 1));

-- Rows already stored. The triggers below do not exist yet, so these UPDATEs are not checked.

-- 'closing' without a lease was written by the merchant's app (closeorderd's claim always sets the
-- lease): no call was made for it. Put it back to pending so it is served when due.
UPDATE pending_orders
SET status = 'pending', in_doubt = max(in_doubt, lease_token IS NOT NULL),
    last_error = 'status was closing without a lease, which closeorderd never writes; migration 2 put it back to pending',
    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL
WHERE status = 'closing' AND (lease_token IS NULL OR lease_expires_ms IS NULL);

-- A pending row that can never be served correctly ends failed with its reason, as the daemon does
-- for rows it cannot serve (operators see it in `closeorderd status`; `requeue` it once fixed).
UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = CASE WHEN created_at > 100000000000
        THEN 'created_at looks like milliseconds; closeorderd reads unix seconds and would never find this order due (migration 2). Set created_at = created_at / 1000, then requeue it'
        ELSE 'created_at is after 2100-01-01; closeorderd reads unix seconds and would never find this order due (migration 2). Fix created_at, then requeue it'
    END
WHERE status = 'pending' AND created_at >= 4102444800;

UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = 'out_trade_no contains a NUL or control character; closeorderd would have sent a different id (migration 2). Fix it, then requeue it'
WHERE status = 'pending'
  AND (instr(CAST(out_trade_no AS BLOB), x'00') > 0 OR out_trade_no GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*');

UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = 'mch_id contains a NUL or control character; closeorderd would have sent a different id (migration 2). Fix it, then requeue it'
WHERE status = 'pending'
  AND (instr(CAST(mch_id AS BLOB), x'00') > 0 OR mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*');

UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = 'appid contains a NUL or control character; closeorderd would have sent a different id (migration 2). Fix it, then requeue it'
WHERE status = 'pending'
  AND (instr(CAST(appid AS BLOB), x'00') > 0 OR appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*');

UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = 'sub_mch_id contains a NUL or control character; closeorderd would have sent a different id (migration 2). Fix it, then requeue it'
WHERE status = 'pending'
  AND (instr(CAST(sub_mch_id AS BLOB), x'00') > 0 OR sub_mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*');

UPDATE pending_orders
SET status = 'failed', finished_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    last_error = 'sub_appid contains a NUL or control character; closeorderd would have sent a different id (migration 2). Fix it, then requeue it'
WHERE status = 'pending'
  AND (instr(CAST(sub_appid AS BLOB), x'00') > 0 OR sub_appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*');

-- created_at is unix seconds.

CREATE TRIGGER pending_orders_created_at_is_seconds_on_insert
AFTER INSERT ON pending_orders
WHEN NEW.created_at < 1388534400 OR NEW.created_at >= 4102444800
BEGIN
    SELECT RAISE(ABORT, 'created_at must be unix seconds from 1388534400 (2014-01-01) to before 4102444800 (2100-01-01); milliseconds are refused');
END;

CREATE TRIGGER pending_orders_created_at_is_seconds_on_update
AFTER UPDATE OF created_at ON pending_orders
WHEN NEW.created_at < 1388534400 OR NEW.created_at >= 4102444800
BEGIN
    SELECT RAISE(ABORT, 'created_at must be unix seconds from 1388534400 (2014-01-01) to before 4102444800 (2100-01-01); milliseconds are refused');
END;

-- Ids carry no NUL or control character.

CREATE TRIGGER pending_orders_ids_have_no_control_characters_on_insert
AFTER INSERT ON pending_orders
BEGIN
    SELECT CASE
        WHEN instr(CAST(NEW.out_trade_no AS BLOB), x'00') > 0
          OR NEW.out_trade_no GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'out_trade_no must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.mch_id AS BLOB), x'00') > 0
          OR NEW.mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'mch_id must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.appid AS BLOB), x'00') > 0
          OR NEW.appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'appid must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.sub_mch_id AS BLOB), x'00') > 0
          OR NEW.sub_mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'sub_mch_id must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.sub_appid AS BLOB), x'00') > 0
          OR NEW.sub_appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'sub_appid must not contain a NUL or other control character')
    END;
END;

CREATE TRIGGER pending_orders_ids_have_no_control_characters_on_update
AFTER UPDATE OF out_trade_no, mch_id, appid, sub_mch_id, sub_appid ON pending_orders
BEGIN
    SELECT CASE
        WHEN instr(CAST(NEW.out_trade_no AS BLOB), x'00') > 0
          OR NEW.out_trade_no GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'out_trade_no must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.mch_id AS BLOB), x'00') > 0
          OR NEW.mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'mch_id must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.appid AS BLOB), x'00') > 0
          OR NEW.appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'appid must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.sub_mch_id AS BLOB), x'00') > 0
          OR NEW.sub_mch_id GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'sub_mch_id must not contain a NUL or other control character')
        WHEN instr(CAST(NEW.sub_appid AS BLOB), x'00') > 0
          OR NEW.sub_appid GLOB '*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'
            THEN RAISE(ABORT, 'sub_appid must not contain a NUL or other control character')
    END;
END;

-- The merchant writes 'pending' (or 'paid'); closeorderd writes the rest.

CREATE TRIGGER pending_orders_status_is_pending_or_paid_on_insert
AFTER INSERT ON pending_orders
WHEN NEW.status NOT IN ('pending', 'paid')
BEGIN
    SELECT RAISE(ABORT, 'status must be pending or paid at INSERT; closeorderd writes closing, closed and failed');
END;

CREATE TRIGGER pending_orders_closing_has_a_lease
AFTER UPDATE OF status, lease_token, lease_expires_ms ON pending_orders
WHEN NEW.status = 'closing' AND (NEW.lease_token IS NULL OR NEW.lease_expires_ms IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'status closing needs lease_token and lease_expires_ms; only closeorderd''s claim sets closing');
END;
