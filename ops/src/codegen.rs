//! Typed items from a charm's metadata, for its build script (feature `codegen`).
//!
//! [`generate`] reads the charm directory as [`CharmMeta::from_charm_dir`]
//! does (`charmcraft.yaml`, or the packed `metadata.yaml`, `config.yaml` and
//! `actions.yaml`) and writes a Rust module that the charm includes. It holds:
//!
//! | YAML | generated |
//! |---|---|
//! | `peers`/`requires`/`provides`: `pgb-peers` | `PGB_PEERS`: a [`DeclaredEndpoint`](crate::declared::DeclaredEndpoint) with its role and interface |
//! | `containers`: `pgbouncer` | `containers::PGBOUNCER`: a [`DeclaredContainer`](crate::declared::DeclaredContainer) |
//! | `storage`: `data` | `storage::DATA`: a [`DeclaredStorage`](crate::declared::DeclaredStorage) |
//! | `resources`: `pgbouncer-image` | `resources::PGBOUNCER_IMAGE`: a [`DeclaredResource`](crate::declared::DeclaredResource) |
//! | `actions`: `get-password` | `actions::GET_PASSWORD`: a [`DeclaredAction`](crate::declared::DeclaredAction)`<actions::GetPasswordParams>`, the struct deriving `Deserialize` |
//! | `config.options`: `listen_port` | `options::LISTEN_PORT`: a [`DeclaredOption`](crate::declared::DeclaredOption)`<i64>`, and a field of `Config` |
//!
//! Names become Rust identifiers by splitting on anything but ASCII letters
//! and digits (and between a lowercase letter and a capital): `pgb-peers` →
//! `PGB_PEERS`, `get-password` → `GetPasswordParams`, `listen-port` →
//! `listen_port`. Two names of one kind that give one identifier are an
//! error naming the file and both names, as is an option type Juju does not
//! know or a default that does not fit its type.
//!
//! Option and parameter types: `int`/`integer` → `i64`, `float`/`number` →
//! `f64`, `boolean` → `bool`, `string`/`secret` → `String`; a parameter of
//! type `array` is a `Vec<serde_json::Value>`, `object` a
//! `serde_json::Map`, anything else a `serde_json::Value`. A field with a
//! declared default has the plain type and `Default` gives it the default;
//! one without is an `Option`. `Config` reads with
//! `Config::from_model(model)` (that is, `model.config()?.parse()`).
//! `Debug` of `Config` and of the parameter structs hides string values.
//!
//! The build script:
//!
//! ```ignore
//! // build.rs; Cargo.toml: [build-dependencies] ops = { package = "juju-ops", version = "0.1", features = ["codegen"] }
//! fn main() {
//!     ops::codegen::build_script_main();
//! }
//! ```
//!
//! and in the charm's `lib.rs`:
//!
//! ```ignore
//! /// The charm's metadata as typed items (generated from charmcraft.yaml).
//! pub mod meta {
//!     include!(concat!(env!("OUT_DIR"), "/meta.rs"));
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::meta::{CharmMeta, EndpointRole, MetaError, OptionKind};

/// The file [`build_script`] writes in `OUT_DIR`.
pub const OUT_FILE: &str = "meta.rs";

/// What went wrong generating the typed items.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The metadata could not be read or parsed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A name has no letter or digit to make an identifier of.
    #[error("{file}: {kind} {name:?} gives no Rust identifier (it has no ASCII letter or digit)")]
    InvalidName {
        /// The YAML file.
        file: String,
        /// `endpoint`, `container`, `config option`, ...
        kind: String,
        /// The name.
        name: String,
    },
    /// Two names give one identifier.
    #[error(
        "{file}: {kind}s {first:?} and {second:?} both become the Rust identifier {ident}; rename one"
    )]
    NameClash {
        /// The YAML file.
        file: String,
        /// `endpoint`, `container`, `config option`, ...
        kind: String,
        /// The first name.
        first: String,
        /// The second name.
        second: String,
        /// The identifier both give.
        ident: String,
    },
    /// A default that does not fit its option's or parameter's type.
    #[error("{file}: the default of {what} is not {expected}")]
    BadDefault {
        /// The YAML file.
        file: String,
        /// `config option "x"` or `parameter "y" of action "z"`.
        what: String,
        /// What it should be (`an integer`).
        expected: &'static str,
    },
    /// A build-script variable Cargo sets is missing.
    #[error("{var} is not set: run ops::codegen::build_script from a build script")]
    Env {
        /// The variable.
        var: &'static str,
    },
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Which files a charm directory's metadata comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Everything in `charmcraft.yaml`.
    Charmcraft,
    /// The packed files: `metadata.yaml`, `config.yaml`, `actions.yaml`.
    Packed,
}

