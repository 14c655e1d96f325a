/// Binary search in ascending arrays (keyframe positions, cached positions, irreversible events,
/// the explorer's sorted streams): one implementation for all of them.
extension Array where Element: Comparable {
    /// The index of the first element not less than `value` (`count` when there is none).
    public func lowerBound(_ value: Element) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Whether `value` is in the array, and its index (or where it would be inserted).
    public func sortedIndex(of value: Element) -> (found: Bool, index: Int) {
        let i = lowerBound(value)
        return (i < count && self[i] == value, i)
    }

    /// The first element not less than `value`.
    public func first(atOrAfter value: Element) -> Element? {
        let i = lowerBound(value)
        return i < count ? self[i] : nil
    }
}

extension Array where Element == Int {
    /// The last element not greater than `value`.
    public func last(atOrBefore value: Int) -> Int? {
        let i = lowerBound(value + 1)
        return i > 0 ? self[i - 1] : nil
    }
}
