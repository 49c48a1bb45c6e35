//! Parquet through arrow-rs, one part per row group.
//!
//! A Parquet file is already cut into row groups that the footer locates and that decode on
//! their own, so a row group is this module's *part*: the scanner visits parts in parallel and
//! adds the rows of the parts before each one to the part-relative rows it is handed. A part
//! is read a page at a time and can be visited a batch of rows at a time, decoding only the
//! fields the caller wants, so neither a row group nor its findings need sit in memory whole.
//!
//! [`ParquetTable::rewrite`] keeps the file's shape: one output row group per input row group,
//! the same rows in the same order, the same schema and the first column chunk's codec. Row
//! groups are decoded, rewritten and encoded in parallel, a bounded window at a time, then
//! appended in order, so memory holds a few encoded row groups, never the file.
//!
//! Cells are rendered as text for visiting, sampling and rewriting: strings and binary as they
//! are, numbers in decimal, dates as `YYYY-MM-DD`, timestamps in RFC 3339 (UTC, with `Z` when
//! the column has a time zone), times as `HH:MM:SS`, durations as ISO 8601 `PT…S`.
//! Intervals, null-typed columns and other types with no text form here are neither visited
//! nor rewritten.
//!
//! The type-change rule: a rewritten string or binary column keeps its type. Any other column
//! the rewriter touches (numbers, dates, timestamps, dictionary-encoded values, fixed-size
//! binary) becomes a string column (binary for binary values) holding the unchanged cells as
//! rendered text — whether or not a cell changes, because the choice follows
//! [`CellRewriter::touches`] and never the data. Every row group thus gets the same schema,
//! computed once, and each change is reported once as a [`TypeChange`].

use std::fmt::{Display, Write as _};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryViewBuilder, GenericBinaryBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DecimalType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayAccessor, ArrayRef, ArrowPrimitiveType, FixedSizeListArray, GenericListArray,
    GenericStringArray, MapArray, OffsetSizeTrait, StructArray,
};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::arrow::{ARROW_SCHEMA_META_KEY, ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;

use crate::table::{CellRewriter, ColumnInfo, ColumnKind, ColumnSample, TableError, sample_rows};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8192;
/// Marks an element of a nested array that belongs to no row: its struct or list slot is null.
const HIDDEN: u64 = u64::MAX;
const MS_PER_DAY: i64 = 86_400_000;
const SECONDS_PER_DAY: i64 = 86_400;
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A Parquet file opened for reading: its footer, its Arrow schema and its leaf columns.
pub struct ParquetTable {
    /// The path, as errors name it.
    name: String,
    /// Read with positioned reads, so that threads never share a cursor.
    file: Arc<File>,
    /// The footer with the file's own Arrow schema: what a rewrite reads and keeps, and
    /// what the classifier's sample reads.
    meta: ArrowReaderMetadata,
    /// The footer with string and binary leaves read as views into the decompressed pages,
    /// for visiting, which needs no array of its own. Read the file's way, every value is
    /// copied into one buffer first: a one-thread scan of the 1 GiB bench Parquet took
    /// 2.84 s that way and 2.62 s with views, two threads 2.71 and 2.32 s. The sample reads
    /// a few rows of each page, and views made `classify` slower (0.42 -> 0.49 s).
    view_meta: ArrowReaderMetadata,
    columns: Vec<ColumnInfo>,
    /// One tree per top-level field, mapping its arrays to leaf columns.
    nodes: Vec<Node>,
    /// Rows of each row group, as the footer gives them.
    part_rows: Vec<u64>,
    /// The bytes of each row group's column chunks: start and end offsets.
    part_bytes: Vec<(u64, u64)>,
    rows: u64,
}

/// The batches of one row group, decoded as they are visited (see [`ParquetTable::batches`]).
pub struct PartBatches<'a> {
    table: &'a ParquetTable,
    part: usize,
    /// `None` once the row group is done.
    reader: Option<ParquetRecordBatchReader>,
    /// The top-level fields decoded, in schema order: a batch's columns.
    fields: Vec<usize>,
    /// Rows visited so far.
    rows: u64,
}

impl PartBatches<'_> {
    /// Visits the next batch as [`ParquetTable::visit_part`] visits a row group, with rows
    /// relative to the row group. Returns `false`, having visited nothing, once every batch
    /// has been visited and the row count checked against the footer.
    pub fn visit_next(
        &mut self,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<bool, TableError> {
        let Some(reader) = &mut self.reader else {
            return Ok(false);
        };
        let (table, part) = (self.table, self.part);
        let Some(batch) = reader.next() else {
            self.reader = None;
            table.check_rows(part, self.rows)?;
            return Ok(false);
        };
        let batch = batch.map_err(|e| table.part_error(part, e))?;
        for (&field, array) in self.fields.iter().zip(batch.columns()) {
            table.nodes[field]
                .visit(array.as_ref(), Rows::Direct(self.rows), visit)
                .map_err(|e| table.part_error(part, e))?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(true)
    }
}

/// `field` with its string and binary leaves as views (`Utf8View`, `BinaryView`), through
/// structs and lists; dictionaries and maps stay as they are.
fn viewed(field: &FieldRef) -> FieldRef {
    use DataType as T;
    let data_type = match field.data_type() {
        T::Utf8 | T::LargeUtf8 => T::Utf8View,
        T::Binary | T::LargeBinary => T::BinaryView,
        T::Struct(fields) => T::Struct(fields.iter().map(viewed).collect()),
        T::List(item) => T::List(viewed(item)),
        T::LargeList(item) => T::LargeList(viewed(item)),
        _ => return Arc::clone(field),
    };
    Arc::new(field.as_ref().clone().with_data_type(data_type))
}

/// What [`ParquetTable::rewrite`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewriteSummary {
    /// Rows written (always the rows read).
    pub rows: u64,
    /// Row groups written (always the row groups read).
    pub row_groups: usize,
    /// Cells whose value the rewriter replaced.
    pub cells_changed: u64,
    /// Columns whose type had to change, once each, in column order.
    pub type_changes: Vec<TypeChange>,
}

/// A column whose Arrow type changed in the rewritten file (see the module docs for the rule).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TypeChange {
    /// The leaf column, named as in [`ParquetTable::columns`].
    pub column: String,
    /// Its Arrow type in the input.
    pub from: String,
    /// Its Arrow type in the output.
    pub to: String,
}

