//! Recording an entry: who may, the course verified and checked inside the store's transaction,
//! a stale form refused, the preview a confirmation screen shows.

use chrono::NaiveDateTime;

use super::auth::{self, Actor, Role};
use super::{CourseView, Loaded, Ward, WardError, load_record, replay_stored, text};
use crate::course::{
    self, Context, Decision, Event, EventKind, OtherCourse, PatientView, Proposed,
};
use crate::field::Field;
use crate::store::{AppendError, Author, NewEvent, PatientRecord, StoredEvent, TxView};

/// What each recording command records, as the front end parsed it.
#[derive(Clone, Debug)]
pub enum Record {
    /// A dose.
    Give {
        /// The dose proposed.
        proposed: Proposed,
        /// Lot.
        lot: Option<String>,
        /// Arm.
        site: Option<String>,
        /// The patient the nurse has in front of them, typed (must be the course's; may be left
        /// out when the wristband is scanned).
        patient: Option<String>,
        /// The patient's wristband as scanned (raw: normalised by the ward).
        scan_patient: Option<String>,
        /// The vial's code as scanned (raw: normalised by the ward).
        scan_vial: Option<String>,
        /// A second person who checked the dose, authenticated by the front end.
        checked_by: Option<Actor>,
    },
    /// Any other event.
    Event(EventKind),
}

/// What was recorded, and what the course says now.
pub struct Recorded {
    /// The stored event.
    pub event: StoredEvent,
    /// The patient.
    pub patient: Option<PatientRecord>,
    /// Other patients with the same name and date of birth.
    pub lookalikes: Vec<PatientRecord>,
    /// The course now.
    pub view: CourseView,
    /// The next decision now.
    pub next: Decision,
    /// For an override: the dose the rules allowed instead, and the reason.
    pub overridden: Option<(course::Dosing, String)>,
}

impl Ward {
    /// Whether `actor` may record `what` on the course whose events are `events`: the role each
    /// entry needs (a refusal names it).
    fn authorise(
        actor: &Actor,
        events: &[StoredEvent],
        what: &Record,
        preview: bool,
        second_check: bool,
    ) -> Result<(), WardError> {
        let clinical = [Role::Nurse, Role::Physician];
        match what {
            Record::Give {
                proposed,
                checked_by,
                ..
            } => {
                actor.require(&clinical, "giving a dose")?;
                if proposed.override_reason.is_some() {
                    actor.require(&[Role::Physician], "an override (a different dose)")?;
                }
                if proposed.premedication_accepted.is_some() {
                    actor.require(
                        &[Role::Physician],
                        "accepting a dose without its required premedication",
                    )?;
                }
                if let Some(c) = checked_by {
                    if c.staff.id == actor.staff.id {
                        return Err(WardError::Forbidden(
                            "the second check must be made by another person".into(),
                        ));
                    }
                    c.require(&clinical, "checking a dose")?;
                } else if !preview && second_check {
                    return Err(WardError::SecondCheckNeeded);
                }
                Ok(())
            }
            Record::Event(EventKind::PhysicianReview { decision, .. }) => actor.require(
                &[Role::Physician],
                &format!("a physician review ({decision})"),
            ),
            Record::Event(EventKind::Correction { corrects, .. }) => {
                let target = events.iter().find(|e| e.event.seq == *corrects);
                let decisive = target.is_some_and(|t| {
                    matches!(
                        t.event.kind,
                        EventKind::SystemicReaction { .. } | EventKind::PhysicianReview { .. }
                    )
                });
                if decisive {
                    return actor.require(
                        &[Role::Physician],
                        "correcting a systemic reaction or a physician's review",
                    );
                }
                actor.require(&clinical, "correcting an entry")?;
                let own = target.is_some_and(|t| t.staff_id.as_deref() == Some(&actor.staff.id));
                if actor.role == Role::Nurse && target.is_some() && !own {
                    return Err(WardError::Forbidden(format!(
                        "a nurse may correct only their own entries; event #{corrects} was recorded by {}; a physician may correct it",
                        target.map_or("someone else", |t| t.event.by.as_str())
                    )));
                }
                Ok(())
            }
            Record::Event(_) => actor.require(&clinical, "recording on a course"),
        }
    }

