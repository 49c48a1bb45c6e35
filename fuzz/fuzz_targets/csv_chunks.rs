//! Arbitrary bytes through deid's chunked CSV reader, cut into tiny parts: every cell, its
//! row and column, and the record count must equal what the `csv` crate reads serially.
//! The first input byte chooses the part size, the delimiter and whether there is a header.
#![no_main]

use deid_tables::csv::{CsvLayout, CsvOptions};
use libfuzzer_sys::fuzz_target;

type Cells = Vec<(u64, usize, Vec<u8>)>;

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b'\t', b';', b'|'][usize::from(control & 3)];
    let has_header = control & 4 == 0;
    let part_bytes = usize::from(control >> 3) + 1;
    let options = CsvOptions { delimiter: Some(delimiter), has_header, part_bytes };
    let layout = CsvLayout::plan("fuzz.csv", bytes, options).expect("plan never fails on bytes");
    let mut cells: Cells = Vec::new();
    let mut next_row = 0;
    for part in &layout.parts {
        assert_eq!(part.first_row, next_row, "parts are contiguous in rows");
        next_row += part.rows;
        layout.visit_part(bytes, part, &mut |row, column, value| cells.push((row, column, value.to_vec())));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_header)
        .flexible(true)
        .from_reader(bytes);
    let mut expected: Cells = Vec::new();
    let mut rows = 0;
    for (row, record) in reader.byte_records().enumerate() {
        let record = record.expect("the csv crate never fails on bytes");
        for (column, value) in record.iter().enumerate() {
            if !value.is_empty() {
                expected.push((row as u64, column, value.to_vec()));
            }
        }
        rows += 1;
    }
    assert_eq!(cells, expected);
    assert_eq!(layout.rows(), rows);
});
