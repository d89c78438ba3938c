//! FHIR R4 (4.0.1) export: a `collection` Bundle of the patient, one MedicationRequest per
//! planned step, one MedicationAdministration per dose given (or deferred: `not-done`), an
//! AdverseEvent per systemic or late reaction, and Observations for local-reaction sizes and
//! pre-dose PEF. Written by hand as JSON (the maintained Rust FHIR crates lack R4 or are not
//! maintained). Every `id` and `fullUrl` is a `urn:uuid:` derived from the record's id and the
//! entry's place in it, so the same course exports byte for byte the same twice.
//!
//! An omalizumab course exports the same way: a MedicationRequest per laid injection date, a
//! MedicationAdministration per injection given (its dose in mg, a late one's physician's
//! acceptance as a note) or deferred, an AdverseEvent per systemic reaction and Observations
//! for local-reaction sizes.
//!
//! Codes: SNOMED CT 34206005 "Subcutaneous route" for the route; UCUM for mL, mm, %, µg and
//! mg. Allergen units (SQ-U, TU, ...) have no UCUM code: they are given as `unit` text only.
//! Omalizumab is coded with its WHO ATC code R03DX05 (system `http://www.whocc.no/atc`, the
//! URI FHIR implementation guides use for ATC; the code is WHO's ATC/DDD index entry for
//! omalizumab, <https://www.whocc.no/atc_ddd_index/?code=R03DX05>) beside its text. No code is
//! invented: the allergen products, the reactions, the local-reaction size and the PEF are
//! coded as text.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::course::{EventKind, LateKind, WaoGrade, voided};
use crate::units::{AllergenUnit, Dose};
use crate::ward::view::{CourseView, OmalizumabCourseView, PatientRecord, StoredEvent};
use crate::zone::Zone;

const UCUM: &str = "http://unitsofmeasure.org";
const SNOMED: &str = "http://snomed.info/sct";
/// The WHO ATC classification, as FHIR names its system.
const ATC: &str = "http://www.whocc.no/atc";
/// Omalizumab's ATC code (WHO ATC/DDD index: R03DX05 omalizumab).
const ATC_OMALIZUMAB: &str = "R03DX05";
/// The extension carrying the WAO grade with its epinephrine suffix, as written (`2a`).
pub const WAO_EXTENSION: &str = "urn:ritplan:fhir:StructureDefinition:wao-grade";

