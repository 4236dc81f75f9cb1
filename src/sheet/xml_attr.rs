//! A workbook's XML as the layout and the limits read it: an element's attribute, and the
//! columns as the spreadsheet names them.

use quick_xml::events::BytesStart;

/// The value of the attribute whose local name is `name`, unescaped.
pub(super) fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| {
            quick_xml::escape::unescape(&a.value)
                .map_or_else(|_| a.value.to_string(), std::borrow::Cow::into_owned)
        })
}

/// `A`, `B`, … `Z`, `AA`: a column as the spreadsheet names it.
pub(crate) fn column_name(mut i: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + u8::try_from(i % 26).unwrap_or(0));
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}
