//! The request header (versions 1 and 2) that every request starts with.

use super::cursor::Cursor;

pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// Where the body starts.
    pub end: usize,
}

/// The header at the start of `frame`: version 2 (`flexible`) adds a tagged-field section,
/// taken here only when empty; the client id is a classic nullable string in both. None when
/// it is not one this reader takes exactly.
pub fn read_request_header(frame: &[u8], flexible: bool) -> Option<RequestHeader> {
    let mut c = Cursor::new(frame, 0);
    let api_key = c.i16()?;
    let api_version = c.i16()?;
    let correlation_id = c.i32()?;
    let client_id = c.string(false, true)?;
    if flexible {
        c.no_tagged_fields()?;
    }
    Some(RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
        end: c.pos,
    })
}