/// A name-based UUID (RFC 9562 version 8: SHA-256 of the parts) as `urn:uuid:…`.
fn uuid(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A FHIR dateTime: the record's wall-clock time with the clinic zone's offset at that moment
/// (never the exporting machine's: the same instants under any `TZ`). A time that exists twice
/// is the earlier; one skipped by the clocks (only in a record written before such times were
/// refused) is read with the offset before the change (see [`Zone::instant_lenient`]).
fn date_time(zone: Zone, t: NaiveDateTime) -> String {
    zone.instant_lenient(t)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// An exact decimal as a JSON number.
fn number(d: rust_decimal::Decimal) -> Value {
    d.normalize()
        .to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

fn dose_quantity(d: Dose) -> Value {
    match d.unit() {
        AllergenUnit::Microgram => {
            json!({"value": number(d.amount()), "unit": "µg", "system": UCUM, "code": "ug"})
        }
        u => json!({"value": number(d.amount()), "unit": u.symbol()}),
    }
}

fn route() -> Value {
    json!({"coding": [{"system": SNOMED, "code": "34206005", "display": "Subcutaneous route"}]})
}

struct Entries {
    /// The clinic's time zone.
    zone: Zone,
    out: Vec<Value>,
}

impl Entries {
    fn date_time(&self, t: NaiveDateTime) -> String {
        date_time(self.zone, t)
    }

    fn push(&mut self, id: &str, mut resource: Map<String, Value>) {
        resource.insert("id".into(), Value::String(id.into()));
        self.out
            .push(json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource}));
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The Bundle of `patient`, `courses` and `omalizumab` courses (the record is named by
/// `record_id`; its times are wall-clock times in the clinic's `zone`).
pub fn bundle(
    record_id: &str,
    zone: Zone,
    patient: &PatientRecord,
    courses: &[&CourseView],
    omalizumab: &[&OmalizumabCourseView],
) -> Value {
    let mut e = Entries {
        zone,
        out: Vec::new(),
    };
    let patient_id = uuid(&[record_id, "patient", &patient.id]);
    let subject = json!({"reference": format!("urn:uuid:{patient_id}"), "display": patient.name});
    e.push(
        &patient_id,
        object(json!({
            "resourceType": "Patient",
            "identifier": [{"system": format!("urn:ritplan:record:{record_id}:patient-id"), "value": patient.id}],
            "name": [{"text": patient.name}],
            "birthDate": patient.dob.to_string(),
        })),
    );
    let mut ids: Vec<&str> = vec!["bundle", record_id, &patient.id];
    let course_ids: Vec<String> = courses
        .iter()
        .map(|v| v.loaded.record.id.to_string())
        .chain(omalizumab.iter().map(|o| o.course.record.id.to_string()))
        .collect();
    ids.extend(course_ids.iter().map(String::as_str));
    for v in courses {
        course(&mut e, record_id, v, &subject);
    }
    for o in omalizumab {
        omalizumab_course(&mut e, record_id, o, &subject);
    }
    json!({
        "resourceType": "Bundle",
        "id": uuid(&ids),
        "type": "collection",
        "entry": e.out,
    })
}

/// An Observation of a local reaction's size, part of the dose it follows.
fn size(what: &str, mm: u32, at: &str, subject: &Value, admin: Option<&str>) -> Map<String, Value> {
    let mut m = object(json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": what},
        "subject": subject,
        "effectiveDateTime": at,
        "valueQuantity": {"value": mm, "unit": "mm", "system": UCUM, "code": "mm"},
    }));
    if let Some(a) = admin {
        m.insert(
            "partOf".into(),
            json!([{"reference": format!("urn:uuid:{a}")}]),
        );
    }
    m
}

/// What every resource of one course shares: its ids, its subject and its medication.
struct Course<'a> {
    record_id: &'a str,
    cid: String,
    subject: &'a Value,
    medication: Value,
    plan_len: usize,
}

/// One entry of the record, as every resource made from it sees it.
struct Logged<'a> {
    x: &'a StoredEvent,
    seq: String,
    at: String,
    /// When it was recorded (FHIR dateTime).
    recorded: String,
    /// Corrected: it no longer counts.
    error: bool,
}

fn course(e: &mut Entries, record_id: &str, v: &CourseView, subject: &Value) {
    let r = &v.loaded.record;
    let t = &v.loaded.template;
    let c = Course {
        record_id,
        cid: r.id.to_string(),
        subject,
        medication: json!({"text": format!("{} — {} ({}), subcutaneous allergen immunotherapy", t.product, t.allergen, t.manufacturer)}),
        plan_len: v.loaded.plan.steps.len(),
    };
    let plain = v.plain_events();
    let gone = voided(&plain);
    c.requests(e, v, &gone);
    c.entries(e, &v.events, &gone);
}

/// An omalizumab course: a MedicationRequest per laid injection date, then its entries.
fn omalizumab_course(e: &mut Entries, record_id: &str, o: &OmalizumabCourseView, subject: &Value) {
    let plan = &o.course.plan;
    let c = Course {
        record_id,
        cid: o.course.record.id.to_string(),
        subject,
        medication: json!({
            "coding": [{"system": ATC, "code": ATC_OMALIZUMAB, "display": "omalizumab"}],
            "text": "omalizumab",
        }),
        plan_len: plan.dates.len(),
    };
    let plain = o.plain_events();
    let gone = voided(&plain);
    let group = json!({"system": format!("urn:ritplan:record:{record_id}:course"), "value": c.cid});
    let given = o.state.given.len();
    let course_status = if o.state.stopped.is_some() {
        "stopped"
    } else {
        "active"
    };
    for (i, date) in plan.dates.iter().enumerate() {
        let n = i + 1;
        let syringes: Vec<String> = plan
            .syringes
            .iter()
            .map(|(size, k)| format!("{k} × {size} mg"))
            .collect();
        e.push(
            &c.key("request", &n.to_string()),
            object(json!({
                "resourceType": "MedicationRequest",
                "status": if n <= given { "completed" } else { course_status },
                "intent": "plan",
                "groupIdentifier": group,
                "medicationCodeableConcept": c.medication,
                "subject": subject,
                "authoredOn": e.date_time(o.course.record.created_at),
                "dosageInstruction": [{
                    "sequence": n,
                    "text": format!(
                        "injection {n}: {} mg omalizumab ({}), every {} weeks, planned {date}; {}",
                        plan.dose_mg,
                        syringes.join(" + "),
                        plan.every_weeks,
                        crate::policy::omalizumab_course::NOT_RECALCULATED
                    ),
                    "timing": {"event": [date.to_string()]},
                    "route": route(),
                    "doseAndRate": [{"doseQuantity": mg(plan.dose_mg)}],
                }],
            })),
        );
    }
    c.entries(e, &o.events, &gone);
}

