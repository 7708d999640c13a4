//! Command lines read as Juju's hook tools read them (`juju/gnuflag` with
//! flags allowed after positionals), and output written as `juju/cmd`
//! writes it (`--format smart|yaml|json`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// One flag a tool takes, under one or more names (`-r` and `--relation`
/// are one flag).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlagDef {
    /// Its names; the first is the one the tool looks it up by.
    pub names: &'static [&'static str],
    /// Whether it takes a value (`--format json`); otherwise it is a boolean
    /// (`--app`, or `--app=false`).
    pub takes_value: bool,
}

/// A flag taking a value.
pub(crate) const fn value(names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        names,
        takes_value: true,
    }
}

/// A boolean flag.
pub(crate) const fn boolean(names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        names,
        takes_value: false,
    }
}

/// A parsed command line.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Flag values by the flag's first name; booleans as `true` or `false`.
    values: BTreeMap<&'static str, String>,
    /// Positional arguments, in order.
    pub positional: Vec<String>,
}

impl Parsed {
    /// The value of a flag, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether a boolean flag is set.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

/// Why a command line was not parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// `--help` or `-h`: print usage, exit 0.
    Help,
    /// A usage error, as gnuflag words it (exit status 2).
    Usage(String),
}

/// `-r` or `--format`, as gnuflag names a flag in its messages.
fn with_minus(name: &str) -> String {
    if name.chars().count() > 1 {
        format!("--{name}")
    } else {
        format!("-{name}")
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {text:?}: invalid syntax"
        )),
    }
}

/// Parses `argv` as gnuflag does with interspersed flags allowed: `--name`,
/// `--name=value`, `--name value`, clusters of one-letter flags (`-r 3`,
/// `-r3`), `-` as a positional, `--` ending the flags. `check` validates
/// each value as it is set (as a gnuflag `Value.Set` does); its error is
/// reported as `invalid value "<v>" for option <flag>: <error>`.
pub(crate) fn parse(
    defs: &[FlagDef],
    argv: &[String],
    check: &mut dyn FnMut(&'static str, &str) -> Result<(), String>,
) -> Result<Parsed, ParseError> {
    let find = |name: &str| {
        defs.iter()
            .find(|d| d.names.contains(&name))
            .copied()
            .ok_or_else(|| {
                if name == "help" || name == "h" {
                    ParseError::Help
                } else {
                    ParseError::Usage(format!(
                        "option provided but not defined: {}",
                        with_minus(name)
                    ))
                }
            })
    };
    let mut parsed = Parsed::default();
    let mut set =
        |def: FlagDef, used: &str, raw: &str, parsed: &mut Parsed| -> Result<(), ParseError> {
            let key = def.names[0];
            let invalid = |e: String| {
                ParseError::Usage(format!(
                    "invalid value {raw:?} for option {}: {e}",
                    with_minus(used)
                ))
            };
            let stored = if def.takes_value {
                check(key, raw).map_err(invalid)?;
                raw.to_string()
            } else {
                parse_bool(raw).map_err(invalid)?.to_string()
            };
            parsed.values.insert(key, stored);
            Ok(())
        };
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            parsed.positional.extend(argv[i..].iter().cloned());
            break;
        }
        if arg.is_empty() || arg == "-" || !arg.starts_with('-') {
            parsed.positional.push(arg.clone());
            continue;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some(("", _)) => {
                    return Err(ParseError::Usage(format!("empty flag in argument {arg:?}")));
                }
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            let def = find(name)?;
            let value = match inline {
                Some(v) => v.to_string(),
                None if !def.takes_value => "true".to_string(),
                None if i < argv.len() => {
                    i += 1;
                    argv[i - 1].clone()
                }
                None => {
                    return Err(ParseError::Usage(format!(
                        "option needs an argument: {}",
                        with_minus(name)
                    )));
                }
            };
            set(def, name, &value, &mut parsed)?;
            continue;
        }
        // A cluster of one-letter flags; one taking a value takes the rest
        // of the cluster, or else the next argument.
        let mut rest = &arg[1..];
        while let Some(c) = rest.chars().next() {
            let name = &rest[..c.len_utf8()];
            rest = &rest[c.len_utf8()..];
            let def = find(name)?;
            if !def.takes_value && !rest.starts_with('=') {
                set(def, name, "true", &mut parsed)?;
                continue;
            }
            let value = if !rest.is_empty() {
                std::mem::take(&mut rest).to_string()
            } else if i < argv.len() {
                i += 1;
                argv[i - 1].clone()
            } else {
                return Err(ParseError::Usage(format!(
                    "option needs an argument: {}",
                    with_minus(name)
                )));
            };
            set(def, name, &value, &mut parsed)?;
        }
    }
    Ok(parsed)
}

