//! The search index against records as officers meet them: names spelt several
//! ways, in several scripts, in either order, with typos; guessed ages; consent.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use famlink::record::{
    AgeEstimate, Inquirer, KindDetails, Origin, PartialDate, Record, RecordKey, RecordKind,
    Relationship, Sex,
};
use famlink::rulebook::Rulebook;
use famlink::search::{SearchError, SearchHit, SearchIndex, SearchQuery};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
}

struct Child<'a> {
    agency: &'a str,
    id: &'a str,
    given: &'a str,
    family: &'a str,
    sex: Sex,
    born: Option<i32>,
    father: &'a str,
    mother: &'a str,
    village: &'a str,
    consent: bool,
}

impl Default for Child<'_> {
    fn default() -> Self {
        Child {
            agency: "AG1",
            id: "",
            given: "",
            family: "",
            sex: Sex::Unknown,
            born: None,
            father: "",
            mother: "",
            village: "",
            consent: true,
        }
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn child(c: Child) -> Record {
    Record {
        agency: c.agency.into(),
        record_id: c.id.into(),
        given_name: opt(c.given),
        family_name: opt(c.family),
        other_names: vec![],
        sex: c.sex,
        birth_date: c.born.map(PartialDate::Year),
        age: None,
        father_name: opt(c.father),
        mother_name: opt(c.mother),
        origin: Origin {
            village: opt(c.village),
            district: None,
            country: None,
        },
        separation_place: None,
        separation_date: None,
        languages: vec![],
        notes: None,
        details: KindDetails::Child {
            tracing_consent: c.consent,
        },
        attributes: BTreeMap::new(),
    }
}

fn inquiry(id: &str, given: &str, family: &str, inquirer: &str, rel: Relationship) -> Record {
    let mut r = child(Child {
        agency: "AG2",
        id,
        given,
        family,
        ..Child::default()
    });
    r.details = KindDetails::Inquiry {
        inquirer: Inquirer {
            name: opt(inquirer),
            relationship: Some(rel),
            contact: None,
        },
    };
    r
}

/// Children whose names only resemble each other, to stand in the way.
fn distractors() -> Vec<Record> {
    let names = [
        ("Fatima", "Hassan"),
        ("Mahmoud", "Abbas"),
        ("Ahmed", "Karimov"),
        ("Olga", "Kovalchuk"),
        ("Oleg", "Bondarenko"),
        ("Alexei", "Shevtsov"),
        ("Amina", "Abdi"),
        ("Halima", "Yusuf"),
        ("Yulia", "Petrenko"),
        ("Mohamed", "Farah"),
        ("Abebe", "Kebede"),
        ("Tigist", "Alemu"),
        ("Ivan", "Kovalenko"),
        ("Sasha", "Bondar"),
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, (g, f))| {
            child(Child {
                id: &format!("D{i}"),
                given: g,
                family: f,
                born: Some(2008 + (i as i32 % 8)),
                ..Child::default()
            })
        })
        .collect()
}

fn variants() -> Vec<Record> {
    let mut v = vec![
        child(Child {
            id: "MUKH",
            given: "Mukhammed",
            family: "Karimov",
            sex: Sex::Male,
            born: Some(2013),
            ..Child::default()
        }),
        child(Child {
            id: "ALEK",
            given: "Aleksandr",
            family: "Kovalenko",
            sex: Sex::Male,
            born: Some(2012),
            ..Child::default()
        }),
        child(Child {
            id: "CYR",
            given: "Олександр",
            family: "Шевченко",
            sex: Sex::Male,
            born: Some(2015),
            ..Child::default()
        }),
        child(Child {
            id: "LAT",
            given: "Oleksandr",
            family: "Bondar",
            sex: Sex::Male,
            born: Some(2011),
            ..Child::default()
        }),
        child(Child {
            id: "ARAB",
            given: "محمد",
            family: "حسن",
            sex: Sex::Male,
            ..Child::default()
        }),
        child(Child {
            id: "YUL",
            given: "Юлія",
            family: "Мельник",
            sex: Sex::Female,
            born: Some(2014),
            ..Child::default()
        }),
        child(Child {
            id: "ABEBE",
            given: "አበበ",
            family: "ቢቂላ",
            sex: Sex::Male,
            ..Child::default()
        }),
    ];
    v.extend(distractors());
    v
}

fn build(dir: &Path, records: &[Record], seq: u64) -> SearchIndex {
    let index = SearchIndex::open(dir).unwrap();
    let mut w = index.writer().unwrap();
    for r in records {
        w.put(r).unwrap();
    }
    w.commit(seq).unwrap();
    index
}

