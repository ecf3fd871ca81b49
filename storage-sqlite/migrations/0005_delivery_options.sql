-- leadroute-sqlite schema, version 5: per-workspace delivery options (issue 5).
--
-- `workspaces.delivery` holds JSON: payload field renames, omitted fields, constant fields,
-- the Standard Webhooks envelope switch, and extra signing secrets kept during rotation.

ALTER TABLE workspaces ADD COLUMN delivery TEXT NOT NULL DEFAULT '{}';
