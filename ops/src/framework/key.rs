//! An observer's key, `<Charm>::<function>` (or `<Charm>::<name given>`),
//! made when first asked for.
//!
//! A charm registers every observer at every dispatch (it is built anew in
//! each hook process), but a dispatch calls only a few of them, and only a
//! called or deferred observer, or one whose event another observer also
//! observes, needs its key spelled out.

use std::cell::OnceCell;
use std::rc::Rc;

use super::{function_name, join_key};

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
}
