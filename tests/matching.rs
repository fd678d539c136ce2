//! The child↔inquiry matcher: rule-file errors, the sibling guard, term frequencies,
//! EM sessions on a known model, and `match` on the committed sample.

use std::path::Path;

use famlink::matching::{
    self, compare::Preparer, eval, CandidateIndex, ProposalViewer, Scorer, TracingRules, Trained,
};
use famlink::model::{pack, EmParams};
use famlink::record::{RawRow, RecordKind, RowParser};

fn rules_fast() -> TracingRules {
    let text = matching::rules::DEFAULT_RULES.replace("u_pairs = 100000", "u_pairs = 20000");
    TracingRules::parse(Path::new("tracing.toml"), &text).unwrap()
}

#[test]
fn rule_file_errors_name_file_and_line() {
    let good = matching::rules::DEFAULT_RULES;
    // An unknown comparison.
    let bad = good.replace("name = \"mother\"", "name = \"grandmother\"");
    let e = TracingRules::parse(Path::new("x/tracing.toml"), &bad).unwrap_err();
    let line = bad.lines().position(|l| l.contains("grandmother")).unwrap() + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("x/tracing.toml:{line}: ")),
        "{e}"
    );
    assert!(e.message.contains("unknown comparison"), "{e}");
    // Levels not those of the comparison.
    let bad = good.replace(
        "levels = [\"same\", \"different\"]\nidentity = true",
        "levels = [\"different\", \"same\"]\nidentity = true",
    );
    let e = TracingRules::parse(Path::new("t.toml"), &bad).unwrap_err();
    assert!(e.message.contains("levels"), "{e}");
    assert!(e.line.is_some());
    // A threshold out of range, and a TOML syntax error.
    let bad = good.replace("likely = 0.95", "likely = 1.5");
    let e = TracingRules::parse(Path::new("t.toml"), &bad).unwrap_err();
    let line = bad.lines().position(|l| l.starts_with("likely")).unwrap() + 1;
    assert_eq!(e.line, Some(line), "{e}");
    let bad = good.replace("[bands]", "[bands");
    let e = TracingRules::parse(Path::new("t.toml"), &bad).unwrap_err();
    assert!(e.line.is_some(), "{e}");
    // An unknown key, e.g. a misspelt setting.
    let bad = good.replace("tolerance_years = 3", "tolerance_yeers = 3");
    let e = TracingRules::parse(Path::new("t.toml"), &bad).unwrap_err();
    let line = bad
        .lines()
        .position(|l| l.starts_with("tolerance_yeers"))
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
}

const CHILD_HEADER: &str = "record_id,agency,given_name,family_name,other_names,sex,birth_date,age_years,age_recorded_on,father_name,mother_name,origin_village,origin_district,origin_country,separation_place,separation_date,languages,notes,tracing_consent";
const INQ_HEADER: &str = "record_id,agency,given_name,family_name,other_names,sex,birth_date,age_years,age_recorded_on,father_name,mother_name,origin_village,origin_district,origin_country,separation_place,separation_date,languages,notes,inquirer_name,inquirer_relationship,inquirer_contact";

fn prepared(
    kind: RecordKind,
    header: &str,
    line: &str,
    rules: &TracingRules,
) -> matching::Prepared {
    let cols: std::sync::Arc<[String]> = header.split(',').map(str::to_owned).collect();
    let row = RawRow {
        line: 2,
        columns: cols,
        values: line.split(',').map(str::to_owned).collect(),
    };
    let rec = RowParser::new(kind, None).parse(&row).unwrap();
    Preparer::new(rules).prepare(&rec)
}

fn side(rows: Vec<matching::Prepared>) -> matching::Side {
    matching::Side {
        agency: rows.iter().map(|_| "a".into()).collect(),
        record_id: (0..rows.len()).map(|i| format!("C{i}").into()).collect(),
        prepared: rows,
        rejected: 0,
    }
}

/// A model trained on the committed sample, for the constructed cases.
fn sample_model(rules: &TracingRules) -> Trained {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let children =
        matching::load_side(&dir.join("children.csv"), RecordKind::Child, rules).unwrap();
    let inquiries =
        matching::load_side(&dir.join("inquiries.csv"), RecordKind::Inquiry, rules).unwrap();
    let index = CandidateIndex::build(&children.prepared);
    matching::train(rules, &children, &inquiries, &index).0
}

