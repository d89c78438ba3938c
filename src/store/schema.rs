//! The record's SQL schema, by version.

/// Schema 1: patients, courses, events with an unkeyed SHA-256 chain.
pub(super) const SCHEMA_1: &str = r#"
CREATE TABLE patients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    dob          TEXT NOT NULL,
    weight_kg    TEXT NOT NULL,
    sige         TEXT NOT NULL,
    total_ige    TEXT NOT NULL,
    fev1_percent TEXT,
    asthma       TEXT,
    beta_blocker INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE TABLE courses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id    TEXT NOT NULL REFERENCES patients(id),
    template_id   TEXT NOT NULL,
    rule_set      TEXT NOT NULL,
    template_text TEXT NOT NULL,
    rules_json    TEXT NOT NULL,
    plan_json     TEXT NOT NULL,
    inputs_json   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE TABLE events (
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    seq          INTEGER NOT NULL,
    body_json    TEXT NOT NULL,
    happened_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    late_entered INTEGER NOT NULL DEFAULT 0,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (course_id, seq)
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correction instead'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correction instead'); END;
CREATE TRIGGER courses_no_update BEFORE UPDATE ON courses
BEGIN SELECT RAISE(ABORT, 'a course''s frozen template, rules and plan never change'); END;
CREATE TRIGGER courses_no_delete BEFORE DELETE ON courses
BEGIN SELECT RAISE(ABORT, 'courses are never deleted'); END;
"#;

/// Schema 3: each course's derived state (active or not, its number of events, its latest
/// event time), kept by every write in the same transaction so that the board, the sheet and
/// `course list --active` read only what is live. A hint, never trusted over replay: MACed,
/// compared with the chain's length on every read, and a course without one is read anyway.
/// Rows with `events = -1` (written by the upgrade from schema 2) are rebuilt by replay.
pub(super) const SCHEMA_3: &str = r#"
CREATE TABLE course_state (
    course_id INTEGER PRIMARY KEY REFERENCES courses(id),
    active    INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    last_at   TEXT NOT NULL,
    mac       TEXT NOT NULL
);
CREATE INDEX course_state_live ON course_state(active, last_at);
CREATE INDEX course_state_rebuild ON course_state(course_id) WHERE events < 0;
"#;

/// Schema 4: the index of vial codes. A vial is a `VialAdded` event in its course's chain; this
/// table only finds the course of a code (and keeps codes unique in the record): a lookup
/// verifies the course and reads the code from its event, and `verify` checks every row
/// against its event (MACed) and every `VialAdded` against its row.
pub(super) const SCHEMA_4: &str = r#"
CREATE TABLE vials (
    code      TEXT PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    seq       INTEGER NOT NULL,
    mac       TEXT NOT NULL
);
CREATE INDEX vials_course ON vials(course_id);
CREATE TRIGGER vials_no_update BEFORE UPDATE ON vials
BEGIN SELECT RAISE(ABORT, 'vial codes are never changed: discard the vial instead'); END;
CREATE TRIGGER vials_no_delete BEFORE DELETE ON vials
BEGIN SELECT RAISE(ABORT, 'vial codes are never deleted: discard the vial instead'); END;
"#;

/// Schema 6: each distinct frozen text (a course's template, its rules files) kept once, under
/// its digest (see `frozen`); append-only.
pub(super) const SCHEMA_6: &str = r#"
CREATE TABLE IF NOT EXISTS frozen (
    digest TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS frozen_no_update BEFORE UPDATE ON frozen
BEGIN SELECT RAISE(ABORT, 'a frozen text never changes'); END;
CREATE TRIGGER IF NOT EXISTS frozen_no_delete BEFORE DELETE ON frozen
BEGIN SELECT RAISE(ABORT, 'a frozen text is never deleted'); END;
"#;

/// Schema 2, the columns and tables: who recorded (staff account and OS user), MACs, staff,
/// sessions, settings, and the record's identity.
pub(super) const SCHEMA_2: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    mac          TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff(id),
    os_user    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used  TEXT NOT NULL,
    ended      INTEGER NOT NULL DEFAULT 0,
    mac        TEXT NOT NULL
);
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    mac        TEXT NOT NULL
);
ALTER TABLE patients ADD COLUMN created_by_staff TEXT;
ALTER TABLE patients ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE courses ADD COLUMN created_by_staff TEXT;
ALTER TABLE courses ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE courses ADD COLUMN keyed_from INTEGER NOT NULL DEFAULT 1;
ALTER TABLE courses ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN staff_id TEXT;
ALTER TABLE events ADD COLUMN os_user TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN out_of_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX courses_patient ON courses(patient_id);
CREATE INDEX patients_dob ON patients(dob);
"#;

/// The row triggers of schema 2 (created after a migration has filled in the MACs).
pub(super) const TRIGGERS_2: &str = r#"
DROP TRIGGER IF EXISTS courses_no_update;
CREATE TRIGGER courses_no_update BEFORE UPDATE ON courses
BEGIN SELECT RAISE(ABORT, 'a course''s frozen template, rules and plan never change'); END;
CREATE TRIGGER patients_no_update BEFORE UPDATE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are never changed in place'); END;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are never deleted'); END;
"#;
