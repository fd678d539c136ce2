//! The Fellegi–Sunter engine behind the service's `Matcher` trait, on the committed
//! sample: the sample imported into a data directory, the engine trained on it, and
//! records proposed for as they would be when they arrive (candidates from the
//! search index, read from the store by key).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use famlink::import::{ImportOptions, Input};
use famlink::matching::{self, Engine, TracingRules, SIBLING_NOTE};
use famlink::record::{KindDetails, Record, RecordKey, RecordKind};
use famlink::registry::Registry;
use famlink::review::{
    self, consent_allows, Band, CandidateSource, Decision, EngineMatcher, Matcher, MatcherError,
    Matching, Proposal, ReviewRules, SearchCandidates,
};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(name)
}

/// The committed rules with fewer random pairs for u (faster, same comparisons).
fn rules_fast() -> TracingRules {
    let text = matching::rules::DEFAULT_RULES.replace("u_pairs = 100000", "u_pairs = 20000");
    TracingRules::parse(Path::new("tracing.toml"), &text).unwrap()
}

struct Sample {
    _dir: tempfile::TempDir,
    registry: Registry,
    engine: Arc<Engine>,
}

/// The sample, loaded and trained once for the tests that only read it.
fn shared() -> std::sync::MutexGuard<'static, Sample> {
    static S: std::sync::OnceLock<std::sync::Mutex<Sample>> = std::sync::OnceLock::new();
    S.get_or_init(|| std::sync::Mutex::new(load()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn load() -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::open(dir.path()).unwrap();
    for (kind, file) in [
        (RecordKind::Child, "children.csv"),
        (RecordKind::Inquiry, "inquiries.csv"),
    ] {
        let report = registry
            .import(
                &Input::file(sample(file), None).unwrap(),
                &ImportOptions::new(kind),
                &mut |_| {},
            )
            .unwrap();
        assert!(report.stored && report.errors.is_empty(), "{file}");
    }
    let (engine, children, inquiries) =
        Engine::train_from_store(registry.store(), rules_fast()).unwrap();
    assert_eq!((children, inquiries), (300, 150));
    Sample {
        _dir: dir,
        registry,
        engine: Arc::new(engine),
    }
}

/// `child_record_id,other_record_id` rows of a truth file.
fn pairs(file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(sample(file))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

impl Sample {
    fn records(&self, kind: RecordKind) -> Vec<Record> {
        let text = std::fs::read_to_string(sample(match kind {
            RecordKind::Child => "children.csv",
            RecordKind::Inquiry => "inquiries.csv",
        }))
        .unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let mut it = l.split(',');
                let id = it.next().unwrap();
                let agency = it.next().unwrap();
                self.get(&RecordKey::new(kind, agency, id))
            })
            .collect()
    }

    fn get(&self, key: &RecordKey) -> Record {
        self.registry.store().get(key).unwrap().unwrap().record
    }

    fn propose_with(&self, source: &dyn CandidateSource, record: &Record) -> Vec<Proposal> {
        let rules = ReviewRules::parse(review::DEFAULT_RULES).unwrap();
        EngineMatcher::new(&self.engine, source, self.registry.store(), &rules)
            .propose(record)
            .unwrap()
    }

    fn propose(&self, record: &Record) -> Vec<Proposal> {
        let source = SearchCandidates {
            index: self.registry.index(),
        };
        self.propose_with(&source, record)
    }
}

/// Candidates given by the test.
struct Given(Vec<RecordKey>);

impl CandidateSource for Given {
    fn candidates(
        &self,
        _record: &Record,
        _prepared: &matching::Prepared,
        _limit: usize,
    ) -> Result<Vec<RecordKey>, MatcherError> {
        Ok(self.0.clone())
    }
}

/// Another source's candidates less some keys.
struct Without<'a>(&'a dyn CandidateSource, HashSet<RecordKey>);

