use super::*;

fn g() -> Arc<Gazetteer> {
    Gazetteer::builtin()
}

fn path_of(text: &str) -> Vec<String> {
    let g = g();
    g.resolve(text)
        .iter()
        .map(|m| g.path(m.id).to_owned())
        .collect()
}

#[test]
fn relations_between_places() {
    let g = g();
    assert_eq!(g.relation("Doolow", "Dollow"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Dolow", "DOLLOW"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Dollow", "Luuq"), PlaceRelation::SameDistrict);
    assert_eq!(g.relation("Dollow", "Gedo"), PlaceRelation::SameDistrict);
    assert_eq!(
        g.relation("Gedo region", "Gedo"),
        PlaceRelation::SameDistrict
    );
    assert_eq!(g.relation("Dollow", "Baidoa"), PlaceRelation::SameCountry);
    assert_eq!(g.relation("Dollow", "Somalia"), PlaceRelation::SameCountry);
    assert_eq!(g.relation("Dollow", "Kharkiv"), PlaceRelation::Different);
    assert_eq!(g.relation("Dollow", "Atlantis"), PlaceRelation::Unknown);
    assert_eq!(g.relation("UNKNOWN", "Dollow"), PlaceRelation::Unknown);
    // Across scripts and schemes.
    assert_eq!(g.relation("Baydhabo", "Baidoa"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Харків", "Kharkov"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Charkiw", "Izium"), PlaceRelation::SameDistrict);
    assert_eq!(g.relation("Mekelle", "መቐለ"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Makale", "Mek'ele"), PlaceRelation::SameVillage);
    assert_eq!(g.relation("Mogadishu", "Xamar"), PlaceRelation::SameVillage);
    assert_eq!(
        g.relation("Muqdisho", "Kismaayo"),
        PlaceRelation::SameCountry
    );
    assert_eq!(
        g.relation("الجنينة", "El Geneina"),
        PlaceRelation::SameVillage
    );
    // Dolo Ado is across the border from Dollow: another country.
    assert_eq!(g.relation("Dollo Ado", "Dollow"), PlaceRelation::Different);
}

#[test]
fn resolving_texts() {
    assert_eq!(path_of("Baydhabo"), ["SO/bay/baidoa"]);
    assert_eq!(path_of("Baidoa IDP site"), ["SO/bay/baidoa"]);
    assert_eq!(path_of("Dollow, Gedo, Somalia"), ["SO/gedo/dollow"]);
    assert_eq!(path_of("Gedo"), ["SO/gedo"]);
    assert_eq!(path_of("Somalia"), ["SO"]);
    assert_eq!(path_of("SO"), ["SO"]);
    assert_eq!(path_of("Україна"), ["UA"]);
    assert_eq!(path_of("Kharkiv oblast"), ["UA/kharkiv-oblast"]);
    assert_eq!(path_of("Kharkiv region"), ["UA/kharkiv-oblast"]);
    assert_eq!(path_of("Kharkiv city"), ["UA/kharkiv-oblast/kharkiv"]);
    assert_eq!(path_of("Harkiv"), ["UA/kharkiv-oblast/kharkiv"]);
    assert_eq!(path_of("Львів, вокзал"), ["UA/lviv-oblast/lviv"]);
    assert_eq!(path_of("near the Dollow market"), ["SO/gedo/dollow"]);
    // A name of two places: both, finest first.
    assert_eq!(path_of("Gaza"), ["PS/gaza/gaza-city", "PS/gaza"]);
    assert!(path_of("Atlantis").is_empty());
    assert!(path_of("N/A").is_empty());
    assert!(path_of("").is_empty());

    let g = g();
    let m = g.resolve("Dollow")[0];
    assert_eq!(m.level, PlaceLevel::Village);
    assert_eq!(m.country.as_str(), "SO");
    assert_eq!(g.name(m.id), "Dollow");
    let gedo = g.parent(m.id).unwrap();
    assert_eq!(g.path(gedo), "SO/gedo");
    assert_eq!(g.district_of(m.id), Some(gedo));
    assert!(g.contains(gedo, m.id));
    assert!(!g.contains(m.id, gedo));
    assert_eq!(g.by_path("SO/gedo/dollow"), Some(m));
}

#[test]
fn every_fixture_place_resolves_to_its_country() {
    // The places the fixture generator writes, in every spelling it uses.
    let g = g();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/names");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut section = "";
        for line in text.lines() {
            let line = line.split('#').next().unwrap().trim();
            if line.starts_with('[') {
                section = if line == "[places]" {
                    "places"
                } else if line == "[separation]" {
                    "separation"
                } else {
                    ""
                };
                continue;
            }
            if section.is_empty() || line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(';').map(str::trim).collect();
            let (spellings, country): (Vec<&str>, Option<&str>) = if section == "places" {
                (
                    fields[0].split('|').chain(fields[1].split('|')).collect(),
                    Some(fields[2]),
                )
            } else {
                (fields[0].split('|').collect(), None)
            };
            for s in spellings {
                let s = s.trim().trim_start_matches('=');
                let found = g.resolve(s);
                assert!(
                    !found.is_empty(),
                    "{}: {s:?} not in the gazetteer",
                    path.display()
                );
                if let Some(c) = country {
                    assert!(
                        found.iter().any(|m| m.country.as_str() == c),
                        "{s:?} not in {c}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "{checked}");
}

fn load(text: &str) -> Vec<String> {
    match Gazetteer::from_text("g.toml", text, NameRules::builtin()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn loader_errors_point_at_the_entry() {
    let text = r#"[countries]
SO = ["Somalia"]
XX = ["Nowhere"]
so = ["Somalia again"]

[districts]
gedo = { country = "SO", names = ["Gedo"] }
bay = { country = "ET", names = ["Bay"] }
hiiraan = { names = ["Hiiraan"] }
Bad_Id = { country = "SO", names = ["x"] }
empty = { country = "SO", names = [] }

[places]
dollow = { district = "gedo", names = ["Dollow"] }
luuq = { district = "gedoo", names = ["Luuq"] }
nowhere = { names = ["Nowhere"] }
baidoa = { district = "gedo", country = "KE", names = ["Baidoa"] }
berlin = { country = "DE", names = ["Berlin"] }
"#;
    let e = load(text);
    let expect = [
        ("g.toml:3: ", "unknown country code \"XX\""),
        ("g.toml:4: ", "unknown country code \"so\""),
        ("g.toml:8: ", "country \"ET\" is not declared"),
        ("g.toml:9: ", "needs its country"),
        ("g.toml:10: ", "id \"Bad_Id\""),
        ("g.toml:11: ", "has no names"),
        ("g.toml:15: ", "district \"gedoo\" is not declared"),
        ("g.toml:16: ", "needs its district"),
        ("g.toml:17: ", "differs from the country of district"),
        ("g.toml:18: ", "country \"DE\" is not declared"),
    ];
    assert_eq!(e.len(), expect.len(), "{e:#?}");
    for (got, (at, what)) in e.iter().zip(expect) {
        assert!(
            got.starts_with(at) && got.contains(what),
            "{got} / {at} {what}"
        );
    }

    let e = load("[countries]\nSO = [\"Somalia\"\n");
    assert!(
        e[0].starts_with("g.toml:2: ") || e[0].starts_with("g.toml:3: "),
        "{e:?}"
    );
    let e = load("[countries]\nSO = [\"Somalia\"]\n[villages]\nx = 1\n");
    assert!(e[0].starts_with("g.toml:3: "), "{e:?}");
}
