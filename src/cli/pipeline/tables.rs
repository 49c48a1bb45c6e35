//! Tables (CSV and Parquet) in `scan`, `redact` and `classify`.
//!
//! A table is classified first, from a sample: a column labelled with an entity type is
//! reported (scan) or replaced (redact) whole, cell by cell; a `FREE_TEXT` column is
//! scanned cell by cell; other columns are kept. Parts (CSV chunks, Parquet row groups)
//! run in parallel and results are written in input order as they arrive
//! ([`in_part_order`]): a scan streams each part a slice at a time (a Parquet batch), a
//! CSV redaction a part at a time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError, mpsc};

use anyhow::{Context as _, bail};
use deid::tables::{CellScanner, Cells, PolicyRewriter, file_stem};
use deid::{Engine, Finding, Redactor};
use deid_formats::input::{Content, Format, Source};
use deid_formats::sink::{CellTemplate, FindingRecord, round_confidence};
use deid_tables::classify::{self, ColumnClass, Label, SAMPLE_SIZE};
use deid_tables::csv::{CsvLayout, CsvOptions, Part, PartReport};
use deid_tables::parquet::{ParquetTable, PartBatches};
use deid_tables::subject::TableSubject;
use deid_tables::{CellRewriter as _, ColumnInfo, ColumnSample};
use rayon::prelude::*;

use super::report::ColumnOutcome;
use super::{Emitter, Mode, Writer};
use crate::cli::InputArgs;

/// The rule id of findings that come from a column's label rather than from a rule.
pub(super) const COLUMN_RULE: &str = "column.classified";

/// An opened table.
pub(super) enum Table {
    Csv { layout: CsvLayout, content: Content },
    Parquet(ParquetTable),
}

impl Table {
    pub(super) fn open(
        source: &Source,
        name: &str,
        content: Content,
        format: Format,
        args: &InputArgs,
    ) -> anyhow::Result<Table> {
        match format {
            Format::Parquet => {
                let Some(path) = source.path() else {
                    bail!(
                        "-: Parquet cannot be read from stdin (its index is at the end); pass a file"
                    );
                };
                Ok(Table::Parquet(ParquetTable::open(path)?))
            }
            _ => {
                let options = CsvOptions {
                    delimiter: args.delimiter.map(|d| d as u8),
                    has_header: !args.no_header,
                    ..CsvOptions::default()
                };
                let layout = CsvLayout::plan(name, &content, options)?;
                for issue in &layout.issues {
                    if args.strict {
                        bail!("{name}: {issue}");
                    }
                    if !args.quiet {
                        eprintln!("{name}: warning: {issue}");
                    }
                }
                Ok(Table::Csv { layout, content })
            }
        }
    }

    pub(super) fn columns(&self) -> &[ColumnInfo] {
        match self {
            Table::Csv { layout, .. } => &layout.columns,
            Table::Parquet(table) => table.columns(),
        }
    }

    fn column_name(&self, index: usize) -> String {
        match self {
            Table::Csv { layout, .. } => layout.column_name(index),
            Table::Parquet(table) => table.columns()[index].name.clone(),
        }
    }

    fn sample(&self) -> anyhow::Result<Vec<ColumnSample>> {
        Ok(match self {
            Table::Csv { layout, content } => layout.sample(content, SAMPLE_SIZE),
            Table::Parquet(table) => table.sample(SAMPLE_SIZE)?,
        })
    }

    fn parts(&self) -> usize {
        match self {
            Table::Csv { layout, .. } => layout.parts.len(),
            Table::Parquet(table) => table.parts(),
        }
    }

    /// The cells of a part, to visit a slice at a time. A Parquet part decodes only the
    /// fields holding a column that `wanted` says yes to; a CSV part visits every cell.
    fn cursor(
        &self,
        part: usize,
        wanted: &dyn Fn(usize) -> bool,
    ) -> anyhow::Result<PartCursor<'_>> {
        Ok(match self {
            Table::Csv { layout, content } => PartCursor::Csv {
                layout,
                content,
                part: Some(&layout.parts[part]),
            },
            Table::Parquet(table) => PartCursor::Parquet {
                first_row: table.first_row(part),
                batches: table.batches(part, wanted)?,
            },
        })
    }

    /// Labels every column: pinned labels first, the classifier for the rest.
    pub(super) fn classify(
        &self,
        engine: &Engine,
        name: &str,
        pins: &Pins,
    ) -> anyhow::Result<Vec<ColumnClass>> {
        let samples = self.sample()?;
        let subject = TableSubject::of(&file_stem(name));
        Ok(self
            .columns()
            .par_iter()
            .zip(samples.par_iter())
            .map(|(column, sample)| match pins.get(name, &column.name) {
                Some(label) => ColumnClass {
                    column: column.name.clone(),
                    label,
                    confidence: 1.0,
                    evidence: vec!["pinned by the user".to_owned()],
                    sampled: 0,
                },
                None => engine.with_scratch(|scratch| {
                    classify::classify(engine.matcher(), scratch, column, subject, sample)
                }),
            })
            .collect())
    }
}

