//! The subset of the SARIF 2.1.0 object model hvguard writes, as borrowed serde views.
//!
//! Field names follow the OASIS schema (camelCase); optional members are left out rather
//! than written as `null`, which the schema does not allow for most of them.

use hvguard_core::{AdvisoryRef, ReportHost, Severity, Summary};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub(crate) struct Log<'a> {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Run<'a> {
    pub tool: Tool<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub original_uri_base_ids: BTreeMap<&'static str, ArtifactLocation<'a>>,
    pub invocations: [Invocation<'a>; 1],
    pub results: Vec<SarifResult<'a>>,
    pub properties: RunProperties<'a>,
}

#[derive(Serialize)]
pub(crate) struct Tool<'a> {
    pub driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Driver<'a> {
    pub name: &'static str,
    pub information_uri: &'static str,
    pub version: &'static str,
    pub rules: Vec<ReportingDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportingDescriptor<'a> {
    pub id: &'a str,
    pub name: String,
    pub short_description: Message,
    pub full_description: Message,
    pub help_uri: String,
    pub help: Help,
    pub default_configuration: Configuration,
    pub properties: DescriptorProperties,
}

#[derive(Serialize)]
pub(crate) struct Message {
    pub text: String,
}

#[derive(Serialize)]
pub(crate) struct Help {
    pub text: String,
    pub markdown: String,
}

#[derive(Serialize)]
pub(crate) struct Configuration {
    pub level: &'static str,
}

#[derive(Serialize)]
pub(crate) struct DescriptorProperties {
    #[serde(rename = "security-severity")]
    pub security_severity: &'static str,
    pub precision: &'static str,
    pub tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SarifResult<'a> {
    pub rule_id: &'a str,
    pub rule_index: usize,
    pub level: &'static str,
    pub message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location<'a>>,
    pub partial_fingerprints: BTreeMap<&'static str, String>,
    pub properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location<'a> {
    pub physical_location: PhysicalLocation<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PhysicalLocation<'a> {
    pub artifact_location: ArtifactLocation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArtifactLocation<'a> {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_base_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Region {
    pub start_line: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogicalLocation<'a> {
    pub fully_qualified_name: &'a str,
    pub kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Invocation<'a> {
    pub execution_successful: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time_utc: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_execution_notifications: Vec<Notification<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Notification<'a> {
    pub level: &'static str,
    pub message: Message,
    pub associated_rule: RuleReference<'a>,
}

#[derive(Serialize)]
pub(crate) struct RuleReference<'a> {
    pub id: &'a str,
    pub index: usize,
}

#[derive(Serialize)]
pub(crate) struct ResultProperties<'a> {
    pub severity: Severity,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub evidence: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<&'a AdvisoryRef>,
}

#[derive(Serialize)]
pub(crate) struct RunProperties<'a> {
    pub host: &'a ReportHost,
    pub summary: &'a Summary,
}