    /// Records one event, as `actor`: their role is checked, the course and the patient's other
    /// courses are verified, and the event is checked against the course's state and the
    /// patient's other courses inside the store's transaction, so that nothing is written when
    /// it is refused, two nurses cannot both give the same dose, and two courses of one patient
    /// are not dosed within the rules' spacing. The actor's login session is marked used in the
    /// same transaction (its idle timeout counts from this entry).
    pub fn record(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
    ) -> Result<Recorded, WardError> {
        self.record_if(actor, id, at, now, what, None)
    }

    /// [`Ward::record`], refused as stale (nothing written) unless the course's last event is
    /// still `seen` (the number of its last event when the form was shown, 0 for none): a form
    /// filled in while another person recorded on the course is not saved over their entry.
    /// The comparison is made inside the store's transaction.
    pub fn record_if(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        seen: Option<u64>,
    ) -> Result<Recorded, WardError> {
        let p = self.prepare(actor, id, at, now, what, false)?;
        let ctx = p
            .loaded
            .ctx()
            .map_err(|e| self.tampering_first(id, e.into()))?;
        let mut overridden = None;
        // What the transaction decided on: the course's events and the patient's other
        // courses, each verified inside it. With the event it wrote, they are the course as
        // the record now holds it (nobody else could write between), shown without reading
        // and verifying all of it a third time.
        let mut decided_on: Option<(Vec<StoredEvent>, PatientView)> = None;
        let author = actor.author();
        let result = self.store.append_to(
            id,
            Some(&p.loaded.record),
            |events, tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                // The role again, now with the verified entries (a correction's target).
                Self::authorise(actor, events, &p.what, false, p.second_check)?;
                let last = events.last().map_or(0, |e| e.event.seq);
                if let Some(seen) = seen
                    && seen != last
                {
                    return Err(stale(id, seen, last));
                }
                let mut view = PatientView::default();
                for other in &p.others {
                    let s = replay_stored(other.ctx()?, &tx.events(other.record.id)?);
                    view.others.push(OtherCourse::of(other.record.id, &s));
                }
                // The patient's omalizumab courses: a systemic reaction on one holds them all.
                for (o, o_rules) in &p.omalizumab {
                    let ev: Vec<Event> = tx.events(*o)?.into_iter().map(|e| e.event).collect();
                    view.others.push(
                        course::omalizumab::OmalizumabState::replay(&ev).as_other(*o, o_rules),
                    );
                }
                crate::timing::mark("tx: other courses");
                let (kind, o, _) = check(ctx, events, &view, at, &p.what, &p.scan())?;
                crate::timing::mark("tx: check");
                overridden = o;
                // The course's state after this event, for the store's derived state row.
                let mut after: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
                after.push(Event {
                    seq: last + 1,
                    at,
                    by: author.name.clone(),
                    kind: kind.clone(),
                });
                let active = !course::replay(ctx, &after).inactive();
                decided_on = Some((events.to_vec(), view));
                Ok(NewEvent {
                    kind,
                    at,
                    by: author.clone(),
                    recorded_at: now,
                    late_entered: p.late_entered,
                    active,
                    session: actor.token_hash.clone(),
                })
            },
        );
        let event = match result {
            Ok(ev) => ev,
            Err(AppendError::Refused(e)) => return Err(e),
            Err(AppendError::Store(e)) => return Err(e.into()),
        };
        let Some((mut events, patient_view)) = decided_on else {
            return Err(WardError::Data(format!(
                "course {id}: recorded, but its check left nothing to show; see its log (ritplan course log {id})"
            )));
        };
        events.push(event.clone());
        let state = replay_stored(p.loaded.ctx()?, &events);
        let view = CourseView {
            loaded: p.loaded,
            events,
            state,
            patient: patient_view,
        };
        let next = view.decide(now)?;
        crate::timing::mark("after: replay, decide");
        let patient = self.store.patient(&p.patient_id)?;
        let lookalikes = match &patient {
            Some(p) => self.lookalikes(p)?,
            None => Vec::new(),
        };
        crate::timing::mark("after: patient, lookalikes");
        Ok(Recorded {
            event,
            patient,
            lookalikes,
            view,
            next,
            overridden,
        })
    }

    /// What [`Ward::record`] would record now, with every check it makes, and nothing written:
    /// for a confirmation step (the record re-checks everything inside its transaction). A
    /// clinic's second check is not asked for yet: the second person signs the confirmation.
    /// With `seen` (as for [`Ward::record_if`]), a form shown on an older state of the course
    /// is refused as stale, after the checks.
    pub fn preview(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        seen: Option<u64>,
    ) -> Result<Preview, WardError> {
        let p = self.prepare(actor, id, at, now, what, true)?;
        // Verified here, once: the row prepared from must be the row verified.
        let (record, events) = self.store.verified_course(id)?;
        if record != p.loaded.record {
            return Err(WardError::Data(format!(
                "course {id}: its row changed while it was read; nothing was recorded, try again"
            )));
        }
        Self::authorise(actor, &events, &p.what, true, p.second_check)?;
        let mut view = PatientView::default();
        for other in &p.others {
            let s = replay_stored(other.ctx()?, &self.store.events(other.record.id)?);
            view.others.push(OtherCourse::of(other.record.id, &s));
        }
        view.others
            .extend(self.omalizumab_holds(&p.patient_id, id)?);
        let (kind, overridden, vial) =
            check(p.loaded.ctx()?, &events, &view, at, &p.what, &p.scan())?;
        let last = events.last().map_or(0, |e| e.event.seq);
        if let Some(seen) = seen
            && seen != last
        {
            return Err(stale(id, seen, last));
        }
        Ok(Preview {
            kind,
            overridden,
            seen: last,
            vial,
        })
    }

    /// The scans alone, before the rest of a dose's form is filled in (the page's "check the
    /// scans" step, for a keyboard-wedge scanner's Enter): the wristband must be the course's
    /// patient and the vial one of the course's, usable on `now`'s day and of the strength of
    /// the dose due now. Nothing is required and nothing is written; the recording checks
    /// everything again, with the clinic's required scans, inside its transaction.
    pub fn check_scans(
        &mut self,
        actor: &Actor,
        id: i64,
        scan_patient: Option<&str>,
        scan_vial: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<ScansChecked, WardError> {
        actor.require(
            &[Role::Nurse, Role::Physician],
            "checking the scans for a dose",
        )?;
        let scan_patient = scanned(Field::ScanPatient, scan_patient, course::scan::patient_code)?;
        let scan_vial = scanned(Field::ScanVial, scan_vial, course::scan::vial_code)?;
        let view = self.view(id)?;
        let decision = view.decide(now)?;
        let Some(dose) = decision.dosing else {
            return Err(WardError::Data(format!(
                "course {id}: no dose is due now, so there is nothing to scan for"
            )));
        };
        let vial = course::scan::check(
            &view.state,
            &view.loaded.template,
            &dose.vial,
            course::scan::Scans {
                patient: scan_patient.as_deref(),
                vial: scan_vial.as_deref(),
            },
            &view.loaded.record.patient_id,
            now.date(),
            course::scan::Required::default(),
        )
        .map_err(WardError::Scan)?
        .map(|v| v.code.clone());
        let vial = match vial {
            Some(code) => Some(self.vial(&code, now.date())?),
            None => None,
        };
        Ok(ScansChecked {
            patient: scan_patient,
            vial,
        })
    }

    /// Everything [`Ward::record`] checks before its transaction: the time, the text, the
    /// course's chain, the patient, the role; the other courses loaded.
    fn prepare(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        now: NaiveDateTime,
        what: Record,
        preview: bool,
    ) -> Result<Prepared, WardError> {
        if at > now + chrono::Duration::minutes(1) {
            return Err(WardError::Input {
                field: Field::At,
                problem: format!(
                    "{} is in the future; record what has happened",
                    at.format("%Y-%m-%d %H:%M")
                ),
            });
        }
        let what = match what {
            // A vial's code is allocated, and its index row written, only by the vial's own
            // door (Ward::add_vial, Ward::discard_vial), never as a plain entry.
            Record::Event(EventKind::VialAdded { .. } | EventKind::VialDiscarded { .. }) => {
                return Err(WardError::Data(
                    "a vial is added or discarded with its own command (vial add, vial discard), not as a course entry".into(),
                ));
            }
            Record::Event(kind) => Record::Event(text::event(kind)?),
            Record::Give {
                proposed,
                lot,
                site,
                patient,
                scan_patient,
                scan_vial,
                checked_by,
            } => {
                let mut proposed = proposed;
                proposed.override_reason =
                    text::opt_text(Field::Override, proposed.override_reason.as_deref())?;
                proposed.premedication_accepted = text::opt_text(
                    Field::AcceptPremedication,
                    proposed.premedication_accepted.as_deref(),
                )?;
                let scan_patient = scanned(
                    Field::ScanPatient,
                    scan_patient.as_deref(),
                    course::scan::patient_code,
                )?;
                let scan_vial = scanned(
                    Field::ScanVial,
                    scan_vial.as_deref(),
                    course::scan::vial_code,
                )?;
                let patient = match patient.as_deref().map(str::trim) {
                    None | Some("") if scan_patient.is_some() => None,
                    None | Some("") => {
                        return Err(WardError::Input {
                            field: Field::PatientCheck,
                            problem:
                                "is needed: type the ID from the patient's wristband, or scan it"
                                    .into(),
                        });
                    }
                    Some(typed) => Some(text::text(Field::PatientCheck, typed)?),
                };
                Record::Give {
                    proposed,
                    lot: text::opt_text(Field::Lot, lot.as_deref())?,
                    site: text::opt_text(Field::Site, site.as_deref())?,
                    patient,
                    scan_patient,
                    scan_vial,
                    checked_by,
                }
            }
        };
        let late_entered = now - at > chrono::Duration::minutes(5);
        crate::timing::mark("prepare: text");
        match self.prepare_course(actor, id, at, what, preview, late_entered) {
            Ok(p) => Ok(p),
            Err(e) => Err(self.tampering_first(id, e)),
        }
    }

    /// A refusal found before the course was verified: if the course does not verify, that
    /// is what is reported (a course moved to another patient in the database is a changed
    /// record, not a wrong patient), as when every course was verified before anything was
    /// compared with it. Only a refusal pays for this verification.
    fn tampering_first(&self, id: i64, e: WardError) -> WardError {
        if matches!(
            e,
            WardError::Tampered(_) | WardError::NoCourse { .. } | WardError::Store(_)
        ) {
            return e;
        }
        match self.store.verify_or_refuse(id) {
            Err(t @ crate::store::StoreError::Tampered(_)) => t.into(),
            _ => e,
        }
    }

    /// [`Ward::prepare`] from the course's row as read, not yet verified: the course is
    /// verified once, inside the recording's transaction ([`crate::store::Store::append_to`]
    /// refuses unless the row verified is this one); a refusal here reports the course's
    /// tampering first ([`Ward::tampering_first`]).
    fn prepare_course(
        &mut self,
        actor: &Actor,
        id: i64,
        at: NaiveDateTime,
        what: Record,
        preview: bool,
        late_entered: bool,
    ) -> Result<Prepared, WardError> {
        let record = self.store.course(id)?.ok_or(WardError::NoCourse { id })?;
        crate::timing::mark("prepare: read the course");
        if let Record::Give {
            patient: Some(patient),
            ..
        } = &what
            && *patient != record.patient_id
        {
            let other = self.store.patient(patient)?;
            return Err(WardError::WrongPatient(format!(
                "wrong patient: course {id} is {}'s ({}), not {}; nothing was recorded",
                self.patient(&record.patient_id)
                    .map(|p| p.name)
                    .unwrap_or_default(),
                record.patient_id,
                match other {
                    Some(o) => format!("{} ({})", o.name, o.id),
                    None => format!("{patient:?}, which is no patient's id"),
                }
            )));
        }
        let loaded = load_record(record, &mut self.parsed)?;
        crate::timing::mark("prepare: load frozen, re-lay");
        let patient_id = loaded.record.patient_id.clone();
        // For a dose, the clinic's settings, read once: the second check and the scans they
        // require (other entries need neither).
        let settings = match &what {
            Record::Give { .. } => auth::Settings::load(&self.store)?,
            Record::Event(_) => auth::Settings {
                scan: auth::Scan::Off,
                ..auth::Settings::default()
            },
        };
        // A wall-clock time that the clocks skip in the clinic's zone (the spring night) names
        // no moment: refused, never moved to a time nobody entered (see `crate::zone`).
        let zone = match &what {
            Record::Give { .. } => settings.time_zone,
            Record::Event(_) => self.zone()?,
        };
        super::existing_time(zone, at)?;
        // The role, as far as it can be told without the course's entries (all of it but a
        // correction's target, which is checked again against the verified entries in the
        // transaction, or in the preview).
        Self::authorise(actor, &[], &what, preview, settings.second_check)?;
        let required = match settings.scan {
            auth::Scan::Off => course::scan::Required::default(),
            auth::Scan::Vial => course::scan::Required {
                patient: false,
                vial: true,
            },
            auth::Scan::PatientAndVial => course::scan::Required {
                patient: true,
                vial: true,
            },
        };
        crate::timing::mark("prepare: settings, role");
        // The other courses, verified, and their frozen copies parsed before the transaction
        // takes its lock.
        let others: Vec<Loaded> = self
            .others(&patient_id, id)?
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        // Verified by omalizumab_holds; their frozen rules give each observation's minutes.
        let held = self.omalizumab_holds(&patient_id, id)?;
        let mut omalizumab = Vec::new();
        for o in &held {
            let record = self
                .store
                .course(o.course)?
                .ok_or(WardError::NoCourse { id: o.course })?;
            omalizumab.push((o.course, super::omalizumab::frozen_course_rules(&record)?));
        }
        crate::timing::mark("prepare: other courses");
        Ok(Prepared {
            what,
            loaded,
            others,
            omalizumab,
            late_entered,
            patient_id,
            required,
            second_check: settings.second_check,
        })
    }

    /// The author of entries the record writes itself.
    pub fn system_author() -> Author {
        Author {
            name: "ritplan".into(),
            staff_id: None,
            os_user: String::new(),
        }
    }
}

