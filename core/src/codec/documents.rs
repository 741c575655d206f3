//! Splitting an input into documents: YAML streams on `---` lines, JSON streams value by value.

/// One document's text and the line (from 1) where it starts in the whole input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Document<'a> {
    pub text: &'a str,
    pub first_line: usize,
}

/// Splits a YAML stream on document markers (`---` at the start of a line, `...` ends a document).
/// Documents holding only comments or blank lines are dropped.
pub(crate) fn split_yaml(input: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0; // byte offset of the current document
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in input.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let bare = line.trim_end();
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_start || is_end {
            push_doc(&mut docs, &input[start..offset], start_line);
            if is_start && bare.len() > 3 {
                // Content after the marker on the same line (`--- {a: 1}` or `--- # comment`).
                start = offset + 3;
                start_line = line_no;
            } else {
                start = offset + line.len();
                start_line = line_no + 1;
            }
        }
        offset += line.len();
    }
    push_doc(&mut docs, &input[start..], start_line);
    docs
}

fn push_doc<'a>(docs: &mut Vec<Document<'a>>, text: &'a str, first_line: usize) {
    let has_content = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    if has_content {
        docs.push(Document { text, first_line });
    }
}

/// Line number (from 1) of a byte offset.
pub(crate) fn line_of(input: &str, offset: usize) -> usize {
    input.as_bytes()[..offset.min(input.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_markers_and_tracks_lines() {
        let input = "# header\n---\na: 1\n---\n\n# only a comment\n---\nb: 2\n...\n--- {c: 3}\n";
        let docs = split_yaml(input);
        assert_eq!(docs.len(), 3);
        assert_eq!(
            docs[0],
            Document {
                text: "a: 1\n",
                first_line: 3
            }
        );
        assert_eq!(docs[1].text, "b: 2\n");
        assert_eq!(docs[1].first_line, 8);
        assert_eq!(docs[2].text.trim(), "{c: 3}");
        assert_eq!(docs[2].first_line, 10);
    }

    #[test]
    fn a_single_document_needs_no_marker() {
        let docs = split_yaml("a: 1\nb: 2");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].first_line, 1);
    }

    #[test]
    fn dashes_inside_a_document_are_not_markers() {
        let docs = split_yaml("a: |\n  ---x\nb: '---'\n");
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn lines_of_offsets() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
