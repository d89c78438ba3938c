//! Patients: their rows, MACs and look-ups.

use super::*;

impl Store {
    pub(super) fn patient_mac(key: &Key, r: &PatientRow) -> String {
        key.mac(&[
            "patient",
            &r.p.id,
            &r.p.name,
            &r.dob_text,
            &r.p.weight_kg,
            &r.p.sige,
            &r.p.total_ige,
            r.p.fev1_percent.as_deref().unwrap_or("\u{0}"),
            r.p.asthma.as_deref().unwrap_or("\u{0}"),
            flag(r.p.beta_blocker),
            &r.created_at,
            &r.created_by,
            r.created_by_staff.as_deref().unwrap_or(""),
            &r.os_user,
        ])
    }

    /// Adds a patient; an id already used is refused.
    pub fn add_patient(
        &self,
        p: &PatientRecord,
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        Self::insert_patient(&self.db, &self.key, p, &self.times().text(at), by)?;
        self.advance_counts()
    }

    /// Adds several patients in one transaction: all of them, or none.
    pub fn add_patients(
        &mut self,
        ps: &[PatientRecord],
        at: NaiveDateTime,
        by: &Author,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin(Begin::Write)?;
        for p in ps {
            Self::insert_patient(&tx, &self.key, p, &self.times().text(at), by)?;
        }
        tx.commit()?;
        self.advance_counts()
    }

    pub(super) fn insert_patient(
        db: &Db,
        key: &Key,
        p: &PatientRecord,
        at: &str,
        by: &Author,
    ) -> Result<(), StoreError> {
        let row = PatientRow {
            p: p.clone(),
            dob_text: p.dob.to_string(),
            created_at: at.to_string(),
            created_by: by.name.clone(),
            created_by_staff: by.staff_id.clone(),
            os_user: by.os_user.clone(),
            mac: String::new(),
        };
        let mac = Self::patient_mac(key, &row);
        let r = db.exec(
            "INSERT INTO patients (id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by, created_by_staff, os_user, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            vals![&p.id, &p.name, &row.dob_text, &p.weight_kg, &p.sige, &p.total_ige, &p.fev1_percent, &p.asthma, p.beta_blocker, &row.created_at, &row.created_by, &row.created_by_staff, &row.os_user, mac],
        );
        match r {
            Err(StoreError::Sql(e)) if e.is_unique_violation() => Err(StoreError::Exists(format!(
                "a patient with the id {:?} already exists",
                p.id
            ))),
            other => {
                other?;
                Ok(())
            }
        }
    }

    pub(super) const PATIENT_COLS: &'static str = "id, name, dob, weight_kg, sige, total_ige, fev1_percent, asthma, beta_blocker, created_at, created_by, created_by_staff, os_user, mac";

    pub(super) fn patient_row(mut r: Row) -> Result<PatientRow, StoreError> {
        let (id, name, dob_text) = (r.text()?, r.text()?, r.text()?);
        Ok(PatientRow {
            p: PatientRecord {
                id,
                name,
                dob: chrono::NaiveDate::MIN,
                weight_kg: r.text()?,
                sige: r.text()?,
                total_ige: r.text()?,
                fev1_percent: r.opt_text()?,
                asthma: r.opt_text()?,
                beta_blocker: r.flag()?,
            },
            dob_text,
            created_at: r.text()?,
            created_by: r.text()?,
            created_by_staff: r.opt_text()?,
            os_user: r.text()?,
            mac: r.text()?,
        })
    }

    pub(super) fn finish_patient(mut r: PatientRow) -> Result<PatientRecord, StoreError> {
        r.p.dob = r
            .dob_text
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("date of birth {:?}: {e}", r.dob_text)))?;
        Ok(r.p)
    }

    pub(super) fn patient_rows(&self, filter: Option<&str>) -> Result<Vec<PatientRow>, StoreError> {
        let sql = match filter {
            Some(_) => format!("SELECT {} FROM patients WHERE id = ?1", Self::PATIENT_COLS),
            None => format!("SELECT {} FROM patients ORDER BY id", Self::PATIENT_COLS),
        };
        let rows = match filter {
            Some(id) => self.db.query(&sql, vals![id])?,
            None => self.db.query(&sql, &[])?,
        };
        rows.into_iter().map(Self::patient_row).collect()
    }

    /// One patient.
    pub fn patient(&self, id: &str) -> Result<Option<PatientRecord>, StoreError> {
        self.patient_rows(Some(id))?
            .into_iter()
            .next()
            .map(Self::finish_patient)
            .transpose()
    }

    /// The patients born on `dob`, by id (for look-alikes: indexed, not a scan of the ward).
    pub fn patients_born(&self, dob: NaiveDate) -> Result<Vec<PatientRecord>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT {} FROM patients WHERE dob = ?1 ORDER BY id",
                    Self::PATIENT_COLS
                ),
                vals![dob.to_string()],
            )?
            .into_iter()
            .map(|r| Self::finish_patient(Self::patient_row(r)?))
            .collect()
    }

    /// Whether the record holds any patient (one indexed look; the same SQL on both backends).
    pub fn has_patients(&self) -> Result<bool, StoreError> {
        Ok(self.db.query_int(
            "SELECT count(*) FROM (SELECT 1 FROM patients LIMIT 1) AS p",
            &[],
        )? > 0)
    }

    /// All patients, by id.
    pub fn patients(&self) -> Result<Vec<PatientRecord>, StoreError> {
        self.patient_rows(None)?
            .into_iter()
            .map(Self::finish_patient)
            .collect()
    }

    /// The problem with a patient's row, if its MAC does not hold.
    pub(super) fn patient_problem(&self, r: &PatientRow) -> Option<String> {
        (Self::patient_mac(&self.key, r) != r.mac).then(|| {
            format!(
                "patient {:?}: the row does not match its MAC (changed outside ritplan)",
                r.p.id
            )
        })
    }
}

/// A patient row with its audit fields.
pub(super) struct PatientRow {
    pub(super) p: PatientRecord,
    pub(super) dob_text: String,
    pub(super) created_at: String,
    pub(super) created_by: String,
    pub(super) created_by_staff: Option<String>,
    pub(super) os_user: String,
    pub(super) mac: String,
}
