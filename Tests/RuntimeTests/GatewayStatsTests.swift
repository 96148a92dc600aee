import Testing

@testable import Runtime

@Suite struct GatewayStatsTests {
    @Test func noValuesIsZero() {
        #expect(GatewayStats.percentile([], 50) == 0)
        #expect(GatewayStats.percentile([], 99) == 0)
    }

    @Test func singleValueIsEveryPercentile() {
        for p in [0.0, 50, 99, 100] { #expect(GatewayStats.percentile([7], p) == 7) }
    }

    @Test(arguments: [(0.0, 10.0), (25, 10), (26, 20), (50, 20), (75, 30), (76, 40), (100, 40)])
    func nearestRankOfFourValues(p: Double, expected: Double) {
        #expect(GatewayStats.percentile([10, 20, 30, 40], p) == expected)
    }

    @Test func nearestRankOfOneToOneHundred() {
        let values = (1...100).map(Double.init)
        #expect(GatewayStats.percentile(values, 50) == 50)
        #expect(GatewayStats.percentile(values, 90) == 90)
        #expect(GatewayStats.percentile(values, 99) == 99)
        #expect(GatewayStats.percentile(values, 99.5) == 100)
    }

    @Test func highPercentileOfFewSamplesIsTheMaximum() {
        let values = (1...10).map(Double.init)
        #expect(GatewayStats.percentile(values, 90) == 9)
        #expect(GatewayStats.percentile(values, 91) == 10)
        #expect(GatewayStats.percentile(values, 99) == 10)
    }
}