fn by_name(name: &str) -> SearchQuery {
    SearchQuery {
        name: Some(name.into()),
        ..SearchQuery::new(today())
    }
}

fn ids(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.key.record_id.as_str()).collect()
}

fn top(index: &SearchIndex, q: &SearchQuery) -> String {
    let hits = index.search(q).unwrap();
    assert!(!hits.is_empty(), "no hit for {q:?}");
    hits[0].key.record_id.clone()
}

#[test]
fn finds_spelling_variants_scripts_swaps_and_typos() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &variants(), 1);

    // Mukhammed for Mohammed: found, and ahead of Mahmoud.
    let hits = index.search(&by_name("Mohammed Karimov")).unwrap();
    assert_eq!(ids(&hits)[0], "MUKH", "{hits:?}");
    let hits = index.search(&by_name("Mohammed")).unwrap();
    assert!(ids(&hits).contains(&"MUKH"), "{hits:?}");
    let pos = |id: &str| ids(&hits).iter().position(|h| *h == id);
    assert!(
        pos("MUKH") < pos("D1"),
        "Mukhammed before Mahmoud: {hits:?}"
    );
    assert!(
        hits.iter()
            .find(|h| h.key.record_id == "MUKH")
            .unwrap()
            .reasons
            .iter()
            .any(|r| r.contains("mukhammed ~ mohammed")),
        "{hits:?}"
    );

    // Aleksandr for Oleksandr.
    assert_eq!(top(&index, &by_name("Oleksandr Kovalenko")), "ALEK");
    // Cyrillic record, Latin query; Latin record, Cyrillic query.
    assert_eq!(top(&index, &by_name("Oleksandr Shevchenko")), "CYR");
    assert_eq!(top(&index, &by_name("Олександр Бондар")), "LAT");
    assert_eq!(top(&index, &by_name("Yuliia Melnyk")), "YUL");
    // Arabic script, no short vowels.
    assert_eq!(top(&index, &by_name("Mohammed Hassan")), "ARAB");
    let hits = index.search(&by_name("Muhammad")).unwrap();
    assert!(ids(&hits).contains(&"ARAB"), "{hits:?}");
    // Ethiopic.
    assert_eq!(top(&index, &by_name("Abebe Bikila")), "ABEBE");
    // Family name first.
    assert_eq!(top(&index, &by_name("KOVALENKO Aleksandr")), "ALEK");
    assert_eq!(top(&index, &by_name("Karimov Mukhammed")), "MUKH");
    // One typo.
    assert_eq!(top(&index, &by_name("Oleksandr Kovalneko")), "ALEK");
    assert_eq!(top(&index, &by_name("Aleksamdr Kovalenko")), "ALEK");
    assert_eq!(top(&index, &by_name("Mukhamed Karimov")), "MUKH");

    // Scores are in [0, 1], sorted, with reasons.
    let hits = index.search(&by_name("Oleksandr")).unwrap();
    for w in hits.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
    assert!(hits.iter().all(|h| !h.reasons.is_empty()));
}

fn family() -> Vec<Record> {
    let mut v = vec![
        child(Child {
            id: "TARGET",
            given: "Amina",
            family: "Yusuf",
            sex: Sex::Female,
            born: Some(2014),
            father: "Yusuf Ali Hassan",
            mother: "Halima Omar",
            village: "Baidoa",
            ..Child::default()
        }),
        // Her sister: same family name and parents, another given name.
        child(Child {
            id: "SISTER",
            given: "Fatuma",
            family: "Yusuf",
            sex: Sex::Female,
            born: Some(2013),
            father: "Yusuf Ali Hassan",
            mother: "Halima Omar",
            village: "Baidoa",
            ..Child::default()
        }),
        // Same name, born eight years earlier, other parents.
        child(Child {
            id: "OLDER",
            given: "Amina",
            family: "Yusuf",
            sex: Sex::Female,
            born: Some(2006),
            father: "Yusuf Abdi",
            mother: "Khadija Ali",
            village: "Kismayo",
            ..Child::default()
        }),
        // Same name, no date, a boy (data errors happen).
        child(Child {
            id: "BOY",
            given: "Amin",
            family: "Yusuf",
            sex: Sex::Male,
            ..Child::default()
        }),
    ];
    v.extend(distractors());
    v
}

