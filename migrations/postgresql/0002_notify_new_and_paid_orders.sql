-- closeorderd schema for PostgreSQL, version 2: new and paid rows wake the daemons.
-- Every daemon LISTENs on the channel `closeorderd_orders`; a row inserted by the app, or set to
-- 'paid', notifies it, so a daemon asleep until the next due time looks again at once. The poll
-- stays as the fallback (a notification is lost while a daemon is reconnecting).
-- One notification per statement, not per row: PostgreSQL folds identical notifications of one
-- transaction into one, and a bulk INSERT needs only one wake-up.

CREATE FUNCTION closeorderd_notify_orders() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('closeorderd_orders', TG_OP);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER pending_orders_notify_on_insert
AFTER INSERT ON pending_orders
FOR EACH STATEMENT EXECUTE FUNCTION closeorderd_notify_orders();

CREATE TRIGGER pending_orders_notify_on_paid
AFTER UPDATE OF status ON pending_orders
FOR EACH ROW WHEN (NEW.status = 'paid' AND OLD.status IS DISTINCT FROM 'paid')
EXECUTE FUNCTION closeorderd_notify_orders();
