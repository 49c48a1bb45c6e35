//! The entity taxonomy: what kind of identifier a finding is.
//!
//! The names are a fixed contract (DESIGN §5): findings, column classes, policies and the
//! scorer all spell them the same way, in `SCREAMING_SNAKE_CASE`.

use std::fmt;
use std::str::FromStr;

macro_rules! entity_types {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The kind of identifier a finding is: the 18 HIPAA Safe Harbor identifiers, split
        /// where the transform differs, plus the extras clinical de-identification removes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EntityType {
            $($(#[$doc])* $variant,)*
        }

        impl EntityType {
            /// Every entity type, in contract order.
            pub const ALL: &'static [EntityType] = &[$(EntityType::$variant,)*];

            /// The contract name, for example `"NAME"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EntityType::$variant => $name,)*
                }
            }
        }

        impl FromStr for EntityType {
            type Err = UnknownEntityType;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(EntityType::$variant),)*
                    _ => Err(UnknownEntityType(s.to_owned())),
                }
            }
        }
    };
}

entity_types! {
    /// A person's name.
    Name = "NAME",
    /// A street line, including apartment, unit or P.O. box.
    StreetAddress = "STREET_ADDRESS",
    /// A city, town or village.
    City = "CITY",
    /// A county (`Cook County`).
    County = "COUNTY",
    /// A ZIP or ZIP+4 code.
    Zip = "ZIP",
    /// Any date element more specific than a year.
    Date = "DATE",
    /// An age of 90 or more.
    AgeOver89 = "AGE_OVER_89",
    /// A telephone number.
    Phone = "PHONE",
    /// A fax number.
    Fax = "FAX",
    /// An e-mail address.
    Email = "EMAIL",
    /// A US Social Security number.
    Ssn = "SSN",
    /// A medical record number.
    Mrn = "MRN",
    /// A health plan beneficiary or member number.
    HealthPlanId = "HEALTH_PLAN_ID",
    /// An account number.
    AccountNumber = "ACCOUNT_NUMBER",
    /// A certificate or licence number (DEA, NPI, driver's licence).
    LicenseNumber = "LICENSE_NUMBER",
    /// A vehicle identifier or licence plate.
    VehicleId = "VEHICLE_ID",
    /// A device identifier or serial number.
    DeviceId = "DEVICE_ID",
    /// A web address that identifies a person or their records.
    Url = "URL",
    /// An IPv4 or IPv6 address.
    IpAddress = "IP_ADDRESS",
    /// A biometric identifier (fingerprint or voice-print template id).
    BiometricId = "BIOMETRIC_ID",
    /// Any other unique identifying number, characteristic or code.
    OtherId = "OTHER_ID",
    /// A latitude/longitude position.
    GeoCoordinate = "GEO_COORDINATE",
    /// A hospital, clinic or ward name.
    Facility = "FACILITY",
    /// A payment card number.
    CreditCard = "CREDIT_CARD",
    /// An international bank account number.
    Iban = "IBAN",
    /// A network hardware address.
    MacAddress = "MAC_ADDRESS",
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for EntityType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EntityType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The error for a name that is not in the taxonomy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity type `{0}` (expected one of NAME, DATE, SSN, … see `deid rules types`)")]
pub struct UnknownEntityType(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &entity in EntityType::ALL {
            assert_eq!(entity.as_str().parse::<EntityType>(), Ok(entity));
        }
        assert_eq!(EntityType::ALL.len(), 26);
    }

    #[test]
    fn unknown_name_is_an_error() {
        assert!("PERSON".parse::<EntityType>().is_err());
        assert!("name".parse::<EntityType>().is_err());
    }
}