#[test]
fn a_sibling_is_never_likely_and_says_why() {
    let rules = rules_fast();
    let trained = sample_model(&rules);
    // The family seeks Ahmed; only his brother Omar and sister Halima are registered
    // (same parents, family name, village, separation).
    let inquiry = prepared(
        RecordKind::Inquiry,
        INQ_HEADER,
        "I1,unhcr-dollo,Ahmed,Hassan Nuur,,M,2014-05-02,,,Hassan Nuur Ali,Faadumo Cali,Doolow,Gedo,SO,Dolo Ado,2024-03,so,,Faadumo Cali,mother,+252",
        &rules,
    );
    let brother = prepared(
        RecordKind::Child,
        CHILD_HEADER,
        "C1,unhcr-dollo,Omar,Hassan Nuur,,M,2012-02-11,,,Hassan Nuur Ali,Fadumo Ali,Dollow,Gedo,SO,Dolo Ado,2024-03,so,,yes",
        &rules,
    );
    let sister = prepared(
        RecordKind::Child,
        CHILD_HEADER,
        "C2,unhcr-dollo,Halima,Hassan,,F,2014-05-02,,,Hassan Nuur Ali,Faadumo Cali,Doolow,Gedo,SO,Dolo Ado,2024-03,so,,yes",
        &rules,
    );
    let himself = prepared(
        RecordKind::Child,
        CHILD_HEADER,
        "C3,savechildren-gaz,Axmed,Xasan,Nuur,M,2014-05-02,,,Xasan Nuur Cali,,Doolow,Gedo,SO,,,so,,no",
        &rules,
    );
    let scorer = Scorer::new(&rules, &trained);
    let children = side(vec![brother, sister]);
    let props = scorer.propose(0, &inquiry, &children, &[0, 1], 5);
    assert!(!props.is_empty(), "siblings stay visible as possible");
    for p in &props {
        assert_eq!(p.band, matching::Band::Possible, "{}", p.explanation());
        assert!(!p.identity_agrees);
        assert!(
            p.explanation().contains(matching::SIBLING_NOTE),
            "{}",
            p.explanation()
        );
    }
    // With the child himself registered (another spelling, another agency, no
    // consent), he comes first and likely; the siblings stay possible.
    let children = side(vec![
        children.prepared[0].clone(),
        children.prepared[1].clone(),
        himself,
    ]);
    let props = scorer.propose(0, &inquiry, &children, &[0, 1, 2], 5);
    assert_eq!(props[0].child, 2, "{}", props[0].explanation());
    assert_eq!(
        props[0].band,
        matching::Band::Likely,
        "{}",
        props[0].explanation()
    );
    assert!(props[1..]
        .iter()
        .all(|p| p.band == matching::Band::Possible));
    assert!(!props[0].child_consent);
    // A user of another agency never sees the child without consent.
    let viewer = ProposalViewer::Agency("unhcr-dollo".into());
    assert!(!viewer.may_see(&children, &props[0]));
    assert!(ProposalViewer::Operator.may_see(&children, &props[0]));
}

#[test]
fn a_common_given_name_weighs_less_than_a_rare_one() {
    let rules = rules_fast();
    let mut trained = sample_model(&rules);
    let q = |name: &str| {
        prepared(
            RecordKind::Inquiry,
            INQ_HEADER,
            &format!("I1,a,{name},,,M,2014-05-02,,,,,,,,,,,,,,"),
            &rules,
        )
    };
    let c = |name: &str| {
        prepared(
            RecordKind::Child,
            CHILD_HEADER,
            &format!("C1,a,{name},,,M,2014-05-02,,,,,,,,,,,,yes"),
            &rules,
        )
    };
    trained.frequencies.children = 10_000;
    trained.frequencies.counts.insert("mhmd".into(), 2_000);
    trained.frequencies.counts.insert("brkt".into(), 1);
    let scorer = Scorer::new(&rules, &trained);
    let (common, ..) = scorer.score(&q("Mohamed"), &c("Mohamed"), false);
    let (rare, ..) = scorer.score(&q("Bereket"), &c("Bereket"), false);
    assert!(rare > common + 3.0, "rare {rare} common {common}");
}

