//! Reading the CSV files once and encoding every column the rules use: each distinct
//! value is interned to an id and analysed once, so that comparing two records is a
//! matter of ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compare::{Needs, ValueSet, NO_VALUE};
use crate::rules::{Rules, RulesError};

/// A small, fast, non-cryptographic hasher for interning (multiply–rotate, as in
/// rustc's FxHash). Keys come from data files, not from adversaries across a network.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(K);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Errors reading data files.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    #[error("{file}:{line}: {message}")]
    Row {
        file: PathBuf,
        line: u64,
        message: String,
    },
}

/// One encoded column: a value id per record and the distinct values.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    /// Value id of each record ([`NO_VALUE`] when empty).
    pub ids: Vec<u32>,
    pub values: ValueSet,
    /// Records holding each value, left file (or the only file).
    pub counts_left: Vec<u64>,
    /// Records holding each value in the right file (empty when deduplicating).
    pub counts_right: Vec<u64>,
}

impl Column {
    /// Records holding each value, over both files.
    pub fn counts(&self) -> Vec<u64> {
        if self.counts_right.is_empty() {
            return self.counts_left.clone();
        }
        self.counts_left
            .iter()
            .zip(&self.counts_right)
            .map(|(a, b)| a + b)
            .collect()
    }

    /// Chance that two random records (one per file when linking, two different
    /// ones when deduplicating) hold the same present value, given both are present.
    pub fn agreement_chance(&self, dedupe: bool) -> f64 {
        if dedupe {
            let n: u64 = self.counts_left.iter().sum();
            if n < 2 {
                return 0.0;
            }
            let same: f64 = self
                .counts_left
                .iter()
                .map(|&c| c as f64 * (c.saturating_sub(1)) as f64)
                .sum();
            same / (n as f64 * (n - 1) as f64)
        } else {
            let nl: u64 = self.counts_left.iter().sum();
            let nr: u64 = self.counts_right.iter().sum();
            if nl == 0 || nr == 0 {
                return 0.0;
            }
            let same: f64 = self
                .counts_left
                .iter()
                .zip(&self.counts_right)
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum();
            same / (nl as f64 * nr as f64)
        }
    }
}

/// The records of one file (deduplication) or two (linkage), encoded.
///
/// Records are numbered from 0: the left file's first, then the right file's.
#[derive(Debug)]
pub struct Dataset {
    pub ids: Vec<String>,
    pub n_left: usize,
    pub dedupe: bool,
    pub columns: Vec<Column>,
    /// The same value ids record by record (`rows[r * columns.len() + c]`), so that
    /// comparing two records reads two cache lines rather than one per column.
    pub rows: Vec<u32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The value ids of record `r`, one per column.
    #[inline]
    pub fn row(&self, r: u32) -> &[u32] {
        let w = self.columns.len();
        &self.rows[r as usize * w..(r as usize + 1) * w]
    }

