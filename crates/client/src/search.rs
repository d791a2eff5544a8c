//! Full-text search that works for Chinese. SQLite's tokenizers cut Chinese either not at
//! all (a whole sentence is one token) or into trigrams (a two-character query such as
//! 五金 finds nothing). Here each message is turned into index terms before SQLite sees
//! it: every Chinese/Japanese/Korean character on its own and every pair of neighbours,
//! and Latin words and numbers lower-cased. A query asks for the same terms (a character
//! for a one-character query, all its pairs for longer ones, a prefix for a Latin word);
//! the candidates are then checked against the text itself, so a three-character query
//! or "YKK拉链" matches only where it is written contiguously.
//!
//! Everything here is pure; `LocalDb` stores and queries the terms.

use satchel_protocol::MessageBody;
use serde::{Deserialize, Serialize};

/// Longest query, in characters (a pasted paragraph is not a search).
pub const MAX_QUERY_CHARS: usize = 200;

/// Characters searched by single characters and pairs (no spaces between words).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // Extensions B–F, compatibility supplement
}

enum Run {
    Cjk(String),
    Word(String),
}

/// Splits text into runs of CJK characters and of other letters/digits (lower-cased).
fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut current: Option<Run> = None;
    for c in text.chars() {
        let next_is_cjk = is_cjk(c);
        let is_word = !next_is_cjk && c.is_alphanumeric();
        match (&mut current, next_is_cjk, is_word) {
            (Some(Run::Cjk(s)), true, _) => s.push(c),
            (Some(Run::Word(s)), _, true) => s.extend(c.to_lowercase()),
            (_, true, _) => {
                out.extend(current.take());
                current = Some(Run::Cjk(c.to_string()));
            }
            (_, _, true) => {
                out.extend(current.take());
                current = Some(Run::Word(c.to_lowercase().collect()));
            }
            _ => out.extend(current.take()),
        }
    }
    out.extend(current);
    out
}

/// What a text puts into the index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexEntry {
    /// Space-separated: CJK characters and neighbouring pairs, other words lower-cased.
    pub terms: String,
    /// The Latin words and numbers among them: the vocabulary a typed prefix expands into.
    pub words: Vec<String>,
}

/// The index terms of a text.
pub fn index_entry(text: &str) -> IndexEntry {
    let mut entry = IndexEntry::default();
    let mut terms = Vec::new();
    for run in runs(text) {
        match run {
            Run::Word(w) => {
                terms.push(w.clone());
                entry.words.push(w);
            }
            Run::Cjk(s) => {
                let chars: Vec<char> = s.chars().collect();
                for (i, c) in chars.iter().enumerate() {
                    terms.push(c.to_string());
                    if let Some(next) = chars.get(i + 1) {
                        terms.push(format!("{c}{next}"));
                    }
                }
            }
        }
    }
    entry.terms = terms.join(" ");
    entry
}

/// One thing every hit must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// An index term as written: a CJK character or pair.
    Exact(String),
    /// A Latin word or number as typed, which matches any indexed word it begins.
    Prefix(String),
}

/// The terms a query asks for: a character for a one-character Chinese query, every
/// neighbouring pair for a longer one, a prefix for each Latin word.
pub fn query_terms(query: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    for run in runs(query) {
        match run {
            Run::Word(w) => terms.push(Term::Prefix(w)),
            Run::Cjk(s) => {
                let chars: Vec<char> = s.chars().collect();
                if chars.len() == 1 {
                    terms.push(Term::Exact(s));
                } else {
                    for pair in chars.windows(2) {
                        terms.push(Term::Exact(pair.iter().collect()));
                    }
                }
            }
        }
    }
    terms
}

/// The smallest string above every string beginning with `prefix` (for a range scan
/// over the vocabulary).
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// An FTS5 expression requiring every group; within a group, any one alternative.
/// A `Prefix` alternative uses FTS5's prefix operator. `None` when there is nothing to
/// ask for or a group has no alternatives (nothing can match).
pub fn match_expression(groups: &[Vec<Term>]) -> Option<String> {
    let quote = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
    if groups.is_empty() || groups.iter().any(Vec::is_empty) {
        return None;
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|group| {
            let alternatives: Vec<String> = group
                .iter()
                .map(|term| match term {
                    Term::Exact(t) => quote(t),
                    Term::Prefix(p) => format!("{}*", quote(p)),
                })
                .collect();
            match alternatives.as_slice() {
                [one] => one.clone(),
                _ => format!("({})", alternatives.join(" OR ")),
            }
        })
        .collect();
    Some(groups.join(" AND "))
}

/// The query's parts as they must appear in a matching text (lower-cased, split at
/// whitespace): each one contiguous.
pub fn needles(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|n| !n.is_empty())
        .collect()
}

/// Whether a lower-cased text contains every needle (the check after the index
/// narrowed the candidates).
pub fn contains_all(lower: &str, needles: &[String]) -> bool {
    needles.iter().all(|n| lower.contains(n.as_str()))
}

/// How well a lower-cased text matches: occurrences of the needles, the whole query
/// written as one counting extra.
pub fn relevance(lower: &str, needles: &[String]) -> usize {
    let text = lower;
    let occurrences: usize = needles
        .iter()
        .map(|n| text.matches(n.as_str()).count())
        .sum();
    let whole = needles.join(" ");
    occurrences
        + if needles.len() > 1 && text.contains(&whole) {
            5
        } else {
            0
        }
}

