//! Vials: a vial of a course's template put in use gets its own code (`V000001`), unique in the
//! record, recorded as a `VialAdded` event in the course's chain (so a vial is verified like every
//! entry); a vial taken out of use is a `VialDiscarded` event. Every check is made before
//! anything is written; the code is allocated inside the transaction that records the vial.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::auth::{Actor, Role};
use super::{Ward, WardError, load_record, replay_stored, text};
use crate::course::{EventKind, Refusal, VialState, VialStatus};
use crate::diag::SourceText;
use crate::field::Field;
use crate::policy::vial_expiry::{ExpiryRefusal, VialExpiry};
use crate::store::{AppendError, NewEvent, StoredEvent, TxView, vial_code_number};
use crate::units::{AllergenUnit, Concentration, Volume};

/// The largest vial volume recorded, in mL (a larger one is a typing error).
pub const MAX_VIAL_ML: u32 = 50;

/// A vial as the front end parsed it, before the ward's checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewVial {
    /// The template's vial id (e.g. `4`).
    pub vial: String,
    /// The lot (required unless the scan gives it).
    pub lot: Option<String>,
    /// The lot's expiry date (required unless the scan gives it).
    pub expires: Option<NaiveDate>,
    /// The manufacturer.
    pub manufacturer: Option<String>,
    /// When the vial was prepared (mixed or diluted).
    pub prepared: Option<NaiveDate>,
    /// Its volume.
    pub volume_ml: Option<Volume>,
    /// A scanned GS1 element string (fills lot, expiry, GTIN and serial).
    pub scan: Option<String>,
}

/// A vial, for display: its recorded values, its template vial's label, strength and colour,
/// and its status on a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VialView {
    /// The course.
    pub course: i64,
    /// The course's patient.
    pub patient: String,
    /// Its code.
    pub code: String,
    /// The template's vial id.
    pub vial: String,
    /// The template vial's printed name.
    pub label: String,
    /// Its strength per mL (the number; the unit in `unit`).
    pub strength: Concentration,
    /// The allergen unit.
    pub unit: AllergenUnit,
    /// The cap or label colour.
    pub cap: String,
    /// The lot.
    pub lot: String,
    /// The lot's expiry date.
    pub lot_expires: NaiveDate,
    /// The effective expiry.
    pub expires: NaiveDate,
    /// The clinic's rule that made the expiry earlier than the lot's date, in words.
    pub expiry_rule: Option<String>,
    /// The manufacturer.
    pub manufacturer: Option<String>,
    /// When it was prepared.
    pub prepared: Option<NaiveDate>,
    /// Its volume.
    pub volume_ml: Option<Volume>,
    /// When it was added.
    pub added_at: NaiveDateTime,
    /// Its status on the day asked about.
    pub status: VialStatus,
    /// When it was discarded.
    pub discarded_at: Option<NaiveDateTime>,
    /// Why it was discarded.
    pub discarded_reason: Option<String>,
    /// Doses recorded as drawn from it.
    pub doses_drawn: u32,
    /// GS1 GTIN, when scanned.
    pub gtin: Option<String>,
    /// GS1 serial number, when scanned.
    pub serial: Option<String>,
}

/// A value typed or read from a scanned code: the two must agree (`disagree` words the
/// refusal); one of them is needed (`missing`).
fn typed_or_scanned<T: PartialEq>(
    field: Field,
    (typed, scanned): (Option<T>, Option<T>),
    disagree: impl Fn(&T, &T) -> String,
    missing: &str,
) -> Result<T, WardError> {
    match (typed, scanned) {
        (Some(t), Some(s)) if t != s => Err(input(field, disagree(&t, &s))),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(input(field, missing)),
    }
}

fn input(field: Field, problem: impl Into<String>) -> WardError {
    WardError::Input {
        field,
        problem: problem.into(),
    }
}

