//! Which QEMU devices a binary contains, read from its QOM type names.
//!
//! QEMU registers every device class under a type name string (`virtio-sound-pci`,
//! `pvrdma`, `am53c974`), a C string literal the compiler puts in `.rodata`. A build
//! configured without a device has no such string, so the device's bugs are not in that
//! binary. Three cautions shape the search:
//! - Absence only means something when the strings were readable at all: the anchors are
//!   type names every QEMU system emulator registers; when one is missing (section headers
//!   stripped, a packed binary, not ELF) nothing is concluded.
//! - The linker merges string tails (`esp\0` may live inside `sysbus-esp\0`), so a name
//!   counts as present when it ends any NUL-terminated string: a suffix match can only make
//!   a device look present, never absent.
//! - Names that also appear in other tables are not used: a build without virtio-snd still
//!   holds the bare word `virtio-sound` in its virtio device-id name table, so the catalogue
//!   lists `virtio-sound-device` and `virtio-sound-pci`, never `virtio-sound`.
//!
//! Debian builds some devices as loadable modules (`hw-display-qxl.so`); the main binary
//! still lists every module's type names in its module table (`qemu_modinfo`), so a device
//! built as a module counts as present.

use super::elf;
use hvguard_core::DeviceInventory;
use std::collections::BTreeSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

/// Type names every QEMU system emulator with virtio registers (all Kata builds do).
pub const ANCHORS: &[&str] = &["virtio-blk-device", "virtio-net-device"];

/// The type names looked for: the devices the advisory taxonomy names, checked against
/// Debian 12's `qemu-system-x86_64` 7.2.22 (which has all but the newer or other-arch
/// ones: virtio-sound, igb, vhost-vdpa-device, sm501, xgmac, arm_gic, pseries).
pub const TYPE_NAMES: &[&str] = &[
    "AC97",
    "ES1370",
    "VGA",
    "acpi-erst",
    "am53c974",
    "amd-iommu",
    "arm_gic",
    "ati-vga",
    "cirrus-vga",
    "dc390",
    "dwc2-usb",
    "e1000",
    "e1000e",
    "generic-sdhci",
    "hv-syndbg",
    "i82550",
    "i82551",
    "i82557a",
    "i82557b",
    "i82557c",
    "i82558a",
    "i82558b",
    "i82559a",
    "i82559b",
    "i82559c",
    "i82559er",
    "i82562",
    "i82801",
    "ich9-ahci",
    "ich9-intel-hda",
    "ich9-usb-ehci1",
    "ide-cd",
    "ide-hd",
    "igb",
    "intel-hda",
    "intel-iommu",
    "isa-fdc",
    "lan9118",
    "lsi53c810",
    "lsi53c895a",
    "megasas",
    "megasas-gen2",
    "mptsas1068",
    "ne2k_pci",
    "nec-usb-xhci",
    "nvdimm",
    "nvme",
    "pci-ohci",
    "pcnet",
    "piix3-ide",
    "piix3-usb-uhci",
    "piix4-ide",
    "pseries-machine",
    "pvpanic",
    "pvpanic-pci",
    "pvrdma",
    "qemu-xhci",
    "qxl",
    "qxl-vga",
    "rocker",
    "rtl8139",
    "sd-card",
    "sdhci-pci",
    "sm501",
    "sysbus-esp",
    "sysbus-fdc",
    "sysbus-sm501",
    "tulip",
    "usb-bt-dongle",
    "usb-ehci",
    "usb-redir",
    "usb-uas",
    "vfio-pci",
    "vhost-user-fs-device",
    "vhost-user-gpu",
    "vhost-vdpa-device",
    "vhost-vsock-device",
    "virtio-9p-device",
    "virtio-balloon-device",
    "virtio-blk-device",
    "virtio-crypto-device",
    "virtio-gpu-device",
    "virtio-iommu-device",
    "virtio-mmio",
    "virtio-net-device",
    "virtio-rng-device",
    "virtio-scsi-device",
    "virtio-serial-device",
    "virtio-sound-device",
    "virtio-sound-pci",
    "vmxnet3",
    "xgmac",
];

/// A `.rodata` larger than this is not a QEMU build (Debian's is 1.8 MB).
const MAX_RODATA: u64 = 64 << 20;

