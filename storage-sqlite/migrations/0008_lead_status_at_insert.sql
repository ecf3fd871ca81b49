-- leadroute-sqlite schema, version 8: a lead may be stored with its decided status.
--
-- The engine routes a record before it stores the lead, so it can insert the lead with its
-- status (routed, unrouted, duplicate) instead of inserting it at 'new' and updating the row
-- (LeadRepo::insert_lead_as). The history stays the same as insert-then-update would write:
--
--   lead_status_initial   on INSERT: NULL -> 'new' at received_at, then, when the row is
--                         inserted with another status, 'new' -> status with status_reason
--                         at COALESCE(status_changed_at, received_at).
--
-- lead_status_change (on UPDATE OF status) is unchanged. Existing rows are untouched.
-- Schema invariants: version 7's.

DROP TRIGGER lead_status_initial;

CREATE TRIGGER lead_status_initial AFTER INSERT ON leads
BEGIN
    INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
    VALUES (NEW.id, NULL, 'new', NULL, NEW.received_at);
    INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
    SELECT NEW.id, 'new', NEW.status, NEW.status_reason,
           COALESCE(NEW.status_changed_at, NEW.received_at)
    WHERE NEW.status <> 'new';
END;
