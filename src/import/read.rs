//! Reading CSV and JSON Lines into [`RawRow`]s, line by line, without judging
//! their content: that is [`crate::record::RowParser`]'s job.

use std::io::{BufRead, Read};
use std::sync::Arc;

use crate::record::RawRow;

/// The two file formats agencies send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            _ => Err(format!("expected csv or jsonl, got {s:?}")),
        }
    }
}

/// What reading one row gave: a row to parse, or a problem that makes it unreadable.
pub enum Item {
    Row(RawRow),
    /// The row could not be read as CSV or JSON; `raw` is its text, for the rejected file.
    Unreadable {
        line: u64,
        field: String,
        reason: String,
        raw: String,
    },
}

/// A source of rows with the number of bytes consumed so far (for progress).
pub trait RowSource {
    /// The header of a CSV file; JSON Lines has none.
    fn header(&self) -> Option<&Arc<[String]>>;
    fn next_item(&mut self) -> Option<Result<Item, std::io::Error>>;
    fn bytes_read(&self) -> u64;
}

pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    header: Arc<[String]>,
    record: csv::ByteRecord,
}

impl<R: Read> CsvRows<R> {
    pub fn new(input: R) -> Result<Self, HeaderError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader
            .byte_headers()
            .map_err(|e| HeaderError(e.to_string()))?;
        let mut names = Vec::with_capacity(header.len());
        for cell in header.iter() {
            let name = std::str::from_utf8(cell)
                .map_err(|_| HeaderError("the header is not valid UTF-8".into()))?;
            names.push(name.trim().to_string());
        }
        if names.iter().all(|n| n.is_empty()) {
            return Err(HeaderError("the file has no header line".into()));
        }
        Ok(CsvRows {
            reader,
            header: names.into(),
            record: csv::ByteRecord::new(),
        })
    }
}

/// The first line of a CSV file could not be read as a header.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HeaderError(pub String);

impl<R: Read> RowSource for CsvRows<R> {
    fn header(&self) -> Option<&Arc<[String]>> {
        Some(&self.header)
    }

    fn next_item(&mut self) -> Option<Result<Item, std::io::Error>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                let raw = || String::from_utf8_lossy(self.record.as_slice()).into_owned();
                if self.record.len() != self.header.len() {
                    return Some(Ok(Item::Unreadable {
                        line,
                        field: "(row)".into(),
                        reason: format!(
                            "has {} fields, the header has {}",
                            self.record.len(),
                            self.header.len()
                        ),
                        raw: raw(),
                    }));
                }
                let mut values = Vec::with_capacity(self.record.len());
                for (i, cell) in self.record.iter().enumerate() {
                    match std::str::from_utf8(cell) {
                        Ok(s) => values.push(s.to_string()),
                        Err(_) => {
                            return Some(Ok(Item::Unreadable {
                                line,
                                field: self.header[i].clone(),
                                reason: "is not valid UTF-8".into(),
                                raw: raw(),
                            }))
                        }
                    }
                }
                Some(Ok(Item::Row(RawRow {
                    line,
                    columns: self.header.clone(),
                    values,
                })))
            }
            Err(e) => match e.into_kind() {
                csv::ErrorKind::Io(io) => Some(Err(io)),
                other => {
                    let line = self.reader.position().line();
                    Some(Ok(Item::Unreadable {
                        line,
                        field: "(row)".into(),
                        reason: format!("unreadable CSV: {other:?}"),
                        raw: String::new(),
                    }))
                }
            },
        }
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

pub struct JsonLines<R: BufRead> {
    input: R,
    line: u64,
    bytes: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonLines<R> {
    pub fn new(input: R) -> Self {
        JsonLines {
            input,
            line: 0,
            bytes: 0,
            buf: Vec::new(),
        }
    }

    fn unreadable(&self, field: &str, reason: impl Into<String>, raw: &str) -> Item {
        Item::Unreadable {
            line: self.line,
            field: field.into(),
            reason: reason.into(),
            raw: raw.to_string(),
        }
    }
}

impl<R: BufRead> RowSource for JsonLines<R> {
    fn header(&self) -> Option<&Arc<[String]>> {
        None
    }

