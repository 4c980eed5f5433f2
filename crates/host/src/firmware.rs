//! Firmware: UEFI or legacy BIOS boot, and the UEFI Secure Boot state.

use crate::probe_io::{probe_from_error, probe_result};
use hvguard_core::{BootMode, FirmwareFacts, HostRoot, Probe};

/// Present only when the kernel was booted through UEFI.
pub const SYS_EFI: &str = "/sys/firmware/efi";
/// The efivarfs mount point.
pub const EFIVARS: &str = "/sys/firmware/efi/efivars";
/// The global `SecureBoot` variable (EFI_GLOBAL_VARIABLE GUID).
pub const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// efivarfs files are 4 attribute bytes plus the data; this variable's data is one byte.
const SECURE_BOOT_LIMIT: u64 = 64;

/// Why a `SecureBoot` variable's bytes cannot be read as a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecureBootError {
    #[error("{0} bytes; expected 4 attribute bytes and a value byte")]
    TooShort(usize),
    #[error("value byte is {0}; expected 0 or 1")]
    UnexpectedValue(u8),
}

/// Collects the firmware facts.
pub fn probe_firmware(root: &HostRoot) -> FirmwareFacts {
    let boot_mode = probe_boot_mode(root);
    let secure_boot = match &boot_mode {
        Probe::Found {
            value: BootMode::Uefi,
        } => probe_secure_boot(root),
        // Secure Boot is a UEFI feature: a legacy BIOS boot has it off by definition.
        Probe::Found {
            value: BootMode::LegacyBios,
        } => Probe::found(false),
        other => other.as_ref().map(|_| false),
    };
    FirmwareFacts {
        boot_mode,
        secure_boot,
    }
}

/// UEFI when `/sys/firmware/efi` exists, legacy BIOS when sysfs is there without it.
pub fn probe_boot_mode(root: &HostRoot) -> Probe<BootMode> {
    match root.metadata(SYS_EFI) {
        Ok(_) => Probe::found(BootMode::Uefi),
        Err(err) if err.is_not_found() => match root.metadata("/sys") {
            Ok(meta) if meta.is_dir() => Probe::found(BootMode::LegacyBios),
            Ok(_) => Probe::unsupported("/sys: not a directory"),
            Err(err) => probe_from_error(err),
        },
        Err(err) => probe_from_error(err),
    }
}

/// The `SecureBoot` variable on a UEFI host.
///
/// An empty or missing efivars folder means efivarfs is not mounted (or was not captured):
/// unknown. A populated folder without the variable means firmware without Secure Boot: off.
pub fn probe_secure_boot(root: &HostRoot) -> Probe<bool> {
    match root.read_bytes(SECURE_BOOT_VAR, SECURE_BOOT_LIMIT) {
        Ok(bytes) => match parse_secure_boot(&bytes) {
            Ok(on) => Probe::found(on),
            Err(err) => Probe::unsupported(format!("{SECURE_BOOT_VAR}: {err}")),
        },
        Err(err) if err.is_not_found() => match probe_result(root.read_dir_os(EFIVARS)) {
            Probe::Found { value } if value.is_empty() => {
                Probe::unsupported(format!("{EFIVARS} is empty: efivarfs is not mounted"))
            }
            Probe::Found { .. } => Probe::found(false),
            other => other.map(|_| false),
        },
        Err(err) => probe_from_error(err),
    }
}

/// Reads an efivarfs `SecureBoot` file: 4 little-endian attribute bytes, then the value
/// byte (1 = Secure Boot enforced).
pub fn parse_secure_boot(bytes: &[u8]) -> Result<bool, SecureBootError> {
    match bytes.get(4) {
        None => Err(SecureBootError::TooShort(bytes.len())),
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(&v) => Err(SecureBootError::UnexpectedValue(v)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn parses_the_value_byte() {
        assert_eq!(parse_secure_boot(&[6, 0, 0, 0, 1]), Ok(true));
        assert_eq!(parse_secure_boot(&[6, 0, 0, 0, 0]), Ok(false));
        assert_eq!(
            parse_secure_boot(&[6, 0, 0, 0]),
            Err(SecureBootError::TooShort(4))
        );
        assert_eq!(parse_secure_boot(&[]), Err(SecureBootError::TooShort(0)));
        assert_eq!(
            parse_secure_boot(&[6, 0, 0, 0, 7]),
            Err(SecureBootError::UnexpectedValue(7))
        );
    }

    #[test]
    fn boot_modes_and_variable_states() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert_eq!(probe_firmware(&root).boot_mode, Probe::absent("/sys"));
        fs::create_dir_all(dir.path().join("sys/firmware")).unwrap();
        let fw = probe_firmware(&root);
        assert_eq!(fw.boot_mode, Probe::found(BootMode::LegacyBios));
        assert_eq!(fw.secure_boot, Probe::found(false));

        fs::create_dir_all(dir.path().join("sys/firmware/efi")).unwrap();
        let fw = probe_firmware(&root);
        assert_eq!(fw.boot_mode, Probe::found(BootMode::Uefi));
        assert_eq!(fw.secure_boot, Probe::absent(EFIVARS));

        fs::create_dir_all(dir.path().join("sys/firmware/efi/efivars")).unwrap();
        assert!(matches!(
            probe_secure_boot(&root),
            Probe::Unsupported { .. }
        ));

        let other = "sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c";
        fs::write(dir.path().join(other), [7, 0, 0, 0, 1, 0]).unwrap();
        assert_eq!(probe_secure_boot(&root), Probe::found(false));

        let var = dir.path().join(&SECURE_BOOT_VAR[1..]);
        fs::write(&var, [6, 0, 0, 0, 1]).unwrap();
        assert_eq!(probe_secure_boot(&root), Probe::found(true));
        fs::write(&var, [6, 0]).unwrap();
        let reason = probe_secure_boot(&root).unknown_reason().unwrap();
        assert!(reason.starts_with(SECURE_BOOT_VAR), "{reason}");
    }
}
