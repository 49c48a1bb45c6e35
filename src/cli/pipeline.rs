//! The scan and redact pipeline: inputs cut into work items, processed in parallel in
//! bounded batches, results emitted in input order.
//!
//! Every input is cut into items — blank-line-aligned units of text, or whole-line chunks
//! of JSONL — of about 1 MiB. Items from consecutive files are batched (a few MiB per
//! thread), each batch runs on the rayon pool, and the results are written in input order
//! before the next batch starts: many small files and one huge file are both spread over
//! all cores, and memory stays flat however large the inputs grow.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use deid::{Engine, EntityType, Finding};
use deid_formats::input::{self, Content, Format, Source};
use deid_formats::jsonl::{self, FieldSelection};
use deid_formats::output::AtomicFile;
use deid_formats::sink::{
    FindingRecord, FindingSink, RuleDescription, SinkFormat, round_confidence,
};
use deid_transform::Redactor;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::{ClassifyArgs, InputArgs, InputFormat, OutputFormat, RedactArgs, ScanArgs};

mod report;
mod tables;

use tables::{Pins, Table, TableRun};

/// The size of a work item.
const ITEM_BYTES: usize = 1 << 20;
/// The bytes a batch holds per thread before it runs.
const BATCH_BYTES_PER_THREAD: usize = 4 << 20;
/// Runs shorter than this never show a progress bar.
const PROGRESS_DELAY: Duration = Duration::from_secs(1);

/// What a run does with each item.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Scan { show_values: bool },
    Redact(&'a Redactor),
}

/// One opened input.
struct InputFile {
    /// The run's count of opened files so far: the key of the file's output.
    id: usize,
    name: String,
    content: Content,
    format: Format,
}

/// A piece of one input.
struct Item {
    file: Arc<InputFile>,
    range: Range<usize>,
    /// 1-based number of the item's first line (JSONL).
    first_line: u64,
    last: bool,
}

/// A finding with what locates it in its item.
struct Located {
    finding: Finding,
    /// Index into the item's documents (JSONL).
    doc: Option<usize>,
    /// Index into the item's field paths (JSONL).
    field: Option<usize>,
    value: Option<String>,
}

/// What processing an item gives.
#[derive(Default)]
struct ItemResult {
    findings: Vec<Located>,
    docs: Vec<String>,
    fields: Vec<String>,
    redacted: Vec<u8>,
    error: Option<String>,
}

/// Totals of a run, for the summary line, the report and the exit code.
#[derive(Default)]
struct Totals {
    files: u64,
    bytes: u64,
    /// Table rows read.
    rows: u64,
    findings: u64,
    errors: u64,
    by_type: BTreeMap<EntityType, u64>,
    /// Redact: what happened to each table column.
    columns: Vec<report::ColumnOutcome>,
    /// Redact: the policy's `[columns]` keys that matched a column.
    column_rules_used: std::collections::BTreeSet<String>,
}

pub(super) fn scan(
    args: &ScanArgs,
    format: OutputFormat,
) -> anyhow::Result<std::process::ExitCode> {
    let pool = args.input.pool()?;
    let engine = args.rules.engine(&pool)?;
    let rules = engine
        .matcher()
        .rules()
        .rules()
        .iter()
        .map(|r| RuleDescription {
            id: r.id().to_owned(),
            name: r.name().to_owned(),
            entity: r.entity(),
        })
        .collect();
    let sink_format = match format {
        OutputFormat::Jsonl => SinkFormat::Jsonl,
        OutputFormat::Json => SinkFormat::Json,
        OutputFormat::Sarif => SinkFormat::Sarif,
        OutputFormat::Summary => SinkFormat::Summary,
    };
    let writer = match &args.output {
        Some(path) if path.as_os_str() != "-" => ScanOutput::File({
            refuse_overwrite(path, &args.input.inputs)?;
            AtomicFile::create(path)
                .with_context(|| format!("{}: cannot create output", path.display()))?
        }),
        _ => ScanOutput::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    };
    let mut sink = FindingSink::new(sink_format, writer, rules);
    let mut outputs = Outputs::None;
    let totals = run(
        engine,
        &pool,
        &args.input,
        Mode::Scan {
            show_values: args.show_values,
        },
        &mut sink,
        &mut outputs,
    )?;
    if let ScanOutput::File(file) = sink.finish()? {
        let target = file.target().to_owned();
        file.commit()
            .with_context(|| format!("{}: cannot write the findings", target.display()))?;
    }
    report(&args.input, &totals, "scanned");
    Ok(exit_code(&totals, totals.findings > 0))
}

