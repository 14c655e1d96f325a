import Testing
@testable import RewindCore

@Suite struct SortedSearchTests {
    @Test func searchesAgreeWithALinearScan() {
        let values = [0, 3, 3, 7, 12, 40]
        for v in -2...45 {
            #expect(values.lowerBound(v) == (values.firstIndex { $0 >= v } ?? values.count))
            #expect(values.sortedIndex(of: v).found == values.contains(v))
            #expect(values.first(atOrAfter: v) == values.first { $0 >= v })
            #expect(values.last(atOrBefore: v) == values.last { $0 <= v })
        }
        #expect([Int]().lowerBound(5) == 0 && [Int]().last(atOrBefore: 5) == nil && [Int]().first(atOrAfter: 5) == nil)
    }
}
