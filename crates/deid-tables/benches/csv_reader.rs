//! Parse-only speed of deid's chunked CSV reader against the `csv` crate iterating byte
//! records, on one thread, over deterministic patient-like data with quoted fields: short
//! fields only (the worst case for a reader that jumps between field ends), and an
//! extract-like table where every row ends in a long quoted note.
//!
//! `cargo bench -p deid-tables --bench csv_reader`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deid_tables::csv::{CsvLayout, CsvOptions};

/// A quoted clinical note of a few hundred bytes, with commas and a line break.
const LONG_NOTE: &str = "\"Patient seen for follow-up of type 2 diabetes, hypertension and \
    chronic kidney disease, stage 3. Reports good adherence to metformin, lisinopril, and \
    atorvastatin; no hypoglycaemia.\nExam: BP 132/84, HR 76, weight stable, feet intact. \
    Plan: repeat HbA1c and BMP in three months, continue current regimen, \"\"walk daily\"\".\"";

/// About 8 MiB of records: ids, names, dates, and a note. Short notes are quoted on some
/// rows (commas, doubled quotes, a line break every seventh row); long ones on every row.
fn data(long_notes: bool) -> Vec<u8> {
    let mut out = b"mrn,first,last,dob,zip,note\n".to_vec();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let names = [
        "Maria",
        "Jose",
        "Nguyen",
        "O'Brien",
        "Smith-Jones",
        "Zoe",
        "Khan",
    ];
    while out.len() < 8 << 20 {
        let n = next();
        let note = match n % 7 {
            _ if long_notes => LONG_NOTE,
            0 => "\"Seen today, stable.\nFollow up in \"\"two\"\" weeks.\"",
            1 | 2 => "\"Call back, no answer\"",
            _ => "Doing well",
        };
        out.extend_from_slice(
            format!(
                "E{:09},{},{},19{:02}-0{}-1{},{:05},{note}\n",
                n % 1_000_000_000,
                names[(n % 7) as usize],
                names[((n >> 8) % 7) as usize],
                n % 100,
                1 + n % 9,
                n % 10,
                n % 100_000
            )
            .as_bytes(),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    for (name, long_notes) in [("short-fields", false), ("long-notes", true)] {
        bench_input(c, name, &data(long_notes));
    }
}

fn bench_input(c: &mut Criterion, name: &str, data: &[u8]) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut group = c.benchmark_group(format!("csv_parse_one_thread/{name}"));
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("csv_crate_byte_records", |b| {
        b.iter(|| {
            let mut reader = csv::ReaderBuilder::new().from_reader(data);
            let mut record = csv::ByteRecord::new();
            let mut fields = 0;
            while reader.read_byte_record(&mut record).expect("csv") {
                fields += record.len();
            }
            fields
        });
    });
    group.bench_function("deid_plan_and_visit", |b| {
        b.iter(|| {
            pool.install(|| {
                let layout =
                    CsvLayout::plan("bench.csv", data, CsvOptions::default()).expect("plan");
                let mut fields = 0usize;
                for part in &layout.parts {
                    layout.visit_part(data, part, &mut |_, _, _| fields += 1);
                }
                fields
            })
        });
    });
    group.bench_function("deid_visit_only", |b| {
        let layout = CsvLayout::plan("bench.csv", data, CsvOptions::default()).expect("plan");
        b.iter(|| {
            let mut fields = 0usize;
            for part in &layout.parts {
                layout.visit_part(data, part, &mut |_, _, _| fields += 1);
            }
            fields
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
