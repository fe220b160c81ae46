import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Pipeline
import XCTest

/// The ladder's SVG: well-formed XML with one marker per file, labels that never cover each
/// other or a point (boxes from the layout the SVG is drawn from), the Pareto front right.
final class LadderPlotTests: XCTestCase {
    /// The SmolLM2 ladder of README.md (crowded near 4.5–4.8 bits: the hard case), and
    /// llama.cpp's points beside it.
    static let ours: [LadderPlot.Point] = [
        .init(label: "q8_0", bitsPerWeight: 8.506, meanKLD: 0.0010), .init(label: "q6_k", bitsPerWeight: 6.742, meanKLD: 0.0133),
        .init(label: "q4_k_m", bitsPerWeight: 4.767, meanKLD: 0.0555), .init(label: "q4_k", bitsPerWeight: 4.552, meanKLD: 0.0535),
        .init(label: "q4_1", bitsPerWeight: 5.007, meanKLD: 0.0460), .init(label: "q4_0", bitsPerWeight: 4.507, meanKLD: 0.3068),
        .init(label: "q4_0+imatrix", bitsPerWeight: 4.507, meanKLD: 0.2168), .init(label: "q4_k_m+imatrix", bitsPerWeight: 4.767, meanKLD: 0.0549),
        .init(label: "q5_0", bitsPerWeight: 5.507, meanKLD: 0.0301), .init(label: "q5_1", bitsPerWeight: 6.007, meanKLD: 0.0201),
        .init(label: "q4_k_s", bitsPerWeight: 4.60, meanKLD: 0.0540),
    ]
    static let theirs: [LadderPlot.Point] = [
        .init(label: "q8_0", bitsPerWeight: 8.50, meanKLD: 0.0039), .init(label: "q6_k", bitsPerWeight: 8.12, meanKLD: 0.0036),
        .init(label: "q4_k_m", bitsPerWeight: 5.93, meanKLD: 0.0578), .init(label: "q4_0", bitsPerWeight: 4.50, meanKLD: 0.3323),
        .init(label: "q4_1", bitsPerWeight: 5.0, meanKLD: 0.05),
    ]

    final class Collector: NSObject, XMLParserDelegate {
        var points = 0, labels: [String] = [], inLabel = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if attributes["class"] == "point" { points += 1 }
            inLabel = attributes["class"] == "label"
            if inLabel { labels.append("") }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if inLabel { labels[labels.count - 1] += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { inLabel = false }
    }

    func check(_ plot: LadderPlot, file: StaticString = #filePath, line: UInt = #line) throws {
        let svg = plot.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        let c = Collector()
        parser.delegate = c
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))", file: file, line: line)
        let count = plot.series.reduce(0) { $0 + $1.points.count }
        XCTAssertEqual(c.points, count, file: file, line: line)
        XCTAssertEqual(c.labels.sorted(), plot.series.flatMap { $0.points.map(\.label) }.sorted(), file: file, line: line)

        let l = plot.layout()
        XCTAssertEqual(l.labels.count, count, file: file, line: line)
        for (i, a) in l.labels.enumerated() {
            XCTAssertTrue(a.free, "label \(i) found no free place", file: file, line: line)
            XCTAssertTrue(l.area.contains(a.box), "label \(i) leaves the plot area", file: file, line: line)
            XCTAssertFalse(a.box.intersects(l.legend), "label \(i) covers the legend", file: file, line: line)
            for b in l.labels[(i + 1)...] { XCTAssertFalse(a.box.intersects(b.box), "labels overlap: \(a.box) \(b.box)", file: file, line: line) }
            for m in l.markers {
                let marker = PlotRect(x: m.x - LadderPlot.radius, y: m.y - LadderPlot.radius, width: 2 * LadderPlot.radius, height: 2 * LadderPlot.radius)
                XCTAssertFalse(a.box.intersects(marker), "label \(i) covers a point", file: file, line: line)
            }
        }
    }

    func testSmolLM2LadderHasNoOverlappingLabels() throws {
        try check(LadderPlot(title: "t", subtitle: "s", series: [.init(name: "Tramontane", points: Self.ours)]))
    }

    func testWithLlamaCppBesideIt() throws {
        try check(LadderPlot(title: "t & <x>", series: [.init(name: "Tramontane", points: Self.ours), .init(name: "llama.cpp", points: Self.theirs)]))
    }

    /// Points on top of each other (the same type twice) still get separate labels.
    func testCoincidentPoints() throws {
        let same = (0..<6).map { LadderPlot.Point(label: "rung\($0)", bitsPerWeight: 4.5, meanKLD: 0.05) }
        try check(LadderPlot(title: "t", series: [.init(name: "a", points: same + [.init(label: "far", bitsPerWeight: 8, meanKLD: 0.001)])]))
    }

    func testTwoPoints() throws {
        try check(LadderPlot(title: "t", series: [.init(name: "a", points: Array(Self.ours.prefix(2)))]))
    }

    func testParetoFront() {
        // q4_0 is beaten by q4_0+imatrix at the same size, q4_k_m by q4_k (smaller, lower KLD).
        let front = LadderPlot.paretoFront(Self.ours).map { Self.ours[$0].label }
        XCTAssertEqual(front, ["q4_0+imatrix", "q4_k", "q4_1", "q5_0", "q5_1", "q6_k", "q8_0"])
    }
}
