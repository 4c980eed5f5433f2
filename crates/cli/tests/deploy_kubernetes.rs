//! deploy/kubernetes without a cluster: the manifests parse as YAML, name known kinds and API
//! versions, use valid names and label syntax, the RuntimeClass gates on
//! `hvguard-kata-ready: "true"`, and the DaemonSet's hvguard command line, with its mounts
//! mapped to temporary folders and a fixture host, runs with the real binary and writes both
//! files where the host's NFD and node_exporter read them.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use hvguard_advisory::policy::Policy;
use hvguard_core::Severity;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn manifests() -> Vec<(PathBuf, Yaml)> {
    let dir = workspace().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .into_iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let docs = YamlLoader::load_from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            docs.into_iter()
                .filter(|d| !d.is_null())
                .map(move |d| (path.clone(), d))
        })
        .collect()
}

fn of_kind(kind: &str) -> Vec<Yaml> {
    manifests()
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

/// RFC 1123 subdomain: lowercase alphanumerics, `-` and `.`, alphanumeric at both ends.
fn is_dns_subdomain(s: &str) -> bool {
    let re =
        regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .unwrap();
    !s.is_empty() && s.len() <= 253 && re.is_match(s)
}

/// The name part of a qualified name, and a label value when non-empty.
fn is_label_name(s: &str) -> bool {
    let re = regex::Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").unwrap();
    !s.is_empty() && s.len() <= 63 && re.is_match(s)
}

fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

/// A map of labels (or a nodeSelector): every key and value valid, every value a YAML string
/// (an unquoted `true` would be a boolean, which the API server rejects).
fn labels(map: &Yaml, what: &str) -> BTreeMap<String, String> {
    let hash = map.as_hash().unwrap_or_else(|| panic!("{what}: not a map"));
    hash.iter()
        .map(|(k, v)| {
            let key = k.as_str().unwrap_or_else(|| panic!("{what}: key {k:?}"));
            let value = v
                .as_str()
                .unwrap_or_else(|| panic!("{what}: {key} = {v:?} is not a string"));
            assert!(is_label_key(key), "{what}: bad label key {key:?}");
            assert!(is_label_value(value), "{what}: bad label value {value:?}");
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn every_manifest_has_a_known_kind_and_valid_metadata() {
    let known = [
        ("v1", "Namespace"),
        ("v1", "ConfigMap"),
        ("apps/v1", "DaemonSet"),
        ("node.k8s.io/v1", "RuntimeClass"),
    ];
    let docs = manifests();
    assert_eq!(docs.len(), 4);
    for (path, doc) in &docs {
        let api = doc["apiVersion"].as_str().expect("apiVersion");
        let kind = doc["kind"].as_str().expect("kind");
        assert!(
            known.contains(&(api, kind)),
            "{}: {api} {kind}",
            path.display()
        );
        let name = doc["metadata"]["name"].as_str().expect("metadata.name");
        assert!(is_dns_subdomain(name), "{name}");
        let namespaced = matches!(kind, "ConfigMap" | "DaemonSet");
        if namespaced {
            assert_eq!(
                doc["metadata"]["namespace"].as_str(),
                Some("hvguard"),
                "{name}"
            );
        } else {
            assert!(
                doc["metadata"]["namespace"].is_badvalue(),
                "{name} is cluster-scoped"
            );
        }
        labels(&doc["metadata"]["labels"], &format!("{kind}/{name} labels"));
    }
}

#[test]
fn the_runtime_class_requires_kata_ready_nodes() {
    let classes = of_kind("RuntimeClass");
    assert_eq!(classes.len(), 1);
    let class = &classes[0];
    let handler = class["handler"].as_str().expect("handler");
    assert!(is_label_name(handler) && handler == handler.to_lowercase());
    let selector = labels(
        &class["scheduling"]["nodeSelector"],
        "RuntimeClass nodeSelector",
    );
    assert_eq!(
        selector
            .get("feature.node.kubernetes.io/hvguard-kata-ready")
            .map(String::as_str),
        Some("true")
    );
}

fn daemonset() -> Yaml {
    let sets = of_kind("DaemonSet");
    assert_eq!(sets.len(), 1);
    sets.into_iter().next().unwrap()
}

/// mountPath -> (volume, read-only).
fn mounts(ds: &Yaml) -> BTreeMap<String, (Yaml, bool)> {
    let pod = &ds["spec"]["template"]["spec"];
    let volumes: BTreeMap<String, Yaml> = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v.clone()))
        .collect();
    let container = &pod["containers"][0];
    container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap();
            let volume = volumes
                .get(name)
                .unwrap_or_else(|| panic!("mount of undeclared volume {name}"))
                .clone();
            (
                m["mountPath"].as_str().unwrap().to_string(),
                (volume, m["readOnly"].as_bool().unwrap_or(false)),
            )
        })
        .collect()
}