impl Layout {
    /// The layout of a charm directory, as [`CharmMeta::from_charm_dir`]
    /// chooses: packed if `metadata.yaml` is there.
    pub fn of(charm_dir: &Path) -> Self {
        if charm_dir.join("metadata.yaml").is_file() {
            Layout::Packed
        } else {
            Layout::Charmcraft
        }
    }

    /// The files read, that a build script should watch.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Layout::Charmcraft => &["charmcraft.yaml"],
            Layout::Packed => &["metadata.yaml", "config.yaml", "actions.yaml"],
        }
    }

    fn metadata(self) -> &'static str {
        match self {
            Layout::Charmcraft => "charmcraft.yaml",
            Layout::Packed => "metadata.yaml",
        }
    }

    fn config(self) -> &'static str {
        match self {
            Layout::Charmcraft => "charmcraft.yaml",
            Layout::Packed => "config.yaml",
        }
    }

    fn actions(self) -> &'static str {
        match self {
            Layout::Charmcraft => "charmcraft.yaml",
            Layout::Packed => "actions.yaml",
        }
    }
}

/// Reads the charm directory's metadata and writes the generated module to
/// `out_file` (only if its text changed). Returns the metadata files that
/// exist, for `cargo:rerun-if-changed`.
pub fn generate(charm_dir: &Path, out_file: &Path) -> Result<Vec<PathBuf>, CodegenError> {
    let layout = Layout::of(charm_dir);
    let meta = CharmMeta::from_charm_dir(charm_dir)?;
    let text = render(&meta, layout)?;
    if std::fs::read_to_string(out_file).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(out_file, text).map_err(|source| CodegenError::Write {
            path: out_file.to_path_buf(),
            source,
        })?;
    }
    Ok(layout
        .files()
        .iter()
        .map(|f| charm_dir.join(f))
        .filter(|p| p.is_file())
        .collect())
}

/// [`generate`] for a build script: the charm directory is
/// `CARGO_MANIFEST_DIR`, the output `$OUT_DIR/meta.rs`
/// ([`OUT_FILE`]); prints `cargo:rerun-if-changed` for the files of the
/// charm's [`Layout`] that exist (a file added later, such as a
/// `metadata.yaml` beside `charmcraft.yaml`, is seen once the build script
/// reruns for another reason: a missing file would make Cargo rerun it on
/// every build).
pub fn build_script() -> Result<(), CodegenError> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or(CodegenError::Env {
        var: "CARGO_MANIFEST_DIR",
    })?;
    let out = std::env::var_os("OUT_DIR").ok_or(CodegenError::Env { var: "OUT_DIR" })?;
    let dir = PathBuf::from(dir);
    // Watched whether or not it parses, so that fixing it reruns us.
    for file in Layout::of(&dir).files() {
        let path = dir.join(file);
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    generate(&dir, &Path::new(&out).join(OUT_FILE))?;
    Ok(())
}

/// A build script's whole `main`: [`build_script`], and on error the
/// message on stderr and exit status 1, which fails the build.
///
/// ```no_run
/// // The body of build.rs's `fn main`.
/// ops::codegen::build_script_main();
/// ```
pub fn build_script_main() {
    if let Err(e) = build_script() {
        eprintln!("error: ops::codegen: {e}");
        std::process::exit(1);
    }
}