impl CandidateSource for Without<'_> {
    fn candidates(
        &self,
        record: &Record,
        prepared: &matching::Prepared,
        limit: usize,
    ) -> Result<Vec<RecordKey>, MatcherError> {
        Ok(self
            .0
            .candidates(record, prepared, limit)?
            .into_iter()
            .filter(|k| !self.1.contains(k))
            .collect())
    }
}

#[test]
fn an_arriving_inquiry_finds_its_child_first_with_every_comparison_weighed() {
    let s = shared();
    let links = pairs("truth_links.csv");
    let mut truth: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (c, i) in &links {
        truth.entry(i.as_str()).or_default().insert(c.as_str());
    }
    let n_comparisons = s.engine.rules.comparisons.len();
    let (mut linked, mut first_right, mut likely_wrong) = (0, 0, 0);
    let mut inquirer_compared = 0;
    for q in s.records(RecordKind::Inquiry) {
        let props = s.propose(&q);
        for p in &props {
            assert_eq!(p.inquiry, q.key());
            assert_eq!(p.child.kind, RecordKind::Child);
            // Every comparison of the rule file, with its level and weight.
            assert_eq!(p.explanation.len(), n_comparisons, "{p:?}");
            for e in &p.explanation {
                assert!(e.level.is_some() && e.weight.is_some(), "{e:?}");
                // The inquirer's own name is never in an explanation.
                if e.field == "inquirer" && e.level.as_deref() != Some("missing") {
                    inquirer_compared += 1;
                    let name = match &q.details {
                        KindDetails::Inquiry { inquirer } => inquirer.name.clone().unwrap(),
                        _ => unreachable!(),
                    };
                    assert!(e.detail.starts_with("(inquirer) / "), "{e:?}");
                    assert!(
                        !e.detail.to_lowercase().contains(&name.to_lowercase()),
                        "{e:?}"
                    );
                }
            }
            assert!((0.0..=1.0).contains(&p.probability));
        }
        // Best first.
        assert!(props
            .windows(2)
            .all(|w| w[0].probability >= w[1].probability));
        let Some(true_children) = truth.get(q.record_id.as_str()) else {
            continue;
        };
        linked += 1;
        if props
            .first()
            .is_some_and(|p| true_children.contains(p.child.record_id.as_str()))
        {
            first_right += 1;
        }
        likely_wrong += props
            .iter()
            .filter(|p| {
                p.band == Band::Likely && !true_children.contains(p.child.record_id.as_str())
            })
            .count();
    }
    eprintln!("linked {linked}, first right {first_right}, likely wrong {likely_wrong}");
    assert!(linked >= 90, "{linked}");
    assert!(
        first_right * 100 >= linked * 85,
        "{first_right} of {linked}"
    );
    assert!(likely_wrong <= 3, "{likely_wrong}");
    assert!(inquirer_compared > 0);

    // One known inquiry, spelt differently from its child: its child comes first,
    // likely, with a positive weight on the child's own name.
    let q = s.get(&RecordKey::new(
        RecordKind::Inquiry,
        "icrc-addis",
        "I0000005",
    ));
    let props = s.propose(&q);
    let first = &props[0];
    assert_eq!(first.child.record_id, "C0000072", "{props:?}");
    assert_eq!(first.band, Band::Likely);
    let name = first
        .explanation
        .iter()
        .find(|e| e.field == "personal_name")
        .unwrap();
    // "Gebre Medhin" against "Gebremedhin": the particle rules of
    // matching-rules/names/particles.toml join the split part, so the own names agree
    // exactly.
    assert_eq!(name.level.as_deref(), Some("exact"), "{name:?}");
    assert!(name.weight.unwrap() > 0.0);
    assert!(first.note.is_none());
}