#[test]
fn ranks_the_right_child_above_sibling_and_namesake() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &family(), 1);
    let q = SearchQuery {
        name: Some("Amina Yusuf".into()),
        born: Some(PartialDate::Year(2014)),
        ..SearchQuery::new(today())
    };
    let hits = index.search(&q).unwrap();
    assert_eq!(ids(&hits)[0], "TARGET", "{hits:?}");
    let pos = |id: &str| ids(&hits).iter().position(|h| *h == id).unwrap();
    assert!(pos("TARGET") < pos("OLDER"));
    assert!(pos("TARGET") < pos("SISTER"));

    // With an age instead of a date, parents, place, and Somali spellings.
    let q = SearchQuery {
        name: Some("Aamina Yuusuf".into()),
        father: Some("Yusuf Cali Xasan".into()),
        mother: Some("Xaliimo Cumar".into()),
        place: Some("Baydhabo".into()),
        age: Some(10.0),
        sex: Some(Sex::Female),
        ..SearchQuery::new(today())
    };
    let hits = index.search(&q).unwrap();
    assert_eq!(ids(&hits)[0], "TARGET", "{hits:?}");
    assert_eq!(ids(&hits)[1], "SISTER", "{hits:?}");

    // The older namesake is what one finds when asking for her age.
    let q = SearchQuery {
        name: Some("Amina Yusuf".into()),
        age: Some(18.0),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "OLDER");
}

#[test]
fn queries_without_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &family(), 1);
    let q = SearchQuery {
        place: Some("Kismaayo".into()),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "OLDER");
    let q = SearchQuery {
        born: Some(PartialDate::Year(2006)),
        sex: Some(Sex::Female),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "OLDER");
    let q = SearchQuery {
        sex: Some(Sex::Male),
        ..SearchQuery::new(today())
    };
    assert_eq!(ids(&index.search(&q).unwrap()), ["BOY"]);
    let q = SearchQuery::new(today());
    assert!(matches!(index.search(&q), Err(SearchError::EmptyQuery)));
    let q = by_name(" -- ");
    assert!(matches!(index.search(&q), Err(SearchError::EmptyQuery)));
}

#[test]
fn children_without_consent_are_hidden_from_other_agencies() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![
        child(Child {
            agency: "AG1",
            id: "SECRET",
            given: "Yulia",
            family: "Melnyk",
            consent: false,
            ..Child::default()
        }),
        child(Child {
            agency: "AG2",
            id: "OPEN",
            given: "Yulia",
            family: "Melnyk",
            ..Child::default()
        }),
    ];
    let index = build(dir.path(), &records, 1);
    let mut q = by_name("Yulia Melnyk");
    assert_eq!(index.search(&q).unwrap().len(), 2);
    q.viewer_agency = Some("AG2".into());
    assert_eq!(ids(&index.search(&q).unwrap()), ["OPEN"]);
    q.viewer_agency = Some("AG1".into());
    assert_eq!(index.search(&q).unwrap().len(), 2);
    q.viewer_agency = Some("AG3".into());
    assert_eq!(ids(&index.search(&q).unwrap()), ["OPEN"]);
    // Also when the query has no name.
    let q = SearchQuery {
        sex: Some(Sex::Unknown),
        born: None,
        place: None,
        viewer_agency: Some("AG3".into()),
        ..by_name("Melnyk")
    };
    assert_eq!(ids(&index.search(&q).unwrap()), ["OPEN"]);
}

/// `only_agency` (a child without consent looking for its own agency's inquiries):
/// only that agency's records come back, though records of other agencies that
/// agree better abound (the filter acts in the candidate collector, so that they
/// cannot take the pool's places).
#[test]
fn one_agency_only_is_filtered_before_the_candidate_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mut records: Vec<Record> = (0..250)
        .map(|i| {
            let id = format!("OTHER{i}");
            child(Child {
                agency: "AG2",
                id: Box::leak(id.into_boxed_str()),
                given: "Yulia",
                family: "Melnyk",
                ..Child::default()
            })
        })
        .collect();
    // Unrelated records, so that agreeing on the family name counts for something.
    records.extend((0..1000).map(|i| {
        child(Child {
            agency: "AG3",
            id: Box::leak(format!("FILL{i}").into_boxed_str()),
            given: "Ivan",
            family: "Petrenko",
            ..Child::default()
        })
    }));
    records.push(child(Child {
        agency: "AG1",
        id: "OWN",
        given: "Yulia",
        family: "",
        ..Child::default()
    }));
    let index = build(dir.path(), &records, 1);
    let mut q = by_name("Yulia Melnyk");
    q.limit = 5;
    assert!(!ids(&index.search(&q).unwrap()).contains(&"OWN"));
    q.only_agency = Some("AG1".into());
    assert_eq!(ids(&index.search(&q).unwrap()), ["OWN"]);
    q.only_agency = Some("AG9".into());
    assert!(index.search(&q).unwrap().is_empty());
}