/// The generated module's text for `meta`, whose files are laid out as `layout`.
///
/// ```
/// use ops::codegen::{Layout, render};
///
/// let meta = ops::CharmMeta::from_charmcraft_yaml(
///     "name: demo\npeers: {pgb-peers: {interface: pgb_peers}}\n",
/// )?;
/// let text = render(&meta, Layout::Charmcraft)?;
/// assert!(text.contains("pub const PGB_PEERS: ::ops::declared::DeclaredEndpoint"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(meta: &CharmMeta, layout: Layout) -> Result<String, CodegenError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by ops::codegen from {} of charm {:?}; do not edit.\n",
        layout.files().join(", "),
        meta.name
    );
    render_endpoints(&mut out, meta, layout.metadata())?;
    render_simple(
        &mut out,
        layout.metadata(),
        "containers",
        "container",
        "workload containers",
        "DeclaredContainer",
        meta.containers.keys(),
    )?;
    render_simple(
        &mut out,
        layout.metadata(),
        "storage",
        "storage",
        "storage",
        "DeclaredStorage",
        meta.storage.keys(),
    )?;
    render_simple(
        &mut out,
        layout.metadata(),
        "resources",
        "resource",
        "resources",
        "DeclaredResource",
        meta.resources.keys(),
    )?;
    render_actions(&mut out, meta, layout.actions())?;
    render_config(&mut out, meta, layout.config())?;
    let _ = writeln!(
        out,
        "\n/// The charm's metadata, compiled in (`ops::CharmMeta::to_json`): give it to\n\
         /// `ops::MainOptions::compiled_meta` and a hook reads it instead of parsing\n\
         /// the charm directory's YAML.\n\
         pub const CHARM_META_JSON: &str = {:?};",
        meta.to_json()
    );
    Ok(out)
}

const PATH: &str = "::ops::declared";

fn render_endpoints(out: &mut String, meta: &CharmMeta, file: &str) -> Result<(), CodegenError> {
    let mut idents = Idents::new(file, "endpoint");
    for (name, endpoint) in &meta.endpoints {
        let ident = idents.add(name, upper_ident(name))?;
        let (section, role) = match endpoint.role {
            EndpointRole::Peer => ("peers", "Peer"),
            EndpointRole::Requires => ("requires", "Requires"),
            EndpointRole::Provides => ("provides", "Provides"),
        };
        let _ = writeln!(
            out,
            "#[doc = {:?}]\npub const {ident}: {PATH}::DeclaredEndpoint = {PATH}::DeclaredEndpoint::new({name:?}, ::ops::EndpointRole::{role}, {:?});\n",
            format!(
                "Relation endpoint {} (`{section}` in {file}), interface {}.",
                code(name),
                code(&endpoint.interface)
            ),
            endpoint.interface
        );
    }
    Ok(())
}

fn render_simple<'a>(
    out: &mut String,
    file: &str,
    module: &str,
    kind: &str,
    plural: &str,
    type_name: &str,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), CodegenError> {
    let mut idents = Idents::new(file, kind);
    let _ = writeln!(
        out,
        "#[doc = {:?}]\npub mod {module} {{",
        format!("The charm's {plural} (`{module}` in {file}).")
    );
    for name in names {
        let ident = idents.add(name, upper_ident(name))?;
        let _ = writeln!(
            out,
            "    #[doc = {:?}]\n    pub const {ident}: {PATH}::{type_name} = {PATH}::{type_name}::new({name:?});",
            format!("The {kind} {} (`{module}` in {file}).", code(name))
        );
    }
    out.push_str("}\n\n");
    Ok(())
}

/// A Rust type for a value, its default's expression, and whether it is a string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    Bool,
    Str,
    Array,
    Object,
    Any,
}

impl Kind {
    fn rust(self) -> String {
        match self {
            Kind::Int => "i64".into(),
            Kind::Float => "f64".into(),
            Kind::Bool => "bool".into(),
            Kind::Str => "::std::string::String".into(),
            Kind::Array => format!("::std::vec::Vec<{PATH}::__serde_json::Value>"),
            Kind::Object => format!(
                "{PATH}::__serde_json::Map<::std::string::String, {PATH}::__serde_json::Value>"
            ),
            Kind::Any => format!("{PATH}::__serde_json::Value"),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Bool => "a boolean",
            Kind::Str => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
            Kind::Any => "a value",
        }
    }

