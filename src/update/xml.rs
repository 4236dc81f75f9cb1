//! XML as CAKE's wire speaks it: leaf elements by local name, whatever the namespace or prefix.
//! Shared by the answer parser and the emulator's SOAP binding.

use quick_xml::events::Event;

/// One leaf element of an XML document: its parent's and its own local names and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub parent: String,
    pub name: String,
    pub value: String,
}

/// Walks an XML document and returns its leaf elements, names matched by local name whatever
/// the namespace. `None` when the bytes are not a complete XML document (a BOM is fine).
#[must_use]
pub fn xml_leaves(body: &[u8]) -> Option<Vec<Leaf>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    if !text.trim_start().starts_with('<') {
        return None;
    }
    // No trimming: a leaf's text is kept exactly (callers trim where the protocol allows).
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut leaves = Vec::new();
    let mut current = String::new();
    let mut has_child = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                stack.push(e.local_name().as_ref().to_string());
                current.clear();
                has_child = false;
            }
            Ok(Event::Empty(e)) => {
                leaves.push(Leaf {
                    parent: stack.last().cloned().unwrap_or_default(),
                    name: e.local_name().as_ref().to_string(),
                    value: String::new(),
                });
                has_child = true;
            }
            Ok(Event::Text(t)) => current.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => current.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    current.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    current.push_str(s);
                }
            }
            Ok(Event::End(_)) => {
                let name = stack.pop().unwrap_or_default();
                if !has_child {
                    leaves.push(Leaf {
                        parent: stack.last().cloned().unwrap_or_default(),
                        name,
                        value: std::mem::take(&mut current),
                    });
                }
                current.clear();
                has_child = true;
            }
            Ok(Event::Eof) if stack.is_empty() => return Some(leaves),
            // Truncated (open elements at the end) or malformed.
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