    pub fn n_right(&self) -> usize {
        self.ids.len() - self.n_left
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// All pairs the task could compare.
    pub fn total_pairs(&self) -> u64 {
        if self.dedupe {
            let n = self.len() as u64;
            n * n.saturating_sub(1) / 2
        } else {
            self.n_left as u64 * self.n_right() as u64
        }
    }

    /// Reads `left` (and `right` unless deduplicating) with the columns `rules` use.
    pub fn load(rules: &Rules, left: &Path, right: Option<&Path>) -> Result<Dataset, DataError> {
        let names: Vec<String> = rules.columns().iter().map(|s| s.to_string()).collect();
        let value_columns = &names[1..];
        let mut needs: Vec<Needs> = vec![Needs::default(); value_columns.len()];
        for c in &rules.comparisons {
            let i = value_columns
                .iter()
                .position(|n| *n == c.column.value)
                .expect("compared columns are listed");
            let n = Needs::of(&c.levels);
            needs[i].phonetic |= n.phonetic;
            needs[i].dates |= n.dates;
            needs[i].numbers |= n.numbers;
        }

        let mut interners: Vec<FastMap<Box<str>, u32>> =
            vec![FastMap::default(); value_columns.len()];
        let mut strings: Vec<Vec<Box<str>>> = vec![Vec::new(); value_columns.len()];
        let mut ids: Vec<String> = Vec::new();
        let mut col_ids: Vec<Vec<u32>> = vec![Vec::new(); value_columns.len()];

        read_file(
            rules,
            left,
            &names,
            &mut ids,
            &mut col_ids,
            &mut interners,
            &mut strings,
        )?;
        let n_left = ids.len();
        if let Some(r) = right {
            read_file(
                rules,
                r,
                &names,
                &mut ids,
                &mut col_ids,
                &mut interners,
                &mut strings,
            )?;
        }
        drop(interners);

        let dedupe = right.is_none();
        let columns: Vec<Column> = value_columns
            .iter()
            .zip(col_ids)
            .zip(strings)
            .zip(needs)
            .map(|(((name, ids), strings), needs)| {
                let nv = strings.len();
                let mut counts_left = vec![0u64; nv];
                let mut counts_right = if dedupe { Vec::new() } else { vec![0u64; nv] };
                for (i, &v) in ids.iter().enumerate() {
                    if v != NO_VALUE {
                        if i < n_left {
                            counts_left[v as usize] += 1;
                        } else {
                            counts_right[v as usize] += 1;
                        }
                    }
                }
                Column {
                    name: name.clone(),
                    ids,
                    values: ValueSet::new(strings, needs),
                    counts_left,
                    counts_right,
                }
            })
            .collect();
        let mut rows = vec![NO_VALUE; ids.len() * columns.len()];
        for (c, col) in columns.iter().enumerate() {
            for (r, &v) in col.ids.iter().enumerate() {
                rows[r * columns.len() + c] = v;
            }
        }
        Ok(Dataset {
            ids,
            n_left,
            dedupe,
            columns,
            rows,
        })
    }
}

fn read_file(
    rules: &Rules,
    path: &Path,
    names: &[String],
    ids: &mut Vec<String>,
    col_ids: &mut [Vec<u32>],
    interners: &mut [FastMap<Box<str>, u32>],
    strings: &mut [Vec<Box<str>>],
) -> Result<(), DataError> {
    let file_err = |message: String| DataError::File {
        file: path.to_path_buf(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| file_err(e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| file_err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    rules.check_columns(&header, path)?;
    let positions: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).expect("checked"))
        .collect();
    // The main thread parses batches of records; two workers intern alternate
    // columns of each batch (the first also takes the ids).
    type Group<'g> = Vec<(
        usize,
        &'g mut Vec<u32>,
        &'g mut FastMap<Box<str>, u32>,
        &'g mut Vec<Box<str>>,
    )>;
    let mut groups: [Group; 2] = [Vec::new(), Vec::new()];
    for (k, ((c, i), s)) in col_ids
        .iter_mut()
        .zip(interners.iter_mut())
        .zip(strings.iter_mut())
        .enumerate()
    {
        groups[k % 2].push((k, c, i, s));
    }
    let [g0, g1] = groups;
    let positions = &positions;
    std::thread::scope(|scope| {
        let (tx0, rx0) = std::sync::mpsc::sync_channel::<Arc<Vec<csv::ByteRecord>>>(4);
        let (tx1, rx1) = std::sync::mpsc::sync_channel::<Arc<Vec<csv::ByteRecord>>>(4);
        let w0 = scope.spawn(move || intern_batches(rx0, g0, Some(ids), path, names, positions));
        let w1 = scope.spawn(move || intern_batches(rx1, g1, None, path, names, positions));
        let mut parse_error = None;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let mut rec = csv::ByteRecord::new();
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => batch.push(rec),
                Ok(false) => break,
                Err(e) => {
                    parse_error = Some(file_err(e.to_string()));
                    break;
                }
            }
            if batch.len() == BATCH {
                let b = Arc::new(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                // A worker that stopped on an error has dropped its receiver.
                if tx0.send(b.clone()).is_err() || tx1.send(b).is_err() {
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let b = Arc::new(batch);
            let _ = tx0.send(b.clone());
            let _ = tx1.send(b);
        }
        drop((tx0, tx1));
        let r0 = w0.join().expect("interning worker");
        let r1 = w1.join().expect("interning worker");
        // Report the earliest row error, else a parse error.
        match (r0, r1) {
            (Err(a), Err(b)) => Err(if row_line(&a) <= row_line(&b) { a } else { b }),
            (Err(e), _) | (_, Err(e)) => Err(e),
            _ => parse_error.map_or(Ok(()), Err),
        }
    })
}

/// Records per batch handed from the parser to the interning workers.
const BATCH: usize = 8192;

fn row_line(e: &DataError) -> u64 {
    match e {
        DataError::Row { line, .. } => *line,
        _ => u64::MAX,
    }
}

/// Interns the values of some columns (and, with `ids`, the id column) of each batch.
#[allow(clippy::type_complexity)]
fn intern_batches(
    rx: std::sync::mpsc::Receiver<Arc<Vec<csv::ByteRecord>>>,
    mut group: Vec<(
        usize,
        &mut Vec<u32>,
        &mut FastMap<Box<str>, u32>,
        &mut Vec<Box<str>>,
    )>,
    mut ids: Option<&mut Vec<String>>,
    path: &Path,
    names: &[String],
    positions: &[usize],
) -> Result<(), DataError> {
    for batch in rx {
        for rec in batch.iter() {
            let line = rec.position().map_or(0, |p| p.line());
            let field = |i: usize| -> Result<&str, DataError> {
                let bytes = rec.get(positions[i]).unwrap_or(b"");
                std::str::from_utf8(bytes)
                    .map(str::trim)
                    .map_err(|_| DataError::Row {
                        file: path.to_path_buf(),
                        line,
                        message: format!("column `{}` is not valid UTF-8", names[i]),
                    })
            };
            if let Some(ids) = ids.as_deref_mut() {
                let id = field(0)?;
                if id.is_empty() {
                    return Err(DataError::Row {
                        file: path.to_path_buf(),
                        line,
                        message: format!("empty id column `{}`", names[0]),
                    });
                }
                ids.push(id.to_string());
            }
            for (k, col, interner, strings) in group.iter_mut() {
                let v = field(*k + 1)?;
                let vid = if v.is_empty() {
                    NO_VALUE
                } else if let Some(&x) = interner.get(v) {
                    x
                } else {
                    let x = strings.len() as u32;
                    interner.insert(v.into(), x);
                    strings.push(v.into());
                    x
                };
                col.push(vid);
            }
        }
    }
    Ok(())
}
