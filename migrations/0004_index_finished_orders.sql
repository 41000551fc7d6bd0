-- closeorderd schema, version 4: retention (retention.keep_days, `closeorderd prune`) finds the
-- oldest finished orders through an index, without scanning the table, in batches of a few
-- hundred. A row's finish time is finished_ms, which closeorderd writes when it decides the order;
-- a row the merchant marked paid has none, and its created_at (seconds) stands in for it.
-- Pending and closing rows are not in this index, and retention never deletes them.
-- (Built once, when this migration runs: about a second per million finished rows.)

CREATE INDEX pending_orders_finished ON pending_orders (coalesce(finished_ms, created_at * 1000))
    WHERE status IN ('closed', 'paid', 'failed');