    /// The Rust expression of a default value, if it fits.
    fn literal(self, value: &Value) -> Option<String> {
        match self {
            Kind::Int => value.as_i64().map(|v| format!("{v}_i64")),
            Kind::Float => value.as_f64().map(|v| format!("{v:?}_f64")),
            Kind::Bool => value.as_bool().map(|v| v.to_string()),
            Kind::Str => value
                .as_str()
                .map(|v| format!("::std::string::String::from({v:?})")),
            Kind::Array | Kind::Object | Kind::Any => {
                let fits = match self {
                    Kind::Array => value.is_array(),
                    Kind::Object => value.is_object(),
                    _ => true,
                };
                fits.then(|| {
                    format!(
                        "{PATH}::__serde_json::from_str({:?}).unwrap_or_default()",
                        value.to_string()
                    )
                })
            }
        }
    }
}

/// One field of a generated struct.
struct Field {
    name: String,
    ident: String,
    kind: Kind,
    default: Option<String>,
    doc: String,
}

impl Field {
    fn rust_type(&self) -> String {
        match self.default {
            Some(_) => self.kind.rust(),
            None => format!("::std::option::Option<{}>", self.kind.rust()),
        }
    }
}

/// A struct deriving `Deserialize` (with `#[serde(default)]`), its
/// `Default` from the declared defaults, and a `Debug` that hides strings.
fn render_struct(out: &mut String, indent: &str, doc: &str, name: &str, fields: &[Field]) {
    let _ = writeln!(
        out,
        "{indent}#[doc = {doc:?}]\n{indent}#[derive(Clone, PartialEq, {PATH}::__serde::Deserialize)]\n{indent}#[serde(crate = \"{PATH}::__serde\", default)]\n{indent}pub struct {name} {{"
    );
    for field in fields {
        let _ = writeln!(
            out,
            "{indent}    #[doc = {:?}]\n{indent}    #[serde(rename = {:?})]\n{indent}    pub {}: {},",
            field.doc,
            field.name,
            field.ident,
            field.rust_type()
        );
    }
    let _ = writeln!(
        out,
        "{indent}}}\n\n{indent}#[allow(clippy::derivable_impls)]\n{indent}impl ::std::default::Default for {name} {{\n{indent}    fn default() -> Self {{\n{indent}        Self {{"
    );
    for field in fields {
        let value = field
            .default
            .as_deref()
            .unwrap_or("::std::option::Option::None");
        let _ = writeln!(out, "{indent}            {}: {value},", field.ident);
    }
    let _ = writeln!(
        out,
        "{indent}        }}\n{indent}    }}\n{indent}}}\n\n{indent}impl ::std::fmt::Debug for {name} {{\n{indent}    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n{indent}        f.debug_struct({name:?})"
    );
    for field in fields {
        let value = match (field.kind, &field.default) {
            (Kind::Int | Kind::Float | Kind::Bool, _) => format!("&self.{}", field.ident),
            (_, Some(_)) => format!("&{PATH}::__Hidden"),
            (_, None) => format!("&self.{}.as_ref().map(|_| {PATH}::__Hidden)", field.ident),
        };
        let _ = writeln!(
            out,
            "{indent}            .field({:?}, {value})",
            field.ident.trim_start_matches("r#")
        );
    }
    let _ = writeln!(
        out,
        "{indent}            .finish()\n{indent}    }}\n{indent}}}\n"
    );
}

