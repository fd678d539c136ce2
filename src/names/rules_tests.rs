//! Tests of the name rules: the loader's errors, and the built-in rules against
//! real variants across scripts and cultures.

use super::*;

fn rules() -> Arc<NameRules> {
    NameRules::builtin()
}

/// Name rules from small texts; unspecified files are empty but valid.
fn from(
    variants: &str,
    nicknames: &str,
    particles: &str,
    placeholders: &str,
) -> Result<NameRules, crate::rulebook::RuleErrors> {
    NameRules::from_texts(&NameRuleTexts {
        variants: ("v.toml", variants),
        nicknames: ("n.toml", nicknames),
        particles: ("p.toml", particles),
        placeholders: ("h.toml", placeholders),
    })
}

const MINIMAL: &str = "[comparison]\ncollapse_doubles = true\n";

fn errors(r: Result<NameRules, crate::rulebook::RuleErrors>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let e = errors(from(
        "[comparison]\nrewrites = [\n  [\"kh\", \"h\"],\n  [\"x\" \"h\"],\n]\n",
        "",
        "",
        "",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("v.toml:4: "), "{e:?}");

    // Unknown keys are typos, reported where they are.
    let e = errors(from(MINIMAL, "", "\n[connector]\nwords = [\"bin\"]\n", ""));
    assert!(e[0].starts_with("p.toml:"), "{e:?}");
    assert!(e[0].contains("connector"), "{e:?}");
}

#[test]
fn semantic_errors_point_at_the_entry() {
    let variants = r#"[comparison]
rewrites = [
  ["kh", "h"],
  ["K", "k"],
  ["x", "h", "y"],
]
collapse_doubles = true

[groups]
arabic = [
  ["Mohammed", "Muhammad"],
  [],
  ["Mahmoud"],
  ["Mohamed", "Mahamed"],
  ["Khalid", "Halid"],
]
other = [
  ["Hallid", "Xaalid"],
]
"#;
    let e = errors(from(variants, "", "", ""));
    let expect = [
        ("v.toml:4: ", "rewrite pattern \"K\""),
        ("v.toml:5: ", "[pattern, replacement]"),
        ("v.toml:12: ", "at least two spellings"),
        ("v.toml:13: ", "at least two spellings"),
        ("v.toml:14: ", "already in the group on line 11"),
        ("v.toml:18: ", "already in the group on line 15"),
    ];
    assert_eq!(e.len(), expect.len(), "{e:#?}");
    for (got, (at, what)) in e.iter().zip(expect) {
        assert!(
            got.starts_with(at) && got.contains(what),
            "{got} / {at} {what}"
        );
    }
}

#[test]
fn nickname_particle_and_placeholder_errors() {
    let variants =
        "[comparison]\ncollapse_doubles = true\n[groups]\nx = [[\"Oleksandr\", \"Aleksandr\"]]\n";
    let nicknames = "[ukrainian]\nSasha = [\"Oleksandr\"]\nSashko = []\nAleksandr = [\"Oleksandr\"]\n\"-\" = [\"Ivan\"]\n";
    let particles =
        "[connectors]\nwords = [\"bin\", \"ibn\"]\n[prefixes]\nalways = [\"abd\", \"BIN\"]\n";
    let placeholders = "exact = [\"NA\", \"  \"]\ntokens = [\"fnu\", \"not known\"]\n";
    let e = errors(from(variants, nicknames, particles, placeholders));
    let expect = [
        ("p.toml:4: ", "already listed in connectors on line 2"),
        ("n.toml:3: ", "stands for no name"),
        ("n.toml:4: ", "same name as its nickname"),
        ("n.toml:5: ", "no letters"),
        ("h.toml:1: ", "empty exact placeholder"),
        ("h.toml:2: ", "one word"),
    ];
    assert_eq!(e.len(), expect.len(), "{e:#?}");
    for (got, (at, what)) in e.iter().zip(expect) {
        assert!(
            got.starts_with(at) && got.contains(what),
            "{got} / {at} {what}"
        );
    }
}

#[test]
fn missing_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = NameRules::load(dir.path()).unwrap_err();
    assert_eq!(e.0.len(), 4);
    assert!(
        e.0[0].to_string().contains("variants.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn comparison_forms_join_transliteration_schemes() {
    let r = rules();
    for v in [
        "Yuliia", "Yuliya", "Iuliia", "Julija", "Ioulia", "Yulia", "Юлія", "Юлия",
    ] {
        assert_eq!(r.comparison_form(v), "iulia", "{v}");
    }
    assert_eq!(
        r.comparison_form("Schewtschenko"),
        r.comparison_form("Shevchenko")
    );
    assert_eq!(
        r.comparison_form("Mukhammed"),
        r.comparison_form("Muhammed")
    );
    assert_eq!(r.comparison_form("Maxamed"), r.comparison_form("Mahamed"));
    assert_eq!(r.comparison_form("Noor"), r.comparison_form("Nuur"));
    assert_eq!(r.comparison_form("Cabdi"), r.comparison_form("Abdi"));
}

#[test]
fn mohammed_across_scripts_and_schemes() {
    let r = rules();
    let g = r.variant_group("Mohammed").expect("a group");
    assert_eq!(r.group_label(g), "mohammed");
    for v in [
        "Muhammad",
        "Mohamed",
        "Maxamed",
        "Mukhammed",
        "Mehmet",
        "محمد",
        "MOHAMMED",
        "Мухаммед",
        "Mouhammad",
    ] {
        assert_eq!(r.variant_group(v), Some(g), "{v}");
        assert!(r.relation("Mohammed", v).is_some(), "{v}");
    }
    assert_eq!(
        r.relation("Mohammed", "Maxamed"),
        Some(NameRelation::Variant)
    );
    assert_eq!(r.relation("Maxamed", "محمد"), Some(NameRelation::Variant));
    // Related names are not the same name.
    assert_eq!(r.relation("Mohammed", "Mahmoud"), None);
    assert_eq!(
        r.relation("Mohamud", "Mahmoud"),
        Some(NameRelation::Variant)
    );
    assert_eq!(r.relation("Hassan", "Hussein"), None);
    assert_eq!(r.relation("Fatima", "Fadumo"), Some(NameRelation::Variant));
    assert_eq!(r.relation("Fatima", "Khadija"), None);
}

#[test]
fn oleksandr_sasha_and_yuliia() {
    let r = rules();
    for v in ["Aleksandr", "Alexander", "Olexandr", "Александр"] {
        assert_eq!(
            r.relation("Oleksandr", v),
            Some(NameRelation::Variant),
            "{v}"
        );
    }
    // Ukrainian Cyrillic normalizes to the national scheme itself.
    assert_eq!(
        r.relation("Oleksandr", "Олександр"),
        Some(NameRelation::Same)
    );
    assert_eq!(r.relation("Oleksandr", "Oleksii"), None);
    for nick in ["Sasha", "Саша", "Sascha", "Sashko"] {
        assert_eq!(
            r.relation(nick, "Oleksandr"),
            Some(NameRelation::Nickname),
            "{nick}"
        );
        assert_eq!(
            r.relation("Aleksandr", nick),
            Some(NameRelation::Nickname),
            "{nick}"
        );
    }
    // Two nicknames of one name.
    assert_eq!(r.relation("Sasha", "Сашко"), Some(NameRelation::Nickname));
    assert!(r
        .nickname_expansions("Sasha")
        .contains(&r.variant_key("Alexander")));
    assert_eq!(
        r.relation("Misha", "Mykhailo"),
        Some(NameRelation::Nickname)
    );
    assert_eq!(
        r.relation("Abdi", "Abdirahman"),
        Some(NameRelation::Nickname)
    );
    assert_eq!(
        r.relation("Abdi", "Cabdullaahi"),
        Some(NameRelation::Nickname)
    );
    assert_eq!(r.relation("Abrish", "አብርሃም"), Some(NameRelation::Nickname));
    assert!(r.nickname_expansions("Mohammed").is_empty());

    for v in [
        "Yulia", "Iuliia", "Julija", "Юлія", "Юлия", "Julia", "Ioulia",
    ] {
        assert_eq!(r.relation("Yuliia", v), Some(NameRelation::Variant), "{v}");
    }
}

#[test]
fn compounds_join_and_connectors_drop() {
    let r = rules();
    for v in [
        "Abdul Rahman",
        "Abdulrahman",
        "Abd al-Rahman",
        "Abdel Rahman",
        "ABDUL-RAHMAN",
        "Cabdiraxmaan",
        "Abdi Rahman",
        "عبد الرحمن",
    ] {
        let parts = r.parts(v);
        assert_eq!(parts.len(), 1, "{v}: {parts:?}");
        assert!(r.relation(&parts[0], "Abdulrahman").is_some(), "{v}");
    }
    assert_eq!(r.parts("Abd al-Rahman"), ["abdalrahman"]);
    assert_eq!(r.parts("Rahmat Ullah"), ["rahmatullah"]);
    assert_eq!(r.parts("Gebre Medhin"), ["gebremedhin"]);
    assert_eq!(r.parts("Jean-Pierre Mukendi"), ["jeanpierre", "mukendi"]);
    // Abdi, Gebre and Jean are names of their own when the result is no name.
    assert_eq!(r.parts("Maxamed Cabdi Nuur"), ["maxamed", "cabdi", "nuur"]);
    assert_eq!(r.parts("Jean Mukendi"), ["jean", "mukendi"]);
    // Connectors between names drop; a name is never a connector at its edges.
    assert_eq!(
        r.parts("Ahmed bin Ali bin Hassan"),
        ["ahmed", "ali", "hassan"]
    );
    assert_eq!(r.parts("Fatima bint Omar"), ["fatima", "omar"]);
    assert_eq!(r.parts("Ahmad s/o Mahmood"), ["ahmad", "mahmood"]);
    assert_eq!(r.parts("Sidi ould Mohamed"), ["sidi", "mohamed"]);
    assert_eq!(r.parts("Ben"), ["ben"]);
    assert_eq!(r.parts("Nguyen Van Bin"), ["nguyen", "van", "bin"]);
    // Loose parts keep the joins that depend on the result apart; compounds
    // gives them besides.
    assert_eq!(r.loose_parts("Abdi Rahman", false), ["abdi", "rahman"]);
    assert_eq!(r.compounds("abdi rahman"), ["abdirahman"]);
    assert_eq!(r.loose_parts("Jean Piere", false), ["jean", "piere"]);
    // Jean-Pierre with one r compares the same; with a letter changed it does not.
    assert_eq!(r.compounds("jean piere"), ["jeanpiere"]);
    assert!(r.compounds("jean pirre").is_empty());
    assert_eq!(
        r.loose_parts("Abd al-Rahman bin Ali", false),
        ["abdalrahman", "ali"]
    );
    assert_eq!(r.loose_parts("van der Berg", true), ["vanderberg"]);
    // Family particles in family names only.
    assert_eq!(r.family_parts("van der Berg"), ["vanderberg"]);
    assert_eq!(r.parts("Nguyen Van An"), ["nguyen", "van", "an"]);
    assert_eq!(r.parts("Al-Khatib"), ["alkhatib"]);
    assert_eq!(
        r.relation("alkhatib", "Khatib"),
        Some(NameRelation::Variant)
    );
}

#[test]
fn family_name_first_in_capitals() {
    let r = rules();
    let w = r.split_family_first("NGUYEN Van An").unwrap();
    assert_eq!(w.family, ["nguyen"]);
    assert_eq!(w.given, ["van", "an"]);
    let w = r.split_family_first("MUKENDI Kabasele Jean").unwrap();
    assert_eq!(
        (w.family.as_slice(), w.given.as_slice()),
        (
            &["mukendi".to_owned()][..],
            &["kabasele".to_owned(), "jean".to_owned()][..]
        )
    );
    let w = r.split_family_first("MUKENDI KABEYA Jean-Pierre").unwrap();
    assert_eq!(w.family, ["mukendi", "kabeya"]);
    assert_eq!(w.given, ["jeanpierre"]);
    let w = r.split_family_first("LE Thi Mai").unwrap();
    assert_eq!(w.family, ["le"]);
    let w = r.split_family_first("AL-KHATIB Omar").unwrap();
    assert_eq!(
        (w.family, w.given),
        (vec!["alkhatib".to_owned()], vec!["omar".to_owned()])
    );
    let w = r.split_family_first("ШЕВЧЕНКО Олександр").unwrap();
    assert_eq!(w.family, ["shevchenko"]);
    let w = r.split_family_first("Kamara, Fatmata").unwrap();
    assert_eq!(
        (w.family, w.given),
        (vec!["kamara".to_owned()], vec!["fatmata".to_owned()])
    );
    let w = r.split_family_first("LNU Ahmed").unwrap();
    assert!(w.family.is_empty());
    assert_eq!(w.given, ["ahmed"]);
    // Nothing says which part is the family name.
    for text in [
        "NGUYEN VAN AN",
        "Nguyen Van An",
        "Amina Yusuf",
        "MOHAMED",
        "محمد علي",
        "A. Mohamed",
    ] {
        assert_eq!(r.split_family_first(text), None, "{text}");
    }
}

#[test]
fn placeholders_mean_unknown() {
    let r = rules();
    for v in [
        "UNKNOWN",
        "unknown",
        "Unknown ",
        "N/A",
        "n.a.",
        "NA",
        "-",
        "--",
        "?",
        "",
        "LNU",
        "FNU",
        "not known",
        "Not Known",
        "Невідомо",
        "неизвестно",
        "غير معروف",
        "inconnu",
        "Haijulikani",
        "lama yaqaan",
        "không rõ",
        "ያልታወቀ",
        "XXX",
    ] {
        assert!(r.is_placeholder(v), "{v:?}");
    }
    for v in ["Na", "Ahmed", "Nguyen", "Ali", "Unknown Ahmed", "x Ali"] {
        assert!(!r.is_placeholder(v), "{v:?}");
    }
    assert_eq!(r.parts("FNU Ahmed"), ["ahmed"]);
    assert_eq!(r.parts("Mohammed LNU"), ["mohammed"]);
    assert!(r.parts("UNKNOWN").is_empty());
}

#[test]
fn fingerprint_follows_meaning_not_layout() {
    let a = from("[comparison]\nrewrites = [[\"kh\", \"h\"]]\n", "", "", "").unwrap();
    let b = from(
        "# a comment\n[comparison]\nrewrites = [\n  [\"kh\", \"h\"],  # why\n]\n",
        "",
        "",
        "",
    )
    .unwrap();
    let c = from("[comparison]\nrewrites = [[\"kh\", \"x\"]]\n", "", "", "").unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    let d = from(MINIMAL, "", "", "values = [\"unknown\"]\n").unwrap();
    let e = from(MINIMAL, "", "", "values = [\"unknown\", \"none\"]\n").unwrap();
    assert_ne!(d.fingerprint(), e.fingerprint());
}

#[test]
fn keys_carry_variant_and_nicknames() {
    let sasha = keys("sasha");
    let oleksandr = keys("oleksandr");
    let alexander = keys("alexander");
    assert_eq!(oleksandr.variant, alexander.variant);
    assert_eq!(
        oleksandr.rule_relation(&alexander),
        Some(NameRelation::Variant)
    );
    assert_eq!(
        sasha.rule_relation(&alexander),
        Some(NameRelation::Nickname)
    );
    assert_eq!(
        alexander.rule_relation(&sasha),
        Some(NameRelation::Nickname)
    );
    assert_eq!(keys("olga").rule_relation(&alexander), None);
}