/// What [`scan_file`] read.
pub(super) struct FileScan {
    /// Files read (0 when the file was skipped as binary).
    pub(super) files: u64,
    /// Parts that could not be read.
    pub(super) errors: u64,
}

/// Scans one file with the default readers for the export gate: findings, with their
/// values (the gate masks them before anyone sees them), go to `sink`.
pub(super) fn scan_file<W: Write>(
    engine: &Engine,
    path: &Path,
    sink: &mut FindingSink<W>,
) -> anyhow::Result<FileScan> {
    let args = InputArgs {
        inputs: vec![path.to_owned()],
        input_format: InputFormat::Auto,
        fields: Vec::new(),
        id_field: "id".to_owned(),
        delimiter: None,
        no_header: false,
        strict: false,
        columns: Vec::new(),
        classes: None,
        binary: false,
        threads: None,
        quiet: true,
    };
    let mode = Mode::Scan { show_values: true };
    let totals = run(engine, &args.pool()?, &args, mode, sink, &mut Outputs::None)?;
    Ok(FileScan {
        files: totals.files,
        errors: totals.errors,
    })
}

pub(super) fn redact(args: &RedactArgs) -> anyhow::Result<std::process::ExitCode> {
    let pool = args.input.pool()?;
    let engine = args.rules.engine(&pool)?;
    let mut outputs = Outputs::plan(&args.input.inputs, args.output.as_deref())?;
    let redactor = super::policy::redactor(&args.transform, args.input.quiet)?;
    let mut sink = FindingSink::new(SinkFormat::Summary, io::sink(), Vec::new());
    let mut totals = run(
        engine,
        &pool,
        &args.input,
        Mode::Redact(&redactor),
        &mut sink,
        &mut outputs,
    )?;
    if !args.input.quiet && !totals.columns.is_empty() {
        for rule in redactor.policy().column_rules() {
            if !totals.column_rules_used.contains(rule) {
                eprintln!(
                    "deid: warning: the policy's [columns] entry {rule:?} matched no column of \
                     any table in this run"
                );
            }
        }
    }
    // Values the policy replaced, whether found in text or in a labelled column.
    totals.by_type.clear();
    for entry in redactor.tally().entries() {
        *totals.by_type.entry(entry.entity).or_default() += entry.applied + entry.fell_back;
    }
    totals.findings = totals.by_type.values().sum();
    redactor
        .save_tokens()
        .context("cannot save the new tokens")?;
    report(&args.input, &totals, "redacted");
    if !args.input.quiet {
        eprintln!("{}", report::action_line(&redactor));
    }
    if let Some(path) = &args.transform.report {
        report::write(path, engine, &redactor, &totals)?;
    }
    Ok(exit_code(&totals, false))
}

