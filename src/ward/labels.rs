//! What a course's vial labels show: the patient (name, date of birth, ID), the template's
//! product, and every vial active on the day, as plain data for the renderer.

use chrono::NaiveDate;

use super::view::VialLabels;
use super::{Ward, WardError};
use crate::course::VialStatus;

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
