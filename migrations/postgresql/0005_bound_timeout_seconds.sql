-- closeorderd PostgreSQL schema, version 5 (issue 21; SQLite version 5): one row can never stop
-- the queue.
--
-- | rule                                                  | enforced by                               |
-- |-------------------------------------------------------|-------------------------------------------|
-- | timeout_seconds from 0 to 315360000 (10 years;        | CHECK pending_orders_timeout_seconds_is_  |
-- |   DuePolicy.maxTimeoutSeconds in the code)            |   at_most_10_years, and a BEFORE trigger  |
-- | created_at in [1388534400, 4102444800) (version 1)    | its CHECK, and the same BEFORE trigger    |
-- | a row set to closed, paid or failed is not in doubt   | a BEFORE UPDATE OF status trigger         |
--
-- Why: version 1 bounded timeout_seconds only below. A row with created_at 1700000000 and
-- timeout_seconds 9223370336854775 was accepted, and from then on the due-time queries failed with
-- "bigint out of range": the daemons took that for an outage and no merchant's order was claimed.
-- With both terms bounded, every due time closeorderd computes (created_at + greatest(
-- timeout_seconds, min_age) + margin, in ms) stays far inside bigint for any row.
--
-- PostgreSQL computes next_attempt_ms (a generated column) before it checks constraints, so an
-- INSERT whose terms overflow it failed with a bare "bigint out of range" naming no column. BEFORE
-- triggers run before generated columns: this one raises the same error the CHECK would, naming
-- the constraint and the column. The CHECK stays the rule (and what \d shows).
--
-- in_doubt says a call may have reached WeChat without an answer; once a row is decided that no
-- longer matters, and `status` counts in-doubt orders among undecided rows only. Closeorderd's own
-- writes clear it; the trigger also covers the merchant's `paid` on a row in doubt.
--
-- Rows already stored: a row beyond the bound gets the bound, so the CHECK holds for every row
-- (validated when it is added: one scan of the table); the value it had is kept in last_error. An
-- undecided one ends failed with the reason (`requeue` it once fixed).

UPDATE pending_orders
SET last_error = CASE WHEN status IN ('pending', 'closing')
        THEN 'timeout_seconds was ' || timeout_seconds || ', beyond 315360000 (10 years), so closeorderd could not compute when the order falls due; migration 5 set it to 315360000 and failed the order. Fix timeout_seconds, then requeue it'
        ELSE 'timeout_seconds was ' || timeout_seconds || ', beyond 315360000 (10 years); migration 5 set it to 315360000' || coalesce('. Before: ' || last_error, '')
    END,
    finished_ms = CASE WHEN status IN ('pending', 'closing')
        THEN (extract(epoch from clock_timestamp()) * 1000)::bigint ELSE finished_ms END,
    status = CASE WHEN status IN ('pending', 'closing') THEN 'failed' ELSE status END,
    in_doubt = CASE WHEN status IN ('pending', 'closing') THEN 0 ELSE in_doubt END,
    lease_owner = NULL, lease_token = NULL, lease_expires_ms = NULL,
    timeout_seconds = 315360000
WHERE timeout_seconds > 315360000;

UPDATE pending_orders SET in_doubt = 0 WHERE in_doubt <> 0 AND status IN ('closed', 'paid', 'failed');

ALTER TABLE pending_orders ADD CONSTRAINT pending_orders_timeout_seconds_is_at_most_10_years
    CHECK (timeout_seconds >= 0 AND timeout_seconds <= 315360000);

CREATE FUNCTION pending_orders_due_terms_are_in_range() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.timeout_seconds > 315360000 THEN
        RAISE EXCEPTION 'new row for relation "pending_orders" violates check constraint "pending_orders_timeout_seconds_is_at_most_10_years"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'pending_orders_timeout_seconds_is_at_most_10_years',
                  COLUMN = 'timeout_seconds', TABLE = 'pending_orders',
                  DETAIL = 'timeout_seconds must be from 0 to 315360000 (10 years); it was ' || NEW.timeout_seconds || '.';
    END IF;
    IF NEW.created_at < 1388534400 OR NEW.created_at >= 4102444800 THEN
        RAISE EXCEPTION 'new row for relation "pending_orders" violates check constraint "pending_orders_created_at_is_unix_seconds"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'pending_orders_created_at_is_unix_seconds',
                  COLUMN = 'created_at', TABLE = 'pending_orders',
                  DETAIL = 'created_at must be unix seconds from 1388534400 (2014-01-01) to before 4102444800 (2100-01-01); it was ' || NEW.created_at || '.';
    END IF;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER pending_orders_due_terms_are_in_range
BEFORE INSERT OR UPDATE OF created_at, timeout_seconds ON pending_orders
FOR EACH ROW EXECUTE FUNCTION pending_orders_due_terms_are_in_range();

CREATE FUNCTION pending_orders_decided_is_not_in_doubt() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.in_doubt := 0;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER pending_orders_decided_is_not_in_doubt
BEFORE UPDATE OF status ON pending_orders
FOR EACH ROW WHEN (NEW.in_doubt <> 0 AND NEW.status IN ('closed', 'paid', 'failed'))
EXECUTE FUNCTION pending_orders_decided_is_not_in_doubt();
