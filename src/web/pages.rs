//! The page's HTML (maud): a layout with the logged-in person always shown, the login form,
//! the board, messages. Large type for names and doses; every field labelled; status in words
//! as well as colour.

use chrono::NaiveDateTime;
use maud::{DOCTYPE, Markup, html};

use crate::ward::view::PatientRecord;
use crate::ward::{Actor, BoardNext, BoardRow, BoardStatus};

/// What every page of a session shows.
pub struct Page<'a> {
    /// Who is logged in.
    pub actor: &'a Actor,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// A training record.
    pub training: bool,
    /// The record's clock.
    pub now: NaiveDateTime,
    /// The clock may be set on the page (a training record).
    pub clock: bool,
}

/// The page's style sheet, served as `/assets/ward.css` (the content security policy allows no
/// inline style).
pub const CSS: &str = r#"
body { font-family: "DejaVu Sans", sans-serif; font-size: 18px; margin: 0; color: #111; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #eef; border-bottom: 2px solid #334; }
header .who { margin-left: auto; font-weight: bold; }
main { padding: 1em; }
.training { background: #ffd; border: 3px dashed #a60; padding: .3em .6em; font-weight: bold; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4em .5em; border-bottom: 1px solid #ccc; vertical-align: top; }
.name { font-size: 1.4em; font-weight: bold; }
.status { font-weight: bold; white-space: nowrap; }
tr.observation_overdue { background: #fde9c8; }
tr.observation_overdue .status::before { content: "⚠ "; }
tr.do_not_give { background: #fbd5d5; }
tr.do_not_give .status { color: #900; }
tr.do_not_give .status::before { content: "✖ "; }
tr.due_now .status::before { content: "▶ "; }
tr.done_today { color: #555; }
label { display: block; font-weight: bold; margin-top: .6em; }
input, button, select { font-size: 1em; padding: .3em .5em; }
input[type=radio], input[type=checkbox] { width: 1.4em; height: 1.4em; vertical-align: middle; margin-right: .3em; }
.error { color: #900; font-weight: bold; margin: .2em 0; }
.big { font-size: 1.6em; font-weight: bold; }
.huge { font-size: 2.4em; font-weight: bold; margin: 0 0 .3em 0; }
.banner { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: baseline; padding: .6em 1em; background: #f4f4f4; border: 2px solid #334; }
.lookalike, .warning { color: #900; font-weight: bold; width: 100%; }
.decision { border: 3px solid #334; padding: .5em 1em; margin: 1em 0; }
.decision .headline { font-size: 1.5em; font-weight: bold; margin: .2em 0; }
.decision.stop { border-color: #900; background: #fbd5d5; }
.decision.stop .headline::before { content: "✖ "; }
.decision.overdue { border-color: #a60; background: #fde9c8; }
.decision.overdue .headline::before { content: "⚠ "; }
.decision.due { border-color: #060; background: #e3f5e3; }
.decision.due .headline::before { content: "▶ "; }
.notice { padding: .5em 1em; font-weight: bold; }
.notice.ok { background: #e3f5e3; border-left: 6px solid #060; }
.notice.bad { background: #fbd5d5; border-left: 6px solid #900; }
details.form { border: 1px solid #99a; margin: .8em 0; padding: 0 1em; }
details.form[open] { border-width: 2px; }
summary h2 { display: inline; font-size: 1.2em; }
summary { cursor: pointer; padding: .5em 0; }
.field input[type=text], .field input[type=number], .field select { width: min(32em, 100%); }
.field.check label { display: inline; }
label.inline { display: inline; font-weight: normal; margin-right: 1em; }
.help { display: block; color: #444; font-size: .9em; }
fieldset { margin-top: .8em; }
.question { margin: .4em 0 .8em 0; }
dl.confirm dt { font-size: 1.1em; color: #444; }
dl.confirm dd { margin-left: 0; }
a.button, button { display: inline-block; font-size: 1em; padding: .4em .8em; border: 2px solid #334; background: #eef; color: #111; text-decoration: none; border-radius: 4px; cursor: pointer; }
button.big { font-size: 1.4em; background: #060; color: #fff; }
:focus-visible { outline: 3px solid #06c; outline-offset: 2px; }
.nowrap { white-space: nowrap; }
.code { font-family: "DejaVu Sans Mono", monospace; letter-spacing: .05em; }
table.vials caption { text-align: left; font-weight: bold; padding: .3em 0; }
table.vials tr.expired, table.vials tr.discarded { background: #f4f4f4; }
h1.course { font-size: 1.1em; font-weight: normal; margin: .6em 0 .2em 0; }
ol.visit { list-style: none; padding-left: 0; }
dl.visit dd { margin-left: 0; }
figure.chart { margin: .5em 0 1.5em 0; max-width: 60em; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart figcaption { font-size: .9em; color: #444; }
"#;

/// Every page: the header with the person logged in, a training banner, the body.
pub fn layout(title: &str, page: Option<&Page<'_>>, training: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ritplan" }
                // htmx adds an inline style of its own unless told not to; the policy would
                // refuse it anyway.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
                link rel="stylesheet" href="/assets/ward.css";
                script src="/assets/htmx.min.js" {}
            }
            body {
                header {
                    strong { "ritplan · ward" }
                    @if training { span.training { "TRAINING RECORD, not a patient's record" } }
                    @if let Some(p) = page {
                        a href="/" { "Board" }
                        @if p.actor.role == crate::ward::Role::Physician { a href="/audit" { "Outcomes audit" } }
                        span.who { (p.actor.staff.name) " (" (p.actor.staff.id) ", " (p.actor.role) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(p.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A message page (a refusal, an expired form).
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        false,
        html! { h1 { (title) } p.error #error-summary tabindex="-1" autofocus role="alert" { (text) } p { a href="/" { "Back to the board" } } },
    )
}

/// The login form.
pub fn login(csrf: &str, error: Option<&str>, training: bool) -> Markup {
    layout(
        "Log in",
        None,
        training,
        html! {
            h1 { "Log in" }
            // A refused login: the error is focused; otherwise the first field.
            @if let Some(e) = error { p.error #error-summary tabindex="-1" autofocus role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="id" { "Staff ID" }
                input id="id" name="id" autocomplete="username" required autofocus[error.is_none()];
                label for="password" { "Password or PIN" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { "Log in" } }
            }
        },
    )
}

fn minutes_left(at: NaiveDateTime, now: NaiveDateTime) -> i64 {
    (at - now).num_minutes().max(0)
}

/// The board's table (also the fragment htmx fetches every 5 seconds).
pub fn board(rows: &[BoardRow], now: NaiveDateTime) -> Markup {
    html! {
        div #board hx-get="/board" hx-trigger="every 5s" hx-swap="outerHTML" {
            p { "At " (now.format("%H:%M")) " on " (now.format("%A %Y-%m-%d")) "." }
            @if rows.is_empty() {
                p { "Nothing is due today." }
            } @else {
                table {
                    thead { tr { th { "Status" } th { "Time" } th { "Patient" } th { "Course" } th { "Next" } } }
                    tbody {
                        @for r in rows {
                            tr class=(status_class(r.status)) {
                                td.status { (crate::render::course::board_status(r.status)) }
                                td {
                                    @if let Some(at) = r.at { (at.format("%H:%M")) }
                                    @if r.status == BoardStatus::InObservation {
                                        @if let Some(at) = r.at { br; (minutes_left(at, now)) " min left" }
                                    }
                                }
                                td {
                                    // Ids: the keyboard focus stays on a link when htmx swaps the board in again.
                                    a.name id=(format!("board-course-{}", r.course)) href=(format!("/course/{}", r.course)) { (r.patient.name) }
                                    br;
                                    span.nowrap { "ID " (r.patient.id) } " · " span.nowrap { "born " (r.patient.dob) } " · " a id=(format!("board-day-{}", r.course)) href=(super::patient::href(&r.patient.id)) { "doses today" }
                                    @if r.lookalike { br; strong { "! LOOK-ALIKE: another patient has this name and date of birth" } }
                                }
                                td { (r.course) }
                                td {
                                    @match &r.next {
                                        BoardNext::Immunotherapy { next, frozen_template } => {
                                            (crate::render::course::headline(next, frozen_template))
                                        }
                                        BoardNext::Omalizumab { next, .. } => {
                                            (crate::render::omalizumab_rows::headline(next))
                                            span.help { (next.note) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A found patient's courses: (course id, its label).
fn courses_of<'a>(
    p: &PatientRecord,
    courses: &'a [(String, i64, String)],
) -> impl Iterator<Item = (i64, &'a str)> {
    let id = p.id.clone();
    courses
        .iter()
        .filter(move |(pid, _, _)| *pid == id)
        .map(|(_, c, l)| (*c, l.as_str()))
}

pub(super) fn status_class(s: BoardStatus) -> &'static str {
    match s {
        BoardStatus::ObservationOverdue => "observation_overdue",
        BoardStatus::DueNow => "due_now",
        BoardStatus::InObservation => "in_observation",
        BoardStatus::Waiting => "waiting",
        BoardStatus::DoNotGive => "do_not_give",
        BoardStatus::DoneToday => "done_today",
    }
}

/// The first page: search, and the board.
pub fn board_page(
    page: &Page<'_>,
    rows: &[BoardRow],
    query: Option<&str>,
    found: Option<&[PatientRecord]>,
    courses: &[(String, i64, String)],
) -> Markup {
    layout(
        "Board",
        Some(page),
        page.training,
        html! {
            form method="get" action="/" role="search" {
                label for="q" { "Find a patient (name or ID)" }
                input id="q" name="q" type="search" value=[query];
                " " button type="submit" { "Find" }
            }
            @if let Some(found) = found {
                @if found.is_empty() { p { "No patient matches." } }
                ul {
                    @for p in found {
                        li {
                            span.name { (p.name) } " · ID " (p.id) " · born " (p.dob) " · "
                            @for (c, label) in courses_of(p, courses) {
                                a href=(format!("/course/{c}")) { (label) } " "
                            }
                        }
                    }
                }
            }
            h1 { "Board" }
            (board(rows, page.now))
            p.print { a.button href=(format!("/sheet.pdf?date={}", page.now.date())) target="_blank" { "Print today's sheet (PDF)" } }
            @if page.training && page.clock {
                form.clock method="post" action="/training/clock" {
                    input type="hidden" name="csrf" value=(page.csrf);
                    label for="clock-at" { "Training clock (this training record only)" }
                    input id="clock-at" name="at" type="datetime-local" value=(page.now.format("%Y-%m-%dT%H:%M"));
                    " " button type="submit" { "Set the clock" }
                }
            }
        },
    )
}
