//! Vial changes: the vial in the nurse's hand against the doses given. A new lot of the same
//! template vial, a new manufacturer or a vial older than a clinic's limit fires the course's
//! vial-change rule for the phase of the dose (`rules/vial-change.toml`, frozen with the course):
//! a reduction, steps back, a rebuild ladder over the next doses from that lot, or a physician's
//! review. No rule for a change that fires: the physician decides (fail closed).
//!
//! A trigger fires only when both sides are known: the vial in hand's lot (or manufacturer, or
//! preparation date) and an earlier dose's. Nothing known about the vial in hand: no trigger.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Context;
use super::event::EventKind;
use super::event::ReviewAbout;
use super::ladder::Ladder;
use super::next::{Decision, Dosing, PatientView, next};
use super::reason::{Cause, Reason, VialTrigger};
use super::record::Refusal;
use super::state::{CourseState, Given, VialState, VialStatus};
use crate::policy::Provenance;
use crate::policy::vial_change::{Trigger, VialAction};
use crate::units::{Dose, Syringe, Volume};

/// What is known about the vial the nurse holds (until vial records, the lot typed at `give`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VialInHand {
    /// The template vial id it is (its strength).
    pub vial: String,
    /// Its lot.
    pub lot: String,
    /// Its manufacturer, if known.
    pub manufacturer: Option<String>,
    /// When it was prepared, if known.
    pub prepared: Option<NaiveDate>,
}

impl VialState {
    /// This recorded vial as the vial in hand.
    pub fn in_hand(&self) -> VialInHand {
        VialInHand {
            vial: self.vial.clone(),
            lot: self.lot.clone(),
            manufacturer: self.manufacturer.clone(),
            prepared: self.prepared,
        }
    }
}

/// The course's recorded vial a nurse would take for a dose from `template_vial` on `date`: the
/// one the last dose from that template vial was drawn from while it is still usable, else the
/// newest usable one. `None`: no usable vial of that strength is recorded.
pub fn vial_for<'s>(
    state: &'s CourseState,
    template_vial: &str,
    date: NaiveDate,
) -> Option<&'s VialState> {
    let usable = |v: &&VialState| v.vial == template_vial && v.state_on(date) == VialStatus::Active;
    let last_code = state
        .given
        .iter()
        .rev()
        .find(|g| g.vial == template_vial)
        .and_then(|g| g.vial_code.as_deref());
    last_code
        .and_then(|code| state.vials.iter().filter(usable).find(|v| v.code == code))
        .or_else(|| state.vials.iter().rev().find(usable))
}

/// Whether a physician has reviewed the change of the vial in hand: a review after the last
/// dose (and after the vial with that lot was added, when it was) that answers it. A recorded
/// vial's hold shows on the course before the dose (`next_with_vials`), so the review must have
/// been recorded while that hold was shown (`ReviewAbout::VialChange` of this template vial and
/// lot). A vial known only by a lot typed at `give` (no record of it) cannot show its hold
/// before the give is refused naming it; there a review recorded while the course showed no
/// hold answers it too (what else could it answer). A review of a reaction, a late dose, a stop,
/// or an older review that says nothing of what it answered, lifts no vial change.
fn reviewed_change(s: &CourseState, hand: &VialInHand) -> bool {
    let recorded: Vec<&VialState> = s
        .vials
        .iter()
        .filter(|v| v.vial == hand.vial && same(&v.lot, &hand.lot))
        .collect();
    let after = |t: NaiveDateTime| {
        s.given.last().is_none_or(|g| t > g.at) && recorded.iter().all(|v| t >= v.added_at)
    };
    s.reviews.iter().any(|(t, about)| {
        after(*t)
            && match about {
                Some(ReviewAbout::VialChange { vial, lot }) => {
                    *vial == hand.vial && same(lot, &hand.lot)
                }
                Some(ReviewAbout::NoHold) => recorded.is_empty(),
                Some(ReviewAbout::OtherHold) | None => false,
            }
    })
}