#[test]
fn indexed_through_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(index.indexed_through(), 0);
        assert_eq!(index.num_records().unwrap(), 0);
    }
    {
        let index = build(dir.path(), &variants(), 17);
        assert_eq!(index.indexed_through(), 17);
        let mut w = index.writer().unwrap();
        w.put(&family()[0]).unwrap();
        w.commit(23).unwrap();
        assert_eq!(index.indexed_through(), 23);
    }
    let index = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(index.indexed_through(), 23);
    assert_eq!(index.num_records().unwrap(), variants().len() as u64 + 1);
    assert!(index.size_on_disk() > 0);
    assert_eq!(top(&index, &by_name("Amina Yusuf")), "TARGET");
}

#[test]
fn uncommitted_changes_are_not_seen_and_one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &variants(), 5);
    let mut w = index.writer().unwrap();
    assert!(matches!(index.writer(), Err(SearchError::WriterBusy)));
    w.put(&family()[0]).unwrap();
    let found = |index: &SearchIndex| {
        ids(&index.search(&by_name("Amina Yusuf")).unwrap()).contains(&"TARGET")
    };
    assert!(!found(&index));
    drop(w);
    assert_eq!(index.indexed_through(), 5);
    let w = index.writer().unwrap();
    w.commit(6).unwrap();
    assert!(!found(&index));
    let mut w = index.writer().unwrap();
    w.put(&family()[0]).unwrap();
    w.commit(7).unwrap();
    assert!(found(&index));
}

#[test]
fn put_replaces_the_record_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &variants(), 1);
    let mut renamed = variants()[1].clone(); // ALEK
    renamed.family_name = Some("Kovalchenko".into());
    // Twice in one session, then again in another.
    let mut w = index.writer().unwrap();
    w.put(&renamed).unwrap();
    w.put(&renamed).unwrap();
    w.commit(2).unwrap();
    let mut w = index.writer().unwrap();
    w.put(&renamed).unwrap();
    w.commit(3).unwrap();
    assert_eq!(index.num_records().unwrap(), variants().len() as u64);
    let hits = index.search(&by_name("Aleksandr Kovalchenko")).unwrap();
    let alek: Vec<_> = hits.iter().filter(|h| h.key.record_id == "ALEK").collect();
    assert_eq!(alek.len(), 1, "{hits:?}");
    assert_eq!(ids(&hits)[0], "ALEK");
    assert!(alek[0].reasons.iter().any(|r| r.contains("kovalchenko")));

    // A child and an inquiry may share agency and id: different keys.
    let mut inq = renamed.clone();
    inq.details = KindDetails::Inquiry {
        inquirer: Inquirer::default(),
    };
    let mut w = index.writer().unwrap();
    w.put(&inq).unwrap();
    w.commit(4).unwrap();
    assert_eq!(index.num_records().unwrap(), variants().len() as u64 + 1);
    // And a record can be removed.
    let mut w = index.writer().unwrap();
    w.delete(&RecordKey::new(RecordKind::Inquiry, "AG1", "ALEK"))
        .unwrap();
    w.commit(5).unwrap();
    assert_eq!(index.num_records().unwrap(), variants().len() as u64);
}

/// Queries by name, by name with a parent and an age, and by place alone.
fn mixed_queries() -> Vec<SearchQuery> {
    vec![
        by_name("Mohammed"),
        by_name("Oleksandr Kovalenko"),
        SearchQuery {
            father: Some("Yusuf Ali".into()),
            age: Some(10.0),
            ..by_name("Amina")
        },
        SearchQuery {
            place: Some("Baidoa".into()),
            ..SearchQuery::new(today())
        },
    ]
}

