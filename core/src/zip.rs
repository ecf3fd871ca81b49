//! ZIP5 codes and the US ZIP table.
//!
//! A [`Zip5`] is a five-digit US ZIP code held as a number below 100,000, so that it can index
//! a dense table. ZIP+4 input (`12345-6789`, `123456789`) reduces to its ZIP5. The
//! [`ZipTable`] is the `zipcodes` package's table (see `core/data/NOTICE.md`), bundled into the
//! crate: which ZIPs exist, whether they are active, their state, time zone, area codes and
//! centroid.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// Errors of ZIP parsing and of loading a ZIP table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZipError {
    /// Not five digits, nor ZIP+4 (`12345-6789` or nine digits).
    #[error("not a ZIP5 or ZIP+4 code: {0:?}")]
    Malformed(String),
    /// The ZIP table could not be read.
    #[error("ZIP table line {line}: {message}")]
    Table {
        /// 1-based line of the CSV.
        line: u64,
        /// What was wrong.
        message: String,
    },
}

impl ZipError {
    /// Stable snake_case code: `invalid_zip` for a malformed code, `zip_table` for a table
    /// that cannot be read.
    pub fn code(&self) -> &'static str {
        match self {
            ZipError::Malformed(_) => "invalid_zip",
            ZipError::Table { .. } => "zip_table",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// A five-digit US ZIP code, `0..=99999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zip5(u32);

impl Zip5 {
    /// Exclusive upper bound of the numeric value: dense tables have this many slots.
    pub const COUNT: usize = 100_000;

    /// Parses a ZIP5 or ZIP+4 code, trimming surrounding whitespace.
    ///
    /// Accepted: `12345`, `12345-6789`, `12345 6789`, `123456789`. ZIP+4 reduces to its ZIP5.
    /// A four-digit code is refused, not zero-padded: a dropped leading zero cannot be told
    /// apart from a typo.
    ///
    /// # Errors
    ///
    /// [`ZipError::Malformed`] for anything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use leadroute_core::zip::Zip5;
    /// assert_eq!(Zip5::parse(" 02134-1234 ").unwrap().to_string(), "02134");
    /// assert!(Zip5::parse("2134").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Zip5, ZipError> {
        let s = raw.trim();
        let b = s.as_bytes();
        let five = |d: &[u8]| d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
        let all_digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
        let ok = match b.len() {
            5 => all_digits(b),
            9 => all_digits(b),
            10 => all_digits(&b[..5]) && (b[5] == b'-' || b[5] == b' ') && all_digits(&b[6..]),
            _ => false,
        };
        if ok {
            Ok(Zip5(five(&b[..5])))
        } else {
            Err(ZipError::Malformed(s.chars().take(64).collect()))
        }
    }

    /// The ZIP5 from its numeric value.
    ///
    /// Returns `None` for a value of 100,000 or more.
    pub fn from_u32(value: u32) -> Option<Zip5> {
        (value < Self::COUNT as u32).then_some(Zip5(value))
    }

    /// The numeric value, `0..=99999`, for dense indexing.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Zip5 {
    /// Five digits with leading zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

/// What the ZIP table knows of one ZIP.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipInfo {
    /// The ZIP.
    pub zip: Zip5,
    /// `STANDARD`, `PO BOX`, `UNIQUE` or `MILITARY`.
    pub zip_type: String,
    /// Whether the USPS still delivers to it.
    pub active: bool,
    /// City name.
    pub city: String,
    /// Two-letter state code.
    pub state: String,
    /// IANA time zone, when known.
    pub timezone: Option<Arc<str>>,
    /// The NANP area codes (NPAs, `200..=999`) serving the ZIP, in the table's order; may be
    /// empty.
    pub area_codes: Vec<u16>,
    /// Centroid latitude in degrees.
    pub lat: f64,
    /// Centroid longitude in degrees.
    pub lon: f64,
}

/// The US ZIP table, dense by ZIP5.
#[derive(Debug, Clone)]
pub struct ZipTable {
    slots: Vec<Option<Box<ZipInfo>>>,
    len: usize,
}

/// The bundled CSV (`core/data/us_zips.csv`).
const BUNDLED_CSV: &str = include_str!("../data/us_zips.csv");

impl ZipTable {
    /// The bundled table of 42,724 ZIPs, parsed once per process on first use (~20 ms).
    pub fn bundled() -> &'static ZipTable {
        Self::bundled_static()
    }

    /// The bundled table as a shared handle (see [`ZipTable::bundled`]).
    pub fn bundled_shared() -> Arc<ZipTable> {
        Self::bundled_static().clone()
    }