/// A vial code as typed or scanned: trimmed, upper case, `V` and six (or more) digits.
pub fn vial_code(value: &str) -> Result<String, WardError> {
    let code = value.trim().to_ascii_uppercase();
    if vial_code_number(&code).is_none() {
        return Err(input(
            Field::VialCode,
            format!(
                "{:?} is not a vial code: V and six digits, e.g. V000001",
                value.trim()
            ),
        ));
    }
    Ok(code)
}

/// Refused as stale when a form was shown on entry `seen` of course `course` and `events` (read
/// inside the write's transaction) end with another.
fn stale_if(course: i64, seen: Option<u64>, events: &[StoredEvent]) -> Result<(), WardError> {
    let last = events.last().map_or(0, |e| e.event.seq);
    match seen {
        Some(seen) if seen != last => Err(WardError::Stale {
            course,
            seen,
            now: last,
        }),
        _ => Ok(()),
    }
}

/// A date held to the years ritplan accepts.
fn bounded(field: Field, d: NaiveDate) -> Result<NaiveDate, WardError> {
    crate::when::date(d).map_err(|e| input(field, e.to_string()))
}

/// The values of a new vial once checked: lot, lot expiry, GTIN and serial from the scan and
/// the typed values, which must agree.
struct Checked {
    lot: String,
    lot_expires: NaiveDate,
    manufacturer: Option<String>,
    prepared: Option<NaiveDate>,
    volume_ml: Option<Volume>,
    gtin: Option<String>,
    serial: Option<String>,
}

fn check_new(v: &NewVial, today: NaiveDate) -> Result<Checked, WardError> {
    let typed_lot = text::opt_text(Field::Lot, v.lot.as_deref())?;
    let manufacturer = text::opt_text(Field::Manufacturer, v.manufacturer.as_deref())?;
    let typed_expires = v.expires.map(|d| bounded(Field::Expires, d)).transpose()?;
    let prepared = v
        .prepared
        .map(|d| bounded(Field::Prepared, d))
        .transpose()?;
    if let Some(p) = prepared
        && p > today
    {
        return Err(input(
            Field::Prepared,
            format!("{p} is in the future; a vial is recorded once it is prepared"),
        ));
    }
    let volume_ml = match v.volume_ml {
        Some(vol) if vol.ml() > Decimal::ZERO && vol.ml() <= Decimal::from(MAX_VIAL_ML) => {
            Some(vol)
        }
        Some(vol) => {
            return Err(input(
                Field::VialVolume,
                format!(
                    "{} is not a vial's volume: above 0 and at most {MAX_VIAL_ML} mL",
                    vol.ml().normalize()
                ),
            ));
        }
        None => None,
    };
    let scan = match v.scan.as_deref() {
        None => None,
        Some(s) => Some(
            crate::gs1::parse(s, today)
                .map_err(|e| input(Field::Scan, format!("is not a GS1 code ritplan reads: {e}")))?,
        ),
    };
    let scanned_lot = scan
        .as_ref()
        .and_then(|g| g.lot.as_deref())
        .map(|l| text::text(Field::Lot, l))
        .transpose()?;
    let scanned_expiry = scan
        .as_ref()
        .and_then(|g| g.expiry)
        .map(|d| bounded(Field::Scan, d))
        .transpose()?;
    let lot = typed_or_scanned(
        Field::Lot,
        (typed_lot, scanned_lot),
        |t, s| format!("{t:?} disagrees with the scanned code's lot {s:?}: check the vial"),
        if scan.is_some() {
            "is needed: the scanned code has no lot (AI 10); type it from the label"
        } else {
            "is needed: type it from the vial's label, or scan its code"
        },
    )?;
    let lot_expires = typed_or_scanned(
        Field::Expires,
        (typed_expires, scanned_expiry),
        |t, s| format!("{t} disagrees with the scanned code's expiry {s}: check the vial"),
        if scan.is_some() {
            "is needed: the scanned code has no expiry date (AI 17); type it from the label"
        } else {
            "is needed: type the lot's expiry date from the vial's label, or scan its code"
        },
    )?;
    Ok(Checked {
        lot,
        lot_expires,
        manufacturer,
        prepared,
        volume_ml,
        gtin: scan.as_ref().and_then(|g| g.gtin.clone()),
        serial: scan
            .as_ref()
            .and_then(|g| g.serial.as_deref())
            .map(|s| text::text(Field::Scan, s))
            .transpose()?,
    })
}

