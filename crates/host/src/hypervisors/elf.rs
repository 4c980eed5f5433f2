//! Just enough ELF to find where a section lies in the file: the header, the section header
//! table and the section-name string table. Every size is checked against the file length
//! and a ceiling before anything is read.

use std::io::{self, Read, Seek, SeekFrom};

/// A section's byte range in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionRange {
    pub offset: u64,
    pub size: u64,
}

/// Section header tables beyond this are not something a compiler writes.
const MAX_TABLE_BYTES: u64 = 4 << 20;
const SHT_NOBITS: u32 = 8;

/// The file range of the section called `name`, or `None` when `file` is not an ELF file with
/// such a section (stripped of section headers, truncated, or not ELF at all).
pub fn find_section<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    name: &str,
) -> io::Result<Option<SectionRange>> {
    let mut ident = [0u8; 64];
    file.seek(SeekFrom::Start(0))?;
    if read_up_to(file, &mut ident)? < 52 || &ident[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return Ok(None),
    };
    let le = match ident[5] {
        1 => true,
        2 => false,
        _ => return Ok(None),
    };
    let rd = Reader { le };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            rd.u64(&ident[0x28..]),
            u64::from(rd.u16(&ident[0x3A..])),
            u64::from(rd.u16(&ident[0x3C..])),
            u64::from(rd.u16(&ident[0x3E..])),
        )
    } else {
        (
            u64::from(rd.u32(&ident[0x20..])),
            u64::from(rd.u16(&ident[0x2E..])),
            u64::from(rd.u16(&ident[0x30..])),
            u64::from(rd.u16(&ident[0x32..])),
        )
    };
    let min_entry = if wide { 64 } else { 40 };
    let table_len = shentsize.saturating_mul(shnum);
    if shnum == 0
        || shentsize < min_entry
        || shstrndx >= shnum
        || table_len > MAX_TABLE_BYTES
        || shoff
            .checked_add(table_len)
            .is_none_or(|end| end > file_len)
    {
        return Ok(None);
    }
    let mut table = vec![0u8; table_len as usize];
    file.seek(SeekFrom::Start(shoff))?;
    file.read_exact(&mut table)?;
    let header = |i: u64| {
        let e = &table[(i * shentsize) as usize..][..shentsize as usize];
        if wide {
            Header {
                name: rd.u32(e),
                kind: rd.u32(&e[4..]),
                offset: rd.u64(&e[0x18..]),
                size: rd.u64(&e[0x20..]),
            }
        } else {
            Header {
                name: rd.u32(e),
                kind: rd.u32(&e[4..]),
                offset: u64::from(rd.u32(&e[0x10..])),
                size: u64::from(rd.u32(&e[0x14..])),
            }
        }
    };
    let names = header(shstrndx);
    if names.size > MAX_TABLE_BYTES || !names.within(file_len) {
        return Ok(None);
    }
    let mut strtab = vec![0u8; names.size as usize];
    file.seek(SeekFrom::Start(names.offset))?;
    file.read_exact(&mut strtab)?;
    for i in 0..shnum {
        let h = header(i);
        let Some(rest) = strtab.get(h.name as usize..) else {
            continue;
        };
        let end = memchr::memchr(0, rest).unwrap_or(rest.len());
        if &rest[..end] == name.as_bytes() && h.kind != SHT_NOBITS && h.within(file_len) {
            return Ok(Some(SectionRange {
                offset: h.offset,
                size: h.size,
            }));
        }
    }
    Ok(None)
}

struct Header {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
}

impl Header {
    fn within(&self, file_len: u64) -> bool {
        self.offset
            .checked_add(self.size)
            .is_some_and(|end| end <= file_len)
    }
}

#[derive(Clone, Copy)]
struct Reader {
    le: bool,
}

impl Reader {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
}

/// Reads until `buf` is full or the input ends (a short read is not the end of a file).
pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Builds a minimal little-endian ELF64 file with the given sections, for tests.
#[cfg(test)]
pub(crate) fn build_elf64(sections: &[(&str, &[u8])]) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut name_offsets = Vec::new();
    for (name, _) in sections.iter().copied().chain([(".shstrtab", &[][..])]) {
        name_offsets.push(strtab.len() as u32);
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
    }
    let mut file = vec![0u8; 64];
    let mut placed = Vec::new();
    for (_, data) in sections {
        placed.push((file.len() as u64, data.len() as u64));
        file.extend_from_slice(data);
    }
    placed.push((file.len() as u64, strtab.len() as u64));
    file.extend_from_slice(&strtab);
    let shoff = file.len() as u64;
    file.extend_from_slice(&[0u8; 64]);
    for (i, (offset, size)) in placed.iter().enumerate() {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(&name_offsets[i].to_le_bytes());
        h[4..8].copy_from_slice(&(if i + 1 == placed.len() { 3u32 } else { 1u32 }).to_le_bytes());
        h[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
        file.extend_from_slice(&h);
    }
    let shnum = placed.len() as u16 + 1;
    file[..4].copy_from_slice(b"\x7fELF");
    file[4] = 2;
    file[5] = 1;
    file[6] = 1;
    file[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    file[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
    file[0x3C..0x3E].copy_from_slice(&shnum.to_le_bytes());
    file[0x3E..0x40].copy_from_slice(&(shnum - 1).to_le_bytes());
    file
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn finds_rodata_in_a_built_elf() {
        let elf = build_elf64(&[(".text", b"\x90\x90\x90"), (".rodata", b"hello\0")]);
        let len = elf.len() as u64;
        let range = find_section(&mut Cursor::new(&elf), len, ".rodata")
            .unwrap()
            .unwrap();
        assert_eq!(
            &elf[range.offset as usize..][..range.size as usize],
            b"hello\0"
        );
        assert_eq!(
            find_section(&mut Cursor::new(&elf), len, ".data").unwrap(),
            None
        );
    }

    #[test]
    fn garbage_and_truncated_files_are_not_elf() {
        let junk = b"\x7fELF\x02\x01\x01junkjunk".to_vec();
        let len = junk.len() as u64;
        assert_eq!(
            find_section(&mut Cursor::new(&junk), len, ".rodata").unwrap(),
            None
        );
        let mut elf = build_elf64(&[(".rodata", b"x")]);
        elf.truncate(elf.len() - 10);
        let len = elf.len() as u64;
        assert_eq!(
            find_section(&mut Cursor::new(&elf), len, ".rodata").unwrap(),
            None
        );
    }
}
