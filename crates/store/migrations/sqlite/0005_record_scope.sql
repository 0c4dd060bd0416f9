-- scope_commune: for a record typed without a commune, the 2025 commune of its linked person or
-- best candidate, set by the engine, so the staff of that unit can see and review it. Listing by
-- unit uses the typed commune when there is one, else this.
ALTER TABLE source_records ADD COLUMN scope_commune TEXT;
CREATE INDEX source_records_scope ON source_records (scope_commune, status)
    WHERE scope_commune IS NOT NULL;
