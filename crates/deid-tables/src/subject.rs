//! What a table lists, read from its name: `patients.csv`, `dim_organization.parquet`.
//!
//! The same header means different things in different tables. `Id` in a table of patients
//! is the patient's record number; `Id` in a table of hospitals identifies a hospital, no
//! person; `NAME` there is the hospital's name. Extracts name their tables after what a row
//! stands for, so the table's name settles what its own key and name columns hold. Columns
//! that point elsewhere (`PATIENT` in a table of encounters) keep their header's meaning.

/// What one row of a table stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableSubject {
    /// Patients or other people whose data this is: the table's key is their record number.
    Patients,
    /// Clinicians: their names are people's names, but their key identifies no patient.
    Clinicians,
    /// Organisations, facilities, payers and sites: no person at all.
    Organizations,
    /// Anything else (encounters, claims, lab results) or a name that says nothing.
    Other,
}

/// Singular words naming each subject.
const PATIENTS: &[&str] = &[
    "patient",
    "person",
    "people",
    "individual",
    "participant",
    "subject",
    "enrollee",
    "beneficiary",
    "client",
    "demographic",
];
const CLINICIANS: &[&str] = &[
    "provider",
    "clinician",
    "physician",
    "practitioner",
    "doctor",
    "nurse",
    "prescriber",
];
const ORGANIZATIONS: &[&str] = &[
    "organization",
    "organisation",
    "org",
    "facility",
    "hospital",
    "clinic",
    "site",
    "location",
    "department",
    "payer",
    "insurer",
    "pharmacy",
    "vendor",
    "supplier",
    "manufacturer",
    "company",
];

/// Header words of a column that holds a table's own key.
const KEY_WORDS: &[&str] = &["id", "key", "uuid", "guid", "pk"];

impl TableSubject {
    /// The subject of a table named `name` (a file stem), from its last word:
    /// `payer_transitions` lists transitions, `dim_patient` patients.
    pub fn of(name: &str) -> TableSubject {
        let words = crate::classify::header_words(name);
        let Some(last) = words
            .iter()
            .rfind(|w| !w.chars().all(|c| c.is_ascii_digit()))
        else {
            return TableSubject::Other;
        };
        let word = singular(last);
        if PATIENTS.contains(&word.as_str()) {
            TableSubject::Patients
        } else if CLINICIANS.contains(&word.as_str()) {
            TableSubject::Clinicians
        } else if ORGANIZATIONS.contains(&word.as_str()) {
            TableSubject::Organizations
        } else {
            TableSubject::Other
        }
    }

    /// Whether a column with these header words holds the table's own key: `Id`, `uuid`,
    /// or the subject's word then a key word (`patient_id` in a table of patients).
    pub(crate) fn is_own_key(self, header: &[String]) -> bool {
        let Some((last, before)) = header.split_last() else {
            return false;
        };
        if !KEY_WORDS.contains(&last.as_str()) {
            return false;
        }
        self.named_by(before)
    }

    /// Whether a column with these header words holds the name of what a row stands for:
    /// `NAME`, or the subject's word then `name` (`facility_name` in a table of facilities).
    pub(crate) fn is_own_name(self, header: &[String]) -> bool {
        match header.split_last() {
            Some((last, before)) if last == "name" => self.named_by(before),
            _ => false,
        }
    }

    /// Whether header words before a key or name word leave the subject implied (none) or
    /// name it in one word.
    fn named_by(self, before: &[String]) -> bool {
        let words = match self {
            TableSubject::Patients => PATIENTS,
            TableSubject::Clinicians => CLINICIANS,
            TableSubject::Organizations => ORGANIZATIONS,
            TableSubject::Other => &[],
        };
        match before {
            [] => true,
            [word] => words.contains(&singular(word).as_str()),
            _ => false,
        }
    }
}

/// `facilities` → `facility`, `patients` → `patient`, `people` stays.
fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = word.strip_suffix('s')
        && !word.ends_with("ss")
    {
        stem.to_owned()
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_from_the_last_word() {
        assert_eq!(TableSubject::of("patients"), TableSubject::Patients);
        assert_eq!(TableSubject::of("dim_patient"), TableSubject::Patients);
        assert_eq!(TableSubject::of("Patients2024"), TableSubject::Patients);
        assert_eq!(TableSubject::of("providers"), TableSubject::Clinicians);
        assert_eq!(
            TableSubject::of("organizations"),
            TableSubject::Organizations
        );
        assert_eq!(TableSubject::of("facilities"), TableSubject::Organizations);
        assert_eq!(TableSubject::of("payer_transitions"), TableSubject::Other);
        assert_eq!(TableSubject::of("patient_encounters"), TableSubject::Other);
        assert_eq!(TableSubject::of("address"), TableSubject::Other);
        assert_eq!(TableSubject::of(""), TableSubject::Other);
    }

    #[test]
    fn knows_a_tables_own_key() {
        let words = |h: &str| crate::classify::header_words(h);
        assert!(TableSubject::Patients.is_own_key(&words("Id")));
        assert!(TableSubject::Patients.is_own_key(&words("patient_id")));
        assert!(TableSubject::Organizations.is_own_key(&words("FacilityID")));
        assert!(TableSubject::Other.is_own_key(&words("uuid")));
        assert!(!TableSubject::Other.is_own_key(&words("patient_id")));
        assert!(!TableSubject::Organizations.is_own_key(&words("patient_id")));
        assert!(!TableSubject::Patients.is_own_key(&words("name")));
    }
}