/// What a tool prints through `juju/cmd`'s output: a value, or a list of
/// strings (a Go `[]string`, which the smart format prints one per line).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// Any value; `null` prints nothing in the smart and YAML formats.
    Value(Value),
    /// A list of strings.
    Lines(Vec<String>),
}

impl Answer {
    /// The answer as a JSON value: borrowed when it is one already (a
    /// unit's state or a databag, printed at every call, is kilobytes).
    fn to_value(&self) -> Cow<'_, Value> {
        match self {
            Answer::Value(v) => Cow::Borrowed(v),
            Answer::Lines(lines) => Cow::Owned(Value::from(lines.clone())),
        }
    }
}

/// JSON as Go's `encoding/json` writes it: compact, keys sorted, and `<`,
/// `>`, `&`, U+2028 and U+2029 escaped, then a newline. One pass over the
/// text, and none when nothing needs escaping (the usual case): a unit's
/// state, printed at every dispatch, is tens of kilobytes.
pub(crate) fn go_json_line(value: &Value) -> String {
    let mut text = serde_json::to_string(value).unwrap_or_default();
    // These characters only occur inside strings in JSON text.
    let go_escapes = |c: char| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}');
    // Looked for byte by byte: U+2028 and U+2029 both start with 0xE2,
    // which no ASCII text has (other characters that do, such as `€`, are
    // copied through unchanged).
    if text.bytes().any(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        let mut escaped = String::with_capacity(text.len() + 32);
        for c in text.chars() {
            if go_escapes(c) {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "\\u{:04x}", u32::from(c));
            } else {
                escaped.push(c);
            }
        }
        text = escaped;
    }
    text.push('\n');
    text
}

fn yaml(value: &Value) -> String {
    if value.is_null() {
        return String::new();
    }
    let text = serde_norway::to_string(value).unwrap_or_default();
    let text = text.trim_end_matches('\n');
    if text.is_empty() {
        String::new()
    } else {
        format!("{text}\n")
    }
}

/// Writes `answer` in `format` (`smart`, `yaml` or `json`) as `juju/cmd` does:
/// smart prints strings as they are, lists of strings one per line, booleans
/// as `True`/`False`, nothing for null or an empty string, and YAML for the rest.
pub(crate) fn render(answer: &Answer, format: &str) -> String {
    match format {
        "json" => go_json_line(&answer.to_value()),
        "yaml" => yaml(&answer.to_value()),
        _ => {
            let text = match answer {
                Answer::Lines(lines) => lines.join("\n"),
                Answer::Value(Value::Null) => String::new(),
                Answer::Value(Value::String(s)) => s.clone(),
                Answer::Value(Value::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
                Answer::Value(other) => return yaml(other),
            };
            if text.is_empty() {
                text
            } else {
                format!("{text}\n")
            }
        }
    }
}

/// `key=value` arguments as Juju's `keyvalues.Parse` reads them (spaces
/// around key and value trimmed, empty values allowed, no key twice).
pub(crate) fn key_values(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!("expected \"key=value\", got {arg:?}"));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(format!("expected \"key=value\", got \"{key}={value}\""));
        }
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(format!("key {key:?} specified more than once"));
        }
    }
    Ok(out)
}

/// A YAML (or JSON) map of settings, as Juju reads `--file`: scalar values
/// become strings, `null` an empty string.
pub(crate) fn settings_from_yaml(text: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = String::from_utf8_lossy(text);
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Some(settings) = string_map_from_json(&text) {
        return Ok(settings);
    }
    let value: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| format!("yaml: {e}"))?;
    let scalar = |v: serde_norway::Value| -> Result<String, String> {
        match v {
            serde_norway::Value::String(s) => Ok(s),
            serde_norway::Value::Null => Ok(String::new()),
            serde_norway::Value::Bool(b) => Ok(b.to_string()),
            serde_norway::Value::Number(n) => Ok(n.to_string()),
            serde_norway::Value::Tagged(t) => Err(format!(
                "yaml: unmarshal errors: cannot unmarshal {} into string",
                t.tag
            )),
            serde_norway::Value::Sequence(_) => {
                Err("yaml: unmarshal errors: cannot unmarshal !!seq into string".to_string())
            }
            serde_norway::Value::Mapping(_) => {
                Err("yaml: unmarshal errors: cannot unmarshal !!map into string".to_string())
            }
        }
    };
    match value {
        serde_norway::Value::Null => Ok(BTreeMap::new()),
        serde_norway::Value::Mapping(map) => map
            .into_iter()
            .map(|(k, v)| Ok((scalar(k)?, scalar(v)?)))
            .collect(),
        serde_norway::Value::Sequence(_) => {
            Err("yaml: unmarshal errors: cannot unmarshal !!seq into map[string]string".to_string())
        }
        _ => {
            Err("yaml: unmarshal errors: cannot unmarshal !!str into map[string]string".to_string())
        }
    }
}

