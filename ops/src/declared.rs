//! Names the charm declares, as typed items the compiler checks.
//!
//! `ops::codegen` (feature `codegen`, called from a build script)
//! turns a charm's `charmcraft.yaml` into constants of these types: one
//! [`DeclaredEndpoint`] per relation endpoint, [`DeclaredContainer`],
//! [`DeclaredStorage`], [`DeclaredResource`], [`DeclaredAction`] (with its
//! parameters' struct) and [`DeclaredOption`] per item, and a config struct.
//! The framework's and the model's methods that take a name take anything
//! implementing the kind's name trait ([`EndpointName`], [`ContainerName`],
//! [`StorageName`], [`ResourceName`], [`ActionName`], [`OptionName`]): a
//! generated item, or a `&str` / `String` for names known only at run time.
//! A misspelt generated item does not compile; a misspelt string is still
//! refused at run time, as before. [`Config::get`](crate::Config::get)
//! takes an [`OptionKey`]: an option's name and the type its value reads as.
//!
//! ```
//! use ops::EndpointRole;
//! use ops::declared::{DeclaredEndpoint, EndpointName};
//!
//! // What codegen writes for `peers: {pgb-peers: {interface: pgb_peers}}`:
//! pub const PGB_PEERS: DeclaredEndpoint =
//!     DeclaredEndpoint::new("pgb-peers", EndpointRole::Peer, "pgb_peers");
//!
//! assert_eq!(PGB_PEERS.endpoint_name(), "pgb-peers");
//! assert_eq!(PGB_PEERS.interface(), "pgb_peers");
//! // The dynamic forms still work where a name is only known at run time.
//! assert_eq!("pgb-peers".endpoint_name(), String::from("pgb-peers").endpoint_name());
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use crate::meta::EndpointRole;

/// serde, for the `Deserialize` derives of generated code
/// (`#[serde(crate = "ops::declared::__serde")]`), so that a charm need
/// not depend on serde itself.
#[doc(hidden)]
pub use serde as __serde;
/// serde_json, for generated action parameters of type `array` or `object`.
#[doc(hidden)]
pub use serde_json as __serde_json;

/// What generated `Debug` impls print in place of a string value (a config
/// option or action parameter may hold a credential).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct __Hidden;

impl fmt::Debug for __Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

macro_rules! name_trait {
    ($(#[$doc:meta])* $trait:ident, $method:ident, $what:literal) => {
        $(#[$doc])*
        pub trait $trait {
            #[doc = concat!("The ", $what, "'s name, as the charm's metadata spells it.")]
            fn $method(&self) -> &str;
        }

        impl $trait for str {
            fn $method(&self) -> &str {
                self
            }
        }

        impl $trait for String {
            fn $method(&self) -> &str {
                self
            }
        }

        impl $trait for Cow<'_, str> {
            fn $method(&self) -> &str {
                self
            }
        }

        impl<T: $trait + ?Sized> $trait for &T {
            fn $method(&self) -> &str {
                (**self).$method()
            }
        }
    };
}

name_trait!(
    /// A relation endpoint's name: a [`DeclaredEndpoint`], or a string.
    EndpointName,
    endpoint_name,
    "endpoint"
);
name_trait!(
    /// A workload container's name: a [`DeclaredContainer`], or a string.
    ContainerName,
    container_name,
    "container"
);
name_trait!(
    /// A storage's name: a [`DeclaredStorage`], or a string.
    StorageName,
    storage_name,
    "storage"
);
name_trait!(
    /// A resource's name: a [`DeclaredResource`], or a string.
    ResourceName,
    resource_name,
    "resource"
);
name_trait!(
    /// An action's name: a [`DeclaredAction`], or a string.
    ActionName,
    action_name,
    "action"
);
name_trait!(
    /// A config option's name: a [`DeclaredOption`], or a string.
    OptionName,
    option_name,
    "config option"
);

/// A relation endpoint the charm declares: its name, role and interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclaredEndpoint {
    name: &'static str,
    role: EndpointRole,
    interface: &'static str,
}

impl DeclaredEndpoint {
    /// The endpoint `name` of `role` speaking `interface` (generated code
    /// calls this; a charm uses the generated constants).
    pub const fn new(name: &'static str, role: EndpointRole, interface: &'static str) -> Self {
        Self {
            name,
            role,
            interface,
        }
    }

    /// The endpoint's name (`pgb-peers`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Which section declares it: `peers`, `requires` or `provides`.
    pub const fn role(&self) -> EndpointRole {
        self.role
    }

    /// Its interface (`pgb_peers`).
    pub const fn interface(&self) -> &'static str {
        self.interface
    }
}

impl EndpointName for DeclaredEndpoint {
    fn endpoint_name(&self) -> &str {
        self.name
    }
}

macro_rules! declared_name {
    ($(#[$doc:meta])* $type:ident, $trait:ident, $method:ident, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $type {
            name: &'static str,
        }

        impl $type {
            /// The item of that name (generated code calls this; a charm
            /// uses the generated constants).
            pub const fn new(name: &'static str) -> Self {
                Self { name }
            }

            #[doc = concat!("Its name (`", $example, "`).")]
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }

        impl $trait for $type {
            fn $method(&self) -> &str {
                self.name
            }
        }
    };
}