fn render_actions(out: &mut String, meta: &CharmMeta, file: &str) -> Result<(), CodegenError> {
    let mut consts = Idents::new(file, "action");
    let mut types = Idents::new(file, "action");
    let _ = writeln!(
        out,
        "#[doc = {:?}]\npub mod actions {{",
        format!("The charm's actions (`actions` in {file}), and their parameters' types.")
    );
    for (name, action) in &meta.actions {
        let ident = consts.add(name, upper_ident(name))?;
        let params_type = types.add(name, format!("{}Params", camel_ident(name)))?;
        let description = action
            .description
            .as_deref()
            .map(|d| format!(": {}", doc_text(d)))
            .unwrap_or_else(|| ".".to_string());
        let _ = writeln!(
            out,
            "    #[doc = {:?}]\n    pub const {ident}: {PATH}::DeclaredAction<{params_type}> = {PATH}::DeclaredAction::new({name:?});\n",
            format!(
                "The action {} (`actions` in {file}){description}",
                code(name)
            )
        );
        let mut fields = Vec::new();
        let mut idents = Idents::new(file, &format!("parameter of action {name:?}"));
        for (param, schema) in &action.params {
            let ident = idents.add(param, snake_ident(param))?;
            let kind = match schema.get("type").and_then(Value::as_str) {
                Some("string") => Kind::Str,
                Some("integer") => Kind::Int,
                Some("number") => Kind::Float,
                Some("boolean") => Kind::Bool,
                Some("array") => Kind::Array,
                Some("object") => Kind::Object,
                _ => Kind::Any,
            };
            let default = match schema.get("default") {
                None | Some(Value::Null) => None,
                Some(value) => {
                    Some(
                        kind.literal(value)
                            .ok_or_else(|| CodegenError::BadDefault {
                                file: file.to_string(),
                                what: format!("parameter {param:?} of action {name:?}"),
                                expected: kind.expected(),
                            })?,
                    )
                }
            };
            let description = schema
                .get("description")
                .and_then(Value::as_str)
                .map(|d| format!(": {}", doc_text(d)))
                .unwrap_or_else(|| ".".to_string());
            fields.push(Field {
                name: param.clone(),
                doc: format!(
                    "Parameter {} of action {}{description}",
                    code(param),
                    code(name)
                ),
                ident,
                kind,
                default,
            });
        }
        render_struct(
            out,
            "    ",
            &format!(
                "The parameters of action {} (`actions` in {file}); `{ident}.params(model)` reads them.",
                code(name)
            ),
            &params_type,
            &fields,
        );
    }
    out.push_str("}\n\n");
    Ok(())
}

fn render_config(out: &mut String, meta: &CharmMeta, file: &str) -> Result<(), CodegenError> {
    let mut idents = Idents::new(file, "config option");
    let mut consts = Idents::new(file, "config option");
    let mut fields = Vec::new();
    let mut options = String::new();
    for (name, option) in &meta.config {
        let ident = idents.add(name, snake_ident(name))?;
        let konst = consts.add(name, upper_ident(name))?;
        let kind = match option.kind {
            OptionKind::String | OptionKind::Secret => Kind::Str,
            OptionKind::Int => Kind::Int,
            OptionKind::Float => Kind::Float,
            OptionKind::Boolean => Kind::Bool,
        };
        let default = match &option.default {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                kind.literal(value)
                    .ok_or_else(|| CodegenError::BadDefault {
                        file: file.to_string(),
                        what: format!("config option {name:?}"),
                        expected: kind.expected(),
                    })?,
            ),
        };
        let description = option
            .description
            .as_deref()
            .map(|d| format!(": {}", doc_text(d)))
            .unwrap_or_else(|| ".".to_string());
        let doc = format!(
            "Config option {} ({}, `config.options` in {file}){description}",
            code(name),
            option.kind
        );
        let _ = writeln!(
            options,
            "    #[doc = {doc:?}]\n    pub const {konst}: {PATH}::DeclaredOption<{}> = {PATH}::DeclaredOption::new({name:?});",
            kind.rust()
        );
        fields.push(Field {
            name: name.clone(),
            ident,
            kind,
            default,
            doc,
        });
    }
    let _ = writeln!(
        out,
        "#[doc = {:?}]\npub mod options {{\n{options}}}\n",
        format!("The charm's config options (`config.options` in {file}), for `ops::Config::get`.")
    );
    render_struct(
        out,
        "",
        &format!(
            "The charm's config (`config.options` in {file}): an option with a default is a plain field, one without an `Option`; `Default` gives the declared defaults."
        ),
        "Config",
        &fields,
    );
    let _ = writeln!(
        out,
        "impl Config {{\n    /// The config from `config-get` (`model.config()?.parse()`); `ops::ModelError::ConfigParse` names an option that does not fit.\n    pub fn from_model(model: &::ops::Model) -> ::std::result::Result<Self, ::ops::ModelError> {{\n        model.config()?.parse()\n    }}\n}}"
    );
    Ok(())
}

/// Identifiers given so far in one namespace, and the names they came from.
struct Idents<'a> {
    file: &'a str,
    kind: String,
    seen: BTreeMap<String, String>,
}

impl<'a> Idents<'a> {
    fn new(file: &'a str, kind: &str) -> Self {
        Self {
            file,
            kind: kind.to_string(),
            seen: BTreeMap::new(),
        }
    }