/// A JSON object of strings, each key once: what `ops`' `HookTools` sends,
/// read at JSON's speed (JSON is YAML, and such a map reads the same either
/// way). `None` for anything else, left to the YAML reader: other values,
/// a key given twice (YAML refuses it), and characters YAML refuses or
/// reads otherwise raw (DEL, C1 controls, NEL, ...).
fn string_map_from_json(text: &str) -> Option<BTreeMap<String, String>> {
    if !ops::backend::yaml_readable_text(text) {
        return None;
    }
    /// The object's members in order, duplicates kept.
    struct Members(Vec<(String, String)>);

    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Members;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object of strings")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Members, A::Error> {
                    let mut members = Vec::new();
                    while let Some(member) = map.next_entry::<String, String>()? {
                        members.push(member);
                    }
                    Ok(Members(members))
                }
            }
            deserializer.deserialize_map(Visit)
        }
    }

    let Members(members) = serde_json::from_str(text).ok()?;
    let mut settings = BTreeMap::new();
    for (key, value) in members {
        if settings.insert(key, value).is_some() {
            return None;
        }
    }
    Some(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEFS: &[FlagDef] = &[
        value(&["r", "relation"]),
        value(&["format"]),
        boolean(&["app"]),
        boolean(&["a", "all"]),
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn ok(a: &[&str]) -> Parsed {
        parse(DEFS, &args(a), &mut |_, _| Ok(())).unwrap()
    }

    fn usage(a: &[&str]) -> String {
        match parse(DEFS, &args(a), &mut |_, v| {
            if v == "bad" {
                Err("no good".into())
            } else {
                Ok(())
            }
        }) {
            Err(ParseError::Usage(m)) => m,
            other => panic!("{a:?}: {other:?}"),
        }
    }

    #[test]
    fn flags_anywhere_in_every_spelling() {
        let p = ok(&["-", "app/0", "-r", "3", "--app", "--format=json"]);
        assert_eq!(p.positional, ["-", "app/0"]);
        assert_eq!(
            (p.get("r"), p.get("format"), p.flag("app")),
            (Some("3"), Some("json"), true)
        );
        let p = ok(&["--relation", "db:3", "--format", "yaml", "--app=False", "k"]);
        assert_eq!(
            (p.get("r"), p.get("format"), p.flag("app")),
            (Some("db:3"), Some("yaml"), false)
        );
        let p = ok(&["-r3", "-a"]);
        assert_eq!((p.get("r"), p.flag("a")), (Some("3"), true));
        let p = ok(&["--app=True", "--", "--format", "-x"]);
        assert!(p.flag("app"));
        assert_eq!(p.positional, ["--format", "-x"]);
        assert_eq!(p.get("format"), None);
    }

    #[test]
    fn gnuflag_messages() {
        assert_eq!(
            usage(&["--nope"]),
            "option provided but not defined: --nope"
        );
        assert_eq!(usage(&["-x"]), "option provided but not defined: -x");
        assert_eq!(usage(&["-r"]), "option needs an argument: -r");
        assert_eq!(usage(&["--format"]), "option needs an argument: --format");
        assert_eq!(
            usage(&["-r", "bad"]),
            "invalid value \"bad\" for option -r: no good"
        );
        assert_eq!(
            usage(&["--app=yes"]),
            "invalid value \"yes\" for option --app: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(usage(&["--=x"]), "empty flag in argument \"--=x\"");
        assert_eq!(
            parse(DEFS, &args(&["--help"]), &mut |_, _| Ok(())).unwrap_err(),
            ParseError::Help
        );
    }

    #[test]
    fn output_as_juju_cmd_writes_it() {
        let lines = Answer::Lines(vec!["db:1".into(), "db:2".into()]);
        assert_eq!(render(&lines, "smart"), "db:1\ndb:2\n");
        assert_eq!(render(&lines, "json"), "[\"db:1\",\"db:2\"]\n");
        assert_eq!(render(&Answer::Lines(vec![]), "smart"), "");
        assert_eq!(render(&Answer::Value(json!(true)), "smart"), "True\n");
        assert_eq!(render(&Answer::Value(json!(false)), "json"), "false\n");
        assert_eq!(render(&Answer::Value(json!("")), "smart"), "");
        assert_eq!(render(&Answer::Value(json!("")), "json"), "\"\"\n");
        assert_eq!(render(&Answer::Value(Value::Null), "smart"), "");
        assert_eq!(render(&Answer::Value(Value::Null), "yaml"), "");
        assert_eq!(render(&Answer::Value(Value::Null), "json"), "null\n");
        assert_eq!(render(&Answer::Value(json!(6432)), "smart"), "6432\n");
        assert_eq!(
            render(&Answer::Value(json!({"b": "1", "a": "x"})), "smart"),
            "a: x\nb: '1'\n"
        );
        assert_eq!(
            render(&Answer::Value(json!({"k": "<&>"})), "json"),
            "{\"k\":\"\\u003c\\u0026\\u003e\"}\n"
        );
        assert_eq!(
            render(&Answer::Value(json!(["a\u{2028}b\u{2029}é"])), "json"),
            "[\"a\\u2028b\\u2029é\"]\n"
        );
    }

    #[test]
    fn key_values_and_settings_files() {
        assert_eq!(
            key_values(&args(&["a=1", " b = x=y ", "c="])).unwrap(),
            BTreeMap::from([
                ("a".into(), "1".into()),
                ("b".into(), "x=y".into()),
                ("c".into(), "".into())
            ])
        );
        assert_eq!(
            key_values(&args(&["a"])).unwrap_err(),
            "expected \"key=value\", got \"a\""
        );
        assert_eq!(
            key_values(&args(&["a=1", "a=2"])).unwrap_err(),
            "key \"a\" specified more than once"
        );
        assert_eq!(
            settings_from_yaml(b"a: '1'\nb: 2\nc: true\nd: ~\n").unwrap(),
            BTreeMap::from([
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "true".into()),
                ("d".into(), "".into()),
            ])
        );
        assert_eq!(settings_from_yaml(b"{\"k\": \"v\"}").unwrap()["k"], "v");
        assert!(
            settings_from_yaml(b"- a\n- b\n")
                .unwrap_err()
                .contains("!!seq")
        );
        assert!(settings_from_yaml(b"").unwrap().is_empty());
    }

    /// The JSON reading takes only what reads the same as YAML; the rest
    /// (a key twice, values that are not strings, not an object) goes to
    /// the YAML reader, which answers as Juju's does.
    #[test]
    fn json_settings_read_as_yaml_reads_them() {
        let json = r#"{"b": "two words", "a": "1", "c": "", "d": "line\nbreak \u00e9"}"#;
        let fast = string_map_from_json(json).unwrap();
        let yaml = serde_norway::from_str::<BTreeMap<String, String>>(json).unwrap();
        assert_eq!(fast, yaml);
        assert_eq!(settings_from_yaml(json.as_bytes()).unwrap(), yaml);
        for other in [
            r#"{"a": "1", "a": "2"}"#,
            r#"{"a": 1}"#,
            r#"{"a": null}"#,
            r#"{"a": ["x"]}"#,
            r#"["a"]"#,
            "a: b",
        ] {
            assert_eq!(string_map_from_json(other), None, "{other}");
        }
        assert!(settings_from_yaml(br#"{"a": "1", "a": "2"}"#).is_err());
        assert_eq!(settings_from_yaml(br#"{"a": 1}"#).unwrap()["a"], "1");
    }

    /// Text for settings values, often with the characters YAML treats
    /// apart (refused raw, or read as a line break).
    fn setting_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                Just('\u{7f}'),
                Just('\u{85}'),
                Just('\u{9f}'),
                Just('\u{2028}'),
                Just('\u{fffe}'),
                Just('"'),
                Just('\n'),
                any::<char>(),
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest::proptest! {
        /// Where the JSON reading answers, it answers as the YAML reader
        /// (Juju's) does; and the settings read are the YAML reader's,
        /// whatever the text.
        #[test]
        fn prop_json_settings_agree_with_yaml(
            map in proptest::collection::btree_map(setting_text(), setting_text(), 0..5)
        ) {
            let json = serde_json::to_string(&map).unwrap();
            let yaml = serde_norway::from_str::<BTreeMap<String, String>>(&json).ok();
            if let Some(fast) = string_map_from_json(&json) {
                proptest::prop_assert_eq!(Some(&fast), yaml.as_ref());
                proptest::prop_assert_eq!(&fast, &map);
            }
            proptest::prop_assert_eq!(settings_from_yaml(json.as_bytes()).ok(), yaml);
        }
    }
}
