pub use leadroute_core::*;
