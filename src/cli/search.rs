//! `famlink search` and `famlink show`

use std::process::ExitCode;

use famlink::record::{PartialDate, Record, RecordKey, RecordKind, Sex};
use famlink::registry::{Found, RecordView, RegistryError};
use famlink::search::SearchQuery;

use super::{open, parse_date, parse_kind, parse_sex, viewer, DataArg};

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    data: DataArg,
    #[arg(long, value_parser = parse_kind)]
    kind: Option<RecordKind>,
    /// The child's name as heard, in any spelling or script.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    father: Option<String>,
    #[arg(long)]
    mother: Option<String>,
    /// A village, district or place of separation.
    #[arg(long)]
    place: Option<String>,
    /// Birth date: YYYY, YYYY-MM or YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    born: Option<PartialDate>,
    /// Approximate age today, in years.
    #[arg(long)]
    age: Option<f32>,
    #[arg(long, value_parser = parse_sex)]
    sex: Option<Sex>,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Search as a user of this agency (applies the tracing-consent rule).
    #[arg(long = "as-agency")]
    as_agency: Option<String>,
    /// Print results as JSON, with each hit's score and record.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    if args.name.is_none()
        && args.father.is_none()
        && args.mother.is_none()
        && args.place.is_none()
        && args.born.is_none()
        && args.age.is_none()
        && args.sex.is_none()
    {
        anyhow::bail!(
            "say what to search for: --name, --father, --mother, --place, --born, --age or --sex"
        );
    }
    let registry = open(&args.data)?;
    let query = SearchQuery {
        kind: args.kind,
        name: args.name,
        father: args.father,
        mother: args.mother,
        place: args.place,
        born: args.born,
        age: args.age,
        sex: args.sex,
        limit: args.limit,
        viewer_agency: None,
        only_agency: None,
        today: chrono::Local::now().date_naive(),
    };
    let hits = registry.search(&query, &viewer(args.as_agency))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("no records found");
    }
    for (rank, found) in hits.iter().enumerate() {
        print_hit(rank + 1, found);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_hit(rank: usize, found: &Found) {
    let r = &found.record.record;
    println!(
        "{rank:>3}. {:.3}  {} {}/{}  {}",
        found.hit.score,
        r.kind(),
        r.agency,
        r.record_id,
        summary(r)
    );
    for reason in &found.hit.reasons {
        println!("       {reason}");
    }
}

/// One line about a record: names, sex, birth, parents, origin.
fn summary(r: &Record) -> String {
    let names: Vec<&str> = r.own_names().map(str::trim).collect();
    let mut parts = vec![if names.is_empty() {
        "(no name)".to_string()
    } else {
        names.join(" ")
    }];
    parts.push(r.sex.code().to_string());
    match (&r.birth_date, r.birth_years()) {
        (Some(d), _) => parts.push(format!("born {d}")),
        (None, Some(y)) => parts.push(format!("born {}-{}", y.min, y.max)),
        _ => {}
    }
    if let Some(f) = &r.father_name {
        parts.push(format!("father {f}"));
    }
    if let Some(m) = &r.mother_name {
        parts.push(format!("mother {m}"));
    }
    let places: Vec<&str> = r.places().collect();
    if !places.is_empty() {
        parts.push(format!("from {}", places.join(", ")));
    }
    parts.join("  ")
}

pub fn show(
    data: &DataArg,
    kind: RecordKind,
    key: &str,
    as_agency: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let key = RecordKey::parse_path(kind, key).map_err(anyhow::Error::msg)?;
    let registry = open(data)?;
    let view = match registry.show(&key, &viewer(as_agency)) {
        Ok(v) => v,
        Err(RegistryError::NotFound(what)) => {
            eprintln!("famlink: no such record: {what}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print_view(&view);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_view(view: &RecordView) {
    let c = &view.current;
    println!(
        "{}  version {}  created {}  updated {}",
        c.record.key(),
        c.version,
        c.created_at,
        c.updated_at
    );
    print_fields(&c.record);
    for h in view.history.iter().rev() {
        println!();
        println!(
            "version {} ({} until {}):",
            h.version, h.valid_from, h.replaced_at
        );
        print_fields(&h.record);
    }
}

fn print_fields(r: &Record) {
    let value = serde_json::to_value(r).expect("records serialize");
    print_value("  ", &value);
}

fn print_value(indent: &str, v: &serde_json::Value) {
    if let serde_json::Value::Object(map) = v {
        for (k, v) in map {
            match v {
                serde_json::Value::Object(_) => {
                    println!("{indent}{k}:");
                    print_value(&format!("{indent}  "), v);
                }
                serde_json::Value::String(s) => println!("{indent}{k}: {s}"),
                other => println!("{indent}{k}: {other}"),
            }
        }
    }
}
