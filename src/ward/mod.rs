//! The application layer between the front ends and the core: open the record, authenticate
//! staff and check their role, load a course from its frozen copies, verify it (and the
//! patient's other courses) before deciding or recording anything, gather the patient's other
//! courses (the patient, not the course, is the unit of safety), decide, and record with every
//! check inside the store's transaction. Front ends parse and render; they hold no clinical
//! decision and no authority rule.

mod audit;
mod auth;
mod batch;
mod board;
mod cache;
pub mod checklist;
mod error;
pub mod followup;
pub mod import;
mod labels;
mod load;
pub mod location;
pub mod omalizumab;
mod record;
mod records;
mod sheet;
mod show;
mod staff;
mod start;
#[cfg(test)]
mod tests_audit;
#[cfg(test)]
mod tests_cache;
#[cfg(test)]
mod tests_omaboard;
#[cfg(test)]
mod tests_reads;
#[cfg(test)]
mod tests_scan;
#[cfg(test)]
mod tests_tamper_first;
#[cfg(test)]
mod tests_zone;
pub mod text;
pub mod vials;
pub mod view;
mod visit;

use std::path::Path;

use chrono::NaiveDateTime;

use crate::course::{self, Context, CourseState, Event, OtherCourse, PatientView};
use crate::field::Field;
use crate::store::{PatientRecord, Store, StoredEvent};

pub use audit::{AUDIT_CHUNK, AuditFacts};
pub use auth::{Actor, Credential, LOGIN_REFUSED, Role, SETTING_KEYS, Scan, Settings, hash_secret};
pub use cache::CourseCache;
pub use error::WardError;
pub use load::{Inputs, Loaded, Parsed, lay_plan, load_record};
pub use omalizumab::{CourseKind, LoadedOmalizumab, OmalizumabNotStarted, OmalizumabStart};
pub use record::{Preview, Record, Recorded, ScansChecked};
pub use show::{ProtocolOf, forecast_plan, protocol_data, with_rule_set_premedication};
pub use staff::{NewStaff, TimesMigration};
pub use start::{NotStarted, Start, Started};
pub use vials::{NewVial, VialView};
pub use view::{
    BoardNext, BoardRow, BoardStatus, CalendarData, CourseView, ExportData, OmalizumabDay,
    OmalizumabRow, ProtocolData, ScheduleLine, SheetLine, VialLabels,
};

fn replay_stored(ctx: Context<'_>, events: &[StoredEvent]) -> CourseState {
    let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
    course::replay(ctx, &plain)
}

/// Whether `o` is another patient with `p`'s name (ignoring case and spacing) and date of birth.
fn alike(p: &PatientRecord, o: &PatientRecord) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    o.id != p.id && o.dob == p.dob && norm(&o.name) == norm(&p.name)
}

/// How many courses a list reads at a time ([`Ward::map_views`]): a bound on its memory, and
/// large enough that the queries per batch stay few against the courses read.
const LIST_CHUNK: usize = 500;

/// The record, opened.
pub struct Ward {
    /// The store: private, the ward is the only door to the record.
    store: Store,
    parsed: Parsed,
    /// The courses loaded and replayed before, shared with the other wards of a `serve`
    /// process (none for a command: it reads once).
    courses: Option<std::sync::Arc<CourseCache>>,
    /// The clinic's vial expiry policy (a clinic's file; else the bundled one, read when first
    /// needed: most commands never need it).
    vial_expiry: std::cell::OnceCell<crate::policy::vial_expiry::VialExpiry>,
    /// The clinic's medication score for follow-ups (a clinic's file; else the bundled
    /// example, read when first needed).
    medication_score: std::cell::OnceCell<crate::policy::medication_score::MedicationScore>,
    /// Where the record was opened from (its file, or its server's URL as given), so that the
    /// audit may read it through a second connection on another core; `None`: one only.
    origin: Option<std::path::PathBuf>,
}