/// The view of a vial of a course whose template is `template`.
fn view_of(
    course: i64,
    patient: &str,
    template: &crate::template::Template,
    v: &VialState,
    today: NaiveDate,
) -> Result<VialView, WardError> {
    let tv = template.vial(&v.vial).ok_or_else(|| {
        WardError::Data(format!(
            "course {course}: vial {} names the template's vial {:?}, which the frozen template does not have",
            v.code, v.vial
        ))
    })?;
    Ok(VialView {
        course,
        patient: patient.to_string(),
        code: v.code.clone(),
        vial: v.vial.clone(),
        label: tv.label.clone(),
        strength: tv.concentration,
        unit: tv.unit,
        cap: tv.cap.clone(),
        lot: v.lot.clone(),
        lot_expires: v.lot_expires,
        expires: v.expires,
        expiry_rule: v.expiry_rule.clone(),
        manufacturer: v.manufacturer.clone(),
        prepared: v.prepared,
        volume_ml: v.volume_ml,
        added_at: v.added_at,
        status: v.state_on(today),
        discarded_at: v.discarded.as_ref().map(|(at, _)| *at),
        discarded_reason: v.discarded.as_ref().map(|(_, r)| r.clone()),
        doses_drawn: v.doses_drawn,
        gtin: v.gtin.clone(),
        serial: v.serial.clone(),
    })
}