/// What reading a binary's `.rodata` for type names gave: the part of a
/// [`DeviceInventory`] that depends on the file's bytes only (the binary facts cache keeps
/// it; the path is added when the inventory is made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeNames {
    /// Not ELF, stripped of section headers, or packed.
    NoRodata,
    /// A `.rodata` of this many bytes, larger than any QEMU build: not read.
    TooLarge(u64),
    /// The catalogue names found in `.rodata` (see [`names_in`]).
    Found(BTreeSet<&'static str>),
}

/// Reads the QOM type names of the binary behind `file`. A file without a readable
/// `.rodata` gives an inventory whose anchors are not found, and no present or absent names.
pub fn inventory<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    path: &Path,
) -> io::Result<DeviceInventory> {
    Ok(inventory_from(&read_type_names(file, file_len)?, path))
}

/// The catalogue names in the `.rodata` of the binary behind `file`.
pub fn read_type_names<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<TypeNames> {
    let Some(range) = elf::find_section(file, file_len, ".rodata")? else {
        return Ok(TypeNames::NoRodata);
    };
    if range.size > MAX_RODATA {
        return Ok(TypeNames::TooLarge(range.size));
    }
    let mut data = vec![0u8; range.size as usize];
    file.seek(SeekFrom::Start(range.offset))?;
    file.read_exact(&mut data)?;
    Ok(TypeNames::Found(names_in(&data)))
}

/// The inventory of the binary at `path` whose `.rodata` gave `names`.
pub fn inventory_from(names: &TypeNames, path: &Path) -> DeviceInventory {
    let mut out = DeviceInventory {
        source: format!(".rodata of {}", path.display()),
        anchors: ANCHORS.iter().map(|a| (*a).to_owned()).collect(),
        ..DeviceInventory::default()
    };
    let found = match names {
        TypeNames::NoRodata => {
            out.source = format!(
                "{} (no .rodata section: not ELF, stripped or packed)",
                path.display()
            );
            return out;
        }
        TypeNames::TooLarge(size) => {
            out.source = format!(
                ".rodata of {} is {size} bytes, larger than any QEMU build: not read",
                path.display()
            );
            return out;
        }
        TypeNames::Found(found) => found,
    };
    out.anchors_found = ANCHORS.iter().all(|a| found.contains(a));
    if out.anchors_found {
        for name in TYPE_NAMES {
            if found.contains(name) {
                out.present.insert((*name).to_owned());
            } else {
                out.absent.insert((*name).to_owned());
            }
        }
    }
    out
}

/// The catalogue as a trie of reversed names: walking it backwards from a NUL finds every
/// name that ends the string there.
struct ReversedTrie {
    /// Per node: (byte, child) pairs.
    children: Vec<Vec<(u8, usize)>>,
    /// Per node: the catalogue index of the name ending (read backwards) here.
    name: Vec<Option<usize>>,
    /// The root's children by byte (0: none): the first step is taken at every NUL.
    root: [usize; 256],
}

impl ReversedTrie {
    fn build() -> Self {
        let mut trie = ReversedTrie {
            children: vec![Vec::new()],
            name: vec![None],
            root: [0; 256],
        };
        for (index, name) in TYPE_NAMES.iter().enumerate() {
            let mut node = 0;
            for &b in name.as_bytes().iter().rev() {
                node = match trie.children[node].iter().find(|(c, _)| *c == b) {
                    Some(&(_, next)) => next,
                    None => {
                        trie.children.push(Vec::new());
                        trie.name.push(None);
                        let next = trie.children.len() - 1;
                        trie.children[node].push((b, next));
                        next
                    }
                };
            }
            trie.name[node] = Some(index);
        }
        for &(byte, child) in &trie.children[0] {
            trie.root[usize::from(byte)] = child;
        }
        trie
    }
}

fn trie() -> &'static ReversedTrie {
    static TRIE: OnceLock<ReversedTrie> = OnceLock::new();
    TRIE.get_or_init(ReversedTrie::build)
}

