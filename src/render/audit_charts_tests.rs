//! The audit's figures: an SVG snapshot of a small chart, and the PDF's text and pixels.

use super::*;
use crate::audit::chart::charts;
use crate::audit::chart::tests::row;
use crate::audit::facts::{Excluded, Status};
use crate::audit::report::{ReportIn, report};
use crate::audit::rules::AuditRules;
use crate::testkit::date;

/// The ward's read, as the tests build it.
struct Facts {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    as_of: chrono::NaiveDate,
    rows: Vec<crate::audit::facts::CourseFacts>,
    excluded: Vec<Excluded>,
}

impl Facts {
    fn audit(&self) -> Audit<'_> {
        Audit {
            from: self.from,
            to: self.to,
            as_of: self.as_of,
            rows: &self.rows,
            excluded: &self.excluded,
        }
    }

    /// The report T1-T6 of these rows under the bundled definitions.
    fn report(&self) -> Report {
        let rules = AuditRules::bundled().expect("rules");
        report(&ReportIn {
            from: self.from,
            to: self.to,
            as_of: self.as_of,
            rows: &self.rows,
            excluded: &self.excluded,
            rules: &rules,
            medication_score: Some("example-asthma-step v1"),
        })
    }

    /// The PDF of these rows, and its text page by page.
    fn pdf(&self) -> (Vec<u8>, Vec<Vec<String>>) {
        let c = charts(&self.rows, self.as_of);
        let fonts = Fonts::new(None).expect("fonts");
        let made = crate::testkit::at("2026-03-10 09:00");
        let (bytes, warnings) = pdf(
            &self.audit(),
            &c,
            &self.report(),
            made,
            false,
            &fonts,
            Paper::A4,
        )
        .expect("pdf");
        assert!(warnings.is_empty(), "{warnings:?}");
        let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
        (bytes, pages)
    }
}

fn small() -> Facts {
    let rows = vec![
        row(
            1,
            Arm::Rit,
            ">=18",
            1,
            "2026-01-05",
            Status::Completed,
            Some(2),
        ),
        row(
            2,
            Arm::Rit,
            ">=18",
            0,
            "2026-01-05",
            Status::Completed,
            Some(9),
        ),
        row(3, Arm::Rit, "<18", 0, "2026-01-05", Status::Stopped, None),
        row(
            4,
            Arm::RitOmbPre,
            ">=18",
            0,
            "2026-02-02",
            Status::Completed,
            Some(2),
        ),
        row(
            5,
            Arm::RitOmbPre,
            ">=18",
            2,
            "2026-03-01",
            Status::Censored,
            None,
        ),
    ];
    Facts {
        from: date("2026-01-01"),
        to: date("2026-03-31"),
        as_of: date("2026-03-10"),
        rows,
        excluded: vec![Excluded {
            course_id: 9,
            reason: "omalizumab given outside the record".into(),
        }],
    }
}