/// A part being visited: a CSV part in one slice, a Parquet row group a batch of rows at a
/// time (a row group can hold millions of rows).
enum PartCursor<'a> {
    Csv {
        layout: &'a CsvLayout,
        content: &'a Content,
        /// `None` once visited.
        part: Option<&'a Part>,
    },
    Parquet {
        first_row: u64,
        batches: PartBatches<'a>,
    },
}

impl PartCursor<'_> {
    /// Visits the next slice of cells with absolute 0-based rows and returns its problems,
    /// or `None` when the part is done.
    fn visit_next(
        &mut self,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> anyhow::Result<Option<PartReport>> {
        match self {
            PartCursor::Csv {
                layout,
                content,
                part,
            } => Ok(part
                .take()
                .map(|part| layout.visit_part(content, part, visit))),
            PartCursor::Parquet { first_row, batches } => {
                let first_row = *first_row;
                let more = batches.visit_next(&mut |row, column, value| {
                    visit(first_row + row, column, value);
                })?;
                Ok(more.then(PartReport::default))
            }
        }
    }
}

/// Labels the user pinned: `--column NAME=TYPE` for every table, and a classes file
/// (`deid classify --format json` output, edited) per table.
#[derive(Debug, Default)]
pub(super) struct Pins {
    everywhere: BTreeMap<String, Label>,
    /// Per file stem (`patients` for `data/patients.csv`), as the classes contract keys.
    per_table: BTreeMap<String, BTreeMap<String, Label>>,
}

impl Pins {
    pub(super) fn load(columns: &[String], classes: Option<&Path>) -> anyhow::Result<Pins> {
        let mut pins = Pins::default();
        for pin in columns {
            let (column, label) = pin
                .rsplit_once('=')
                .with_context(|| format!("--column {pin}: expected NAME=TYPE, e.g. col_7=PHONE"))?;
            let label = Label::parse(label).with_context(|| {
                format!("--column {pin}: `{label}` is not an entity type, FREE_TEXT or none")
            })?;
            pins.everywhere.insert(column.to_owned(), label);
        }
        if let Some(path) = classes {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read the classes file", path.display()))?;
            let files: BTreeMap<String, BTreeMap<String, Option<String>>> =
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{}: expected {{\"FILE\": {{\"COLUMN\": \"TYPE\" | null}}}}",
                        path.display()
                    )
                })?;
            for (file, columns) in files {
                let table = pins.per_table.entry(file_stem(&file)).or_default();
                for (column, label) in columns {
                    let label = match label.as_deref() {
                        None => Label::None,
                        Some(text) => Label::parse(text).with_context(|| {
                            format!(
                                "{}: {file}: column {column:?}: `{text}` is not an entity type, FREE_TEXT or null",
                                path.display()
                            )
                        })?,
                    };
                    table.insert(column, label);
                }
            }
        }
        Ok(pins)
    }

    fn get(&self, file: &str, column: &str) -> Option<Label> {
        self.everywhere.get(column).copied().or_else(|| {
            self.per_table
                .get(&file_stem(file))
                .and_then(|columns| columns.get(column).copied())
        })
    }
}

/// A finding of the scan of a free-text cell.
struct CellFinding {
    row: u64,
    column: usize,
    finding: Finding,
    value: Option<String>,
}

/// A cell of a column labelled with an entity type, reported whole: a finding from 0 to
/// `end`, of the column's type.
///
/// PERF: every such cell is a finding (29.6 M in the 1 GiB bench CSV), made on a worker
/// and read by the writer. In this form (40 bytes, not a [`CellFinding`]'s 72, and counted
/// per column) and with the sink writing blocks, a one-thread scan of that file took
/// 2.67 s instead of 2.94 s (medians of 3).
struct WholeCell {
    row: u64,
    column: usize,
    end: usize,
    /// The cell's text, when values are shown.
    value: Option<Box<str>>,
}

