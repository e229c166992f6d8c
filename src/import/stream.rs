//! Reading an extract in bounded memory (issue 16): a first pass hashes the
//! file and decides its encoding (as [`super::csv::decode`] would for the
//! whole file), a second decodes it a chunk at a time, each chunk cut at a
//! line end, so a ten-million-row file never has to be held whole.

use std::io::{Read, Seek, SeekFrom};

use encoding_rs::{Decoder, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use sha2::{Digest, Sha256};

use super::csv::{CsvError, TextEncoding};

/// Bytes read at a time.
const BLOCK: usize = 1 << 20;

/// What the first pass found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// How the bytes are to be decoded.
    pub encoding: TextEncoding,
    /// Size in bytes.
    pub len: u64,
}

fn unreadable(e: std::io::Error) -> CsvError {
    CsvError::Unreadable(e.to_string())
}

fn encoding_of(e: TextEncoding) -> (&'static Encoding, usize) {
    match e {
        TextEncoding::Utf8 => (UTF_8, 0),
        TextEncoding::Utf8Bom => (UTF_8, 3),
        TextEncoding::Utf16Le => (UTF_16LE, 2),
        TextEncoding::Utf16Be => (UTF_16BE, 2),
        TextEncoding::Windows1252 => (WINDOWS_1252, 0),
    }
}

/// Reads `source` once: its hash, its encoding (a BOM decides; else UTF-8 if
/// every byte sequence is valid UTF-8; else Windows-1252), and whether it is
/// text at all (no NUL character) with something besides white space.
pub fn scan(source: &mut impl Read) -> Result<Scan, CsvError> {
    let mut sha = Sha256::new();
    let mut head = [0u8; 3];
    let mut h = 0;
    while h < 3 {
        let n = source.read(&mut head[h..]).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        h += n;
    }
    sha.update(&head[..h]);
    let head = &head[..h];
    let (bom, skip) = if head.starts_with(b"\xEF\xBB\xBF") {
        (Some(TextEncoding::Utf8Bom), 3)
    } else if head.starts_with(b"\xFF\xFE") {
        (Some(TextEncoding::Utf16Le), 2)
    } else if head.starts_with(b"\xFE\xFF") {
        (Some(TextEncoding::Utf16Be), 2)
    } else {
        (None, 0)
    };
    let mut check = TextCheck {
        decoder: match bom {
            Some(e @ (TextEncoding::Utf16Le | TextEncoding::Utf16Be)) => {
                Some(encoding_of(e).0.new_decoder_without_bom_handling())
            }
            _ => None,
        },
        pending: Vec::new(),
        utf8_valid: true,
        nul: false,
        visible: false,
        scratch: String::new(),
    };
    check.feed(&head[skip..], false);
    let mut block = vec![0u8; BLOCK];
    let mut len = h as u64;
    loop {
        let n = source.read(&mut block).map_err(unreadable)?;
        sha.update(&block[..n]);
        len += n as u64;
        check.feed(&block[..n], n == 0);
        if n == 0 {
            break;
        }
    }
    let encoding = match bom {
        Some(e) => e,
        None if check.utf8_valid => TextEncoding::Utf8,
        None => TextEncoding::Windows1252,
    };
    if check.nul {
        return Err(CsvError::NotText);
    }
    if !check.visible {
        return Err(CsvError::Empty);
    }
    Ok(Scan {
        sha256: sha.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        encoding,
        len,
    })
}

/// The first pass's checks, a block at a time.
struct TextCheck {
    /// UTF-16 files are decoded to look for NUL characters.
    decoder: Option<Decoder>,
    /// Bytes of a UTF-8 character cut at a block's end.
    pending: Vec<u8>,
    utf8_valid: bool,
    nul: bool,
    visible: bool,
    scratch: String,
}

impl TextCheck {
    fn feed(&mut self, data: &[u8], last: bool) {
        if let Some(d) = &mut self.decoder {
            self.scratch.clear();
            self.scratch.reserve(
                d.max_utf8_buffer_length(data.len())
                    .unwrap_or(data.len().saturating_mul(3)),
            );
            let _ = d.decode_to_string(data, &mut self.scratch, last);
            self.nul |= self.scratch.contains('\0');
            self.visible |= self.scratch.chars().any(|c| !c.is_whitespace());
            return;
        }
        self.nul |= data.contains(&0);
        self.visible |= data.iter().any(|b| !b.is_ascii_whitespace());
        if !self.utf8_valid {
            return;
        }
        self.pending.extend_from_slice(data);
        match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.clear(),
            // A character cut at the block's end: keep its start for the next.
            Err(e) if e.error_len().is_none() && !last => {
                self.pending.drain(..e.valid_up_to());
            }
            Err(_) => {
                self.utf8_valid = false;
                self.pending.clear();
            }
        }
    }
}

/// The file's text a chunk at a time, each chunk ending at a line end (or the
/// end of the file), with the physical line number it starts at.
pub struct Chunks<R> {
    source: R,
    decoder: Decoder,
    block: Vec<u8>,
    /// Decoded text not yet handed out (the start of an unfinished line).
    carry: String,
    /// Decoded text to hand out per chunk, at least.
    chunk: usize,
    line: u64,
    offset: u64,
    done: bool,
}

