//! Vials: a vial of a course's template put in use gets its own code (`V000001`), unique in the
//! record, recorded as a `VialAdded` event in the course's chain (so a vial is verified like every
//! entry); a vial taken out of use is a `VialDiscarded` event. Every check is made before
//! anything is written; the code is allocated inside the transaction that records the vial.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::auth::{Actor, Role};
use super::{Ward, WardError, load_record, replay_stored, text};
use crate::course::{self, EventKind, VialState, VialStatus};
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

/// The course's refusal of a vial event, as the ward words it.
fn refused(r: course::VialRefusal) -> WardError {
    match r {
        course::VialRefusal::Course(r) => WardError::Refused(Box::new(r)),
        course::VialRefusal::NoVial { code } => WardError::NoVial { code },
        course::VialRefusal::AlreadyDiscarded { code, at, reason } => input(
            Field::VialCode,
            format!(
                "{code} was already discarded on {} ({reason})",
                at.format("%Y-%m-%d %H:%M")
            ),
        ),
    }
}

/// A vial code as typed or scanned: the scanner's noise taken off (`course::scan::vial_code`),
/// upper case, `V` and six (or more) digits.
pub fn vial_code(value: &str) -> Result<String, WardError> {
    let code = course::scan::vial_code(value);
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
        let rules = VialExpiry::from_source(src).map_err(|e| {
            WardError::Data(
                e.files
                    .iter()
                    .flat_map(|(s, d)| d.iter().map(move |d| format!("{}: {}", s.name, d.message)))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        self.vial_expiry = std::cell::OnceCell::from(rules);
        Ok(())
    }

    /// The vial expiry policy in force.
    pub fn vial_expiry_rules(&self) -> Result<&VialExpiry, WardError> {
        super::rules_or_bundled(&self.vial_expiry, super::bundled_vial_expiry)
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
            .vial_expiry_rules()?
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
                let kind = kind_for(tx.next_vial_code()?);
                course::vial_admissible(&state, &kind).map_err(refused)?;
                Ok(NewEvent {
                    kind,
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
                let kind = EventKind::VialDiscarded {
                    code: code.clone(),
                    reason: reason.clone(),
                };
                course::vial_admissible(&state, &kind).map_err(refused)?;
                Ok(NewEvent {
                    kind,
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
mod tests;