/// Findings that have a place in cell order: by row, then column, then offset.
trait CellOrder {
    fn order(&self) -> (u64, usize, usize);
}

impl CellOrder for CellFinding {
    fn order(&self) -> (u64, usize, usize) {
        (self.row, self.column, self.finding.start)
    }
}

impl CellOrder for WholeCell {
    fn order(&self) -> (u64, usize, usize) {
        (self.row, self.column, 0)
    }
}

/// A finding of a slice: of a labelled cell or in a free-text cell.
enum SliceFinding<'a> {
    Whole(&'a WholeCell),
    Scanned(&'a CellFinding),
}

/// What every table of a run shares.
pub(super) struct TableRun<'a> {
    pub(super) pool: &'a rayon::ThreadPool,
    pub(super) engine: &'a Engine,
    pub(super) args: &'a InputArgs,
    pub(super) pins: &'a Pins,
}

impl TableRun<'_> {
    /// Scans or redacts one table and writes its results through the emitter.
    pub(super) fn process<W: Write>(
        &self,
        table: &Table,
        name: &str,
        id: usize,
        emitter: &mut Emitter<'_, W>,
    ) -> anyhow::Result<()> {
        let TableRun {
            pool,
            engine,
            args,
            pins,
        } = *self;
        let classes = pool.install(|| table.classify(engine, name, pins))?;
        let labels: Vec<Label> = classes.iter().map(|c| c.label).collect();
        if !args.quiet {
            eprintln!("{name}: {}", describe(&classes));
        }
        let result = match emitter.mode {
            Mode::Scan { show_values } => self.scan(table, name, &classes, show_values, emitter),
            Mode::Redact(redactor) => self.redact(table, name, id, &labels, redactor, emitter),
        };
        if let Err(error) = result {
            eprintln!("{error:#}");
            emitter.totals.errors += 1;
            // Drop the output: a failed table leaves no file that looks complete.
            emitter.writers.remove(&id);
        }
        emitter.progress.advance(table_bytes(table));
        Ok(())
    }
}

fn table_bytes(table: &Table) -> u64 {
    match table {
        Table::Csv { content, .. } => content.len() as u64,
        Table::Parquet(_) => 0,
    }
}

/// One line on what happens to each column.
fn describe(classes: &[ColumnClass]) -> String {
    let mut whole = Vec::new();
    let mut text = Vec::new();
    for class in classes {
        match class.label {
            Label::Entity(entity) => whole.push(format!("{} ({entity})", class.column)),
            Label::FreeText => text.push(class.column.clone()),
            Label::None => {}
        }
    }
    let kept = classes.len() - whole.len() - text.len();
    format!(
        "identifier columns: {}; free text: {}; {kept} other column(s) kept",
        if whole.is_empty() {
            "none".to_owned()
        } else {
            whole.join(", ")
        },
        if text.is_empty() {
            "none".to_owned()
        } else {
            text.join(", ")
        },
    )
}