#[test]
fn em_sessions_recover_a_known_model() {
    // Three comparisons, two levels each plus a third for the first; patterns drawn
    // from a known mixture. A full EM run with u free recovers m and λ.
    let m = [vec![0.8, 0.15, 0.05], vec![0.9, 0.1], vec![0.7, 0.3]];
    let u = [vec![0.02, 0.08, 0.9], vec![0.1, 0.9], vec![0.2, 0.8]];
    let lambda: f64 = 0.1;
    let mut patterns = Vec::new();
    let total: f64 = 1_000_000.0;
    for a in 0..3u8 {
        for b in 0..2u8 {
            for c in 0..2u8 {
                let pm = m[0][a as usize] * m[1][b as usize] * m[2][c as usize];
                let pu = u[0][a as usize] * u[1][b as usize] * u[2][c as usize];
                let n = (total * (lambda * pm + (1.0 - lambda) * pu)).round() as u64;
                patterns.push((pack(&[a, b, c]), n));
            }
        }
    }
    let mut params = EmParams {
        lambda: 0.3,
        m: vec![vec![0.5, 0.3, 0.2], vec![0.6, 0.4], vec![0.6, 0.4]],
        u: vec![vec![0.1, 0.2, 0.7], vec![0.3, 0.7], vec![0.3, 0.7]],
    };
    let out = famlink::model::expectation_maximisation(
        &patterns,
        &mut params,
        &famlink::model::EmOptions {
            max_iterations: 2000,
            tolerance: 1e-9,
            fix_u: false,
            active: vec![true, true, true],
        },
    );
    assert!(out.converged);
    assert!((params.lambda - lambda).abs() < 0.01, "{}", params.lambda);
    for (c, row) in m.iter().enumerate() {
        for (l, &x) in row.iter().enumerate() {
            assert!(
                (params.m[c][l] - x).abs() < 0.02,
                "m[{c}][{l}] {} vs {x}",
                params.m[c][l]
            );
        }
    }
    // The matcher's completing M-step learns a left-out comparison from the
    // posteriors of the others: with two comparisons only, the posteriors are soft,
    // so the estimate lies between the true m (0.7) and u (0.2), much nearer m.
    let mut p2 = params.clone();
    p2.m[2] = vec![0.5, 0.5];
    p2.u[2] = vec![0.5, 0.5];
    matching::complete_m_step(&patterns, &mut p2, &[true, true, false]);
    assert!(p2.m[2][0] > 0.55 && p2.m[2][0] < 0.75, "{:?}", p2.m[2]);
    assert!((p2.u[2][0] - 0.2).abs() < 0.03, "{:?}", p2.u[2]);
}

#[test]
fn match_on_the_committed_sample() {
    // Measured: recall@1 0.98, recall@5 0.99, likely precision 1.00 (release and
    // debug give the same figures; the stated floor leaves a small margin).
    let rules = rules_fast();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let children =
        matching::load_side(&dir.join("children.csv"), RecordKind::Child, &rules).unwrap();
    let inquiries =
        matching::load_side(&dir.join("inquiries.csv"), RecordKind::Inquiry, &rules).unwrap();
    let index = CandidateIndex::build(&children.prepared);
    let (trained, _) = matching::train(&rules, &children, &inquiries, &index);
    let tmp = tempfile::tempdir().unwrap();
    trained.save(tmp.path()).unwrap();
    let trained = Trained::load(tmp.path(), &rules).unwrap();
    let run = matching::propose_all(
        &rules,
        &trained,
        &children,
        &inquiries,
        &index,
        5,
        &ProposalViewer::Operator,
        false,
        &|_| {},
    );
    let out = tmp.path().join("p.csv");
    matching::write_csv(&out, &run, &children, &inquiries).unwrap();
    let props = eval::read_proposals(&out).unwrap();
    let truth = eval::read_truth(&dir.join("truth_links.csv")).unwrap();
    let e = eval::evaluate(&props, &truth, 5);
    assert!(e.recall_at_1 >= 0.95, "{e:?}");
    assert!(e.recall_at_k >= 0.97, "{e:?}");
    assert!(e.bands[0].precision >= 0.97, "{e:?}");
    // Every proposal has a probability, a band and an explanation.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().next().unwrap().starts_with(
        "inquiry_agency,inquiry_record_id,child_agency,child_record_id,rank,probability,band,explanation"
    ));
    assert!(text.contains("personal_name: "));
    let model = std::fs::read_to_string(matching::model_path(tmp.path())).unwrap();
    assert!(model.contains("\"log2_bayes_factor\""));
}

/// An inquiry and a child differing only in the given cells (column name → value).
fn pair_with(q: &[(&str, &str)], c: &[(&str, &str)]) -> (String, String) {
    let build = |header: &str, base: &str, edits: &[(&str, &str)]| {
        let cols: Vec<&str> = header.split(',').collect();
        let mut vals: Vec<String> = base.split(',').map(str::to_owned).collect();
        for (k, v) in edits {
            let i = cols.iter().position(|c| c == k).unwrap();
            vals[i] = v.to_string();
        }
        vals.join(",")
    };
    (
        build(
            INQ_HEADER,
            "I1,a,Ahmed,Hassan,,M,2014-05-02,,,Hassan Ali,Amina,Doolow,Gedo,SO,,,,,,,",
            q,
        ),
        build(
            CHILD_HEADER,
            "C1,b,Ahmed,Hassan,,M,2014-05-02,,,Hassan Ali,Amina,Doolow,Gedo,SO,,,,,yes",
            c,
        ),
    )
}

