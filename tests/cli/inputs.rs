//! Inputs that once crashed ritplan or reached places they should not: each now gets a clear
//! error with its own exit code, and nothing on disk is created, changed or followed.

use std::path::Path;

use crate::{fixture, ritplan};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = ritplan().args(args).output().expect("run ritplan");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ADULT: [&str; 8] = [
    "--age",
    "34",
    "--weight",
    "70",
    "--sige",
    "2",
    "--total-ige",
    "410",
];

#[test]
fn the_inputs_that_panicked_the_planner_are_errors() {
    // A start date far in the future (it overflowed the calendar): bad input data, named.
    let (code, _, err) = run(&[
        &[
            "plan",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "+262142-12-03",
        ][..],
        &ADULT,
    ]
    .concat());
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("+262142-12-03 is outside the years 1900 to 2199 that ritplan accepts"),
        "{err}"
    );
    // Step days, intervals and concentrations the calendar or the arithmetic cannot hold:
    // `template check` says so with the place, and plan refuses the template.
    for (case, needle) in [
        (
            "50-day-out-of-range.toml",
            "a protocol day of 262142 is above",
        ),
        (
            "51-interval-out-of-range.toml",
            "an interval in weeks of 4294967295 is above",
        ),
        (
            "52-concentration-out-of-range.toml",
            "a concentration of 9000000000000000 per mL is above",
        ),
    ] {
        let file = fixture(&format!("corpus/{case}"));
        let file = file.to_str().expect("path");
        let (code, out, err) = run(&["template", "check", file]);
        assert_eq!(code, Some(65), "{case}: {out}{err}");
        assert!(format!("{out}{err}").contains(needle), "{case}: {out}{err}");
        assert!(format!("{out}{err}").contains("NOT usable"), "{case}");
        let (code, _, err) = run(&[
            &["plan", "--template", file, "--start", "2026-12-07"][..],
            &ADULT,
        ]
        .concat());
        assert_eq!(code, Some(65), "{case}: {err}");
        assert!(err.contains("the template cannot be used"), "{case}: {err}");
    }
    // Laboratory values beyond what is plausible.
    let (code, _, err) = run(&[
        "plan",
        "--template",
        "alutard-hdm-cluster-7w",
        "--start",
        "2026-12-07",
        "--age",
        "34",
        "--weight",
        "70",
        "--sige",
        "2000000",
        "--total-ige",
        "410",
    ]);
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains("--sige: 2000000 is not a plausible"), "{err}");
}

#[test]
fn a_template_that_is_not_utf8_exits_65_with_the_byte_offset() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("latin1.toml");
    std::fs::write(&file, b"# Allerg\xe8ne\nformat = 1\n").expect("write");
    let (code, out, err) = run(&["template", "check", file.to_str().expect("path")]);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(
        err.contains("is not UTF-8 text (invalid byte at offset 8)"),
        "{err}"
    );
}

#[test]
fn a_missing_record_is_never_created_by_a_mistyped_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("no").join("such").join("ward.db");
    let db = db.to_str().expect("path");
    for args in [
        &["patient", "list", "--db", db][..],
        &["next", "1", "--db", db][..],
        &["verify", "--db", db][..],
        &["login", "rn.li", "--db", db, "--password-stdin"][..],
        &["note", "1", "--text", "x", "--db", db][..],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(74), "{args:?}: {err}");
        assert!(err.contains("there is no record database at"), "{err}");
        assert!(err.contains("ritplan init"), "{err}");
    }
    assert!(
        !dir.path().join("no").exists(),
        "no folder was created for it"
    );
}

fn bytes_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_database_that_is_not_a_ritplan_record_is_refused_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    // Another application's SQLite database, an empty SQLite database (user_version 0, no
    // tables), and a file that is not SQLite at all.
    let foreign = dir.path().join("billing.db");
    {
        let c = rusqlite::Connection::open(&foreign).expect("open");
        c.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT); INSERT INTO invoices VALUES (1, '12.50');")
            .expect("foreign");
    }
    let empty = dir.path().join("empty.db");
    {
        let c = rusqlite::Connection::open(&empty).expect("open");
        c.execute_batch("PRAGMA user_version = 0; VACUUM;")
            .expect("empty");
    }
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "shopping list\n").expect("write");
    let before = bytes_of(dir.path());
    for db in [&foreign, &empty, &text] {
        let db = db.to_str().expect("path");
        for args in [
            &["patient", "list", "--db", db][..],
            &["next", "1", "--db", db][..],
            &["verify", "--db", db][..],
        ] {
            let (code, out, err) = run(args);
            assert_eq!(code, Some(65), "{args:?}: {out}{err}");
            assert!(err.contains("not a ritplan record"), "{args:?}: {err}");
            assert!(!err.contains("CREATE"), "no raw SQL: {err}");
        }
        // Nor does init take it over.
        let out = ritplan()
            .args([
                "init",
                "--db",
                db,
                "--admin",
                "admin",
                "--name",
                "A",
                "--password-stdin",
            ])
            .write_stdin("admin-password-1\n")
            .output()
            .expect("run");
        assert_ne!(out.status.code(), Some(0), "init over {db}");
    }
    assert!(
        before == bytes_of(dir.path()),
        "no file was changed, and none added"
    );
}

