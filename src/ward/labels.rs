//! What a course's vial labels show: the patient (name, date of birth, ID), the template's
//! product, and every vial active on the day, as plain data for the renderer.

use chrono::NaiveDate;

use super::{VialView, Ward, WardError};
use crate::course::VialStatus;

/// A course's vials to label, with what every label repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VialLabels {
    /// The course.
    pub course: i64,
    /// The patient's ID.
    pub patient: String,
    /// The patient's name.
    pub name: String,
    /// The patient's date of birth.
    pub dob: NaiveDate,
    /// The template's product name.
    pub product: String,
    /// The vials active on the day (not discarded, not expired), in the order they were added.
    pub active: Vec<VialView>,
    /// The course's other vials (discarded or expired on the day), to say why none is printed.
    pub inactive: Vec<VialView>,
}

impl Ward {
    /// The labels of course `course`'s vials active on `today`, the course verified.
    pub fn vial_labels(&mut self, course: i64, today: NaiveDate) -> Result<VialLabels, WardError> {
        let vials = self.vials(Some(course), today)?;
        let view = self.view(course)?;
        let p = self.patient(&view.loaded.record.patient_id)?;
        let (active, inactive) = vials
            .into_iter()
            .partition(|v| v.status == VialStatus::Active);
        Ok(VialLabels {
            course,
            patient: p.id,
            name: p.name,
            dob: p.dob,
            product: view.loaded.template.product.clone(),
            active,
            inactive,
        })
    }
}