pub(super) fn classify(args: &ClassifyArgs) -> anyhow::Result<std::process::ExitCode> {
    let pool = args.input.pool()?;
    let engine = args.rules.engine(&pool)?;
    let pins = Pins::load(&args.input.columns, args.input.classes.as_deref())?;
    let (sources, discovery_errors) = input::discover(&args.input.inputs);
    let mut errors = discovery_errors.len() as u64;
    for error in &discovery_errors {
        eprintln!("{}: error: {}", error.path, error.message);
    }
    let mut tables = Vec::new();
    for source in &sources {
        let name = source.display_name();
        let content = match Content::open(source) {
            Ok(content) => content,
            Err(error) => {
                eprintln!("{}: error: {}", error.path, error.message);
                errors += 1;
                continue;
            }
        };
        let format = match args.input.input_format {
            InputFormat::Csv => Format::Csv,
            InputFormat::Parquet => Format::Parquet,
            _ => input::sniff(source, &content),
        };
        if !matches!(format, Format::Csv | Format::Parquet) {
            if !args.input.quiet {
                eprintln!("{name}: skipped: not a table (CSV or Parquet)");
            }
            continue;
        }
        let classes = pool.install(|| {
            Table::open(source, &name, content, format, &args.input)
                .and_then(|table| table.classify(engine, &name, &pins))
        });
        match classes {
            Ok(classes) => tables.push((name, classes)),
            Err(error) => {
                eprintln!("{error:#}");
                errors += 1;
            }
        }
    }
    let json = match args.format {
        Some(super::ClassifyFormat::Json) => true,
        Some(super::ClassifyFormat::Table) => false,
        None => !(io::stdout().is_terminal() && args.output.is_none()),
    };
    let mut text = Vec::new();
    if json {
        let object: serde_json::Map<String, serde_json::Value> = tables
            .iter()
            .map(|(name, classes)| {
                let columns = classes
                    .iter()
                    .map(|c| (c.column.clone(), c.label.as_contract().into()))
                    .collect::<serde_json::Map<_, _>>();
                (name.clone(), columns.into())
            })
            .collect();
        serde_json::to_writer_pretty(&mut text, &object)?;
        text.push(b'\n');
    } else {
        for (name, classes) in &tables {
            tables::write_class_table(&mut text, name, classes)?;
        }
    }
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            refuse_overwrite(path, &args.input.inputs)?;
            let mut file = AtomicFile::create(path)
                .with_context(|| format!("{}: cannot create output", path.display()))?;
            file.write_all(&text)?;
            file.commit()
                .with_context(|| format!("{}: cannot write output", path.display()))?;
        }
        _ => io::stdout().write_all(&text)?,
    }
    let found = tables
        .iter()
        .flat_map(|(_, classes)| classes)
        .any(|c| c.label != deid_tables::classify::Label::None);
    Ok(std::process::ExitCode::from(match (errors, found) {
        (1.., _) => 2,
        (0, true) => 1,
        (0, false) => 0,
    }))
}

fn exit_code(totals: &Totals, found: bool) -> std::process::ExitCode {
    std::process::ExitCode::from(match (totals.errors, found) {
        (1.., _) => 2,
        (0, true) => 1,
        (0, false) => 0,
    })
}

/// Where scan findings go: a file written atomically, or stdout.
enum ScanOutput {
    File(AtomicFile),
    Stdout(io::BufWriter<io::StdoutLock<'static>>),
}

impl Write for ScanOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ScanOutput::File(file) => file.write(buf),
            ScanOutput::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ScanOutput::File(file) => file.flush(),
            ScanOutput::Stdout(out) => out.flush(),
        }
    }
}