/// What of a message is searchable: its text, caption, file name, a card's item and
/// value, comments, progress text, shipping details.
pub fn searchable_text(body: &MessageBody) -> String {
    let mut parts: Vec<&str> = Vec::new();
    match body {
        MessageBody::Text { text, .. } | MessageBody::Edit { text, .. } => parts.push(text),
        MessageBody::Image {
            attachment,
            caption,
        }
        | MessageBody::Video {
            attachment,
            caption,
        }
        | MessageBody::File {
            attachment,
            caption,
        } => {
            parts.push(caption);
            parts.push(&attachment.name);
        }
        MessageBody::Voice { .. }
        | MessageBody::Recall { .. }
        | MessageBody::AnnotationStatus { .. } => {}
        MessageBody::ConfirmationRequest { item, value, .. } => {
            parts.push(item);
            parts.push(value);
        }
        MessageBody::ConfirmationAnswer { comment, .. } => parts.push(comment),
        MessageBody::StageChange { reason, .. } => parts.push(reason),
        MessageBody::ProgressUpdate { text, .. } => parts.push(text),
        MessageBody::Shipment {
            carrier,
            tracking_numbers,
        } => {
            parts.push(carrier);
            parts.extend(tracking_numbers.iter().map(String::as_str));
        }
        MessageBody::OrderEdit { title, .. } => parts.extend(title.as_deref()),
        MessageBody::Annotation { comment, .. } => parts.push(comment),
        MessageBody::System { text } => parts.push(text),
    }
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Up to `width` characters of `text` around the first needle, with an ellipsis where
/// it was cut.
pub fn snippet(text: &str, needles: &[String], width: usize) -> String {
    let lower = text.to_lowercase();
    let chars: Vec<char> = text.chars().collect();
    // Lower-casing can change byte lengths; find the needle's character position.
    let at = needles
        .iter()
        .filter_map(|n| lower.find(n.as_str()))
        .min()
        .map_or(0, |byte| lower[..byte].chars().count());
    let start = at.saturating_sub(width / 3).min(chars.len());
    let end = (start + width).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    out = out.replace('\n', " ");
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Which messages a search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SearchKind {
    Photos,
    Files,
    Confirmations,
}

impl SearchKind {
    /// The message kinds it stands for.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            SearchKind::Photos => &["image"],
            SearchKind::Files => &["file", "video"],
            SearchKind::Confirmations => &["confirmation_request", "confirmation_answer"],
        }
    }
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SearchOrder {
    #[default]
    Newest,
    Relevance,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_indexed_by_characters_and_pairs_and_words_lower_cased() {
        let entry = index_entry("YKK拉链, PU皮");
        assert_eq!(entry.terms, "ykk 拉 拉链 链 pu 皮");
        assert_eq!(entry.words, ["ykk", "pu"]);
        assert_eq!(index_entry("TB-2026-031").terms, "tb 2026 031");
    }

    fn groups(query: &str) -> Vec<Vec<Term>> {
        query_terms(query).into_iter().map(|t| vec![t]).collect()
    }

    #[test]
    fn queries_ask_for_characters_pairs_and_prefixes() {
        assert_eq!(match_expression(&groups("五")).as_deref(), Some("\"五\""));
        assert_eq!(
            match_expression(&groups("五金")).as_deref(),
            Some("\"五金\"")
        );
        assert_eq!(
            match_expression(&groups("色号表")).as_deref(),
            Some("\"色号\" AND \"号表\"")
        );
        assert_eq!(
            match_expression(&groups("YKK拉链")).as_deref(),
            Some("\"ykk\"* AND \"拉链\"")
        );
        assert_eq!(match_expression(&groups("  ,. ")), None);
        // Quotes in a query cannot break out of the expression.
        assert_eq!(
            match_expression(&groups("a\"b")).as_deref(),
            Some("\"a\"* AND \"b\"*")
        );
    }

    #[test]
    fn an_expanded_prefix_is_any_of_its_words_and_an_unknown_one_matches_nothing() {
        let zip = vec![Term::Exact("zipped".into()), Term::Exact("zipper".into())];
        let chain = vec![Term::Exact("拉链".into())];
        assert_eq!(
            match_expression(&[zip, chain.clone()]).as_deref(),
            Some("(\"zipped\" OR \"zipper\") AND \"拉链\"")
        );
        assert_eq!(match_expression(&[vec![], chain]), None);
    }

    #[test]
    fn a_prefix_range_ends_above_every_word_it_begins() {
        let end = prefix_end("zip");
        for word in ["zip", "zipper", "zipé", "zip中"] {
            assert!(("zip"..end.as_str()).contains(&word), "{word}");
        }
        assert!(!("zip"..end.as_str()).contains(&"ziq"));
    }

    #[test]
    fn snippets_centre_on_the_match() {
        let text = format!("{}YKK拉链{}", "前".repeat(100), "后".repeat(100));
        let s = snippet(&text, &needles("ykk拉链"), 30);
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("YKK拉链"),
            "{s}"
        );
    }
}
