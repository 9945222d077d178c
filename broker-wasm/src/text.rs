//! String concatenation as one out-of-line call.
//!
//! `String::from(a) + b + c` inlines an allocation and a grow-and-copy per `+` at every call site;
//! across the broker's URLs, keys and error messages that was several KB of wasm. `cat` measures
//! once, allocates once, and exists once.

use alloc::string::String;

/// `parts` joined with nothing in between.
#[inline(never)]
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn joins_in_order() {
        assert_eq!(cat(&["a", "", "bc", "/"]), "abc/");
        assert_eq!(cat(&[]), "");
    }

    proptest! {
        #[test]
        fn same_as_concat(parts in proptest::collection::vec("\\PC{0,8}", 0..6)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            prop_assert_eq!(cat(&refs), parts.concat());
        }
    }
}
