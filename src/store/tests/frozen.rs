//! Frozen texts kept once, by digest (schema 6).

use super::*;
use std::sync::Arc;

fn column(dir: &tempfile::TempDir, sql: &str) -> Vec<String> {
    let c = Connection::open(db(dir)).expect("open");
    let mut st = c.prepare(sql).expect("prepare");
    st.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn courses_under_the_same_texts_share_one_copy_of_each_and_read_them_back_whole() {
    let (dir, mut s, first) = store_with_course();
    let second = s
        .add_course(&new_course(), t("2026-12-02 09:00"), &nurse())
        .expect("course");
    let mut other = new_course();
    other.rules_json = "{\"r.toml\":\"a = 3\"}".into();
    let third = s
        .add_course(&other, t("2026-12-03 09:00"), &nurse())
        .expect("course");
    // One template text, two rules texts.
    assert_eq!(crate::store::frozen::count(&s.db).expect("count"), 3);
    let refs = column(&dir, "SELECT rules_json FROM courses ORDER BY id");
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[0], refs[1]);
    assert_ne!(refs[0], refs[2]);
    assert_eq!(
        refs[0],
        crate::store::frozen::reference("{\"r.toml\":\"a = 1\"}")
    );
    assert!(
        refs.iter()
            .all(|r| r.starts_with("sha256:") && r.len() == 71)
    );
    for (id, rules) in [
        (first, "{\"r.toml\":\"a = 1\"}"),
        (second, "{\"r.toml\":\"a = 1\"}"),
        (third, "{\"r.toml\":\"a = 3\"}"),
    ] {
        let c = s.course(id).expect("read").expect("there");
        assert_eq!(&*c.rules_json, rules);
        assert_eq!(&*c.template_text, "id = \"x\"");
        assert!(s.verify(id).expect("verify").intact);
    }
    // Read together, the courses share the text itself.
    let read = s.read_courses_of(&["P1".to_string()]).expect("batch");
    let (a, b) = (read.courses[0].record(), read.courses[1].record());
    assert!(Arc::ptr_eq(&a.rules_json, &b.rules_json));
    assert!(read.courses.into_iter().all(|c| c.verified().is_ok()));
}

#[test]
fn a_kept_text_that_was_changed_refuses_its_courses_and_a_new_course_under_it() {
    let (dir, s, c) = store_with_course();
    drop(s);
    attacker(&dir)
        .execute_batch("UPDATE frozen SET text = replace(text, 'a = 1', 'a = 9')")
        .expect("tamper");
    let mut s = Store::open(&db(&dir)).expect("open");
    let v = s.verify(c).expect("verify");
    assert!(!v.intact);
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("does not match its digest")),
        "{v:?}"
    );
    // The course's text is never the changed one.
    assert_eq!(&*s.course(c).expect("read").expect("there").rules_json, "");
    let read = s.read_courses_of(&["P1".to_string()]).expect("batch");
    assert!(read.courses.into_iter().all(|c| c.verified().is_err()));
    // A new course under the same text is refused, and nothing is written.
    let before = s.courses().expect("courses").len();
    let e = s
        .add_course(&new_course(), t("2026-12-02 09:00"), &nurse())
        .expect_err("refused");
    assert!(e.to_string().contains("does not match its digest"), "{e}");
    assert_eq!(s.courses().expect("courses").len(), before);
}

#[test]
fn kept_texts_are_append_only() {
    let (_d, s, _) = store_with_course();
    let c = s.db.sqlite().expect("sqlite");
    assert!(
        c.execute("UPDATE frozen SET text = 'x'", [])
            .is_err_and(|e| e.to_string().contains("never changes"))
    );
    assert!(c.execute("DELETE FROM frozen", []).is_err());
}

#[test]
fn a_copy_carries_the_kept_texts_and_has_the_same_digest() {
    let (dir, s, c) = busy();
    let dest = dir.path().join("copy/r.db");
    let report = s.copy_to(&dest).expect("copy");
    assert_eq!(report.source_digest, report.copy_digest);
    let copy = Store::open(&dest).expect("open");
    assert_eq!(crate::store::frozen::count(&copy.db).expect("count"), 2);
    assert!(copy.verify(c).expect("verify").intact);
}

#[test]
fn a_record_of_schema_5_moves_to_6_keeping_its_rows_and_writes_references_from_then_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = {
        let mut s = Store::create(&db(&dir), false).expect("create");
        // As schema 5 was: no `frozen` table, the texts in the row.
        s.db.batch("DROP TABLE frozen; PRAGMA user_version = 5")
            .expect("schema 5");
        s.add_patient(&patient(), t("2026-12-01 09:00"), &nurse())
            .expect("patient");
        s.add_course(&new_course(), t("2026-12-01 09:00"), &nurse())
            .expect("course")
    };
    assert_eq!(
        column(&dir, "SELECT rules_json FROM courses")[0],
        "{\"r.toml\":\"a = 1\"}"
    );
    let mut s = Store::open(&db(&dir)).expect("open");
    assert_eq!(s.schema_version().expect("version"), 6);
    assert_eq!(crate::store::frozen::count(&s.db).expect("count"), 0);
    assert!(s.verify(c).expect("verify").intact);
    // The old row is as it was.
    assert_eq!(
        column(&dir, "SELECT rules_json FROM courses")[0],
        "{\"r.toml\":\"a = 1\"}"
    );
    let next = s
        .add_course(&new_course(), t("2026-12-02 09:00"), &nurse())
        .expect("course");
    assert!(s.verify(next).expect("verify").intact);
    assert!(s.verify(c).expect("verify").intact);
    assert!(column(&dir, "SELECT rules_json FROM courses ORDER BY id")[1].starts_with("sha256:"));
    assert_eq!(crate::store::frozen::count(&s.db).expect("count"), 2);
}