/// The refusal of a form shown when the course's last entry was `seen` and is now `last`.
fn stale(id: i64, seen: u64, last: u64) -> WardError {
    WardError::Stale {
        course: id,
        seen,
        now: last,
    }
}

/// Scans that passed [`Ward::check_scans`].
#[derive(Clone, Debug)]
pub struct ScansChecked {
    /// The wristband scanned (the course's patient).
    pub patient: Option<String>,
    /// The vial scanned (the course's, usable, of the dose's strength).
    pub vial: Option<super::VialView>,
}

/// What a recording would record (see [`Ward::preview`]).
pub struct Preview {
    /// The event as it would be stored.
    pub kind: EventKind,
    /// For an override: the dose the rules allowed instead, and the reason.
    pub overridden: Option<(course::Dosing, String)>,
    /// The course's last event number the preview was made on (for [`Ward::record_if`]).
    pub seen: u64,
    /// The vial scanned for a dose, as the course holds it.
    pub vial: Option<course::VialState>,
}

struct Prepared {
    what: Record,
    loaded: Loaded,
    others: Vec<Loaded>,
    /// The patient's omalizumab courses with their rules (their holds and open observations
    /// count, checked in the transaction).
    omalizumab: Vec<(i64, crate::policy::omalizumab_course::CourseRules)>,
    late_entered: bool,
    patient_id: String,
    /// The scans the clinic's setting requires before a dose.
    required: course::scan::Required,
    /// The clinic's settings require a second person to check every dose.
    second_check: bool,
}