/// One chunk of text.
#[derive(Debug)]
pub struct Chunk {
    /// Whole lines.
    pub text: String,
    /// Physical line number of its first line.
    pub first_line: u64,
    /// Bytes of decoded text before it.
    pub offset: u64,
}

impl<R: Read + Seek> Chunks<R> {
    /// Reads `source` from its start, decoded as `encoding`, in chunks of
    /// about `chunk` bytes of text.
    pub fn new(mut source: R, encoding: TextEncoding, chunk: usize) -> Result<Chunks<R>, CsvError> {
        let (enc, skip) = encoding_of(encoding);
        source
            .seek(SeekFrom::Start(skip as u64))
            .map_err(unreadable)?;
        Ok(Chunks {
            source,
            decoder: enc.new_decoder_without_bom_handling(),
            block: vec![0u8; BLOCK],
            carry: String::new(),
            chunk: chunk.max(1),
            line: 1,
            offset: 0,
            done: false,
        })
    }

    /// The next chunk, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, CsvError> {
        while !self.done && self.carry.len() < self.chunk {
            let n = self.source.read(&mut self.block).map_err(unreadable)?;
            let last = n == 0;
            let need = self
                .decoder
                .max_utf8_buffer_length(n)
                .unwrap_or(n.saturating_mul(3));
            self.carry.reserve(need);
            let _ = self
                .decoder
                .decode_to_string(&self.block[..n], &mut self.carry, last);
            self.done = last;
        }
        if self.carry.is_empty() {
            return Ok(None);
        }
        let cut = if self.done {
            self.carry.len()
        } else {
            // After the last line end; a `\r` at the very end may be the
            // first half of `\r\n`, so it waits for the next chunk.
            let b = self.carry.as_bytes();
            let mut k = b.len();
            loop {
                match b[..k].iter().rposition(|c| *c == b'\n' || *c == b'\r') {
                    Some(i) if b[i] == b'\r' && i + 1 == b.len() => k = i,
                    Some(i) => break i + 1,
                    None => break 0,
                }
            }
        };
        if cut == 0 {
            // One line longer than a chunk: read on until it ends.
            self.chunk = self.chunk.saturating_mul(2);
            return self.next_chunk();
        }
        let rest = self.carry.split_off(cut);
        let text = std::mem::replace(&mut self.carry, rest);
        let first_line = self.line;
        self.line += line_breaks(text.as_bytes());
        let offset = self.offset;
        self.offset += text.len() as u64;
        Ok(Some(Chunk {
            text,
            first_line,
            offset,
        }))
    }
}

/// Line breaks in `b` (`\r\n` counts once; a lone `\r` is one).
fn line_breaks(b: &[u8]) -> u64 {
    let mut n = 0u64;
    for (i, c) in b.iter().enumerate() {
        if *c == b'\n' || (*c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::csv::decode;
    use std::io::Cursor;

    fn chunks_of(bytes: &[u8], size: usize) -> (Scan, Vec<Chunk>) {
        let scan = scan(&mut Cursor::new(bytes)).unwrap();
        let mut c = Chunks::new(Cursor::new(bytes), scan.encoding, size).unwrap();
        let mut out = Vec::new();
        while let Some(ch) = c.next_chunk().unwrap() {
            out.push(ch);
        }
        (scan, out)
    }

    #[test]
    fn chunks_put_back_together_are_the_decoded_file() {
        let text = "a,b\r\n1,é\r\n2,\u{20ac}\r3,x\n\n4,y\r\n5,z";
        let mut files: Vec<Vec<u8>> = vec![text.as_bytes().to_vec()];
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        files.push(bom);
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        files.push(le);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        files.push(be);
        files.push(b"a,b\n1,caf\xe9\r\n2,x\n".to_vec());
        for bytes in files {
            let (whole, enc) = decode(&bytes).unwrap();
            for size in [1, 2, 3, 5, 7, 64] {
                let (scan, chunks) = chunks_of(&bytes, size);
                assert_eq!(scan.encoding, enc);
                assert_eq!(scan.len, bytes.len() as u64);
                let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
                assert_eq!(joined, whole, "size {size}");
                for c in &chunks {
                    // Each chunk starts on the line its place in the file says.
                    let before = &whole[..c.offset as usize];
                    assert_eq!(c.first_line, 1 + line_breaks(before.as_bytes()));
                    assert!(!c.text.is_empty());
                }
                for w in chunks.windows(2) {
                    // No `\r\n` is cut in two.
                    assert!(!(w[0].text.ends_with('\r') && w[1].text.starts_with('\n')));
                }
            }
        }
    }

    #[test]
    fn the_scan_refuses_what_decode_refuses_and_hashes_the_bytes() {
        assert_eq!(
            scan(&mut Cursor::new(b"a,b\0c")).unwrap_err(),
            CsvError::NotText
        );
        assert_eq!(
            scan(&mut Cursor::new(b"  \n")).unwrap_err(),
            CsvError::Empty
        );
        assert_eq!(scan(&mut Cursor::new(b"")).unwrap_err(), CsvError::Empty);
        let s = scan(&mut Cursor::new(b"abc")).unwrap();
        assert_eq!(
            s.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // A UTF-8 character cut by the block boundary is still UTF-8.
        let mut big = vec![b'a'; BLOCK - 1];
        big.extend_from_slice("é\n".as_bytes());
        assert_eq!(
            scan(&mut Cursor::new(&big)).unwrap().encoding,
            TextEncoding::Utf8
        );
    }
}
