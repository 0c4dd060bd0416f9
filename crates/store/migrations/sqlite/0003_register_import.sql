-- Register imports: the source system's person id, and a flag for citizen IDs whose digits 4-6
-- disagree with sex and birth year (kept, flagged for review).
ALTER TABLE persons ADD COLUMN external_id TEXT;
ALTER TABLE persons ADD COLUMN national_id_inconsistent INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX persons_external_id ON persons (external_id) WHERE external_id IS NOT NULL;