impl TableRun<'_> {
    /// Scans a table's parts a slice at a time, each slice's work (decoding, visiting,
    /// scanning) in the pool, and writes the findings in input order on this thread as the
    /// slices arrive. Memory holds a few slices per part in flight whatever the size of a
    /// part: a Parquet row group of a million rows never sits whole in memory with its
    /// findings.
    ///
    /// Visiting the next slice while the free-text cells of the current one were scanned
    /// (`rayon::join`) gained nothing measurable on a Parquet file of one row group and took
    /// one more slice of memory per part in flight.
    fn scan<W: Write>(
        &self,
        table: &Table,
        name: &str,
        classes: &[ColumnClass],
        show_values: bool,
        emitter: &mut Emitter<'_, W>,
    ) -> anyhow::Result<()> {
        let TableRun {
            pool, engine, args, ..
        } = *self;
        let columns = ColumnRecords::new(table, name, classes);
        let scanner = CellScanner::new(engine);
        // Columns that are neither reported nor scanned need not be decoded.
        let wanted = |column: usize| classes.get(column).is_some_and(|c| c.label != Label::None);
        // With parts enough to keep every thread busy, free-text cells are scanned as they
        // are visited; with few (a Parquet file of one row group of millions of rows),
        // they are copied and scanned in parallel tasks.
        let in_place = table.parts() >= 4 * pool.current_num_threads();
        let spare = Spare::new();
        let scan_part = |part: usize, send: &dyn Fn(ScannedSlice) -> bool| {
            let mut cursor = table.cursor(part, &wanted)?;
            loop {
                let scanned = pool.install(|| {
                    let slice = if in_place {
                        scanner.with(|cells| {
                            visit_slice(&mut cursor, classes, show_values, &spare, Some(cells))
                        })
                    } else {
                        visit_slice(&mut cursor, classes, show_values, &spare, None)
                    }?;
                    anyhow::Ok(slice.map(|slice| scan_slice(&scanner, slice, show_values)))
                })?;
                let Some(scanned) = scanned else {
                    return Ok(());
                };
                if !send(scanned) {
                    return Ok(());
                }
            }
        };
        in_part_order(pool, name, table.parts(), scan_part, |slice| {
            report_issues(name, &slice.report, args)?;
            self.write_findings(table, name, &columns, slice.in_cell_order(), emitter)?;
            let (mut whole, mut scanned) = (slice.labelled.findings, slice.scanned.findings);
            whole.clear();
            scanned.clear();
            spare.give((whole, scanned));
            Ok(())
        })
    }

    /// Writes the findings of one slice.
    fn write_findings<'a, W: Write>(
        &self,
        table: &Table,
        name: &str,
        columns: &ColumnRecords,
        findings: impl Iterator<Item = SliceFinding<'a>>,
        emitter: &mut Emitter<'_, W>,
    ) -> anyhow::Result<()> {
        let matcher = self.engine.matcher();
        // Whole cells are counted per column, and the counts added to the totals once.
        let mut whole_cells = vec![0; columns.whole.len()];
        for finding in findings {
            let cell = match finding {
                SliceFinding::Whole(cell) => {
                    let (Some(template), Some(count)) = (
                        columns.whole.get(cell.column).and_then(Option::as_ref),
                        whole_cells.get_mut(cell.column),
                    ) else {
                        bail!("{name}: column {} has no label", cell.column + 1);
                    };
                    *count += 1;
                    emitter
                        .sink
                        .write_cell(template, cell.row, cell.end, cell.value.as_deref())?;
                    continue;
                }
                SliceFinding::Scanned(cell) => cell,
            };
            emitter.count(cell.finding.entity, 1);
            // Fields past a CSV header are named by position.
            let extra;
            let column = match columns.names.get(cell.column) {
                Some(name) => name.as_str(),
                None => {
                    extra = table.column_name(cell.column);
                    extra.as_str()
                }
            };
            emitter.sink.write(&FindingRecord {
                path: name,
                doc: None,
                field: None,
                row: Some(cell.row),
                column: Some(column),
                start: cell.finding.start,
                end: cell.finding.end,
                entity: cell.finding.entity,
                rule: matcher.rule(cell.finding.rule).id(),
                confidence: round_confidence(cell.finding.confidence),
                value: cell.value.as_deref(),
            })?;
        }
        for (template, count) in columns.whole.iter().zip(whole_cells) {
            if let Some(template) = template {
                emitter.count(template.entity(), count);
            }
        }
        Ok(())
    }
}

/// What the writer of a table's findings knows of its columns.
struct ColumnRecords {
    /// The names of the columns the table declares.
    names: Vec<String>,
    /// The record of the cells of each column labelled with an entity type, which are
    /// reported whole.
    whole: Vec<Option<CellTemplate>>,
}

impl ColumnRecords {
    fn new(table: &Table, name: &str, classes: &[ColumnClass]) -> ColumnRecords {
        let whole = classes
            .iter()
            .enumerate()
            .map(|(column, class)| match class.label {
                Label::Entity(entity) => Some(CellTemplate::new(
                    name,
                    &table.column_name(column),
                    entity,
                    COLUMN_RULE,
                    round_confidence(class.confidence),
                )),
                Label::FreeText | Label::None => None,
            })
            .collect();
        ColumnRecords {
            names: (0..table.columns().len())
                .map(|i| table.column_name(i))
                .collect(),
            whole,
        }
    }
}

/// A slice's findings, and the problems of its rows.
struct ScannedSlice {
    report: PartReport,
    /// Of the labelled cells.
    labelled: FindingList<WholeCell>,
    /// Of the free-text cells.
    scanned: FindingList<CellFinding>,
}