fn report(args: &InputArgs, totals: &Totals, verb: &str) {
    if args.quiet {
        return;
    }
    let mut line = format!(
        "deid: {verb} {} file(s), {}, {} finding(s)",
        totals.files,
        human_bytes(totals.bytes),
        totals.findings
    );
    if !totals.by_type.is_empty() {
        let counts: Vec<String> = totals
            .by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        line.push_str(&format!(" ({})", counts.join(", ")));
    }
    if totals.errors > 0 {
        line.push_str(&format!("; {} error(s)", totals.errors));
    }
    eprintln!("{line}");
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

/// Where redacted outputs go.
enum Outputs {
    /// Scan: no outputs.
    None,
    /// Everything to stdout.
    Stdout,
    /// One input file to one output file.
    File(PathBuf),
    /// Inputs mirrored under a directory: (input root, output directory).
    Directory { roots: Vec<PathBuf>, dir: PathBuf },
}

impl Outputs {
    fn plan(inputs: &[PathBuf], output: Option<&Path>) -> anyhow::Result<Outputs> {
        let stdin_only = inputs.iter().all(|p| p.as_os_str() == "-");
        let single_file = inputs.len() == 1 && inputs[0].as_os_str() != "-" && !inputs[0].is_dir();
        let Some(out) = output.filter(|o| o.as_os_str() != "-") else {
            if stdin_only || output.is_some() {
                return Ok(Outputs::Stdout);
            }
            bail!(
                "redact needs -o/--output (a file, a directory, or `-` for stdout)\nhint: deid redact {} -o OUT",
                inputs[0].display()
            )
        };
        if single_file {
            if out.is_dir() {
                let name = inputs[0].file_name().context("input has no file name")?;
                return Ok(Outputs::File(out.join(name)));
            }
            return Ok(Outputs::File(out.to_owned()));
        }
        if inputs.iter().any(|p| p.as_os_str() == "-") {
            bail!("stdin (`-`) cannot be mixed with other inputs when writing to a directory");
        }
        if out.exists() && !out.is_dir() {
            bail!(
                "{}: several inputs need an output directory, and this is a file",
                out.display()
            );
        }
        Ok(Outputs::Directory {
            roots: inputs.to_vec(),
            dir: out.to_owned(),
        })
    }

    /// The output path of one input, or `None` for stdout.
    fn path_for(&self, source: &Source) -> anyhow::Result<Option<PathBuf>> {
        let target = match (self, source) {
            (Outputs::None | Outputs::Stdout, _) => return Ok(None),
            (Outputs::File(path), _) => path.clone(),
            (Outputs::Directory { roots, dir }, Source::File(path)) => {
                let relative = roots
                    .iter()
                    .find_map(|root| {
                        if root.is_dir() {
                            path.strip_prefix(root).ok().map(Path::to_path_buf)
                        } else {
                            None
                        }
                    })
                    .or_else(|| path.file_name().map(PathBuf::from))
                    .context("input has no file name")?;
                dir.join(relative)
            }
            (Outputs::Directory { .. }, Source::Stdin) => {
                bail!("stdin cannot be written to a directory")
            }
        };
        if let Source::File(input) = source {
            refuse_overwrite(&target, std::slice::from_ref(input))?;
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create directory", parent.display()))?;
        }
        Ok(Some(target))
    }
}

/// Fails when `output` names the same file as one of `inputs`, however either is spelt
/// (`./sub/../note.txt`, symlinks), even when the output's directories do not exist yet.
fn refuse_overwrite(output: &Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    let target = resolve(output);
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        if resolve(input) == target {
            bail!(
                "{}: refusing to overwrite an input ({}) with an output",
                output.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// An absolute path with `.` and `..` resolved, symlinks resolved where it exists.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_owned());
    let mut lexical = PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    lexical.canonicalize().unwrap_or(lexical)
}

/// Where one input's redacted bytes are going.
enum Writer {
    File(AtomicFile),
    Stdout,
    Discard,
}

fn run<W: Write>(
    engine: &Engine,
    pool: &rayon::ThreadPool,
    args: &InputArgs,
    mode: Mode<'_>,
    sink: &mut FindingSink<W>,
    outputs: &mut Outputs,
) -> anyhow::Result<Totals> {
    let (sources, discovery_errors) = input::discover(&args.inputs);
    let mut totals = Totals::default();
    for error in &discovery_errors {
        eprintln!("{}: error: {}", error.path, error.message);
        totals.errors += 1;
    }
    let total_bytes: u64 = sources
        .iter()
        .filter_map(|s| s.path())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::new(total_bytes, args.quiet);
    let selection = FieldSelection {
        fields: args.fields.clone(),
        id_field: args.id_field.clone(),
    };
    let batch_limit = BATCH_BYTES_PER_THREAD * pool.current_num_threads();
    let mut batch: Vec<Item> = Vec::new();
    let mut batch_bytes = 0;
    let mut writers: BTreeMap<usize, (Writer, bool)> = BTreeMap::new();
    let mut emitter = Emitter {
        engine,
        sink,
        writers: &mut writers,
        totals: &mut totals,
        mode,
        progress: &progress,
        opened: 0,
    };
    let pins = Pins::load(&args.columns, args.classes.as_deref())?;
    let table_run = TableRun {
        pool,
        engine,
        args,
        pins: &pins,
    };
    for source in sources {
        let Some(file) = open(&source, args, &mut emitter, outputs)? else {
            continue;
        };
        if matches!(file.format, Format::Csv | Format::Parquet) {
            // Tables run alone, after the text items queued before them: output stays in
            // input order.
            run_batch(pool, engine, &selection, mode, &mut batch, &mut emitter)?;
            batch_bytes = 0;
            let InputFile {
                id,
                name,
                content,
                format,
            } = file;
            // In the pool: planning a CSV proves its cuts in parallel, on the threads asked for.
            match pool.install(|| Table::open(&source, &name, content, format, args)) {
                Ok(table) => table_run.process(&table, &name, id, &mut emitter)?,
                Err(error) => {
                    eprintln!("{error:#}");
                    emitter.totals.errors += 1;
                    emitter.writers.remove(&id);
                }
            }
            continue;
        }
        let file = Arc::new(file);
        for item in items(&file) {
            batch_bytes += item.range.len();
            batch.push(item);
            if batch_bytes >= batch_limit {
                run_batch(pool, engine, &selection, mode, &mut batch, &mut emitter)?;
                batch_bytes = 0;
            }
        }
    }
    run_batch(pool, engine, &selection, mode, &mut batch, &mut emitter)?;
    progress.finish();
    Ok(totals)
}

fn open<W: Write>(
    source: &Source,
    args: &InputArgs,
    emitter: &mut Emitter<'_, W>,
    outputs: &Outputs,
) -> anyhow::Result<Option<InputFile>> {
    let name = source.display_name();
    let content = match Content::open(source) {
        Ok(content) => content,
        Err(error) => {
            eprintln!("{}: error: {}", error.path, error.message);
            emitter.totals.errors += 1;
            return Ok(None);
        }
    };
    let mut format = match args.input_format {
        InputFormat::Auto => input::sniff(source, &content),
        InputFormat::Text => Format::Text,
        InputFormat::Jsonl => Format::Jsonl,
        InputFormat::Csv => Format::Csv,
        InputFormat::Parquet => Format::Parquet,
    };
    if format == Format::Binary {
        if !args.binary {
            if !args.quiet {
                eprintln!(
                    "{name}: skipped: binary file (a NUL byte near the start); use --binary to scan it"
                );
            }
            emitter.progress.advance(content.len() as u64);
            return Ok(None);
        }
        format = Format::Text;
    }
    emitter.totals.files += 1;
    emitter.totals.bytes += content.len() as u64;
    emitter.sink.file_scanned(&name);
    let id = emitter.opened;
    emitter.opened += 1;
    let writer = match emitter.mode {
        Mode::Scan { .. } => Writer::Discard,
        Mode::Redact(_) => match outputs.path_for(source)? {
            Some(path) => Writer::File(
                AtomicFile::create(&path)
                    .with_context(|| format!("{}: cannot create output", path.display()))?,
            ),
            None => Writer::Stdout,
        },
    };
    emitter.writers.insert(id, (writer, false));
    if content.is_empty() && format != Format::Parquet {
        emitter.close(id)?;
        return Ok(None);
    }
    Ok(Some(InputFile {
        id,
        name,
        content,
        format,
    }))
}

/// Cuts an input into items.
fn items(file: &Arc<InputFile>) -> Vec<Item> {
    let bytes: &[u8] = &file.content;
    let pieces: Vec<(Range<usize>, u64)> = match file.format {
        Format::Jsonl => jsonl::line_chunks(bytes, ITEM_BYTES),
        _ => deid_formats::text::units(bytes)
            .into_iter()
            .map(|r| (r, 0))
            .collect(),
    };
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, (range, first_line))| Item {
            file: Arc::clone(file),
            range,
            first_line,
            last: i + 1 == count,
        })
        .collect()
}

fn run_batch<W: Write>(
    pool: &rayon::ThreadPool,
    engine: &Engine,
    selection: &FieldSelection,
    mode: Mode<'_>,
    batch: &mut Vec<Item>,
    emitter: &mut Emitter<'_, W>,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let results: Vec<ItemResult> = pool.install(|| {
        batch
            .par_iter()
            .map(|item| process(engine, selection, mode, item))
            .collect()
    });
    for (item, result) in batch.drain(..).zip(results) {
        emitter.emit(&item, result)?;
    }
    Ok(())
}