impl ParquetTable {
    /// Opens `path` and reads its footer. Truncated, corrupt and non-Parquet files, and footers
    /// whose row counts do not add up, are errors that name the file.
    pub fn open(path: &Path) -> Result<ParquetTable, TableError> {
        let name = path.display().to_string();
        let file =
            File::open(path).map_err(|e| TableError::file(&name, format!("cannot open: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| TableError::file(&name, format!("cannot read: {e}")))?
            .len();
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| TableError::file(&name, format!("not a readable Parquet file: {e}")))?;

        // The footer is checked before anything relies on it: arrow-rs panics on a negative
        // column chunk offset, and would allocate whatever length it is told.
        let groups = meta.metadata().row_groups();
        let mut part_rows = Vec::with_capacity(groups.len());
        let mut part_bytes = Vec::with_capacity(groups.len());
        let mut rows = 0u64;
        for (i, group) in groups.iter().enumerate() {
            let lie = |what: String| {
                TableError::at(
                    &name,
                    format!("row group {} of {}", i + 1, groups.len()),
                    what,
                )
            };
            let n = u64::try_from(group.num_rows()).ok();
            let Some((n, sum)) = n.and_then(|n| Some((n, rows.checked_add(n)?))) else {
                let n = group.num_rows();
                return Err(lie(format!(
                    "the footer gives an impossible row count ({n})"
                )));
            };
            let mut bytes: Option<(u64, u64)> = None;
            for (j, chunk) in group.columns().iter().enumerate() {
                // The range arrow-rs reads (`ColumnChunkMetaData::byte_range`).
                let start = chunk
                    .dictionary_page_offset()
                    .unwrap_or(chunk.data_page_offset());
                let range = u64::try_from(start)
                    .ok()
                    .zip(u64::try_from(chunk.compressed_size()).ok());
                let Some((start, end)) = range
                    .and_then(|(start, size)| Some((start, start.checked_add(size)?)))
                    .filter(|&(_, end)| end <= len)
                else {
                    return Err(lie(format!(
                        "the footer places column chunk {} outside the {len}-byte file",
                        j + 1
                    )));
                };
                bytes = Some(bytes.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
            }
            part_rows.push(n);
            part_bytes.push(bytes.unwrap_or_default());
            rows = sum;
        }
        let declared = meta.metadata().file_metadata().num_rows();
        if u64::try_from(declared).ok() != Some(rows) {
            return Err(TableError::file(
                &name,
                format!("the footer says {declared} rows but its row groups hold {rows}"),
            ));
        }

        let view_schema = Schema::new_with_metadata(
            meta.schema()
                .fields()
                .iter()
                .map(viewed)
                .collect::<Fields>(),
            meta.schema().metadata().clone(),
        );
        // A schema the reader would not take as views is read the file's way.
        let view_meta = ArrowReaderMetadata::try_new(
            Arc::clone(meta.metadata()),
            ArrowReaderOptions::new().with_schema(Arc::new(view_schema)),
        )
        .unwrap_or_else(|_| meta.clone());

        let mut columns = Vec::new();
        let nodes = meta
            .schema()
            .fields()
            .iter()
            .map(|field| Node::build(field, field.name().clone(), &mut columns))
            .collect();
        Ok(ParquetTable {
            name,
            file: Arc::new(file),
            meta,
            view_meta,
            columns,
            nodes,
            part_rows,
            part_bytes,
            rows,
        })
    }

    /// Leaf columns in schema order: top-level fields by name, struct fields as a dotted path
    /// (`contact.phone`), list and map items with `[]` (`phones[]`, `visits[].date`,
    /// `attributes[].key`).
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Parts of the file: its row groups.
    pub fn parts(&self) -> usize {
        self.part_rows.len()
    }

    /// The 0-based row of the first row of row group `part`.
    pub fn first_row(&self, part: usize) -> u64 {
        self.part_rows[..part].iter().sum()
    }

    /// Calls `visit(row, column, value)` for every non-null leaf value of row group `part`,
    /// with `row` relative to the row group and `column` an index into [`Self::columns`]; a
    /// list calls it once per item, all with the list's row. Values under a null struct or
    /// list are not visited, nor are columns of types with no text form (see the module docs).
    /// Returns the rows of the row group.
    pub fn visit_part(
        &self,
        part: usize,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<u64, TableError> {
        let mut batches = self.batches(part, &|_| true)?;
        while batches.visit_next(visit)? {}
        Ok(batches.rows)
    }

    /// Row group `part`, to visit a batch of rows at a time (a row group can hold millions
    /// of rows, and a caller that keeps something per cell need not keep it for all of
    /// them), decoding only the top-level fields that hold a column `wanted` says yes to:
    /// the others are never read, so only the columns of those fields are visited (all of
    /// a struct's, if one is wanted).
    pub fn batches(
        &self,
        part: usize,
        wanted: &dyn Fn(usize) -> bool,
    ) -> Result<PartBatches<'_>, TableError> {
        let fields: Vec<usize> = (0..self.nodes.len())
            .filter(|&field| self.nodes[field].any_leaf(wanted))
            .collect();
        let projection = ProjectionMask::roots(self.meta.parquet_schema(), fields.clone());
        Ok(PartBatches {
            table: self,
            part,
            reader: Some(self.part_reader(&self.view_meta, part, None, projection)?),
            fields,
            rows: 0,
        })
    }

    /// A deterministic sample of each leaf column: the non-empty values of about `per_column`
    /// rows spread evenly over the file (at most `per_column` values, a list row giving a fair
    /// share of its items). Only the row groups holding sampled rows are read, in parallel, and
    /// from them only the sampled rows are decoded. Columns of types with no text form have no
    /// values and count every row as empty.
    pub fn sample(&self, per_column: usize) -> Result<Vec<ColumnSample>, TableError> {
        let picks: Vec<u64> = sample_rows(self.rows, per_column).collect();
        let per_row = per_column.div_ceil(picks.len().max(1)).max(1);

        // The picked rows of each row group, relative to it.
        let mut wanted: Vec<(usize, Vec<u64>)> = Vec::new();
        let mut start = 0u64;
        let mut next = picks.iter().peekable();
        for (part, &n) in self.part_rows.iter().enumerate() {
            let end = start + n;
            let mut rows = Vec::new();
            while let Some(row) = next.next_if(|&&row| row < end) {
                rows.push(row - start);
            }
            if !rows.is_empty() {
                wanted.push((part, rows));
            }
            start = end;
        }

        let parts = wanted
            .par_iter()
            .map(|(part, rows)| self.sample_part(*part, rows, per_column, per_row))
            .collect::<Result<Vec<_>, _>>()?;

        let seen = picks.len() as u64;
        let mut samples = vec![
            ColumnSample {
                rows_seen: seen,
                ..ColumnSample::default()
            };
            self.columns.len()
        ];
        let mut filled = vec![0u64; self.columns.len()];
        for part in parts {
            for ((sample, filled), column) in samples.iter_mut().zip(&mut filled).zip(part) {
                let room = per_column.saturating_sub(sample.values.len());
                sample.values.extend(column.values.into_iter().take(room));
                *filled += column.rows_with_value;
            }
        }
        for (sample, filled) in samples.iter_mut().zip(filled) {
            sample.empty = seen.saturating_sub(filled);
        }
        Ok(samples)
    }

    /// Writes a rewritten copy of the file to `out`: the cells of the columns `rewriter`
    /// touches replaced as it decides, everything else as it was, with the same rows, row
    /// groups and schema (but for the type changes the module docs describe).
    pub fn rewrite(
        &self,
        rewriter: &dyn CellRewriter,
        out: &mut (dyn io::Write + Send),
    ) -> Result<RewriteSummary, TableError> {
        let schema = self.meta.schema();
        let mut type_changes = Vec::new();
        let (plans, fields): (Vec<Plan>, Vec<FieldRef>) = self
            .nodes
            .iter()
            .zip(schema.fields())
            .map(|(node, field)| plan(node, field, rewriter, &self.columns, &mut type_changes))
            .unzip();
        // Dropped columns leave the schema; only whole top-level columns can go.
        let kept: Vec<bool> = self
            .nodes
            .iter()
            .map(|node| !matches!(node, Node::Leaf(c) if rewriter.drops(*c)))
            .collect();
        let top_level = |column: usize| {
            self.nodes
                .iter()
                .any(|node| matches!(node, Node::Leaf(c) if *c == column))
        };
        if let Some(nested) = (0..self.columns.len()).find(|&c| rewriter.drops(c) && !top_level(c))
        {
            return Err(TableError::file(
                &self.name,
                format!(
                    "column {:?} is nested: only top-level columns can be dropped",
                    self.columns[nested].name
                ),
            ));
        }
        let mut metadata = schema.metadata().clone();
        metadata.remove(ARROW_SCHEMA_META_KEY);
        let out_fields: Vec<FieldRef> = fields
            .iter()
            .zip(&kept)
            .filter(|(_, kept)| **kept)
            .map(|(field, _)| Arc::clone(field))
            .collect();
        let out_schema = Arc::new(Schema::new_with_metadata(out_fields, metadata));

        // The file's own key-value metadata (pandas', Spark's…) is kept; the writer encodes
        // the new Arrow schema itself.
        let key_values = self
            .meta
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .filter(|kv| kv.key != ARROW_SCHEMA_META_KEY)
                    .cloned()
                    .collect()
            });
        let props = WriterProperties::builder()
            .set_compression(self.codec())
            .set_key_value_metadata(key_values)
            .build();
        let write_error = |e: ParquetError| {
            TableError::file(&self.name, format!("writing the rewritten copy: {e}"))
        };
        let (mut writer, factory) = ArrowWriter::try_new_with_options(
            &mut *out,
            out_schema,
            ArrowWriterOptions::new().with_properties(props),
        )
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(write_error)?;

        let mut summary = RewriteSummary {
            type_changes,
            ..RewriteSummary::default()
        };
        let window = 2 * rayon::current_num_threads().max(1);
        for first in (0..self.parts()).step_by(window) {
            let parts = first..(first + window).min(self.parts());
            let encoded: Vec<_> = parts
                .clone()
                .into_par_iter()
                .map(|part| self.encode_part(part, &plans, &fields, &kept, &factory, rewriter))
                .collect();
            for (part, encoded) in parts.zip(encoded) {
                let encoded = encoded?;
                let append_error = |e: ParquetError| self.part_error(part, format!("writing: {e}"));
                let mut group = writer.next_row_group().map_err(append_error)?;
                for chunk in encoded.chunks {
                    chunk
                        .append_to_row_group(&mut group)
                        .map_err(append_error)?;
                }
                group.close().map_err(append_error)?;
                summary.rows += encoded.rows;
                summary.cells_changed += encoded.cells_changed;
                summary.row_groups += 1;
            }
        }
        writer.close().map_err(write_error)?;
        out.flush().map_err(|e| {
            TableError::file(&self.name, format!("writing the rewritten copy: {e}"))
        })?;
        Ok(summary)
    }

    /// Reads, rewrites and encodes one row group into column chunks ready to append.
    fn encode_part(
        &self,
        part: usize,
        plans: &[Plan],
        fields: &[FieldRef],
        kept: &[bool],
        factory: &ArrowRowGroupWriterFactory,
        rewriter: &dyn CellRewriter,
    ) -> Result<EncodedPart, TableError> {
        let error = |e: &dyn Display| self.part_error(part, e);
        let mut writers = factory.create_column_writers(part).map_err(|e| error(&e))?;
        let mut rewrite = Rewrite {
            rewriter,
            columns: &self.columns,
            changed: 0,
            subjects: Vec::new(),
        };
        // The subject column, when it is a top-level leaf: its array in each batch.
        let subject_field = rewriter.subject_column().and_then(|subject| {
            self.nodes
                .iter()
                .position(|node| matches!(node, Node::Leaf(c) if *c == subject))
        });
        let mut rows = 0u64;
        for batch in self.part_reader(&self.meta, part, None, ProjectionMask::all())? {
            let batch = batch.map_err(|e| error(&e))?;
            rewrite.subjects.clear();
            if let Some(field) = subject_field {
                for_each_value(batch.column(field).as_ref(), &mut |_, value| {
                    rewrite
                        .subjects
                        .push(value.filter(|v| !v.is_empty()).map(<[u8]>::to_vec));
                });
            }
            let mut leaf_writers = writers.iter_mut();
            let columns = plans.iter().zip(fields).zip(kept).zip(batch.columns());
            for (((plan, field), _), array) in columns.filter(|(((_, _), kept), _)| **kept) {
                let array = rewrite
                    .array(plan, array, Rows::Direct(0))
                    .map_err(|e| error(&e))?;
                for leaf in compute_leaves(field, &array).map_err(|e| error(&e))? {
                    let writer = leaf_writers
                        .next()
                        .ok_or_else(|| error(&"more leaf columns than the schema has"))?;
                    writer.write(&leaf).map_err(|e| error(&e))?;
                }
            }
            rows += batch.num_rows() as u64;
        }
        self.check_rows(part, rows)?;
        let chunks = writers
            .into_iter()
            .map(|writer| writer.close())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(&e))?;
        Ok(EncodedPart {
            chunks,
            rows,
            cells_changed: rewrite.changed,
        })
    }

    /// Samples the given rows (relative, ascending) of one row group.
    fn sample_part(
        &self,
        part: usize,
        rows: &[u64],
        per_column: usize,
        per_row: usize,
    ) -> Result<Vec<PartSample>, TableError> {
        let mut selectors = Vec::with_capacity(rows.len() * 2);
        let mut at = 0u64;
        for &row in rows {
            if row > at {
                selectors.push(RowSelector::skip((row - at) as usize));
            }
            selectors.push(RowSelector::select(1));
            at = row + 1;
        }

        let mut samples = vec![PartSample::default(); self.columns.len()];
        let mut take = |row: u64, column: usize, value: &[u8]| {
            let Some(sample) = samples.get_mut(column) else {
                return;
            };
            if value.is_empty() {
                return;
            }
            if sample.last_row != Some(row) {
                sample.last_row = Some(row);
                sample.rows_with_value += 1;
                sample.in_row = 0;
            }
            if sample.in_row < per_row && sample.values.len() < per_column {
                sample.in_row += 1;
                sample
                    .values
                    .push(String::from_utf8_lossy(value).into_owned());
            }
        };
        let mut seen = 0u64;
        for batch in self.part_reader(
            &self.meta,
            part,
            Some(RowSelection::from(selectors)),
            ProjectionMask::all(),
        )? {
            let batch = batch.map_err(|e| self.part_error(part, e))?;
            for (node, array) in self.nodes.iter().zip(batch.columns()) {
                node.visit(array.as_ref(), Rows::Direct(seen), &mut take)
                    .map_err(|e| self.part_error(part, e))?;
            }
            seen += batch.num_rows() as u64;
        }
        if seen != rows.len() as u64 {
            return Err(self.part_error(
                part,
                format!("{} rows were selected but {seen} were read", rows.len()),
            ));
        }
        Ok(samples)
    }

    /// A reader of row group `part` with the schema of `meta` (`self.meta` or
    /// `self.view_meta`): only the `selection` rows of it, when given; only the
    /// `projection` columns.
    fn part_reader(
        &self,
        meta: &ArrowReaderMetadata,
        part: usize,
        selection: Option<RowSelection>,
        projection: ProjectionMask,
    ) -> Result<ParquetRecordBatchReader, TableError> {
        let Some(&(start, end)) = self.part_bytes.get(part) else {
            return Err(TableError::file(
                &self.name,
                format!(
                    "there is no row group {} (the file has {})",
                    part + 1,
                    self.parts()
                ),
            ));
        };
        let group = RowGroupFile {
            file: Arc::clone(&self.file),
            start,
            end,
        };
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(group, meta.clone())
            .with_row_groups(vec![part])
            .with_projection(projection)
            .with_batch_size(BATCH_ROWS);
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        builder.build().map_err(|e| self.part_error(part, e))
    }

    /// Checks that a row group held the rows the footer promised.
    fn check_rows(&self, part: usize, rows: u64) -> Result<(), TableError> {
        let promised = self.part_rows.get(part).copied().unwrap_or_default();
        if rows == promised {
            Ok(())
        } else {
            Err(self.part_error(
                part,
                format!("the footer promises {promised} rows but the pages hold {rows}"),
            ))
        }
    }

