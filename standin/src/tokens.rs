//! The stand-in's tokenizer, shared by its server and its benchmark client so both count
//! tokens the same way with no tokenizer download: one token = one whitespace-separated word.
//! Vocabulary words are made of two-letter syllables (like the gibberish prompts vLLM's random
//! dataset produces), so every id maps to one word and back.

/// Number of ids in the vocabulary.
pub const VOCAB_SIZE: u32 = 32_000;

const SYLLABLES: [&str; 16] = [
    "an", "de", "ix", "ka", "lo", "mi", "no", "or", "po", "su", "te", "um", "vi", "ra", "be", "zu",
];

/// The word for a token id (ids wrap at `VOCAB_SIZE`).
pub fn word(id: u32) -> String {
    // +16 so that every word has at least two syllables.
    let mut n = (id % VOCAB_SIZE) + 16;
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 16) as usize);
        n /= 16;
    }
    digits.iter().rev().map(|&d| SYLLABLES[d]).collect()
}

/// The id of a vocabulary word; other words hash into the vocabulary.
pub fn id_of(word: &str) -> u32 {
    if word.len() >= 4 && word.len().is_multiple_of(2) {
        let mut n: u32 = 0;
        let mut ok = true;
        for chunk in word.as_bytes().chunks(2) {
            match SYLLABLES.iter().position(|s| s.as_bytes() == chunk) {
                Some(d) if n < (u32::MAX >> 4) => n = n * 16 + d as u32,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && n >= 16 && n - 16 < VOCAB_SIZE {
            return n - 16;
        }
    }
    // FNV-1a: stable across runs and builds.
    let mut h: u32 = 0x811c_9dc5;
    for b in word.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % VOCAB_SIZE
}

/// Number of tokens in a text.
pub fn count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Token ids of a text.
pub fn encode(text: &str) -> Vec<u32> {
    text.split_whitespace().map(id_of).collect()
}

/// Text of token ids (words joined by single spaces).
pub fn decode(ids: &[u32]) -> String {
    ids.iter().map(|&i| word(i)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_through_its_word() {
        for id in (0..VOCAB_SIZE).step_by(7) {
            assert_eq!(id_of(&word(id)), id, "id {id} word {}", word(id));
        }
    }

    #[test]
    fn count_is_whitespace_words() {
        assert_eq!(count("  visuor visupo\n visuum "), 3);
        assert_eq!(encode("ankaum x").len(), 2);
        assert_eq!(count(&decode(&[1, 2, 3, 4])), 4);
    }
}
