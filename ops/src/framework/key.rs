//! An observer's key, `<Charm>::<function>` (or `<Charm>::<name given>`),
//! made when first asked for.
//!
//! A charm registers every observer at every dispatch (it is built anew in
//! each hook process), but a dispatch calls only a few of them, and only a
//! called or deferred observer, or one whose event another observer also
//! observes, needs its key spelled out. The names keys are made of (a
//! path's last segment, a function's own name without its generic
//! arguments) and the closure rule are here too.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::Rc;

/// Where the second half of a key comes from.
enum Source {
    /// The handler's type name, `my_charm::MyCharm::on_start`.
    Function(&'static str),
    /// The name given to `observe_as`.
    Named(String),
}

pub(super) struct ObserverKey {
    charm: Rc<str>,
    source: Source,
    made: OnceCell<String>,
}

impl ObserverKey {
    /// The key of `function` (a `type_name`) observing for `charm`.
    pub(super) fn of_function(charm: Rc<str>, function: &'static str) -> Self {
        Self::new(charm, Source::Function(function))
    }

    /// The key `<charm>::<name>`.
    pub(super) fn named(charm: Rc<str>, name: &str) -> Self {
        Self::new(charm, Source::Named(name.to_string()))
    }

    fn new(charm: Rc<str>, source: Source) -> Self {
        Self {
            charm,
            source,
            made: OnceCell::new(),
        }
    }

    pub(super) fn get(&self) -> &str {
        self.made.get_or_init(|| match &self.source {
            Source::Function(function) => join_key(&self.charm, &function_name(function)),
            Source::Named(name) => join_key(&self.charm, name),
        })
    }

    /// Whether it has been spelled out yet.
    #[cfg(test)]
    fn is_made(&self) -> bool {
        self.made.get().is_some()
    }
}

/// `<Charm>::<function>`.
fn join_key(charm: &str, function: &str) -> String {
    let mut key = String::with_capacity(charm.len() + 2 + function.len());
    key.push_str(charm);
    key.push_str("::");
    key.push_str(function);
    key
}

/// The function's own name from its `type_name` (`my_charm::MyCharm::on_start`
/// → `on_start`; generic arguments dropped).
fn function_name(type_name: &str) -> Cow<'_, str> {
    if !type_name.contains('<') {
        // A plain path, as a method or function item's name is.
        return Cow::Borrowed(last_segment(type_name));
    }
    let mut depth = 0usize;
    let mut plain = String::with_capacity(type_name.len());
    for c in type_name.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    Cow::Owned(last_segment(&plain).to_string())
}

/// What follows a path's last `::` (all of it when there is none). A path
/// has colons only in its separators, so the last colon ends the last one,
/// and a byte search finds it.
pub(super) fn last_segment(path: &str) -> &str {
    path.rfind(':').map_or(path, |at| &path[at + 1..])
}

/// Whether a handler's type name is a closure's: it holds `{{closure}}`,
/// where a method's or a function item's holds no brace at all, which a
/// byte search tells at once (a search for the whole word, set up at each
/// of a charm's observers at every dispatch, was a tenth of keying them).
pub(super) fn names_a_closure(function: &str) -> bool {
    function.contains('{') && function.contains("{{closure}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_when_first_asked_for_and_kept() {
        let key = ObserverKey::of_function("MyCharm".into(), "my_charm::MyCharm::on_start");
        assert!(!key.is_made());
        assert_eq!(key.get(), "MyCharm::on_start");
        assert!(key.is_made());
        assert_eq!(key.get(), "MyCharm::on_start");
        let named = ObserverKey::named("MyCharm".into(), "db_on_start");
        assert_eq!(named.get(), "MyCharm::db_on_start");
        let generic = ObserverKey::of_function(
            "MyCharm".into(),
            "my_charm::MyCharm<u8>::on_db<my_charm::Db>",
        );
        assert_eq!(generic.get(), "MyCharm::on_db");
    }

    #[test]
    fn function_names_drop_the_path_and_generic_arguments() {
        assert_eq!(function_name("my_charm::MyCharm::on_start"), "on_start");
        assert_eq!(function_name("on_start"), "on_start");
        assert_eq!(
            function_name("my_charm::MyCharm<u8>::on_db_changed<my_charm::Db>"),
            "on_db_changed"
        );
        assert_eq!(
            function_name("<my_charm::MyCharm as my_charm::Reconcile>::reconcile"),
            "reconcile"
        );
    }

    #[test]
    fn keys_join_charm_and_function() {
        assert_eq!(join_key("MyCharm", "on_start"), "MyCharm::on_start");
    }

    #[test]
    fn closures_are_told_from_methods() {
        assert!(names_a_closure("my_charm::MyCharm::new::{{closure}}"));
        assert!(!names_a_closure("my_charm::MyCharm::on_start"));
        assert!(!names_a_closure("my_charm::MyCharm<u8>::on_start"));
    }

    #[test]
    fn last_segments_follow_the_last_separator() {
        assert_eq!(last_segment("a::b::on_start"), "on_start");
        assert_eq!(last_segment("on_start"), "on_start");
        assert_eq!(last_segment("a::"), "");
    }
}