fn args(ds: &Yaml) -> Vec<String> {
    ds["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

fn after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag}"));
    &args[i + 1]
}

/// The mount a path lies in: (mountPath, volume, read-only).
fn mount_of<'a>(
    mounts: &'a BTreeMap<String, (Yaml, bool)>,
    path: &str,
) -> (&'a str, &'a Yaml, bool) {
    mounts
        .iter()
        .filter(|(m, _)| Path::new(path).starts_with(m))
        .max_by_key(|(m, _)| m.len())
        .map(|(m, (v, ro))| (m.as_str(), v, *ro))
        .unwrap_or_else(|| panic!("{path} is in no mount"))
}

#[test]
fn the_daemonset_mounts_the_host_read_only_and_writes_to_the_hosts_folders() {
    let ds = daemonset();
    let selector = labels(&ds["spec"]["selector"]["matchLabels"], "matchLabels");
    let template = labels(
        &ds["spec"]["template"]["metadata"]["labels"],
        "template labels",
    );
    for (k, v) in &selector {
        assert_eq!(
            template.get(k),
            Some(v),
            "selector {k} matches the template"
        );
    }
    labels(
        &ds["spec"]["template"]["spec"]["nodeSelector"],
        "DaemonSet nodeSelector",
    );
    let mounts = mounts(&ds);
    let args = args(&ds);
    assert_eq!(args[0], "scan");

    let (_, host, ro) = mount_of(&mounts, after(&args, "--root"));
    assert_eq!(after(&args, "--root"), "/host");
    assert_eq!(host["hostPath"]["path"].as_str(), Some("/"));
    assert!(ro, "the host is mounted read-only");

    let nfd = after(&args, "--nfd-file");
    let (_, features, ro) = mount_of(&mounts, nfd);
    assert_eq!(
        features["hostPath"]["path"].as_str(),
        Some(hvguard_report::NFD_FEATURES_DIR)
    );
    assert!(!ro);
    assert_eq!(
        Path::new(nfd).parent(),
        Some(Path::new(hvguard_report::NFD_FEATURES_DIR))
    );

    let textfile = after(&args, "--textfile-dir");
    let (mount, volume, ro) = mount_of(&mounts, textfile);
    assert_eq!(mount, textfile);
    assert!(volume["hostPath"]["path"].as_str().is_some() && !ro);

    let security = &ds["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(security["privileged"].as_bool(), Some(false));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["capabilities"]["drop"][0].as_str(), Some("ALL"));
}

#[test]
fn the_configmap_policy_parses() {
    let maps = of_kind("ConfigMap");
    let text = maps[0]["data"]["policy.toml"]
        .as_str()
        .expect("policy.toml");
    let policy = Policy::parse(Path::new("configmap/policy.toml"), text).expect("parses");
    assert_eq!(policy.nfd.threshold, Severity::High);
    assert_eq!(policy.nfd.expiry_minutes, 60);
}

/// The DaemonSet's own command line, each mount replaced by a temporary folder (the host by
/// a fixture root), run with the real binary.
#[test]
fn the_daemonset_command_line_runs() {
    let ds = daemonset();
    let mounts = mounts(&ds);
    let host = materialise("kata-static");
    let scratch = tempfile::tempdir().unwrap();
    let policy_text = of_kind("ConfigMap")[0]["data"]["policy.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let mut mapped: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (i, (mount, (volume, _))) in mounts.iter().enumerate() {
        let dir = if volume["hostPath"]["path"].as_str() == Some("/") {
            host.path().to_path_buf()
        } else {
            let dir = scratch.path().join(format!("volume-{i}"));
            std::fs::create_dir(&dir).unwrap();
            if volume["configMap"].as_hash().is_some() {
                std::fs::write(dir.join("policy.toml"), &policy_text).unwrap();
            }
            dir
        };
        mapped.insert(mount.clone(), dir);
    }
    let args: Vec<String> = args(&ds)
        .into_iter()
        .map(|a| {
            match mapped
                .iter()
                .find(|(m, _)| Path::new(&a).starts_with(m.as_str()))
            {
                Some((m, dir)) => dir
                    .join(Path::new(&a).strip_prefix(m.as_str()).unwrap())
                    .display()
                    .to_string(),
                None => a,
            }
        })
        .collect();
    let out = hvguard()
        .env_remove("HVGUARD_POLICY")
        .env_remove("HVGUARD_DB")
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    let nfd = &mapped["/etc/kubernetes/node-feature-discovery/features.d"];
    let labels = std::fs::read_to_string(nfd.join("hvguard")).unwrap();
    assert!(
        labels.contains("feature.node.kubernetes.io/hvguard-kata-ready=false"),
        "{labels}"
    );
    let prom = &mapped["/var/lib/prometheus/node-exporter"];
    assert!(std::fs::read_to_string(prom.join("hvguard.prom"))
        .unwrap()
        .contains("hvguard_kata_ready 0"));
}