    fn bundled_static() -> &'static Arc<ZipTable> {
        static TABLE: OnceLock<Arc<ZipTable>> = OnceLock::new();
        TABLE.get_or_init(|| {
            Arc::new(
                ZipTable::from_csv(BUNDLED_CSV.as_bytes()).expect("the bundled ZIP table is valid"),
            )
        })
    }

    /// Reads a table in the bundled CSV's shape
    /// (`zip,type,active,city,state,county,timezone,area_codes,lat,lon`, with a header).
    ///
    /// # Errors
    ///
    /// [`ZipError::Table`] naming the first bad line.
    pub fn from_csv(reader: impl std::io::Read) -> Result<ZipTable, ZipError> {
        let mut slots: Vec<Option<Box<ZipInfo>>> = vec![None; Zip5::COUNT];
        let mut zones: Vec<Arc<str>> = Vec::new();
        let mut len = 0;
        let mut rdr = csv::Reader::from_reader(reader);
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let err = |message: String| ZipError::Table { line, message };
            let rec = rec.map_err(|e| err(e.to_string()))?;
            let field = |n: usize| rec.get(n).unwrap_or("");
            let zip = Zip5::parse(field(0)).map_err(|e| err(e.to_string()))?;
            let coord = |n: usize| {
                field(n)
                    .parse::<f64>()
                    .map_err(|e| err(format!("column {n}: {e}")))
            };
            let tz = field(6);
            let timezone = if tz.is_empty() {
                None
            } else if let Some(z) = zones.iter().find(|z| &***z == tz) {
                Some(z.clone())
            } else {
                zones.push(Arc::from(tz));
                zones.last().cloned()
            };
            let area_codes = parse_area_codes(field(7))
                .ok_or_else(|| err(format!("column 7: not area codes: {:?}", field(7))))?;
            let info = ZipInfo {
                zip,
                zip_type: field(1).to_string(),
                active: field(2) == "1",
                city: field(3).to_string(),
                state: field(4).to_string(),
                timezone,
                area_codes,
                lat: coord(8)?,
                lon: coord(9)?,
            };
            let slot = &mut slots[zip.get() as usize];
            if slot.is_none() {
                len += 1;
            }
            *slot = Some(Box::new(info));
        }
        Ok(ZipTable { slots, len })
    }

    /// What the table knows of `zip`, or `None` for a ZIP it does not list.
    pub fn get(&self, zip: Zip5) -> Option<&ZipInfo> {
        self.slots[zip.get() as usize].as_deref()
    }

    /// Number of ZIPs listed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table lists no ZIP.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Space-separated three-digit area codes (`"787 939"`); `None` when a token is not three
/// ASCII digits. An empty field is no area code.
fn parse_area_codes(field: &str) -> Option<Vec<u16>> {
    field
        .split_ascii_whitespace()
        .map(|t| {
            (t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u16>().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zip5_and_zip_plus4() {
        assert_eq!(Zip5::parse("90210").unwrap().get(), 90210);
        assert_eq!(Zip5::parse("00501").unwrap().to_string(), "00501");
        assert_eq!(Zip5::parse("27871-6093").unwrap().to_string(), "27871");
        assert_eq!(Zip5::parse("278716093").unwrap().to_string(), "27871");
        assert_eq!(Zip5::parse("27871 6093").unwrap().to_string(), "27871");
        for bad in [
            "",
            "ABCDE",
            "1234",
            "123456",
            "12345-",
            "12345-678",
            "１２３４５",
            "12a45",
        ] {
            assert!(Zip5::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn bundled_table_has_the_real_counts() {
        let t = ZipTable::bundled();
        assert_eq!(t.len(), 42_724);
        let active = (0..100_000)
            .filter_map(|n| t.get(Zip5::from_u32(n).unwrap()))
            .filter(|z| z.active)
            .count();
        assert_eq!(active, 41_684);
        let bh = t.get(Zip5::parse("90210").unwrap()).unwrap();
        assert_eq!(
            (bh.city.as_str(), bh.state.as_str()),
            ("Beverly Hills", "CA")
        );
        assert_eq!(bh.timezone.as_deref(), Some("America/Los_Angeles"));
        assert!(bh.area_codes.contains(&310), "{:?}", bh.area_codes);
        let pr = t.get(Zip5::parse("00601").unwrap()).unwrap();
        assert_eq!(pr.area_codes, vec![787, 939]);
        assert!(t.get(Zip5::parse("99999").unwrap()).is_none());
    }

    #[test]
    fn bad_table_names_the_line() {
        let csv = "zip,type,active,city,state,county,timezone,area_codes,lat,lon\n\
                   00501,UNIQUE,1,Holtsville,NY,Suffolk,America/New_York,631,40.8,-73.0\n\
                   ABCDE,UNIQUE,1,X,NY,Y,,631,1,2\n";
        match ZipTable::from_csv(csv.as_bytes()) {
            Err(ZipError::Table { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a table error, got {other:?}"),
        }
        let csv = "zip,type,active,city,state,county,timezone,area_codes,lat,lon\n\
                   00501,UNIQUE,1,Holtsville,NY,Suffolk,America/New_York,631 63,40.8,-73.0\n";
        match ZipTable::from_csv(csv.as_bytes()) {
            Err(ZipError::Table { line, message }) => {
                assert_eq!(line, 2);
                assert!(message.contains("area codes"), "{message}");
            }
            other => panic!("expected a table error, got {other:?}"),
        }
    }
}
