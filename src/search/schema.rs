//! The fields of the search index.

use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};

/// A family of name fields: the tokens, their phonetic codes and their skeletons
/// are kept apart so that each has its own term statistics.
///
/// Only the child's own names carry phonetic codes and compound forms. Parents'
/// names and places are secondary criteria: their tokens and skeletons (with the
/// indexed spellings within one edit at query time) find the candidates, the
/// ranker compares them fully, and a quarter of the terms of a record are saved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameFields {
    pub normalized: Field,
    pub phonetic: Option<Field>,
    pub skeleton: Field,
    /// Variant keys and nickname expansions under the name rules (see
    /// `document::add_names`): the child's and the parents' names only.
    pub variants: Option<Field>,
    /// The child's own names: phonetic codes, multi-token values also indexed run
    /// together.
    pub full: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `kind:agency/record_id`, for delete-by-term.
    pub key: Field,
    pub kind: Field,
    pub agency: Field,
    /// "1" on children without tracing consent.
    pub restricted: Field,
    pub own: NameFields,
    pub father: NameFields,
    pub mother: NameFields,
    /// The inquirer when neither father nor mother (grandparent, uncle, ...).
    pub relative: NameFields,
    pub place: NameFields,
    /// The country of origin, or without one the countries of the record's
    /// places as the gazetteer knows them.
    pub country: Field,
    /// "M", "F" or "U".
    pub sex: Field,
    /// Sex, birth years, kind and consent packed in one dense fast u64 (see
    /// [`pack_facts`]): the candidate collector reads it for every document it
    /// scores.
    pub facts: Field,
    pub birth_min: Field,
    pub birth_max: Field,
    /// The compact summary the ranker reads (see `summary`).
    pub summary: Field,
    /// A fast u64 naming the record (see `candidates::key_hash`): the batch
    /// matcher's candidate stage maps hits to its records, and tells their kind,
    /// without reading a stored document.
    pub key_hash: Field,
    /// The store's row the record was read from (`store::StoreRow`), fast: the
    /// hits shown are read from the store again by it; 0 when not known.
    pub store_row: Field,
    /// The birth years a record allows as terms ("2014"), and with the sex
    /// ("m2014"), frequencies kept: the candidate query's term for age, which a
    /// range query would not let tantivy prune.
    pub born: Field,
}

pub(crate) const RESTRICTED: &str = "1";

fn name_fields(
    builder: &mut tantivy::schema::SchemaBuilder,
    prefix: &str,
    full: bool,
    variants: bool,
) -> NameFields {
    // One value is one term (the raw tokenizer); term frequencies let a record with
    // a name in two places weigh a little more.
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(false),
    );
    NameFields {
        normalized: builder.add_text_field(&format!("{prefix}_n"), opts.clone()),
        phonetic: full.then(|| builder.add_text_field(&format!("{prefix}_p"), opts.clone())),
        skeleton: builder.add_text_field(&format!("{prefix}_s"), opts.clone()),
        variants: variants.then(|| builder.add_text_field(&format!("{prefix}_v"), opts)),
        full,
    }
}

/// A keyword: one value, one term, no frequencies, no field norms (a million
/// records would pay a byte each per field for lengths nobody uses).
fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_text_field("key", keyword());
    let kind = b.add_text_field("kind", keyword());
    // A fast column too: the candidate collector checks the consent rule with it.
    let agency = b.add_text_field("agency", keyword().set_fast("raw"));
    let restricted = b.add_text_field("restricted", keyword());
    let own = name_fields(&mut b, "own", true, true);
    let father = name_fields(&mut b, "father", false, true);
    let mother = name_fields(&mut b, "mother", false, true);
    let relative = name_fields(&mut b, "relative", false, false);
    let place = name_fields(&mut b, "place", false, false);
    // With frequencies, as the name fields: every term of the candidate query
    // scores alike.
    let country = b.add_text_field(
        "country",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs)
                .set_fieldnorms(false),
        ),
    );
    let sex = b.add_text_field("sex", keyword());
    let facts = b.add_u64_field("facts", NumericOptions::default().set_fast());
    let year = NumericOptions::default().set_fast().set_indexed();
    let birth_min = b.add_i64_field("birth_min", year.clone());
    let birth_max = b.add_i64_field("birth_max", year);
    let summary = b.add_bytes_field("summary", BytesOptions::default().set_stored());
    let key_hash = b.add_u64_field("key_hash", NumericOptions::default().set_fast());
    let store_row = b.add_i64_field("store_row", NumericOptions::default().set_fast());
    let born = b.add_text_field(
        "born",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs)
                .set_fieldnorms(false),
        ),
    );
    let fields = Fields {
        key,
        kind,
        agency,
        restricted,
        own,
        father,
        mother,
        relative,
        place,
        country,
        sex,
        facts,
        birth_min,
        birth_max,
        summary,
        key_hash,
        store_row,
        born,
    };
    (b.build(), fields)
}

/// Years are stored as offsets from this year, in 12 bits.
const YEAR_BASE: i32 = 1800;
const YEAR_MASK: u64 = 0xfff;

/// Bit of [`pack_facts`]: an inquiry (else a child).
pub(crate) const FACT_INQUIRY: u64 = 1 << 27;
/// Bit of [`pack_facts`]: a child without tracing consent.
pub(crate) const FACT_RESTRICTED: u64 = 1 << 28;

/// Packs a record's sex code (0 U, 1 M, 2 F) and birth years into one u64, with
/// the [`FACT_INQUIRY`] and [`FACT_RESTRICTED`] bits.
pub(crate) fn pack_facts(
    sex_code: u8,
    birth: Option<(i32, i32)>,
    inquiry: bool,
    restricted: bool,
) -> u64 {
    let mut v = u64::from(sex_code & 3);
    if let Some((min, max)) = birth {
        let off = |y: i32| ((y - YEAR_BASE).clamp(0, YEAR_MASK as i32)) as u64;
        v |= 1 << 2 | off(min) << 3 | off(max) << 15;
    }
    if inquiry {
        v |= FACT_INQUIRY;
    }
    if restricted {
        v |= FACT_RESTRICTED;
    }
    v
}

/// The sex code and birth years of [`pack_facts`].
pub(crate) fn unpack_facts(v: u64) -> (u8, Option<(i32, i32)>) {
    let sex = (v & 3) as u8;
    if v & 4 == 0 {
        return (sex, None);
    }
    let year = |shift: u32| ((v >> shift) & YEAR_MASK) as i32 + YEAR_BASE;
    (sex, Some((year(3), year(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip() {
        for (sex, birth) in [(0, None), (2, Some((2012, 2013))), (1, Some((1900, 2100)))] {
            for (inquiry, restricted) in [(false, false), (true, false), (false, true)] {
                let v = pack_facts(sex, birth, inquiry, restricted);
                assert_eq!(unpack_facts(v), (sex, birth));
                assert_eq!(v & FACT_INQUIRY != 0, inquiry);
                assert_eq!(v & FACT_RESTRICTED != 0, restricted);
            }
        }
    }
}