#[cfg(unix)]
#[test]
fn every_date_a_person_gives_is_held_to_the_accepted_years() {
    // Each date flag, far past either end: exit 65 naming the value, never a panic; a date
    // that is no date at all stays a usage error (exit 2).
    let far = "+262142-12-31";
    let cases: Vec<Vec<&str>> = vec![
        vec!["sheet", "--date", far],
        vec!["risk", "--on", far],
        [&["risk", "--dob", far][..], &ADULT[2..]].concat(),
        [&["risk", "--omalizumab-since", "1899-12-31"][..], &ADULT].concat(),
        [
            &[
                "plan",
                "--template",
                "alutard-hdm-cluster-7w",
                "--start",
                "2026-12-07",
            ][..],
            &["--closed", "2200-01-01"],
            &ADULT,
        ]
        .concat(),
        vec![
            "give",
            "1",
            "--step",
            "1",
            "--volume",
            "0.1",
            "--at",
            "2200-01-01T08:00",
        ],
    ];
    for args in &cases {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(65), "{args:?}: {err}");
        assert!(
            err.contains("outside the years 1900 to 2199"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["sheet", "--date", "2026-02-30"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn out_writes_only_a_regular_file_and_refuses_links_fifos_devices_and_folders() {
    let dir = tempfile::tempdir().expect("tmp");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "someone else's file\n").expect("write");
    let link = dir.path().join("link.pdf");
    std::os::unix::fs::symlink(&victim, &link).expect("plant a link");
    let fifo = dir.path().join("fifo.pdf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let folder = dir.path().join("folder.pdf");
    std::fs::create_dir(&folder).expect("folder");
    let mut targets = vec![
        (link.clone(), "a symbolic link"),
        (folder.clone(), "a folder"),
        (std::path::PathBuf::from("/dev/null"), "a device"),
    ];
    if made {
        targets.push((fifo.clone(), "a FIFO"));
    }
    for (target, what) in &targets {
        let (code, _, err) = run(&[
            &[
                "plan",
                "--template",
                "alutard-hdm-cluster-7w",
                "--start",
                "2026-12-07",
                "--pdf",
                target.to_str().expect("path"),
            ][..],
            &ADULT,
        ]
        .concat());
        assert_eq!(code, Some(74), "{target:?}: {err}");
        assert!(err.contains(&format!("it is {what}")), "{err}");
        assert!(err.contains("nothing was replaced"), "{err}");
    }
    // Each is as it was: the link still a link to the untouched file, the FIFO a FIFO, the
    // device a device, the folder a folder.
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "someone else's file\n"
    );
    if made {
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("fifo")
                .file_type()
                .is_fifo()
        );
    }
    {
        use std::os::unix::fs::FileTypeExt;
        let dev = std::fs::symlink_metadata("/dev/null").expect("dev");
        assert!(
            dev.file_type().is_char_device(),
            "/dev/null is still a device"
        );
    }
    assert!(std::fs::symlink_metadata(&folder).expect("folder").is_dir());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn pdfs_are_private_and_replace_only_a_regular_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "someone else's file\n").expect("write");
    let pdf = dir.path().join("protocol.pdf");
    std::fs::write(&pdf, "an older protocol\n").expect("an older file");
    std::fs::set_permissions(&pdf, std::fs::Permissions::from_mode(0o644)).expect("mode");
    let (code, _, err) = run(&[
        &[
            "plan",
            "--template",
            "alutard-hdm-cluster-7w",
            "--start",
            "2026-12-07",
            "--pdf",
            pdf.to_str().expect("path"),
        ][..],
        &ADULT,
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "someone else's file\n",
        "another file was not written"
    );
    let meta = std::fs::symlink_metadata(&pdf).expect("meta");
    assert!(meta.file_type().is_file(), "the old file was replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF-"));
    // No temporary file is left beside it.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn negative_numbers_reach_the_value_checks() {
    let o = crate::ritplan()
        .args([
            "plan",
            "--template",
            "example-hdm-rush-3d",
            "--start",
            "2026-12-07",
            "--age",
            "34",
            "--weight",
            "-70",
            "--sige",
            "2",
            "--total-ige",
            "410",
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(err.contains("--weight: -70 kg is impossible"), "{err}");
    let o = crate::ritplan()
        .args(["risk", "--age", "-3", "--sige", "2", "--total-ige", "410"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid value '-3' for '--age"), "{err}");
}