/// Findings in visit order, and the order to read them in when that is not cell order.
///
/// PERF: a CSV slice is visited row by row, so its lists are in cell order already; a
/// Parquet batch is visited column by column. Sorting the findings themselves (88 bytes
/// each, a stable sort merging one run per column) took 11 % of a one-thread scan of the
/// 1 GiB bench CSV and 12 % of the Parquet one, mostly moving findings; the keys with an
/// index are a third of the size, and the findings never move. Sorting even those keys
/// took 7 % of a one-thread Parquet scan: their indices are now counted into place by row
/// ([`by_row`]), in one pass.
struct FindingList<T> {
    findings: Vec<T>,
    order: Option<Vec<usize>>,
}

impl<T: CellOrder> FindingList<T> {
    fn new(findings: Vec<T>) -> FindingList<T> {
        if findings.is_sorted_by_key(T::order) {
            return FindingList {
                findings,
                order: None,
            };
        }
        let in_cell_order = |order: &Vec<usize>| {
            order
                .windows(2)
                .all(|pair| findings[pair[0]].order() <= findings[pair[1]].order())
        };
        let order = by_row(&findings).filter(in_cell_order).unwrap_or_else(|| {
            let mut keys: Vec<_> = findings
                .iter()
                .enumerate()
                .map(|(index, cell)| (cell.order(), index))
                .collect();
            // Stable, since the keys come in sorted runs: cachegrind counted 4x the
            // instructions for an unstable sort of findings on a 64 MiB table.
            keys.sort();
            keys.into_iter().map(|(_, index)| index).collect()
        });
        FindingList {
            findings,
            order: Some(order),
        }
    }

    /// The findings in cell order.
    fn iter(&self) -> impl Iterator<Item = &T> {
        let order = self.order.as_deref();
        (0..self.findings.len()).map(move |i| &self.findings[order.map_or(i, |order| order[i])])
    }
}

/// The indices of `findings` ordered by row, and within a row as they come (a counting
/// sort): cell order when the findings come column by column, each column's in row order.
/// `None` when their rows spread over many more rows than there are findings.
fn by_row<T: CellOrder>(findings: &[T]) -> Option<Vec<usize>> {
    let rows = findings.iter().map(|cell| cell.order().0);
    let (first, last) = (rows.clone().min()?, rows.clone().max()?);
    let span = usize::try_from(last - first).ok()?.checked_add(1)?;
    if span > findings.len().saturating_mul(4) {
        return None;
    }
    // starts[r] is where the indices of row first + r go, once the counts are summed.
    let mut starts = vec![0; span + 1];
    for row in rows.clone() {
        starts[(row - first) as usize + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut order = vec![0; findings.len()];
    for (index, row) in rows.enumerate() {
        let slot = &mut starts[(row - first) as usize];
        order[*slot] = index;
        *slot += 1;
    }
    Some(order)
}

impl ScannedSlice {
    /// Every finding in cell order: the two lists merged as they are read. A column is
    /// labelled or free text, never both, so no two findings of the lists tie.
    fn in_cell_order(&self) -> impl Iterator<Item = SliceFinding<'_>> {
        let (mut labelled, mut scanned) = (
            self.labelled.iter().peekable(),
            self.scanned.iter().peekable(),
        );
        std::iter::from_fn(move || match (labelled.peek(), scanned.peek()) {
            (Some(a), Some(b)) if b.order() < a.order() => {
                scanned.next().map(SliceFinding::Scanned)
            }
            (Some(_), _) => labelled.next().map(SliceFinding::Whole),
            (None, _) => scanned.next().map(SliceFinding::Scanned),
        })
    }
}

/// What a driver tells the writer about its part.
enum PartMessage<T> {
    /// One result of the part, in order.
    Item(T),
    /// The part is done.
    Done,
    Failed(anyhow::Error),
}

/// Runs `work` for every part of table `name` on driver threads, and hands what each part
/// sends to `consume` on this thread in input order, as it arrives.
///
/// `work(part, send)` runs its heavy work in `pool`, so that it uses the threads asked for,
/// and calls `send` with each result of the part in order; `send` returns `false` once the
/// consumer has stopped, and `work` should then return. A driver holds one part and waits
/// outside the pool, on a channel of one result, until `consume` takes its results: one
/// driver per thread and one more, so that a part whose results wait for the consumer
/// leaves no thread idle, and the consumer (writing output) runs while the pool works on
/// the next parts. More drivers cost memory (a Parquet reader's pages and dictionaries,
/// ~30 MB for the bench table's 17 columns) for no speed.
fn in_part_order<T: Send>(
    pool: &rayon::ThreadPool,
    name: &str,
    parts: usize,
    work: impl Fn(usize, &dyn Fn(T) -> bool) -> anyhow::Result<()> + Sync,
    mut consume: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..parts)
        .map(|_| mpsc::sync_channel::<PartMessage<T>>(1))
        .unzip();
    // Each driver owns the sender of the part it works on, so a driver that stops for any
    // reason, a panic included, closes its part's channel.
    let senders = Mutex::new(senders.into_iter().enumerate());
    let drivers = (pool.current_num_threads() + 1).min(parts);
    std::thread::scope(|scope| {
        for _ in 0..drivers {
            scope.spawn(|| {
                let next = || {
                    senders
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .next()
                };
                while let Some((part, sender)) = next() {
                    let send = |item| sender.send(PartMessage::Item(item)).is_ok();
                    let end = match work(part, &send) {
                        Ok(()) => PartMessage::Done,
                        Err(error) => PartMessage::Failed(error),
                    };
                    // Sending fails only when the consumer has stopped.
                    if sender.send(end).is_err() {
                        break;
                    }
                }
            });
        }
        // Returning drops the receivers, which stops the drivers at their next result.
        let receivers = receivers;
        for (part, receiver) in receivers.iter().enumerate() {
            loop {
                match receiver.recv() {
                    Ok(PartMessage::Item(item)) => consume(item)?,
                    Ok(PartMessage::Done) => break,
                    Ok(PartMessage::Failed(error)) => return Err(error),
                    Err(mpsc::RecvError) => {
                        bail!("{name}: part {} stopped unfinished", part + 1)
                    }
                }
            }
        }
        Ok(())
    })
}

