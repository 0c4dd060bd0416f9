-- Record linkage: incoming records (vaccination doses, test results, cases, social-support
-- beneficiaries) linked to persons of the register, their candidate persons (the clerical review
-- queue), the persisted blocking index, the fitted linkage model, and merges of duplicate persons.

-- merged_into: the person this one was merged into (hidden from lists, kept for history).
-- link_indexed: whether person_blocking_keys holds this person's current keys (reset by every
-- change of the person, so the index is rebuilt for it).
ALTER TABLE persons ADD COLUMN merged_into TEXT REFERENCES persons (id);
ALTER TABLE persons ADD COLUMN link_indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX persons_unindexed ON persons (id) WHERE link_indexed = 0 AND merged_into IS NULL;

-- Identifying fields are kept exactly as given (empty = missing); payload holds the other columns.
CREATE TABLE source_records (
    id           TEXT NOT NULL PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('dose', 'test', 'case', 'beneficiary')),
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    full_name    TEXT NOT NULL,
    dob          TEXT NOT NULL,
    sex          TEXT NOT NULL,
    national_id  TEXT NOT NULL,
    commune_code TEXT NOT NULL,
    phone        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    batch_id     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'unlinked'
                 CHECK (status IN ('linked', 'review', 'unlinked')),
    person_id    TEXT REFERENCES persons (id),
    probability  REAL,
    decided_by   TEXT,
    decided_at   TEXT,
    created_at   TEXT NOT NULL,
    CHECK ((status = 'linked') = (person_id IS NOT NULL))
);
CREATE UNIQUE INDEX source_records_key ON source_records (kind, source, external_id);
CREATE INDEX source_records_queue ON source_records (status, created_at, id);
CREATE INDEX source_records_created ON source_records (created_at, id);
CREATE INDEX source_records_person ON source_records (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX source_records_commune ON source_records (commune_code, status);
CREATE INDEX source_records_batch ON source_records (batch_id);

-- Persons a record may be, with the model's probability and explanation (replaced per decision).
CREATE TABLE link_candidates (
    record_id   TEXT NOT NULL REFERENCES source_records (id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL,
    probability REAL NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (record_id, person_id)
) WITHOUT ROWID;

-- Blocking keys (hashed) of each person, looked up by key when linking incoming records.
CREATE TABLE person_blocking_keys (
    key       INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (key, person_id)
) WITHOUT ROWID;
CREATE INDEX person_blocking_keys_person ON person_blocking_keys (person_id);

-- Fitted linkage models; the newest is used.
CREATE TABLE linkage_models (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    model      TEXT NOT NULL
);

-- Merges of a duplicate person into the one kept; moved_records is a JSON array of the source
-- record ids moved from merged to kept (moved back on undo).
CREATE TABLE person_merges (
    id            TEXT NOT NULL PRIMARY KEY,
    kept          TEXT NOT NULL REFERENCES persons (id),
    merged        TEXT NOT NULL REFERENCES persons (id),
    merged_by     TEXT NOT NULL,
    merged_at     TEXT NOT NULL,
    undone_by     TEXT,
    undone_at     TEXT,
    moved_records TEXT NOT NULL,
    CHECK (kept <> merged)
);
CREATE INDEX person_merges_kept ON person_merges (kept);
CREATE INDEX person_merges_merged ON person_merges (merged);
