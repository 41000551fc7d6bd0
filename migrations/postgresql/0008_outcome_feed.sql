-- closeorderd PostgreSQL schema, version 8 (issue 25; SQLite version 8): the merchant's app reads
-- every finished order, in order, from a cursor (finished_ms, id), without a scan and without
-- missing one, and hears of each on the channel `closeorderd_outcomes` (README, "Reading outcomes
-- as they happen").
--
-- | what                                   | how                                                    |
-- |----------------------------------------|--------------------------------------------------------|
-- | the cursor query is an index range     | pending_orders_feed on (finished_ms, id)               |
-- | a later commit never stamps lower      | at COMMIT (a deferred trigger), each transaction that  |
-- |   than one already committed           |   finished rows takes the one row of                   |
-- |                                        |   closeorderd_feed_clock (held until it ends), stamps  |
-- |                                        |   greatest(its time, last stamp + 1) on all its rows   |
-- | NOTIFY closeorderd_outcomes            | the same trigger, one per row, delivered at COMMIT     |
-- |   {id, finished_ms, mch_id, out_trade_no, status, outcome, transaction_id}                      |
-- | a row the app marks paid is stamped    | the same trigger (the app's own UPDATE)                |
-- | a conflict set later on a finished row | stamped again, so the app reads it once more           |
--
-- Why at COMMIT: several daemons (and the app) commit at once. A stamp taken when the row is
-- written could commit after a higher one another transaction already committed, and a reader
-- past that one would skip it. Taken at COMMIT under the clock row's lock, stamps follow commit
-- order. Taking the lock earlier would deadlock against the app's `paid` on a row the daemon is
-- about to finish. The clock row is updated, not read with max(): under REPEATABLE READ or
-- SERIALIZABLE a concurrent stamp is then a serialization failure (retried), never a low stamp.
-- The stamp is remembered for the transaction in closeorderd.feed_stamp (set_config, local).
-- The row is written a second time only when its stamp differs from what its writer set.
-- A later migration that finishes rows and then alters pending_orders in one transaction must
-- first say `SET CONSTRAINTS pending_orders_feed_stamp IMMEDIATE` (else: "pending trigger events").
-- Statements are separated by a semicolon at the end of a line (the runner sends one at a time).

CREATE TABLE closeorderd_feed_clock (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT closeorderd_feed_clock_has_one_row CHECK (only_row),
    last_ms  BIGINT  NOT NULL
);

INSERT INTO closeorderd_feed_clock (last_ms) SELECT coalesce(max(finished_ms), 0) FROM pending_orders;

CREATE INDEX pending_orders_feed ON pending_orders (finished_ms, id) WHERE finished_ms IS NOT NULL;

CREATE FUNCTION closeorderd_feed_stamp() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    stamp BIGINT := nullif(current_setting('closeorderd.feed_stamp', true), '')::bigint;
BEGIN
    IF stamp IS NULL THEN
        UPDATE closeorderd_feed_clock
        SET last_ms = greatest(last_ms + 1,
                               CASE WHEN NEW.finished_ms IS DISTINCT FROM OLD.finished_ms THEN NEW.finished_ms
                                    ELSE (extract(epoch from clock_timestamp()) * 1000)::bigint END)
        RETURNING last_ms INTO stamp;
        PERFORM set_config('closeorderd.feed_stamp', stamp::text, true);
    END IF;
    IF NEW.finished_ms IS DISTINCT FROM stamp THEN
        UPDATE pending_orders SET finished_ms = stamp
        WHERE id = NEW.id AND finished_ms IS DISTINCT FROM stamp AND status IN ('closed', 'paid', 'failed');
    END IF;
    PERFORM pg_notify('closeorderd_outcomes', json_build_object(
        'id', NEW.id, 'finished_ms', stamp, 'mch_id', NEW.mch_id, 'out_trade_no', NEW.out_trade_no,
        'status', NEW.status, 'outcome', NEW.outcome, 'transaction_id', NEW.transaction_id)::text);
    RETURN NULL;
END
$fn$;

CREATE CONSTRAINT TRIGGER pending_orders_feed_stamp
AFTER UPDATE OF status, conflict ON pending_orders
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (NEW.status IN ('closed', 'paid', 'failed')
      AND (OLD.status NOT IN ('closed', 'paid', 'failed') OR OLD.conflict IS NULL AND NEW.conflict IS NOT NULL))
EXECUTE FUNCTION closeorderd_feed_stamp();
