-- closeorderd schema, version 7 (issue 24): the same rules, cheaper on every close.
--
-- SQLite evaluates `x IN (a, b, c)` with three or more constants by building a temporary b-tree
-- of the constants (an "ephemeral table": a page allocated and zeroed, the constants inserted),
-- once per statement, and inside a trigger once per firing. Two or fewer are plain comparisons.
-- The daemon writes one row per statement, so each such list on its path cost a b-tree per close:
--
-- | where                                        | evaluated                                  | before | now |
-- |----------------------------------------------|--------------------------------------------|--------|-----|
-- | pending_orders_finished's WHERE (version 4)  | every UPDATE OF status, old and new row    | 2      | 0   |
-- | close_attempts_outcome_insert's WHEN (6)     | every audit row                            | 1      | 0   |
-- | pending_orders_decided_is_not_in_doubt (5)   | a decided row with in_doubt set            | 0–1    | 0   |
-- | status and outcome CHECKs (version 1)        | the finish (status, outcome)               | 2      | 2   |
--
-- (scripts/profile-closes, BENCHMARKS.md "Round 3": about 5.3 temporary b-trees per close
-- before, 2.1 after; the CHECKs of version 1 stay, as changing a CHECK rebuilds the table.)
--
-- Each rule refuses exactly the rows it refused before:
-- * status is NOT NULL and CHECKed to five words, so `NOT IN ('pending', 'closing')` is the same
--   set of rows as `IN ('closed', 'paid', 'failed')`. The retention queries say it the same way,
--   so SQLite still finds them through the index (RetentionSQLTests).
-- * `NOT (o = 'a' OR o = 'b' …)` is `o NOT IN ('a', 'b', …)`, NULL included (neither raises;
--   the NOT NULL constraint then refuses the row, as before).
-- Rebuilding the index reads the finished rows once (about a second per million).

DROP INDEX pending_orders_finished;
CREATE INDEX pending_orders_finished ON pending_orders (coalesce(finished_ms, created_at * 1000))
    WHERE status NOT IN ('pending', 'closing');

DROP TRIGGER pending_orders_decided_is_not_in_doubt;
CREATE TRIGGER pending_orders_decided_is_not_in_doubt
AFTER UPDATE OF status ON pending_orders
WHEN NEW.in_doubt <> 0 AND NEW.status NOT IN ('pending', 'closing')
BEGIN
    UPDATE pending_orders SET in_doubt = 0 WHERE id = NEW.id;
END;

DROP TRIGGER close_attempts_outcome_insert;
CREATE TRIGGER close_attempts_outcome_insert BEFORE INSERT ON close_attempts
WHEN NOT (NEW.outcome = 'closed' OR NEW.outcome = 'already_closed' OR NEW.outcome = 'not_exist'
          OR NEW.outcome = 'paid' OR NEW.outcome = 'not_paid' OR NEW.outcome = 'paying' OR NEW.outcome = 'retry'
          OR NEW.outcome = 'config_error' OR NEW.outcome = 'order_rejected' OR NEW.outcome = 'unknown_code')
BEGIN
    SELECT RAISE(ABORT, 'close_attempts.outcome must be one of closed, already_closed, not_exist, paid, not_paid, paying, retry, config_error, order_rejected, unknown_code (the words go in error)');
END;
