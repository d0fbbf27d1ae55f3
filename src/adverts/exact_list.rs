//! Lists kept as exactly-sized boxed slices: the per-device lists of the pipeline (the radios
//! that heard a device, its service UUIDs).
//!
//! Why: a `Vec` header is 24 bytes where a boxed slice is 16, every advertising device holds
//! these lists in its view, and they have one to three entries that rarely change; with
//! thousands of devices the headers count against the "a few hundred bytes per advertising
//! device" budget (design goal G5), and a smaller view also takes a smaller allocator block.
//! The lists grew one exact entry at a time already (`reserve_exact(1)`), so a boxed slice
//! reallocates exactly as often.

/// Appends `item`, reallocating the list to its new exact length.
pub(crate) fn push<T>(list: &mut Box<[T]>, item: T) {
    let mut entries = std::mem::take(list).into_vec();
    entries.reserve_exact(1);
    entries.push(item);
    *list = entries.into_boxed_slice();
}

/// Keeps the entries `keep` accepts (shrinking the list only when one was dropped).
pub(crate) fn retain<T>(list: &mut Box<[T]>, keep: impl FnMut(&T) -> bool) {
    let mut keep = keep;
    if list.iter().all(&mut keep) {
        return;
    }
    let mut entries = std::mem::take(list).into_vec();
    entries.retain(keep);
    *list = entries.into_boxed_slice();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_grows_and_shrinks_to_its_exact_length_in_order() {
        let mut list: Box<[u8]> = Box::default();
        push(&mut list, 3);
        push(&mut list, 1);
        push(&mut list, 4);
        assert_eq!(&*list, &[3, 1, 4]);
        retain(&mut list, |n| *n != 1);
        assert_eq!(&*list, &[3, 4]);
        retain(&mut list, |_| true);
        assert_eq!(&*list, &[3, 4]);
        retain(&mut list, |_| false);
        assert!(list.is_empty());
    }
}