/// A ward's rules set by a clinic's file, else the bundled ones read now (once).
fn rules_or_bundled<T>(
    cell: &std::cell::OnceCell<T>,
    bundled: impl FnOnce() -> Result<T, WardError>,
) -> Result<&T, WardError> {
    if let Some(t) = cell.get() {
        return Ok(t);
    }
    let t = bundled()?;
    Ok(cell.get_or_init(|| t))
}

/// The bundled medication score definition (an example).
fn bundled_medication_score() -> Result<crate::policy::medication_score::MedicationScore, WardError>
{
    crate::policy::medication_score::MedicationScore::bundled().map_err(|_| {
        WardError::Data("the bundled rules/medication-score.toml does not load".into())
    })
}

/// The bundled vial expiry policy.
fn bundled_vial_expiry() -> Result<crate::policy::vial_expiry::VialExpiry, WardError> {
    crate::policy::vial_expiry::VialExpiry::bundled()
        .map_err(|_| WardError::Data("the bundled rules/vial-expiry.toml does not load".into()))
}

impl Ward {
    /// Opens the record at `path` (it must exist and be a ritplan record).
    pub fn open(path: &Path) -> Result<Ward, WardError> {
        let mut ward = Ward {
            store: Store::open(path)?,
            parsed: Parsed::default(),
            courses: None,
            vial_expiry: Default::default(),
            medication_score: Default::default(),
            origin: Some(path.to_path_buf()),
        };
        ward.rebuild_states()?;
        Ok(ward)
    }

    /// Opens the record at `path` to read it only: refuses one that would need an upgrade,
    /// and rebuilds nothing (the source of a copy).
    pub fn open_unchanged(path: &Path) -> Result<Ward, WardError> {
        Ok(Ward {
            store: Store::open_unchanged(path)?,
            parsed: Parsed::default(),
            courses: None,
            vial_expiry: Default::default(),
            medication_score: Default::default(),
            origin: Some(path.to_path_buf()),
        })
    }

    /// Shares `cache` with this ward: the courses it reads are taken from it when their rows
    /// and events are the ones loaded and replayed before (`serve` gives every ward of the page
    /// the same one; see [`CourseCache`]).
    pub fn share_course_cache(&mut self, cache: std::sync::Arc<CourseCache>) {
        self.courses = Some(cache);
    }

    /// Rebuilds by replay the derived state rows the upgrade to schema 3 left (once per
    /// course); a course that does not verify keeps its row to rebuild, and so stays live.
    pub(super) fn rebuild_states(&mut self) -> Result<(), WardError> {
        for id in self.store.states_to_rebuild()? {
            let Ok(v) = self.view(id) else { continue };
            let last = v.events.iter().map(|e| e.event.at).max();
            let count = v.events.last().map_or(0, |e| e.event.seq);
            self.store
                .rebuild_state(id, !v.state.inactive(), count, last)?;
        }
        Ok(())
    }

    /// Where the record is (its file, or its server without the password), its key file, and
    /// whether it is on a server.
    pub fn place(&self) -> (&str, &Path, bool) {
        (
            self.store.place(),
            self.store.key_file(),
            self.store.on_server(),
        )
    }

    /// How many statements the ward has sent to the record's database since it was opened
    /// (each a round trip on a server): the tests and the bench count a read's queries with it.
    pub fn statements_sent(&self) -> u64 {
        self.store.statements_sent()
    }

    /// Whether the record is a training record (its clock may be set with `RITPLAN_NOW`).
    pub fn training(&self) -> bool {
        self.store.meta().training
    }

    /// Whether the record still holds its times as wall-clock times in a zone it does not name
    /// (made before ritplan stored instants): `ritplan db migrate --time-zone ZONE` fixes it.
    pub fn needs_zone(&self) -> Result<bool, WardError> {
        Ok(self.store.needs_zone()?)
    }

