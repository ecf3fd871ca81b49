-- leadroute-sqlite schema, version 3: geographic targeting of routing rules (issue 4).
--
-- `targeting` holds the rule's targeting beyond its explicit `zip_codes` as JSON (states,
-- 3-digit ZIP prefixes, a radius around a ZIP, excluded ZIPs, weight); `{}` is none.

ALTER TABLE appointment_routing_rules ADD COLUMN targeting TEXT NOT NULL DEFAULT '{}';