    fn part_error(&self, part: usize, message: impl Display) -> TableError {
        TableError::at(
            &self.name,
            format!("row group {} of {}", part + 1, self.parts()),
            message.to_string(),
        )
    }

    /// The input's codec (of its first column chunk) when this build writes it, else Snappy.
    fn codec(&self) -> Compression {
        let first = self
            .meta
            .metadata()
            .row_groups()
            .first()
            .and_then(|group| group.columns().first())
            .map(|chunk| chunk.compression());
        match first {
            Some(
                codec @ (Compression::UNCOMPRESSED
                | Compression::SNAPPY
                | Compression::GZIP(_)
                | Compression::LZ4
                | Compression::LZ4_RAW
                | Compression::ZSTD(_)),
            ) => codec,
            _ => Compression::SNAPPY,
        }
    }
}

/// One row group, rewritten and encoded.
struct EncodedPart {
    chunks: Vec<ArrowColumnChunk>,
    rows: u64,
    cells_changed: u64,
}

/// One column's sample from one row group.
#[derive(Clone, Default)]
struct PartSample {
    values: Vec<String>,
    rows_with_value: u64,
    last_row: Option<u64>,
    /// Values taken from `last_row`.
    in_row: usize,
}

/// One row group's column chunks in the file, where arrow-rs reads its pages from, a page
/// at a time with positioned reads: memory holds the pages being decoded, never the row
/// group, which can be hundreds of megabytes. Reads outside the row group are errors.
#[derive(Clone)]
struct RowGroupFile {
    file: Arc<File>,
    /// The file offsets of the row group's first and past its last byte.
    start: u64,
    end: u64,
}

impl RowGroupFile {
    /// Checks that `length` bytes (or none) from `at` lie in the row group.
    fn check(&self, at: u64, length: usize) -> parquet::errors::Result<()> {
        let inside = at >= self.start
            && at
                .checked_add(length as u64)
                .is_some_and(|to| to <= self.end);
        if inside {
            Ok(())
        } else {
            Err(ParquetError::EOF(format!(
                "a read at offset {at} leaves the row group's column chunks"
            )))
        }
    }
}

impl Length for RowGroupFile {
    fn len(&self) -> u64 {
        self.end
    }
}

impl ChunkReader for RowGroupFile {
    type T = io::BufReader<StrictReader>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.check(start, 0)?;
        Ok(io::BufReader::with_capacity(
            HEADER_READ_BYTES,
            StrictReader {
                file: Arc::clone(&self.file),
                at: start,
                end: self.end,
            },
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.check(start, length)?;
        let mut bytes = vec![0; length];
        read_exact_at(&self.file, &mut bytes, start)?;
        Ok(Bytes::from(bytes))
    }
}

/// Bytes read through [`ChunkReader::get_read`] at a time: page headers, mostly.
const HEADER_READ_BYTES: usize = 8 * 1024;

/// Reads the file up to the row group's end and fails, rather than returning 0, there:
/// arrow-rs skips unknown page header fields by reading until it has skipped as many as the
/// header claims, and a corrupt header can claim billions.
struct StrictReader {
    file: Arc<File>,
    at: u64,
    end: u64,
}

impl Read for StrictReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        if buf.is_empty() {
            return Ok(0);
        }
        if left == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = buf.len().min(left);
        let n = match read_at(&self.file, &mut buf[..n], self.at)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => n,
        };
        self.at += n as u64;
        Ok(n)
    }
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A top-level field's shape, down to its leaf columns.
enum Node {
    /// A leaf column, by index into the table's columns.
    Leaf(usize),
    Struct(Vec<Node>),
    /// A list (also large, fixed-size) of its item; a map is a list of key-value structs.
    List(Box<Node>),
}

impl Node {
    /// Builds the tree of `field`, named `name`, adding its leaves to `columns`.
    fn build(field: &Field, name: String, columns: &mut Vec<ColumnInfo>) -> Node {
        match field.data_type() {
            DataType::Struct(fields) => Node::Struct(
                fields
                    .iter()
                    .map(|child| Node::build(child, format!("{name}.{}", child.name()), columns))
                    .collect(),
            ),
            DataType::List(item)
            | DataType::LargeList(item)
            | DataType::FixedSizeList(item, _)
            | DataType::Map(item, _) => {
                Node::List(Box::new(Node::build(item, format!("{name}[]"), columns)))
            }
            data_type => {
                columns.push(ColumnInfo {
                    name,
                    kind: kind(data_type),
                });
                Node::Leaf(columns.len() - 1)
            }
        }
    }

    /// Whether `wanted` says yes to a leaf column of this node.
    fn any_leaf(&self, wanted: &dyn Fn(usize) -> bool) -> bool {
        match self {
            Node::Leaf(column) => wanted(*column),
            Node::Struct(children) => children.iter().any(|child| child.any_leaf(wanted)),
            Node::List(item) => item.any_leaf(wanted),
        }
    }

    /// Visits the non-null, non-hidden values of `array`, which has this node's shape.
    fn visit(
        &self,
        array: &dyn Array,
        rows: Rows<'_>,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> Result<(), String> {
        match self {
            Node::Leaf(column) => {
                for_each_value(array, &mut |i, value| {
                    if let (Some(value), Some(row)) = (value, rows.get(i)) {
                        visit(row, *column, value);
                    }
                });
            }
            Node::Struct(children) => {
                let array = array.as_struct_opt().ok_or("expected a struct array")?;
                let masked = struct_rows(array, rows);
                let rows = masked.as_deref().map_or(rows, Rows::Mapped);
                for (child, column) in children.iter().zip(array.columns()) {
                    child.visit(column.as_ref(), rows, visit)?;
                }
            }
            Node::List(item) => {
                let (items, item_rows) = list_items(array, rows)?;
                item.visit(items.as_ref(), Rows::Mapped(&item_rows), visit)?;
            }
        }
        Ok(())
    }
}

/// Which row each element of an array belongs to.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Element `i` is row `base + i`.
    Direct(u64),
    /// Element `i` is row `rows[i]`, or none when that is [`HIDDEN`].
    Mapped(&'a [u64]),
}

impl Rows<'_> {
    fn get(self, i: usize) -> Option<u64> {
        match self {
            Rows::Direct(base) => Some(base + i as u64),
            Rows::Mapped(rows) => rows.get(i).copied().filter(|&row| row != HIDDEN),
        }
    }
}

/// The rows of a struct's children: its own, hiding its null slots (`None`: no nulls).
fn struct_rows(array: &StructArray, rows: Rows<'_>) -> Option<Vec<u64>> {
    (array.null_count() > 0).then(|| {
        (0..array.len())
            .map(|i| {
                if array.is_valid(i) {
                    rows.get(i).unwrap_or(HIDDEN)
                } else {
                    HIDDEN
                }
            })
            .collect()
    })
}

/// A list-like array's items and the row of each (hidden when outside any visible list).
fn list_items(array: &dyn Array, rows: Rows<'_>) -> Result<(ArrayRef, Vec<u64>), String> {
    fn offsets<O: OffsetSizeTrait>(offsets: &[O]) -> impl Iterator<Item = (usize, usize)> + '_ {
        offsets
            .windows(2)
            .map(|w| (w[0].as_usize(), w[1].as_usize()))
    }
    /// Items of a `List` (`i32` offsets) or `LargeList` (`i64` offsets).
    fn offset_list<O: OffsetSizeTrait>(
        array: &dyn Array,
        rows: Rows<'_>,
    ) -> Result<(ArrayRef, Vec<u64>), String> {
        let list = array.as_list::<O>();
        let rows = spread(
            list,
            list.values().len(),
            offsets(list.value_offsets()),
            rows,
        )?;
        Ok((Arc::clone(list.values()), rows))
    }
    match array.data_type() {
        DataType::List(_) => offset_list::<i32>(array, rows),
        DataType::LargeList(_) => offset_list::<i64>(array, rows),
        DataType::FixedSizeList(_, _) => {
            let list = array.as_fixed_size_list();
            let size = list.value_length().max(0) as usize;
            let ranges = (0..list.len()).map(|i| {
                let start = list.value_offset_at(i);
                (start, start + size)
            });
            let rows = spread(list, list.values().len(), ranges, rows)?;
            Ok((Arc::clone(list.values()), rows))
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let rows = spread(map, map.entries().len(), offsets(map.value_offsets()), rows)?;
            Ok((Arc::new(map.entries().clone()), rows))
        }
        other => Err(format!("expected a list array, found {other}")),
    }
}

/// Gives each item the row of the visible, non-null list slot whose `ranges` hold it.
fn spread(
    list: &dyn Array,
    items: usize,
    ranges: impl Iterator<Item = (usize, usize)>,
    rows: Rows<'_>,
) -> Result<Vec<u64>, String> {
    let mut item_rows = vec![HIDDEN; items];
    for (i, (start, end)) in ranges.enumerate() {
        if let Some(row) = rows.get(i).filter(|_| list.is_valid(i)) {
            item_rows
                .get_mut(start..end)
                .ok_or("list offsets point past the list's items")?
                .fill(row);
        }
    }
    Ok(item_rows)
}

/// What a rewrite does to one field, decided once for the whole file.
enum Plan {
    /// Copy the array as it is.
    Keep,
    /// Rewrite the leaf column into an array of type `target`.
    Leaf { column: usize, target: DataType },
    /// Rebuild the struct (with these output fields) around its rewritten children.
    Struct { fields: Fields, children: Vec<Plan> },
    /// Rebuild the list (with this output item field) around its rewritten items.
    List { item: FieldRef, plan: Box<Plan> },
}

/// Plans the rewrite of `field` and returns the field as it will be written, recording the
/// leaf columns whose type changes.
fn plan(
    node: &Node,
    field: &FieldRef,
    rewriter: &dyn CellRewriter,
    columns: &[ColumnInfo],
    changes: &mut Vec<TypeChange>,
) -> (Plan, FieldRef) {
    let keep = || (Plan::Keep, Arc::clone(field));
    match (node, field.data_type()) {
        (Node::Leaf(column), data_type) => {
            let column = *column;
            let Some(target) = rewriter
                .touches(column)
                .then(|| rewrite_target(data_type))
                .flatten()
            else {
                return keep();
            };
            if &target == data_type {
                return (Plan::Leaf { column, target }, Arc::clone(field));
            }
            changes.push(TypeChange {
                column: columns[column].name.clone(),
                from: data_type.to_string(),
                to: target.to_string(),
            });
            // An extension type no longer describes the new values.
            let mut metadata = field.metadata().clone();
            metadata.retain(|key, _| !key.starts_with("ARROW:extension:"));
            let out = Field::new(field.name(), target.clone(), field.is_nullable())
                .with_metadata(metadata);
            (Plan::Leaf { column, target }, Arc::new(out))
        }
        (Node::Struct(children), DataType::Struct(fields)) => {
            let (plans, out): (Vec<Plan>, Vec<FieldRef>) = children
                .iter()
                .zip(fields.iter())
                .map(|(child, field)| plan(child, field, rewriter, columns, changes))
                .unzip();
            if plans.iter().all(|plan| matches!(plan, Plan::Keep)) {
                return keep();
            }
            let out = Fields::from(out);
            let field = field
                .as_ref()
                .clone()
                .with_data_type(DataType::Struct(out.clone()));
            (
                Plan::Struct {
                    fields: out,
                    children: plans,
                },
                Arc::new(field),
            )
        }
        (Node::List(item), data_type) => {
            let Some(item_field) = list_item(data_type) else {
                return keep();
            };
            let (item_plan, item_field) = plan(item, item_field, rewriter, columns, changes);
            if matches!(item_plan, Plan::Keep) {
                return keep();
            }
            let data_type = match data_type {
                DataType::LargeList(_) => DataType::LargeList(Arc::clone(&item_field)),
                DataType::FixedSizeList(_, size) => {
                    DataType::FixedSizeList(Arc::clone(&item_field), *size)
                }
                DataType::Map(_, sorted) => DataType::Map(Arc::clone(&item_field), *sorted),
                _ => DataType::List(Arc::clone(&item_field)),
            };
            let field = field.as_ref().clone().with_data_type(data_type);
            (
                Plan::List {
                    item: item_field,
                    plan: Box::new(item_plan),
                },
                Arc::new(field),
            )
        }
        _ => keep(),
    }
}

