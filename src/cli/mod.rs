//! Command-line definitions and dispatch.

mod gate;
mod pipeline;
mod policy;
mod rules;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use deid::{Engine, EngineBuilder};

/// Find and remove personal health information (PHI) in research data.
///
/// deid scans free text, JSONL, CSV and Parquet for the 18 HIPAA Safe Harbor identifiers and
/// more (names, dates, phone numbers, SSNs, MRNs, addresses, …) with the bundled
/// `safe-harbor` rule pack, and writes de-identified copies under a policy: by default the
/// built-in `safe-harbor` policy (identifiers tagged as `[NAME]`, ZIP codes, dates and ages
/// generalised, link ids tokenised when a key is given).
///
/// Exit codes: 0 success and nothing found; 1 success and PHI found (scan); 2 usage, input
/// or runtime error.
#[derive(Debug, Parser)]
#[command(name = "deid", version, propagate_version = true, max_term_width = 100)]
#[command(
    after_help = "Examples:\n  deid scan notes.jsonl\n  deid scan --format jsonl notes/ > findings.jsonl\n  deid redact notes.jsonl -o clean.jsonl\n  deid keygen -o ~/.deid/key && deid redact --key-file ~/.deid/key visits.csv -o out/\n  deid policy show\n  deid rules check --rules my-pack.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report identifiers found in files, directories or stdin.
    Scan(ScanArgs),
    /// Write de-identified copies: every identifier replaced as the policy says.
    Redact(RedactArgs),
    /// Label the columns of tables (CSV, Parquet): which hold identifiers, of which type.
    Classify(ClassifyArgs),
    /// Check, list and benchmark rule packs.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Show policies: which action replaces each identifier type.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Create a secret key file for the keyed actions (hash, encrypt, shift, surrogate,
    /// token).
    Keygen(policy::KeygenArgs),
    /// Honest broker: turn `encrypt`ed values, or `token`s, back into the originals.
    Decrypt(policy::DecryptArgs),
    /// The export gate: scan, review, release and audit what leaves the environment.
    #[command(subcommand)]
    Gate(gate::GateCommand),
}

/// Options that choose the rules.
#[derive(Clone, Debug, Args)]
struct RuleArgs {
    /// A rule pack (TOML) layered over the bundled one; repeatable. A rule with an existing
    /// id replaces it; `disable = ["id"]` switches rules off.
    #[arg(long = "rules", value_name = "PATH")]
    packs: Vec<PathBuf>,
    /// Do not load the bundled `safe-harbor` pack.
    #[arg(long)]
    no_bundled: bool,
    /// Report only findings with at least this confidence (0 to 1).
    #[arg(long, value_name = "X", default_value_t = deid::DEFAULT_MIN_CONFIDENCE, value_parser = parse_confidence)]
    min_confidence: f32,
}

impl RuleArgs {
    fn builder(&self) -> EngineBuilder {
        let mut builder = deid::Engine::builder().min_confidence(self.min_confidence);
        if self.no_bundled {
            builder = builder.without_bundled();
        }
        for pack in &self.packs {
            builder = builder.pack_file(pack);
        }
        builder
    }

    /// Compiles the engine on the command's `pool`, for the rest of the process.
    ///
    /// PERF: the engine is never dropped; freeing its automata took ~20 ms at every exit,
    /// a sixth of a small file's whole run.
    fn engine(&self, pool: &rayon::ThreadPool) -> anyhow::Result<&'static Engine> {
        let engine = pool
            .install(|| self.builder().build())
            .context("cannot load the rules")?;
        Ok(Box::leak(Box::new(engine)))
    }
}

