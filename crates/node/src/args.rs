//! Checks of numbers from JavaScript that Kafka keeps in narrower integers
//! than a JavaScript number or napi's i32: one place for the check and its
//! message, whichever call or object field they arrive in.

use crate::{invalid, Result};

/// `v` as the narrower integer type `T` (Kafka's INT8 or INT16 codes), or
/// an invalid-argument error naming `name` when it does not fit.
pub(crate) fn narrow<T: TryFrom<i32>>(name: &str, v: i32) -> Result<T> {
    T::try_from(v).map_err(|_| invalid(format!("{name} out of range: {v}")))
}