impl Ward {
    /// Replaces the vial expiry policy (the bundled one at open) with a clinic's file.
    pub fn use_vial_expiry_rules(&mut self, src: SourceText) -> Result<(), WardError> {
        self.vial_expiry = VialExpiry::from_source(src).map_err(|e| {
            WardError::Data(
                e.files
                    .iter()
                    .flat_map(|(s, d)| d.iter().map(move |d| format!("{}: {}", s.name, d.message)))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Ok(())
    }

    /// The vial expiry policy in force.
    pub fn vial_expiry_rules(&self) -> &VialExpiry {
        &self.vial_expiry
    }

    /// Adds a vial of the course's template (nurse or physician): checks every value, works out
    /// its effective expiry from the lot's date and the clinic's policy, then records it with a
    /// new code inside one transaction (the course verified and active there).
    pub fn add_vial(
        &mut self,
        actor: &Actor,
        course: i64,
        v: NewVial,
        now: NaiveDateTime,
    ) -> Result<VialView, WardError> {
        self.add_vial_if(actor, course, v, now, None)
    }

    /// [`Ward::add_vial`] for a form shown when the course's last entry was `seen`: if another
    /// entry came since, refused as [`WardError::Stale`] inside the transaction, nothing written.
    pub fn add_vial_if(
        &mut self,
        actor: &Actor,
        course: i64,
        v: NewVial,
        now: NaiveDateTime,
        seen: Option<u64>,
    ) -> Result<VialView, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "adding a vial")?;
        let today = now.date();
        let c = check_new(&v, today)?;
        let record = self
            .store
            .course(course)?
            .ok_or(WardError::NoCourse { id: course })?;
        self.store.verify_or_refuse(course)?;
        let loaded = load_record(record, &mut self.parsed)?;
        let vial_id = v.vial.trim();
        let Some(tv) = loaded.template.vial(vial_id) else {
            let ids: Vec<String> = loaded
                .template
                .vials
                .iter()
                .map(|t| format!("{} ({}, {})", t.id, t.concentration, t.cap))
                .collect();
            return Err(input(
                Field::VialNumber,
                format!(
                    "{vial_id:?} is not a vial of course {course}'s template {}: its vials are {}",
                    loaded.template.id,
                    ids.join(", ")
                ),
            ));
        };
        let strength = tv.concentration;
        let effective = self
            .vial_expiry
            .effective(strength, c.lot_expires, c.prepared)
            .map_err(|ExpiryRefusal::NeedsPrepared { rule }| {
                input(
                    Field::Prepared,
                    format!(
                        "is needed: the clinic limits vial {}'s shelf life from its preparation date ({rule})",
                        tv.id
                    ),
                )
            })?;
        if effective.expires < today {
            return Err(input(
                Field::Expires,
                match &effective.rule {
                    None => format!(
                        "{} is past: the lot expired; an expired vial is not added",
                        effective.expires
                    ),
                    Some(r) => format!(
                        "{}: the vial expired on {} by {r}; an expired vial is not added",
                        c.lot_expires, effective.expires
                    ),
                },
            ));
        }
        let kind_for = |code: String| EventKind::VialAdded {
            code,
            vial: tv.id.clone(),
            lot: c.lot.clone(),
            lot_expires: c.lot_expires,
            expires: effective.expires,
            expiry_rule: effective.rule.clone(),
            manufacturer: c.manufacturer.clone(),
            prepared: c.prepared,
            volume_ml: c.volume_ml,
            gtin: c.gtin.clone(),
            serial: c.serial.clone(),
        };
        let ctx = loaded.ctx()?;
        let author = actor.author();
        let result = self.store.append(
            course,
            |events: &[StoredEvent], tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                stale_if(course, seen, events)?;
                let state = replay_stored(ctx, events);
                if let Some(h) = &state.ended {
                    return Err(WardError::Refused(Box::new(Refusal::Ended {
                        hold: Box::new(h.clone()),
                    })));
                }
                if let Some(h) = &state.stopped {
                    return Err(WardError::Refused(Box::new(Refusal::Stopped {
                        hold: Box::new(h.clone()),
                    })));
                }
                Ok(NewEvent {
                    kind: kind_for(tx.next_vial_code()?),
                    at: now,
                    by: author.clone(),
                    recorded_at: now,
                    late_entered: false,
                    active: true,
                    session: actor.token_hash.clone(),
                })
            },
        );
        let event = match result {
            Ok(e) => e,
            Err(AppendError::Refused(e)) => return Err(e),
            Err(AppendError::Store(e)) => return Err(e.into()),
        };
        let EventKind::VialAdded { code, .. } = &event.event.kind else {
            return Err(WardError::Data(format!(
                "course {course}: recorded, but not as a vial; see its log (ritplan course log {course})"
            )));
        };
        self.vial(code, today)
    }

    /// Every vial of a course (`Some`), or of every course that has one (`None`), each course
    /// verified, with its status on `today`.
    pub fn vials(
        &mut self,
        course: Option<i64>,
        today: NaiveDate,
    ) -> Result<Vec<VialView>, WardError> {
        let ids = match course {
            Some(id) => vec![id],
            None => self.store.courses_with_vials()?,
        };
        let mut out = Vec::new();
        for id in ids {
            let view = self.view(id)?;
            for v in &view.state.vials {
                out.push(view_of(
                    id,
                    &view.loaded.record.patient_id,
                    &view.loaded.template,
                    v,
                    today,
                )?);
            }
        }
        Ok(out)
    }

    /// The vial with this code (case and spaces ignored), with its status on `today`: found
    /// through the index, then read from its course, verified (the index is never trusted over
    /// the chain: a code the course's events do not hold is no vial).
    pub fn vial(&mut self, code: &str, today: NaiveDate) -> Result<VialView, WardError> {
        let code = vial_code(code)?;
        let no_vial = || WardError::NoVial { code: code.clone() };
        let course = self.store.vial_course(&code)?.ok_or_else(no_vial)?;
        let view = self.view(course)?;
        let v = view
            .state
            .vials
            .iter()
            .find(|v| v.code == code)
            .ok_or_else(no_vial)?;
        view_of(
            course,
            &view.loaded.record.patient_id,
            &view.loaded.template,
            v,
            today,
        )
    }