#[test]
fn the_sr_chart_of_a_small_audit_is_this_svg() {
    let f = small();
    let c = charts(&f.rows, f.as_of);
    // Only the age stratifier, to keep the snapshot readable.
    let mut one = c.clone();
    one.sr_incidence.truncate(1);
    let svg = sr_figure(&one).svg("sr");
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    assert!(svg.contains(r#"role="img""#) && svg.contains(r#"aria-labelledby="sr-title sr-desc""#));
    // The pretreated arm is dashed and a triangle; rush alone is solid and a square.
    assert!(svg.contains(r##"stroke="#a64d00" stroke-width="1.2" stroke-dasharray="4 2.5""##));
    assert!(svg.contains("RIT 1/2 · 50 %"), "{svg}");
    assert!(svg.contains("&lt;18"), "labels escaped");
    insta::assert_snapshot!("audit_sr_chart_small", svg);
}

#[test]
fn the_descriptions_say_every_number_drawn() {
    let f = small();
    let c = charts(&f.rows, f.as_of);
    let sr = sr_figure(&c);
    // Course 5 (pretreated, 2 SR) is still in up-dosing: counted in neither T4 nor the chart,
    // which says so.
    assert!(sr.desc.contains(">=18: rush alone 1 of 2 (50 %; 95 % interval 9 % to 91 %), omalizumab-pretreated 0 of 1 (0 %"), "{}", sr.desc);
    assert!(
        sr.desc
            .contains("1 course(s) still in up-dosing at the audit date, not counted"),
        "{}",
        sr.desc
    );
    assert!(
        sr.desc.contains("<18: rush alone 0 of 1 (0 %"),
        "{}",
        sr.desc
    );
    let k = completion_figure(&c);
    assert!(k.desc.contains("Rush alone (RIT): 3 courses, 2 completed, 1 stopped, 0 censored: day 2: 33 %, day 9: 67 %, followed to day 64."), "{}", k.desc);
    assert!(k.desc.contains("Omalizumab-pretreated (RIT+OMB): 2 courses, 1 completed, 0 stopped, 1 censored: day 2: 50 %"), "{}", k.desc);
}

#[test]
fn an_empty_audit_draws_no_course_not_nan() {
    let c = charts(&[], date("2026-03-10"));
    for f in [sr_figure(&c), completion_figure(&c)] {
        let svg = f.svg("x");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.contains("no course"));
    }
}

#[test]
fn the_pdf_prints_the_counts_and_draws_both_charts() {
    let f = small();
    let (bytes, pages) = f.pdf();
    if let Some(p) = std::env::var_os("RITPLAN_AUDIT_PDF") {
        std::fs::write(p, &bytes).expect("write the PDF to look at");
    }
    let all = pages.concat().join("\n");
    for want in [
        "5 courses with rush day 1 from 2026-01-01 to 2026-03-31",
        "3 rush immunotherapy alone, 2",
        "1 censored",
        "Excluded: course 9: omalizumab given outside the record",
        "Systemic reactions: courses with any SR",
        "Completion: courses that reached the target dose",
        "RIT+OMB 0/1",
        "days from rush day 1",
        "Observational data, not randomised",
    ] {
        assert!(all.contains(want), "{want:?} not in {all}");
    }
    // Drawn, not only written: the arms' colours are on the rendered page.
    if which("pdftoppm") {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("a.pdf");
        std::fs::write(&p, &bytes).expect("write");
        let out = std::process::Command::new("pdftoppm")
            .args(["-r", "50", "-f", "1", "-l", "1"])
            .arg(&p)
            .arg(dir.path().join("page"))
            .status()
            .expect("pdftoppm");
        assert!(out.success());
        let ppm = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "ppm"))
            .expect("a page");
        let px = std::fs::read(ppm).expect("ppm");
        let near = |c: (u8, u8, u8)| {
            px.chunks_exact(3)
                .filter(|p| {
                    p[0].abs_diff(c.0) < 24 && p[1].abs_diff(c.1) < 24 && p[2].abs_diff(c.2) < 24
                })
                .count()
        };
        assert!(near((31, 78, 121)) > 20, "rush alone's blue is drawn");
        assert!(
            near((166, 77, 0)) > 20,
            "the pretreated arm's orange is drawn"
        );
    }
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(cmd).is_file()))
}

/// 200 courses in every band, a quarter pretreated, some with SR, stopped or censored.
fn large() -> Facts {
    let bands = [
        ("<18", "1-2", "<10", "<100", "low"),
        (">=18", "3-6", ">=10", "100-<1000", "standard"),
        (">=18", "unknown", "unknown", ">=1000", "high"),
    ];
    let mut rows = Vec::new();
    for i in 0..200_i64 {
        let (age, sige, ratio, tige, stratum) = bands[(i % 3) as usize];
        let arm = if i % 4 == 0 { Arm::RitOmbPre } else { Arm::Rit };
        let sr = u32::from(i % 7 == 0 || (arm == Arm::Rit && i % 5 == 0));
        let (status, days) = match i % 10 {
            0 => (Status::Stopped, None),
            1 => (Status::Censored, None),
            k => (Status::Completed, Some(3 + k * 9 + i % 13)),
        };
        let mut r = row(i, arm, age, sr, "2026-01-05", status, days);
        r.sige_band = sige.into();
        r.ratio_band10 = ratio.into();
        r.tige_band = tige.into();
        r.risk_stratum = stratum.into();
        // Follow-up for two courses in three: the ACQ and the medication score at baseline and
        // 12 months, both ratio bands.
        if i % 3 != 2 {
            let d = rust_decimal::Decimal::new;
            let (base, later) = (d(15 + i % 20, 1), d(5 + i % 17, 1));
            r.ratio_band16 = if i % 3 == 0 { "<=16" } else { ">16" }.into();
            r.follow_up.acq_0 = Some(base);
            r.follow_up.acq_12m = Some(later);
            r.follow_up.acq_delta = Some(later - base);
            r.follow_up.med_score_0 = Some(d(i % 5, 0));
            r.follow_up.med_score_12m = Some(d(i % 4, 0));
            r.follow_up.med_score_delta = Some(d(i % 4 - i % 5, 0));
        }
        rows.push(r);
    }
    Facts {
        rows,
        as_of: date("2026-06-30"),
        ..small()
    }
}

