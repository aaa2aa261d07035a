//! SHA-1 (RFC 3174), needed only for `Sec-WebSocket-Accept`.
//!
//! SHA-1 is broken for signatures; here it is a fixed part of the RFC 6455 handshake,
//! not a security measure.

/// Incremental SHA-1.
#[derive(Clone)]
pub struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

impl Default for Sha1 {
    fn default() -> Self {
        Sha1 {
            state: [
                0x6745_2301,
                0xefcd_ab89,
                0x98ba_dcfe,
                0x1032_5476,
                0xc3d2_e1f0,
            ],
            block: [0; 64],
            block_len: 0,
            total_len: 0,
        }
    }
}

impl Sha1 {
    pub fn new() -> Sha1 {
        Sha1::default()
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let n = (64 - self.block_len).min(data.len());
            self.block[self.block_len..self.block_len + n].copy_from_slice(&data[..n]);
            self.block_len += n;
            data = &data[n..];
            if self.block_len == 64 {
                compress(&mut self.state, &self.block);
                self.block_len = 0;
            }
        }
    }

    pub fn finish(mut self) -> [u8; 20] {
        let bits = self.total_len.wrapping_mul(8);
        // Padding: 0x80, zeros up to 56 mod 64, then the length in bits, big-endian.
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        let zeros = (119 - self.block_len) % 64;
        pad[1 + zeros..9 + zeros].copy_from_slice(&bits.to_be_bytes());
        self.update(&pad[..9 + zeros]);
        debug_assert_eq!(self.block_len, 0);
        let mut out = [0u8; 20];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }

    #[cfg(test)]
    pub fn digest(data: &[u8]) -> [u8; 20] {
        let mut h = Sha1::new();
        h.update(data);
        h.finish()
    }
}

fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 80];
    for (i, word) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    for (t, &wt) in w.iter().enumerate() {
        let (f, k) = match t {
            0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
            20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
            _ => (b ^ c ^ d, 0xca62_c1d6),
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 20]) -> String {
        d.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The four test vectors of RFC 3174 section 7.3, with their repeat counts.
    #[test]
    fn rfc3174_vectors() {
        let cases: [(&[u8], usize, &str); 4] = [
            (b"abc", 1, "A9993E364706816ABA3E25717850C26C9CD0D89D"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                1,
                "84983E441C3BD26EBAAE4AA1F95129E5E54670F1",
            ),
            (b"a", 1_000_000, "34AA973CD4C4DAA4F61EEB2BDBAD27316534016F"),
            (
                b"0123456701234567012345670123456701234567012345670123456701234567",
                10,
                "DEA356A2CDDD90C7A7ECEDC5EBB563934F460452",
            ),
        ];
        for (input, repeat, expected) in cases {
            let mut h = Sha1::new();
            for _ in 0..repeat {
                h.update(input);
            }
            assert_eq!(hex(h.finish()), expected);
        }
    }

    #[test]
    fn empty_and_block_boundaries() {
        assert_eq!(
            hex(Sha1::digest(b"")),
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
        );
        // 55, 56 and 64 bytes straddle the padding boundary.
        assert_eq!(
            hex(Sha1::digest(&[b'a'; 55])),
            "C1C8BBDC22796E28C0E15163D20899B65621D65A"
        );
        assert_eq!(
            hex(Sha1::digest(&[b'a'; 56])),
            "C2DB330F6083854C99D4B5BFB6E8F29F201BE699"
        );
        assert_eq!(
            hex(Sha1::digest(&[b'a'; 64])),
            "0098BA824B5C16427BD7A1122A5A442A25EC644D"
        );
    }

    proptest::proptest! {
        /// Against the `sha1` crate, fed in arbitrary pieces.
        #[test]
        fn matches_reference(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700), split in 0usize..700) {
            use sha1::Digest;
            let expected: [u8; 20] = sha1::Sha1::digest(&data).into();
            let mut h = Sha1::new();
            let (a, b) = data.split_at(split.min(data.len()));
            h.update(a);
            h.update(b);
            proptest::prop_assert_eq!(h.finish(), expected);
        }
    }
}
