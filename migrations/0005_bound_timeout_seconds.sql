-- closeorderd schema, version 5 (issue 21): one row can never stop the queue.
--
-- | rule                                                  | on                                   |
-- |-------------------------------------------------------|--------------------------------------|
-- | timeout_seconds from 0 to 315360000 (10 years;        | INSERT, UPDATE OF timeout_seconds    |
-- |   DuePolicy.maxTimeoutSeconds in the code)            |                                      |
-- | a row set to closed, paid or failed is not in doubt   | UPDATE OF status (in_doubt set to 0) |
--
-- Why: version 1 bounded timeout_seconds only below. With created_at bounded (version 2) and the
-- timeout bounded here, every due time closeorderd computes (created_at + max(timeout_seconds,
-- min_age) + margin, in ms) stays far inside 64 bits for any row, so no query can overflow on one
-- row (on PostgreSQL that overflow was an error, and it stopped every merchant's claims).
-- A timeout_seconds above about 9.2e15 overflows next_attempt_ms (version 1) before any trigger
-- runs: SQLite refuses that INSERT too, but its message names next_attempt_ms ("cannot store REAL
-- value in INTEGER column"). Naming timeout_seconds there would need a CHECK in a rebuilt table,
-- which copies every row at upgrade; triggers, as in version 2, do not.
--
-- in_doubt says a call may have reached WeChat without an answer; once a row is decided that no
-- longer matters, and `status` counts in-doubt orders among undecided rows only. Closeorderd's own
-- writes clear it; the trigger also covers the merchant's `paid` on a row in doubt.

-- Rows already stored (the triggers below do not exist yet, so these UPDATEs are not checked).
-- A row beyond the bound gets the bound, so every stored row obeys the rule; the value it had is
-- kept in last_error. An undecided one ends failed with the reason, as migration 2 did for rows
-- closeorderd could never serve (`requeue` it once fixed).
UPDATE pending_orders
SET last_error = CASE WHEN status IN ('pending', 'closing')
        THEN 'timeout_seconds was ' || timeout_seconds || ', beyond 315360000 (10 years), so closeorderd could not compute when the order falls due; migration 5 set it to 315360000 and failed the order. Fix timeout_seconds, then requeue it'
        ELSE 'timeout_seconds was ' || timeout_seconds || ', beyond 315360000 (10 years); migration 5 set it to 315360000' || coalesce('. Before: ' || last_error, '')
    END,
    finished_ms = CASE WHEN status IN ('pending', 'closing')
        THEN CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) ELSE finished_ms END,
    status = CASE WHEN status IN ('pending', 'closing') THEN 'failed' ELSE status END,
    in_doubt = CASE WHEN status IN ('pending', 'closing') THEN 0 ELSE in_doubt END,
    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL,
    timeout_seconds = 315360000
WHERE timeout_seconds > 315360000;

UPDATE pending_orders SET in_doubt = 0 WHERE in_doubt <> 0 AND status IN ('closed', 'paid', 'failed');

CREATE TRIGGER pending_orders_timeout_seconds_is_at_most_10_years_on_insert
AFTER INSERT ON pending_orders
WHEN NEW.timeout_seconds > 315360000
BEGIN
    SELECT RAISE(ABORT, 'timeout_seconds must be from 0 to 315360000 (10 years)');
END;

CREATE TRIGGER pending_orders_timeout_seconds_is_at_most_10_years_on_update
AFTER UPDATE OF timeout_seconds ON pending_orders
WHEN NEW.timeout_seconds > 315360000
BEGIN
    SELECT RAISE(ABORT, 'timeout_seconds must be from 0 to 315360000 (10 years)');
END;

CREATE TRIGGER pending_orders_decided_is_not_in_doubt
AFTER UPDATE OF status ON pending_orders
WHEN NEW.in_doubt <> 0 AND NEW.status IN ('closed', 'paid', 'failed')
BEGIN
    UPDATE pending_orders SET in_doubt = 0 WHERE id = NEW.id;
END;