#[test]
fn a_larger_clinic_with_every_band_draws_its_charts_on_two_pages_at_most() {
    let f = large();
    let c = charts(&f.rows, f.as_of);
    let (bytes, pages) = f.pdf();
    if let Some(p) = std::env::var_os("RITPLAN_AUDIT_PDF_LARGE") {
        std::fs::write(p, &bytes).expect("write the PDF to look at");
    }
    // The charts end on the second page at most: the tables begin on the page after them.
    let tables_from = pages
        .iter()
        .position(|p| p.join("\n").contains("T1  Baseline by arm"))
        .expect("T1");
    assert!(tables_from <= 2, "T1 on page {}", tables_from + 1);
    assert!(
        pages[..tables_from]
            .concat()
            .join("\n")
            .contains("days from rush day 1"),
        "the completion chart before the tables"
    );
    let svg = sr_figure(&c).svg("x");
    assert!(!svg.contains("NaN"));
    assert_eq!(svg.matches(">unknown</text>").count(), 2, "sIgE and ratio");
}

/// The text of the pages without their furniture (the header and the "Page N of M" footer),
/// words separated by one space: a paragraph broken across pages reads whole.
fn words(pages: &[Vec<String>]) -> String {
    pages
        .concat()
        .into_iter()
        .filter(|l| !l.starts_with("Outcomes audit · rush day 1") && !l.starts_with("Page "))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_pdf_prints_every_table_with_its_rows_cells_and_footer() {
    for f in [small(), large()] {
        let r = f.report();
        let (_, pages) = f.pdf();
        let lines: std::collections::BTreeSet<String> = pages
            .concat()
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let all = words(&pages);
        assert!(
            all.contains(&words(&[vec![crate::audit::report_text::preamble(&r)]])),
            "the p marks"
        );
        for t in &r.tables {
            assert!(all.contains(&format!("{} {}", t.id, t.title)), "{}", t.id);
            for b in &t.blocks {
                for row in &b.rows {
                    if t.id == "T4" {
                        assert!(lines.contains(row.label.trim()), "T4 row {:?}", row.label);
                    }
                    // Every cell as the text report prints it, on a line of its own (no number
                    // wrapped or cut).
                    for c in &row.cells {
                        let text = crate::audit::report_text::cell_text(c, b.intervals_in_text);
                        if !text.is_empty() {
                            assert!(lines.contains(&text), "{} {:?}: {text:?}", t.id, row.label);
                        }
                    }
                }
                for n in &b.notes {
                    assert!(all.contains(&words(&[vec![n.clone()]])), "{}: {n}", t.id);
                }
            }
            for line in &t.footer {
                let want = words(&[vec![format!("· {line}")]]);
                assert!(all.contains(&want), "{} footer: {line}", t.id);
            }
        }
    }
}

#[test]
fn a_long_t4_goes_on_to_the_next_page_under_its_name_and_header_again() {
    let f = large();
    let mut r = f.report();
    // The first stratifier of T4 made long: its rows 40 times over, each label its own.
    let t4 = r.tables.iter_mut().find(|t| t.id == "T4").expect("T4");
    let first = &mut t4.blocks[0];
    let heading = first.heading.clone().expect("a stratifier");
    let rows = first.rows.clone();
    first.rows = (0..40)
        .flat_map(|k| {
            rows.iter().map(move |row| crate::audit::report::Row {
                label: format!("{} #{k}", row.label),
                cells: row.cells.clone(),
            })
        })
        .collect();
    let labels: Vec<String> = first.rows.iter().map(|r| r.label.clone()).collect();
    let fonts = Fonts::new(None).expect("fonts");
    let made = crate::testkit::at("2026-03-10 09:00");
    let c = charts(&f.rows, f.as_of);
    let (bytes, _) = pdf(&f.audit(), &c, &r, made, false, &fonts, Paper::A4).expect("pdf");
    if let Some(p) = std::env::var_os("RITPLAN_AUDIT_PDF_LONG") {
        std::fs::write(p, &bytes).expect("write the PDF to look at");
    }
    let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
    let on: Vec<usize> = pages
        .iter()
        .enumerate()
        .filter(|(_, p)| labels.iter().any(|l| p.contains(l)))
        .map(|(i, _)| i)
        .collect();
    assert!(on.len() >= 2, "the block spans pages: {on:?}");
    let continued = format!("T4 Systemic reactions by stratum and arm · {heading} (continued)");
    for (k, &i) in on.iter().enumerate() {
        let page = &pages[i];
        let text = words(std::slice::from_ref(page));
        // The header row on every page the block is on; the name again on each page after the
        // first.
        for title in ["level", "RIT N", "Omb-pre N", "OR (95 % CI)"] {
            assert!(text.contains(title), "{title:?} on page {}", i + 1);
        }
        assert_eq!(text.contains(&continued), k > 0, "page {}: {text}", i + 1);
    }
    // Every row once, whole: none cut at a page's foot, none printed twice.
    for l in &labels {
        let n = pages.concat().iter().filter(|s| *s == l).count();
        assert_eq!(n, 1, "{l}");
    }
}