#[test]
fn a_sibling_is_never_likely_and_the_note_says_why() {
    let s = shared();
    let links = pairs("truth_links.csv");
    let siblings = pairs("truth_siblings.csv");
    let mut sib: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (a, b) in &siblings {
        sib.entry(a.as_str()).or_default().insert(b.as_str());
        sib.entry(b.as_str()).or_default().insert(a.as_str());
    }
    let mut truth: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (c, i) in &links {
        truth.entry(i.as_str()).or_default().insert(c.as_str());
    }
    let search = SearchCandidates {
        index: s.registry.index(),
    };
    let children: HashMap<String, Record> = s
        .records(RecordKind::Child)
        .into_iter()
        .map(|c| (c.record_id.clone(), c))
        .collect();
    let (mut sibling_proposals, mut noted) = (0, 0);
    for q in s.records(RecordKind::Inquiry) {
        let Some(true_children) = truth.get(q.record_id.as_str()) else {
            continue;
        };
        // The child sought is not registered (yet): only its siblings may be.
        let gone: HashSet<RecordKey> = true_children.iter().map(|c| children[*c].key()).collect();
        let props = s.propose_with(&Without(&search, gone), &q);
        for p in &props {
            let is_sibling = true_children.iter().any(|t| {
                sib.get(t)
                    .is_some_and(|x| x.contains(p.child.record_id.as_str()))
            });
            if is_sibling {
                sibling_proposals += 1;
                assert_eq!(p.band, Band::Possible, "{p:?}");
                if p.note.as_deref() == Some(SIBLING_NOTE) {
                    noted += 1;
                }
            }
        }
    }
    eprintln!("sibling proposals {sibling_proposals}, noted {noted}");
    assert!(sibling_proposals >= 10, "{sibling_proposals}");
    assert!(
        noted * 10 >= sibling_proposals * 8,
        "{noted} of {sibling_proposals}"
    );
}

fn with_consent(mut child: Record, consent: bool) -> Record {
    if let KindDetails::Child { tracing_consent } = &mut child.details {
        *tracing_consent = consent;
    }
    child
}

#[test]
fn consent_is_respected_whichever_record_arrives() {
    let s = shared();
    let children = s.records(RecordKind::Child);
    let inquiries = s.records(RecordKind::Inquiry);
    let by_id: HashMap<&str, &Record> = children
        .iter()
        .chain(&inquiries)
        .map(|r| (r.record_id.as_str(), r))
        .collect();
    // Every inquiry arriving, and every child without consent arriving: never a
    // child without consent with another agency's inquiry.
    let mut proposals = 0;
    let without_consent = children.iter().filter(|c| !c.tracing_consent());
    for r in without_consent.chain(&inquiries) {
        for p in s.propose(r) {
            proposals += 1;
            let (c, q) = (
                by_id[p.child.record_id.as_str()],
                by_id[p.inquiry.record_id.as_str()],
            );
            assert!(consent_allows(c, q), "{p:?}");
        }
    }
    assert!(proposals > 100, "{proposals}");

    // True pairs across agencies whose child has no consent: given as the only
    // candidate, the pair is not proposed; the same pair with consent is.
    let hidden: Vec<(&Record, &Record)> = pairs("truth_links.csv")
        .iter()
        .map(|(c, i)| (by_id[c.as_str()], by_id[i.as_str()]))
        .filter(|(c, q)| !c.tracing_consent() && c.agency != q.agency)
        .collect();
    let n = hidden.len();
    assert!(n > 0);
    let (mut shown_with_consent, mut shown_to_own_agency) = (0, 0);
    for (c, q) in hidden {
        // The inquiry arrives: the child is read from the store, without consent.
        assert!(s.propose_with(&Given(vec![c.key()]), q).is_empty());
        // The child arrives.
        assert!(s.propose_with(&Given(vec![q.key()]), c).is_empty());
        // The same child with consent.
        let consented = with_consent(c.clone(), true);
        if !s.propose_with(&Given(vec![q.key()]), &consented).is_empty() {
            shown_with_consent += 1;
        }
        // An inquiry of the child's own agency sees it.
        let mut own = q.clone();
        own.agency = c.agency.clone();
        if !s.propose_with(&Given(vec![c.key()]), &own).is_empty() {
            shown_to_own_agency += 1;
        }
    }
    assert_eq!(shown_with_consent, n, "of {n}");
    assert_eq!(shown_to_own_agency, n, "of {n}");
}

