/// An enum over the known values of a protocol field, with `Unknown(n)`
/// keeping any other value so that nothing received is ever lost.
macro_rules! enum_with_unknown {
    (
        $( #[$attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $( $( #[$vattr:meta] )* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $( #[$attr] )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $( #[$vattr] )* $variant ),+,
            /// A value this version does not name, kept as received.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant ),+,
                    other => $name::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value ),+,
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