fn level(kind: matching::Kind, q: &[(&str, &str)], c: &[(&str, &str)]) -> (u8, String) {
    let (level, label, _) = level_with(&rules_fast(), kind, q, c);
    (level, label)
}

/// The level, its label and the values the explanation shows, under `rules`.
fn level_with(
    rules: &TracingRules,
    kind: matching::Kind,
    q: &[(&str, &str)],
    c: &[(&str, &str)],
) -> (u8, String, String) {
    let (ql, cl) = pair_with(q, c);
    let qp = prepared(RecordKind::Inquiry, INQ_HEADER, &ql, rules);
    let cp = prepared(RecordKind::Child, CHILD_HEADER, &cl, rules);
    let o = matching::Comparer::new(rules).compare(kind, &qp, &cp);
    let label = if o.level == famlink::compare::MISSING {
        "missing".to_string()
    } else {
        kind.levels()[o.level as usize].to_string()
    };
    (o.level, label, o.detail)
}

#[test]
fn messy_dates_are_read_by_the_rules() {
    use matching::Kind::Birth;
    assert_eq!(level(Birth, &[], &[]).1, "same_day");
    // Day and month swapped.
    let d = |s: &'static str| [("birth_date", s)];
    assert_eq!(
        level(Birth, &d("2014-03-09"), &d("2014-09-03")).1,
        "day_month_swapped"
    );
    // 1 January is a registration default: it weighs as the year only.
    assert_eq!(
        level(Birth, &d("2014-01-01"), &d("2014-06-15")).1,
        "same_year"
    );
    assert_eq!(
        level(Birth, &d("2014-02-01"), &d("2014-06-15")).1,
        "overlap"
    );
    // A guessed age: 7 years old in 2021 allows 2013 and 2014.
    let age = [
        ("birth_date", ""),
        ("age_years", "7"),
        ("age_recorded_on", "2021-08-01"),
    ];
    assert_eq!(level(Birth, &age, &[]).1, "overlap");
    assert_eq!(level(Birth, &age, &d("2011-05-02")).1, "within_tolerance");
    // A year in the Ethiopian calendar, 7–8 years behind, for a child from Ethiopia.
    let et = |s: &'static str| [("birth_date", s), ("origin_country", "ET")];
    assert_eq!(
        level(Birth, &et("2006"), &et("2014-05-02")).1,
        "other_calendar"
    );
    assert_eq!(level(Birth, &d("2006"), &d("2014-05-02")).1, "different");
}

#[test]
fn placeholders_layouts_and_places() {
    use matching::Kind::{Father, Origin, PersonalName};
    // Placeholders mean unknown, not a name that agrees.
    let unknown = [("given_name", "UNKNOWN"), ("family_name", "LNU")];
    assert_eq!(level(PersonalName, &unknown, &unknown).1, "missing");
    assert_eq!(level(Father, &[("father_name", "N/A")], &[]).1, "missing");
    // The whole name in one field, family name first in capitals.
    let whole = [("given_name", "HASSAN Ahmed"), ("family_name", "")];
    assert_eq!(level(PersonalName, &whole, &[]).1, "exact");
    // Given and family swapped, and the Arabic script.
    let swapped = [("given_name", "حسن"), ("family_name", "أحمد")];
    assert_eq!(level(PersonalName, &swapped, &[]).1, "variant");
    // A brother: everything agrees but his own name.
    assert_eq!(
        level(PersonalName, &[], &[("given_name", "Omar")]).1,
        "different"
    );
    // Places hierarchically.
    assert_eq!(
        level(Origin, &[], &[("origin_village", "Dollow")]).1,
        "same_village"
    );
    assert_eq!(
        level(Origin, &[], &[("origin_village", "Luuq")]).1,
        "same_district"
    );
    assert_eq!(
        level(
            Origin,
            &[],
            &[("origin_village", "Baidoa"), ("origin_district", "Bay")]
        )
        .1,
        "same_country"
    );
}

