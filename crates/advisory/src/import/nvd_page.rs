//! NVD CVE API 2.0 response pages (`{"vulnerabilities": [{"cve": ...}, ...]}`), converted
//! record by record while the page is read, so a dump of hundreds of MB holds only the
//! resulting advisories in memory, never the page.

use std::fmt;
use std::path::Path;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;

use super::nvd::{convert, NvdCve};
use super::read::{json_seed_from_file, json_seed_from_slice, DUMP_LIMIT};
use crate::{Advisory, ImportError};

#[derive(Debug, Deserialize)]
struct PageItem {
    cve: NvdCve,
}

/// Where the visitors put what they found: advisories, and the first conversion error
/// (kept whole, since serde's error type can only carry a message).
struct Sink<'a> {
    path: &'a Path,
    out: Vec<Advisory>,
    failure: Option<ImportError>,
}

struct PageSeed<'s, 'a>(&'s mut Sink<'a>);
struct ItemsSeed<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for PageSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an NVD API 2.0 response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "vulnerabilities" {
                map.next_value_seed(ItemsSeed(&mut *self.0))?;
                seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if seen {
            Ok(())
        } else {
            Err(A::Error::missing_field("vulnerabilities"))
        }
    }
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of {\"cve\": ...} items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<PageItem>()? {
            match convert(self.0.path, item.cve) {
                Ok(Some(adv)) => self.0.out.push(adv),
                Ok(None) => {}
                Err(e) => {
                    let message = e.to_string();
                    self.0.failure = Some(e);
                    return Err(A::Error::custom(message));
                }
            }
        }
        Ok(())
    }
}

fn finish(
    mut sink: Sink<'_>,
    result: Result<(), ImportError>,
) -> Result<Vec<Advisory>, ImportError> {
    match (sink.failure.take(), result) {
        (Some(e), _) | (None, Err(e)) => Err(e),
        (None, Ok(())) => Ok(sink.out),
    }
}

/// Reads an NVD API 2.0 response page file, streaming.
pub fn import_nvd_page_file(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    let mut sink = Sink {
        path,
        out: Vec::new(),
        failure: None,
    };
    let result = json_seed_from_file(path, DUMP_LIMIT, PageSeed(&mut sink));
    finish(sink, result)
}

/// Parses an NVD API 2.0 response page from bytes.
pub fn parse_nvd_page(path: &Path, bytes: &[u8]) -> Result<Vec<Advisory>, ImportError> {
    let mut sink = Sink {
        path,
        out: Vec::new(),
        failure: None,
    };
    let result = json_seed_from_slice(path, bytes, PageSeed(&mut sink));
    finish(sink, result)
}
