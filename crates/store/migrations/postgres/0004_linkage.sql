-- Record linkage: incoming records (vaccination doses, test results, cases, social-support
-- beneficiaries) linked to persons of the register, their candidate persons (the clerical review
-- queue), the persisted blocking index, the fitted linkage model, and merges of duplicate persons.

-- merged_into: the person this one was merged into (hidden from lists, kept for history).
-- link_indexed: whether person_blocking_keys holds this person's current keys (reset by every
-- change of the person, so the index is rebuilt for it).
ALTER TABLE persons ADD COLUMN merged_into UUID REFERENCES persons (id);
ALTER TABLE persons ADD COLUMN link_indexed BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX persons_unindexed ON persons (id) WHERE NOT link_indexed AND merged_into IS NULL;

-- Identifying fields are kept exactly as given (empty = missing); payload holds the other columns.
-- Like persons, the table is keyed by province_code first (partitioning / Citus): the 2025
-- province of the commune code as typed (a pre-2025 code through the old→new mapping), '' when the
-- code resolves to nothing.
CREATE TABLE source_records (
    province_code TEXT NOT NULL,
    id            UUID NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('dose', 'test', 'case', 'beneficiary')),
    source        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    full_name     TEXT NOT NULL,
    dob           TEXT NOT NULL,
    sex           TEXT NOT NULL,
    national_id   TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    phone         TEXT NOT NULL,
    payload       JSONB NOT NULL,
    batch_id      UUID NOT NULL,
    status        TEXT NOT NULL DEFAULT 'unlinked'
                  CHECK (status IN ('linked', 'review', 'unlinked')),
    person_id     UUID REFERENCES persons (id),
    probability   DOUBLE PRECISION,
    decided_by    TEXT,
    decided_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK ((status = 'linked') = (person_id IS NOT NULL)),
    PRIMARY KEY (province_code, id)
);
CREATE UNIQUE INDEX source_records_id ON source_records (id);
CREATE UNIQUE INDEX source_records_key ON source_records (kind, source, external_id);
CREATE INDEX source_records_queue ON source_records (status, created_at, id);
CREATE INDEX source_records_created ON source_records (created_at, id);
CREATE INDEX source_records_person ON source_records (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX source_records_commune ON source_records (commune_code, status);
CREATE INDEX source_records_batch ON source_records (batch_id);

-- Persons a record may be, with the model's probability and explanation (replaced per decision).
CREATE TABLE link_candidates (
    record_id   UUID NOT NULL REFERENCES source_records (id) ON DELETE CASCADE,
    person_id   UUID NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    explanation JSONB NOT NULL,
    PRIMARY KEY (record_id, person_id)
);

-- Blocking keys (hashed) of each person, looked up by key when linking incoming records. Keyed by
-- key, not province: a record is looked up against the whole register (people move).
CREATE TABLE person_blocking_keys (
    key       BIGINT NOT NULL,
    person_id UUID NOT NULL,
    PRIMARY KEY (key, person_id)
);
CREATE INDEX person_blocking_keys_person ON person_blocking_keys (person_id);

-- Fitted linkage models; the newest is used.
CREATE TABLE linkage_models (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    model      JSONB NOT NULL
);

-- Merges of a duplicate person into the one kept, with the source records moved from merged to
-- kept (moved back on undo).
CREATE TABLE person_merges (
    id            UUID NOT NULL PRIMARY KEY,
    kept          UUID NOT NULL REFERENCES persons (id),
    merged        UUID NOT NULL REFERENCES persons (id),
    merged_by     TEXT NOT NULL,
    merged_at     TIMESTAMPTZ NOT NULL,
    undone_by     TEXT,
    undone_at     TIMESTAMPTZ,
    moved_records UUID[] NOT NULL,
    CHECK (kept <> merged)
);
CREATE INDEX person_merges_kept ON person_merges (kept);
CREATE INDEX person_merges_merged ON person_merges (merged);
