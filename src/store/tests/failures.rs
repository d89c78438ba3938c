use super::*;

/// Runs `attempt` with its k-th step failing as a full disk would (`made::fault`), for k = 1,
/// 2, … until a run reaches no fault: each failure must say that nothing of the new record was
/// left, and `left` (what is still there) must then be empty. Returns how many runs failed and
/// what the run that succeeded gave.
fn fail_each_step<T>(
    mut attempt: impl FnMut() -> Result<T, StoreError>,
    left: impl Fn() -> Vec<String>,
) -> (u32, T) {
    let mut failures = 0;
    for k in 1.. {
        super::made::FAULT.set(Some(k));
        let result = attempt();
        let unreached = super::made::FAULT.get() != Some(0);
        super::made::FAULT.set(None);
        match result {
            Err(StoreError::Unfinished { cause, left: said }) => {
                assert!(cause.to_string().contains("no space left"), "{cause}");
                assert!(said.starts_with("nothing of the new record"), "{said}");
                assert_eq!(left(), Vec::<String>::new(), "step {k}: left behind");
                failures += 1;
            }
            Ok(done) => {
                assert!(unreached, "step {k} was to fail");
                return (failures, done);
            }
            Err(e) => panic!("step {k}: {e}"),
        }
    }
    unreachable!("the steps are counted until one run succeeds")
}

/// The names in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// What a target holds after a failed copy (nothing, if all is well).
type LeftBehind = Box<dyn Fn() -> Vec<String>>;

/// A copy that fails at any of its inserts (a full disk, a lost connection) takes away the
/// record it began, so that nothing half-copied is left to refuse the next try: the file, its
/// journal, its key file and heads folder are gone; on a server (with `RITPLAN_TEST_POSTGRES`
/// or `RITPLAN_TEST_COPY_SERVER`) the database is empty again and the key file written for it
/// removed. The source is not changed, and the next try copies it whole.
#[test]
fn a_copy_that_fails_leaves_nothing_and_the_next_try_succeeds() {
    let (dir, s, _) = busy();
    drop(s);
    let source_bytes = file_bytes(&db(&dir));
    let s = Store::open(&db(&dir)).expect("open");
    let file = dir.path().join("copy/c.db");
    #[cfg_attr(not(feature = "postgres"), allow(unused_mut))]
    let mut targets: Vec<(PathBuf, LeftBehind)> = vec![(
        file.clone(),
        Box::new({
            let file = file.clone();
            move || {
                [
                    file.clone(),
                    keyed::key_path(&file),
                    keyed::heads_path(&file),
                    PathBuf::from(format!("{}-wal", file.display())),
                ]
                .into_iter()
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
                .collect()
            }
        }),
    )];
    #[cfg(feature = "postgres")]
    let server = ["RITPLAN_TEST_POSTGRES", "RITPLAN_TEST_COPY_SERVER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|v| !v.is_empty()))
        .map(|base| {
            let base = base.trim_end_matches('/').to_string();
            let name = format!("ritplan_failed_copy_{}", std::process::id());
            crate::testkit::server_admin(
                &base,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
            crate::testkit::server_admin(&base, format!("CREATE DATABASE {name}"));
            (base, name)
        });
    #[cfg(feature = "postgres")]
    if let Some((base, name)) = server.clone() {
        let url = PathBuf::from(format!("{base}/{name}?sslmode=disable"));
        let check = url.clone();
        targets.push((
            url,
            Box::new(move || {
                let s = Store::open(&check);
                let mut left = Vec::new();
                match s {
                    Err(StoreError::Foreign { .. }) | Err(StoreError::Missing(_)) => {}
                    Err(e) => left.push(format!("open: {e}")),
                    Ok(_) => left.push("a record opens there".into()),
                }
                let cfg: postgres::Config = format!("{base}/{name}").parse().expect("url");
                if let Some(k) = server::key_file(&cfg).filter(|k| k.exists()) {
                    left.push(k.display().to_string());
                }
                left
            }),
        ));
    }
    for (target, left) in &targets {
        let (failures, r) = fail_each_step(|| s.copy_to(target), left);
        assert!(r.verification.intact);
        assert_eq!(r.source_digest, r.copy_digest);
        // Every row of the source is an insert: the patient, the course, its three entries.
        assert!(
            failures >= 5,
            "{} failed {failures} times",
            target.display()
        );
    }
    drop(targets);
    drop(s);
    assert_eq!(
        file_bytes(&db(&dir)),
        source_bytes,
        "the source is unchanged"
    );
    #[cfg(feature = "postgres")]
    if let Some((base, name)) = server {
        let cfg: postgres::Config = format!("{base}/{name}").parse().expect("url");
        if let Some(k) = server::key_file(&cfg) {
            let _ = std::fs::remove_file(k);
        }
        crate::testkit::server_admin(
            &base,
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
}

/// A backup that fails after its heads, its database or its key file (a full disk) takes away
/// what it wrote; the next try writes a backup that verifies.
#[test]
fn a_backup_that_fails_leaves_nothing_and_the_next_try_succeeds() {
    let (dir, s, _) = busy();
    let dest = dir.path().join("backups/b.db");
    // A folder that is not there yet is made (and kept).
    let folder = dest.parent().expect("parent").to_path_buf();
    let (failures, v) = fail_each_step(|| s.backup_to(&dest), || names_in(&folder));
    assert!(v.intact);
    assert_eq!(failures, 3, "the heads, the database, the key file");
}

/// A creation that fails after its key file, its heads folder or its schema and counts (a full
/// disk) takes away what it made: the same `init` can be run again.
#[test]
fn a_creation_that_fails_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("w/r.db");
    let folder = path.parent().expect("parent").to_path_buf();
    let (failures, s) = fail_each_step(
        || Store::create(&path, true),
        || {
            // The folder itself is made (and kept) before anything of the record.
            if folder.exists() {
                names_in(&folder)
            } else {
                Vec::new()
            }
        },
    );
    assert!(s.verify_all().expect("verify").intact);
    assert_eq!(
        failures, 3,
        "the key file, the heads, the schema and counts"
    );
}
