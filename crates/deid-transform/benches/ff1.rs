//! FF1 cost per value, in group `ff1/encrypt`:
//!
//! - `crate/{ssn,16-digits}`: the `fpe` crate's FF1 (`BigUint` arithmetic) on 9 and 16
//!   digits — what `encrypt` paid per value before the `u128` fast path;
//! - `format-preserving/{ssn,16-digits,mrn}`: [`FormatPreserving::encrypt`], which runs the
//!   fast path, on `123-45-6789`, a 16-digit card number and `MR00123456` — what an
//!   `encrypt` policy pays per value now (splitting the classes included).
//!
//! Run with `cargo bench -p deid-transform --bench ff1`.

use std::hint::black_box;
use std::time::Duration;

use aes::Aes256;
use criterion::{Criterion, criterion_group, criterion_main};
use deid_core::EntityType;
use deid_transform::fpe::FormatPreserving;
use deid_transform::key::Key;
use fpe::ff1::{FF1, FlexibleNumeralString};

fn encrypt(c: &mut Criterion) {
    let reference = FF1::<Aes256>::new(&[7; 32], 10).expect("10 is a valid radix");
    let fpe = FormatPreserving::new(&Key::generate());
    let tweak = b"SSN\0digits\0";

    let mut group = c.benchmark_group("ff1/encrypt");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, digits, value, entity) in [
        ("ssn", "123456789", "123-45-6789", EntityType::Ssn),
        (
            "16-digits",
            "4111111111111111",
            "4111 1111 1111 1111",
            EntityType::CreditCard,
        ),
    ] {
        let numerals: Vec<u16> = digits.bytes().map(|b| u16::from(b - b'0')).collect();
        group.bench_function(format!("crate/{name}"), |bench| {
            bench.iter(|| {
                reference.encrypt(
                    black_box(tweak),
                    &FlexibleNumeralString::from(black_box(&numerals).clone()),
                )
            });
        });
        group.bench_function(format!("format-preserving/{name}"), |bench| {
            bench.iter(|| fpe.encrypt(entity, black_box(value)));
        });
    }
    group.bench_function("format-preserving/mrn", |bench| {
        bench.iter(|| fpe.encrypt(EntityType::Mrn, black_box("MR00123456")));
    });
    group.finish();
}

criterion_group!(benches, encrypt);
criterion_main!(benches);