    fn next_item(&mut self) -> Option<Result<Item, std::io::Error>> {
        loop {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.bytes += n as u64;
                    self.line += 1;
                }
                Err(e) => return Some(Err(e)),
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim_end_matches(['\n', '\r']).to_string(),
                Err(_) => {
                    let raw = String::from_utf8_lossy(&self.buf).into_owned();
                    return Some(Ok(self.unreadable("(row)", "is not valid UTF-8", &raw)));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(Ok(self.object_row(&text)));
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

impl<R: BufRead> JsonLines<R> {
    /// One JSON object to a row. Strings stay as they are; numbers keep their text;
    /// booleans read as yes/no; lists of strings become `;`-lists; null is empty.
    fn object_row(&self, text: &str) -> Item {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let object: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => return self.unreadable("(row)", "is not a JSON object", text),
            Err(e) => return self.unreadable("(row)", format!("is not valid JSON: {e}"), text),
        };
        let mut columns = Vec::with_capacity(object.len());
        let mut values = Vec::with_capacity(object.len());
        for (key, value) in object {
            use serde_json::Value;
            let cell = match value {
                Value::Null => String::new(),
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "yes" } else { "no" }.to_string(),
                Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) if !s.contains(';') => parts.push(s),
                            Value::String(_) => {
                                return self.unreadable(&key, "a list item contains ';'", text)
                            }
                            _ => {
                                return self.unreadable(&key, "a list may hold only strings", text)
                            }
                        }
                    }
                    parts.join(";")
                }
                Value::Object(_) => {
                    return self.unreadable(&key, "must not be a JSON object", text)
                }
            };
            columns.push(key.trim().to_string());
            values.push(cell);
        }
        Item::Row(RawRow {
            line: self.line,
            columns: columns.into(),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(source: &mut dyn RowSource) -> Vec<Item> {
        std::iter::from_fn(|| source.next_item())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn csv_rows_carry_their_line_even_across_quoted_newlines() {
        let text = "record_id,agency,notes\n1,a,\"two\nlines\"\n2,a,x\n3,a\n";
        let mut src = CsvRows::new(text.as_bytes()).unwrap();
        let items = rows(&mut src);
        let lines: Vec<u64> = items
            .iter()
            .map(|i| match i {
                Item::Row(r) => r.line,
                Item::Unreadable { line, .. } => *line,
            })
            .collect();
        assert_eq!(lines, vec![2, 4, 5]);
        assert!(
            matches!(&items[2], Item::Unreadable { reason, .. } if reason.contains("3 fields") || reason.contains("2 fields"))
        );
        assert_eq!(src.bytes_read(), text.len() as u64);
    }

    #[test]
    fn csv_invalid_utf8_names_the_field() {
        let mut text = b"record_id,agency,given_name\n1,a,".to_vec();
        text.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let mut src = CsvRows::new(&text[..]).unwrap();
        match &rows(&mut src)[0] {
            Item::Unreadable { field, line, .. } => {
                assert_eq!((field.as_str(), *line), ("given_name", 2))
            }
            Item::Row(_) => panic!("expected an unreadable row"),
        }
    }

    #[test]
    fn json_lines_values_become_cells() {
        let text = "{\"record_id\": \"1\", \"agency\": \"a\", \"age_years\": 7, \"tracing_consent\": true, \"other_names\": [\"Xamar\", \"Maxi\"], \"notes\": null}\n\n[1]\n{bad\n";
        let mut src = JsonLines::new(text.as_bytes());
        let items = rows(&mut src);
        assert_eq!(items.len(), 3);
        match &items[0] {
            Item::Row(r) => {
                assert_eq!(r.get("age_years"), Some("7"));
                assert_eq!(r.get("tracing_consent"), Some("yes"));
                assert_eq!(r.get("other_names"), Some("Xamar;Maxi"));
                assert_eq!(r.get("notes"), Some(""));
            }
            Item::Unreadable { .. } => panic!("first line is valid"),
        }
        assert!(matches!(&items[1], Item::Unreadable { line: 3, .. }));
        assert!(
            matches!(&items[2], Item::Unreadable { line: 4, reason, .. } if reason.contains("not valid JSON"))
        );
    }
}