fn parse_confidence(value: &str) -> Result<f32, String> {
    match value.parse::<f32>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{value}` is not a number from 0 to 1")),
    }
}

/// Options that say how inputs are read.
#[derive(Clone, Debug, Args)]
struct InputArgs {
    /// Files and directories to read (directories are recursed; `-` is stdin).
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,
    /// The input format; `auto` decides per file by extension and content.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    input_format: InputFormat,
    /// JSONL: a string field to scan (a path like `note` or `visit.summary`); repeatable.
    /// Default: every string field except the id field.
    #[arg(long = "field", value_name = "NAME")]
    fields: Vec<String>,
    /// JSONL: the field whose string or number names the document (`doc` in findings);
    /// a path like `--field`'s (`id`, `meta.note_id`).
    #[arg(long, value_name = "NAME", default_value = "id")]
    id_field: String,
    /// Tables: the field delimiter (default: sniffed among `,` tab `;` `|`).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    delimiter: Option<char>,
    /// Tables: the first CSV record is data, not a header (columns are named 1, 2, …).
    #[arg(long)]
    no_header: bool,
    /// Tables: ragged rows, cells that are not UTF-8 and unterminated quotes are errors,
    /// not warnings.
    #[arg(long)]
    strict: bool,
    /// Tables: pin a column's label instead of classifying it, e.g. `col_7=PHONE`,
    /// `notes=FREE_TEXT`, `payer=none`; repeatable.
    #[arg(long = "column", value_name = "NAME=TYPE")]
    columns: Vec<String>,
    /// Tables: pin labels from a classes file (the JSON of `deid classify --format json`,
    /// edited): `{"patients.csv": {"col_7": "PHONE", "payer": null}}`.
    #[arg(long, value_name = "PATH")]
    classes: Option<PathBuf>,
    /// Scan binary files as text instead of skipping them.
    #[arg(long)]
    binary: bool,
    /// Threads to use (default: all cores).
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,
    /// No progress bar and no summary on stderr.
    #[arg(short, long)]
    quiet: bool,
}

impl InputArgs {
    /// The `-j` worker threads (all cores by default) a command compiles its rules and
    /// does its work on.
    fn pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads.unwrap_or(0))
            .build()?)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InputFormat {
    Auto,
    Text,
    Jsonl,
    Csv,
    Parquet,
}

fn parse_delimiter(value: &str) -> Result<char, String> {
    match value {
        "\\t" | "tab" => Ok('\t'),
        _ => match value.chars().collect::<Vec<_>>()[..] {
            [c] if c.is_ascii() && !matches!(c, '"' | '\n' | '\r') => Ok(c),
            _ => Err(format!(
                "`{value}` is not one ASCII character (use `tab` or `\\t` for a tab)"
            )),
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// One finding per line (the findings contract).
    Jsonl,
    /// One JSON array.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Counts by type and file (the default on a terminal).
    Summary,
}

#[derive(Debug, Args)]
struct ScanArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Output format (default: `summary` on a terminal, else `jsonl`).
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Write findings to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Include the matched text in findings. Off by default: findings carry offsets only.
    #[arg(long)]
    show_values: bool,
}

#[derive(Debug, Args)]
struct RedactArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Where to write: a file for one input file, a directory for several inputs or a
    /// directory input, `-` (or nothing, for stdin input) for stdout. Inputs are never
    /// overwritten.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    #[command(flatten)]
    transform: policy::TransformArgs,
}

#[derive(Debug, Args)]
struct ClassifyArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// `table` (readable, the default on a terminal) or `json` (the column-class contract:
    /// `{"FILE": {"COLUMN": "TYPE" | "FREE_TEXT" | null}}`).
    #[arg(long, value_enum)]
    format: Option<ClassifyFormat>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ClassifyFormat {
    /// Column, label, confidence, evidence, sample count.
    Table,
    /// The column-class contract.
    Json,
}

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => {
            let format = args.format.unwrap_or(
                if std::io::stdout().is_terminal() && args.output.is_none() {
                    OutputFormat::Summary
                } else {
                    OutputFormat::Jsonl
                },
            );
            pipeline::scan(&args, format)
        }
        Command::Redact(args) => pipeline::redact(&args),
        Command::Classify(args) => pipeline::classify(&args),
        Command::Rules(command) => rules::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Keygen(args) => policy::keygen(&args),
        Command::Decrypt(args) => policy::decrypt(&args),
        Command::Gate(command) => gate::run(command),
    }
}
