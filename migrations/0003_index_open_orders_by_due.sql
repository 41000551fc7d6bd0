-- closeorderd schema, version 3: finding overdue orders stays cheap.
-- "Overdue" (design.md §2) is every undecided order (pending or closing) past its own due time,
-- whatever its retry time: what an outage or an open circuit leaves behind, and what operators
-- alert on. The heartbeat counts them every minute; without this index that would scan every
-- scheduled order. The indexed expression is the due time with WeChat's 300 s floor, a lower
-- bound of the configured one (min_age can only be raised; the margin only adds), so the query
-- takes the index range and filters it with the configured values (OverdueSQL in the store).

CREATE INDEX pending_orders_open_by_due ON pending_orders (created_at + max(timeout_seconds, 300))
    WHERE status IN ('pending', 'closing');
