//! FF1 (NIST SP 800-38G, Algorithms 7 and 8) in `u128` arithmetic, for the short
//! numeral strings that `encrypt` sees.
//!
//! The `fpe` crate computes NUM_radix, STR_radix and the modular sums of every round in
//! `BigUint`, allocating as it goes: a value costs microseconds, most of it bignum
//! arithmetic and `malloc`, not AES. Identifiers are short — an SSN has 9 digits, a card
//! number 16 — so each half of the string, and each round's `y`, fits a `u128`. Here a
//! value costs one AES block per round plus the blocks of `P || T`, and one allocation for
//! the output.
//!
//! [`Ff1::encrypt`] and [`Ff1::decrypt`] return `None` outside that case (see
//! [`Ff1::shape`]) and the caller falls back to the crate; inside it they give the crate's
//! output exactly, which the tests check against NIST's samples and the crate itself.

use aes::Aes256;
use aes::cipher::{BlockEncrypt, KeyInit};

/// The smallest domain, radix^n, NIST SP 800-38G Rev. 1 allows; the `fpe` crate refuses
/// shorter strings, and so does this module, so that both accept the same inputs.
const MIN_DOMAIN: u128 = 1_000_000;

/// The largest `b` (bytes of NUM_radix of a half) handled: with `b ≤ 12`,
/// `d = 4·⌈b/4⌉ + 4 ≤ 16`, so `S` is the first `d` bytes of `R` alone and `y` fits a `u128`.
const MAX_B: usize = 12;

/// FF1 under AES-256 for one radix.
pub(crate) struct Ff1 {
    cipher: Aes256,
    radix: u32,
}

/// The lengths and moduli of one call on the fast path.
struct Shape {
    /// Numerals in the first half, `floor(n/2)`.
    u: usize,
    /// radix^u.
    pow_u: u128,
    /// radix^v, where `v = n − u`.
    pow_v: u128,
    /// Bytes of NUM_radix of a half in `Q`.
    b: usize,
    /// Bytes of `R` that make `y`.
    d: usize,
}

impl Shape {
    /// radix^m for round `i`: `m = u` if `i` is even, else `v`.
    fn modulus(&self, i: u8) -> u128 {
        if i.is_multiple_of(2) {
            self.pow_u
        } else {
            self.pow_v
        }
    }
}

/// CBC-MAC under AES with a zero IV (FF1's PRF), fed bytes that are XORed into the
/// running block; a full block is encrypted in place.
#[derive(Clone, Copy)]
struct CbcMac<'a> {
    cipher: &'a Aes256,
    state: [u8; 16],
    len: usize,
}

impl CbcMac<'_> {
    fn update(&mut self, data: &[u8]) {
        for &byte in data {
            self.state[self.len] ^= byte;
            self.len += 1;
            if self.len == 16 {
                let mut block = aes::Block::from(self.state);
                self.cipher.encrypt_block(&mut block);
                self.state = block.into();
                self.len = 0;
            }
        }
    }
}

impl Ff1 {
    /// FF1 under AES-256 with `key`, for numerals below `radix`. A `u16` radix fits the
    /// three bytes `P` gives it.
    pub(crate) fn new(key: &[u8; 32], radix: u16) -> Ff1 {
        Ff1 {
            cipher: Aes256::new(key.into()),
            radix: u32::from(radix),
        }
    }

    /// Encrypts `x` under `tweak` (Algorithm 7), or `None` off the fast path.
    pub(crate) fn encrypt(&self, tweak: &[u8], x: &[u16]) -> Option<Vec<u16>> {
        let (shape, prefix) = self.setup(tweak, x)?;
        let (mut a, mut b) = (self.num(&x[..shape.u]), self.num(&x[shape.u..]));
        for i in 0..10 {
            let modulus = shape.modulus(i);
            let c = (a + self.y(&shape, prefix, i, b) % modulus) % modulus;
            (a, b) = (b, c);
        }
        Some(self.concat(x.len(), shape.u, a, b))
    }

    /// Decrypts `x` under `tweak` (Algorithm 8), or `None` off the fast path.
    pub(crate) fn decrypt(&self, tweak: &[u8], x: &[u16]) -> Option<Vec<u16>> {
        let (shape, prefix) = self.setup(tweak, x)?;
        let (mut a, mut b) = (self.num(&x[..shape.u]), self.num(&x[shape.u..]));
        for i in (0..10).rev() {
            let modulus = shape.modulus(i);
            let c = (b + modulus - self.y(&shape, prefix, i, a) % modulus) % modulus;
            (a, b) = (c, a);
        }
        Some(self.concat(x.len(), shape.u, a, b))
    }