#[test]
fn a_rejected_pair_is_not_proposed_again() {
    // Its own sample: it writes a decision.
    let s = load();
    let q = s.get(&RecordKey::new(
        RecordKind::Inquiry,
        "icrc-addis",
        "I0000005",
    ));
    let first = s.propose(&q);
    assert_eq!(first[0].child.record_id, "C0000072");
    let ids = {
        let store =
            famlink::store::Store::open(&s.registry.dir().join(famlink::registry::DATABASE_FILE))
                .unwrap();
        let mut store = store;
        let ids = review::save_proposals(&mut store, &first).unwrap();
        review::decide(&mut store, ids[0], Decision::Reject, None, "rita", None).unwrap();
        ids
    };
    let again = s.propose(&q);
    assert!(
        again.iter().all(|p| p.child.record_id != "C0000072"),
        "{again:?}"
    );
    // The others keep their ids; the rejected one stays rejected.
    let mut store =
        famlink::store::Store::open(&s.registry.dir().join(famlink::registry::DATABASE_FILE))
            .unwrap();
    let kept = review::save_proposals(&mut store, &again).unwrap();
    assert!(!kept.contains(&ids[0]));
    let p = review::get_proposal(&store, ids[0]).unwrap().unwrap();
    assert_eq!(p.status, "rejected");
}

#[test]
fn the_service_loads_the_model_trains_it_when_missing_or_falls_back() {
    use famlink::matching::ModelStart;
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::open(dir.path()).unwrap();
    // Nothing to train on: no engine, and the reason says so.
    let (engine, start) = Engine::obtain(dir.path(), registry.store(), rules_fast());
    assert!(engine.is_none());
    assert!(
        matches!(&start, ModelStart::Fallback(r) if r.contains("no model")),
        "{start:?}"
    );
    for (kind, file) in [
        (RecordKind::Child, "children.csv"),
        (RecordKind::Inquiry, "inquiries.csv"),
    ] {
        registry
            .import(
                &Input::file(sample(file), None).unwrap(),
                &ImportOptions::new(kind),
                &mut |_| {},
            )
            .unwrap();
    }
    // Records and no model: trained from the store and saved as `famlink train` does.
    let (engine, start) = Engine::obtain(dir.path(), registry.store(), rules_fast());
    assert!(engine.is_some());
    assert_eq!(
        start,
        ModelStart::Trained {
            children: 300,
            inquiries: 150
        }
    );
    assert!(matching::model_path(dir.path()).is_file());
    assert!(matching::frequencies_path(dir.path()).is_file());
    // Next start: loaded.
    let (engine, start) = Engine::obtain(dir.path(), registry.store(), rules_fast());
    assert!(engine.is_some());
    assert_eq!(start, ModelStart::Loaded);
    // A model of other comparisons than the rule file's: not used, not overwritten.
    let other = matching::rules::DEFAULT_RULES.replace(
        "[[comparison]]\nname = \"sex\"\nlevels = [\"same\", \"different\"]\nidentity = true\n",
        "",
    );
    let other = TracingRules::parse(Path::new("other.toml"), &other).unwrap();
    assert!(other.comparisons.len() < rules_fast().comparisons.len());
    let before = std::fs::read(matching::model_path(dir.path())).unwrap();
    let (engine, start) = Engine::obtain(dir.path(), registry.store(), other);
    assert!(engine.is_none());
    assert!(
        matches!(&start, ModelStart::Fallback(r) if r.contains("train again")),
        "{start:?}"
    );
    assert_eq!(
        std::fs::read(matching::model_path(dir.path())).unwrap(),
        before
    );
}