/// What a physician's review recorded at `at` answers: the hold the course shows then, with
/// its recorded vials (the ward stores it with the review; see [`ReviewAbout`]).
pub fn review_about(
    ctx: Context<'_>,
    state: &CourseState,
    at: NaiveDateTime,
    patient: &PatientView,
) -> ReviewAbout {
    let plain = next(ctx, state, at, patient, None);
    if plain.hold.is_some() {
        return ReviewAbout::OtherHold;
    }
    let hand = plain
        .dosing
        .as_ref()
        .and_then(|d| vial_for(state, &d.vial, at.date()));
    let Some(hand) = hand else {
        return ReviewAbout::NoHold;
    };
    let d = next(ctx, state, at, patient, Some(&hand.in_hand()));
    match d.hold.map(|h| h.cause) {
        Some(Cause::VialChange { vial, .. }) => ReviewAbout::VialChange {
            vial,
            lot: hand.lot.clone(),
        },
        Some(_) => ReviewAbout::OtherHold,
        None => ReviewAbout::NoHold,
    }
}

/// The next decision with the course's recorded vials: decided once without a vial, and when
/// that dose's template vial has a usable recorded vial, again with it in hand (so a new lot's
/// rule shows before the nurse draws the dose). No recorded vial: the plain decision.
pub fn next_with_vials(
    ctx: Context<'_>,
    state: &CourseState,
    now: NaiveDateTime,
    patient: &PatientView,
) -> Decision {
    let plain = next(ctx, state, now, patient, None);
    let Some(vial) = plain.dosing.as_ref().map(|d| d.vial.as_str()) else {
        return plain;
    };
    match vial_for(state, vial, now.date()) {
        Some(v) => next(ctx, state, now, patient, Some(&v.in_hand())),
        None => plain,
    }
}

/// The vial the nurse holds, as far as a dose's record knows it (for the vial-change rules):
/// the scanned vial when it is one of the course's; else the lot typed with the dose, of the
/// template vial the decision gives; else the course's recorded vial that `next` shows for that
/// dose ([`vial_for`]). Whether the scanned vial may be used at all is the scan check's, after.
pub fn vial_in_hand(
    state: &CourseState,
    decision: Option<&Dosing>,
    lot: Option<&str>,
    scan_vial: Option<&str>,
    date: NaiveDate,
) -> Option<VialInHand> {
    if let Some(code) = scan_vial
        && let Some(v) = state
            .vials
            .iter()
            .find(|v| v.code.eq_ignore_ascii_case(code.trim()))
    {
        return Some(v.in_hand());
    }
    let decision = decision?;
    match lot.map(str::trim).filter(|l| !l.is_empty()) {
        // A typed lot of a usable recorded vial: that vial (its manufacturer and preparation
        // date count too).
        Some(lot) => Some(by_lot(state, &decision.vial, lot, date).map_or_else(
            || VialInHand {
                vial: decision.vial.clone(),
                lot: lot.to_string(),
                manufacturer: None,
                prepared: None,
            },
            VialState::in_hand,
        )),
        None => vial_for(state, &decision.vial, date).map(|v| v.in_hand()),
    }
}

/// The usable recorded vial of template vial `template_vial` whose lot is `lot` (letter case
/// and spaces aside): the one [`vial_for`] takes when it has that lot, else the newest.
fn by_lot<'s>(
    state: &'s CourseState,
    template_vial: &str,
    lot: &str,
    date: NaiveDate,
) -> Option<&'s VialState> {
    let fits = |v: &&VialState| {
        v.vial == template_vial && v.state_on(date) == VialStatus::Active && same(&v.lot, lot)
    };
    vial_for(state, template_vial, date)
        .filter(fits)
        .or_else(|| state.vials.iter().rev().find(fits))
}

/// The recorded vial a dose given without a vial scan comes from, named by the lot typed
/// ([`unscanned_lot_problem`] says when it may not): `Ok(None)` when the course records no
/// vial of that strength; the dose's record then takes this vial's code and its lot as the vial
/// has it (not as typed).
pub fn unscanned_vial<'s>(
    state: &'s CourseState,
    template_vial: &str,
    lot: Option<&str>,
    date: NaiveDate,
) -> Result<Option<&'s VialState>, String> {
    if let Some(problem) = unscanned_lot_problem(state, template_vial, lot, date) {
        return Err(problem);
    }
    if !state.vials.iter().any(|v| v.vial == template_vial) {
        return Ok(None);
    }
    lot.and_then(|l| by_lot(state, template_vial, l, date))
        .map(Some)
        .ok_or_else(|| {
            format!("names no usable vial {template_vial} of this course: scan the vial")
        })
}