    /// The shape of a call on `n` numerals, if it is on the fast path: NIST's minimum
    /// domain is met, and `b ≤ 12` (so radix^v < 2^96, and sums of two numbers below it
    /// cannot overflow).
    fn shape(&self, n: usize) -> Option<Shape> {
        let (u, v) = (n / 2, n - n / 2);
        let radix = u128::from(self.radix);
        let pow_u = radix.checked_pow(u32::try_from(u).ok()?)?;
        let pow_v = radix.checked_pow(u32::try_from(v).ok()?)?;
        if self.radix < 2 || pow_u.saturating_mul(pow_v) < MIN_DOMAIN {
            return None;
        }
        // b = ⌈⌈v·log2(radix)⌉ / 8⌉, exactly: the bytes of radix^v − 1.
        let bits = u128::BITS - (pow_v - 1).leading_zeros();
        let b = usize::try_from(bits.div_ceil(8)).ok()?;
        if b > MAX_B {
            return None;
        }
        Some(Shape {
            u,
            pow_u,
            pow_v,
            b,
            d: 4 * b.div_ceil(4) + 4,
        })
    }

    /// Checks `x` and `tweak`, and runs the PRF over `P || T || [0]^((−t−b−1) mod 16)`,
    /// the part of its input every round shares.
    fn setup(&self, tweak: &[u8], x: &[u16]) -> Option<(Shape, CbcMac<'_>)> {
        let shape = self.shape(x.len())?;
        if x.iter().any(|&numeral| u32::from(numeral) >= self.radix) {
            return None;
        }
        let mut p = [
            1,
            2,
            1,
            0,
            0,
            0,
            10,
            (shape.u % 256) as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        p[3..6].copy_from_slice(&self.radix.to_be_bytes()[1..]);
        p[8..12].copy_from_slice(&u32::try_from(x.len()).ok()?.to_be_bytes());
        p[12..16].copy_from_slice(&u32::try_from(tweak.len()).ok()?.to_be_bytes());
        let mut prefix = CbcMac {
            cipher: &self.cipher,
            state: [0; 16],
            len: 0,
        };
        prefix.update(&p);
        prefix.update(tweak);
        let padding = (16 - (tweak.len() % 16 + shape.b + 1) % 16) % 16;
        prefix.update(&[0; 15][..padding]);
        Some((shape, prefix))
    }

    /// Steps 6i–6iv of round `i`: y = NUM(first d bytes of PRF(P || Q)), where `Q` ends in
    /// `[i] || STR^b_256(half)`.
    fn y(&self, shape: &Shape, mut prf: CbcMac<'_>, i: u8, half: u128) -> u128 {
        prf.update(&[i]);
        prf.update(&half.to_be_bytes()[16 - shape.b..]);
        // The padding made `P || Q` whole blocks, so `state` is R.
        prf.state[..shape.d]
            .iter()
            .fold(0, |y, &byte| y << 8 | u128::from(byte))
    }

    /// NUM_radix: most significant numeral first.
    fn num(&self, x: &[u16]) -> u128 {
        let radix = u128::from(self.radix);
        x.iter()
            .fold(0, |number, &numeral| number * radix + u128::from(numeral))
    }

    /// STR^u_radix(a) || STR^(n−u)_radix(b).
    fn concat(&self, n: usize, u: usize, a: u128, b: u128) -> Vec<u16> {
        let radix = u128::from(self.radix);
        let mut out = vec![0; n];
        let (first, second) = out.split_at_mut(u);
        for (half, mut number) in [(first, a), (second, b)] {
            for numeral in half.iter_mut().rev() {
                // Below the radix, which is a u16.
                *numeral = (number % radix) as u16;
                number /= radix;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use ::fpe::ff1::{FF1, FlexibleNumeralString};
    use proptest::prelude::*;

    use super::*;

    /// The AES-256 key of NIST's FF1 samples 7–9.
    const NIST_KEY: [u8; 32] = [
        0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F,
        0x3C, 0xEF, 0x43, 0x59, 0xD8, 0xD5, 0x80, 0xAA, 0x4F, 0x7F, 0x03, 0x6D, 0x6F, 0x04, 0xFC,
        0x6A, 0x94,
    ];

    /// The longest fast-path strings: v ≤ 28 digits (10^28 < 2^96 < 10^29) and v ≤ 20
    /// letters (26^20 < 2^96 < 26^21).
    const MAX_DIGITS: usize = 56;
    const MAX_LETTERS: usize = 40;

    fn crate_ff1(key: &[u8; 32], radix: u16) -> FF1<Aes256> {
        FF1::new(key, u32::from(radix)).unwrap()
    }

    /// Checks one NIST sample both ways.
    fn check_sample(radix: u16, tweak: &[u8], pt: &[u16], ct: &[u16]) {
        let ff1 = Ff1::new(&NIST_KEY, radix);
        assert_eq!(ff1.encrypt(tweak, pt).as_deref(), Some(ct));
        assert_eq!(ff1.decrypt(tweak, ct).as_deref(), Some(pt));
    }

    #[test]
    fn nist_samples_7_to_9() {
        // From the `fpe` crate's test vectors, which copy NIST's FF1samples.pdf.
        let digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        check_sample(10, b"", &digits, &[6, 6, 5, 7, 6, 6, 7, 0, 0, 9]);
        check_sample(10, b"9876543210", &digits, &[1, 0, 0, 1, 6, 2, 3, 4, 6, 3]);
        check_sample(
            36,
            b"7777pqrs777",
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
            ],
            &[
                33, 28, 8, 10, 0, 10, 35, 17, 2, 10, 31, 34, 10, 21, 34, 35, 30, 32, 13,
            ],
        );
    }

    #[test]
    fn the_fast_path_ends_where_b_exceeds_12() {
        for (radix, max) in [(10, MAX_DIGITS), (26, MAX_LETTERS)] {
            let ff1 = Ff1::new(&[9; 32], radix);
            assert!(ff1.encrypt(b"t", &vec![1; max]).is_some());
            assert!(ff1.encrypt(b"t", &vec![1; max + 1]).is_none());
            assert!(ff1.decrypt(b"t", &vec![1; max + 1]).is_none());
        }
        let digits = Ff1::new(&[9; 32], 10);
        assert_eq!(digits.encrypt(b"", &[3; 60]), None);
        assert_eq!(digits.encrypt(b"", &[3; 1000]), None);
    }

    #[test]
    fn inputs_the_crate_refuses_are_not_on_the_fast_path() {
        let digits = Ff1::new(&[9; 32], 10);
        // Below NIST's minimum domain, and numerals outside the radix.
        assert_eq!(digits.encrypt(b"", &[1; 5]), None);
        assert_eq!(digits.encrypt(b"", &[]), None);
        assert_eq!(digits.encrypt(b"", &[1, 2, 3, 4, 5, 10]), None);
        assert_eq!(Ff1::new(&[9; 32], 26).decrypt(b"", &[1; 4]), None);
        assert_eq!(Ff1::new(&[9; 32], 1).encrypt(b"", &[0; 40]), None);
        assert_eq!(Ff1::new(&[9; 32], 0).encrypt(b"", &[0; 40]), None);
    }

    /// A radix, then a fast-path-length string of its numerals.
    fn numerals() -> impl Strategy<Value = (u16, Vec<u16>)> {
        prop_oneof![Just((10u16, 6, MAX_DIGITS)), Just((26, 5, MAX_LETTERS))].prop_flat_map(
            |(radix, min, max)| (Just(radix), prop::collection::vec(0..radix, min..=max)),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn matches_the_fpe_crate(
            key in any::<[u8; 32]>(),
            tweak in prop::collection::vec(any::<u8>(), 0..=40),
            (radix, x) in numerals(),
        ) {
            let fast = Ff1::new(&key, radix);
            let reference = crate_ff1(&key, radix);
            let ct = fast.encrypt(&tweak, &x).expect("on the fast path");
            let expected: Vec<u16> =
                reference.encrypt(&tweak, &FlexibleNumeralString::from(x.clone())).unwrap().into();
            prop_assert_eq!(&ct, &expected);
            prop_assert_eq!(fast.decrypt(&tweak, &ct), Some(x.clone()));
            // Decryption of an arbitrary string matches too, not only of ciphertexts.
            let expected: Vec<u16> =
                reference.decrypt(&tweak, &FlexibleNumeralString::from(x.clone())).unwrap().into();
            prop_assert_eq!(fast.decrypt(&tweak, &x), Some(expected));
        }
    }
}
