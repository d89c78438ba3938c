//! The page's HTML (maud): a layout with the logged-in person always shown, the login form,
//! the board, messages. Large type for names and doses; every field labelled; status in words
//! as well as colour.

use chrono::NaiveDateTime;
use maud::{DOCTYPE, Markup, html};

use crate::store::PatientRecord;
use crate::ward::{Actor, BoardRow, BoardStatus};

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
}

const CSS: &str = r#"
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
tr.do_not_give .status::before { content: "⛔ "; }
tr.due_now .status::before { content: "▶ "; }
tr.done_today { color: #555; }
label { display: block; font-weight: bold; margin-top: .6em; }
input, button { font-size: 1em; padding: .3em .5em; }
.error { color: #900; font-weight: bold; }
.nowrap { white-space: nowrap; }
"#;

fn layout(title: &str, page: Option<&Page<'_>>, training: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ritplan" }
                style { (maud::PreEscaped(CSS)) }
                script src="/assets/htmx.min.js" {}
            }
            body {
                header {
                    strong { "ritplan · ward" }
                    @if training { span.training { "TRAINING RECORD, not a patient's record" } }
                    @if let Some(p) = page {
                        a href="/" { "Board" }
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
        html! { h1 { (title) } p.error role="alert" { (text) } p { a href="/" { "Back to the board" } } },
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
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="id" { "Staff ID" }
                input id="id" name="id" autocomplete="username" required autofocus;
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
                                td.status { (r.status.label()) }
                                td {
                                    @if let Some(at) = r.at { (at.format("%H:%M")) }
                                    @if r.status == BoardStatus::InObservation {
                                        @if let Some(at) = r.at { br; (minutes_left(at, now)) " min left" }
                                    }
                                }
                                td {
                                    span.name { (r.patient.name) }
                                    br;
                                    span.nowrap { "ID " (r.patient.id) } " · " span.nowrap { "born " (r.patient.dob) }
                                    @if r.lookalike { br; strong { "! LOOK-ALIKE: another patient has this name and date of birth" } }
                                }
                                td { (r.course) }
                                td { (r.text) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn status_class(s: BoardStatus) -> &'static str {
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
                        li { span.name { (p.name) } " · ID " (p.id) " · born " (p.dob) }
                    }
                }
            }
            h1 { "Board" }
            (board(rows, page.now))
        },
    )
}