/// A slice of a part, visited: the findings of its labelled cells, and its free-text cells
/// scanned or to scan.
struct VisitedSlice {
    report: PartReport,
    labelled: Vec<WholeCell>,
    /// The findings of the free-text cells scanned in place.
    scanned: Vec<CellFinding>,
    /// The free-text cells not scanned in place, copied: a value lives only while it is
    /// visited (a Parquet value while its batch is). One buffer for all of them raised the
    /// peak memory of a Parquet scan of the 64 MiB bench table by 17 MB (its doubling) for
    /// no measurable gain.
    texts: Vec<(u64, usize, Vec<u8>)>,
}

/// Visits the next slice of a part, `None` when it is done: labelled cells become
/// findings whole, free-text cells are scanned in place with `in_place` when given, and
/// kept to scan otherwise.
///
/// PERF: scanning cells in place, rather than copying them to scan in parallel tasks,
/// made a one-thread scan of the 1 GiB bench CSV ~7 % faster (2.67 -> 2.47 s) and of its
/// Parquet twin ~10 % (4.16 -> 3.75 s).
fn visit_slice(
    cursor: &mut PartCursor<'_>,
    classes: &[ColumnClass],
    show_values: bool,
    spare: &Spare<(Vec<WholeCell>, Vec<CellFinding>)>,
    mut in_place: Option<&mut Cells<'_>>,
) -> anyhow::Result<Option<VisitedSlice>> {
    let (mut labelled, mut scanned) = spare.take();
    let mut texts = Vec::new();
    let report = cursor.visit_next(&mut |row, column, value| match classes
        .get(column)
        .map(|c| c.label)
    {
        Some(Label::Entity(_)) => labelled.push(WholeCell {
            row,
            column,
            end: value.len(),
            value: show_values.then(|| String::from_utf8_lossy(value).into()),
        }),
        Some(Label::FreeText) => match in_place.as_deref_mut() {
            Some(cells) => scan_cell(cells, row, column, value, show_values, &mut scanned),
            None => texts.push((row, column, value.to_vec())),
        },
        _ => {}
    })?;
    Ok(report.map(|report| VisitedSlice {
        report,
        labelled,
        scanned,
        texts,
    }))
}

/// Buffers the writer is done with (a slice's lists, a rewritten part), emptied by it, for
/// the next parts to fill.
///
/// PERF: the list of a CSV part's whole cells is ~1 MB, a rewritten part ~1 MB; allocated
/// afresh for every part, they came from the kernel as new pages each time, and zeroing
/// them (`clear_page_erms`) took 7 % of a two-thread scan of the 1 GiB bench CSV and 4 %
/// of a one-thread redaction.
struct Spare<T> {
    buffers: Mutex<Vec<T>>,
}

/// Buffers kept at most: a few per thread are in flight at once.
const SPARE_BUFFERS: usize = 16;

impl<T: Default> Spare<T> {
    fn new() -> Spare<T> {
        Spare {
            buffers: Mutex::new(Vec::new()),
        }
    }

