import Foundation

/// An axis-aligned box in SVG coordinates (y grows downwards).
package struct PlotRect: Sendable, Equatable {
    package var x: Double, y: Double, width: Double, height: Double
    package init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    package var maxX: Double { x + width }
    package var maxY: Double { y + height }
    package var midX: Double { x + width / 2 }
    package var midY: Double { y + height / 2 }

    /// Whether the two boxes share any area (touching edges do not count).
    package func intersects(_ o: PlotRect) -> Bool {
        x < o.maxX && o.x < maxX && y < o.maxY && o.y < maxY
    }

    package func contains(_ o: PlotRect) -> Bool { o.x >= x && o.maxX <= maxX && o.y >= y && o.maxY <= maxY }

    package func insetBy(_ d: Double) -> PlotRect { PlotRect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }

    /// Whether the segment from (x0, y0) to (x1, y1) passes through the box (Liang–Barsky clipping).
    package func crosses(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> Bool {
        var t0 = 0.0, t1 = 1.0
        let dx = x1 - x0, dy = y1 - y0
        for (p, q) in [(-dx, x0 - x), (dx, maxX - x0), (-dy, y0 - y), (dy, maxY - y0)] {
            if p == 0 {
                if q < 0 { return false }
            } else {
                let r = q / p
                if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
                if t0 > t1 { return false }
            }
        }
        return true
    }
}

/// Places one text label beside each point so that no label covers another label, a point or
/// a fixed obstacle (the legend), and every label stays inside the plot area: for each point,
/// positions on rings of growing distance in eight directions are tried, in order of
/// preference (right, left, the diagonals, above, below), and the cheapest free one is kept;
/// crossing a drawn line costs a little, so labels move off the Pareto front when they can.
/// Points in crowded places are labelled first, while there is still room near them. A label
/// set away from its point gets a leader line.
package struct LabelPlacement {
    package struct Item {
        package var x: Double, y: Double
        /// Radius of the point's marker.
        package var radius: Double
        package var width: Double, height: Double
        package init(x: Double, y: Double, radius: Double, width: Double, height: Double) {
            self.x = x; self.y = y; self.radius = radius; self.width = width; self.height = height
        }
    }

    package struct Placed: Sendable {
        package var box: PlotRect
        /// Drawn from the point to the label when the label sits away from it.
        package var needsLeader: Bool
        /// False if no free position was found and the least-bad one was kept.
        package var free: Bool
    }

    package var area: PlotRect
    package var obstacles: [PlotRect] = []
    /// Segments (x0, y0, x1, y1) a label should avoid crossing.
    package var lines: [(Double, Double, Double, Double)] = []
    package var gap = 3.0
    package var rings: [Double] = [0, 10, 22, 36, 54, 76, 102, 132]

    package init(area: PlotRect) { self.area = area }

    /// The eight directions, in order of preference: (dx, dy) of the label from its point.
    static let directions: [(Double, Double)] = [(1, 0), (-1, 0), (1, -1), (1, 1), (-1, -1), (-1, 1), (0, -1), (0, 1)]

    /// A box of `w`×`h` in direction `d` from the point at distance `ring` beyond its marker.
    static func candidate(_ item: Item, direction d: (Double, Double), ring: Double, gap: Double) -> PlotRect {
        let r = item.radius + gap + ring
        let diag = d.0 != 0 && d.1 != 0 ? 0.7071 : 1
        let cx = item.x + d.0 * r * diag, cy = item.y + d.1 * r * diag
        let x = d.0 > 0 ? cx : d.0 < 0 ? cx - item.width : cx - item.width / 2
        let y = d.1 > 0 ? cy : d.1 < 0 ? cy - item.height : cy - item.height / 2
        return PlotRect(x: x, y: y, width: item.width, height: item.height)
    }

    package func place(_ items: [Item]) -> [Placed] {
        let markers = items.map { PlotRect(x: $0.x - $0.radius - 1, y: $0.y - $0.radius - 1, width: 2 * $0.radius + 2, height: 2 * $0.radius + 2) }
        // Crowded points first: the number of other points within reach of a label.
        let crowding = items.map { a in items.filter { b in abs(a.x - b.x) < 90 && abs(a.y - b.y) < 40 }.count }
        let order = items.indices.sorted { crowding[$0] != crowding[$1] ? crowding[$0] > crowding[$1] : $0 < $1 }
        var placed = [Placed?](repeating: nil, count: items.count)
        var taken: [PlotRect] = []
        for i in order {
            var best: (cost: Double, box: PlotRect, ring: Int, free: Bool)?
            for (k, ring) in rings.enumerated() {
                for (j, d) in Self.directions.enumerated() {
                    let box = Self.candidate(items[i], direction: d, ring: ring, gap: gap)
                    var overlap = 0.0
                    if !area.contains(box) { overlap += 1000 }
                    for o in taken + obstacles + markers where o.intersects(box) { overlap += 100 }
                    let crossings = lines.filter { box.crosses($0.0, $0.1, $0.2, $0.3) }.count
                    let cost = overlap * 100 + Double(k) * 10 + Double(j) + Double(crossings) * 12
                    if best == nil || cost < best!.cost { best = (cost, box, k, overlap == 0) }
                }
                // The nearest ring with a free, uncrossed spot wins; farther rings only cost more.
                if let b = best, b.free, b.cost < Double(k + 1) * 10 { break }
            }
            guard let b = best else { continue }
            taken.append(b.box)
            // A leader once the label is farther from its marker than it would be on the first ring.
            let dx = max(b.box.x - items[i].x, 0, items[i].x - b.box.maxX), dy = max(b.box.y - items[i].y, 0, items[i].y - b.box.maxY)
            placed[i] = Placed(box: b.box, needsLeader: (dx * dx + dy * dy).squareRoot() > items[i].radius + gap + 4, free: b.free)
        }
        return placed.map { $0 ?? Placed(box: PlotRect(x: 0, y: 0, width: 0, height: 0), needsLeader: false, free: false) }
    }
}
