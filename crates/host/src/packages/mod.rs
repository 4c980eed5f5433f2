//! Package databases: dpkg and rpm.