    /// A spare buffer, or a new one.
    fn take(&self) -> T {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        buffers.pop().unwrap_or_default()
    }

    /// Keeps `emptied` for a later [`Spare::take`].
    fn give(&self, emptied: T) {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        if buffers.len() < SPARE_BUFFERS {
            buffers.push(emptied);
        }
    }
}

/// Free-text cells scanned together by one task: enough work to pay for a task.
const CELLS_PER_TASK: usize = 256;

/// Scans a visited slice's copied free-text cells in parallel tasks, so that a slice much
/// larger than others still uses every core, and puts the findings of labelled and of
/// free-text cells each in cell order.
fn scan_slice(scanner: &CellScanner<'_>, slice: VisitedSlice, show_values: bool) -> ScannedSlice {
    let VisitedSlice {
        report,
        labelled,
        mut scanned,
        texts,
    } = slice;
    let tasks: Vec<Vec<CellFinding>> = texts
        .par_chunks(CELLS_PER_TASK)
        .map(|texts| {
            scanner.with(|cells| {
                let mut found = Vec::new();
                for (row, column, text) in texts {
                    scan_cell(cells, *row, *column, text, show_values, &mut found);
                }
                found
            })
        })
        .collect();
    scanned.extend(tasks.into_iter().flatten());
    ScannedSlice {
        report,
        labelled: FindingList::new(labelled),
        scanned: FindingList::new(scanned),
    }
}

/// Scans the free-text cell at `row` and `column` and appends its findings to `found`.
fn scan_cell(
    cells: &mut Cells<'_>,
    row: u64,
    column: usize,
    text: &[u8],
    show_values: bool,
    found: &mut Vec<CellFinding>,
) {
    cells.scan(text, |findings| {
        found.extend(findings.iter().map(|finding| CellFinding {
            row,
            column,
            value:
                show_values.then(|| String::from_utf8_lossy(&text[finding.range()]).into_owned()),
            finding: *finding,
        }));
    });
}

fn report_issues(name: &str, report: &PartReport, args: &InputArgs) -> anyhow::Result<()> {
    for issue in &report.issues {
        if args.strict {
            bail!("{name}: row {}: {} (--strict)", issue.row, issue.message);
        }
        if !args.quiet {
            eprintln!("{name}: row {}: warning: {}", issue.row, issue.message);
        }
    }
    let hidden =
        (report.ragged_rows + report.invalid_utf8_cells).saturating_sub(report.issues.len() as u64);
    if hidden > 0 && !args.quiet {
        eprintln!("{name}: warning: {hidden} more problem(s) of the same kinds in this part");
    }
    Ok(())
}