/// Why a vial may not be added to, or discarded from, a course as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VialRefusal {
    /// The course is stopped or has ended ([`Refusal::Stopped`], [`Refusal::Ended`]).
    Course(Refusal),
    /// The course has no vial with this code.
    NoVial {
        /// The code.
        code: String,
    },
    /// The vial was discarded already.
    AlreadyDiscarded {
        /// The code.
        code: String,
        /// When.
        at: NaiveDateTime,
        /// Why.
        reason: String,
    },
}

/// Whether a vial event may be recorded on the course as it stands: a vial is added only to a
/// course neither ended nor stopped; a vial is discarded only when it is the course's and not
/// discarded already. Other events: no objection here. (A new vial's own values, its template
/// vial, dates and code, are the ward's to check before it allocates the code.)
pub fn vial_admissible(state: &CourseState, kind: &EventKind) -> Result<(), VialRefusal> {
    match kind {
        EventKind::VialAdded { .. } => {
            if let Some(h) = &state.ended {
                return Err(VialRefusal::Course(Refusal::Ended {
                    hold: Box::new(h.clone()),
                }));
            }
            if let Some(h) = &state.stopped {
                return Err(VialRefusal::Course(Refusal::Stopped {
                    hold: Box::new(h.clone()),
                }));
            }
            Ok(())
        }
        EventKind::VialDiscarded { code, .. } => {
            let v = state
                .vials
                .iter()
                .find(|v| v.code == *code)
                .ok_or_else(|| VialRefusal::NoVial { code: code.clone() })?;
            match &v.discarded {
                Some((at, why)) => Err(VialRefusal::AlreadyDiscarded {
                    code: code.clone(),
                    at: *at,
                    reason: why.clone(),
                }),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A dose given without a vial scan, on a course that has recorded vials of the dose's template
/// vial: it must name one of them by its lot, so that the record says which vial the dose (and
/// any new-lot rule) came from. Without a lot, or with a lot that no usable vial of that
/// strength has (expired, discarded, another course's), the problem in words; `None`: nothing
/// recorded of that strength (a course without vial records), or the lot is a usable vial's.
pub fn unscanned_lot_problem(
    state: &CourseState,
    template_vial: &str,
    lot: Option<&str>,
    date: NaiveDate,
) -> Option<String> {
    if !state.vials.iter().any(|v| v.vial == template_vial) {
        return None;
    }
    let usable: Vec<&VialState> = state
        .vials
        .iter()
        .filter(|v| v.vial == template_vial && v.state_on(date) == VialStatus::Active)
        .collect();
    let codes = || {
        usable
            .iter()
            .map(|v| format!("{} lot {}", v.code, v.lot))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match lot.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) if usable.iter().any(|v| same(&v.lot, l)) => None,
        Some(l) if usable.is_empty() => Some(format!(
            "{l:?}: this course has no usable vial {template_vial} (each recorded one is expired or discarded): add the new vial first"
        )),
        Some(l) => Some(format!(
            "{l:?} is not the lot of a usable vial {template_vial} of this course ({}): scan the vial",
            codes()
        )),
        None if usable.is_empty() => Some(format!(
            "is needed: this course has no usable vial {template_vial} (each recorded one is expired or discarded): add the new vial first"
        )),
        None => Some(format!(
            "is needed: this course has recorded vials {template_vial} ({}): scan the vial, or type its lot",
            codes()
        )),
    }
}

/// Lots and manufacturers are compared without surrounding space or letter case.
fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A change against the doses in `scope`: how many of them (latest first) already have the
/// value in hand since the change, and the value before it. `None`: no change (or none known).
fn change<'a>(
    given: &'a [Given],
    scope: impl Fn(&Given) -> bool,
    key: impl Fn(&'a Given) -> Option<&'a str>,
    now: &str,
) -> Option<(usize, String)> {
    let mut since = 0;
    for g in given.iter().rev().filter(|g| scope(g)) {
        match key(g) {
            None => {}
            Some(v) if same(v, now) => since += 1,
            Some(v) => return Some((since, v.trim().to_string())),
        }
    }
    None
}

/// A change that fired, with the doses already given since it.
struct Fired {
    change: VialTrigger,
    trigger: Trigger,
    since: usize,
}

fn fired(
    s: &CourseState,
    hand: &VialInHand,
    today: NaiveDate,
    ctx: Context<'_>,
    m: bool,
) -> Vec<Fired> {
    let mut out = Vec::new();
    if !hand.lot.trim().is_empty()
        && let Some((since, previous)) = change(
            &s.given,
            |g| g.vial == hand.vial,
            |g| g.lot.as_deref(),
            &hand.lot,
        )
    {
        out.push(Fired {
            change: VialTrigger::NewLot {
                lot: hand.lot.trim().to_string(),
                previous,
            },
            trigger: Trigger::NewLot,
            since,
        });
    }
    if let Some(mf) = hand
        .manufacturer
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        && let Some((since, previous)) =
            change(&s.given, |_| true, |g| g.manufacturer.as_deref(), mf)
    {
        out.push(Fired {
            change: VialTrigger::NewManufacturer {
                manufacturer: mf.trim().to_string(),
                previous,
            },
            trigger: Trigger::NewManufacturer,
            since,
        });
    }
    if let Some(prepared) = hand.prepared
        && let Some(rule) = ctx.rules.vial_change_rule(Trigger::VialAge { days: 0 }, m)
        && let Trigger::VialAge { days } = rule.trigger
    {
        let age = (today - prepared).num_days();
        if age > i64::from(days) {
            out.push(Fired {
                change: VialTrigger::VialAge {
                    prepared,
                    age_days: age,
                    limit_days: days,
                },
                trigger: rule.trigger,
                since: 0,
            });
        }
    }
    out
}

/// `percent` % off `from` on template vial `vial`, rounded down to the syringe (`None`: the
/// syringe cannot measure any of it).
pub(super) fn reduced_dose(
    ctx: Context<'_>,
    vial: &str,
    from: Dose,
    percent: Decimal,
) -> Option<(Volume, Dose)> {
    let v = ctx.template.vial(vial)?;
    let target = from
        .amount()
        .checked_mul(Decimal::ONE_HUNDRED.checked_sub(percent)?)?
        .checked_div(Decimal::ONE_HUNDRED)?;
    let syringe = Syringe::new(ctx.template.injection.syringe_graduation_ml).ok()?;
    let volume = v
        .concentration
        .volume_for(Dose::new(target, from.unit()), syringe)?;
    if volume.ml() <= Decimal::ZERO {
        return None;
    }
    Some((volume, v.concentration.dose_in(volume)?))
}

/// `steps` distinct doses below `d` on the schedule, on the same vial (`None`: that dose is on
/// another vial, whose lot is not the one in hand, or no lower: the physician decides).
fn stepped_back(ctx: Context<'_>, d: &Dosing, steps: u32) -> Option<Dosing> {
    let plan = ctx.plan;
    let l = Ladder::of(plan);
    let (rung, _) = l.below(d.dose.amount(), steps);
    let target = l.doses.get(rung).copied()?;
    let p = plan.steps.iter().find(|p| p.dose.amount() == target)?;
    if p.vial != d.vial || p.dose.amount() >= d.dose.amount() {
        return None;
    }
    Some(Dosing {
        step: p.index,
        maintenance: None,
        vial: p.vial.clone(),
        volume_ml: p.volume_ml,
        dose: p.dose,
    })
}

/// `volume` of `d`'s vial in place of `d` (`None`: not a volume this template may inject).
fn at_volume(ctx: Context<'_>, d: &Dosing, volume: Decimal) -> Option<Dosing> {
    let inj = &ctx.template.injection;
    let v = ctx.template.vial(&d.vial)?;
    let syringe = Syringe::new(inj.syringe_graduation_ml).ok()?;
    let volume = Volume::from_ml(volume);
    if volume > inj.max_volume_ml || !syringe.can_measure(volume) {
        return None;
    }
    Some(Dosing {
        volume_ml: volume,
        dose: v.concentration.dose_in(volume)?,
        ..d.clone()
    })
}

/// Why the vial in hand holds the dose for a physician.
pub(super) struct VialHold {
    pub(super) cause: Cause,
    pub(super) rule: Option<Provenance>,
}

/// The dose `d` as the vial-change rules make it for the vial in hand, with the reasons; or the
/// hold when the physician must decide first. A vial in hand of another template vial changes
/// nothing here (refusing it is the scan's job).
pub(super) fn apply(
    ctx: Context<'_>,
    s: &CourseState,
    hand: Option<&VialInHand>,
    d: Dosing,
    today: NaiveDate,
    reasons: &mut Vec<Reason>,
) -> Result<Dosing, VialHold> {
    let Some(hand) = hand.filter(|h| h.vial == d.vial) else {
        return Ok(d);
    };
    let m = d.maintenance.is_some();
    let reviewed = reviewed_change(s, hand);
    let mut out = d.clone();
    for f in fired(s, hand, today, ctx, m) {
        let rule = ctx.rules.vial_change_rule(f.trigger, m);
        let action = rule.map(|r| r.action.clone());
        let provenance = rule.map(|r| r.provenance.clone());
        let say = |rung, reviewed, volume_ml| Reason::VialChange {
            vial: d.vial.clone(),
            change: f.change.clone(),
            action: action.clone(),
            rung,
            reviewed,
            volume_ml,
            rule: provenance.clone(),
        };
        let hold = || VialHold {
            cause: Cause::VialChange {
                vial: d.vial.clone(),
                change: f.change.clone(),
            },
            rule: provenance.clone(),
        };
        let candidate = match (&action, f.since) {
            (Some(VialAction::Rebuild { volumes_ml }), k) if k < volumes_ml.len() => {
                let rung = volumes_ml.get(k).copied().unwrap_or(Decimal::ZERO);
                let c = at_volume(ctx, &d, rung).ok_or_else(|| {
                    reasons.push(say(Some((k + 1, volumes_ml.len())), false, None));
                    hold()
                })?;
                (c, Some((k + 1, volumes_ml.len())))
            }
            // The rule applied to the first dose from the change; the schedule goes on.
            (_, k) if k > 0 => continue,
            (None | Some(VialAction::Review), _) => {
                reasons.push(say(None, reviewed, None));
                if reviewed {
                    continue;
                }
                return Err(hold());
            }
            (Some(VialAction::Reduce { percent }), _) => {
                let c =
                    reduced_dose(ctx, &d.vial, d.dose, *percent).map(|(volume_ml, dose)| Dosing {
                        volume_ml,
                        dose,
                        ..d.clone()
                    });
                let c = c.ok_or_else(|| {
                    reasons.push(say(None, false, None));
                    hold()
                })?;
                (c, None)
            }
            (Some(VialAction::StepBack { steps }), _) => {
                let c = stepped_back(ctx, &d, *steps).ok_or_else(|| {
                    reasons.push(say(None, false, None));
                    hold()
                })?;
                (c, None)
            }
            (Some(VialAction::Rebuild { .. }), _) => continue,
        };
        let (c, rung) = candidate;
        if c.dose.amount() < d.dose.amount() {
            reasons.push(say(rung, false, Some(c.volume_ml)));
            if c.dose.amount() < out.dose.amount() {
                out = c;
            }
        }
    }
    Ok(out)
}

/// Whether a maintenance dose of `volume_ml` from template vial `vial`, lot `lot`, is a rung of
/// a rebuild after a new lot (asked before the dose joins the state): the maintenance schedule
/// then keeps its next visit instead of reading the rung as a reduction.
pub(super) fn rebuild_rung(
    ctx: Context<'_>,
    s: &CourseState,
    vial: &str,
    lot: Option<&str>,
    volume_ml: Decimal,
) -> bool {
    let Some(lot) = lot.filter(|l| !l.trim().is_empty()) else {
        return false;
    };
    let Some((since, _)) = change(&s.given, |g| g.vial == vial, |g| g.lot.as_deref(), lot) else {
        return false;
    };
    match ctx
        .rules
        .vial_change_rule(Trigger::NewLot, true)
        .map(|r| &r.action)
    {
        Some(VialAction::Rebuild { volumes_ml }) => {
            volumes_ml.get(since).is_some_and(|v| volume_ml <= *v)
        }
        _ => false,
    }
}