/// A dose in mg (UCUM `mg`).
fn mg(amount: u32) -> Value {
    json!({"value": amount, "unit": "mg", "system": UCUM, "code": "mg"})
}

impl Course<'_> {
    /// The resources of a course's entries: doses given or deferred, reactions, measurements.
    fn entries(&self, e: &mut Entries, events: &[StoredEvent], gone: &[u64]) {
        let c = self;
        let subject = self.subject;
        let mut last_admin: Option<String> = None;
        for x in events {
            let ev = Logged {
                x,
                seq: x.event.seq.to_string(),
                at: e.date_time(x.event.at),
                recorded: e.date_time(x.recorded_at),
                error: gone.contains(&x.event.seq),
            };
            // A corrected entry no longer counts: a dose stays, marked entered-in-error (it is
            // referred to); anything else corrected is left out.
            if ev.error
                && !matches!(
                    x.event.kind,
                    EventKind::DoseGiven { .. } | EventKind::OmalizumabGiven { .. }
                )
            {
                continue;
            }
            match &x.event.kind {
                EventKind::DoseGiven {
                    step,
                    vial,
                    volume_ml,
                    dose,
                    lot,
                    site,
                    pef_percent,
                    phase,
                    ..
                } => {
                    let id = c.key("administration", &ev.seq);
                    // The phase, when recorded (templates that name their phases).
                    let text = format!(
                        "{volume_ml} of vial {vial} = {dose}{}",
                        phase.map(|p| format!(", {p} phase")).unwrap_or_default()
                    );
                    e.push(
                        &id,
                        c.administration(
                            &ev,
                            *step,
                            &text,
                            dose_quantity(*dose),
                            site.as_ref().map(|s| format!("{s} arm")),
                            lot.iter().map(|l| format!("lot {l}")).collect(),
                        ),
                    );
                    if let Some(p) = pef_percent {
                        e.push(&c.key("pef", &ev.seq), c.pef(&ev, &id, *p));
                    }
                    if !ev.error {
                        last_admin = Some(id);
                    }
                }
                EventKind::OmalizumabGiven {
                    number,
                    dose_mg,
                    injections,
                    site,
                    accept_late,
                } => {
                    let id = c.key("administration", &ev.seq);
                    let text = format!(
                        "omalizumab injection {number}: {dose_mg} mg in {injections} injection{}",
                        if *injections == 1 { "" } else { "s" }
                    );
                    // A late injection: the physician who recorded it accepted it, with a reason.
                    let notes = accept_late
                        .iter()
                        .map(|r| {
                            format!(
                                "given late, accepted by the physician {}: {r}",
                                crate::render::course::entry_author(ev.x)
                            )
                        })
                        .collect();
                    e.push(
                        &id,
                        c.administration(&ev, *number, &text, mg(*dose_mg), site.clone(), notes),
                    );
                    if !ev.error {
                        last_admin = Some(id);
                    }
                }
                EventKind::DoseDeferred { reason } => {
                    e.push(&c.key("deferred", &ev.seq), c.deferred(&ev, reason));
                }
                EventKind::ObservationEnded {
                    local_mm: Some(mm), ..
                } => e.push(
                    &c.key("local", &ev.seq),
                    size(
                        "Immediate local reaction at the injection site, largest diameter",
                        *mm,
                        &ev.at,
                        subject,
                        last_admin.as_deref(),
                    ),
                ),
                EventKind::LateLocalReaction { mm } => e.push(
                    &c.key("late-local", &ev.seq),
                    size(
                        "Late local reaction (6-24 h) at the injection site, largest diameter",
                        *mm,
                        &ev.at,
                        subject,
                        last_admin.as_deref(),
                    ),
                ),
                EventKind::SystemicReaction {
                    grade,
                    onset_min,
                    symptom,
                    treatment,
                } => e.push(
                    &c.key("reaction", &ev.seq),
                    c.systemic_reaction(
                        &ev,
                        *grade,
                        *onset_min,
                        symptom,
                        treatment.as_deref(),
                        last_admin.as_deref(),
                    ),
                ),
                EventKind::LateReaction { kind, symptom } => e.push(
                    &c.key("late", &ev.seq),
                    c.late_reaction(&ev, *kind, symptom, last_admin.as_deref()),
                ),
                // A follow-up's complete ACQ: its score (the mean of the items, to 2 places) on
                // the follow-up's day. Its FEV1 and medication are not exported (yet).
                EventKind::FollowUp {
                    date, acq: Some(a), ..
                } => {
                    if let Some(score) = a.score() {
                        e.push(&c.key("acq", &ev.seq), c.acq(&ev, *date, a.version, score));
                    }
                }
                // Vial events (VialAdded, VialDiscarded) are left out of the export on purpose: they
                // are the clinic's stock, not care given; a dose drawn from a vial still exports its
                // lot on the administration above. Notes, reviews, corrections and the migration
                // marker are not exported either.
                _ => {}
            }
        }
    }

    /// The id of this course's `kind` resource number `n`.
    fn key(&self, kind: &str, n: &str) -> String {
        uuid(&[self.record_id, "course", &self.cid, kind, n])
    }

    /// One MedicationRequest per planned step: completed once given, else as the course stands.
    fn requests(&self, e: &mut Entries, v: &CourseView, gone: &[u64]) {
        let r = &v.loaded.record;
        let group = json!({"system": format!("urn:ritplan:record:{}:course", self.record_id), "value": self.cid});
        let given: Vec<usize> = v
            .events
            .iter()
            .filter(|x| !gone.contains(&x.event.seq))
            .filter_map(|x| match x.event.kind {
                EventKind::DoseGiven { step, .. } => Some(step),
                _ => None,
            })
            .collect();
        let course_status = if v.state.inactive() {
            "stopped"
        } else {
            "active"
        };
        for s in &v.loaded.plan.steps {
            let n = s.index.to_string();
            let status = if given.contains(&s.index) {
                "completed"
            } else {
                course_status
            };
            let at = NaiveDateTime::new(s.date, s.time);
            e.push(
                &self.key("request", &n),
                object(json!({
                    "resourceType": "MedicationRequest",
                    "status": status,
                    "intent": "plan",
                    "groupIdentifier": group,
                    "medicationCodeableConcept": self.medication,
                    "subject": self.subject,
                    "authoredOn": e.date_time(r.created_at),
                    "dosageInstruction": [{
                        "sequence": s.index,
                        "text": format!("step {}: {} of {} ({}, {}) = {}", s.index, s.volume_ml, s.vial_label, s.cap, s.concentration, s.dose),
                        "timing": {"event": [e.date_time(at)]},
                        "route": route(),
                        "doseAndRate": [{"doseQuantity": dose_quantity(s.dose)}],
                    }],
                })),
            );
        }
    }

    /// The MedicationAdministration of a dose given (entered-in-error once corrected), with its
    /// site, the planned step it fulfils and its lot.
    fn administration(
        &self,
        ev: &Logged<'_>,
        step: usize,
        text: &str,
        dose: Value,
        site: Option<String>,
        notes: Vec<String>,
    ) -> Map<String, Value> {
        let mut m = object(json!({
            "resourceType": "MedicationAdministration",
            "status": if ev.error { "entered-in-error" } else { "completed" },
            "medicationCodeableConcept": self.medication,
            "subject": self.subject,
            "effectiveDateTime": ev.at,
            "performer": performer(ev.x),
            "dosage": {
                "text": text,
                "route": route(),
                "dose": dose,
            },
        }));
        if let Some(s) = site
            && let Some(d) = m.get_mut("dosage").and_then(Value::as_object_mut)
        {
            d.insert("site".into(), json!({"text": s}));
        }
        if step <= self.plan_len {
            m.insert(
                "request".into(),
                json!({"reference": format!("urn:uuid:{}", self.key("request", &step.to_string()))}),
            );
        }
        if !notes.is_empty() {
            let notes: Vec<Value> = notes.into_iter().map(|n| json!({"text": n})).collect();
            m.insert("note".into(), Value::Array(notes));
        }
        m
    }

    /// The Observation of the pre-dose PEF, part of the administration `admin`.
    fn pef(&self, ev: &Logged<'_>, admin: &str, p: rust_decimal::Decimal) -> Map<String, Value> {
        object(json!({
            "resourceType": "Observation",
            "status": if ev.error { "entered-in-error" } else { "final" },
            "code": {"text": "Pre-dose peak expiratory flow (or FEV1), % of the patient's best"},
            "subject": self.subject,
            "effectiveDateTime": ev.at,
            "partOf": [{"reference": format!("urn:uuid:{admin}")}],
            "valueQuantity": {"value": number(p), "unit": "%", "system": UCUM, "code": "%"},
        }))
    }

    /// The Observation of a follow-up's ACQ score (no questionnaire wording: the score only).
    fn acq(
        &self,
        ev: &Logged<'_>,
        date: chrono::NaiveDate,
        version: u8,
        score: crate::course::followup::AcqScore,
    ) -> Map<String, Value> {
        object(json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": format!("Asthma Control Questionnaire (ACQ-{version}) score: the mean of the {version} items, 0 (well controlled) to 6 (extremely poorly controlled)")},
            "subject": self.subject,
            "effectiveDateTime": date.to_string(),
            "performer": [{"display": crate::render::course::entry_author(ev.x)}],
            "valueQuantity": {"value": number(score.shown()), "unit": "score"},
        }))
    }

    /// The MedicationAdministration of a deferred dose: `not-done`, with the reason.
    fn deferred(&self, ev: &Logged<'_>, reason: &str) -> Map<String, Value> {
        object(json!({
            "resourceType": "MedicationAdministration",
            "status": "not-done",
            "statusReason": [{"text": reason}],
            "medicationCodeableConcept": self.medication,
            "subject": self.subject,
            "effectiveDateTime": ev.at,
            "performer": performer(ev.x),
        }))
    }

    /// The AdverseEvent of a systemic reaction, suspecting the last dose given.
    fn systemic_reaction(
        &self,
        ev: &Logged<'_>,
        grade: WaoGrade,
        onset_min: u32,
        symptom: &str,
        treatment: Option<&str>,
        last_admin: Option<&str>,
    ) -> Map<String, Value> {
        let mut m = object(json!({
            "resourceType": "AdverseEvent",
            "extension": [{"url": WAO_EXTENSION, "valueString": grade.to_string()}],
            "actuality": "actual",
            "event": {"text": format!("systemic reaction: {symptom}")},
            "subject": self.subject,
            "date": ev.at,
            "recordedDate": ev.recorded,
            "recorder": {"display": crate::render::course::entry_author(ev.x)},
            "severity": {"text": format!("WAO grade {grade} (World Allergy Organization subcutaneous immunotherapy systemic reaction grading; the letter is the epinephrine timing)")},
            "seriousness": {"text": format!("WAO grade {grade}, onset {onset_min} min after the injection")},
        }));
        if let Some(tr) = treatment {
            m.insert("outcome".into(), json!({"text": format!("treated: {tr}")}));
        }
        suspect(&mut m, last_admin);
        m
    }

    /// The AdverseEvent of a late reaction, suspecting the last dose given.
    fn late_reaction(
        &self,
        ev: &Logged<'_>,
        kind: LateKind,
        symptom: &str,
        last_admin: Option<&str>,
    ) -> Map<String, Value> {
        let mut m = object(json!({
            "resourceType": "AdverseEvent",
            "actuality": "actual",
            "event": {"text": format!("late reaction ({}): {symptom}", kind.as_str())},
            "subject": self.subject,
            "date": ev.at,
            "recordedDate": ev.recorded,
            "recorder": {"display": crate::render::course::entry_author(ev.x)},
        }));
        suspect(&mut m, last_admin);
        m
    }
}

