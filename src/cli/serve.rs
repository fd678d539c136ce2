//! `famlink serve` and `famlink user add|revoke`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use famlink::access::{self, Role};
use famlink::batch::{self, NewBatch};
use famlink::import::Format;
use famlink::matching::{self, ModelStart, TracingRules};
use famlink::record::RecordKind;
use famlink::review::ReviewRules;
use famlink::server::{self, Config, Service};

use super::{cli_actor, DataArg};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The data directory (default `index/`; with --demo, a fresh temporary one).
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Load the committed sample into a fresh data directory, make one account per
    /// role and print their tokens.
    #[arg(long)]
    demo: bool,
    /// Largest request body, in bytes (larger ones get 413).
    #[arg(long, default_value_t = 64 << 20)]
    max_body: usize,
    /// Threads that run searches (0: one per core); the searches wait for them in
    /// line.
    #[arg(long, default_value_t = 0)]
    search_threads: usize,
    /// Review settings: proposals per record, and the search matcher's bands (default:
    /// the committed matching-rules/review.toml).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The matching engine's rule file (default: the built-in
    /// matching-rules/tracing.toml); the model in DATA/model/ must have been trained
    /// with the same comparisons.
    #[arg(long)]
    tracing_rules: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; prints its API token once, alone on the last line.
    Add {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        agency: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        name: String,
    },
    /// Revoke an account's token.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

pub fn user(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            data,
            agency,
            role,
            name,
        } => {
            std::fs::create_dir_all(&data.data)?;
            let store =
                famlink::store::Store::open(&data.data.join(famlink::registry::DATABASE_FILE))?;
            let (account, token) =
                access::add_account(&store, &name, &agency, role, &cli_actor(), None)?;
            println!(
                "account {} ({} at {}); its token, shown only now:",
                account.name, account.role, account.agency
            );
            println!("{token}");
        }
        UserCommand::Revoke { data, name } => {
            let store =
                famlink::store::Store::open(&data.data.join(famlink::registry::DATABASE_FILE))?;
            access::revoke_account(&store, &name, &cli_actor(), None)?;
            println!("revoked {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

const DEMO_CHILDREN: &str = include_str!("../../fixtures/sample/children.csv");
const DEMO_INQUIRIES: &str = include_str!("../../fixtures/sample/inquiries.csv");

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let data = match (&args.data, args.demo) {
        (Some(d), _) => d.clone(),
        (None, true) => server::demo_dir(),
        (None, false) => PathBuf::from("index"),
    };
    if args.demo && !server::is_fresh(&data) {
        anyhow::bail!(
            "--demo needs a fresh data directory; {} is not empty",
            data.display()
        );
    }
    let mut config = Config::new(&data);
    config.max_body = args.max_body;
    config.search_threads = args.search_threads;
    if let Some(path) = &args.rules {
        config.rules = ReviewRules::load(path).map_err(anyhow::Error::msg)?;
    }
    config.tracing = super::train::load_rules(&args.tracing_rules)?;
    if args.demo {
        demo_model(&data, &config.tracing)?;
    }
    let service = Service::open(&config)?;
    match service.model() {
        ModelStart::Loaded => eprintln!(
            "matcher: the Fellegi-Sunter engine with {}",
            matching::model_path(&data).display()
        ),
        ModelStart::Trained {
            children,
            inquiries,
        } => eprintln!(
            "matcher: no model in {}; trained the Fellegi-Sunter engine on {children} children and {inquiries} inquiries and saved it there",
            data.join("model").display()
        ),
        ModelStart::Fallback(reason) => eprintln!(
            "famlink: warning: {reason}; proposals come from the search matcher, without levels or weights. \
             Import children and inquiries, run `famlink train --data {}` and restart.",
            data.display()
        ),
    }
    if args.demo {
        demo(&service)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        eprintln!(
            "famlink listening on http://{addr} (data {})",
            data.display()
        );
        tracing::info!(%addr, "listening");
        service
            .serve(listener, config.max_body, shutdown_signal())
            .await
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!(
        "famlink: shutting down; requests in flight finish, batches resume on the next start"
    );
}

/// The demo's model: trained on the committed sample (what the demo then imports)
/// before the service opens, so that the service loads it and the sample is
/// matched by the engine as it arrives.
fn demo_model(data: &std::path::Path, rules: &TracingRules) -> anyhow::Result<()> {
    let children = matching::load_side_from_text(
        "fixtures/sample/children.csv",
        DEMO_CHILDREN,
        RecordKind::Child,
        rules,
    )?;
    let inquiries = matching::load_side_from_text(
        "fixtures/sample/inquiries.csv",
        DEMO_INQUIRIES,
        RecordKind::Inquiry,
        rules,
    )?;
    let engine = matching::Engine::train_sides(rules.clone(), &children, &inquiries);
    engine.trained.save(data)?;
    eprintln!(
        "demo: trained the matcher on the sample ({} children, {} inquiries)",
        children.len(),
        inquiries.len()
    );
    Ok(())
}

fn demo(service: &Service) -> anyhow::Result<()> {
    eprintln!(
        "demo: loading the committed sample into {}",
        service.data_dir().display()
    );
    service.with_registry(|reg| -> anyhow::Result<()> {
        for (kind, body) in [
            (RecordKind::Child, DEMO_CHILDREN),
            (RecordKind::Inquiry, DEMO_INQUIRIES),
        ] {
            batch::submit(
                reg.store(),
                &NewBatch {
                    kind,
                    agency: None,
                    actor: "demo",
                    format: Format::Csv,
                    consent_for_all: None,
                    idempotency_key: None,
                    body: body.as_bytes(),
                },
            )?;
        }
        Ok(())
    })?;
    let mut tokens = Vec::new();
    service.with_registry(|reg| -> anyhow::Result<()> {
        for (name, agency, role) in [
            ("demo-officer", "icrc-khartoum", Role::Officer),
            ("demo-agency", "unhcr-adre", Role::Agency),
            ("demo-reviewer", "famlink-review", Role::Reviewer),
            ("demo-admin", "famlink-admin", Role::Admin),
        ] {
            let (_, token) = access::add_account(reg.store(), name, agency, role, "demo", None)?;
            tokens.push((role, name, agency, token));
        }
        Ok(())
    })?;
    service.wait_for_batches(Duration::from_secs(600));
    let pending = service.with_registry(|reg| famlink::review::pending_count(reg.store()))?;
    eprintln!("demo: sample imported and matched; {pending} proposals wait for review");
    for (role, name, agency, token) in tokens {
        println!("{role:<9} {name} ({agency}): {token}");
    }
    println!(
        "try: curl -H 'Authorization: Bearer TOKEN' http://HOST/api/v1/proposals?status=pending"
    );
    Ok(())
}