impl TableRun<'_> {
    fn redact<W: Write>(
        &self,
        table: &Table,
        name: &str,
        id: usize,
        labels: &[Label],
        redactor: &Redactor,
        emitter: &mut Emitter<'_, W>,
    ) -> anyhow::Result<()> {
        let TableRun {
            pool, engine, args, ..
        } = *self;
        let columns: Vec<String> = (0..labels.len()).map(|i| table.column_name(i)).collect();
        let rewriter = PolicyRewriter::new(engine, redactor, name, &columns, labels);
        let policy = redactor.policy();
        let stem = file_stem(name);
        for column in &columns {
            if let Some((rule, _)) = policy.column_rule(&stem, column) {
                emitter.totals.column_rules_used.insert(rule.to_owned());
            }
        }
        if let Some(subject) = &policy.shift().subject
            && policy.shifts()
            && rewriter.subject_column().is_none()
            && !args.quiet
        {
            eprintln!(
                "{name}: warning: no column {subject:?} (the policy's shift.subject): every \
                 row's dates move by the file's one offset"
            );
        }
        let Some((writer, _)) = emitter.writers.remove(&id) else {
            return Ok(());
        };
        let mut file = match writer {
            Writer::File(file) => file,
            Writer::Stdout | Writer::Discard => {
                bail!("{name}: a redacted table needs an output file or directory (-o), not stdout")
            }
        };
        match table {
            Table::Csv { layout, content } => {
                let mut header = Vec::new();
                layout.write_header(content, &rewriter, &mut header);
                file.write_all(&header)?;
                let spare = Spare::new();
                let rewrite_part =
                    |part: usize, send: &dyn Fn((PartReport, u64, Vec<u8>)) -> bool| {
                        let part = &layout.parts[part];
                        let rewritten = pool.install(|| {
                            let mut out: Vec<u8> = spare.take();
                            out.reserve(part.bytes.len() + part.bytes.len() / 8);
                            let (report, changed) =
                                layout.rewrite_part(content, part, &rewriter, &mut out);
                            (report, changed, out)
                        });
                        send(rewritten);
                        Ok(())
                    };
                in_part_order(
                    pool,
                    name,
                    layout.parts.len(),
                    rewrite_part,
                    |(report, changed, mut out)| {
                        report_issues(name, &report, args)?;
                        emitter.totals.findings += changed;
                        file.write_all(&out).with_context(|| {
                            format!("{}: write failed", file.target().display())
                        })?;
                        out.clear();
                        spare.give(out);
                        Ok(())
                    },
                )?;
            }
            Table::Parquet(parquet) => {
                let summary = pool.install(|| parquet.rewrite(&rewriter, &mut file))?;
                emitter.totals.findings += summary.cells_changed;
                if !args.quiet {
                    for change in &summary.type_changes {
                        eprintln!(
                            "{name}: column {:?} changed type from {} to {} to hold the replacements",
                            change.column, change.from, change.to
                        );
                    }
                }
            }
        }
        emitter.save_tokens()?;
        let target = file.target().to_owned();
        file.commit()
            .with_context(|| format!("{}: cannot write output", target.display()))?;
        emitter.totals.rows += match table {
            Table::Csv { layout, .. } => layout.rows(),
            Table::Parquet(parquet) => parquet.rows(),
        };
        for (index, (column, label)) in columns.into_iter().zip(labels).enumerate() {
            emitter.totals.columns.push(ColumnOutcome {
                file: name.to_owned(),
                column,
                label: match label {
                    Label::Entity(entity) => Some(entity.as_str().to_owned()),
                    Label::FreeText => Some("FREE_TEXT".to_owned()),
                    Label::None => None,
                },
                action: rewriter.plan(index).to_string(),
                cells: rewriter.changed(index),
            });
        }
        Ok(())
    }
}

/// The readable form of one table's classes.
pub(super) fn write_class_table(
    out: &mut Vec<u8>,
    name: &str,
    classes: &[ColumnClass],
) -> std::io::Result<()> {
    writeln!(out, "{name}")?;
    let width = classes
        .iter()
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "  {:width$}  {:16} {:>5} {:>7}  EVIDENCE",
        "COLUMN", "LABEL", "CONF", "SAMPLED"
    )?;
    for class in classes {
        writeln!(
            out,
            "  {:width$}  {:16} {:>5.2} {:>7}  {}",
            class.column,
            class.label.to_string(),
            class.confidence,
            class.sampled,
            class.evidence.join("; ")
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding at `row` and `column`, starting at `start`.
    fn at(row: u64, column: usize, start: usize) -> WholeCell {
        WholeCell {
            row,
            column,
            end: start + 1,
            value: None,
        }
    }

    impl CellOrder for (u64, usize, usize) {
        fn order(&self) -> (u64, usize, usize) {
            *self
        }
    }

    fn read<T: CellOrder>(list: &FindingList<T>) -> Vec<(u64, usize, usize)> {
        list.iter().map(CellOrder::order).collect()
    }

    #[test]
    fn lists_read_in_cell_order_however_they_were_visited() {
        // Column by column, each in row order: counted into place by row.
        let by_column = vec![at(7, 0, 0), at(8, 0, 0), at(7, 2, 0), at(9, 2, 0)];
        let list = FindingList::new(by_column);
        assert_eq!(read(&list), [(7, 0, 0), (7, 2, 0), (8, 0, 0), (9, 2, 0)]);
        // Columns out of order within a row: the count by row is not enough.
        let columns_backwards = vec![(1, 3, 0), (1, 1, 4), (0, 2, 0), (1, 1, 2)];
        assert_eq!(
            read(&FindingList::new(columns_backwards)),
            [(0, 2, 0), (1, 1, 2), (1, 1, 4), (1, 3, 0)]
        );
        // Rows far apart: sorted without a count over every row between.
        let sparse = vec![(1 << 40, 0, 0), (3, 0, 0)];
        assert_eq!(by_row(&sparse), None);
        assert_eq!(
            read(&FindingList::new(sparse)),
            [(3, 0, 0), (1 << 40, 0, 0)]
        );
        // In order already: read as they are.
        assert!(FindingList::new(vec![(0, 0, 0), (0, 1, 0)]).order.is_none());
    }
}
