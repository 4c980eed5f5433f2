//! Byte offsets to the `line:column` positions people and editors use.

/// Line starts of one text, so that many offsets can be located without rescanning.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text` once; every later lookup is a binary search.
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(text).map(|i| i + 1));
        LineIndex { text, starts }
    }

    /// 1-based line and column of `offset`. Columns count characters, not bytes, so a
    /// position after a multi-byte character still matches what an editor shows.
    pub fn locate(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line_idx).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (to_u32(line_idx + 1), to_u32(column + 1))
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn first_line_and_later_lines() {
        let idx = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(idx.locate(0), (1, 1));
        assert_eq!(idx.locate(1), (1, 2));
        assert_eq!(idx.locate(3), (2, 1));
        assert_eq!(idx.locate(6), (3, 1));
        assert_eq!(idx.locate(8), (4, 2));
    }

    #[test]
    fn columns_count_characters() {
        let idx = LineIndex::new("é = 1\nkey");
        // 'é' is two bytes; the '=' sits at byte 3 but column 3.
        assert_eq!(idx.locate(3), (1, 3));
    }

    #[test]
    fn offsets_past_the_end_clamp() {
        let idx = LineIndex::new("a\n");
        assert_eq!(idx.locate(100), (2, 1));
    }
}