/// The item field of a list-like type.
fn list_item(data_type: &DataType) -> Option<&FieldRef> {
    match data_type {
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => Some(item),
        _ => None,
    }
}

/// Applies a [`Plan`] to arrays, counting the cells the rewriter changes.
struct Rewrite<'a> {
    rewriter: &'a dyn CellRewriter,
    columns: &'a [ColumnInfo],
    changed: u64,
    /// The subject of each row of the current batch (empty without a subject column).
    subjects: Vec<Option<Vec<u8>>>,
}

impl Rewrite<'_> {
    fn array(&mut self, plan: &Plan, array: &ArrayRef, rows: Rows<'_>) -> Result<ArrayRef, String> {
        match plan {
            Plan::Keep => Ok(Arc::clone(array)),
            Plan::Leaf { column, target } => self.leaf(*column, target, array, rows),
            Plan::Struct { fields, children } => {
                let array = array.as_struct_opt().ok_or("expected a struct array")?;
                let masked = struct_rows(array, rows);
                let rows = masked.as_deref().map_or(rows, Rows::Mapped);
                let columns = children
                    .iter()
                    .zip(array.columns())
                    .map(|(plan, column)| self.array(plan, column, rows))
                    .collect::<Result<Vec<_>, _>>()?;
                let array = StructArray::try_new(fields.clone(), columns, array.nulls().cloned())
                    .map_err(|e| e.to_string())?;
                Ok(Arc::new(array))
            }
            Plan::List { item, plan } => {
                let (items, item_rows) = list_items(array.as_ref(), rows)?;
                let items = self.array(plan, &items, Rows::Mapped(&item_rows))?;
                rebuild_list(array.as_ref(), Arc::clone(item), items).map_err(|e| e.to_string())
            }
        }
    }

    /// Rewrites the visible values of a leaf into an array of type `target`; hidden values
    /// are carried over as they are, nulls stay null.
    fn leaf(
        &mut self,
        column: usize,
        target: &DataType,
        array: &ArrayRef,
        rows: Rows<'_>,
    ) -> Result<ArrayRef, String> {
        let name = &self.columns[column].name;
        let mut out = OutColumn::new(target, array.len())
            .ok_or_else(|| format!("column \"{name}\": cannot rewrite into {target}"))?;
        let rewriter = self.rewriter;
        let mut new = Vec::new();
        let mut changed = 0u64;
        let mut failed = None;
        let rendered = for_each_value(array.as_ref(), &mut |i, value| {
            if failed.is_some() {
                return;
            }
            let value = match (value, rows.get(i)) {
                (Some(value), Some(row)) if !value.is_empty() => {
                    let subject = self.subjects.get(row as usize).and_then(Option::as_deref);
                    new.clear();
                    if rewriter.rewrite(column, value, subject, &mut new) {
                        changed += 1;
                        Some(new.as_slice())
                    } else {
                        Some(value)
                    }
                }
                (value, _) => value,
            };
            if let Err(e) = out.append(value) {
                failed = Some(e);
            }
        });
        if !rendered {
            return Err(format!(
                "column \"{name}\": {} has no text form",
                array.data_type()
            ));
        }
        if let Some(e) = failed {
            return Err(format!("column \"{name}\": {e}"));
        }
        self.changed += changed;
        if changed == 0 && target == array.data_type() {
            return Ok(Arc::clone(array));
        }
        out.finish().map_err(|e| format!("column \"{name}\": {e}"))
    }
}

/// Rewrites one Arrow array as [`ParquetTable::rewrite`] rewrites a leaf column: every
/// non-empty value goes through `rewriter` as a cell of column `column` (with no subject),
/// nulls stay null, and a typed array becomes a string array under the type-change rule.
/// For library callers that hold Arrow data rather than a file.
///
/// # Errors
/// When the array's type has no text form, or a rewritten string value is not UTF-8.
pub fn rewrite_array(
    array: &ArrayRef,
    column: usize,
    rewriter: &dyn CellRewriter,
) -> Result<ArrayRef, String> {
    let Some(target) = rewrite_target(array.data_type()) else {
        return Err(format!("{} has no text form", array.data_type()));
    };
    // Errors name the column by its position.
    let columns: Vec<ColumnInfo> = (0..=column)
        .map(|i| ColumnInfo {
            name: format!("#{i}"),
            kind: ColumnKind::Text,
        })
        .collect();
    let mut rewrite = Rewrite {
        rewriter,
        columns: &columns,
        changed: 0,
        subjects: Vec::new(),
    };
    rewrite.leaf(column, &target, array, Rows::Direct(0))
}

/// Rebuilds a list-like array around new items, keeping its offsets and nulls.
fn rebuild_list(
    array: &dyn Array,
    item: FieldRef,
    items: ArrayRef,
) -> Result<ArrayRef, arrow_schema::ArrowError> {
    Ok(match array.data_type() {
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            Arc::new(GenericListArray::<i64>::try_new(
                item,
                list.offsets().clone(),
                items,
                list.nulls().cloned(),
            )?)
        }
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            Arc::new(FixedSizeListArray::try_new(
                item,
                *size,
                items,
                list.nulls().cloned(),
            )?)
        }
        DataType::Map(_, sorted) => {
            let map = array.as_map();
            let entries = items
                .as_struct_opt()
                .ok_or_else(|| {
                    arrow_schema::ArrowError::SchemaError("map entries must be a struct".into())
                })?
                .clone();
            Arc::new(MapArray::try_new(
                item,
                map.offsets().clone(),
                entries,
                map.nulls().cloned(),
                *sorted,
            )?)
        }
        _ => {
            let list = array.as_list_opt::<i32>().ok_or_else(|| {
                arrow_schema::ArrowError::SchemaError(format!(
                    "expected a list, found {}",
                    array.data_type()
                ))
            })?;
            Arc::new(GenericListArray::<i32>::try_new(
                item,
                list.offsets().clone(),
                items,
                list.nulls().cloned(),
            )?)
        }
    })
}

/// A rewritten leaf being built: bytes collected as binary, checked as UTF-8 once at the end
/// when the column is a string column.
struct OutColumn {
    values: OutValues,
    text: bool,
}

enum OutValues {
    Small(GenericBinaryBuilder<i32>),
    Large(GenericBinaryBuilder<i64>),
    View(BinaryViewBuilder),
}

impl OutColumn {
    fn new(target: &DataType, len: usize) -> Option<OutColumn> {
        let small = || OutValues::Small(GenericBinaryBuilder::with_capacity(len, len * 8));
        let large = || OutValues::Large(GenericBinaryBuilder::with_capacity(len, len * 8));
        let view = || OutValues::View(BinaryViewBuilder::with_capacity(len));
        let (values, text) = match target {
            DataType::Utf8 => (small(), true),
            DataType::LargeUtf8 => (large(), true),
            DataType::Utf8View => (view(), true),
            DataType::Binary => (small(), false),
            DataType::LargeBinary => (large(), false),
            DataType::BinaryView => (view(), false),
            _ => return None,
        };
        Some(OutColumn { values, text })
    }