    fn add(&mut self, name: &str, ident: String) -> Result<String, CodegenError> {
        if ident.trim_start_matches("r#").trim_matches('_').is_empty() {
            return Err(CodegenError::InvalidName {
                file: self.file.to_string(),
                kind: self.kind.clone(),
                name: name.to_string(),
            });
        }
        if let Some(first) = self.seen.get(&ident) {
            return Err(CodegenError::NameClash {
                file: self.file.to_string(),
                kind: self.kind.clone(),
                first: first.clone(),
                second: name.to_string(),
                ident,
            });
        }
        self.seen.insert(ident.clone(), name.to_string());
        Ok(ident)
    }
}

/// The words of a name: runs of ASCII letters and digits, split also
/// where a lowercase letter or digit is followed by a capital.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn starts_with_digit(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
}

/// `pgb-peers` → `PGB_PEERS` (empty if the name has no letter or digit).
fn upper_ident(name: &str) -> String {
    let ident = words(name).join("_").to_ascii_uppercase();
    if starts_with_digit(&ident) {
        format!("_{ident}")
    } else {
        ident
    }
}

/// `listen-port` → `listen_port`; a keyword becomes a raw identifier.
fn snake_ident(name: &str) -> String {
    let ident = words(name).join("_").to_ascii_lowercase();
    if starts_with_digit(&ident) {
        return format!("_{ident}");
    }
    match ident.as_str() {
        "self" | "super" | "crate" => format!("{ident}_"),
        kw if KEYWORDS.contains(&kw) => format!("r#{ident}"),
        _ => ident,
    }
}

/// `get-password` → `GetPassword`.
fn camel_ident(name: &str) -> String {
    let ident: String = words(name)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if starts_with_digit(&ident) {
        format!("Action{ident}")
    } else {
        ident
    }
}