#[test]
fn an_arriving_child_is_likely_below_another_likely_child_only_as_its_double() {
    // Its own sample: it stores proposals.
    let s = load();
    let inquiry = s.get(&RecordKey::new(
        RecordKind::Inquiry,
        "icrc-addis",
        "I0000005",
    ));
    let child = s.get(&RecordKey::new(
        RecordKind::Child,
        "unhcr-gedaref",
        "C0000072",
    ));
    let arriving = |id: &str, born: &str| {
        let mut c = child.clone();
        c.record_id = id.into();
        c.birth_date = Some(born.parse().unwrap());
        c
    };
    let only_i5 = Given(vec![inquiry.key()]);
    // Born eight years earlier by the Ethiopian calendar: the child's identity
    // agrees, likely on its own.
    let other = arriving("X1", "2001-01-10");
    let alone = s.propose_with(&only_i5, &other);
    assert_eq!(alone[0].band, Band::Likely, "{alone:?}");
    // Once C0000072 is proposed as likely for the inquiry (and ranks higher), X1 is
    // not the same registration (its birth disagrees): possible only.
    let first = s.propose(&inquiry);
    assert_eq!(first[0].child, child.key());
    assert_eq!(first[0].band, Band::Likely);
    let mut store =
        famlink::store::Store::open(&s.registry.dir().join(famlink::registry::DATABASE_FILE))
            .unwrap();
    review::save_proposals(&mut store, &first[..1]).unwrap();
    let below = s.propose_with(&only_i5, &other);
    assert_eq!(below[0].band, Band::Possible, "{below:?}");
    assert_eq!(below[0].probability, alone[0].probability);
    // Another registration of C0000072 itself (day and month swapped) stays likely.
    let double = s.propose_with(&only_i5, &arriving("X2", "2009-10-01"));
    assert_eq!(double[0].band, Band::Likely, "{double:?}");
}