impl Prepared {
    fn scan(&self) -> ScanCtx<'_> {
        ScanCtx {
            patient: &self.patient_id,
            required: self.required,
        }
    }
}

/// What the scan check needs besides the dose: the course's patient and the scans required.
struct ScanCtx<'a> {
    patient: &'a str,
    required: course::scan::Required,
}

/// A scanned code, normalised by `norm` and held to the ward's text rules (length, no control
/// character); an empty scan is none.
fn scanned(
    field: Field,
    raw: Option<&str>,
    norm: fn(&str) -> String,
) -> Result<Option<String>, WardError> {
    match raw.map(norm) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => text::text(field, &s).map(Some),
    }
}

/// What [`check`] decided: the event to store, for an override the dose the rules allowed, and
/// the vial scanned for a dose.
type Checked = (
    EventKind,
    Option<(course::Dosing, String)>,
    Option<course::VialState>,
);

/// The clinical check of one recording against the course's events and the patient's other
/// courses, and for a dose the scans (see [`course::scan::check`]): no override lifts a scan's
/// refusal.
fn check(
    ctx: Context<'_>,
    events: &[StoredEvent],
    view: &PatientView,
    at: NaiveDateTime,
    what: &Record,
    scan: &ScanCtx<'_>,
) -> Result<Checked, WardError> {
    let state = replay_stored(ctx, events);
    match what {
        Record::Give {
            proposed,
            lot,
            site,
            checked_by,
            scan_patient,
            scan_vial,
            ..
        } => {
            let plain = course::next(ctx, &state, at, view, None);
            let hand = course::vial_in_hand(
                &state,
                plain.dosing.as_ref(),
                lot.as_deref(),
                scan_vial.as_deref(),
                at.date(),
            );
            let allowed = course::next(ctx, &state, at, view, hand.as_ref()).dosing;
            let d = course::check_give(ctx, &state, view, at, proposed, hand.as_ref())
                .map_err(|r| WardError::Refused(Box::new(r)))?;
            let vial = course::scan::check(
                &state,
                ctx.template,
                &d.vial,
                course::scan::Scans {
                    patient: scan_patient.as_deref(),
                    vial: scan_vial.as_deref(),
                },
                scan.patient,
                at.date(),
                scan.required,
            )
            .map_err(WardError::Scan)?;
            // Not scanned: on a course with recorded vials of this strength, the typed lot must
            // be a usable one's, so that no dose comes from an expired, discarded or unknown
            // vial; the record names that vial by its code, and its lot as the vial has it.
            let (lot, vial) = match vial {
                Some(v) => (
                    course::scan::lot(lot.as_deref(), Some(v)).map_err(WardError::Scan)?,
                    Some(v),
                ),
                None => {
                    match course::unscanned_vial(&state, &d.vial, lot.as_deref(), at.date())
                        .map_err(|problem| WardError::Input {
                            field: Field::Lot,
                            problem,
                        })? {
                        Some(v) => (Some(v.lot.clone()), Some(v)),
                        None => (lot.clone(), None),
                    }
                }
            };
            let overridden = match (allowed, &proposed.override_reason) {
                (Some(a), Some(why)) if (a.step, a.volume_ml) != (d.step, d.volume_ml) => {
                    Some((a, why.clone()))
                }
                _ => None,
            };
            Ok((
                EventKind::DoseGiven {
                    step: d.step,
                    vial: d.vial,
                    volume_ml: d.volume_ml,
                    dose: d.dose,
                    lot,
                    site: site.clone(),
                    pef_percent: proposed.pef_percent,
                    screen_ok: proposed.screen_ok,
                    override_reason: proposed.override_reason.clone(),
                    checked_by: checked_by.as_ref().map(|c| c.staff.id.clone()),
                    vial_code: vial.map(|v| v.code.clone()),
                    phase: ctx.phase_of(d.step),
                    premedication: proposed.premedication_record(),
                },
                overridden,
                vial.cloned(),
            ))
        }
        Record::Event(kind) => {
            let plain: Vec<Event> = events.iter().map(|e| e.event.clone()).collect();
            course::admissible(ctx, &state, &plain, at, kind)
                .map_err(|r| WardError::Refused(Box::new(r)))?;
            // A review records what it answers: the hold the course shows now (whatever a
            // front end sent), so that it lifts a vial change only when it answered one.
            let kind = match kind {
                EventKind::PhysicianReview {
                    decision, reason, ..
                } => EventKind::PhysicianReview {
                    decision: decision.clone(),
                    reason: reason.clone(),
                    about: Some(course::review_about(ctx, &state, at, view)),
                },
                other => other.clone(),
            };
            Ok((kind, None, None))
        }
    }
}