    fn append(&mut self, value: Option<&[u8]>) -> Result<(), &'static str> {
        const TOO_LARGE: &str = "the rewritten values overflow the column's offsets";
        match (&mut self.values, value) {
            (OutValues::Small(b), None) => b.append_null(),
            (OutValues::Large(b), None) => b.append_null(),
            (OutValues::View(b), None) => b.append_null(),
            (OutValues::Small(b), Some(v)) => {
                if b.values_slice().len() + v.len() > i32::MAX as usize {
                    return Err(TOO_LARGE);
                }
                b.append_value(v);
            }
            (OutValues::Large(b), Some(v)) => b.append_value(v),
            (OutValues::View(b), Some(v)) => {
                if v.len() > i32::MAX as usize {
                    return Err(TOO_LARGE);
                }
                b.append_value(v);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, &'static str> {
        const NOT_UTF8: &str = "the rewriter wrote a value that is not valid UTF-8";
        Ok(match (self.values, self.text) {
            (OutValues::Small(mut b), true) => Arc::new(
                GenericStringArray::<i32>::try_from_binary(b.finish()).map_err(|_| NOT_UTF8)?,
            ),
            (OutValues::Large(mut b), true) => Arc::new(
                GenericStringArray::<i64>::try_from_binary(b.finish()).map_err(|_| NOT_UTF8)?,
            ),
            (OutValues::View(mut b), true) => {
                Arc::new(b.finish().to_string_view().map_err(|_| NOT_UTF8)?)
            }
            (OutValues::Small(mut b), false) => Arc::new(b.finish()),
            (OutValues::Large(mut b), false) => Arc::new(b.finish()),
            (OutValues::View(mut b), false) => Arc::new(b.finish()),
        })
    }
}

/// The kind of a leaf of this Arrow type.
fn kind(data_type: &DataType) -> ColumnKind {
    use DataType as T;
    match data_type {
        T::Utf8 | T::LargeUtf8 | T::Utf8View => ColumnKind::Text,
        T::Binary | T::LargeBinary | T::BinaryView | T::FixedSizeBinary(_) => ColumnKind::Binary,
        T::Date32 | T::Date64 => ColumnKind::Date,
        T::Timestamp(_, _) => ColumnKind::Timestamp,
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => {
            ColumnKind::Integer
        }
        T::Float16
        | T::Float32
        | T::Float64
        | T::Decimal32(_, _)
        | T::Decimal64(_, _)
        | T::Decimal128(_, _)
        | T::Decimal256(_, _) => ColumnKind::Float,
        T::Boolean => ColumnKind::Boolean,
        T::Dictionary(_, values) => kind(values),
        _ => ColumnKind::Other,
    }
}

/// Whether [`for_each_value`] renders values of this type.
fn renderable(data_type: &DataType) -> bool {
    use DataType as T;
    match data_type {
        T::Time32(unit) => matches!(unit, TimeUnit::Second | TimeUnit::Millisecond),
        T::Time64(unit) => matches!(unit, TimeUnit::Microsecond | TimeUnit::Nanosecond),
        T::Duration(_) => true,
        T::Dictionary(_, values) => renderable(values),
        other => kind(other) != ColumnKind::Other,
    }
}

/// The type a touched leaf of this type is rewritten into, `None` when it cannot be.
fn rewrite_target(data_type: &DataType) -> Option<DataType> {
    use DataType as T;
    match data_type {
        T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Binary | T::LargeBinary | T::BinaryView => {
            Some(data_type.clone())
        }
        T::FixedSizeBinary(_) => Some(T::Binary),
        T::Dictionary(_, values) => rewrite_target(values),
        other => renderable(other).then_some(T::Utf8),
    }
}

/// Calls `f(i, value)` for each element of `array` in order: strings and binary borrowed as
/// they are, anything else rendered as text, `None` for nulls. Returns `false`, calling
/// nothing, when the type has no text form (see [`renderable`]).
fn for_each_value(array: &dyn Array, f: &mut dyn FnMut(usize, Option<&[u8]>)) -> bool {
    use DataType as T;
    match array.data_type() {
        T::Utf8 => borrowed(array.as_string::<i32>(), f),
        T::LargeUtf8 => borrowed(array.as_string::<i64>(), f),
        T::Utf8View => borrowed(array.as_string_view(), f),
        T::Binary => borrowed(array.as_binary::<i32>(), f),
        T::LargeBinary => borrowed(array.as_binary::<i64>(), f),
        T::BinaryView => borrowed(array.as_binary_view(), f),
        T::FixedSizeBinary(_) => borrowed(array.as_fixed_size_binary(), f),
        T::Boolean => {
            let array = array.as_boolean();
            for i in 0..array.len() {
                let value = array
                    .is_valid(i)
                    .then(|| if array.value(i) { "true" } else { "false" });
                f(i, value.map(str::as_bytes));
            }
        }
        T::Int8 => display::<Int8Type>(array, f),
        T::Int16 => display::<Int16Type>(array, f),
        T::Int32 => display::<Int32Type>(array, f),
        T::Int64 => display::<Int64Type>(array, f),
        T::UInt8 => display::<UInt8Type>(array, f),
        T::UInt16 => display::<UInt16Type>(array, f),
        T::UInt32 => display::<UInt32Type>(array, f),
        T::UInt64 => display::<UInt64Type>(array, f),
        T::Float16 => display::<Float16Type>(array, f),
        T::Float32 => display::<Float32Type>(array, f),
        T::Float64 => display::<Float64Type>(array, f),
        T::Decimal32(precision, scale) => decimal::<Decimal32Type>(array, *precision, *scale, f),
        T::Decimal64(precision, scale) => decimal::<Decimal64Type>(array, *precision, *scale, f),
        T::Decimal128(precision, scale) => decimal::<Decimal128Type>(array, *precision, *scale, f),
        T::Decimal256(precision, scale) => decimal::<Decimal256Type>(array, *precision, *scale, f),
        T::Date32 => text::<Date32Type>(array, f, |days, out| push_date(out, i64::from(days))),
        T::Date64 => text::<Date64Type>(array, f, |ms, out| {
            push_date(out, ms.div_euclid(MS_PER_DAY))
        }),
        T::Timestamp(unit, zone) => {
            let utc = zone.is_some();
            let stamp =
                move |v: i64, out: &mut String| push_timestamp(out, v, per_second(unit), utc);
            match unit {
                TimeUnit::Second => text::<TimestampSecondType>(array, f, stamp),
                TimeUnit::Millisecond => text::<TimestampMillisecondType>(array, f, stamp),
                TimeUnit::Microsecond => text::<TimestampMicrosecondType>(array, f, stamp),
                TimeUnit::Nanosecond => text::<TimestampNanosecondType>(array, f, stamp),
            }
        }
        T::Time32(TimeUnit::Second) => {
            text::<Time32SecondType>(array, f, |v, out| push_time(out, i64::from(v), 1))
        }
        T::Time32(TimeUnit::Millisecond) => {
            text::<Time32MillisecondType>(array, f, |v, out| push_time(out, i64::from(v), 1_000))
        }
        T::Time64(TimeUnit::Microsecond) => {
            text::<Time64MicrosecondType>(array, f, |v, out| push_time(out, v, 1_000_000))
        }
        T::Time64(TimeUnit::Nanosecond) => {
            text::<Time64NanosecondType>(array, f, |v, out| push_time(out, v, NANOS_PER_SECOND))
        }
        T::Duration(unit) => {
            let duration = move |v: i64, out: &mut String| push_duration(out, v, per_second(unit));
            match unit {
                TimeUnit::Second => text::<DurationSecondType>(array, f, duration),
                TimeUnit::Millisecond => text::<DurationMillisecondType>(array, f, duration),
                TimeUnit::Microsecond => text::<DurationMicrosecondType>(array, f, duration),
                TimeUnit::Nanosecond => text::<DurationNanosecondType>(array, f, duration),
            }
        }
        T::Dictionary(_, _) => return dictionary(array, f),
        _ => return false,
    }
    true
}

fn borrowed<A: ArrayAccessor>(array: A, f: &mut dyn FnMut(usize, Option<&[u8]>))
where
    A::Item: AsRef<[u8]>,
{
    for i in 0..array.len() {
        if array.is_null(i) {
            f(i, None);
        } else {
            f(i, Some(array.value(i).as_ref()));
        }
    }
}

/// Renders each value of a primitive array with `render` into one reused buffer.
fn text<T: ArrowPrimitiveType>(
    array: &dyn Array,
    f: &mut dyn FnMut(usize, Option<&[u8]>),
    render: impl Fn(T::Native, &mut String),
) {
    let array = array.as_primitive::<T>();
    let mut buf = String::new();
    for i in 0..array.len() {
        if array.is_null(i) {
            f(i, None);
        } else {
            buf.clear();
            render(array.value(i), &mut buf);
            f(i, Some(buf.as_bytes()));
        }
    }
}

fn display<T: ArrowPrimitiveType>(array: &dyn Array, f: &mut dyn FnMut(usize, Option<&[u8]>))
where
    T::Native: Display,
{
    text::<T>(array, f, |v, out| {
        let _ = write!(out, "{v}");
    });
}

fn decimal<T: DecimalType>(
    array: &dyn Array,
    precision: u8,
    scale: i8,
    f: &mut dyn FnMut(usize, Option<&[u8]>),
) {
    text::<T>(array, f, |v, out| {
        out.push_str(&T::format_decimal(v, precision, scale))
    });
}

/// Renders a dictionary array's values: string and binary values borrowed, others rendered
/// once per dictionary entry.
fn dictionary(array: &dyn Array, f: &mut dyn FnMut(usize, Option<&[u8]>)) -> bool {
    use DataType as T;
    let dictionary = array.as_any_dictionary();
    let values = dictionary.values();
    if values.is_empty() {
        // Every key is null (`normalized_keys` would panic).
        let rendered = renderable(values.data_type());
        if rendered {
            (0..array.len()).for_each(|i| f(i, None));
        }
        return rendered;
    }
    let keys = dictionary.normalized_keys();
    match values.data_type() {
        T::Utf8 => lookup(array, &keys, values.as_string::<i32>(), f),
        T::LargeUtf8 => lookup(array, &keys, values.as_string::<i64>(), f),
        T::Utf8View => lookup(array, &keys, values.as_string_view(), f),
        T::Binary => lookup(array, &keys, values.as_binary::<i32>(), f),
        T::LargeBinary => lookup(array, &keys, values.as_binary::<i64>(), f),
        T::BinaryView => lookup(array, &keys, values.as_binary_view(), f),
        T::FixedSizeBinary(_) => lookup(array, &keys, values.as_fixed_size_binary(), f),
        _ => {
            let mut rendered_values = Vec::new();
            let mut spans = vec![None; values.len()];
            let rendered = for_each_value(values.as_ref(), &mut |j, value| {
                if let (Some(value), Some(span)) = (value, spans.get_mut(j)) {
                    let start = rendered_values.len();
                    rendered_values.extend_from_slice(value);
                    *span = Some(start..rendered_values.len());
                }
            });
            if !rendered {
                return false;
            }
            for (i, &key) in keys.iter().enumerate() {
                let span = spans
                    .get(key)
                    .cloned()
                    .flatten()
                    .filter(|_| array.is_valid(i));
                f(i, span.and_then(|span| rendered_values.get(span)));
            }
        }
    }
    true
}

fn lookup<A: ArrayAccessor>(
    array: &dyn Array,
    keys: &[usize],
    values: A,
    f: &mut dyn FnMut(usize, Option<&[u8]>),
) where
    A::Item: AsRef<[u8]>,
{
    for (i, &key) in keys.iter().enumerate() {
        if array.is_valid(i) && key < values.len() && values.is_valid(key) {
            f(i, Some(values.value(key).as_ref()));
        } else {
            f(i, None);
        }
    }
}

fn per_second(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => NANOS_PER_SECOND,
    }
}