    /// Discards a vial (nurse or physician), with a reason; refused for a vial already
    /// discarded. Checked inside the transaction that records it.
    pub fn discard_vial(
        &mut self,
        actor: &Actor,
        code: &str,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<VialView, WardError> {
        self.discard_vial_if(actor, code, reason, now, None)
    }

    /// [`Ward::discard_vial`] for a form of course `seen.0`'s page shown when its last entry
    /// was `seen.1`: refused as [`WardError::Stale`] inside the transaction if another entry
    /// came since, and refused if the vial is not that course's; nothing written.
    pub fn discard_vial_if(
        &mut self,
        actor: &Actor,
        code: &str,
        reason: &str,
        now: NaiveDateTime,
        seen: Option<(i64, u64)>,
    ) -> Result<VialView, WardError> {
        actor.require(&[Role::Nurse, Role::Physician], "discarding a vial")?;
        let code = vial_code(code)?;
        let reason = text::text(Field::Reason, reason)?;
        let course = self
            .store
            .vial_course(&code)?
            .ok_or_else(|| WardError::NoVial { code: code.clone() })?;
        if let Some((shown, _)) = seen
            && shown != course
        {
            return Err(input(
                Field::VialCode,
                format!("{code} is a vial of course {course}, not of course {shown}"),
            ));
        }
        let record = self
            .store
            .course(course)?
            .ok_or(WardError::NoCourse { id: course })?;
        self.store.verify_or_refuse(course)?;
        let loaded = load_record(record, &mut self.parsed)?;
        let ctx = loaded.ctx()?;
        let author = actor.author();
        let result = self.store.append(
            course,
            |events: &[StoredEvent], _tx: &TxView<'_>| -> Result<NewEvent, WardError> {
                stale_if(course, seen.map(|(_, s)| s), events)?;
                let state = replay_stored(ctx, events);
                let v = state
                    .vials
                    .iter()
                    .find(|v| v.code == code)
                    .ok_or_else(|| WardError::NoVial { code: code.clone() })?;
                if let Some((at, why)) = &v.discarded {
                    return Err(input(
                        Field::VialCode,
                        format!(
                            "{code} was already discarded on {} ({why})",
                            at.format("%Y-%m-%d %H:%M")
                        ),
                    ));
                }
                Ok(NewEvent {
                    kind: EventKind::VialDiscarded {
                        code: code.clone(),
                        reason: reason.clone(),
                    },
                    at: now,
                    by: author.clone(),
                    recorded_at: now,
                    late_entered: false,
                    active: !state.inactive(),
                    session: actor.token_hash.clone(),
                })
            },
        );
        match result {
            Ok(_) => {}
            Err(AppendError::Refused(e)) => return Err(e),
            Err(AppendError::Store(e)) => return Err(e.into()),
        }
        self.vial(&code, now.date())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ward::{NewStaff, Start};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// A record with a nurse and two courses (P1 and P2) on the 3-day rush template, vials 1-4.
    fn ward(dir: &tempfile::TempDir) -> (Ward, Actor, Actor) {
        let now = at("2026-12-07 08:00");
        let (mut ward, admin, _) = Ward::init(
            &dir.path().join("r.db"),
            true,
            NewStaff {
                id: "admin".into(),
                name: "Admin".into(),
                role: Role::Admin,
                secret: "admin-password-1".into(),
            },
            "test",
            now,
        )
        .expect("init");
        ward.staff_add(
            &admin,
            NewStaff {
                id: "rn.li".into(),
                name: "RN Li".into(),
                role: Role::Nurse,
                secret: "nurse-password-1".into(),
            },
            now,
        )
        .expect("nurse");
        let (nurse, _) = ward
            .login("rn.li", "nurse-password-1", "test", now)
            .expect("nurse");
        let b = crate::testkit::bundled();
        let template = b.catalog.get("example-hdm-rush-3d").expect("template");
        for id in ["P1", "P2"] {
            let p = crate::ward::view::PatientRecord {
                id: id.into(),
                name: format!("Patient {id}"),
                dob: d("1990-05-01"),
                weight_kg: "70".into(),
                sige: "2".into(),
                total_ige: "410".into(),
                fev1_percent: Some("92".into()),
                asthma: Some("controlled".into()),
                beta_blocker: false,
            };
            ward.add_patient(&nurse, &p, now).expect("patient");
            let started = ward
                .start(
                    &nurse,
                    Start {
                        patient_id: id,
                        template,
                        catalog: &b.catalog,
                        policy: &b.policy,
                        rule_sources: crate::policy::bundled_sources(),
                        start: now,
                        calendar: crate::testkit::weekdays(),
                        omalizumab_weeks: None,
                        accept_risk: None,
                        accept_age: None,
                        accept_missing: None,
                        now,
                    },
                )
                .expect("start");
            assert!(started.is_ok());
        }
        (ward, admin, nurse)
    }

    fn new_vial(vial: &str) -> NewVial {
        NewVial {
            vial: vial.into(),
            lot: Some("AB123".into()),
            expires: Some(d("2027-03-31")),
            ..NewVial::default()
        }
    }

    #[test]
    fn a_vial_is_added_listed_found_and_discarded() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, admin, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        let v = w.add_vial(&nurse, 1, new_vial("4"), now).expect("added");
        assert_eq!(v.code, "V000001");
        assert_eq!((v.course, v.patient.as_str()), (1, "P1"));
        assert_eq!(v.strength.to_string(), "100 000 SQ-U/mL");
        assert_eq!(v.cap, "red");
        assert_eq!((v.expires, v.expiry_rule.clone()), (d("2027-03-31"), None));
        assert_eq!(v.status, VialStatus::Active);
        let v2 = w.add_vial(&nurse, 2, new_vial("1"), now).expect("added");
        let v3 = w.add_vial(&nurse, 1, new_vial("3"), now).expect("added");
        assert_eq!((v2.code.as_str(), v3.code.as_str()), ("V000002", "V000003"));
        let all = w.vials(None, now.date()).expect("list");
        let codes: Vec<&str> = all.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes, ["V000001", "V000003", "V000002"]);
        assert_eq!(w.vials(Some(2), now.date()).expect("list").len(), 1);
        // Case and spaces ignored; the status on a day after the expiry.
        let found = w.vial(" v000001 ", d("2027-04-01")).expect("found");
        assert_eq!(found.status, VialStatus::Expired);
        assert!(matches!(
            w.vial("V000099", now.date()),
            Err(WardError::NoVial { code }) if code == "V000099"
        ));
        assert!(matches!(
            w.vial("X1", now.date()),
            Err(WardError::Input {
                field: Field::VialCode,
                ..
            })
        ));
        // An admin may not add or discard a vial.
        assert!(matches!(
            w.add_vial(&admin, 1, new_vial("4"), now),
            Err(WardError::Forbidden(_))
        ));
        let gone = w
            .discard_vial(&nurse, "v000001", "dropped", at("2026-12-07 09:00"))
            .expect("discarded");
        assert_eq!(gone.status, VialStatus::Discarded);
        assert_eq!(gone.discarded_reason.as_deref(), Some("dropped"));
        let again = w.discard_vial(&nurse, "V000001", "twice", at("2026-12-07 09:01"));
        assert!(
            matches!(&again, Err(WardError::Input { field: Field::VialCode, problem }) if problem.contains("already discarded")),
            "{again:?}"
        );
        // Both are entries of course 1's chain.
        let kinds: Vec<EventKind> = w
            .view(1)
            .expect("view")
            .events
            .iter()
            .map(|e| e.event.kind.clone())
            .collect();
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, EventKind::VialAdded { code, .. } if code == "V000001"))
        );
        assert!(kinds.contains(&EventKind::VialDiscarded {
            code: "V000001".into(),
            reason: "dropped".into()
        }));
    }

    #[test]
    fn every_bad_vial_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, _, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        let refused = |w: &mut Ward, v: NewVial| -> (Field, String) {
            match w.add_vial(&nurse, 1, v, now) {
                Err(WardError::Input { field, problem }) => (field, problem),
                other => panic!("{other:?}"),
            }
        };
        let (f, p) = refused(&mut w, new_vial("7"));
        assert_eq!(f, Field::VialNumber);
        assert!(p.contains("its vials are 1 (100 SQ-U/mL, grey)"), "{p}");
        let (f, p) = refused(
            &mut w,
            NewVial {
                expires: Some(d("2026-12-06")),
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Expires);
        assert!(p.contains("2026-12-06 is past"), "{p}");
        // Usable on its expiry date.
        let today = NewVial {
            expires: Some(d("2026-12-07")),
            ..new_vial("4")
        };
        assert!(w.add_vial(&nurse, 1, today, now).is_ok());
        let (f, _) = refused(
            &mut w,
            NewVial {
                lot: None,
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Lot);
        let (f, _) = refused(
            &mut w,
            NewVial {
                expires: None,
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Expires);
        let (f, _) = refused(
            &mut w,
            NewVial {
                prepared: Some(d("2026-12-08")),
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Prepared);
        let ml = |s: &str| Some(Volume::from_ml(crate::units::parse_decimal(s).expect("ml")));
        let (f, _) = refused(
            &mut w,
            NewVial {
                volume_ml: ml("50.1"),
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::VialVolume);
        assert!(
            w.add_vial(
                &nurse,
                1,
                NewVial {
                    volume_ml: ml("50"),
                    ..new_vial("4")
                },
                now
            )
            .is_ok()
        );
        let (f, _) = refused(
            &mut w,
            NewVial {
                lot: Some("A\u{1b}B".into()),
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Lot);
        let (f, _) = refused(
            &mut w,
            NewVial {
                expires: Some(d("2200-01-01")),
                ..new_vial("4")
            },
        );
        assert_eq!(f, Field::Expires);
        assert_eq!(
            w.vials(Some(1), now.date()).expect("list").len(),
            2,
            "only the two good ones"
        );
    }

    #[test]
    fn a_scan_fills_the_lot_and_expiry_and_must_agree_with_what_is_typed() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, _, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        // ]d2, GTIN, expiry 2027-03-31, lot AB123 ended by GS, serial; CR at the end.
        let scan = "]d20109506000134352172703311".to_string() + "0AB123\u{1d}21S42\r";
        let v = w
            .add_vial(
                &nurse,
                1,
                NewVial {
                    vial: "4".into(),
                    scan: Some(scan.clone()),
                    ..NewVial::default()
                },
                now,
            )
            .expect("scanned");
        assert_eq!(v.lot, "AB123");
        assert_eq!(v.expires, d("2027-03-31"));
        assert_eq!(v.gtin.as_deref(), Some("09506000134352"));
        assert_eq!(v.serial.as_deref(), Some("S42"));
        let disagree = w.add_vial(
            &nurse,
            1,
            NewVial {
                vial: "4".into(),
                lot: Some("ZZ9".into()),
                scan: Some(scan),
                ..NewVial::default()
            },
            now,
        );
        assert!(
            matches!(&disagree, Err(WardError::Input { field: Field::Lot, problem }) if problem.contains("\"ZZ9\"") && problem.contains("\"AB123\"")),
            "{disagree:?}"
        );
    }

    #[test]
    fn a_form_shown_on_an_older_state_or_for_another_course_writes_no_vial() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, _, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        let last = |w: &mut Ward, c: i64| {
            let log = w.event_log(c).expect("log");
            log.events.last().map_or(0, |e| e.event.seq)
        };
        let seen = last(&mut w, 1);
        let v = w
            .add_vial_if(&nurse, 1, new_vial("1"), now, Some(seen))
            .expect("added on the state shown");
        // The same form again: the course has moved on.
        let e = w.add_vial_if(&nurse, 1, new_vial("1"), now, Some(seen));
        assert!(
            matches!(e, Err(WardError::Stale { course: 1, seen: s, now: n }) if s == seen && n == seen + 1),
            "{e:?}"
        );
        let e = w.discard_vial_if(&nurse, &v.code, "dropped", now, Some((1, seen)));
        assert!(matches!(e, Err(WardError::Stale { .. })), "{e:?}");
        // Course 2's page cannot discard course 1's vial.
        let seen2 = last(&mut w, 2);
        let e = w.discard_vial_if(&nurse, &v.code, "dropped", now, Some((2, seen2)));
        assert!(
            matches!(&e, Err(WardError::Input { field: Field::VialCode, problem }) if problem.contains("is a vial of course 1, not of course 2")),
            "{e:?}"
        );
        assert_eq!(last(&mut w, 1), seen + 1, "nothing more written");
        assert_eq!(last(&mut w, 2), seen2);
        let done = w
            .discard_vial_if(&nurse, &v.code, "dropped", now, Some((1, seen + 1)))
            .expect("discarded");
        assert_eq!(done.status, VialStatus::Discarded);
    }

    #[test]
    fn the_clinic_policy_shortens_the_expiry_and_needs_the_preparation_date() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, _, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        w.use_vial_expiry_rules(SourceText::new(
            "vial-expiry.toml",
            r#"
kind = "vial-expiry"
format = 1
source = "test"
evidence = "example"
certainty = "I"

[[limit]]
unit = "SQ-U"
strength = "[0, 1000]"
months = 3
source = "test clinic"
evidence = "example"
certainty = "I"
"#,
        ))
        .expect("rules");
        let e = w.add_vial(&nurse, 1, new_vial("1"), now);
        assert!(
            matches!(&e, Err(WardError::Input { field: Field::Prepared, problem }) if problem.contains("limits vial 1's shelf life")),
            "{e:?}"
        );
        let v = w
            .add_vial(
                &nurse,
                1,
                NewVial {
                    prepared: Some(d("2026-12-01")),
                    ..new_vial("2")
                },
                now,
            )
            .expect("added");
        assert_eq!(v.expires, d("2027-03-01"));
        assert_eq!(v.lot_expires, d("2027-03-31"));
        assert!(
            v.expiry_rule
                .as_deref()
                .is_some_and(|r| r.contains("3 months"))
        );
        // Vial 3 (10 000 SQ-U/mL) is outside the row: the lot's date, no date needed.
        let v = w.add_vial(&nurse, 1, new_vial("3"), now).expect("added");
        assert_eq!((v.expires, v.expiry_rule), (d("2027-03-31"), None));
    }

    #[test]
    fn no_vial_is_added_to_a_stopped_course() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, admin, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        w.staff_add(
            &admin,
            NewStaff {
                id: "dr.ng".into(),
                name: "Dr Ng".into(),
                role: Role::Physician,
                secret: "doctor-password-1".into(),
            },
            now,
        )
        .expect("physician");
        let (doctor, _) = w
            .login("dr.ng", "doctor-password-1", "test", now)
            .expect("doctor");
        w.record(
            &doctor,
            1,
            now,
            now,
            crate::ward::Record::Event(EventKind::PhysicianReview {
                decision: crate::course::Review::Stop,
                reason: Some("moved away".into()),
                about: None,
            }),
        )
        .expect("stopped");
        let e = w.add_vial(&nurse, 1, new_vial("4"), at("2026-12-07 08:20"));
        assert!(matches!(e, Err(WardError::Refused(_))), "{e:?}");
        assert!(w.vials(Some(1), now.date()).expect("list").is_empty());
    }

    #[test]
    fn a_vial_event_is_never_recorded_as_a_plain_entry() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut w, _, nurse) = ward(&dir);
        let now = at("2026-12-07 08:10");
        let e = w.record(
            &nurse,
            1,
            now,
            now,
            crate::ward::Record::Event(EventKind::VialDiscarded {
                code: "V000001".into(),
                reason: "x".into(),
            }),
        );
        assert!(matches!(e, Err(WardError::Data(_))));
        assert_eq!(
            w.settings().expect("settings").scan,
            crate::ward::Scan::Vial
        );
    }
}
