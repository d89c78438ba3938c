//! Exports in the clinic's standards: FHIR R4 (`fhir`), iCalendar (`ics`). Pure: they take what the ward layer
//! loaded and verified, and return a document.

pub mod fhir;
pub mod ics;
