//! `deid gate …`: the export gate's service and its clients.

mod scanner;
mod show;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use deid_gate::client::{self, Client};
use deid_gate::protocol::Request;
use deid_gate::service::Service;
use deid_gate::{Actor, Decision, Gate, InitOptions, Role};

use super::RuleArgs;

/// The export gate: ingest, export requests, review, release, audit.
///
/// A gate is a directory owned by the account that runs `deid gate serve`; only that
/// service touches its database, storage and audit key. Every other command is a client
/// that talks to the service over `DIR/gate.sock`, and the service knows who is calling
/// from the operating system (the socket's peer credentials), never from a flag.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Workflow:\n  deid gate init /srv/gate --release-to /srv/released --approvals 2\n  deid gate serve --gate /srv/gate            (as the gate's own account)\n  deid gate role add alice --reviewer          (an admin)\n  deid gate submit results.csv --reason \"Table 2 of the paper\"\n  deid gate list; deid gate show 12\n  deid gate review 12 --approve --reason \"aggregates only\"   (a reviewer, not the submitter)\n  deid gate release 12\n  deid gate audit verify\n\nClients find the gate with --gate DIR or the DEID_GATE environment variable."
)]
pub(super) enum GateCommand {
    /// Create a gate in DIR: configuration, database, audit key, storage areas.
    Init(InitArgs),
    /// Run the gate service (as the gate's own account).
    Serve(ServeArgs),
    /// Show who the gate sees you as.
    Whoami(ClientArgs),
    /// Copy files of a dataset into the import area (verified, read-only), then delete the
    /// originals.
    Ingest(IngestArgs),
    /// Submit files for export: they are copied into the queue and scanned.
    Submit(SubmitArgs),
    /// List export requests (reviewers and admins see all, others their own).
    List(ListArgs),
    /// Show one request: files, scan results (masked), reviews.
    Show(ShowArgs),
    /// Approve or deny a request (reviewers; never your own).
    Review(ReviewArgs),
    /// Release an approved request to the release destination.
    Release(ReleaseArgs),
    /// Grant or take away roles (admins).
    #[command(subcommand)]
    Role(RoleCommand),
    /// Check or export the audit log (admins and reviewers).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// List ingested datasets: names, sizes, hashes, owners (admins and reviewers).
    Datasets(ListArgs),
    /// Submit every file dropped into a folder (your export path).
    Watch(watch::WatchArgs),
}

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// The gate directory to create.
    dir: PathBuf,
    /// Where approved files go: an absolute folder, `az://container/prefix` or
    /// `s3://bucket/prefix`.
    #[arg(long, value_name = "DEST")]
    release_to: String,
    /// An object-store option for the destination, e.g. `azure_storage_account_name=acct`
    /// (stored in gate.toml, readable by the gate's account only); repeatable. Environment
    /// variables (`AZURE_STORAGE_*`, `AWS_*`) of the service apply too.
    #[arg(long = "release-option", value_name = "KEY=VALUE", value_parser = parse_option)]
    release_options: Vec<(String, String)>,
    /// Approvals a request needs from distinct reviewers (2 = two-person rule).
    #[arg(long, value_name = "N", default_value_t = 1)]
    approvals: u32,
    /// The first admin (default: you).
    #[arg(long, value_name = "USER")]
    admin: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    gate: GateDir,
    #[command(flatten)]
    rules: RuleArgs,
}

/// Where the gate is.
#[derive(Debug, Clone, Args)]
pub(super) struct GateDir {
    /// The gate directory (or its socket).
    #[arg(long = "gate", env = "DEID_GATE", value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct ClientArgs {
    #[command(flatten)]
    gate: GateDir,
}

#[derive(Debug, Args)]
pub(super) struct IngestArgs {
    #[command(flatten)]
    gate: GateDir,
    /// Files to ingest, or objects under one of the gate's `storage.ingest_sources`
    /// (`az://container/key`, `s3://bucket/key`), which the service reads and then deletes.
    #[arg(required = true, value_name = "FILE|URL")]
    files: Vec<PathBuf>,
    /// The dataset they belong to.
    #[arg(long, value_name = "NAME")]
    dataset: String,
    /// Keep the originals (default: delete each once the gate confirms its verified copy).
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Args)]
pub(super) struct SubmitArgs {
    #[command(flatten)]
    gate: GateDir,
    /// Files to export (one request).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Why these files should leave the environment (shown to reviewers, audited).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// Readable.
    Table,
    /// JSON.
    Json,
}

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    gate: GateDir,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    #[command(flatten)]
    gate: GateDir,
    /// The request id.
    id: i64,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("decision").required(true).args(["approve", "deny"]))]
pub(super) struct ReviewArgs {
    #[command(flatten)]
    gate: GateDir,
    /// The request id.
    id: i64,
    /// Approve the request.
    #[arg(long)]
    approve: bool,
    /// Deny the request.
    #[arg(long)]
    deny: bool,
    /// Why (required; audited).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Approve although the scan flagged the request.
    #[arg(long = "override")]
    override_flags: bool,
    /// Approve although some files could not be scanned (you looked at them).
    #[arg(long)]
    acknowledge_unscannable: bool,
}