/// Splits a count of `1 / per_second` seconds into whole seconds and nanoseconds.
fn split_seconds(value: i64, per_second: i64) -> (i64, i64) {
    let nanos = value.rem_euclid(per_second) * (NANOS_PER_SECOND / per_second);
    (value.div_euclid(per_second), nanos)
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`).
fn push_date(out: &mut String, days: i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let sign = if year < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{:04}-{month:02}-{day:02}", year.unsigned_abs());
}

/// `HH:MM:SS` and a fraction without trailing zeros, when there is one.
fn push_clock(out: &mut String, seconds_of_day: i64, nanos: i64) {
    let (h, m, s) = (
        seconds_of_day / 3_600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
    );
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    push_fraction(out, nanos);
}

fn push_fraction(out: &mut String, nanos: i64) {
    if nanos != 0 {
        let _ = write!(out, ".{nanos:09}");
        let len = out.trim_end_matches('0').len();
        out.truncate(len);
    }
}

/// RFC 3339, in UTC: with `Z` when the column has a time zone, without when it has none.
fn push_timestamp(out: &mut String, value: i64, per_second: i64, utc: bool) {
    let (seconds, nanos) = split_seconds(value, per_second);
    push_date(out, seconds.div_euclid(SECONDS_PER_DAY));
    out.push('T');
    push_clock(out, seconds.rem_euclid(SECONDS_PER_DAY), nanos);
    if utc {
        out.push('Z');
    }
}

fn push_time(out: &mut String, value: i64, per_second: i64) {
    let (seconds, nanos) = split_seconds(value, per_second);
    push_clock(out, seconds, nanos);
}

/// ISO 8601 in seconds: `PT90S`, `-PT1.5S`.
fn push_duration(out: &mut String, value: i64, per_second: i64) {
    let (magnitude, per_second) = (value.unsigned_abs(), per_second.unsigned_abs());
    let sign = if value < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}PT{}", magnitude / per_second);
    let nanos = magnitude % per_second * (NANOS_PER_SECOND.unsigned_abs() / per_second);
    push_fraction(out, nanos as i64);
    out.push('S');
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrow_array::builder::{
        Date32Builder, Int32Builder, ListBuilder, MapBuilder, StringBuilder,
        StringDictionaryBuilder, StructBuilder,
    };
    use arrow_array::{
        BinaryArray, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
        TimestampMillisecondArray, new_null_array,
    };
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    const NAMES: [Option<&str>; 7] = [
        Some("Ann"),
        None,
        Some("Bob"),
        Some("Cy"),
        Some(""),
        Some("Ed"),
        Some("Flo"),
    ];
    /// 2021-01-14 in days since 1970-01-01.
    const JAN_14_2021: i32 = 18_641;
    /// 2021-01-14T19:16:33Z in seconds.
    const STAMP: i64 = 1_610_651_793;

    /// Seven rows of every shape the module handles, in row groups of `group_rows` rows.
    fn fixture_batch() -> RecordBatch {
        let name = StringArray::from(NAMES.to_vec());
        let mut city = StringDictionaryBuilder::<Int32Type>::new();
        for c in [
            Some("Oslo"),
            Some("Rome"),
            Some("Oslo"),
            None,
            Some("Rome"),
            Some("Oslo"),
            Some("Nice"),
        ] {
            city.append_option(c);
        }
        let id = Int64Array::from_iter_values(101..108);
        let dob = Date32Array::from_iter_values((0..7).map(|i| JAN_14_2021 + i));
        let seen =
            TimestampMillisecondArray::from_iter_values((0..7).map(|i| STAMP * 1_000 + i * 250))
                .with_timezone("UTC");
        let local =
            TimestampMicrosecondArray::from_iter_values((0..7).map(|i| STAMP * 1_000_000 + i));
        let raw = BinaryArray::from_iter_values((0..7u8).map(|i| vec![0xff, i]));

        let contact_fields = Fields::from(vec![
            Field::new("phone", DataType::Utf8, true),
            Field::new("zip", DataType::Int32, true),
        ]);
        let mut contact = StructBuilder::from_fields(contact_fields, 7);
        for i in 0..7 {
            let present = i != 2;
            contact
                .field_builder::<StringBuilder>(0)
                .expect("phone")
                .append_option(present.then(|| format!("555-010{i}")));
            contact
                .field_builder::<Int32Builder>(1)
                .expect("zip")
                .append_option(present.then_some(2_000 + i));
            contact.append(present);
        }

        let mut phones = ListBuilder::new(StringBuilder::new());
        for i in 0..7 {
            match i {
                1 => phones.append(false),
                2 => phones.append(true),
                _ => {
                    phones.values().append_value(format!("p{i}a"));
                    phones.values().append_value(format!("p{i}b"));
                    phones.append(true);
                }
            }
        }

        let visit_fields = Fields::from(vec![
            Field::new("date", DataType::Date32, true),
            Field::new("note", DataType::Utf8, true),
        ]);
        let mut visits = ListBuilder::new(StructBuilder::from_fields(visit_fields, 0));
        for i in 0..7 {
            for j in 0..(i % 3) {
                let item = visits.values();
                item.field_builder::<Date32Builder>(0)
                    .expect("date")
                    .append_value(JAN_14_2021 - j);
                item.field_builder::<StringBuilder>(1)
                    .expect("note")
                    .append_value(format!("n{i}{j}"));
                item.append(true);
            }
            visits.append(true);
        }

        let mut attributes = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for i in 0..7 {
            attributes.keys().append_value("mrn");
            attributes.values().append_value(format!("M{i}"));
            attributes.append(true).expect("map entry");
        }

        RecordBatch::try_from_iter_with_nullable(vec![
            ("name", Arc::new(name) as ArrayRef, true),
            ("city", Arc::new(city.finish()), true),
            ("id", Arc::new(id), false),
            ("dob", Arc::new(dob), true),
            ("seen", Arc::new(seen), true),
            ("local", Arc::new(local), true),
            ("raw", Arc::new(raw), true),
            ("contact", Arc::new(contact.finish()), true),
            ("phones", Arc::new(phones.finish()), true),
            ("visits", Arc::new(visits.finish()), true),
            ("attributes", Arc::new(attributes.finish()), true),
        ])
        .expect("fixture batch")
    }

    fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize, codec: Compression) {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .set_compression(codec)
            .build();
        let file = File::create(path).expect("create fixture");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
        writer.write(batch).expect("write");
        writer.close().expect("close");
    }

    fn fixture(dir: &Path, group_rows: usize) -> PathBuf {
        let path = dir.join(format!("fixture-{group_rows}.parquet"));
        write_parquet(
            &path,
            &fixture_batch(),
            group_rows,
            Compression::ZSTD(Default::default()),
        );
        path
    }

    fn column(table: &ParquetTable, name: &str) -> usize {
        table
            .columns()
            .iter()
            .position(|c| c.name == name)
            .expect(name)
    }

    /// Every visit of a part, as (row, column name, value).
    fn visits(table: &ParquetTable, part: usize) -> Vec<(u64, String, String)> {
        let mut seen = Vec::new();
        let rows = table
            .visit_part(part, &mut |row, col, value| {
                seen.push((
                    row,
                    table.columns()[col].name.clone(),
                    String::from_utf8_lossy(value).into_owned(),
                ))
            })
            .expect("visit");
        assert_eq!(rows, table.part_rows[part]);
        seen
    }

    fn values_of(seen: &[(u64, String, String)], name: &str) -> Vec<(u64, String)> {
        seen.iter()
            .filter(|(_, n, _)| n == name)
            .map(|(r, _, v)| (*r, v.clone()))
            .collect()
    }

    fn read_back(bytes: Vec<u8>) -> (Vec<usize>, RecordBatch) {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).expect("output footer");
        let groups = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows() as usize)
            .collect();
        let batches: Vec<RecordBatch> = reader
            .with_batch_size(1_000)
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
        assert!(batches.len() <= 1);
        let batch = batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(fixture_batch().schema()));
        (groups, batch)
    }

    #[test]
    fn lists_leaf_columns_rows_and_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let columns: Vec<(&str, ColumnKind)> = table
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.kind))
            .collect();
        assert_eq!(
            columns,
            [
                ("name", ColumnKind::Text),
                ("city", ColumnKind::Text),
                ("id", ColumnKind::Integer),
                ("dob", ColumnKind::Date),
                ("seen", ColumnKind::Timestamp),
                ("local", ColumnKind::Timestamp),
                ("raw", ColumnKind::Binary),
                ("contact.phone", ColumnKind::Text),
                ("contact.zip", ColumnKind::Integer),
                ("phones[]", ColumnKind::Text),
                ("visits[].date", ColumnKind::Date),
                ("visits[].note", ColumnKind::Text),
                ("attributes[].key", ColumnKind::Text),
                ("attributes[].value", ColumnKind::Text),
            ]
        );
        assert_eq!(table.rows(), 7);
        assert_eq!(table.parts(), 3);
    }

    #[test]
    fn visits_rendered_values_with_part_relative_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        // The second row group holds rows 3, 4 and 5.
        let seen = visits(&table, 1);
        let v = |name: &str| values_of(&seen, name);
        let owned = |pairs: &[(u64, &str)]| {
            pairs
                .iter()
                .map(|(r, s)| (*r, s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(v("name"), owned(&[(0, "Cy"), (1, ""), (2, "Ed")]));
        assert_eq!(v("city"), owned(&[(1, "Rome"), (2, "Oslo")]));
        assert_eq!(v("id"), owned(&[(0, "104"), (1, "105"), (2, "106")]));
        assert_eq!(
            v("dob"),
            owned(&[(0, "2021-01-17"), (1, "2021-01-18"), (2, "2021-01-19")])
        );
        assert_eq!(
            v("seen"),
            owned(&[
                (0, "2021-01-14T19:16:33.75Z"),
                (1, "2021-01-14T19:16:34Z"),
                (2, "2021-01-14T19:16:34.25Z")
            ])
        );
        assert_eq!(v("local")[0], (0, "2021-01-14T19:16:33.000003".to_string()));
        assert_eq!(v("raw")[0].0, 0);
        assert_eq!(
            v("contact.phone"),
            owned(&[(0, "555-0103"), (1, "555-0104"), (2, "555-0105")])
        );
        assert_eq!(
            v("phones[]"),
            owned(&[
                (0, "p3a"),
                (0, "p3b"),
                (1, "p4a"),
                (1, "p4b"),
                (2, "p5a"),
                (2, "p5b")
            ])
        );
        assert_eq!(
            v("visits[].date"),
            owned(&[(1, "2021-01-14"), (2, "2021-01-14"), (2, "2021-01-13")])
        );
        assert_eq!(
            v("visits[].note"),
            owned(&[(1, "n40"), (2, "n50"), (2, "n51")])
        );
        assert_eq!(
            v("attributes[].value"),
            owned(&[(0, "M3"), (1, "M4"), (2, "M5")])
        );

        // The first row group: a null name, a null struct and a null and an empty list.
        let seen = visits(&table, 0);
        assert_eq!(values_of(&seen, "name").len(), 2);
        assert_eq!(
            values_of(&seen, "contact.phone")
                .iter()
                .map(|(r, _)| *r)
                .collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            values_of(&seen, "phones[]")
                .iter()
                .map(|(r, _)| *r)
                .collect::<Vec<_>>(),
            [0, 0]
        );
        assert_eq!(
            visits(&table, 2).iter().filter(|(r, _, _)| *r != 0).count(),
            0
        );
        assert!(table.visit_part(3, &mut |_, _, _| {}).is_err());
    }

    #[test]
    fn values_under_null_structs_and_lists_are_hidden() {
        // In memory, a null struct slot or list slot may still cover non-null child values.
        let mut columns = Vec::new();
        let field = Field::new(
            "s",
            DataType::Struct(Fields::from(vec![Field::new("a", DataType::Utf8, true)])),
            true,
        );
        let node = Node::build(&field, "s".into(), &mut columns);
        let child: ArrayRef = Arc::new(StringArray::from(vec!["x", "hidden", "z"]));
        let nulls = vec![true, false, true].into();
        let array = StructArray::try_new(
            Fields::from(vec![Field::new("a", DataType::Utf8, true)]),
            vec![child],
            Some(nulls),
        )
        .expect("struct");
        let mut seen = Vec::new();
        node.visit(&array, Rows::Direct(10), &mut |row, col, v| {
            seen.push((row, col, v.to_vec()))
        })
        .expect("visit");
        assert_eq!(seen, [(10, 0, b"x".to_vec()), (12, 0, b"z".to_vec())]);

        let mut builder = ListBuilder::new(StringBuilder::new());
        for item in ["a", "hidden", "c"] {
            builder.values().append_value(item);
            builder.append(true);
        }
        let valid = builder.finish();
        let (item, offsets, values, _) = valid.into_parts();
        let list = GenericListArray::<i32>::try_new(
            item,
            offsets,
            values,
            Some(vec![true, false, true].into()),
        )
        .expect("list");
        let field = Field::new_list("l", Field::new_list_field(DataType::Utf8, true), true);
        let node = Node::build(&field, "l".into(), &mut columns);
        let mut seen = Vec::new();
        node.visit(&list, Rows::Direct(0), &mut |row, col, v| {
            seen.push((row, col, v.to_vec()))
        })
        .expect("visit");
        assert_eq!(seen, [(0, 1, b"a".to_vec()), (2, 1, b"c".to_vec())]);

        // Rewriting skips hidden values but keeps them in place.
        let plan = Plan::List {
            item: Arc::new(Field::new_list_field(DataType::Utf8, true)),
            plan: Box::new(Plan::Leaf {
                column: 1,
                target: DataType::Utf8,
            }),
        };
        let mut rewrite = Rewrite {
            rewriter: &Shout(vec![1]),
            columns: &columns,
            changed: 0,
            subjects: Vec::new(),
        };
        let list: ArrayRef = Arc::new(list);
        let out = rewrite
            .array(&plan, &list, Rows::Direct(0))
            .expect("rewrite");
        assert_eq!(rewrite.changed, 2);
        assert_eq!(
            strings(out.as_list::<i32>().values()),
            [Some("A"), Some("hidden"), Some("C")].map(|v| v.map(String::from))
        );
        assert!(out.is_null(1));
    }

    #[test]
    fn renders_dates_times_and_durations() {
        let render = |f: &dyn Fn(&mut String)| {
            let mut out = String::new();
            f(&mut out);
            out
        };
        assert_eq!(render(&|o| push_date(o, 0)), "1970-01-01");
        assert_eq!(render(&|o| push_date(o, -1)), "1969-12-31");
        assert_eq!(render(&|o| push_date(o, 11_016)), "2000-02-29");
        assert_eq!(render(&|o| push_date(o, -719_528)), "0000-01-01");
        assert_eq!(render(&|o| push_date(o, -719_529)), "-0001-12-31");
        assert_eq!(
            render(&|o| push_timestamp(o, STAMP, 1, true)),
            "2021-01-14T19:16:33Z"
        );
        assert_eq!(
            render(&|o| push_timestamp(o, -1, 1_000, false)),
            "1969-12-31T23:59:59.999"
        );
        assert_eq!(
            render(&|o| push_timestamp(o, i64::MIN, NANOS_PER_SECOND, true)),
            "1677-09-21T00:12:43.145224192Z"
        );
        assert_eq!(render(&|o| push_time(o, 3_723_500, 1_000)), "01:02:03.5");
        assert_eq!(render(&|o| push_duration(o, -1_500, 1_000)), "-PT1.5S");
        assert_eq!(
            render(&|o| push_duration(o, i64::MIN, 1)),
            "-PT9223372036854775808S"
        );
    }

    #[test]
    fn renders_exactly_the_renderable_types() {
        use DataType as T;
        let types = [
            T::Null,
            T::Boolean,
            T::Int8,
            T::UInt64,
            T::Float16,
            T::Float64,
            T::Decimal128(10, 2),
            T::Decimal256(40, -2),
            T::Utf8,
            T::LargeUtf8,
            T::Utf8View,
            T::Binary,
            T::BinaryView,
            T::FixedSizeBinary(4),
            T::Date32,
            T::Date64,
            T::Timestamp(TimeUnit::Nanosecond, Some("+01:00".into())),
            T::Time32(TimeUnit::Second),
            T::Time64(TimeUnit::Nanosecond),
            T::Duration(TimeUnit::Microsecond),
            T::Interval(arrow_schema::IntervalUnit::DayTime),
            T::Dictionary(Box::new(T::Int16), Box::new(T::Utf8)),
            T::Dictionary(Box::new(T::Int8), Box::new(T::Date32)),
            T::Dictionary(
                Box::new(T::Int8),
                Box::new(T::Interval(arrow_schema::IntervalUnit::YearMonth)),
            ),
        ];
        for data_type in types {
            let array = new_null_array(&data_type, 2);
            let mut calls = 0;
            let rendered = for_each_value(array.as_ref(), &mut |_, value| {
                assert!(value.is_none());
                calls += 1;
            });
            assert_eq!(rendered, renderable(&data_type), "{data_type}");
            assert_eq!(calls, if rendered { 2 } else { 0 }, "{data_type}");
            assert_eq!(
                rewrite_target(&data_type).is_some(),
                rendered,
                "{data_type}"
            );
        }
        // Decimals and dictionaries of non-strings render through the generic paths.
        let decimals = arrow_array::Decimal128Array::from(vec![Some(12_345), None, Some(-5)])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        let mut seen = Vec::new();
        for_each_value(&decimals, &mut |_, v| {
            seen.push(v.map(|v| String::from_utf8_lossy(v).into_owned()))
        });
        assert_eq!(
            seen,
            [Some("123.45".to_string()), None, Some("-0.05".to_string())]
        );
        let dates = arrow_array::DictionaryArray::<Int8Type>::try_new(
            arrow_array::Int8Array::from(vec![Some(1), None, Some(0), Some(1)]),
            Arc::new(Date32Array::from(vec![0, JAN_14_2021])),
        )
        .expect("dictionary");
        let mut seen = Vec::new();
        for_each_value(&dates, &mut |_, v| {
            seen.push(v.map(|v| String::from_utf8_lossy(v).into_owned()))
        });
        let expected = [
            Some("2021-01-14"),
            None,
            Some("1970-01-01"),
            Some("2021-01-14"),
        ];
        assert_eq!(seen, expected.map(|v| v.map(String::from)));
    }

    #[test]
    fn visits_read_string_leaves_as_views_and_nothing_else_changes_type() {
        fn leaves(data_type: &DataType, out: &mut Vec<DataType>) {
            match data_type {
                DataType::Struct(fields) => fields.iter().for_each(|f| leaves(f.data_type(), out)),
                DataType::List(item) | DataType::LargeList(item) => leaves(item.data_type(), out),
                other => out.push(other.clone()),
            }
        }
        let all_leaves = |schema: &Schema| {
            let mut out = Vec::new();
            schema
                .fields()
                .iter()
                .for_each(|f| leaves(f.data_type(), &mut out));
            out
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let file = all_leaves(table.meta.schema());
        let viewed = all_leaves(table.view_meta.schema());
        assert!(file.contains(&DataType::Utf8), "{file:?}");
        assert_eq!(file.len(), viewed.len());
        for (file, viewed) in file.iter().zip(&viewed) {
            let expected = match file {
                DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                other => other.clone(),
            };
            assert_eq!(viewed, &expected);
        }
        let mut batches = table.batches(0, &|_| true).expect("batches");
        let batch = batches.reader.as_mut().and_then(Iterator::next);
        let batch = batch.expect("a batch").expect("decoded");
        assert_eq!(
            all_leaves(batch.schema().as_ref()),
            viewed,
            "the reader honours the view schema"
        );
    }

    #[test]
    fn samples_are_deterministic_and_spread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let first = table.sample(4).expect("sample");
        let again = table.sample(4).expect("sample");
        assert_eq!(first.len(), table.columns().len());
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(
                (&a.values, a.rows_seen, a.empty),
                (&b.values, b.rows_seen, b.empty)
            );
        }
        // Rows 0, 2, 4 and 6 are sampled: names Ann, Bob, "" (empty) and Flo.
        let name = &first[column(&table, "name")];
        assert_eq!(name.values, ["Ann", "Bob", "Flo"]);
        assert_eq!((name.rows_seen, name.empty), (4, 1));
        let id = &first[column(&table, "id")];
        assert_eq!(id.values, ["101", "103", "105", "107"]);
        // Two phones per row but four rows: one each, spread, not the first two rows' four.
        let phones = &first[column(&table, "phones[]")];
        assert_eq!(phones.values, ["p0a", "p4a", "p6a"]);
        assert_eq!(phones.empty, 1);

        let all = table.sample(100).expect("sample");
        assert_eq!(all[column(&table, "name")].values.len(), 5);
        assert_eq!(all[column(&table, "phones[]")].values.len(), 10);
    }

    /// Upper-cases text (or prefixes `X-`) in the touched columns, keeping values ending in 3.
    struct Shout(Vec<usize>);

    impl CellRewriter for Shout {
        fn touches(&self, column: usize) -> bool {
            self.0.contains(&column)
        }

        fn rewrite(&self, _: usize, value: &[u8], _: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
            if value.is_empty() || value.ends_with(b"3") {
                return false;
            }
            if value.iter().any(u8::is_ascii_lowercase) {
                out.extend(value.to_ascii_uppercase());
            } else {
                out.extend_from_slice(b"X-");
                out.extend_from_slice(value);
            }
            true
        }
    }

    fn rendered(array: &ArrayRef) -> Vec<Option<String>> {
        let mut values = Vec::new();
        for_each_value(array.as_ref(), &mut |_, v| {
            values.push(v.map(|v| String::from_utf8_lossy(v).into_owned()))
        });
        values
    }

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        let array = array.as_string::<i32>();
        array.iter().map(|v| v.map(String::from)).collect()
    }

    /// Drops `city`, writes each `name` as its row's `id` (the subject column).
    struct DropCityNameIsSubject {
        city: usize,
        name: usize,
        id: usize,
    }

    impl CellRewriter for DropCityNameIsSubject {
        fn touches(&self, column: usize) -> bool {
            column == self.name
        }

        fn drops(&self, column: usize) -> bool {
            column == self.city
        }

        fn subject_column(&self) -> Option<usize> {
            Some(self.id)
        }

        fn rewrite(&self, _: usize, _: &[u8], subject: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
            out.extend_from_slice(subject.unwrap_or(b"none"));
            true
        }
    }

    #[test]
    fn rewrite_drops_top_level_columns_and_passes_each_rows_subject() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let rewriter = DropCityNameIsSubject {
            city: column(&table, "city"),
            name: column(&table, "name"),
            id: column(&table, "id"),
        };
        let mut out = Vec::new();
        table.rewrite(&rewriter, &mut out).expect("rewrite");
        let (_, after) = read_back(out);
        assert!(after.column_by_name("city").is_none());
        assert_eq!(after.num_columns(), fixture_batch().num_columns() - 1);
        let names = rendered(after.column_by_name("name").expect("name"));
        let expected: Vec<Option<String>> = NAMES
            .iter()
            .zip(101..)
            .map(|(name, id)| name.filter(|n| !n.is_empty()).map(|_| id.to_string()))
            .collect();
        // Empty cells are never rewritten, so they stay empty.
        let names: Vec<Option<String>> = names
            .into_iter()
            .map(|n| n.filter(|n| !n.is_empty()))
            .collect();
        assert_eq!(names, expected);

        let nested = DropCityNameIsSubject {
            city: column(&table, "contact.phone"),
            ..rewriter
        };
        let error = table
            .rewrite(&nested, &mut Vec::new())
            .expect_err("nested drop");
        assert!(
            error.to_string().contains("only top-level columns"),
            "{error}"
        );
    }

    #[test]
    fn rewrite_keeps_layout_and_rewrites_touched_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        for group_rows in [3, 1] {
            let path = fixture(dir.path(), group_rows);
            let table = ParquetTable::open(&path).expect("open");
            let touched = [
                "name",
                "city",
                "id",
                "contact.phone",
                "phones[]",
                "visits[].date",
                "attributes[].value",
            ]
            .map(|name| column(&table, name));
            let mut out = Vec::new();
            let summary = table
                .rewrite(&Shout(touched.to_vec()), &mut out)
                .expect("rewrite");
            assert_eq!((summary.rows, summary.row_groups), (7, table.parts()));

            let change = |column: &str, from: &str| TypeChange {
                column: column.into(),
                from: from.into(),
                to: "Utf8".into(),
            };
            assert_eq!(
                summary.type_changes,
                [
                    change("city", "Dictionary(Int32, Utf8)"),
                    change("id", "Int64"),
                    change("visits[].date", "Date32")
                ]
            );

            let (groups, after) = read_back(out);
            let expected_groups: Vec<usize> = table.part_rows.iter().map(|&n| n as usize).collect();
            assert_eq!(groups, expected_groups);
            let before = fixture_batch();
            for untouched in ["dob", "seen", "local", "raw"] {
                let (a, b) = (
                    before.column_by_name(untouched),
                    after.column_by_name(untouched),
                );
                assert_eq!(
                    a.map(|a| a.to_data()),
                    b.map(|b| b.to_data()),
                    "{untouched}"
                );
            }
            let get = |name: &str| Arc::clone(after.column_by_name(name).expect(name));
            assert_eq!(
                strings(&get("name")),
                [
                    Some("ANN"),
                    None,
                    Some("BOB"),
                    Some("CY"),
                    Some(""),
                    Some("ED"),
                    Some("FLO")
                ]
                .map(|v| v.map(String::from))
            );
            assert_eq!(
                strings(&get("city"))[..4],
                [Some("OSLO"), Some("ROME"), Some("OSLO"), None].map(|v| v.map(String::from))
            );
            // The id column became text, as non-nullable as it was; 103 is kept, as text.
            let id_field = after.schema().field_with_name("id").expect("id").clone();
            assert_eq!(
                (id_field.data_type(), id_field.is_nullable()),
                (&DataType::Utf8, false)
            );
            assert_eq!(
                strings(&get("id"))[..3],
                [Some("X-101"), Some("X-102"), Some("103")].map(|v| v.map(String::from))
            );

            let contact = get("contact");
            let contact = contact.as_struct();
            assert!(contact.is_null(2));
            assert_eq!(strings(contact.column(0))[0].as_deref(), Some("X-555-0100"));
            assert_eq!(strings(contact.column(0))[3].as_deref(), Some("555-0103"));
            assert_eq!(contact.column(1).data_type(), &DataType::Int32);

            let phones = get("phones");
            let phones = phones.as_list::<i32>();
            assert!(phones.is_null(1));
            assert_eq!(
                strings(&phones.value(0)),
                [Some("P0A".to_string()), Some("P0B".to_string())]
            );
            let visits = get("visits");
            let visit = visits.as_list::<i32>().value(1);
            let visit = visit.as_struct();
            assert_eq!(strings(visit.column(0)), [Some("X-2021-01-14".to_string())]);
            assert_eq!(strings(visit.column(1)), [Some("n10".to_string())]);
            let attributes = get("attributes");
            let entries = attributes.as_map().value(2);
            assert_eq!(strings(entries.column(0)), [Some("mrn".to_string())]);
            assert_eq!(strings(entries.column(1)), [Some("X-M2".to_string())]);

            // name 5, city 6, id 6, contact.phone 5, phones[] 10, visits[].date 4, attributes 6.
            assert_eq!(summary.cells_changed, 42);
        }
    }

    #[test]
    fn rewriting_nothing_copies_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let mut out = Vec::new();
        let summary = table.rewrite(&Shout(vec![]), &mut out).expect("rewrite");
        assert_eq!((summary.cells_changed, summary.type_changes.len()), (0, 0));
        let (groups, after) = read_back(out);
        assert_eq!(groups, [3, 3, 1]);
        let before = fixture_batch();
        assert_eq!(after.schema().fields(), before.schema().fields());
        for (a, b) in after.columns().iter().zip(before.columns()) {
            if let DataType::Dictionary(_, _) = a.data_type() {
                // The reader may hand back a larger dictionary: compare the values.
                assert_eq!(rendered(a), rendered(b));
            } else {
                assert_eq!(a.to_data(), b.to_data());
            }
        }
    }

    #[test]
    fn invalid_utf8_from_the_rewriter_is_an_error() {
        struct Garbage;
        impl CellRewriter for Garbage {
            fn touches(&self, column: usize) -> bool {
                column == 0
            }
            fn rewrite(&self, _: usize, _: &[u8], _: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
                out.push(0xff);
                true
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let error = table
            .rewrite(&Garbage, &mut Vec::new())
            .expect_err("invalid UTF-8");
        assert_eq!(error.location.as_deref(), Some("row group 1 of 3"));
        assert!(error.message.contains("\"name\""), "{error}");
    }

    #[test]
    fn truncated_corrupt_and_foreign_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = fixture(dir.path(), 3);
        let bytes = std::fs::read(&path).expect("read");

        let cut = dir.path().join("cut.parquet");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
        let error = ParquetTable::open(&cut).err().expect("truncated");
        assert!(
            error.to_string().starts_with(&cut.display().to_string()),
            "{error}"
        );

        for (name, content) in [
            ("notes.csv", b"id,name\n1,Ann\n".to_vec()),
            ("empty.parquet", Vec::new()),
        ] {
            let foreign = dir.path().join(name);
            std::fs::write(&foreign, content).expect("write");
            assert!(ParquetTable::open(&foreign).is_err(), "{name}");
        }

        // Pages scrambled, footer intact: opening works, reading fails, nothing panics.
        let mut scrambled = bytes.clone();
        let footer = u32::from_le_bytes(
            bytes[bytes.len() - 8..bytes.len() - 4]
                .try_into()
                .expect("len"),
        ) as usize;
        for b in &mut scrambled[4..bytes.len() - footer - 8] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let corrupt = dir.path().join("corrupt.parquet");
        std::fs::write(&corrupt, scrambled).expect("write");
        let table = ParquetTable::open(&corrupt).expect("the footer is intact");
        let failures = (0..table.parts())
            .filter(|&part| table.visit_part(part, &mut |_, _, _| {}).is_err())
            .count();
        assert_eq!(failures, table.parts());
        let error = table
            .rewrite(&Shout(vec![0]), &mut Vec::new())
            .expect_err("corrupt pages");
        assert!(
            error
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("row group ")),
            "{error}"
        );
        assert!(table.sample(5).is_err());
    }

    #[test]
    fn a_row_group_is_visited_batch_by_batch_as_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows = 2 * BATCH_ROWS + 5;
        let notes: Vec<String> = (0..rows).map(|i| format!("note {i}")).collect();
        let batch = RecordBatch::try_from_iter([(
            "note",
            Arc::new(StringArray::from(notes.clone())) as ArrayRef,
        )])
        .expect("batch");
        let path = dir.path().join("one-group.parquet");
        write_parquet(&path, &batch, rows, Compression::SNAPPY);
        let table = ParquetTable::open(&path).expect("open");
        assert_eq!(table.parts(), 1);

        let mut batches = table.batches(0, &|_| true).expect("batches");
        let mut seen = Vec::new();
        let mut steps = 0;
        while batches
            .visit_next(&mut |row, _, value| {
                seen.push((row, String::from_utf8_lossy(value).into_owned()));
            })
            .expect("visit")
        {
            steps += 1;
        }
        assert_eq!(steps, 3, "{rows} rows in batches of {BATCH_ROWS}");
        let expected: Vec<(u64, String)> =
            notes.into_iter().zip(0..).map(|(n, i)| (i, n)).collect();
        assert_eq!(seen, expected);
        assert!(
            !batches
                .visit_next(&mut |_, _, _| panic!("done"))
                .expect("done")
        );
    }

    #[test]
    fn only_the_fields_of_wanted_columns_are_decoded_and_visited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = ParquetTable::open(&fixture(dir.path(), 3)).expect("open");
        let visited = |wanted: &dyn Fn(usize) -> bool| {
            let mut counts = BTreeMap::new();
            for part in 0..table.parts() {
                let mut batches = table.batches(part, wanted).expect("batches");
                while batches
                    .visit_next(&mut |_, column, _| {
                        *counts
                            .entry(table.columns()[column].name.clone())
                            .or_insert(0) += 1;
                    })
                    .expect("visit")
                {}
                assert_eq!(batches.rows, table.part_rows[part]);
            }
            counts
        };
        let (city, phone) = (column(&table, "city"), column(&table, "contact.phone"));
        let some = visited(&|c| c == city || c == phone);
        let names: Vec<&str> = some.keys().map(String::as_str).collect();
        // A struct is decoded whole: `contact.zip` comes with `contact.phone`.
        assert_eq!(names, ["city", "contact.phone", "contact.zip"]);
        let mut all = visited(&|_| true);
        all.retain(|name, _| names.contains(&name.as_str()));
        assert_eq!(some, all);
        assert!(
            visited(&|_| false).is_empty(),
            "rows checked, nothing visited"
        );
    }

    #[test]
    fn a_file_cut_after_opening_fails_its_row_groups_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = fixture(dir.path(), 3);
        let table = ParquetTable::open(&path).expect("open");
        let last = table.parts() - 1;
        let (start, _) = table.part_bytes[last];
        File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(start + 1))
            .expect("cut inside the last row group");
        let error = table
            .visit_part(last, &mut |_, _, _| {})
            .expect_err("pages past the cut");
        assert_eq!(
            error.location.as_deref(),
            Some(format!("row group {} of {}", last + 1, table.parts()).as_str())
        );
    }

    #[test]
    fn a_file_of_zero_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.parquet");
        let batch = fixture_batch().slice(0, 0);
        write_parquet(&path, &batch, 3, Compression::SNAPPY);
        let table = ParquetTable::open(&path).expect("open");
        assert_eq!(
            (table.rows(), table.parts(), table.columns().len()),
            (0, 0, 14)
        );
        let samples = table.sample(10).expect("sample");
        assert!(
            samples
                .iter()
                .all(|s| s.values.is_empty() && s.rows_seen == 0 && s.empty == 0)
        );
        let mut out = Vec::new();
        let summary = table.rewrite(&Shout(vec![2]), &mut out).expect("rewrite");
        assert_eq!(
            (summary.rows, summary.row_groups, summary.type_changes.len()),
            (0, 0, 1)
        );
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out)).expect("output");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        assert_eq!(
            reader
                .schema()
                .field_with_name("id")
                .expect("id")
                .data_type(),
            &DataType::Utf8
        );
    }

    #[test]
    fn keeps_the_codec_and_the_key_value_metadata() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gzip.parquet");
        let batch = fixture_batch();
        let props = WriterProperties::builder()
            .set_compression(Compression::GZIP(Default::default()))
            .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
                "origin".into(),
                "test".to_string(),
            )]))
            .build();
        let mut writer = ArrowWriter::try_new(
            File::create(&path).expect("create"),
            batch.schema(),
            Some(props),
        )
        .expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let table = ParquetTable::open(&path).expect("open");
        let mut out = Vec::new();
        table.rewrite(&Shout(vec![0]), &mut out).expect("rewrite");
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out)).expect("output");
        let meta = reader.metadata();
        assert!(matches!(
            meta.row_group(0).column(0).compression(),
            Compression::GZIP(_)
        ));
        let kv: BTreeMap<_, _> = meta
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        assert_eq!(kv.get("origin"), Some(&Some("test".to_string())));
    }

    #[test]
    fn reads_the_dev_corpus() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/dev/patients.parquet");
        if !path.exists() {
            return;
        }
        let table = ParquetTable::open(&path).expect("open");
        assert_eq!(table.rows(), 5_000);
        let ssn = column(&table, "ssn");
        assert_eq!(table.columns()[ssn].kind, ColumnKind::Text);
        let visited: u64 = (0..table.parts())
            .map(|part| table.visit_part(part, &mut |_, _, _| {}).expect("visit"))
            .sum();
        assert_eq!(visited, 5_000);
        let samples = table.sample(50).expect("sample");
        assert!(!samples[ssn].values.is_empty());
    }
}