/// Scans (and for redact, rewrites) one item.
fn process(engine: &Engine, selection: &FieldSelection, mode: Mode<'_>, item: &Item) -> ItemResult {
    let bytes = &item.file.content[item.range.clone()];
    let mut result = ItemResult::default();
    let show_values = matches!(mode, Mode::Scan { show_values: true });
    engine.with_scratch(|scratch| {
        let mut findings = Vec::new();
        match item.file.format {
            Format::Jsonl => {
                for (number, line) in (item.first_line..).zip(jsonl::lines(bytes)) {
                    if jsonl::is_blank(line) {
                        if let Mode::Redact(_) = mode {
                            result.redacted.extend_from_slice(line);
                            result.redacted.push(b'\n');
                        }
                        continue;
                    }
                    let record = match jsonl::parse_record(line, number) {
                        Ok(record) => record,
                        Err(error) => {
                            result.error =
                                Some(format!("{}: error: {}", error.line, error.message));
                            return;
                        }
                    };
                    let doc = jsonl::document_id(&record, selection).map(|id| {
                        result.docs.push(id);
                        result.docs.len() - 1
                    });
                    // Whose dates move together: the policy's subject field, else the
                    // record's id, else the record's line.
                    let subject = match mode {
                        Mode::Redact(redactor) => {
                            deid::record_subject(&record, redactor.policy(), selection)
                        }
                        Mode::Scan { .. } => None,
                    }
                    .unwrap_or_else(|| format!("{}:{number}", item.file.name));
                    let mut replacements: Vec<(String, String)> = Vec::new();
                    jsonl::for_each_text_field(&record, selection, &mut |path, text| {
                        engine.scan_bytes_into(text.as_bytes(), scratch, &mut findings);
                        if findings.is_empty() {
                            return;
                        }
                        result.fields.push(path.to_owned());
                        let field = Some(result.fields.len() - 1);
                        for finding in &findings {
                            let value =
                                show_values.then(|| text[finding.start..finding.end].to_owned());
                            result.findings.push(Located {
                                finding: *finding,
                                doc,
                                field,
                                value,
                            });
                        }
                        if let Mode::Redact(redactor) = mode {
                            let subject = subject.as_bytes();
                            let mut out = Vec::with_capacity(text.len());
                            deid_transform::apply_into(
                                text.as_bytes(),
                                &findings,
                                &redactor.for_subject(subject),
                                &mut out,
                            );
                            let out = String::from_utf8(out).unwrap_or_else(|e| {
                                String::from_utf8_lossy(e.as_bytes()).into_owned()
                            });
                            replacements.push((path.to_owned(), out));
                        }
                    });
                    if let Mode::Redact(_) = mode {
                        // Only the rewritten strings change; every other byte is kept.
                        jsonl::splice_strings(line, &replacements, &mut result.redacted);
                        result.redacted.push(b'\n');
                    }
                }
            }
            _ => {
                engine.scan_bytes_into(bytes, scratch, &mut findings);
                for finding in &findings {
                    let mut absolute = *finding;
                    absolute.start += item.range.start;
                    absolute.end += item.range.start;
                    let value = show_values.then(|| {
                        String::from_utf8_lossy(&bytes[finding.start..finding.end]).into_owned()
                    });
                    result.findings.push(Located {
                        finding: absolute,
                        doc: None,
                        field: None,
                        value,
                    });
                }
                if let Mode::Redact(redactor) = mode {
                    // A text file is one document: its dates move together.
                    let subject = redactor.for_subject(item.file.name.as_bytes());
                    deid_transform::apply_into(bytes, &findings, &subject, &mut result.redacted);
                }
            }
        }
    });
    result
}

