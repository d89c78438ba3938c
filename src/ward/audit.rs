//! The outcomes audit's reads: every immunotherapy course whose rush day 1 falls in the window,
//! read in chunks of [`AUDIT_CHUNK`] courses through the batched readers (a fixed number of
//! queries per chunk, so memory stays bounded whatever the record's size), each chunk verified
//! as the board verifies (a course changed outside ritplan refuses the audit, naming it), and
//! each course turned into its row by [`crate::audit::facts`].
//!
//! Physicians only: the rows are clinical data about every patient treated, and the export
//! that leaves the clinic is the physician's decision. Administrators manage accounts and
//! settings, not clinical data; nurses see the courses they give, not the clinic's outcomes.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Actor, Role, Ward, WardError};
use crate::audit::facts::Score;
use crate::audit::facts::{CourseFacts, CourseIn, Excluded, Status, course_facts, unknown_bands};
use crate::audit::rules::AuditRules;
use crate::course::HoldKind;
use crate::course::followup::AcqRecord;
use crate::course::{Event, EventKind};
use crate::policy::medication_score::{MedScore, MedicationScore};
use rust_decimal::Decimal;

/// The audit's window and date.
struct Window {
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
}

/// How many courses the audit reads at once.
pub const AUDIT_CHUNK: usize = 500;

/// The audit's rows and what it left out.
#[derive(Clone, Debug, Serialize)]
pub struct AuditFacts {
    /// The first rush day 1 counted.
    pub from: NaiveDate,
    /// The last rush day 1 counted.
    pub to: NaiveDate,
    /// The audit date: entries after it are not counted; a course still in up-dosing on it is
    /// censored.
    pub as_of: NaiveDate,
    /// One row per course in the window, by course id.
    pub rows: Vec<CourseFacts>,
    /// Courses in the window left out of the rows, with why.
    pub excluded: Vec<Excluded>,
    /// Rows censored (still in up-dosing at the audit date), with why.
    pub censored: Vec<Excluded>,
    /// Rows whose band a censored laboratory value could not settle, by column.
    pub unknown_bands: std::collections::BTreeMap<&'static str, usize>,
    /// The medication score's definition the rows' scores are under, as outputs name it.
    pub medication_score: String,
}

/// What stopped or ended a course, in one word (the hold's cause; free text never).
fn stop_word(state: &crate::course::CourseState) -> Option<String> {
    let hold = state.stopped.as_ref().or(state.ended.as_ref())?;
    let word = match serde_json::to_value(&hold.cause) {
        Ok(v) => v.get("cause").and_then(|c| c.as_str()).map(str::to_string),
        Err(_) => None,
    };
    Some(word.unwrap_or_else(|| match hold.kind {
        HoldKind::Ended => "ended".into(),
        _ => "stopped".into(),
    }))
}

/// A course's follow-up entries (not voided, taken and recorded by the audit date) as the
/// plain scores the facts take: the ACQ score (the mean of a complete form) and the medication
/// score under the clinic's definition (none when not recorded or not computable: never guessed).
fn follow_up_scores(
    events: &[Event],
    as_of: NaiveDate,
    def: &MedicationScore,
) -> (Vec<Score>, Vec<Score>) {
    let gone = crate::course::voided(events);
    let mut acq = Vec::new();
    let mut med = Vec::new();
    for e in events {
        if gone.contains(&e.seq) || e.at.date() > as_of {
            continue;
        }
        if let EventKind::FollowUp {
            date,
            acq: form,
            medication,
            ..
        } = &e.kind
        {
            if *date > as_of {
                continue;
            }
            if let Some(s) = form.as_ref().and_then(AcqRecord::score) {
                acq.push(Score {
                    date: *date,
                    value: s.mean().normalize(),
                });
            }
            if let MedScore::Score { value, .. } = def.score(medication.as_deref()) {
                med.push(Score {
                    date: *date,
                    value: Decimal::from(value),
                });
            }
        }
    }
    (acq, med)
}