#[test]
fn clear_and_reindex_gives_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = variants();
    records.extend(family());
    records.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    records.dedup_by(|a, b| a.record_id == b.record_id);
    let index = build(dir.path(), &records, 9);
    let queries = mixed_queries();
    let before: Vec<_> = queries.iter().map(|q| index.search(q).unwrap()).collect();
    let mut w = index.writer().unwrap();
    w.clear().unwrap();
    for r in records.iter().rev() {
        w.put(r).unwrap();
    }
    w.commit(9).unwrap();
    let after: Vec<_> = queries.iter().map(|q| index.search(q).unwrap()).collect();
    assert_eq!(before, after);
    assert_eq!(index.num_records().unwrap(), records.len() as u64);

    // Clearing alone empties the index.
    let mut w = index.writer().unwrap();
    w.clear().unwrap();
    w.commit(10).unwrap();
    assert_eq!(index.num_records().unwrap(), 0);
}

#[test]
fn kind_filter_and_inquirer_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = family();
    records.push(inquiry(
        "INQ1",
        "Amina",
        "Yusuf",
        "Halima Omar",
        Relationship::Mother,
    ));
    records.push(inquiry(
        "INQ2",
        "Abdi",
        "Warsame",
        "Omar Warsame",
        Relationship::Uncle,
    ));
    let index = build(dir.path(), &records, 1);
    let mut q = by_name("Amina Yusuf");
    q.kind = Some(RecordKind::Inquiry);
    assert_eq!(ids(&index.search(&q).unwrap()), ["INQ1"]);
    q.kind = Some(RecordKind::Child);
    let hits = index.search(&q).unwrap();
    assert!(hits.iter().all(|h| h.key.kind == RecordKind::Child));
    assert!(ids(&hits).contains(&"TARGET"));
    q.kind = None;
    let hits = index.search(&q).unwrap();
    assert!(ids(&hits).contains(&"TARGET") && ids(&hits).contains(&"INQ1"));

    // The inquirer is searchable as the parent she is.
    let q = SearchQuery {
        kind: Some(RecordKind::Inquiry),
        mother: Some("Halima Omar".into()),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "INQ1");
    // An uncle's name still finds the inquiry through the father field.
    let q = SearchQuery {
        kind: Some(RecordKind::Inquiry),
        father: Some("Omar Warsame".into()),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "INQ2");
}

#[test]
fn ages_recorded_on_a_day_search_like_dates() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = child(Child {
        id: "AGED",
        given: "Tigist",
        family: "Alemu",
        ..Child::default()
    });
    r.age = Some(AgeEstimate {
        years: 7.0,
        recorded_on: PartialDate::Year(2020),
    });
    let mut other = r.clone();
    other.record_id = "OTHER".into();
    other.age = Some(AgeEstimate {
        years: 15.0,
        recorded_on: PartialDate::Year(2020),
    });
    let index = build(dir.path(), &[r, other], 1);
    let q = SearchQuery {
        age: Some(11.0),
        ..by_name("Tigist Alemu")
    };
    assert_eq!(top(&index, &q), "AGED");
}

#[test]
fn compound_names_written_apart_or_together() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = distractors();
    records.push(child(Child {
        id: "ABD",
        given: "Abd al-Rahman",
        family: "Hassan",
        ..Child::default()
    }));
    records.push(child(Child {
        id: "ABDUL",
        given: "Abdulkadir",
        family: "Nur",
        ..Child::default()
    }));
    let index = build(dir.path(), &records, 1);
    assert_eq!(top(&index, &by_name("Abdelrahman Hassan")), "ABD");
    assert_eq!(top(&index, &by_name("Abdirahman")), "ABD");
    assert_eq!(top(&index, &by_name("Abdul Kadir Nur")), "ABDUL");
    assert_eq!(top(&index, &by_name("عبد الرحمن حسن")), "ABD");
}

#[test]
fn duplicates_after_clear_and_indexes_of_another_format() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &variants(), 3);
    let mut w = index.writer().unwrap();
    w.clear().unwrap();
    let r = &variants()[0];
    w.put(r).unwrap();
    w.put(r).unwrap();
    w.commit(4).unwrap();
    assert_eq!(index.num_records().unwrap(), 1);
    assert_eq!(ids(&index.search(&by_name("Mukhammed")).unwrap()), ["MUKH"]);
    drop(index);

    // An index written by something else (an older famlink): rebuilt empty, and
    // indexed_through says so.
    let other = tempfile::tempdir().unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        let f = b.add_text_field("title", tantivy::schema::TEXT);
        let idx = tantivy::Index::create_in_dir(other.path(), b.build()).unwrap();
        let mut w: tantivy::IndexWriter = idx.writer(15_000_000).unwrap();
        w.add_document(tantivy::doc!(f => "x")).unwrap();
        let mut c = w.prepare_commit().unwrap();
        c.set_payload("42");
        c.commit().unwrap();
    }
    let index = SearchIndex::open(other.path()).unwrap();
    assert_eq!(index.indexed_through(), 0);
    assert_eq!(index.num_records().unwrap(), 0);
    let index = build(other.path(), &variants(), 8);
    assert_eq!(top(&index, &by_name("Mukhammed Karimov")), "MUKH");
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<SearchIndex>();
    let dir = tempfile::tempdir().unwrap();
    let index = std::sync::Arc::new(build(dir.path(), &variants(), 1));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let index = std::sync::Arc::clone(&index);
            std::thread::spawn(move || top(&index, &by_name("Oleksandr Kovalenko")))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "ALEK");
    }
}

