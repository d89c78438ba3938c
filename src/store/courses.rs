//! Courses: their rows (each with its frozen template, rules and plan), MACs and look-ups.

use super::*;

impl Store {
    pub(super) fn course_mac(key: &Key, r: &CourseRow) -> String {
        let id = r.c.id.to_string();
        let keyed_from = r.keyed_from.to_string();
        key.mac(&[
            "course",
            &id,
            &r.c.patient_id,
            &r.c.template_id,
            &r.c.rule_set,
            r.template_ref.as_deref().unwrap_or(&r.c.template_text),
            r.rules_ref.as_deref().unwrap_or(&r.c.rules_json),
            &r.c.plan_json,
            &r.c.inputs_json,
            &r.created_at,
            &r.c.created_by,
            r.created_by_staff.as_deref().unwrap_or(""),
            &r.os_user,
            &keyed_from,
        ])
    }

    /// Creates a course; returns its id.
    pub fn add_course(
        &mut self,
        c: &NewCourse,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<i64, StoreError> {
        if self.patient(&c.patient_id)?.is_none() {
            return Err(StoreError::NotFound(format!(
                "no patient has the id {:?}",
                c.patient_id
            )));
        }
        // Schema 6 keeps each distinct frozen text once, named by its digest (see `frozen`); a
        // record not yet upgraded (one without its zone) keeps writing the texts in the row.
        let by_digest = self.schema_version()? >= 6;
        let tx = self.db.begin(Begin::Write)?;
        // The id first: on a server it takes the lock new courses are made under, so two
        // workstations keeping the same new text one after the other find it kept, never both
        // insert it.
        let id = Self::next_course_id(&tx)?;
        let (template_ref, rules_ref) = if by_digest {
            (
                Some(frozen::put(&tx, &c.template_text)?),
                Some(frozen::put(&tx, &c.rules_json)?),
            )
        } else {
            (None, None)
        };
        let row = CourseRow {
            c: CourseRecord {
                id,
                patient_id: c.patient_id.clone(),
                template_id: c.template_id.clone(),
                rule_set: c.rule_set.clone(),
                template_text: c.template_text.as_str().into(),
                rules_json: c.rules_json.as_str().into(),
                plan_json: c.plan_json.clone(),
                inputs_json: c.inputs_json.clone(),
                created_at: at,
                created_by: by.name.clone(),
            },
            created_at: self.times().text(at),
            created_by_staff: by.staff_id.clone(),
            os_user: by.os_user.clone(),
            keyed_from: 1,
            mac: String::new(),
            template_ref,
            rules_ref,
            frozen_problem: None,
        };
        let mac = Self::course_mac(&self.key, &row);
        let template_col = row.template_ref.as_deref().unwrap_or(&c.template_text);
        let rules_col = row.rules_ref.as_deref().unwrap_or(&c.rules_json);
        tx.exec(
            "INSERT INTO courses (id, patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by, created_by_staff, os_user, keyed_from, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
            vals![id, &c.patient_id, &c.template_id, &c.rule_set, template_col, rules_col, &c.plan_json, &c.inputs_json, &row.created_at, &by.name, &by.staff_id, &by.os_user, &mac],
        )?;
        Self::put_state(&tx, &self.key, id, true, 0, &row.created_at)?;
        self.write_head(tx, id, &Head { count: 0, mac })?;
        self.advance_counts()?;
        Ok(id)
    }

    /// Commits a write of a course's chain and moves its head: in the same transaction when
    /// the heads are in the database, else right after the commit (a crash between the two
    /// leaves the head behind, which verification notes; never ahead).
    pub(super) fn write_head(
        &self,
        tx: db::Tx<'_>,
        course: i64,
        head: &Head,
    ) -> Result<(), StoreError> {
        if self.heads.in_database() {
            self.heads.advance_course(&tx, course, head)?;
            tx.commit()
        } else {
            tx.commit()?;
            crate::timing::mark("commit (sync)");
            let r = self.heads.advance_course(&self.db, course, head);
            crate::timing::mark("head file (sync)");
            r
        }
    }

    pub(super) const COURSE_COLS: &'static str = "id, patient_id, template_id, rule_set, template_text, rules_json, plan_json, inputs_json, created_at, created_by, created_by_staff, os_user, keyed_from, mac";

    /// A course row as stored: a frozen text kept by its digest is left empty here, and
    /// filled in by [`Store::resolve_frozen`] (which every read of course rows calls).
    pub(super) fn course_row(mut r: Row, times: Times) -> Result<CourseRow, StoreError> {
        let (id, patient_id, template_id, rule_set) = (r.int()?, r.text()?, r.text()?, r.text()?);
        let (template_col, rules_col) = (r.text()?, r.text()?);
        let (template_ref, template_text) = frozen::split(template_col);
        let (rules_ref, rules_json) = frozen::split(rules_col);
        let c = CourseRecord {
            id,
            patient_id,
            template_id,
            rule_set,
            template_text,
            rules_json,
            plan_json: r.text()?,
            inputs_json: r.text()?,
            created_at: NaiveDateTime::MIN,
            created_by: String::new(),
        };
        let created_at = r.text()?;
        let c = CourseRecord {
            created_at: times.parse(&created_at)?,
            created_by: r.text()?,
            ..c
        };
        Ok(CourseRow {
            c,
            created_at,
            created_by_staff: r.opt_text()?,
            os_user: r.text()?,
            keyed_from: r.int()?,
            mac: r.text()?,
            template_ref,
            rules_ref,
            frozen_problem: None,
        })
    }

    /// Rows read from `rows`, with their frozen texts kept by digest filled in (one more
    /// query, for every digest at once, only when some row has one).
    pub(super) fn finish_course_rows(
        db: &Db,
        rows: Vec<Row>,
        times: Times,
    ) -> Result<Vec<CourseRow>, StoreError> {
        Self::finish_course_rows_with(db, rows, times, false)
    }

    /// [`Store::finish_course_rows`]; `known_texts` as for [`frozen::resolve_with`].
    fn finish_course_rows_with(
        db: &Db,
        rows: Vec<Row>,
        times: Times,
        known_texts: bool,
    ) -> Result<Vec<CourseRow>, StoreError> {
        let mut rows = rows
            .into_iter()
            .map(|r| Self::course_row(r, times))
            .collect::<Result<Vec<_>, _>>()?;
        frozen::resolve_with(db, &mut rows, known_texts)?;
        Ok(rows)
    }

    /// One course's row, its texts filled in; `known_texts` as for [`frozen::resolve_with`].
    pub(super) fn course_row_by_id(
        &self,
        id: i64,
        known_texts: bool,
    ) -> Result<Option<CourseRow>, StoreError> {
        let rows = self.db.query(
            &format!(
                "SELECT {} FROM courses WHERE id = ?1 ORDER BY id",
                Self::COURSE_COLS
            ),
            vals![id],
        )?;
        Ok(
            Self::finish_course_rows_with(&self.db, rows, self.times(), known_texts)?
                .into_iter()
                .next(),
        )
    }

    pub(super) fn course_rows(
        db: &Db,
        filter: &str,
        arg: Option<db::Value>,
        times: Times,
    ) -> Result<Vec<CourseRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM courses {filter} ORDER BY id",
            Self::COURSE_COLS
        );
        let rows = match arg {
            Some(a) => db.query(&sql, &[a])?,
            None => db.query(&sql, &[])?,
        };
        Self::finish_course_rows(db, rows, times)
    }

    /// One course.
    pub fn course(&self, id: i64) -> Result<Option<CourseRecord>, StoreError> {
        Ok(
            Self::course_rows(&self.db, "WHERE id = ?1", Some(id.into()), self.times())?
                .into_iter()
                .next()
                .map(|r| r.c),
        )
    }

    /// All courses, by id.
    pub fn courses(&self) -> Result<Vec<CourseRecord>, StoreError> {
        Ok(Self::course_rows(&self.db, "", None, self.times())?
            .into_iter()
            .map(|r| r.c)
            .collect())
    }

    /// The patient of a course (without reading its frozen copies).
    pub fn patient_of(&self, course: i64) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt(
                "SELECT patient_id FROM courses WHERE id = ?1",
                vals![course],
            )?
            .map(|mut r| r.text())
            .transpose()
    }

    /// The ids of the courses recorded under any rule set other than `rule_set`, in order
    /// (without reading their rows).
    pub fn course_ids_without_rule_set(&self, rule_set: &str) -> Result<Vec<i64>, StoreError> {
        self.db
            .query(
                "SELECT id FROM courses WHERE rule_set <> ?1 ORDER BY id",
                vals![rule_set],
            )?
            .into_iter()
            .map(|mut r| r.int())
            .collect()
    }

    /// The rule set a course was started under, without reading its frozen copies (the ward
    /// tells a course's kind by it).
    pub fn rule_set_of(&self, course: i64) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt("SELECT rule_set FROM courses WHERE id = ?1", vals![course])?
            .map(|mut r| r.text())
            .transpose()
    }

    /// The courses of one patient but `except`, by id: a course's fellows, without reading
    /// its own frozen copies once more.
    pub fn courses_of_except(
        &self,
        patient: &str,
        except: i64,
    ) -> Result<Vec<CourseRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM courses WHERE patient_id = ?1 AND id <> ?2 ORDER BY id",
            Self::COURSE_COLS
        );
        let rows = self.db.query(&sql, vals![patient, except])?;
        Ok(Self::finish_course_rows(&self.db, rows, self.times())?
            .into_iter()
            .map(|r| r.c)
            .collect())
    }

    /// The courses of one patient, by id.
    pub fn courses_of(&self, patient: &str) -> Result<Vec<CourseRecord>, StoreError> {
        Ok(Self::course_rows(
            &self.db,
            "WHERE patient_id = ?1",
            Some(patient.into()),
            self.times(),
        )?
        .into_iter()
        .map(|r| r.c)
        .collect())
    }
}

/// A course row with its audit fields.
pub(super) struct CourseRow {
    pub(super) c: CourseRecord,
    pub(super) created_at: String,
    pub(super) created_by_staff: Option<String>,
    pub(super) os_user: String,
    pub(super) keyed_from: i64,
    pub(super) mac: String,
    /// The stored template column when it names the text by its digest (`sha256:…`), which
    /// the row's MAC then covers; `None`: the text is in the row.
    pub(super) template_ref: Option<String>,
    /// The same for the rules column.
    pub(super) rules_ref: Option<String>,
    /// A text kept by digest that is missing or does not match its digest (verification
    /// refuses the course).
    pub(super) frozen_problem: Option<String>,
}