impl Ward {
    /// The audit's rows: every immunotherapy course whose rush day 1 (the first injection given,
    /// else the planned first day) falls in [`from`, `to`], at the audit date `as_of`.
    /// Physicians only.
    pub fn audit_facts(
        &mut self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
        as_of: NaiveDate,
        rules: &AuditRules,
    ) -> Result<AuditFacts, WardError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.audit_facts_in_chunks(actor, from, to, as_of, rules, AUDIT_CHUNK, cores.min(2))
    }

    /// [`Ward::audit_facts`], reading `chunk` courses at a time, on up to `workers` (1 or 2)
    /// connections: the second half of the chunks is read, verified and counted by a second
    /// ward on the same record, on another core, with the same checks (its rows follow the
    /// first half's, so the order is the same as one worker's).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn audit_facts_in_chunks(
        &mut self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
        as_of: NaiveDate,
        rules: &AuditRules,
        chunk: usize,
        workers: usize,
    ) -> Result<AuditFacts, WardError> {
        actor.require(&[Role::Physician], "the outcomes audit")?;
        if from > to {
            return Err(WardError::Data(format!(
                "the audit window starts ({from}) after it ends ({to})"
            )));
        }
        let ids = self
            .store
            .course_ids_except_rule_set(super::omalizumab::OMALIZUMAB_RULE_SET)?;
        let mut out = AuditFacts {
            from,
            to,
            as_of,
            rows: Vec::new(),
            excluded: Vec::new(),
            censored: Vec::new(),
            unknown_bands: Default::default(),
            medication_score: self.medication_score_rules()?.label(),
        };
        let chunks: Vec<&[i64]> = ids.chunks(chunk.max(1)).collect();
        let window = Window { from, to, as_of };
        // A second worker only when there are chunks to share and the record can be opened
        // again (a ward made otherwise, or a record the second opening refuses, reads alone).
        let second = match (&self.origin, workers >= 2 && chunks.len() >= 2) {
            (Some(origin), true) => Ward::open_unchanged(origin).ok().map(|mut w| {
                w.medication_score = self.medication_score.clone();
                w
            }),
            _ => None,
        };
        match second {
            None => self.audit_chunks(&chunks, &window, rules, &mut out)?,
            Some(mut other) => {
                let (mine, theirs) = chunks.split_at(chunks.len().div_ceil(2));
                let mut later = AuditFacts {
                    rows: Vec::new(),
                    excluded: Vec::new(),
                    censored: Vec::new(),
                    ..out.clone()
                };
                let (a, b) = std::thread::scope(|s| {
                    let handle = s.spawn(|| other.audit_chunks(theirs, &window, rules, &mut later));
                    let a = self.audit_chunks(mine, &window, rules, &mut out);
                    let b = handle.join().unwrap_or_else(|_| {
                        Err(WardError::Data(
                            "the audit's second reader stopped unexpectedly".into(),
                        ))
                    });
                    (a, b)
                });
                a?;
                b?;
                out.rows.append(&mut later.rows);
                out.excluded.append(&mut later.excluded);
                out.censored.append(&mut later.censored);
            }
        }
        out.unknown_bands = unknown_bands(&out.rows);
        Ok(out)
    }

    /// The rows of `chunks`, in order, into `out`.
    fn audit_chunks(
        &mut self,
        chunks: &[&[i64]],
        w: &Window,
        rules: &AuditRules,
        out: &mut AuditFacts,
    ) -> Result<(), WardError> {
        for chunk in chunks {
            let mut batch = self.batch(chunk)?;
            for &id in *chunk {
                let Some((loaded, stored, state)) = batch.take_immunotherapy(id) else {
                    continue;
                };
                let events: Vec<Event> = stored.into_iter().map(|e| e.event).collect();
                let Some(day1) = crate::audit::facts::rush_day1(&loaded.plan, &events, w.as_of)
                else {
                    continue;
                };
                if day1 < w.from || day1 > w.to {
                    continue;
                }
                let patient = loaded.inputs.patient()?;
                let given = batch.omalizumab_given(&loaded.record.patient_id);
                let input = CourseIn {
                    course_id: id,
                    patient_id: &loaded.record.patient_id,
                    plan: &loaded.plan,
                    template: &loaded.template,
                    patient: &patient,
                    omalizumab_weeks: loaded.inputs.omalizumab_weeks,
                    events: &events,
                    omalizumab_given: &given,
                    stopped: stop_word(&state),
                    max_class: loaded.policy.risk.sige_classes.max_class(),
                };
                match course_facts(&input, rules, w.as_of) {
                    Ok(mut row) => {
                        let (acq, med) =
                            follow_up_scores(&events, w.as_of, self.medication_score_rules()?);
                        row.follow_up = crate::audit::facts::follow_up(
                            row.rush_day1,
                            &acq,
                            &med,
                            &rules.follow_up,
                        );
                        if row.status == Status::Censored {
                            out.censored.push(Excluded {
                                course_id: id,
                                reason: format!(
                                    "still in up-dosing on {} (censoring rule {})",
                                    w.as_of, rules.censoring.value
                                ),
                            });
                        }
                        out.rows.push(row);
                    }
                    Err(e) => out.excluded.push(e),
                }
            }
            crate::timing::mark("audit: facts");
        }
        Ok(())
    }
}