fn reasons_of<'a>(hits: &'a [SearchHit], id: &str) -> &'a [String] {
    &hits
        .iter()
        .find(|h| h.key.record_id == id)
        .unwrap_or_else(|| panic!("{id} not found: {hits:?}"))
        .reasons
}

#[test]
fn nicknames_and_variant_groups_count_as_strong_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = distractors();
    records.extend([
        child(Child {
            id: "SASHA",
            given: "Sasha",
            family: "Melnyk",
            born: Some(2014),
            ..Child::default()
        }),
        child(Child {
            id: "OLEK",
            given: "Oleksandr",
            family: "Tkachenko",
            born: Some(2012),
            ..Child::default()
        }),
        child(Child {
            id: "MAX",
            given: "Maxamed",
            family: "Cabdi",
            ..Child::default()
        }),
        child(Child {
            id: "ABD",
            given: "Cabdiraxmaan",
            family: "Nuur",
            ..Child::default()
        }),
    ]);
    records.push(child(Child {
        id: "JP",
        given: "Jean-Pierre",
        family: "Kabamba",
        ..Child::default()
    }));
    records.push(child(Child {
        id: "JEAN",
        given: "Jean",
        family: "Kabamba",
        ..Child::default()
    }));
    let index = build(dir.path(), &records, 1);

    // A compound the rules join only when known is still found with a typo in
    // one half, and written together.
    assert_eq!(top(&index, &by_name("Jean Piere Kabamba")), "JP");
    assert_eq!(top(&index, &by_name("Jeanpierre Kabamba")), "JP");
    assert_eq!(top(&index, &by_name("Jean Kabamba")), "JEAN");

    // The family asks for the full name; the agency registered the nickname.
    let hits = index.search(&by_name("Oleksandr Melnyk")).unwrap();
    assert_eq!(ids(&hits)[0], "SASHA", "{hits:?}");
    assert!(
        reasons_of(&hits, "SASHA").contains(&"name: sasha ~ oleksandr (nickname)".to_owned()),
        "{hits:?}"
    );
    // And the other way round, in Cyrillic and another scheme.
    let hits = index.search(&by_name("Саша Ткаченко")).unwrap();
    assert_eq!(ids(&hits)[0], "OLEK", "{hits:?}");
    assert!(
        reasons_of(&hits, "OLEK").contains(&"name: oleksandr ~ sasha (nickname)".to_owned()),
        "{hits:?}"
    );
    assert_eq!(top(&index, &by_name("Aleksandr Tkachenko")), "OLEK");

    // Variant groups: Somali orthography, Arabic script, compounds.
    let hits = index.search(&by_name("Mohamed Abdi")).unwrap();
    assert_eq!(ids(&hits)[0], "MAX", "{hits:?}");
    assert!(
        reasons_of(&hits, "MAX").contains(&"name: maxamed ~ mohamed (variant)".to_owned()),
        "{hits:?}"
    );
    assert_eq!(top(&index, &by_name("محمد عبدي")), "MAX");
    assert_eq!(top(&index, &by_name("Abdul Rahman Nur")), "ABD");
    assert_eq!(top(&index, &by_name("Abdi Rahman Nuur")), "ABD");
    assert_eq!(top(&index, &by_name("Abdirahman Noor")), "ABD");
    let hits = index.search(&by_name("Abdulrahman")).unwrap();
    assert!(
        reasons_of(&hits, "ABD")
            .iter()
            .any(|r| r == "name: cabdiraxmaan ~ abdulrahman (variant)"),
        "{hits:?}"
    );
}

fn somali_villages() -> Vec<Record> {
    let mut v = family();
    for (id, village) in [
        ("DOOLOW", "Doolow"),
        ("LUUQ", "Luuq"),
        ("KHARKIV", "Kharkiv"),
    ] {
        v.push(child(Child {
            id,
            given: "Hodan",
            family: "Farah",
            sex: Sex::Female,
            born: Some(2015),
            village,
            ..Child::default()
        }));
    }
    v
}