/// The catalogue names that end a NUL-terminated string in `data`.
///
/// Every name ends at a NUL, so only a NUL whose preceding byte ends some name starts a
/// walk of the reversed-name trie, a few bytes backwards: one linear pass over Debian's
/// 1.8 MB `.rodata` (a forward multi-pattern search keyed on the NUL byte, which is
/// everywhere in `.rodata`, is many times slower).
pub fn names_in(data: &[u8]) -> BTreeSet<&'static str> {
    let trie = trie();
    let mut found = BTreeSet::new();
    for end in 1..data.len() {
        if data[end] != 0 {
            continue;
        }
        let mut node = trie.root[usize::from(data[end - 1])];
        if node == 0 {
            continue;
        }
        let mut at = end - 1;
        loop {
            if let Some(name) = trie.name[node].and_then(|i| TYPE_NAMES.get(i)) {
                found.insert(*name);
            }
            if at == 0 {
                break;
            }
            at -= 1;
            let byte = data[at];
            match trie.children[node].iter().find(|(c, _)| *c == byte) {
                Some(&(_, next)) => node = next,
                None => break,
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn rodata(names: &[&str]) -> Vec<u8> {
        let mut v = b"QEMU emulator version 7.2.0\0".to_vec();
        for n in names {
            v.extend_from_slice(n.as_bytes());
            v.push(0);
        }
        v
    }

    #[test]
    fn catalogue_is_sorted_and_holds_the_anchors() {
        let mut sorted = TYPE_NAMES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, TYPE_NAMES);
        for a in ANCHORS {
            assert!(TYPE_NAMES.contains(a), "{a}");
        }
    }

    #[test]
    fn present_absent_and_the_id_table_trap() {
        // A 7.2 build: the virtio id table names `virtio-sound`, but no device registers.
        let data = rodata(&[
            "virtio-blk-device",
            "virtio-net-device",
            "virtio-sound",
            "sysbus-esp",
            "pvrdma",
        ]);
        let elf = elf::build_elf64(&[(".text", b"\x90"), (".rodata", &data)]);
        let inv = inventory(&mut Cursor::new(&elf), elf.len() as u64, Path::new("/q")).unwrap();
        assert!(inv.anchors_found);
        assert!(inv.present.contains("pvrdma"));
        assert!(inv.present.contains("sysbus-esp"));
        assert!(inv.absent.contains("virtio-sound-pci"));
        assert!(inv.absent.contains("virtio-sound-device"));
        assert_eq!(inv.present.len() + inv.absent.len(), TYPE_NAMES.len());
    }

    #[test]
    fn a_name_at_a_merged_string_tail_counts_as_present() {
        let found = names_in(b"\0hw-display-qxl-vga\0prefix-tulip\0");
        assert!(found.contains("qxl-vga"));
        assert!(found.contains("tulip"));
        assert!(!found.contains("qxl"));
    }

    /// The trie walk finds exactly what a plain search for `name\0` finds.
    #[test]
    fn matches_a_plain_search() {
        let mut data = Vec::new();
        for (i, name) in TYPE_NAMES.iter().enumerate() {
            match i % 4 {
                0 => data.extend_from_slice(name.as_bytes()),
                1 => data.extend_from_slice(format!("hw-{name}").as_bytes()),
                // Not at the end of a string: must not count.
                2 => data.extend_from_slice(format!("{name}-x").as_bytes()),
                _ => data.extend_from_slice(&name.as_bytes()[1..]),
            }
            data.push(0);
            data.extend_from_slice(&[0, 0, 0x7f, b'e']);
        }
        let plain: BTreeSet<&str> = TYPE_NAMES
            .iter()
            .copied()
            .filter(|n| {
                let mut p = n.as_bytes().to_vec();
                p.push(0);
                data.windows(p.len()).any(|w| w == p.as_slice())
            })
            .collect();
        assert_eq!(names_in(&data), plain);
        assert!(!plain.is_empty() && plain.len() < TYPE_NAMES.len());
        assert!(names_in(b"").is_empty() && names_in(b"\0\0pvrdma").is_empty());
        assert!(names_in(b"pvrdma\0").contains("pvrdma"));
    }

    #[test]
    fn missing_anchor_or_section_concludes_nothing() {
        let data = rodata(&["virtio-blk-device", "pvrdma"]);
        let elf = elf::build_elf64(&[(".rodata", &data)]);
        let inv = inventory(&mut Cursor::new(&elf), elf.len() as u64, Path::new("/q")).unwrap();
        assert!(!inv.anchors_found);
        assert!(inv.present.is_empty() && inv.absent.is_empty());
        let raw = rodata(&["virtio-blk-device", "virtio-net-device"]);
        let inv = inventory(&mut Cursor::new(&raw), raw.len() as u64, Path::new("/q")).unwrap();
        assert!(!inv.anchors_found);
        assert!(inv.source.contains("no .rodata"), "{}", inv.source);
    }
}