declared_name!(
    /// A workload container the charm declares (`containers:`).
    DeclaredContainer,
    ContainerName,
    container_name,
    "pgbouncer"
);
declared_name!(
    /// A storage the charm declares (`storage:`).
    DeclaredStorage,
    StorageName,
    storage_name,
    "data"
);
declared_name!(
    /// A resource the charm declares (`resources:`).
    DeclaredResource,
    ResourceName,
    resource_name,
    "pgbouncer-image"
);

/// An action the charm declares, and the type its parameters read as.
pub struct DeclaredAction<P> {
    name: &'static str,
    params: PhantomData<fn() -> P>,
}

impl<P> DeclaredAction<P> {
    /// The action `name`, whose parameters read as `P` (generated code calls
    /// this; a charm uses the generated constants).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            params: PhantomData,
        }
    }

    /// Its name (`get-password`).
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<P> Clone for DeclaredAction<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for DeclaredAction<P> {}

impl<P> PartialEq for DeclaredAction<P> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<P> Eq for DeclaredAction<P> {}

impl<P> fmt::Debug for DeclaredAction<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredAction")
            .field("name", &self.name)
            .field("params", &std::any::type_name::<P>())
            .finish()
    }
}

impl<P> ActionName for DeclaredAction<P> {
    fn action_name(&self) -> &str {
        self.name
    }
}

/// A Rust type a config option's value reads as: `i64` (`int`), `f64`
/// (`float`, which also takes an integer), `bool` (`boolean`), `String`
/// (`string`, `secret`), or [`serde_json::Value`] (any value, as raw JSON).
pub trait OptionValue: Sized {
    /// What the option should hold, for errors (`an integer`).
    const EXPECTED: &'static str;

    /// The value, if the JSON is of this type.
    fn from_json(value: &Value) -> Option<Self>;
}

impl OptionValue for i64 {
    const EXPECTED: &'static str = "an integer";

    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64()
    }
}

impl OptionValue for f64 {
    const EXPECTED: &'static str = "a number";

    fn from_json(value: &Value) -> Option<Self> {
        value.as_f64()
    }
}

impl OptionValue for bool {
    const EXPECTED: &'static str = "a boolean";

    fn from_json(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl OptionValue for String {
    const EXPECTED: &'static str = "a string";

    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_string)
    }
}

/// Any value, as the JSON `config-get` gave (`config.get::<Value>("x")`).
impl OptionValue for Value {
    const EXPECTED: &'static str = "any value";

    fn from_json(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

/// What [`Config::get`](crate::Config::get) takes to name an option read
/// as a `T`: a generated [`DeclaredOption<T>`] (for its own `T` only, so
/// that `config.get(meta::options::LISTEN_PORT)?` is an `Option<i64>` with
/// no annotation), or a string, for any [`OptionValue`] `T`
/// (`config.get::<i64>("listen_port")?`).
///
/// ```
/// use ops::declared::DeclaredOption;
///
/// const LISTEN_PORT: DeclaredOption<i64> = DeclaredOption::new("listen_port");
/// let config = ops::Config::new(
///     serde_json::json!({"listen_port": 6432}).as_object().unwrap().clone(),
/// );
/// let port = config.get(LISTEN_PORT)?; // an Option<i64>
/// assert_eq!(port, Some(6432));
/// let port: Option<i64> = config.get("listen_port")?;
/// assert_eq!(port, Some(6432));
/// assert_eq!(config.get::<f64>(String::from("listen_port"))?, Some(6432.0));
/// # Ok::<(), ops::ModelError>(())
/// ```
///
/// A declared option reads only as its declared type:
///
/// ```compile_fail
/// # use ops::declared::DeclaredOption;
/// const LISTEN_PORT: DeclaredOption<i64> = DeclaredOption::new("listen_port");
/// let config = ops::Config::default();
/// let port: Option<String> = config.get(LISTEN_PORT)?; // error: i64 is declared
/// # Ok::<(), ops::ModelError>(())
/// ```
pub trait OptionKey<T>: OptionName {}

impl<T: OptionValue> OptionKey<T> for DeclaredOption<T> {}

impl<T: OptionValue> OptionKey<T> for str {}

impl<T: OptionValue> OptionKey<T> for String {}

impl<T: OptionValue> OptionKey<T> for Cow<'_, str> {}

impl<T, K: OptionKey<T> + ?Sized> OptionKey<T> for &K {}

/// A config option the charm declares, and the type of its value
/// ([`Config::get`](crate::Config::get) reads it as that type).
pub struct DeclaredOption<T> {
    name: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> DeclaredOption<T> {
    /// The option `name` holding a `T` (generated code calls this; a charm
    /// uses the generated constants).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            value: PhantomData,
        }
    }

    /// Its name (`listen_port`).
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for DeclaredOption<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for DeclaredOption<T> {}

impl<T> PartialEq for DeclaredOption<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<T> Eq for DeclaredOption<T> {}

impl<T> fmt::Debug for DeclaredOption<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredOption")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> OptionName for DeclaredOption<T> {
    fn option_name(&self) -> &str {
        self.name
    }
}