#[test]
fn places_through_the_gazetteer() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &somali_villages(), 1);

    // Another spelling of the village, alone.
    let q = SearchQuery {
        place: Some("Baydhabo".into()),
        ..SearchQuery::new(today())
    };
    let hits = index.search(&q).unwrap();
    let mut first_two = ids(&hits)[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["SISTER", "TARGET"], "{hits:?}");
    assert!(
        reasons_of(&hits, "TARGET").contains(&"place: baidoa ~ baydhabo (gazetteer)".to_owned()),
        "{hits:?}"
    );

    // The same village first, then a village of the same district, then farther.
    let q = SearchQuery {
        place: Some("Dollow".into()),
        ..by_name("Hodan Farah")
    };
    let hits = index.search(&q).unwrap();
    assert_eq!(ids(&hits)[..3], ["DOOLOW", "LUUQ", "KHARKIV"], "{hits:?}");
    assert!(
        reasons_of(&hits, "LUUQ")
            .contains(&"place: luuq, same district as dollow (gazetteer)".to_owned()),
        "{hits:?}"
    );
    assert!(hits[0].score > hits[1].score && hits[1].score > hits[2].score);

    // A district finds its villages; a country in another script, its places.
    let q = SearchQuery {
        place: Some("Gedo region".into()),
        ..SearchQuery::new(today())
    };
    let hits = index.search(&q).unwrap();
    let mut first_two = ids(&hits)[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["DOOLOW", "LUUQ"], "{hits:?}");
    assert!(
        reasons_of(&hits, "DOOLOW").contains(&"place: doolow in gedo (gazetteer)".to_owned()),
        "{hits:?}"
    );
    let q = SearchQuery {
        place: Some("الصومال".into()),
        ..by_name("Hodan Farah")
    };
    let hits = index.search(&q).unwrap();
    let pos = |id: &str| ids(&hits).iter().position(|h| *h == id).unwrap();
    assert!(pos("LUUQ") < pos("KHARKIV"), "{hits:?}");
}

#[test]
fn placeholders_are_empty_and_whole_names_are_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = distractors();
    records.push(child(Child {
        id: "PH",
        given: "FNU",
        family: "Warsame",
        father: "UNKNOWN",
        mother: "N/A",
        village: "-",
        ..Child::default()
    }));
    records.push(child(Child {
        id: "UNK",
        given: "Unknown",
        family: "LNU",
        father: "Abdi Warsame",
        ..Child::default()
    }));
    records.push(child(Child {
        id: "VN",
        given: "NGUYEN Van An",
        ..Child::default()
    }));
    let index = build(dir.path(), &records, 1);

    // A placeholder asks nothing.
    for q in [
        by_name("UNKNOWN"),
        SearchQuery {
            father: Some("N/A".into()),
            ..SearchQuery::new(today())
        },
    ] {
        assert!(
            matches!(index.search(&q), Err(SearchError::EmptyQuery)),
            "{q:?}"
        );
    }
    // ... and is never found as a name.
    let q = SearchQuery {
        father: Some("Unknown".into()),
        ..by_name("Warsame")
    };
    let hits = index.search(&q).unwrap();
    assert_eq!(ids(&hits)[0], "PH", "{hits:?}");
    assert!(reasons_of(&hits, "PH")
        .iter()
        .all(|r| !r.contains("unknown") && !r.contains("fnu")));
    let hits = index.search(&by_name("Fnu")).unwrap_or_default();
    assert!(!ids(&hits).contains(&"PH"), "{hits:?}");
    let q = SearchQuery {
        father: Some("Abdi Warsame".into()),
        ..SearchQuery::new(today())
    };
    assert_eq!(top(&index, &q), "UNK");

    // The whole name in one field, family name first in capitals.
    assert_eq!(top(&index, &by_name("An Nguyen")), "VN");
    assert_eq!(top(&index, &by_name("Nguyễn Văn An")), "VN");
}