#[derive(Debug, Args)]
pub(super) struct ReleaseArgs {
    #[command(flatten)]
    gate: GateDir,
    /// The request id.
    id: i64,
}

#[derive(Debug, Subcommand)]
pub(super) enum RoleCommand {
    /// Grant a role.
    Add(RoleArgs),
    /// Take a role away.
    Remove(RoleArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("role").required(true).args(["reviewer", "admin"]))]
pub(super) struct RoleArgs {
    #[command(flatten)]
    gate: GateDir,
    /// The operating-system user name.
    user: String,
    /// Reviewer: approves and denies other users' requests.
    #[arg(long)]
    reviewer: bool,
    /// Admin: changes roles (approves nothing by being one).
    #[arg(long)]
    admin: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Check every record's MAC and link, and the head: exit 1 when tampering is found.
    Verify(ClientArgs),
    /// Write the audit log as JSONL (for a SIEM).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    gate: GateDir,
    /// Write here (atomically) instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

/// Runs a `deid gate` command.
pub(super) fn run(command: GateCommand) -> anyhow::Result<ExitCode> {
    match command {
        GateCommand::Init(args) => init(&args),
        GateCommand::Serve(args) => serve(&args),
        GateCommand::Whoami(args) => {
            let me = call(&args.gate, &Request::Whoami)?;
            println!("{}", me["name"].as_str().unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Ingest(args) => ingest(&args),
        GateCommand::Submit(args) => submit(&args),
        GateCommand::List(args) => {
            let list = call(&args.gate, &Request::List)?;
            show::print(&list, args.format, show::requests);
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Show(args) => {
            let detail = call(&args.gate, &Request::Show { id: args.id })?;
            show::print(&detail, args.format, show::request);
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Review(args) => review(&args),
        GateCommand::Release(args) => {
            let locations = call(&args.gate, &Request::Release { id: args.id })?;
            let count = locations.as_array().map_or(0, Vec::len);
            eprintln!("request {}: released {count} file(s)", args.id);
            for location in locations.as_array().into_iter().flatten() {
                println!("{}", location.as_str().unwrap_or_default());
            }
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Role(command) => role(command),
        GateCommand::Audit(AuditCommand::Verify(args)) => audit_verify(&args),
        GateCommand::Audit(AuditCommand::Export(args)) => audit_export(&args),
        GateCommand::Datasets(args) => {
            let list = call(&args.gate, &Request::Datasets)?;
            show::print(&list, args.format, show::datasets);
            Ok(ExitCode::SUCCESS)
        }
        GateCommand::Watch(args) => watch::run(&args),
    }
}

fn call(gate: &GateDir, request: &Request) -> anyhow::Result<serde_json::Value> {
    Ok(Client::connect(&gate.dir)?.call(request)?)
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let admin = args.admin.clone().unwrap_or_else(|| Actor::current().name);
    Gate::init(
        &args.dir,
        &InitOptions {
            release_to: args.release_to.clone(),
            release_options: args.release_options.iter().cloned().collect(),
            approvals: args.approvals,
            admin: admin.clone(),
        },
    )?;
    eprintln!(
        "created a gate in {} (admin: {admin}, approvals: {}); edit {}/gate.toml, then run `deid gate serve --gate {}` as the gate's account",
        args.dir.display(),
        args.approvals,
        args.dir.display(),
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE".to_owned()),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = args
        .rules
        .builder()
        .build()
        .context("cannot load the rules")?;
    let scanner = Arc::new(scanner::EngineScanner::new(engine));
    let gate = Arc::new(Gate::open(&args.gate.dir, scanner)?);
    let service = Service::bind(Arc::clone(&gate), &client::socket_path(&args.gate.dir))
        .context("cannot listen")?;
    eprintln!(
        "deid gate: serving {} on {} (release to {})",
        args.gate.dir.display(),
        service.socket().display(),
        gate.destination()
    );
    // Work a crash or a failure interrupted (scans, releases) is taken up at start and
    // then every minute.
    let resuming = Arc::clone(&gate);
    std::thread::spawn(move || {
        loop {
            if let Err(e) = resuming.resume() {
                eprintln!("deid gate: resuming interrupted work: {e}");
            }
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    });
    service.run();
    Ok(ExitCode::SUCCESS)
}

fn ingest(args: &IngestArgs) -> anyhow::Result<ExitCode> {
    for path in &args.files {
        let text = path.to_string_lossy();
        if text.starts_with("az://") || text.starts_with("s3://") {
            let receipt = call(
                &args.gate,
                &Request::IngestObject {
                    dataset: args.dataset.clone(),
                    url: text.into_owned(),
                },
            )
            .with_context(|| format!("{}: not ingested; the object is kept", path.display()))?;
            eprintln!(
                "{}: ingested into {} as {}; object deleted",
                path.display(),
                args.dataset,
                receipt["sha256"].as_str().unwrap_or_default()
            );
            continue;
        }
        let before =
            std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let file = client::header(path)?;
        let uploaded = Client::connect(&args.gate.dir)?
            .upload(
                &Request::Ingest {
                    dataset: args.dataset.clone(),
                    file,
                },
                std::slice::from_ref(path),
            )
            .with_context(|| format!("{}: not ingested; the original is kept", path.display()))?;
        let sha = uploaded.body["sha256"].as_str().unwrap_or_default();
        // Delete only what the gate verifiably holds: the bytes sent hash to the gate's
        // copy, and the file did not change while it was sent.
        let after = std::fs::metadata(path).ok();
        let unchanged = after.is_some_and(|after| {
            after.len() == before.len() && after.modified().ok() == before.modified().ok()
        });
        if uploaded.sent.first().map(String::as_str) != Some(sha) || !unchanged {
            bail!(
                "{}: the file changed while it was ingested; the original is kept (the gate holds the bytes it received, sha256 {sha})",
                path.display()
            );
        }
        if !args.keep {
            std::fs::remove_file(path).with_context(|| {
                format!(
                    "{}: ingested and verified, but the original could not be deleted",
                    path.display()
                )
            })?;
        }
        eprintln!(
            "{}: ingested into {} as {sha}{}{}",
            path.display(),
            args.dataset,
            if uploaded.body["already_present"] == true {
                " (content already held: nothing new stored)"
            } else {
                ""
            },
            if args.keep { "" } else { "; original deleted" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn submit(args: &SubmitArgs) -> anyhow::Result<ExitCode> {
    let summary = submit_files(&args.gate, &args.files, &args.reason)?;
    show::print(&summary, args.format, show::submitted);
    Ok(ExitCode::SUCCESS)
}

/// Submits files as one request and returns the service's summary after the scan.
fn submit_files(
    gate: &GateDir,
    files: &[PathBuf],
    reason: &str,
) -> anyhow::Result<serde_json::Value> {
    let headers = files
        .iter()
        .map(|path| client::header(path))
        .collect::<Result<Vec<_>, _>>()?;
    let request = Request::Submit {
        reason: reason.to_owned(),
        files: headers,
    };
    Ok(Client::connect(&gate.dir)?.upload(&request, files)?.body)
}

fn review(args: &ReviewArgs) -> anyhow::Result<ExitCode> {
    let decision = Decision {
        approve: args.approve,
        reason: args.reason.clone(),
        r#override: args.override_flags,
        acknowledge_unscannable: args.acknowledge_unscannable,
    };
    let summary = call(
        &args.gate,
        &Request::Review {
            id: args.id,
            decision,
        },
    )?;
    eprintln!(
        "request {}: {} ({} approval(s))",
        args.id,
        summary["state"].as_str().unwrap_or_default(),
        summary["approvals"]
    );
    Ok(ExitCode::SUCCESS)
}

fn role(command: RoleCommand) -> anyhow::Result<ExitCode> {
    let (args, grant) = match command {
        RoleCommand::Add(args) => (args, true),
        RoleCommand::Remove(args) => (args, false),
    };
    let role = if args.admin {
        Role::Admin
    } else {
        Role::Reviewer
    };
    let changed = call(
        &args.gate,
        &Request::Role {
            user: args.user.clone(),
            role,
            grant,
        },
    )?;
    let what = if args.admin { "admin" } else { "reviewer" };
    match (changed.as_bool().unwrap_or(false), grant) {
        (true, true) => eprintln!("{} is now a {what}", args.user),
        (true, false) => eprintln!("{} is no longer a {what}", args.user),
        (false, true) => eprintln!("{} was a {what} already", args.user),
        (false, false) => eprintln!("{} was not a {what}", args.user),
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_verify(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let report = call(&args.gate, &Request::AuditVerify)?;
    let records = report["records"].as_u64().unwrap_or(0);
    let problems = report["problems"].as_array().cloned().unwrap_or_default();
    for problem in &problems {
        println!("{}", problem.as_str().unwrap_or_default());
    }
    if problems.is_empty() {
        println!("audit log verified: {records} records, chain and MACs intact");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "audit log FAILED verification: {} problem(s) in {records} records",
            problems.len()
        );
        Ok(ExitCode::from(1))
    }
}

fn audit_export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let text = call(&args.gate, &Request::AuditExport)?;
    let text = text.as_str().unwrap_or_default();
    write_output(args.output.as_deref(), text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn write_output(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    match output {
        Some(path) if path.as_os_str() != "-" => {
            let mut file = deid_formats::output::AtomicFile::create(path)
                .with_context(|| format!("{}: cannot create", path.display()))?;
            file.write_all(bytes)?;
            file.commit()
                .with_context(|| format!("{}: cannot write", path.display()))?;
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}
