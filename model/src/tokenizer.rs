//! OpenAI CLIP's tokenizer (SimpleTokenizer), byte for byte: text cleaning, CLIP's pre-tokenizer pattern,
//! byte-level BPE over the shipped vocabulary, SOT/EOT and a context of 77. Like the reference
//! (`clip.tokenize(truncate=False)`), a text longer than the context is an error.
use regex::Regex;
use std::collections::HashMap;
use std::io::Read;
use unicode_normalization::UnicodeNormalization;

/// The start-of-text token.
pub const SOT: i64 = 49406;
/// The end-of-text token; the text tower pools its features there.
pub const EOT: i64 = 49407;
/// CLIP's context length: every prompt is 77 tokens, zero-padded.
pub const CONTEXT: usize = 77;
/// Tokens in CLIP's vocabulary (byte-level BPE merges plus SOT and EOT).
pub const VOCAB_SIZE: i64 = 49408;
const VOCAB_GZ: &[u8] = include_bytes!("../assets/bpe_simple_vocab_16e6.txt.gz");

/// Why a prompt could not be tokenized.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenizeError {
    /// The prompt and its SOT/EOT do not fit the context (the text, the context length).
    #[error("Input {0} is too long for context length {1}")]
    TooLong(String, usize),
}

/// OpenAI's CLIP tokenizer, exact: text cleaning, byte-level BPE over the shipped vocabulary, SOT/EOT.
pub struct Tokenizer {
    encoder: HashMap<String, i64>,
    ranks: HashMap<(String, String), usize>,
    byte_encoder: [char; 256],
    pattern: Regex,
    cache: std::sync::Mutex<HashMap<String, Vec<i64>>>,
}

/// GPT-2's byte -> printable character table, and its characters in the table's insertion order (the vocabulary's
/// order).
fn bytes_to_unicode() -> ([char; 256], Vec<char>) {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut table = [' '; 256];
    let mut order = Vec::with_capacity(256);
    for (b, c) in bs.into_iter().zip(cs) {
        table[b as usize] = char::from_u32(c).unwrap();
        order.push(table[b as usize]);
    }
    (table, order)
}

impl Tokenizer {
    /// The tokenizer with OpenAI's vocabulary (shipped in the crate, MIT).
    pub fn new() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(VOCAB_GZ).read_to_string(&mut text).expect("shipped BPE vocabulary");
        Self::from_merges(&text)
    }

    /// A tokenizer from the text of a BPE merges file (`bpe_simple_vocab_16e6.txt`).
    pub fn from_merges(text: &str) -> Self {
        let merges: Vec<(String, String)> = text
            .split('\n')
            .skip(1)
            .take(49152 - 256 - 2)
            .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
            .collect();
        let (byte_encoder, order) = bytes_to_unicode();
        let mut vocab: Vec<String> = order.iter().map(|c| c.to_string()).collect();
        vocab.extend(order.iter().map(|c| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<|startoftext|>".into());
        vocab.push("<|endoftext|>".into());
        let encoder = vocab.into_iter().enumerate().map(|(i, v)| (v, i as i64)).collect();
        let ranks = merges.into_iter().enumerate().map(|(i, m)| (m, i)).collect();
        let pattern = Regex::new(
            r"(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        )
        .unwrap();
        Tokenizer { encoder, ranks, byte_encoder, pattern, cache: Default::default() }
    }

    /// BPE ids of `text`, without SOT/EOT.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let text = clean(text);
        let mut ids = Vec::new();
        for m in self.pattern.find_iter(&text) {
            let tok = m.as_str();
            if let Some(v) = self.cache.lock().unwrap().get(tok) {
                ids.extend_from_slice(v);
                continue;
            }
            let v = if tok == "<|startoftext|>" || tok == "<|endoftext|>" {
                vec![self.encoder[tok]]
            } else {
                let mapped: String = tok.bytes().map(|b| self.byte_encoder[b as usize]).collect();
                self.bpe(&mapped).iter().map(|p| self.encoder[p]).collect()
            };
            ids.extend_from_slice(&v);
            self.cache.lock().unwrap().insert(tok.to_string(), v);
        }
        ids
    }

    fn bpe(&self, token: &str) -> Vec<String> {
        let chars: Vec<char> = token.chars().collect();
        let mut word: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|p| self.ranks.get(&(p[0].clone(), p[1].clone())).map(|r| (*r, p[0].clone(), p[1].clone())))
                .min();
            let Some((_, first, second)) = best else {
                break;
            };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }

    /// SOT + ids + EOT, zero-padded to `context`; an error past the context, as the reference.
    pub fn tokenize(&self, text: &str, context: usize) -> Result<Vec<i64>, TokenizeError> {
        let mut ids = vec![SOT];
        ids.extend(self.encode(text));
        ids.push(EOT);
        if ids.len() > context {
            return Err(TokenizeError::TooLong(text.to_string(), context));
        }
        ids.resize(context, 0);
        Ok(ids)
    }

    /// Like `tokenize(truncate=True)`: the first `context` tokens with the last replaced by EOT.
    pub fn tokenize_truncate(&self, text: &str, context: usize) -> Vec<i64> {
        let mut ids = vec![SOT];
        ids.extend(self.encode(text));
        ids.push(EOT);
        if ids.len() > context {
            ids.truncate(context);
            ids[context - 1] = EOT;
        }
        ids.resize(context, 0);
        ids
    }
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

/// basic_clean + whitespace_clean + lower, as CLIP: ftfy's default fixes (the ones that apply to clean text:
/// NFC, Latin ligatures, full-width characters, curly quotes, line breaks, control characters), HTML unescape
/// twice, whitespace collapsed, lower-cased. ftfy's mojibake repair is not reproduced.
pub fn clean(text: &str) -> String {
    let fixed = ftfy_lite(text);
    let unescaped = html_unescape(&html_unescape(&fixed));
    let collapsed = unescaped.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}

fn ftfy_lite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => out.push('"'),
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('\n'),
            '\u{3000}' => out.push(' '),
            c if ('\u{FF01}'..='\u{FF5E}').contains(&c) => out.push(char::from_u32(c as u32 - 0xFEE0).unwrap()),
            c if c.is_control() && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
    out.nfc().collect()
}

/// Python's html.unescape for numeric references and the common named entities.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    const NAMED: &[(&str, &str)] = &[
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("nbsp", "\u{a0}"),
        ("copy", "©"),
        ("reg", "®"),
        ("hellip", "…"),
        ("mdash", "—"),
        ("ndash", "–"),
        ("eacute", "é"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end =
            rest[1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '#')).map(|e| e + 1).unwrap_or(rest.len());
        let name = &rest[1..end];
        let semi = rest[end..].starts_with(';') as usize;
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let v = match num.strip_prefix(['x', 'X']) {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => num.parse().ok(),
            };
            v.and_then(char::from_u32).map(|c| c.to_string())
        } else {
            NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        match decoded {
            Some(d) if !name.is_empty() => {
                out.push_str(&d);
                rest = &rest[end + semi..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
