//! The audit's figures: an SVG snapshot of a small chart, and the PDF's text and pixels.

use super::*;
use crate::audit::chart::charts;
use crate::audit::chart::tests::row;
use crate::audit::facts::{Excluded, Status};
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
    assert!(sr.desc.contains(">=18: rush alone 1 of 2 (50 %; 95 % interval 9 % to 91 %), omalizumab-pretreated 1 of 2 (50 %"), "{}", sr.desc);
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
    let c = charts(&f.rows, f.as_of);
    let fonts = Fonts::new(None).expect("fonts");
    let made = crate::testkit::at("2026-03-10 09:00");
    let (bytes, warnings) = pdf(&f.audit(), &c, made, false, &fonts, Paper::A4).expect("pdf");
    if let Some(p) = std::env::var_os("RITPLAN_AUDIT_PDF") {
        std::fs::write(p, &bytes).expect("write the PDF to look at");
    }
    assert!(warnings.is_empty(), "{warnings:?}");
    let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
    let all = pages.concat().join("\n");
    for want in [
        "5 courses with rush day 1 from 2026-01-01 to 2026-03-31",
        "3 rush immunotherapy alone, 2",
        "1 censored",
        "Excluded: course 9: omalizumab given outside the record",
        "Systemic reactions: courses with any SR",
        "Completion: courses that reached the target dose",
        "RIT+OMB 1/2",
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

#[test]
fn a_larger_clinic_with_every_band_draws_on_two_pages_at_most() {
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
        rows.push(r);
    }
    let f = Facts {
        rows,
        as_of: date("2026-06-30"),
        ..small()
    };
    let c = charts(&f.rows, f.as_of);
    let fonts = Fonts::new(None).expect("fonts");
    let made = crate::testkit::at("2026-03-10 09:00");
    let (bytes, _) = pdf(&f.audit(), &c, made, false, &fonts, Paper::A4).expect("pdf");
    if let Some(p) = std::env::var_os("RITPLAN_AUDIT_PDF_LARGE") {
        std::fs::write(p, &bytes).expect("write the PDF to look at");
    }
    let pages = crate::render::pdf::extract_text(&bytes).expect("parse");
    assert!(pages.len() <= 2, "{} pages", pages.len());
    let svg = sr_figure(&c).svg("x");
    assert!(!svg.contains("NaN"));
    assert_eq!(svg.matches(">unknown</text>").count(), 2, "sIgE and ratio");
}