/// Rust's keywords (strict and reserved, all editions) that `r#` makes usable.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// YAML text for a doc comment: on one line (so that nothing becomes a code
/// block, a doctest or a heading) with Markdown's and HTML's special
/// characters escaped (so that nothing becomes a link or a tag).
fn doc_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            if matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '&' | '~' | '!'
            ) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A name as inline code in a doc comment (as escaped text if it holds a
/// backtick or a control character, which a code span cannot show).
fn code(name: &str) -> String {
    if name.is_empty() || name.contains('`') || name.chars().any(char::is_control) {
        doc_text(name)
    } else {
        format!("`{name}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_yaml(yaml: &str) -> Result<String, CodegenError> {
        render(
            &CharmMeta::from_charmcraft_yaml(yaml).unwrap(),
            Layout::Charmcraft,
        )
    }

    #[test]
    fn endpoints_carry_role_and_interface() {
        let text = render_yaml(
            "name: x\npeers: {pgb-peers: {interface: pgb_peers}}\n\
             requires: {backend-database: {interface: postgresql_client}}\n\
             provides: {database: {interface: postgresql_client}}\n",
        )
        .unwrap();
        for line in [
            r#"pub const PGB_PEERS: ::ops::declared::DeclaredEndpoint = ::ops::declared::DeclaredEndpoint::new("pgb-peers", ::ops::EndpointRole::Peer, "pgb_peers");"#,
            r#"pub const BACKEND_DATABASE: ::ops::declared::DeclaredEndpoint = ::ops::declared::DeclaredEndpoint::new("backend-database", ::ops::EndpointRole::Requires, "postgresql_client");"#,
            r#"pub const DATABASE: ::ops::declared::DeclaredEndpoint = ::ops::declared::DeclaredEndpoint::new("database", ::ops::EndpointRole::Provides, "postgresql_client");"#,
            r#"#[doc = "Relation endpoint `pgb-peers` (`peers` in charmcraft.yaml), interface `pgb_peers`."]"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
        }
    }

    #[test]
    fn containers_storage_resources_in_their_modules() {
        let text = render_yaml(
            "name: x\ncontainers: {pgbouncer: {resource: img}}\n\
             storage: {data: {type: filesystem}}\nresources: {img: {type: oci-image}}\n",
        )
        .unwrap();
        for (module, line) in [
            (
                "pub mod containers {",
                r#"    pub const PGBOUNCER: ::ops::declared::DeclaredContainer = ::ops::declared::DeclaredContainer::new("pgbouncer");"#,
            ),
            (
                "pub mod storage {",
                r#"    pub const DATA: ::ops::declared::DeclaredStorage = ::ops::declared::DeclaredStorage::new("data");"#,
            ),
            (
                "pub mod resources {",
                r#"    pub const IMG: ::ops::declared::DeclaredResource = ::ops::declared::DeclaredResource::new("img");"#,
            ),
        ] {
            let start = text.find(module).unwrap_or_else(|| panic!("{module}"));
            let body = &text[start..start + text[start..].find("\n}\n").unwrap()];
            assert!(body.lines().any(|l| l == line), "{line}\nnot in\n{body}");
        }
    }

    #[test]
    fn config_fields_types_and_defaults() {
        let text = render_yaml(
            "name: x\nconfig:\n  options:\n    listen_port: {type: int, default: 6432}\n    \
             pool_mode: {type: string, default: session}\n    ratio: {type: float, default: 2}\n    \
             on: {type: boolean, default: true}\n    password: {type: secret}\n",
        )
        .unwrap();
        for line in [
            "    pub listen_port: i64,",
            "    pub pool_mode: ::std::string::String,",
            "    pub ratio: f64,",
            "    pub on: bool,",
            "    pub password: ::std::option::Option<::std::string::String>,",
            "            listen_port: 6432_i64,",
            r#"            pool_mode: ::std::string::String::from("session"),"#,
            "            ratio: 2.0_f64,",
            "            on: true,",
            "            password: ::std::option::Option::None,",
            r#"    pub const LISTEN_PORT: ::ops::declared::DeclaredOption<i64> = ::ops::declared::DeclaredOption::new("listen_port");"#,
            r#"    pub const PASSWORD: ::ops::declared::DeclaredOption<::std::string::String> = ::ops::declared::DeclaredOption::new("password");"#,
            // Debug shows numbers, hides strings.
            r#"            .field("listen_port", &self.listen_port)"#,
            r#"            .field("pool_mode", &::ops::declared::__Hidden)"#,
            r#"            .field("password", &self.password.as_ref().map(|_| ::ops::declared::__Hidden))"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
        }
    }

    #[test]
    fn action_params_struct() {
        let text = render_yaml(
            "name: x\nactions:\n  get-password:\n    params:\n      \
             username: {type: string}\n      count: {type: integer, default: 2}\n",
        )
        .unwrap();
        for line in [
            r#"    pub const GET_PASSWORD: ::ops::declared::DeclaredAction<GetPasswordParams> = ::ops::declared::DeclaredAction::new("get-password");"#,
            "    pub struct GetPasswordParams {",
            "        pub username: ::std::option::Option<::std::string::String>,",
            "        pub count: i64,",
            "                count: 2_i64,",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
        }
    }

    #[test]
    fn identifiers_from_names() {
        for (name, upper, snake, camel) in [
            ("pgb-peers", "PGB_PEERS", "pgb_peers", "PgbPeers"),
            ("listen_port", "LISTEN_PORT", "listen_port", "ListenPort"),
            ("listenPort", "LISTEN_PORT", "listen_port", "ListenPort"),
            ("a.b--c", "A_B_C", "a_b_c", "ABC"),
            ("2fa", "_2FA", "_2fa", "Action2fa"),
            ("type", "TYPE", "r#type", "Type"),
            ("self", "SELF", "self_", "Self"),
            ("HTTP", "HTTP", "http", "Http"),
        ] {
            assert_eq!(upper_ident(name), upper, "{name}");
            assert_eq!(snake_ident(name), snake, "{name}");
            assert_eq!(camel_ident(name), camel, "{name}");
        }
    }

    #[test]
    fn two_names_for_one_identifier_name_the_file_and_both() {
        let err =
            render_yaml("name: x\npeers: {a-b: {interface: i}}\nrequires: {a_b: {interface: j}}\n")
                .unwrap_err();
        assert!(
            matches!(&err, CodegenError::NameClash { file, first, second, ident, .. }
                if file == "charmcraft.yaml" && first == "a-b" && second == "a_b" && ident == "A_B"),
            "{err}"
        );
        let meta = CharmMeta::from_yaml(
            "name: x\n",
            Some("options: {max-conn: {type: int}, max_conn: {type: int}}\n"),
            None,
        )
        .unwrap();
        let err = render(&meta, Layout::Packed).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("config.yaml: config options ")
                && message.contains("\"max-conn\"")
                && message.contains("\"max_conn\""),
            "{message}"
        );
        let err = render_yaml("name: x\nactions: {get-x: {}, getX: {}}\n").unwrap_err();
        assert!(matches!(err, CodegenError::NameClash { .. }), "{err}");
        let err = render_yaml(
            "name: x\nactions: {a: {params: {to-x: {type: string}, to_x: {type: string}}}}\n",
        )
        .unwrap_err();
        assert!(matches!(err, CodegenError::NameClash { .. }), "{err}");
    }

    #[test]
    fn a_name_without_letters_is_an_error() {
        let err = render_yaml("name: x\ncontainers: {'--': {}}\n").unwrap_err();
        assert!(
            matches!(&err, CodegenError::InvalidName { file, kind, name }
                if file == "charmcraft.yaml" && kind == "container" && name == "--"),
            "{err}"
        );
    }

    #[test]
    fn unknown_types_and_bad_defaults_are_errors() {
        // A type Juju does not know fails with the metadata, naming where.
        let err =
            CharmMeta::from_charmcraft_yaml("name: x\nconfig: {options: {a: {type: integer}}}\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("integer") && err.contains("options"), "{err}");
        let err = render_yaml("name: x\nconfig: {options: {a: {type: int, default: six}}}\n")
            .unwrap_err();
        assert!(
            matches!(&err, CodegenError::BadDefault { what, expected, .. }
                if what == "config option \"a\"" && *expected == "an integer"),
            "{err}"
        );
        let err =
            render_yaml("name: x\nactions: {a: {params: {n: {type: boolean, default: 1}}}}\n")
                .unwrap_err();
        assert!(
            matches!(&err, CodegenError::BadDefault { what, .. } if what.contains("\"n\"")),
            "{err}"
        );
    }

    #[test]
    fn descriptions_become_one_escaped_line() {
        assert_eq!(
            doc_text("A [link] to `x`,\n    then <b>code</b>\n\n# not a heading_"),
            r"A \[link\] to \`x\`, then \<b\>code\</b\> \# not a heading\_"
        );
        assert_eq!(code("pgb-peers"), "`pgb-peers`");
        assert_eq!(code("a`b"), r"a\`b");
        let text = render_yaml(
            "name: x\nconfig: {options: {a: {type: string, description: \"one\\n    two\"}}}\n",
        )
        .unwrap();
        assert!(text.contains(r#"#[doc = "Config option `a` (string, `config.options` in charmcraft.yaml): one two"]"#), "{text}");
    }

    #[test]
    fn generate_writes_the_module_and_names_the_files_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("charmcraft.yaml"),
            "name: x\npeers: {p: {interface: i}}\n",
        )
        .unwrap();
        let out = dir.path().join("meta.rs");
        let read = generate(dir.path(), &out).unwrap();
        assert_eq!(read, [dir.path().join("charmcraft.yaml")]);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("pub const P: ::ops::declared::DeclaredEndpoint"));

        // Packed files win, as in CharmMeta::from_charm_dir; errors name them.
        std::fs::write(dir.path().join("metadata.yaml"), "name: x\n").unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "options: {a: {type: list}}\n",
        )
        .unwrap();
        let err = generate(dir.path(), &out).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid config.yaml: options.a.type"),
            "{err}"
        );
        std::fs::write(dir.path().join("config.yaml"), "options: {}\n").unwrap();
        let read = generate(dir.path(), &out).unwrap();
        assert_eq!(
            read,
            [
                dir.path().join("metadata.yaml"),
                dir.path().join("config.yaml")
            ]
        );
        assert!(
            !std::fs::read_to_string(&out)
                .unwrap()
                .contains("pub const P:")
        );
    }

    #[test]
    fn a_missing_charm_dir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = generate(dir.path(), &dir.path().join("meta.rs")).unwrap_err();
        assert!(
            matches!(err, CodegenError::Meta(MetaError::NotFound { .. })),
            "{err}"
        );
    }
}