/// Writes results in input order.
struct Emitter<'a, W: Write> {
    engine: &'a Engine,
    sink: &'a mut FindingSink<W>,
    /// Output per open file id, and whether the file failed.
    writers: &'a mut BTreeMap<usize, (Writer, bool)>,
    totals: &'a mut Totals,
    mode: Mode<'a>,
    progress: &'a Progress,
    /// Files opened so far.
    opened: usize,
}

impl<W: Write> Emitter<'_, W> {
    /// Counts `n` findings of `entity` in the run's totals.
    fn count(&mut self, entity: EntityType, n: u64) {
        if n > 0 {
            self.totals.findings += n;
            *self.totals.by_type.entry(entity).or_default() += n;
        }
    }

    fn emit(&mut self, item: &Item, result: ItemResult) -> anyhow::Result<()> {
        let id = item.file.id;
        let name = item.file.name.as_str();
        let failed = self.writers.get(&id).is_some_and(|(_, failed)| *failed);
        if !failed {
            let matcher = self.engine.matcher();
            for located in &result.findings {
                let record = FindingRecord {
                    path: name,
                    doc: located.doc.map(|i| result.docs[i].as_str()),
                    field: located.field.map(|i| result.fields[i].as_str()),
                    row: None,
                    column: None,
                    start: located.finding.start,
                    end: located.finding.end,
                    entity: located.finding.entity,
                    rule: matcher.rule(located.finding.rule).id(),
                    confidence: round_confidence(located.finding.confidence),
                    value: located.value.as_deref(),
                };
                if matches!(self.mode, Mode::Scan { .. }) {
                    self.sink.write(&record)?;
                }
                self.count(located.finding.entity, 1);
            }
            if let Some(error) = &result.error {
                // `error` starts with its position (`LINE: error: …`).
                eprintln!("{name}:{error}");
                self.totals.errors += 1;
                if let Some(entry) = self.writers.get_mut(&id) {
                    entry.1 = true;
                }
            } else if let Some((writer, _)) = self.writers.get_mut(&id) {
                match writer {
                    Writer::File(file) => file
                        .write_all(&result.redacted)
                        .with_context(|| format!("{}: write failed", file.target().display()))?,
                    Writer::Stdout => {
                        self.save_tokens()?;
                        io::stdout().write_all(&result.redacted)?;
                    }
                    Writer::Discard => {}
                }
            }
        }
        self.progress.advance(item.range.len() as u64);
        if item.last {
            self.close(id)?;
        }
        Ok(())
    }

    /// Redact: stores new tokens before output holding them becomes visible.
    fn save_tokens(&self) -> anyhow::Result<()> {
        if let Mode::Redact(redactor) = self.mode {
            redactor
                .save_tokens()
                .context("cannot save the new tokens; no output holding them was released")?;
        }
        Ok(())
    }

    fn close(&mut self, id: usize) -> anyhow::Result<()> {
        if let Some((writer, failed)) = self.writers.remove(&id)
            && let Writer::File(file) = writer
        {
            if failed {
                drop(file);
            } else {
                self.save_tokens()?;
                let target = file.target().to_owned();
                file.commit()
                    .with_context(|| format!("{}: cannot write output", target.display()))?;
            }
        }
        Ok(())
    }
}

/// A progress bar on stderr that appears only for runs longer than a second on a terminal.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    enabled: bool,
}

impl Progress {
    fn new(total: u64, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let enabled = !quiet && io::stderr().is_terminal();
        Progress {
            bar,
            started: Instant::now(),
            enabled,
        }
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if self.enabled && self.bar.is_hidden() && self.started.elapsed() > PROGRESS_DELAY {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