#[test]
fn a_better_arriving_child_demotes_the_pending_likely_child_below_it() {
    // Its own sample: it stores records, proposals and decisions.
    let mut s = load();
    let matching = Matching {
        rules: ReviewRules::parse(review::DEFAULT_RULES).unwrap(),
        engine: Some(s.engine.clone()),
    };
    let inquiry = s.get(&RecordKey::new(
        RecordKind::Inquiry,
        "icrc-addis",
        "I0000005",
    ));
    let child = s.get(&RecordKey::new(
        RecordKind::Child,
        "unhcr-gedaref",
        "C0000072",
    ));
    let registration = |id: &str, born: Option<&str>| {
        let mut c = child.clone();
        c.record_id = id.into();
        if let Some(born) = born {
            c.birth_date = Some(born.parse().unwrap());
        }
        c
    };
    // Another child (its birth disagrees with C0000072's), another registration of
    // C0000072 (day and month swapped), and C0000072 registered again as it is: the
    // best match of the three.
    let a = registration("A1", Some("2001-01-10"));
    let double = registration("D1", Some("2009-10-01"));
    let b = registration("B1", None);
    let same = |x: &Record, y: &Record| {
        s.engine
            .same_child(&s.engine.prepare(x), &s.engine.prepare(y))
    };
    assert!(!same(&a, &b));
    assert!(same(&double, &b));
    // The inquiry registered again under other ids, one per case below.
    let again = |id: &str| {
        let mut q = inquiry.clone();
        q.record_id = id.into();
        q
    };
    let (deferred, rejected, doubled) = (again("I-DEF"), again("I-REJ"), again("I-DBL"));
    let mut store =
        famlink::store::Store::open(&s.registry.dir().join(famlink::registry::DATABASE_FILE))
            .unwrap();
    let mut tx = store.batch(None).unwrap();
    for r in [&deferred, &rejected, &doubled, &a, &double, &b] {
        tx.upsert(r).unwrap();
    }
    tx.commit().unwrap();

    // A arrives: likely for the inquiry and two of its registrations; a reviewer
    // defers one and rejects the other.
    let for_a = s.propose_with(
        &Given(vec![inquiry.key(), deferred.key(), rejected.key()]),
        &a,
    );
    assert_eq!(for_a.len(), 3, "{for_a:?}");
    assert!(for_a.iter().all(|p| p.band == Band::Likely), "{for_a:?}");
    let ids = matching
        .save(&mut store, std::slice::from_ref(&a), &for_a)
        .unwrap();
    let id_of = |q: &Record| ids[for_a.iter().position(|p| p.inquiry == q.key()).unwrap()];
    let (a_pending, a_deferred, a_rejected) = (id_of(&inquiry), id_of(&deferred), id_of(&rejected));
    review::decide(&mut store, a_deferred, Decision::Defer, None, "rita", None).unwrap();
    review::decide(&mut store, a_rejected, Decision::Reject, None, "rita", None).unwrap();
    // The double arrives: likely for the third registration of the inquiry.
    let for_double = s.propose_with(&Given(vec![doubled.key()]), &double);
    assert_eq!(for_double[0].band, Band::Likely, "{for_double:?}");
    let double_id = matching
        .save(&mut store, std::slice::from_ref(&double), &for_double)
        .unwrap()[0];
    let before: HashMap<i64, review::StoredProposal> =
        [a_pending, a_deferred, a_rejected, double_id]
            .into_iter()
            .map(|id| (id, review::get_proposal(&store, id).unwrap().unwrap()))
            .collect();

    // B arrives as the service matches it (search candidates, then saved): likely
    // for all four, above A and the double.
    let b_ids = famlink::batch::match_records(&mut s.registry, &matching, std::slice::from_ref(&b))
        .unwrap();
    let b_props: HashMap<RecordKey, review::StoredProposal> = b_ids
        .iter()
        .map(|&id| review::get_proposal(&store, id).unwrap().unwrap())
        .map(|p| (p.inquiry.clone(), p))
        .collect();
    for q in [&inquiry, &deferred, &rejected, &doubled] {
        let p = &b_props[&q.key()];
        assert_eq!(p.band, "likely", "{p:?}");
        assert_eq!(p.status, "pending", "{p:?}");
    }
    let b_p = b_props[&inquiry.key()].probability;
    assert!(
        b_p > before[&a_pending].probability,
        "{b_props:?} {before:?}"
    );
    assert!(
        b_p > before[&double_id].probability,
        "{b_props:?} {before:?}"
    );

    let now = |id: i64| review::get_proposal(&store, id).unwrap().unwrap();
    // A's pending likely proposal is now possible, as a new version.
    let demoted = now(a_pending);
    assert_eq!(demoted.band, "possible", "{demoted:?}");
    assert_eq!(demoted.status, "pending");
    assert_eq!(demoted.version, before[&a_pending].version + 1);
    assert_eq!(demoted.probability, before[&a_pending].probability);
    // Deferred and rejected proposals are left as the reviewer left them.
    for id in [a_deferred, a_rejected] {
        let (was, is) = (&before[&id], now(id));
        assert_eq!(
            (&is.band, &is.status, is.version, &is.updated_at),
            (&was.band, &was.status, was.version, &was.updated_at),
            "{is:?}"
        );
        assert_eq!(is.band, "likely");
    }
    // Another registration of B itself stays likely.
    let kept = now(double_id);
    assert_eq!(
        (kept.band.as_str(), kept.status.as_str(), kept.version),
        ("likely", "pending", before[&double_id].version),
        "{kept:?}"
    );
    // A reviewer deciding the version of A's proposal they saw, likely, is told it
    // changed.
    assert!(matches!(
        review::decide(
            &mut store,
            a_pending,
            Decision::Confirm,
            None,
            "rita",
            Some(before[&a_pending].version)
        ),
        Err(review::ReviewError::Conflict(_))
    ));
}