/// Who gave or deferred a dose.
fn performer(x: &StoredEvent) -> Value {
    json!([{"actor": {"display": crate::render::course::entry_author(x)}}])
}

/// A reaction's suspect: the last dose given before it, if any.
fn suspect(m: &mut Map<String, Value>, last_admin: Option<&str>) {
    if let Some(a) = last_admin {
        m.insert(
            "suspectEntity".into(),
            json!([{"instance": {"reference": format!("urn:uuid:{a}")}}]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::Event;

    fn stored(seq: u64, at: &str, by: &str, kind: EventKind) -> StoredEvent {
        let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M").expect("time");
        StoredEvent {
            event: Event {
                seq,
                at,
                by: by.into(),
                kind,
            },
            staff_id: Some(by.to_lowercase().replace(' ', ".")),
            os_user: "ward".into(),
            recorded_at: at,
            late_entered: false,
            out_of_order: false,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn an_omalizumab_injection_is_an_administration_in_mg_and_a_reaction_suspects_it() {
        let subject = json!({"reference": "urn:uuid:p"});
        let c = Course {
            record_id: "rec",
            cid: "2".into(),
            subject: &subject,
            medication: json!({"text": "omalizumab"}),
            plan_len: 13,
        };
        let events = [
            stored(
                1,
                "2027-01-06T09:00",
                "Dr Wang",
                EventKind::OmalizumabGiven {
                    number: 2,
                    dose_mg: 375,
                    injections: 3,
                    site: Some("both arms".into()),
                    accept_late: Some("asthma stable".into()),
                },
            ),
            stored(
                2,
                "2027-01-06T09:30",
                "RN Li",
                EventKind::SystemicReaction {
                    grade: "2a".parse().expect("grade"),
                    onset_min: 30,
                    symptom: "urticaria".into(),
                    treatment: None,
                },
            ),
        ];
        let mut e = Entries {
            zone: Zone::parse("Europe/Oslo").expect("zone"),
            out: Vec::new(),
        };
        c.entries(&mut e, &events, &[]);
        assert_eq!(e.out.len(), 2, "{:?}", e.out);
        let a = &e.out[0]["resource"];
        assert_eq!(a["resourceType"], "MedicationAdministration");
        assert_eq!(a["status"], "completed");
        assert_eq!(
            a["dosage"]["dose"],
            json!({"value": 375, "unit": "mg", "system": UCUM, "code": "mg"})
        );
        assert_eq!(a["dosage"]["site"]["text"], "both arms");
        assert_eq!(
            a["dosage"]["text"],
            "omalizumab injection 2: 375 mg in 3 injections"
        );
        assert_eq!(
            a["note"],
            json!([{"text": "given late, accepted by the physician Dr Wang (dr.wang): asthma stable"}])
        );
        assert_eq!(
            a["request"]["reference"],
            format!("urn:uuid:{}", uuid(&["rec", "course", "2", "request", "2"]))
        );
        let r = &e.out[1]["resource"];
        assert_eq!(r["resourceType"], "AdverseEvent");
        assert_eq!(
            r["suspectEntity"][0]["instance"]["reference"],
            e.out[0]["fullUrl"]
        );
        // Corrected away: entered in error, and no longer the reaction's suspect.
        let mut e = Entries {
            zone: Zone::parse("Europe/Oslo").expect("zone"),
            out: Vec::new(),
        };
        c.entries(&mut e, &events, &[1]);
        assert_eq!(e.out[0]["resource"]["status"], "entered-in-error");
        assert!(e.out[1]["resource"].get("suspectEntity").is_none());
    }

    #[test]
    fn ids_are_stable_rfc_9562_uuids_and_decimals_exact() {
        let a = uuid(&["rec", "course", "1", "request", "2"]);
        assert_eq!(a, uuid(&["rec", "course", "1", "request", "2"]));
        assert_ne!(a, uuid(&["rec", "course", "1", "request", "3"]));
        assert_ne!(
            uuid(&["ab", "c"]),
            uuid(&["a", "bc"]),
            "parts are length-prefixed"
        );
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8");
        assert!("89ab".contains(&parts[3][..1]), "RFC variant");
        let d = crate::units::parse_decimal("96.50").expect("decimal");
        assert_eq!(serde_json::to_string(&number(d)).expect("json"), "96.5");
        let q = dose_quantity(Dose::new(d, AllergenUnit::SqU));
        assert_eq!(
            q,
            json!({"value": number(d), "unit": "SQ-U"}),
            "no invented UCUM code"
        );
        let text = serde_json::to_string(&q).expect("json");
        let back: Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, q, "round-trips through serde_json");
    }
}