/// A copy of the repository's matching rules in a temporary directory.
fn rules_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("matching-rules");
    for sub in ["names", "places"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

#[test]
fn an_index_built_under_other_rules_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    drop(build(dir.path(), &variants(), 5));
    assert_eq!(SearchIndex::open(dir.path()).unwrap().indexed_through(), 5);

    // Comments change nothing.
    let rules_dir = rules_copy();
    let same = Rulebook::load(rules_dir.path()).unwrap();
    append(
        &rules_dir.path().join("names/variants.toml"),
        "\n# a note\n",
    );
    let commented = Rulebook::load(rules_dir.path()).unwrap();
    assert_eq!(same.fingerprint(), commented.fingerprint());
    assert_eq!(same.fingerprint(), Rulebook::builtin().fingerprint());

    // A new nickname does: the index opens empty, to be rebuilt.
    append(
        &rules_dir.path().join("names/nicknames.toml"),
        "\n[local]\nLesyk = [\"Oleksandr\"]\n",
    );
    let rules = std::sync::Arc::new(Rulebook::load(rules_dir.path()).unwrap());
    assert_ne!(rules.fingerprint(), Rulebook::builtin().fingerprint());
    let index = SearchIndex::open_with_rules(dir.path(), rules.clone()).unwrap();
    assert_eq!(index.indexed_through(), 0);
    assert_eq!(index.num_records().unwrap(), 0);
    let mut w = index.writer().unwrap();
    for r in variants() {
        w.put(&r).unwrap();
    }
    w.commit(6).unwrap();
    let hits = index.search(&by_name("Lesyk Kovalenko")).unwrap();
    assert_eq!(ids(&hits)[0], "ALEK", "{hits:?}");
    assert!(reasons_of(&hits, "ALEK").contains(&"name: aleksandr ~ lesyk (nickname)".to_owned()));
    drop(index);
    assert_eq!(
        SearchIndex::open_with_rules(dir.path(), rules)
            .unwrap()
            .indexed_through(),
        6
    );
    // Back to the built-in rules: rebuilt again.
    assert_eq!(SearchIndex::open(dir.path()).unwrap().indexed_through(), 0);
}

/// The service reads the candidates' summaries from a copy in memory: the same
/// hits as from the doc store, over several segments, a replaced record (a
/// deleted document in an older segment) and segments made after the copy.
#[test]
fn summaries_kept_in_memory_give_the_same_hits() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &variants(), 1);
    let mut w = index.writer().unwrap();
    for r in family() {
        w.put(&r).unwrap();
    }
    w.commit(2).unwrap();
    let mut queries = mixed_queries();
    queries.push(by_name("Aleksandr Kovalchenko"));
    let search_all = |index: &SearchIndex| -> Vec<Vec<SearchHit>> {
        queries.iter().map(|q| index.search(q).unwrap()).collect()
    };
    let from_store = search_all(&index);
    assert!(from_store.iter().all(|hits| !hits.is_empty()));
    index.keep_summaries_in_memory().unwrap();
    assert_eq!(search_all(&index), from_store);

    // A record replaced after the copy: its old document deleted, its new one in a
    // segment made since.
    let mut renamed = variants()[1].clone(); // ALEK
    renamed.family_name = Some("Kovalchenko".into());
    let mut w = index.writer().unwrap();
    w.put(&renamed).unwrap();
    w.commit(3).unwrap();
    let in_memory = search_all(&index);
    assert_eq!(top(&index, &queries[4]), "ALEK");
    // The same directory opened afresh reads the doc store.
    let fresh = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(in_memory, search_all(&fresh));
    assert_ne!(
        in_memory, from_store,
        "the replaced record is found by its new name"
    );
}

/// A hit carries the store row its record was put from, for the store to read it
/// again by (`Store::get_many_at`); a record put without one has none.
#[test]
fn hits_carry_the_store_row_they_were_put_from() {
    use famlink::store::StoreRow;
    let dir = tempfile::tempdir().unwrap();
    let records = family();
    let index = SearchIndex::open(dir.path()).unwrap();
    let mut w = index.writer().unwrap();
    for (i, r) in records.iter().enumerate() {
        // Every other record without a row.
        let row = (i % 2 == 0).then_some(StoreRow(1000 + i as i64));
        w.put_from(r, row).unwrap();
    }
    w.commit(records.len() as u64).unwrap();
    let hits = index.search(&by_name("Amina Yusuf")).unwrap();
    assert!(hits.len() >= 2, "{hits:?}");
    let mut with_row = 0;
    for h in &hits {
        let i = records.iter().position(|r| r.key() == h.key).unwrap();
        let want = (i % 2 == 0).then_some(StoreRow(1000 + i as i64));
        assert_eq!(h.row, want, "{}", h.key.record_id);
        with_row += usize::from(want.is_some());
    }
    assert!(
        with_row > 0 && with_row < hits.len(),
        "{with_row} of {}",
        hits.len()
    );
}
