//! Arbitrary values through every action of the redactor, and arbitrary text as a policy:
//! nothing panics, keyless and keyed actions alike; `tag` writes the tag and nothing else,
//! and a pseudonym is never the value.
#![no_main]

use std::sync::LazyLock;

use deid_core::EntityType;
use deid_transform::{Action, Key, Policy, Redactor};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| {
    let policy = Policy::parse("fuzz", "name = 'fuzz'\n[shift]\nmin_days = -400\nmax_days = 400")
        .expect("policy");
    Redactor::new(policy, Some(&Key::generate()), None).expect("redactor")
});

#[derive(Debug, Arbitrary)]
struct Case<'a> {
    entity: u8,
    action: u8,
    value: &'a [u8],
    subject: &'a [u8],
    policy: &'a str,
}

fuzz_target!(|case: Case<'_>| {
    let _ = Policy::parse("fuzz", case.policy).map(|p| (p.to_toml(), p.keyless().digest()));
    if case.value.len() > 512 {
        return;
    }
    let entity = EntityType::ALL[usize::from(case.entity) % EntityType::ALL.len()];
    // Every action but `token` (no store here: the redactor would refuse the policy).
    let actions: Vec<Action> = Action::ALL.into_iter().filter(|a| *a != Action::Token).collect();
    let action = actions[usize::from(case.action) % actions.len()];
    let mut out = Vec::new();
    REDACTOR.replace_into(entity, action, case.value, case.subject, &mut out);
    match action {
        Action::Tag => assert_eq!(out, format!("[{}]", entity.as_str()).as_bytes()),
        Action::Hash => assert_ne!(out, case.value, "a pseudonym is the value"),
        _ => {}
    }
});