    /// The clinic's time zone (the record's `time_zone` setting; `System` for a record made
    /// before it was one).
    pub fn zone(&self) -> Result<crate::zone::Zone, WardError> {
        let zone = self.settings()?.time_zone;
        // Another process (or another of the page's workers) may have set it since this ward
        // opened the record: the store reads and writes moments in the zone read now.
        self.store.use_zone(zone);
        Ok(zone)
    }

    /// A patient, or an error naming the id.
    pub fn patient(&self, id: &str) -> Result<PatientRecord, WardError> {
        let id = id.trim();
        self.store
            .patient(id)?
            .ok_or_else(|| WardError::NoPatient { id: id.to_string() })
    }

    /// Other patients with the same name (ignoring case and spacing) and date of birth.
    pub fn lookalikes(&self, p: &PatientRecord) -> Result<Vec<PatientRecord>, WardError> {
        Ok(self
            .store
            .patients_born(p.dob)?
            .into_iter()
            .filter(|o| alike(p, o))
            .collect())
    }

    /// Adds a patient (nurse or physician); returns the patients who look alike.
    pub fn add_patient(
        &mut self,
        actor: &Actor,
        p: &PatientRecord,
        now: NaiveDateTime,
    ) -> Result<Vec<PatientRecord>, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "adding a patient")?;
        let mut p = p.clone();
        p.id = text::text(Field::PatientId, &p.id)?;
        p.name = text::text(Field::Name, &p.name)?;
        import::patient_values(&p, now.date())?;
        self.store.add_patient(&p, now, &actor.author())?;
        self.lookalikes(&p)
    }

    /// Loads a course.
    pub fn load(&mut self, id: i64) -> Result<Loaded, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        load_record(record, &mut self.parsed)
    }

    /// The patient's other courses, with their states; each verified.
    fn others(
        &mut self,
        patient: &str,
        except: i64,
    ) -> Result<Vec<(Loaded, CourseState)>, WardError> {
        let mut out = Vec::new();
        for r in self.store.courses_of_except(patient, except)? {
            let id = r.id;
            self.store.verify_or_refuse(id)?;
            if CourseKind::of(&r) == CourseKind::Omalizumab {
                // Verified (its chain above, its frozen plan here), not an allergen course.
                omalizumab::load_omalizumab(r)?;
                continue;
            }
            let l = load_record(r, &mut self.parsed)?;
            let state = replay_stored(l.ctx()?, &self.store.events(id)?);
            out.push((l, state));
        }
        Ok(out)
    }

    /// A course with its events, state and the patient's other courses, after verifying it and
    /// them: nothing is decided on a record that was changed outside ritplan.
    /// Its patient's courses are read together, in a fixed number of queries (see
    /// [`Ward::batch`]).
    pub fn view(&mut self, id: i64) -> Result<CourseView, WardError> {
        self.batch(&[id])?.view(id)
    }

    /// A course's view without verifying it first: for `course verify` and `course log`, which
    /// show what is there.
    pub fn view_unverified(&mut self, id: i64) -> Result<CourseView, WardError> {
        let loaded = self.load(id)?;
        let events = self.store.events(id)?;
        let state = replay_stored(loaded.ctx()?, &events);
        let others = self.others(&loaded.record.patient_id, id)?;
        let mut patient = PatientView {
            others: others
                .iter()
                .map(|(l, s)| OtherCourse::of(l.record.id, s))
                .collect(),
        };
        // A systemic reaction on the patient's omalizumab course holds this course too.
        patient
            .others
            .extend(self.omalizumab_holds(&loaded.record.patient_id, id)?);
        Ok(CourseView {
            loaded,
            events,
            state,
            patient,
        })
    }

    /// What `f` makes of every immunotherapy course's view, in id order. The courses are read
    /// in batches of [`LIST_CHUNK`] (each course verified with its patient's other courses, as
    /// by [`Ward::views_of`]) and each view is dropped once `f` has seen it: what `f` keeps is
    /// what stays in memory, whatever the number of courses (all 10 000 views at once took
    /// 441 MB).
    pub fn map_views<T>(
        &mut self,
        f: impl FnMut(CourseView) -> Result<T, WardError>,
    ) -> Result<Vec<T>, WardError> {
        self.map_views_in(LIST_CHUNK, f)
    }

    /// [`Ward::map_views`], `chunk` courses at a time.
    pub(crate) fn map_views_in<T>(
        &mut self,
        chunk: usize,
        mut f: impl FnMut(CourseView) -> Result<T, WardError>,
    ) -> Result<Vec<T>, WardError> {
        let ids = self
            .store
            .course_ids_without_rule_set(omalizumab::OMALIZUMAB_RULE_SET)?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(chunk.max(1)) {
            let mut batch = self.batch(chunk)?;
            for id in chunk {
                out.push(f(batch.view(*id)?)?);
            }
        }
        Ok(out)
    }

    /// The views of the immunotherapy courses `ids`, in their order, each verified with its
    /// patient's other courses: read together in a fixed number of queries whatever their
    /// number (see [`Ward::batch`]).
    pub(crate) fn views_of(&mut self, ids: &[i64]) -> Result<Vec<CourseView>, WardError> {
        let mut batch = self.batch(ids)?;
        ids.iter().map(|id| batch.view(*id)).collect()
    }

    /// The views of the courses live on `since` or later (active, or with an event since),
    /// from the store's derived state (see [`Store::live_course_ids`]), each verified: what the
    /// board, the sheet and `course list --active` read, whatever the number of finished
    /// courses.
    pub fn live_views(&mut self, since: chrono::NaiveDate) -> Result<Vec<CourseView>, WardError> {
        let ids = self.immunotherapy_live_ids(since)?;
        self.views_of(&ids)
    }

    /// The ids of the immunotherapy courses live on `since` or later (the store's derived
    /// state, without the omalizumab courses).
    pub(crate) fn immunotherapy_live_ids(
        &self,
        since: chrono::NaiveDate,
    ) -> Result<Vec<i64>, WardError> {
        Ok(self.live_ids(since)?.0)
    }

    /// The ids of the courses live on `since` or later (the store's derived state): the
    /// immunotherapy courses', then the omalizumab courses'. Two queries and the state's
    /// counts, whatever the number of finished courses.
    pub(crate) fn live_ids(
        &self,
        since: chrono::NaiveDate,
    ) -> Result<(Vec<i64>, Vec<i64>), WardError> {
        let live = self.store.live_course_ids(since)?;
        let omalizumab = self
            .store
            .course_ids_with_rule_set_among(omalizumab::OMALIZUMAB_RULE_SET, &live)?;
        let omalizumab_set: std::collections::HashSet<i64> = omalizumab.iter().copied().collect();
        Ok((
            live.into_iter()
                .filter(|id| !omalizumab_set.contains(id))
                .collect(),
            omalizumab,
        ))
    }
}

/// Refuses an entry's wall-clock time that the clocks skip in the clinic's `zone` (the spring
/// night's hour): it names no moment, and is never moved to a time nobody entered. A time that
/// happens twice (the autumn hour) is taken (read as the earlier; see [`crate::zone`]).
pub(crate) fn existing_time(
    zone: crate::zone::Zone,
    at: chrono::NaiveDateTime,
) -> Result<(), WardError> {
    existing(zone, at, crate::field::Field::At)
}

/// As [`existing_time`], for the value `field` names.
pub(crate) fn existing(
    zone: crate::zone::Zone,
    at: chrono::NaiveDateTime,
    field: crate::field::Field,
) -> Result<(), WardError> {
    zone.instant(at).map(|_| ()).map_err(|e| WardError::Input {
        field,
        problem: e.to_string(),
    })
}