#[test]
fn names_are_compared_by_the_name_rules() {
    use matching::Kind::{Father, PersonalName};
    let given = |s: &'static str| [("given_name", s)];
    // One name in other spellings: variants.toml.
    assert_eq!(
        level(PersonalName, &given("Mohammed"), &given("Maxamed")).1,
        "variant"
    );
    assert_eq!(
        level(PersonalName, &given("Oleksandr"), &given("Aleksandr")).1,
        "variant"
    );
    // A nickname (nicknames.toml) agrees at `close`, and the explanation says so.
    let rules = rules_fast();
    let (_, label, detail) = level_with(&rules, PersonalName, &given("Sasha"), &given("Oleksandr"));
    assert_eq!(label, "close");
    assert!(detail.contains("nickname: sasha = oleksandr"), "{detail}");
    // A nickname of the father is not the father's name: the child's own name
    // stays the child's.
    let (_, label, _) = level_with(
        &rules,
        PersonalName,
        &[("given_name", "Hamoudi"), ("father_name", "Ahmed Ali")],
        &[("given_name", "Mohammed"), ("father_name", "Ahmed Ali")],
    );
    assert_eq!(label, "close");
    // Merged and split particles (particles.toml): one part either way.
    assert_eq!(
        level(PersonalName, &given("Abdul Rahman"), &given("Abdulrahman")).1,
        "exact"
    );
    assert_eq!(
        level(PersonalName, &given("Abd al-Rahman"), &given("Abdulrahman")).1,
        "variant"
    );
    // Connectors are dropped, not compared.
    assert_eq!(
        level(Father, &[("father_name", "Hassan bin Ali")], &[]).1,
        "all_exact"
    );
}

#[test]
fn placeholders_come_from_the_name_rules() {
    use matching::Kind::{Father, Mother, PersonalName};
    // Placeholders listed in matching-rules/names/placeholders.toml only (never in
    // the tracing rule file): French, Ukrainian, Swahili "unknown".
    for p in ["Inconnu", "невідомо", "Haijulikani", "NOT KNOWN", "-"] {
        assert_eq!(
            level(Father, &[("father_name", p)], &[]).1,
            "missing",
            "{p}"
        );
        assert_eq!(
            level(Mother, &[("mother_name", p)], &[("mother_name", p)]).1,
            "missing",
            "{p}"
        );
    }
    // A placeholder token inside a name is left out.
    assert_eq!(
        level(PersonalName, &[("given_name", "FNU Ahmed")], &[]).1,
        "exact"
    );
}

/// A rules directory: `tracing.toml` naming `names/`, with this repository's name
/// rules, `variants.toml` edited by `edit`.
fn rules_dir(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("matching-rules");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("names")).unwrap();
    for f in [
        "variants.toml",
        "nicknames.toml",
        "particles.toml",
        "placeholders.toml",
    ] {
        let text = std::fs::read_to_string(src.join("names").join(f)).unwrap();
        let text = if f == "variants.toml" {
            edit(&text)
        } else {
            text
        };
        std::fs::write(tmp.path().join("names").join(f), text).unwrap();
    }
    std::fs::copy(src.join("tracing.toml"), tmp.path().join("tracing.toml")).unwrap();
    tmp
}

#[test]
fn the_tracing_file_names_its_name_rules() {
    use matching::Kind::PersonalName;
    let given = |s: &'static str| [("given_name", s)];
    // Two names the shipped rules do not join.
    let (q, c) = (given("Zelalem"), given("Tsegaye"));
    let shipped = rules_dir(|t| t.to_owned());
    let rules = TracingRules::load(&shipped.path().join("tracing.toml")).unwrap();
    assert_eq!(rules.names_dir.as_deref(), Some(Path::new("names")));
    assert_eq!(level_with(&rules, PersonalName, &q, &c).1, "different");
    // A deployment declares them one name: data, not code.
    let edited = rules_dir(|t| {
        t.replace(
            "[groups]\n",
            "[groups]\ntest = [[\"Zelalem\", \"Tsegaye\"]]\n",
        )
    });
    let rules = TracingRules::load(&edited.path().join("tracing.toml")).unwrap();
    assert_eq!(level_with(&rules, PersonalName, &q, &c).1, "variant");
    // An error in the name rules names the name rule file and the line.
    let broken = rules_dir(|t| t.replace("[groups]\n", "[groups]\ntest = [[\"Zelalem\"]]\n"));
    let e = TracingRules::load(&broken.path().join("tracing.toml")).unwrap_err();
    assert!(e.to_string().contains("variants.toml:"), "{e}");
    // The lists that moved to the name rules are refused with a pointer there.
    let old = matching::rules::DEFAULT_RULES
        .replace("[names]\n", "[names]\nplaceholders = [\"UNKNOWN\"]\n");
    let e = TracingRules::parse(Path::new("t.toml"), &old).unwrap_err();
    assert!(e.message.contains("placeholders.toml"), "{e}");
}
