//! The pre-injection checklist of a course: its questions (from the course's frozen rules,
//! `[[pre_injection]]` in `rules/eligibility.toml`) and what the answers allow. A dose goes
//! only when every question was answered, and answered no; an unanswered question blocks it
//! like a yes (fail closed). Front ends ask the questions and pass the answers here.

use super::CourseView;

/// One pre-injection question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Its id (stable: front ends name their fields after it).
    pub id: String,
    /// The question.
    pub question: String,
    /// What a yes means (the dose is not given now).
    pub if_yes: String,
    /// Its source and evidence.
    pub source: String,
}

/// Why the checklist does not allow the dose, for one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCleared {
    /// The question's id.
    pub id: String,
    /// In words.
    pub why: String,
}

impl CourseView {
    /// The course's pre-injection questions. Rules frozen before the questions were data get
    /// the one question the CLI's `--screen ok` stands for.
    pub fn pre_injection_questions(&self) -> Vec<Question> {
        let qs = &self.loaded.policy.eligibility.questions;
        if qs.is_empty() {
            return vec![Question {
                id: "screen".into(),
                question: "Did any of the clinic's pre-injection health questions get a yes?"
                    .into(),
                if_yes: "defer the dose (Defer) and tell the physician".into(),
                source: "the course's rules predate the list of questions".into(),
            }];
        }
        qs.iter()
            .map(|q| Question {
                id: q.id.clone(),
                question: q.question.clone(),
                if_yes: q.if_yes.clone(),
                source: format!(
                    "{} · {} [{}]",
                    q.provenance.source, q.provenance.evidence, q.provenance.certainty
                ),
            })
            .collect()
    }
}

/// Whether the answers clear the dose: `answer` gives each question's answer (`Some(true)` is
/// yes, `None` not answered). Every question that does not clear it is named.
pub fn cleared(
    questions: &[Question],
    answer: impl Fn(&Question) -> Option<bool>,
) -> Result<(), Vec<NotCleared>> {
    let not: Vec<NotCleared> = questions
        .iter()
        .filter_map(|q| match answer(q) {
            Some(false) => None,
            Some(true) => Some(NotCleared {
                id: q.id.clone(),
                why: format!("Answered yes: this dose is not given now; {}", q.if_yes),
            }),
            None => Some(NotCleared {
                id: q.id.clone(),
                why: "answer yes or no".into(),
            }),
        })
        .collect();
    if not.is_empty() { Ok(()) } else { Err(not) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: &str) -> Question {
        Question {
            id: id.into(),
            question: format!("{id}?"),
            if_yes: "defer".into(),
            source: String::new(),
        }
    }

    #[test]
    fn only_every_answer_no_clears_the_dose() {
        let qs = [q("a"), q("b")];
        assert!(cleared(&qs, |_| Some(false)).is_ok());
        let e = cleared(&qs, |x| (x.id == "a").then_some(true)).expect_err("blocked");
        assert_eq!(e.len(), 2, "a yes and an unanswered question");
        assert!(e[0].why.starts_with("Answered yes") && e[1].why == "answer yes or no");
        assert!(
            cleared(&[], |_| None).is_ok(),
            "no question, nothing to clear"
        );
    }
}
